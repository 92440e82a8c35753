#!/bin/sh
# Runs BusyBox's own test suite (SRC/testsuite, from Debian's source
# package) against BINDIR/busybox and BINDIR/.config, in a scratch copy
# under LOGDIR, with BusyBox's own shell (as the guest will), and ends
# with one line: PASS, FAIL and untested counts.
#   user/busybox/testsuite.sh SRC BINDIR LOGDIR
set -eu
src=$(cd "$1" && pwd) bindir=$(cd "$2" && pwd)
mkdir -p "$3"
logdir=$(cd "$3" && pwd)
rm -rf "$logdir/testsuite"
cp -pPR "$src/testsuite" "$logdir/testsuite"
cd "$logdir/testsuite"
# the scripts' `echo -ne` must be BusyBox's (a host's /bin/sh may be dash)
ln -sfn "$bindir/busybox" "$logdir/echo"
export ECHO="$logdir/echo"
# No test reaches beyond this machine: the wget tests that fetch from the
# internet are skipped, and on a host the suite runs in a network
# namespace of its own with no interfaces (unshare -n), when it can.
export SKIP_INTERNET_TESTS=1
isolate=
if command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	isolate="unshare -n"
fi
bindir=$bindir srcdir=$src/testsuite $isolate "$bindir/busybox" sh ./runtest \
	> "$logdir/runtest.log" 2>&1 || true
pass=$(grep -c '^PASS' "$logdir/runtest.log" || true)
fail=$(grep -c '^FAIL' "$logdir/runtest.log" || true)
untested=$(grep -cE '^(UNTESTED|SKIPPED)' "$logdir/runtest.log" || true)
echo "busybox testsuite: $pass passed, $fail failed, $untested untested or skipped (log: $logdir/runtest.log)"
