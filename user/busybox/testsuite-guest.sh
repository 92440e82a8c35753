#!/bin/sh
# The in-guest half of tests/suites/52-busybox-testsuite.sh: BusyBox's own
# test suite (/src/testsuite) against /bb/busybox and /bb/.config, run by
# the first program itself (`busybox sh` with this script), which starts
# runtest as a child, as a shell on Linux would: every process draws on
# the machine's free memory (docs/LIBOS.md, "Memory budgets"), however
# deep runtest's pipelines nest.  runtest's lines go to stdout, where the
# host counts them.  The VM has no network device,
# so no test reaches beyond it; the tests that would fetch from the
# internet are skipped, as on the host.
#   busybox sh testsuite-guest.sh [APPLET...]
set -eu
cp -pPR /src/testsuite /tmp/testsuite
cd /tmp/testsuite
ln -sfn /bb/busybox /tmp/echo
# SHELL as a login session has it (the taskset tests start $SHELL)
export ECHO=/tmp/echo SKIP_INTERNET_TESTS=1 bindir=/bb srcdir=/tmp/testsuite SHELL=/bin/sh
/bb/busybox sh ./runtest "$@"
