#!/usr/bin/env bash
# A million random native and Linux-ABI calls from two envs while a third
# keeps checking a checksum of its memory (user/tests/fuzz.c): the kernel
# must neither panic nor hang, the checksum must never change, and a frame
# cap's copy must keep its frames after the cap it came from is deleted.  Run on
# one CPU and on four.  Then bad pointers to every call that takes one
# (user/tests/efault.c, EFAULT as on Linux, compared with this host), and
# the calls the Linux system-call fuzzer (user/tests/lxfuzz.c) found
# crashing the library OS (user/tests/fuzzfound.c), processes dying with
# the library OS's lock held, at every step of fork and vfork too, on one
# CPU and on two (user/tests/lockdead.c), a thread ended by
# an execve in a channel call (user/tests/execmsg.c), and a short run of
# that fuzzer: 20,000 calls, with its threads, no batch may die, nothing
# outside its process may change.  `make fuzz-lx` runs a million.
set -u
B=${BUILD:-build}
out=$(mktemp) err=$(mktemp) tmp=$(mktemp -d)
trap 'rm -rf "$out" "$err" "$tmp"' EXIT
# once on one CPU, once on four (the fuzzers and the checker then run at
# the same time on different CPUs)
for smp in 1 4; do
	EXO_RUN_QEMU_ARGS="-smp $smp" EXO_RUN_TIMEOUT=400 tools/exo-run "$B/user/fuzz" >"$out" 2>"$err"
	rc=$?
	grep '^info' "$out"
	sed -n -e "s/^ok /PASS fuzz-smp$smp-/p" -e "s/^FAIL /FAIL fuzz-smp$smp-/p" "$out"
	if [ $rc -ne 0 ]; then
		echo "FAIL fuzz-smp$smp-syscalls: exit status $rc (125: the VM hung or failed)"
		tail -n 30 "$err"
	fi
done

. tests/compare-linux.sh
EXO_RUN_TIMEOUT=120 compare_with_linux efault "" ""

# A regression program: its checks as PASS/FAIL NAME-..., and a FAIL with
# what its exit status means when it is not 0.
run_regression() {
	local name=$1 why=$2
	EXO_RUN_TIMEOUT=120 tools/exo-run "$B/user/$name" >"$out" 2>"$err"
	rc=$?
	sed -n -e "s/^ok /PASS $name-/p" -e "s/^FAIL /FAIL $name-/p" "$out"
	if [ $rc -ne 0 ]; then
		echo "FAIL $name: exit status $rc ($why)"
		tail -n 10 "$err"
	fi
}

run_regression fuzzfound "139: a SIGSEGV in the library OS"
# processes that die holding the library OS's lock (user/tests/lockdead.c):
# a waiter takes it over, the others go on (before: the VM hung); then a
# process ends itself through the kernel at each step of fork, vfork and
# posix_spawn and in exit (include/exo/diepoint.h) and must leave nothing
# behind: no child, entry, open descriptor or page of budget, no orphan
# dying of a fault.  On one CPU and on two (the half-made child then runs
# meanwhile).  On two, the first part's bystander, a forked child that
# takes the lock over while it is still starting, died of a #GP on the
# UART its report wrote to before its env had the ports (about one run in
# six; docs/LIBOS.md, "A process that dies holding the lock").
for smp in 1 2; do
	EXO_RUN_QEMU_ARGS="-smp $smp" EXO_RUN_TIMEOUT=200 \
		tools/exo-run --file "$B/user/lockdead:/bin/lockdead" "$B/user/lockdead" >"$out" 2>"$err"
	rc=$?
	grep '^info' "$out" | grep -v 'dying at'
	sed -n -e "s/^ok /PASS lockdead-smp$smp-/p" -e "s/^FAIL /FAIL lockdead-smp$smp-/p" "$out"
	if [ $rc -ne 0 ]; then
		echo "FAIL lockdead-smp$smp: exit status $rc (125: the VM hung: the lock stayed held)"
		tail -n 10 "$err"
	fi
	grep -c 'ended holding the libOS lock' "$err" | sed "s/^/info lockdead-smp$smp: take-overs logged: /"
done
# a thread ended by another's execve in the middle of a channel call or
# a pipe read (user/tests/execmsg.c): its message must not stay in the
# shared segment, nor its hold on the pipe's end
EXO_RUN_TIMEOUT=120 tools/exo-run --file "$B/user/execmsg:/bin/execmsg" "$B/user/execmsg" >"$out" 2>"$err"
rc=$?
grep '^info' "$out"
sed -n -e "s/^ok /PASS execmsg-/p" -e "s/^FAIL /FAIL execmsg-/p" "$out"
[ $rc -eq 0 ] || { echo "FAIL execmsg: exit status $rc"; tail -n 10 "$err"; }

EXO_RUN_TIMEOUT=300 tools/exo-run "$B/user/lxfuzz" 20000 >"$out" 2>"$err"
rc=$?
grep -a -o 'info lxfuzz.*' "$out"
grep -a -o -e 'ok [a-z-]*' -e 'FAIL [^\n]*' "$out" | sed -e "s/^ok /PASS lxfuzz-/" -e "s/^FAIL /FAIL lxfuzz-/"
if [ $rc -ne 0 ]; then
	echo "FAIL lxfuzz: exit status $rc (125: the VM hung or failed)"
	grep -a -v 'not implemented' "$err" | tail -n 10
fi
