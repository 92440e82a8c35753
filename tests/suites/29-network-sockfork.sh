#!/usr/bin/env bash
# Sockets inherited across fork and kept across execve (docs/NETWORK.md,
# "Sockets across fork and execve"): user/tests/sockfork.c's parent owns the
# stack and is the client over loopback; its children serve the sockets
# they inherited (an inetd-style echo, two children accepting in turn on
# one listener, a server started by execve, poll/select/epoll and
# O_NONBLOCK, a shared UDP socket, a holder killed in accept).  Once
# without a NIC and once on QEMU's restricted user network (the owner's
# stack then also has the NIC to poll).
set -u
B=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
# one boot per network: none, then QEMU's restricted user network
run() {
	EXO_RUN_TIMEOUT=300 tools/exo-run "$@" --file "$B/user/sockfork:/bin/sockfork" "$B/user/sockfork" \
		>"$T/out" 2>"$T/err"
}
for net in none user; do
	if [ $net = user ]; then run --net user; else run; fi
	rc=$?
	out=$T/out err=$T/err
	sed -n -e "s/^ok /PASS sockfork-$net-/p" -e "s/^FAIL /FAIL sockfork-$net-/p" "$out"
	if [ $rc -eq 0 ]; then
		echo "PASS sockfork-$net-exit-0"
	else
		echo "FAIL sockfork-$net-exit-0: exit status $rc (125: the VM hung)"
		tail -n 20 "$err" | sed 's/^/  | /'
	fi
done
