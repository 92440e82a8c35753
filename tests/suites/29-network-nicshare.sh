#!/usr/bin/env bash
# Two programs sharing one NIC through filtered capabilities
# (docs/NETWORK.md, "Sharing the NIC between processes"): user/tests/nicshare.c
# keeps the NIC for UDP 7000 and forks two children, one on a NIC filtered
# to UDP 7001, one on a NIC filtered to TCP 8001, each with its own lwIP on
# the same address; tests/tools/nicshare-peer reaches each through exo-run's
# -p forwards and checks that each answers only its own port, then that
# revoking child A's NIC stops its traffic (the port falls back to the
# parent, child A's receive buffers are no longer written) while the parent
# and child B go on.  On each NIC model, in a namespace of its own.
set -u
. "$(dirname "$0")/../tools/netsuite.sh"
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
	if [ $peer = 0 ] && [ $rc = 0 ]; then
		echo "PASS nicshare-$nic-guest-exit-0"
	else
		echo "FAIL nicshare-$nic-guest-exit-0: peer $peer, guest $rc"
		for f in "$T/$nic".*; do echo "--- $f"; tail -n 15 "$f" | sed "s/^/  | /"; done
	fi
done
