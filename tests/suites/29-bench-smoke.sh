#!/usr/bin/env bash
# The programs of `make bench`'s POSIX and network parts run in the guest
# and report every figure (user/bench/posixbench.c, netbench.c); a few
# rounds only, and no figure is judged here: `make bench` measures them.
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
sink=
trap '[ -n "$sink" ] && kill "$sink" 2>/dev/null; rm -rf "$tmp"' EXIT

strip -o "$tmp/tiny" "$B/user/bench-tiny"
EXO_RUN_TIMEOUT=300 tools/exo-run --file "$tmp/tiny:/bin/tiny" "$B/user/bench-posixbench" /tmp /bin/tiny smoke \
	> "$tmp/posix.txt" 2>&1
rc=$?
for f in fork-exec-wait posix-spawn-wait pipe-round-trip tmpfs-create-write-close-unlink stat futex-round-trip; do
	if grep -q "^bench $f [1-9][0-9]*\$" "$tmp/posix.txt"; then echo "PASS bench-smoke-$f"
	else echo "FAIL bench-smoke-$f: no figure"; fi
done
if [ $rc = 0 ] && grep -q '^posixbench done' "$tmp/posix.txt"; then echo "PASS bench-smoke-posix-done"
else echo "FAIL bench-smoke-posix-done: status $rc"; tail -n 15 "$tmp/posix.txt"; fi

# 20 datagrams to a sink on the host's loopback, which must see them
port=$((20000 + RANDOM % 30000))
tools/bench-netpeer udp-sink "$port" > "$tmp/sink.txt" 2>&1 &
sink=$!
sleep 0.5
EXO_RUN_TIMEOUT=300 tools/exo-run --nic virtio --net user-open -e EXO_IP=10.0.2.15/24 -e EXO_GW=10.0.2.2 \
	"$B/user/bench-netbench" udp-send 10.0.2.2 "$port" 20 > "$tmp/net.txt" 2>&1
rc=$?
sleep 0.5
kill -TERM "$sink"; wait "$sink"; sink=
got=$(sed -n 's/^bench udp-sink-datagrams //p' "$tmp/sink.txt")
if [ $rc = 0 ] && grep -q '^bench udp-send [1-9]' "$tmp/net.txt" && [ "${got:-0}" -ge 20 ]; then
	echo "PASS bench-smoke-udp-send"
else
	echo "FAIL bench-smoke-udp-send: status $rc, the host got ${got:-no} datagrams"; tail -n 15 "$tmp/net.txt"
fi
