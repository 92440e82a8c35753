#!/usr/bin/env bash
# Device rings behind capabilities (docs/ABI.md, "NIC and block rings"):
# in-guest programs on a modern-only virtio-net device and on an e1000
# (82540EM) on QEMU's restricted user network, and on a virtio-blk disk
# image made under build/.
set -u
B=${BUILD:-build}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

# run NAME PREFIX EXO-RUN-ARGS...: each in-guest "ok X" / "FAIL X" is a test
run() {
	local name=$1 prefix=$2
	shift 2
	EXO_RUN_TIMEOUT=120 tools/exo-run "$@" >"$out" 2>"$err"
	local rc=$?
	sed -n -e "s/^ok /PASS $prefix-/p" -e "s/^FAIL /FAIL $prefix-/p" "$out"
	if [ $rc -ne 0 ] || ! grep -q '^all checks passed$' "$out"; then
		echo "FAIL $name: exit status $rc"
		echo "--- stdout"; tail -n 20 "$out"; echo "--- stderr"; tail -n 30 "$err"
	else
		echo "PASS $name"
	fi
}

run nictest ring --nic virtio -e EXO_NET=none "$B/user/nictest"
run nictest-e1000 ring-e1000 --nic e1000 -e EXO_NET=none "$B/user/nictest" e1000

# A disk made here: write in one VM, power off, read in a new VM.
img="$B/tests/rings-disk.img"
mkdir -p "$(dirname "$img")"
rm -f "$img"
truncate -s 4M "$img"
seed=$(( $$ % 200 + 1 ))
run blktest-write ring --disk "$img" "$B/user/blktest" write "$seed"
# the bytes are on the image where the guest put them (sector 100)
want=$(for i in 0 1 2 3; do printf ' %d' $(( (700 + 13 * i + seed) & 255 )); done)
got=$(od -An -tu1 -j $((100 * 512)) -N 4 "$img" | tr -s ' ')
if [ "$got" = "$want" ]; then echo "PASS blk-image-holds-guest-writes"
else echo "FAIL blk-image-holds-guest-writes: sector 100 starts with '$got', expected '$want'"; fi
run blktest-after-reboot ring-boot2 --disk "$img" "$B/user/blktest" read "$seed"
# a different pattern must not be found there (the check can fail)
EXO_RUN_TIMEOUT=120 tools/exo-run --disk "$img" "$B/user/blktest" read $((seed + 1)) >"$out" 2>&1
if grep -q '^FAIL blk-reboot-pattern-survived' "$out"; then echo "PASS blk-reboot-check-tells-patterns-apart"
else echo "FAIL blk-reboot-check-tells-patterns-apart: another seed's pattern was found"; fi
rm -f "$img"
