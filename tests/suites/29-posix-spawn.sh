#!/usr/bin/env bash
# posix_spawn and vfork on the parent's memory (user/tests/spawntest.c,
# libos/spawn.c): the spawned program's pid and parent, execve of a
# missing file, of a non-ELF file and of a #! script, failing file
# actions, dup2/close/open/chdir actions and the SETPGROUP, SETSID,
# SETSIGMASK, SETSIGDEF and RESETIDS attributes seen by the child only,
# vfork's shared memory and private process state, a signal for the
# parent while it waits and the parent killed while it waits; children
# that go wrong on the parent's memory (a clone onto an unmapped stack, a
# write to address 0, execve of a bad pointer) and one killed by another
# process, each alone dying or failing while the parent goes on; in the
# guest and, built with musl-gcc, on Linux; the outputs must be the same
# line for line.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/spawntest" "$B/user/spawntest"
. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="--file $tmp/spawntest:/bin/spawntest" EXO_RUN_TIMEOUT=300 \
	compare_with_linux spawntest "run $PWD/$B/host-musl/spawntest $tmp/host-spawntest" "run /bin/spawntest /tmp"
