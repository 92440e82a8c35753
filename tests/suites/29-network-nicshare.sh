#!/usr/bin/env bash
# Two programs sharing one NIC through filtered capabilities
# (docs/NETWORK.md, "Sharing the NIC between processes"): user/tests/nicshare.c
# keeps the NIC for UDP 7000 and forks two children, one on a NIC filtered
# to UDP 7001, one on a NIC filtered to TCP 8001, each with its own lwIP on
# the same address; tests/tools/nicshare-peer reaches each through exo-run's
# -p forwards and checks that each answers only its own port, then that
# revoking child A's NIC stops its traffic (the port falls back to the
# parent, child A's receive buffers are no longer written) while the parent
# and child B go on.  Then a peer attacks a child's stack (below).  On each
# NIC model, in a namespace of its own.
set -u
. "$(dirname "$0")/../tools/netsuite.sh"
# verdict NAME PEER_STATUS GUEST_STATUS: both ended well, else the logs
verdict() {
	if [ "$2" = 0 ] && [ "$3" = 0 ]; then
		echo "PASS nicshare-$1-guest-exit-0"
	else
		echo "FAIL nicshare-$1-guest-exit-0: peer $2, guest $3"
		for f in "$T/$1".*; do echo "--- $f"; tail -n 15 "$f" | sed "s/^/  | /"; done
	fi
}
for nic in virtio e1000; do
	base=$((20000 + RANDOM % 10000))
	EXO_RUN_TIMEOUT=600 tools/exo-run --nic "$nic" --net user-open -e EXO_IP=10.0.2.15/24 -e EXO_GW=10.0.2.2 \
		-p $base:7000/udp -p $((base + 1)):7001/udp -p $((base + 2)):8001 \
		"$B/user/nicshare" >"$T/$nic.out" 2>"$T/$nic.err" &
	guest=$!
	tests/tools/nicshare-peer $base $((base + 1)) $((base + 2)) >"$T/$nic.peer" 2>&1
	peer=$?
	[ $peer = 0 ] || kill $guest 2>/dev/null
	wait $guest
	rc=$?
	sed -n -e "s/^ok /PASS nicshare-$nic-host-/p" -e "s/^FAIL /FAIL nicshare-$nic-host-/p" "$T/$nic.peer"
	sed -n -e "s/^ok /PASS nicshare-$nic-/p" -e "s/^FAIL /FAIL nicshare-$nic-/p" "$T/$nic.out"
	verdict "$nic" "$peer" "$rc"
done
# A peer attacks a forked child's stack over a socket link
# (tests/tools/nicshare-arp-attack): datagrams that would poison the
# child's ARP cache, and a flood that the parent's raw socket must not
# queue in the child.
for nic in virtio e1000; do
	dev=$([ "$nic" = e1000 ] && echo e1000 || echo virtio-net-pci,disable-legacy=on)
	mine=$((20000 + RANDOM % 10000)) qemu=$((30000 + RANDOM % 10000))
	EXO_RUN_TIMEOUT=600 EXO_RUN_QEMU_ARGS="-netdev socket,id=s0,udp=127.0.0.1:$mine,localaddr=127.0.0.1:$qemu -device $dev,netdev=s0,mac=52:54:00:12:34:01" \
		tools/exo-run -e EXO_IP=192.168.77.1/24 -e EXO_GW=192.168.77.2 "$B/user/nicshare" attack \
		>"$T/$nic-attack.out" 2>"$T/$nic-attack.err" &
	guest=$!
	tests/tools/nicshare-arp-attack "$mine" "$qemu" >"$T/$nic-attack.peer" 2>&1
	peer=$?
	[ $peer = 0 ] || kill $guest 2>/dev/null
	wait $guest
	rc=$?
	sed -n -e "s/^ok /PASS nicshare-$nic-/p" -e "s/^FAIL /FAIL nicshare-$nic-/p" "$T/$nic-attack.peer" "$T/$nic-attack.out"
	verdict "$nic-attack" "$peer" "$rc"
done
