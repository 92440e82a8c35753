#!/usr/bin/env bash
# The procfs (libos/procfs.c): user/tests/procfs.c reads /proc/self
# (status, stat, cmdline, environ, comm, fd/, cwd, maps), a child's entries
# while it runs, as a zombie and once reaped, the machine's files as
# BusyBox parses them, statfs, and /proc/self/exe after an execve; in the
# guest and, built with musl-gcc, on Linux; the outputs must be the same
# line for line.  Then BusyBox's df on a tmpfs and on CryptoFS.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/procfs" "$B/user/procfs"	# execve reads the whole file
. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="--file $tmp/procfs:/bin/procfs" EXO_RUN_TIMEOUT=300 \
	compare_with_linux procfs "exec $PWD/$B/host-musl/procfs" "exec /bin/procfs"

# BusyBox's df over statfs: a tmpfs's use grows by a file's pages and
# shrinks back when it goes; CryptoFS's size is its volume's.
bb="$B/busybox/busybox"
out=$(EXO_RUN_TIMEOUT=180 tools/exo-run "$bb" sh -c \
	'df /tmp; dd if=/dev/zero of=/tmp/f bs=1024 count=2048 2>/dev/null; df /tmp; rm /tmp/f; df /tmp' 2>"$tmp/df.err")
used=$(echo "$out" | awk '$6 == "/tmp" { printf "%s ", $3 }')
set -- $used
if [ $# -eq 3 ] && [ $(( $2 - $1 )) -eq 2048 ] && [ "$3" -eq "$1" ]; then
	echo "PASS df-tmpfs-use-follows-a-2-MiB-file"
else
	echo "FAIL df-tmpfs-use-follows-a-2-MiB-file: used '$used'"; echo "$out"; tail -n 5 "$tmp/df.err"
fi
truncate -s 64M "$tmp/disk.img"
out=$(CRYPTOFS_ARGON2_OPS=1 CRYPTOFS_ARGON2_MEM=1 CRYPTOFS_PASSPHRASE=procfs-test EXO_RUN_TIMEOUT=180 \
	tools/exo-run --disk "$tmp/disk.img" --format "$bb" df /data 2>"$tmp/df.err")
if echo "$out" | awk '$1 == "cryptofs" && $6 == "/data" && $2 > 60000 && $2 <= 65536 && $3 > 0 && $3 + $4 == $2 { ok = 1 } END { exit !ok }'; then
	echo "PASS df-cryptofs-volume-size"
else
	echo "FAIL df-cryptofs-volume-size: '$out'"; tail -n 5 "$tmp/df.err"
fi
