#!/usr/bin/env bash
# The procfs (libos/procfs.c): user/tests/procfs.c reads /proc/self
# (status, stat, cmdline, environ, comm, fd/, cwd, maps), a child's entries
# while it runs, as a zombie and once reaped, the machine's files as
# BusyBox parses them, statfs, and /proc/self/exe after an execve; in the
# guest and, built with musl-gcc, on Linux; the outputs must be the same
# line for line.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/procfs" "$B/user/procfs"	# execve reads the whole file
. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="--file $tmp/procfs:/bin/procfs" EXO_RUN_TIMEOUT=300 \
	compare_with_linux procfs "exec $PWD/$B/host-musl/procfs" "exec /bin/procfs"
