#!/usr/bin/env bash
# TCP between two guests on one Ethernet link (tests/tools/guest-to-guest:
# QEMU socket netdevs on the loopback of its own network namespace): 16 MiB
# each way through an echo server in the other guest, checked by hash, on
# each NIC model.  The issue's 100 MiB runs in `make bench` (about a
# minute per direction under TCG here; docs/PERFORMANCE.md).
set -u
for nic in virtio e1000; do
	tests/tools/guest-to-guest $((16 << 20)) $nic >"${TMPDIR:-/tmp}/g2g-$$.out" 2>&1
	rc=$?
	sed -n -e "s/^ok /PASS $nic-/p" -e "s/^FAIL /FAIL $nic-/p" -e 's/^info /info /p' "${TMPDIR:-/tmp}/g2g-$$.out"
	[ $rc = 0 ] || { echo "FAIL $nic-guest-to-guest-16mib: exit status $rc"; cat "${TMPDIR:-/tmp}/g2g-$$.out"; }
	rm -f "${TMPDIR:-/tmp}/g2g-$$.out"
done
