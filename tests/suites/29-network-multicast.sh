#!/usr/bin/env bash
# Multicast sockets of the library OS (docs/NETWORK.md): IGMP in lwIP, the
# IP_* multicast options with Linux's errors, datagrams to a group looped
# back within a guest, and between two guests on one Ethernet link: QEMU
# socket netdevs joined through the multicast group 230.0.0.1 on the
# loopback of a network namespace this suite makes (nothing leaves it).
# IPv4 groups (IGMP) and IPv6 ones (MLD).  On the e1000 the guests hear
# each other only if the port programs the NIC's multicast filter
# (EXO_NIC_JOIN); virtio-net passes every group.
set -u
. "$(dirname "$0")/../tools/netsuite.sh"
export EXO_RUN_TIMEOUT=${EXO_RUN_TIMEOUT:-150}
fail() { echo "FAIL $1: $2"; shift 2; for f in "$@"; do echo "--- $f"; tail -n 20 "$f"; done; }
# results NAME FILE: the guest's checks as PASS/FAIL lines
results() { sed -n -e "s/^ok /PASS $1-/p" -e "s/^FAIL /FAIL $1-/p" -e 's/^info /info /p' "$2"; }
# link NIC MAC-SUFFIX PORT: QEMU options for a NIC on the shared link
link() { echo "-netdev socket,id=s0,mcast=230.0.0.1:$3,localaddr=127.0.0.1 -device $1,netdev=s0,mac=52:54:00:12:34:$2"; }

for nic in virtio e1000; do
	# In one guest: options, errors, and datagrams looped back to the group
	EXO_RUN_NIC=$nic tools/exo-run --net user "$B/user/mcasttest" >"$T/local.out" 2>"$T/local.err"
	rc=$?
	results "mcast-$nic-local" "$T/local.out"
	[ $rc = 0 ] || fail "mcast-$nic-local" "exit status $rc" "$T/local.out" "$T/local.err"

	# Two guests on one link, each sending to the group and hearing the
	# other: IPv4 (IGMP) and IPv6 (MLD, link-local addresses)
	dev=$([ $nic = e1000 ] && echo e1000 || echo virtio-net-pci,disable-legacy=on)
	for group in 239.5.5.5 ff02::5:5; do
		v=$(case $group in *:*) echo ipv6 ;; *) echo ipv4 ;; esac)
		port=$((40000 + RANDOM % 20000))
		EXO_RUN_QEMU_ARGS="$(link "$dev" 01 $port)" tools/exo-run -e EXO_IP=192.168.77.1/24 \
			"$B/user/mcasttest" peer a $group 7300 >"$T/a.out" 2>"$T/a.err" &
		a=$!
		EXO_RUN_QEMU_ARGS="$(link "$dev" 02 $port)" tools/exo-run -e EXO_IP=192.168.77.2/24 \
			"$B/user/mcasttest" peer b $group 7300 >"$T/b.out" 2>"$T/b.err"
		rb=$?
		wait $a
		ra=$?
		results "mcast-$nic-$v-two-guests-a" "$T/a.out"
		results "mcast-$nic-$v-two-guests-b" "$T/b.out"
		[ $ra = 0 ] && [ $rb = 0 ] && echo "PASS mcast-$nic-$v-two-guests" ||
			fail "mcast-$nic-$v-two-guests" "exit status $ra and $rb" "$T/a.out" "$T/a.err" "$T/b.out" "$T/b.err"
	done
done
