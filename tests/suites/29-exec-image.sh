#!/usr/bin/env bash
# execve maps text and read-only data from one copy of the executable per
# file (user/tests/execimg.c, docs/LIBOS.md "execve"): a file changed
# between two execs runs with the new bytes, a rewrite and a truncate
# while it runs leave the running program as it started (Linux refuses
# them with ETXTBSY), a store through a shared mapping is seen by the next
# run, fork and posix_spawn inside a run, 60 runs in a row; in the guest
# and, built with musl-gcc, on Linux, the outputs the same line for line.
# Then (guest) with the shared segment full: the program runs without the
# copy, and again once there is room.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/execimg" "$B/user/execimg"
cp "$B/host-musl/execimg" "$tmp/execimg-host"

. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="--file $tmp/execimg:/bin/execimg" EXO_RUN_TIMEOUT=300 \
	compare_with_linux execimg "run $tmp/execimg-host ." "run /bin/execimg /tmp"

EXO_RUN_TIMEOUT=300 tools/exo-run --file "$tmp/execimg:/bin/execimg" "$B/user/execimg" full /bin/execimg /tmp \
	>"$tmp/full.out" 2>"$tmp/full.err"
rc=$?
grep '^info' "$tmp/full.out"
sed -n -e "s/^ok /PASS execimg-/p" -e "s/^FAIL /FAIL execimg-/p" "$tmp/full.out"
if [ $rc -ne 0 ] || [ "$(grep -c '^run mark EXECIMG-MARK-7$' "$tmp/full.out")" != 4 ]; then
	echo "FAIL execimg-full-status: $rc"
	tail -n 10 "$tmp/full.out"
	tail -n 10 "$tmp/full.err"
fi
