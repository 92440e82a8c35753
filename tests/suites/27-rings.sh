#!/usr/bin/env bash
# Device rings behind capabilities (docs/ABI.md, "NIC and block rings"):
# in-guest programs on a modern-only virtio-net device on QEMU's restricted
# user network and on a virtio-blk disk image made under build/.
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

run nictest ring --nic virtio "$B/user/nictest"
