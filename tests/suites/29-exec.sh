#!/usr/bin/env bash
# execve and friends in the library OS (user/tests/exectest.c): execve of a
# program with its arguments and environment, a #! script, the errors
# (ENOENT, ENOTDIR, EACCES, ENOEXEC, E2BIG, EFAULT, ELOOP), O_CLOEXEC,
# signal dispositions and mask across execve, posix_spawn + waitpid,
# system() and vfork, in the guest and, built with musl-gcc, on Linux; the
# outputs must be the same line for line.  Then 200 execs in a row must
# give back their memory and caps.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# the guest's copies: stripped (execve reads the whole file)
strip -o "$tmp/exectest" "$B/user/exectest"
strip -o "$tmp/minish" "$B/user/minish"
guest_files=(--file "$tmp/exectest:/bin/exectest" --file "$tmp/minish:/bin/sh")

. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="${guest_files[*]}" EXO_RUN_TIMEOUT=300 \
	compare_with_linux exectest "run $PWD/$B/host-musl/exectest $tmp/host-exectest" "run /bin/exectest /tmp"

# 200 execs after the first: the budget and the caps held stay the same
t0=$(date +%s%N)
EXO_RUN_TIMEOUT=400 tools/exo-run --file "$tmp/exectest:/bin/exectest" "$B/user/exectest" \
	loop 201 - - /bin/exectest >"$tmp/loop.out" 2>"$tmp/loop.err"
rc=$?
echo "info exec-loop: 201 execs took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
sed -n -e "s/^ok /PASS /p" -e "s/^FAIL /FAIL /p" -e "s/^info /info /p" "$tmp/loop.out"
if [ $rc -ne 0 ]; then
	echo "FAIL exec-loop-status: $rc"
	tail -n 10 "$tmp/loop.err"
fi
