#!/usr/bin/env bash
# The program of `make bench`'s POSIX part runs in the guest and reports
# every figure (user/bench/posixbench.c); a few rounds only, and no figure
# is judged here: `make bench` measures them.  The network part's program
# (netbench.c) is only built here: running it needs a VM of its own, and
# make test should not grow by more than a few seconds.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/tiny" "$B/user/bench-tiny"
EXO_RUN_TIMEOUT=300 tools/exo-run --file "$tmp/tiny:/bin/tiny" "$B/user/bench-posixbench" /tmp /bin/tiny smoke \
	> "$tmp/posix.txt" 2>&1
rc=$?
for f in fork-exec-wait posix-spawn-wait pipe-round-trip tmpfs-create-write-close-unlink stat futex-round-trip; do
	if grep -q "^bench $f [1-9][0-9]*\$" "$tmp/posix.txt"; then echo "PASS bench-smoke-$f"
	else echo "FAIL bench-smoke-$f: no figure"; fi
done
if [ $rc = 0 ] && grep -q '^posixbench done' "$tmp/posix.txt"; then echo "PASS bench-smoke-posix-done"
else echo "FAIL bench-smoke-posix-done: status $rc"; tail -n 15 "$tmp/posix.txt"; fi
