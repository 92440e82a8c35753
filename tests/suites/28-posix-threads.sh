#!/usr/bin/env bash
# Threads and signals in the library OS: user/tests/threads.c (pthreads on
# four CPUs: mutexes, condition variables, join, detach, TLS, barriers,
# cancellation, pthread_kill, futexes), user/tests/signals.c and
# user/tests/sigtimers.c (alarm, itimers, POSIX timers, sigsuspend,
# sigaltstack, sigtimedwait, sigqueue, SIGCHLD
# ignored) run in the
# guest with tools/exo-run and, built with plain musl-gcc, on this Linux
# host; their outputs must be the same line for line.  Then the exit
# statuses of signals' default actions, which must also be Linux's.  Then
# user/tests/pausefair.c on one CPU (the guest's scheduler and the
# library OS's lock decide it there, not the load on this machine): a
# thread pausing under a 5 ms timer beside three threads calling getpid
# must return for a fifth of the ticks at least, as it does on Linux.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
one_cpu="${EXO_RUN_QEMU_ARGS:-} -smp 1"
export EXO_RUN_QEMU_ARGS="${EXO_RUN_QEMU_ARGS:-} -smp 4"

. tests/compare-linux.sh
for prog in threads signals sigtimers; do
	EXO_RUN_TIMEOUT=180 compare_with_linux $prog "" ""
done
EXO_RUN_QEMU_ARGS="$one_cpu" EXO_RUN_TIMEOUT=120 compare_with_linux pausefair "" ""
grep -h '^info' "$tmp/pausefair.host-err" | sed 's/^info /info linux: /'
grep -h '^info' "$tmp/pausefair.guest-err"

# Default actions: the status exo-run gives is the one a Linux shell sees
# (128+N for a signal that kills; SIGCHLD is ignored).
for sig in 15 10 abort segv 17; do
	(cd "$tmp" && "$OLDPWD/$B/host-musl/signals" die $sig) >/dev/null 2>&1
	hrc=$?
	tools/exo-run "$B/user/signals" die $sig >"$tmp/die.out" 2>"$tmp/die.err"
	grc=$?
	if [ $hrc -eq $grc ]; then echo "PASS default-action-$sig-status-$grc"
	else echo "FAIL default-action-$sig-status: linux $hrc, guest $grc"; tail -n 5 "$tmp/die.err"; fi
done
# alarm's SIGALRM ends a process blocked in pause (user/tests/sigtimers.c)
(cd "$tmp" && "$OLDPWD/$B/host-musl/sigtimers" alarm-dies) >/dev/null 2>&1
hrc=$?
tools/exo-run "$B/user/sigtimers" alarm-dies >"$tmp/die.out" 2>"$tmp/die.err"
grc=$?
if [ $hrc -eq $grc ]; then echo "PASS alarm-default-action-status-$grc"
else echo "FAIL alarm-default-action-status: linux $hrc, guest $grc"; tail -n 5 "$tmp/die.err"; fi
