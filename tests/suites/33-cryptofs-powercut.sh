#!/usr/bin/env bash
# Power cuts of the whole VM (docs/CRYPTOFS.md, "In the guest"): a guest
# program writes, fsyncs and renames files on /data in a loop and prints
# each iteration it knows is durable; QEMU is killed with SIGKILL at a
# random moment; a new VM then mounts the volume and checks every file is
# whole and no older than the last durable iteration, and the host tool's
# fsck finds the volume consistent.  POWERCUT_CUTS (default 12) cuts.
set -u
B=${BUILD:-build}
cfs="$B/host/cryptofs"
prog="$B/user/cfstest"
tmp=$(mktemp -d)
runpid=
cleanup() {
	[ -n "$runpid" ] && kill "$runpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_STATE_HOME="$tmp/state"
export CRYPTOFS_ARGON2_OPS=1 CRYPTOFS_ARGON2_MEM=1 EXO_RUN_TIMEOUT=60
export CRYPTOFS_PASSPHRASE=power-cut
cuts=${POWERCUT_CUTS:-12}
img="$tmp/vol.img"
truncate -s 32M "$img"

# The QEMU process below the exo-run we started (exo-run, tools/qemu, timeout).
qemu_of() {
	local c
	for c in $(pgrep -P "$1"); do
		if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = qemu-system-x86 ]; then echo "$c"; return 0; fi
		qemu_of "$c" && return 0
	done
	return 1
}

bad=0 during=0 mounts=0 newest=-1
for i in $(seq 1 "$cuts"); do
	fmt=; [ "$i" = 1 ] && fmt=--format
	tools/exo-run --disk "$img" $fmt "$prog" churn >"$tmp/out" 2>"$tmp/err" &
	runpid=$!
	sleep "$(( 4 + RANDOM % 6 )).$(( RANDOM % 10 ))"	# boot takes 2-4 s
	qpid=
	for _ in $(seq 50); do qpid=$(qemu_of "$runpid") && break; sleep 0.1; done
	[ -n "$qpid" ] && kill -KILL "$qpid"
	wait "$runpid" 2>/dev/null
	runpid=
	grep -q '^durable ' "$tmp/out" && during=$((during + 1))
	# the newest durable iteration of each slot
	declare -A want=()
	while read -r _ n; do want[$((n % 8))]=$n; [ "$n" -gt "$newest" ] && newest=$n; done < <(grep '^durable ' "$tmp/out")
	tools/exo-run --disk "$img" "$prog" check >"$tmp/check" 2>"$tmp/checkerr"
	rc=$?
	ok=1
	[ $rc -eq 0 ] || ok=0
	[ $rc -eq 0 ] && mounts=$((mounts + 1))
	for k in "${!want[@]}"; do
		got=$(sed -n "s/^slot $k //p" "$tmp/check")
		if [ -z "$got" ] || [ "$got" -lt "${want[$k]}" ]; then ok=0; echo "cut $i: slot $k holds '$got', durable was ${want[$k]}"; fi
	done
	unset want
	if ! "$cfs" fsck "$img" >"$tmp/fsck" 2>&1; then ok=0; echo "cut $i: fsck:"; tail -n 5 "$tmp/fsck"; fi
	if [ $ok = 0 ]; then
		bad=$((bad + 1))
		echo "cut $i: check status $rc"; cat "$tmp/check"; tail -n 5 "$tmp/checkerr"
	fi
done
echo "info $cuts cuts, $during of them while the program was writing, newest durable iteration $newest"
if [ $bad -eq 0 ] && [ $mounts -eq "$cuts" ]; then echo "PASS powercut-$cuts-cuts-volume-consistent-and-fsynced-data-present"
else echo "FAIL powercut-$cuts-cuts-volume-consistent-and-fsynced-data-present: $bad bad of $cuts"; fi
# the check can fail: a slot file whose contents do not match its number
printf '5\nnot the pattern' >"$tmp/wrong"
"$cfs" put "$img" "$tmp/wrong" /s5 2>/dev/null
tools/exo-run --disk "$img" "$prog" check >"$tmp/check" 2>/dev/null
if [ $? -eq 1 ] && grep -q '^slot 5 -2$' "$tmp/check"; then echo "PASS powercut-check-finds-a-wrong-file"
else echo "FAIL powercut-check-finds-a-wrong-file"; cat "$tmp/check"; fi
if [ $during -gt 0 ]; then echo "PASS powercut-cuts-landed-during-writes"
else echo "FAIL powercut-cuts-landed-during-writes: every cut came before the program wrote"; fi
