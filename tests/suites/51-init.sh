#!/usr/bin/env bash
# /sbin/init (user/init/init.c), built for the host: it starts the programs
# of an inittab, starts a `respawn` one again when it ends, runs a `once`
# one once, backs off from a program that cannot start, and on SIGTERM ends
# what it started and then itself.  Then in the guest: an image whose only
# module is the initramfs, where the kernel starts /sbin/init, which starts
# /etc/inittab's shell, whose prompt must appear.  Waits
# are by elapsed time.
set -u
B=${BUILD:-build}
init=$B/host/user/init
[ -x "$init" ] || { echo "FAIL init-built: no $init (make test-build)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '#!/bin/sh\necho run >> %s/respawn.log\nsleep 1.2\n' "$tmp" > "$tmp/job"
printf '#!/bin/sh\necho run >> %s/once.log\n' "$tmp" > "$tmp/once"
chmod +x "$tmp/job" "$tmp/once"
cat > "$tmp/inittab" <<TAB
# a comment, then an empty line

respawn:$tmp/job
once:$tmp/once
respawn:$tmp/missing-program
bogus:$tmp/job
TAB

INITTAB=$tmp/inittab "$init" 2>"$tmp/stderr" &
pid=$!
sleep 6
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$pid" 2>/dev/null; then
	echo "FAIL init-sigterm-ends: init still runs 10 s after SIGTERM"
	kill -KILL "$pid"
else
	wait "$pid"; rc=$?
	[ "$rc" = 0 ] && echo "PASS init-sigterm-ends" || echo "FAIL init-sigterm-ends: exit status $rc"
fi

runs=$(wc -l < "$tmp/respawn.log" 2>/dev/null || echo 0)
# 6 s of a program living 1.2 s each time: 4 or 5 starts (a loaded machine: at least 3)
if [ "$runs" -ge 3 ] && [ "$runs" -le 6 ]; then echo "PASS init-respawn"
else echo "FAIL init-respawn: the respawn program ran $runs times in 6 s"; fi
once=$(wc -l < "$tmp/once.log" 2>/dev/null || echo 0)
[ "$once" = 1 ] && echo "PASS init-once" || echo "FAIL init-once: ran $once times"
tries=$(grep -c "cannot start $tmp/missing-program" "$tmp/stderr")
# backoff 1, 2, 4 s: started at 0, 1, 3 (and 7) s
if [ "$tries" -ge 2 ] && [ "$tries" -le 4 ]; then echo "PASS init-backoff"
else echo "FAIL init-backoff: a missing program was tried $tries times in 6 s"; cat "$tmp/stderr"; fi
grep -q "unknown action 'bogus'" "$tmp/stderr" && echo "PASS init-bad-line" ||
	echo "FAIL init-bad-line: no complaint about the bogus action"
sleep 1.5
if pgrep -f "$tmp/job" >/dev/null; then echo "FAIL init-children-ended: $tmp/job still runs"
else echo "PASS init-children-ended"; fi

# In the guest: the kernel finds /sbin/init in the initramfs and starts it.
iso=$B/test-iso/init.iso
log=$tmp/guest.log
if [ ! -f "$iso" ]; then
	echo "FAIL init-guest: no $iso (make test-build)"
	exit 1
fi
tools/qemu --iso "$iso" --log "$log" --timeout 300 >/dev/null 2>&1 &
qpid=$!
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$log" 2>/dev/null; }
started=0 shell=0 end=$((SECONDS + 240))
while [ $SECONDS -lt $end ] && kill -0 $qpid 2>/dev/null; do
	clean | grep -q "loader: first program '/sbin/init'" && started=1
	# the shell init started (through fork and execve) gives its prompt
	if clean | grep -q 'exoswarm:.*# '; then
		shell=1
		break
	fi
	sleep 1
done
for p in $(pgrep -P $qpid); do kill $p 2>/dev/null; done
kill $qpid 2>/dev/null
wait $qpid 2>/dev/null
[ $started = 1 ] && echo "PASS init-kernel-starts-sbin-init" ||
	{ echo "FAIL init-kernel-starts-sbin-init: no loader line for /sbin/init"; clean | tail -n 20; }
[ $shell = 1 ] && echo "PASS init-guest-inittab" ||
	{ echo "FAIL init-guest-inittab: no shell prompt from the shell init starts"; clean | tail -n 20; }
