#!/usr/bin/env bash
# Processes that share one machine: user/tests/procs.c (getppid, orphans,
# process groups and sessions, kill between processes, SIGCHLD, waitpid
# and waitid on groups, the libOS lock surviving killed children) runs in
# the guest with tools/exo-run on one CPU and on four, and, built with
# plain musl-gcc, on this Linux host; the outputs must be the same line for
# line.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base="${EXO_RUN_QEMU_ARGS:-}"

. tests/compare-linux.sh
for smp in 1 4; do
	echo "info procs on -smp $smp"
	EXO_RUN_QEMU_ARGS="$base -smp $smp" EXO_RUN_TIMEOUT=240 compare_with_linux procs "" ""
done

# Memory given back when a grandchild of the first process is reaped
# (user/tests/forkloop.c prints its own PASS or FAIL line).
out=$(EXO_RUN_TIMEOUT=240 tools/exo-run --file "$B/user/forkloop:/bin/forkloop" "$B/user/forkloop" 2>&1)
rc=$?
echo "$out" | grep -E '^(PASS|FAIL) forkloop' || echo "FAIL forkloop-grandchildren-give-memory-back: no result (status $rc)"
