#!/usr/bin/env bash
# IPv6 in the library OS (docs/NETWORK.md): SLAAC from the router
# advertisements of QEMU's user network (fec0::/64), AF_INET6 TCP and UDP,
# v4-mapped addresses, IPV6_V6ONLY, MLD groups, ICMPv6 echo, AAAA through
# getaddrinfo.  The guest's connections to fec0::2, QEMU's address for the
# host, arrive at the host's ::1, where tests/tools/netpeer serves; all of
# it inside a network namespace this suite makes (loopback only).
set -u
. "$(dirname "$0")/../tools/netsuite.sh"
export EXO_RUN_TIMEOUT=${EXO_RUN_TIMEOUT:-150}
fail() { echo "FAIL $1: $2"; shift 2; for f in "$@"; do echo "--- $f"; tail -n 20 "$f"; done; }
# guest NAME EXPECTED-STATUS EXO-RUN-ARGS...: runs a guest, reports its checks
guest() {
	local name=$1 want=$2
	shift 2
	tools/exo-run "$@" >"$T/$name.out" 2>"$T/$name.err"
	local rc=$?
	sed -n -e "s/^ok /PASS $name-/p" -e "s/^FAIL /FAIL $name-/p" "$T/$name.out"
	[ "$rc" = "$want" ] && return 0
	fail "$name" "exit status $rc, expected $want" "$T/$name.out" "$T/$name.err"
	return 1
}

NETPEER_HOST=::1 tests/tools/netpeer tcp-echo 6000 >"$T/peer-tcp.log" 2>&1 & pids+=($!)
NETPEER_HOST=::1 tests/tools/netpeer udp-echo 6001 >"$T/peer-udp.log" 2>&1 & pids+=($!)
tests/tools/netpeer dns 53 test.exoswarm.example 10.1.2.3 fd00::1:2:3 >"$T/peer-dns.log" 2>&1 & pids+=($!)
sleep 0.3

for nic in virtio e1000; do
	export EXO_RUN_NIC=$nic
	# In the guest: SLAAC, sockets over ::1, v4-mapped, V6ONLY, MLD, ping
	guest "net6-$nic-local" 0 --net user "$B/user/net6test" local
	# TCP and UDP to the host's ::1 through QEMU (fec0::2)
	guest "net6-$nic-tcp-host" 0 --net user-open "$B/user/net6test" tcp-client fec0::2 6000 $((4 << 20))
	guest "net6-$nic-udp-host" 0 --net user-open "$B/user/net6test" udp-client fec0::2 6001
done
# AAAA through musl's resolver, from the test's DNS server on the host
if guest net6-resolve 0 --net user-open -e EXO_DNS=10.0.2.2 "$B/user/net6test" resolve test.exoswarm.example; then
	grep -q '^resolved test.exoswarm.example fd00::1:2:3$' "$T/net6-resolve.out" && echo "PASS net6-getaddrinfo-aaaa" ||
		fail net6-getaddrinfo-aaaa "wrong answer" "$T/net6-resolve.out"
fi
