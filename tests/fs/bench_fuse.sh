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
# the tool records volume generations under the XDG state directory: not the real home
export XDG_STATE_HOME="$work/state"
cfs_pid=
cleanup() {
	for m in "$work/m1" "$work/m2" "$work/m3"; do mountpoint -q "$m" && fusermount3 -u "$m"; done
	[ -n "$cfs_pid" ] && wait "$cfs_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
MB=${FUSE_BENCH_MB:-128}
FILES=${FUSE_BENCH_FILES:-500}
REPS=${FUSE_BENCH_REPS:-5}
head -c 32 /dev/urandom >"$work/key"
echo benchpass >"$work/pass"
mkdir -p "$work/m1" "$work/m2" "$work/m3" "$work/cipher" "$work/cipherx" "$work/small"
for i in $(seq "$FILES"); do head -c 4096 /dev/urandom >"$work/small/f$i"; done

"$cfs" mkfs "$work/img" --size $((MB * REPS + 64 + REPS * FILES * 12 / 1024))M --key-file "$work/key" >/dev/null || exit 1
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
# Each workload runs REPS times on all three, the first of them in turn
# (so no one is always measured first); the table shows medians.
declare -A T
timed() { # timed KEY REP CMD...: record the wall time of CMD under KEY
	local key=$1 rep=$2; shift 2
	T[$key,$rep]=$(seconds "$@")
}
order() { # the mount points, rotated by the repetition number
	local m=(1 2 3) r=$1
	echo "${m[$((r % 3))]} ${m[$(((r + 1) % 3))]} ${m[$(((r + 2) % 3))]}"
}
median() { # median KEY: the median of the REPS times recorded under KEY
	for r in $(seq "$REPS"); do echo "${T[$1,$r]}"; done | sort -g |
		awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
mount_cfs && mount_gcfs || { echo "FUSE benchmark: mount failed"; exit 1; }
for r in $(seq "$REPS"); do
	for i in $(order "$r"); do
		timed w$i "$r" dd if=/dev/zero of="$work/m$i/big$r" bs=1M count="$MB" conv=fsync
	done
	for i in $(order "$r"); do timed s$i "$r" cp -r "$work/small" "$work/m$i/small$r"; done
done
umount_all; mount_cfs && mount_gcfs || exit 1
for r in $(seq "$REPS"); do
	for i in $(order "$r"); do timed r$i "$r" dd if="$work/m$i/big$r" of=/dev/null bs=1M; done
	for i in $(order "$r"); do timed l$i "$r" ls -lR "$work/m$i/small$r"; done
	for i in $(order "$r"); do timed c$i "$r" cat "$work/m$i/small$r/"*; done
done
umount_all
for k in w r s l c; do
	for i in 1 2 3; do eval "$k$i=\$(median $k$i)"; done
done

row() { # row NAME UNIT AMOUNT T_CFS T_GOCRYPTFS T_GOCRYPTFS_XCHACHA
	awk -v n="$1" -v u="$2" -v a="$3" -v c="$4" -v g="$5" -v x="$6" \
		'BEGIN { printf "%-28s %9.1f %9.1f %9.1f %-7s %6.2f %6.2f\n", n, a / c, a / g, a / x, u, g / c, x / c }'
}
echo "FUSE on tmpfs: cryptofs mount (format 2, AEGIS-256) vs" \
	"$(gocryptfs -version 2>/dev/null | head -1 | cut -d';' -f1) (default AES-256-GCM, and" \
	"-xchacha: XChaCha20-Poly1305); median of $REPS runs"
printf '%-28s %9s %9s %9s %-7s %6s %6s\n' workload cryptofs gocryptfs "go-xchacha" unit ratio "ratio-x"
row "sequential write ${MB} MiB" "MB/s   " "$MB" "$w1" "$w2" "$w3"
row "sequential read ${MB} MiB" "MB/s   " "$MB" "$r1" "$r2" "$r3"
row "copy in $FILES x 4 KiB files" "files/s" "$FILES" "$s1" "$s2" "$s3"
row "read $FILES x 4 KiB files" "files/s" "$FILES" "$c1" "$c2" "$c3"
row "ls -lR $FILES files" "files/s" "$FILES" "$l1" "$l2" "$l3"
