#!/usr/bin/env bash
# A peer must not be able to end a networked program: tests/tools/tcp-window-attack
# plays a hostile TCP peer (raw Ethernet frames over a QEMU socket link on
# the loopback of this suite's own network namespace) against a guest echo
# server, with an out-of-order segment reaching past the receive window
# (lwIP's "ooseq tcplen > rcv_wnd" assertion, net/lwip/tcpguard.c), then
# checks that the server still echoes on a second connection and exits 0;
# on each NIC model.
set -u
. "$(dirname "$0")/../tools/netsuite.sh"
for nic in virtio e1000; do
	dev=$([ "$nic" = e1000 ] && echo e1000 || echo virtio-net-pci,disable-legacy=on)
	mine=$((20000 + RANDOM % 10000)) qemu=$((30000 + RANDOM % 10000))
	EXO_RUN_TIMEOUT=400 EXO_RUN_QEMU_ARGS="-netdev socket,id=s0,udp=127.0.0.1:$mine,localaddr=127.0.0.1:$qemu -device $dev,netdev=s0,mac=52:54:00:12:34:01" \
		tools/exo-run -e EXO_IP=192.168.77.1/24 "$B/user/nettest" tcp-server 7 2 \
		>"$T/$nic.out" 2>"$T/$nic.err" &
	srv=$!
	tests/tools/tcp-window-attack "$mine" "$qemu" 7 >"$T/$nic.peer" 2>&1
	wait $srv
	rs=$?
	sed -n -e "s/^ok /PASS $nic-/p" -e "s/^FAIL /FAIL $nic-/p" "$T/$nic.peer"
	if [ $rs = 0 ] && grep -q "^connection 1 echoed 31 bytes$" "$T/$nic.out"; then
		echo "PASS $nic-tcp-window-attack-server-survived"
	else
		echo "FAIL $nic-tcp-window-attack-server-survived: exit status $rs"
		for f in "$T/$nic".*; do echo "--- $f"; tail -n 15 "$f" | sed "s/^/  | /"; done
	fi
done
