#!/usr/bin/env bash
# Power cuts of the whole VM (docs/CRYPTOFS.md, "In the guest"): a guest
# program writes, fsyncs and renames files on /data in a loop and prints
# each iteration it knows is durable; QEMU is killed with SIGKILL at a
# random moment.  Each boot first mounts the volume and checks every slot
# file is whole and no older than its last durable iteration (cfstest
# checkchurn), then churns until the next cut, so one boot serves one cut;
# the host tool's fsck must find the volume consistent after every cut.
# POWERCUT_CUTS (default 100) cuts, spread over POWERCUT_LANES (default 2)
# volumes cut in parallel, one QEMU each; odd lanes attach their disk as
# virtio-blk, even ones as NVMe (EXO_RUN_DISK_IF set: all lanes on it).
set -u
B=${BUILD:-build}
cfs="$B/host/cryptofs"
prog="$B/user/cfstest"
tmp=$(mktemp -d)
cleanup() {
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export XDG_STATE_HOME="$tmp/state"
export CRYPTOFS_ARGON2_OPS=1 CRYPTOFS_ARGON2_MEM=1 EXO_RUN_TIMEOUT=120
export CRYPTOFS_PASSPHRASE=power-cut
cuts=${POWERCUT_CUTS:-100}
lanes=${POWERCUT_LANES:-2}
start=$(date +%s)

# The QEMU process below an exo-run we started (exo-run, tools/qemu, timeout).
qemu_of() {
	local c
	for c in $(pgrep -P "$1"); do
		if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = qemu-system-x86 ]; then echo "$c"; return 0; fi
		qemu_of "$c" && return 0
	done
	return 1
}

# The file QEMU writes the program's stdout to (its first -serial file:),
# read while the VM runs.
serial_of() {
	tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | sed -n 's/^file:\(.*\/out\)$/\1/p' | head -n 1
}

# now: seconds since the epoch with a fraction
now() { date +%s.%N; }
later() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'; }

# lane L N: N cuts on volume L; writes "bad during newest" to $tmp/lane-L.res
lane() {
	local L=$1 n=$2 img="$tmp/vol$1.img" out="$tmp/out$1" log="$tmp/lane-$1.log"
	local bad=0 during=0 newest=-1 i runpid qpid serial deadline k got ok
	local -A want=()
	local dif=virtio; [ $((L % 2)) = 0 ] && dif=nvme
	export EXO_RUN_DISK_IF=${EXO_RUN_DISK_IF:-$dif}
	truncate -s 32M "$img"
	for i in $(seq 1 "$n"); do
		local fmt=; [ "$i" = 1 ] && fmt=--format
		tools/exo-run --disk "$img" $fmt "$prog" checkchurn >"$out" 2>"$out.err" &
		runpid=$!
		qpid= serial=
		deadline=$(( $(date +%s) + 60 ))
		while [ -z "$qpid" ] && [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$runpid" 2>/dev/null; do
			qpid=$(qemu_of "$runpid") || sleep 0.1
		done
		[ -n "$qpid" ] && serial=$(serial_of "$qpid")
		# the mount and the check are done: cut 0-1.5 s into the churn
		deadline=$(( $(date +%s) + 90 ))
		while [ -n "$serial" ] && ! grep -qE '^(checked|check failed)$' "$serial" 2>/dev/null &&
		      [ "$(date +%s)" -lt "$deadline" ] && kill -0 "$qpid" 2>/dev/null; do
			sleep 0.05
		done
		if [ -n "$serial" ] && grep -q '^checked$' "$serial" 2>/dev/null; then
			local cut_at
			cut_at=$(awk -v t="$(now)" -v r=$((RANDOM % 1500)) 'BEGIN { printf "%.3f", t + r / 1000 }')
			while ! later "$(now)" "$cut_at" && kill -0 "$qpid" 2>/dev/null; do sleep 0.02; done
		fi
		[ -n "$qpid" ] && kill -KILL "$qpid" 2>/dev/null
		wait "$runpid" 2>/dev/null
		ok=1
		if ! grep -q '^checked$' "$out"; then
			ok=0; echo "lane $L cut $i: the boot after the last cut did not mount and check"
		fi
		for k in "${!want[@]}"; do
			got=$(sed -n "s/^slot $k //p" "$out")
			if [ -z "$got" ] || [ "$got" -lt "${want[$k]}" ]; then
				ok=0; echo "lane $L cut $i: slot $k holds '$got', durable was ${want[$k]}"
			fi
		done
		grep -q '^durable ' "$out" && during=$((during + 1))
		while read -r _ k; do want[$((k % 8))]=$k; [ "$k" -gt "$newest" ] && newest=$k; done < <(grep '^durable ' "$out")
		if ! "$cfs" fsck "$img" >"$tmp/fsck$L" 2>&1; then ok=0; echo "lane $L cut $i: fsck:"; tail -n 5 "$tmp/fsck$L"; fi
		if [ $ok = 0 ]; then
			bad=$((bad + 1))
			cat "$out"; tail -n 5 "$out.err"
		fi
	done >"$log" 2>&1
	# the last cut, checked by a boot that only checks
	EXO_RUN_TIMEOUT=60 tools/exo-run --disk "$img" "$prog" check >"$out" 2>"$out.err"
	ok=$?
	for k in "${!want[@]}"; do
		got=$(sed -n "s/^slot $k //p" "$out")
		if [ -z "$got" ] || [ "$got" -lt "${want[$k]}" ]; then ok=1; fi
	done
	[ $ok = 0 ] || { bad=$((bad + 1)); echo "lane $L: the check after the last cut failed" >>"$log"; }
	echo "$bad $during $newest $EXO_RUN_DISK_IF" >"$tmp/lane-$L.res"
}

per=$(( (cuts + lanes - 1) / lanes ))
left=$cuts
for L in $(seq 1 "$lanes"); do
	n=$per; [ $n -gt $left ] && n=$left
	left=$((left - n))
	[ $n -gt 0 ] && lane "$L" "$n" &
done
wait
bad=0 during=0 newest=-1 done_lanes=0 ifs=
for L in $(seq 1 "$lanes"); do
	[ -f "$tmp/lane-$L.res" ] || continue
	read -r b d w dif <"$tmp/lane-$L.res"
	ifs="$ifs $dif"
	bad=$((bad + b)) during=$((during + d)) done_lanes=$((done_lanes + 1))
	[ "$w" -gt "$newest" ] && newest=$w
	cat "$tmp/lane-$L.log"
done
echo "info $cuts cuts in $lanes lanes (disks:$ifs), $during of them while the program was writing," \
     "newest durable iteration $newest, $(( $(date +%s) - start )) s"
if [ $bad -eq 0 ] && [ $done_lanes -eq "$lanes" ]; then
	echo "PASS powercut-$cuts-cuts-volume-consistent-and-fsynced-data-present"
else echo "FAIL powercut-$cuts-cuts-volume-consistent-and-fsynced-data-present: $bad bad"; fi

img="$tmp/vol1.img"
export EXO_RUN_DISK_IF=${EXO_RUN_DISK_IF:-virtio}
# the check can fail: a slot file whose contents do not match its number
printf '5\nnot the pattern' >"$tmp/wrong"
"$cfs" put "$img" "$tmp/wrong" /s5 2>/dev/null
tools/exo-run --disk "$img" "$prog" check >"$tmp/check" 2>/dev/null
if [ $? -eq 1 ] && grep -q '^slot 5 -2$' "$tmp/check"; then echo "PASS powercut-check-finds-a-wrong-file"
else echo "FAIL powercut-check-finds-a-wrong-file"; cat "$tmp/check"; fi
if [ $during -ge $((cuts * 3 / 4)) ]; then echo "PASS powercut-cuts-landed-during-writes"
else echo "FAIL powercut-cuts-landed-during-writes: only $during of $cuts cuts came while the program wrote"; fi
