#!/usr/bin/env bash
# Job control between processes: user/tests/jobctl.c (stop signals,
# SIGCONT, wait4 with WUNTRACED and WCONTINUED, waitid with WSTOPPED,
# SIGCHLD's codes, nanosleep's time left) runs in the guest with
# tools/exo-run and, built with plain musl-gcc, on this Linux host; the
# outputs must be the same line for line.  The terminal's side (^Z, jobs,
# fg, bg) is in tests/suites/50-terminal.sh.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. tests/compare-linux.sh
EXO_RUN_TIMEOUT=240 compare_with_linux jobctl "" ""
