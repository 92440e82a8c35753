#!/usr/bin/env bash
# The socket calls under random arguments in the guest (user/tests/sockfuzz.c:
# 20 s of random calls through the library OS, then a loopback TCP
# connection must still work), once without a NIC (the loopback only) and
# once on QEMU's restricted user network.  The host-side fuzzer of the same
# layer (tests/fuzz/fuzz_socket.c) runs in tests/suites/28-network.sh.
set -u
B=${BUILD:-build}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
for net in none user; do
	args=()
	[ $net = user ] && args=(--net user)
	EXO_RUN_TIMEOUT=300 tools/exo-run ${args[@]+"${args[@]}"} "$B/user/sockfuzz" 20 >"$out" 2>"$err"
	rc=$?
	grep '^info' "$out"
	sed -n -e "s/^ok /PASS sockfuzz-$net-/p" -e "s/^FAIL /FAIL sockfuzz-$net-/p" "$out"
	if [ $rc -ne 0 ]; then
		echo "FAIL sockfuzz-$net: exit status $rc (139: a segfault in the library OS; 125: the VM hung)"
		tail -n 20 "$err" | sed 's/^/  | /'
	fi
done
