#!/usr/bin/env bash
# Memory and limits as on Linux: user/tests/limits.c (100,000 small
# mallocs, a mix of sizes with mmap-backed ones, thousands of mappings at
# once, the resource limits and their errors), user/tests/ipc.c (System
# V shared memory, semaphores and message queues across processes) and
# user/tests/fmap.c (file mappings, memfd, POSIX shm and semaphores) run in
# the guest with
# tools/exo-run and, built with plain musl-gcc, on this Linux host; the
# outputs must be the same line for line.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

. tests/compare-linux.sh
# The program runs itself again through execve (RLIMIT_AS kept across it):
# its own path, on each side.
COMPARE_EXO_RUN_OPTS="--file $B/user/limits:/bin/limits" EXO_RUN_TIMEOUT=300 \
	compare_with_linux limits "$PWD/$B/host-musl/limits" /bin/limits
# System V IPC between processes (user/tests/ipc.c).
EXO_RUN_TIMEOUT=300 compare_with_linux ipc "" ""
# File mappings, memfd_create, shm_open and named semaphores between
# processes (user/tests/fmap.c).
# It runs itself again through execve: its own path, on each side.
COMPARE_EXO_RUN_OPTS="--file $B/user/fmap:/bin/fmap" EXO_RUN_TIMEOUT=300 \
	compare_with_linux fmap "$PWD/$B/host-musl/fmap" /bin/fmap
