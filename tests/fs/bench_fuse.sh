#!/usr/bin/env bash
# FUSE benchmark: `cryptofs mount` (an image file on tmpfs) against gocryptfs
# (its cipher directory on the same tmpfs), same workloads, same run.  Both
# are remounted between writing and reading so reads come through FUSE, not
# the page cache.  Prints a table; ratio > 1 means cryptofs is faster.
set -u
BUILD=${BUILD:-build}
cfs="$BUILD/bench/cryptofs"
shm=/dev/shm
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null || ! command -v gocryptfs >/dev/null ||
   [ "$(stat -f -c %T "$shm" 2>/dev/null)" != tmpfs ]; then
	echo "FUSE benchmark skipped: needs /dev/fuse, fusermount3, gocryptfs and tmpfs at $shm"
	exit 0
fi
work=$(mktemp -d "$shm/cfs-bench.XXXXXX")
cfs_pid=
cleanup() {
	for m in "$work/m1" "$work/m2" "$work/m3"; do mountpoint -q "$m" && fusermount3 -u "$m"; done
	[ -n "$cfs_pid" ] && wait "$cfs_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
MB=${FUSE_BENCH_MB:-128}
FILES=${FUSE_BENCH_FILES:-500}
head -c 32 /dev/urandom >"$work/key"
echo benchpass >"$work/pass"
mkdir -p "$work/m1" "$work/m2" "$work/m3" "$work/cipher" "$work/cipherx" "$work/small"
for i in $(seq "$FILES"); do head -c 4096 /dev/urandom >"$work/small/f$i"; done

"$cfs" mkfs "$work/img" --size $((MB * 2 + 64))M --key-file "$work/key" >/dev/null || exit 1
gocryptfs -q -init -passfile "$work/pass" -scryptn 10 "$work/cipher" >/dev/null || exit 1
gocryptfs -q -init -xchacha -passfile "$work/pass" -scryptn 10 "$work/cipherx" >/dev/null || exit 1

mount_cfs() {
	"$cfs" mount "$work/img" "$work/m1" -f --key-file "$work/key" &
	cfs_pid=$!
	for _ in $(seq 100); do mountpoint -q "$work/m1" && return 0; sleep 0.05; done
	return 1
}
mount_gcfs() {
	gocryptfs -q -passfile "$work/pass" "$work/cipher" "$work/m2" &&
		gocryptfs -q -passfile "$work/pass" "$work/cipherx" "$work/m3"
}
umount_all() {
	fusermount3 -u "$work/m1"; wait "$cfs_pid"; cfs_pid=
	fusermount3 -u "$work/m2"; fusermount3 -u "$work/m3"
}
seconds() { # seconds CMD...: wall time of CMD
	local t0 t1
	t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", (b - a) / 1e9 }'
}
mount_cfs && mount_gcfs || { echo "FUSE benchmark: mount failed"; exit 1; }
w1=$(seconds dd if=/dev/zero of="$work/m1/big" bs=1M count="$MB" conv=fsync)
w2=$(seconds dd if=/dev/zero of="$work/m2/big" bs=1M count="$MB" conv=fsync)
w3=$(seconds dd if=/dev/zero of="$work/m3/big" bs=1M count="$MB" conv=fsync)
s1=$(seconds cp -r "$work/small" "$work/m1/small")
s2=$(seconds cp -r "$work/small" "$work/m2/small")
s3=$(seconds cp -r "$work/small" "$work/m3/small")
umount_all; mount_cfs && mount_gcfs || exit 1
r1=$(seconds dd if="$work/m1/big" of=/dev/null bs=1M)
r2=$(seconds dd if="$work/m2/big" of=/dev/null bs=1M)
r3=$(seconds dd if="$work/m3/big" of=/dev/null bs=1M)
l1=$(seconds ls -lR "$work/m1/small")
l2=$(seconds ls -lR "$work/m2/small")
l3=$(seconds ls -lR "$work/m3/small")
c1=$(seconds cat "$work/m1/small/"*)
c2=$(seconds cat "$work/m2/small/"*)
c3=$(seconds cat "$work/m3/small/"*)
umount_all

row() { # row NAME UNIT AMOUNT T_CFS T_GOCRYPTFS T_GOCRYPTFS_XCHACHA
	awk -v n="$1" -v u="$2" -v a="$3" -v c="$4" -v g="$5" -v x="$6" \
		'BEGIN { printf "%-28s %9.1f %9.1f %9.1f %-7s %6.2f %6.2f\n", n, a / c, a / g, a / x, u, g / c, x / c }'
}
echo "FUSE on tmpfs: cryptofs mount vs $(gocryptfs -version 2>/dev/null | head -1 | cut -d';' -f1)" \
	"(default AES-256-GCM, and -xchacha: XChaCha20-Poly1305 like cryptofs)"
printf '%-28s %9s %9s %9s %-7s %6s %6s\n' workload cryptofs gocryptfs "go-xchacha" unit ratio "ratio-x"
row "sequential write ${MB} MiB" "MB/s   " "$MB" "$w1" "$w2" "$w3"
row "sequential read ${MB} MiB" "MB/s   " "$MB" "$r1" "$r2" "$r3"
row "copy in $FILES x 4 KiB files" "files/s" "$FILES" "$s1" "$s2" "$s3"
row "read $FILES x 4 KiB files" "files/s" "$FILES" "$c1" "$c2" "$c3"
row "ls -lR $FILES files" "files/s" "$FILES" "$l1" "$l2" "$l3"
