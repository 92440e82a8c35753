#!/usr/bin/env bash
# Sockets inherited across fork and kept across execve (docs/NETWORK.md,
# "Sockets across fork and execve"): user/tests/sockfork.c's parent owns the
# stack and is the client over loopback; its children serve the sockets
# they inherited (an inetd-style echo, two children accepting in turn on
# one listener, a server started by execve, poll/select/epoll and
# O_NONBLOCK, a shared UDP socket, a holder killed in accept, one dying of
# its own fault holding the last descriptor (the owner closes it), a holder
# forging the owner's messages and records, refused with the owner's memory
# untouched, socket() in processes without a stack (served by the owner's:
# a child's listener and connect, an execve'd image's UDP, a child's execve
# keeping the listener it made, the daemon pattern, on the user network a
# child's ping of the gateway), the owner's execve ending a holder's
# accept with ENXIO).  Once
# without a NIC and once on QEMU's restricted user network (the owner's
# stack then also has the NIC to poll).  Then BusyBox httpd, which forks a
# child per connection that answers on the accepted socket while the parent
# closes its copy, serves three fetches by curl through exo-run's -p (in a
# network namespace of the suite's own, loopback only).
set -u
. "$(dirname "$0")/../tools/netsuite.sh"
# one boot per network: none, then QEMU's restricted user network
run() {
	local arg=$1
	shift
	EXO_RUN_TIMEOUT=300 tools/exo-run "$@" --file "$B/user/sockfork:/bin/sockfork" "$B/user/sockfork" $arg \
		>"$T/out" 2>"$T/err"
}
for net in none user; do
	if [ $net = user ]; then run net --net user; else run ""; fi
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

# BusyBox httpd: before sockets crossed fork, its child got ENXIO and curl
# an empty reply
page="sockfork page $RANDOM"
mkdir -p "$T/www" && echo "$page" >"$T/www/index.html"
port=$((20000 + RANDOM % 10000))
EXO_RUN_TIMEOUT=300 tools/exo-run --net user -p $port:80 --file "$T/www/index.html:/www/index.html" \
	"$B/busybox/busybox" httpd -f -p 80 -h /www >"$T/httpd.out" 2>"$T/httpd.err" &
guest=$!
pids+=($guest)
got=0
for i in 1 2 3; do
	body=$(curl -s --max-time 60 --retry 60 --retry-all-errors --retry-delay 1 "http://127.0.0.1:$port/index.html")
	[ "$body" = "$page" ] && got=$((got + 1))
done
kill $guest 2>/dev/null
if [ $got = 3 ]; then
	echo "PASS sockfork-busybox-httpd-3-fetches"
else
	echo "FAIL sockfork-busybox-httpd-3-fetches: $got of 3 pages right"
	tail -n 20 "$T/httpd.err" | sed 's/^/  | /'
fi
