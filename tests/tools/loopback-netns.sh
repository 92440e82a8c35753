# Sourced by a suite: re-run the suite inside a new network namespace
# (unshare -n) whose only interface is loopback, with multicast on and a
# route for 224.0.0.0/4, so nothing the suite starts can reach any other
# address.  $1 names the suite's FAIL line; the suite's arguments follow.
# Fails (and says why) where namespaces cannot be made.
loopback_netns() {
	local name=$1
	shift
	if [ "${1:-}" != "--inside" ]; then
		if ! unshare -n true 2>/dev/null; then
			echo "FAIL ${name}_netns: cannot create a network namespace here (unshare -n" \
			     "needs root or unprivileged user namespaces)"
			exit 1
		fi
		exec unshare -n "$0" --inside
	fi
	ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo || {
		echo "FAIL ${name}_netns: cannot set up loopback multicast in the namespace"
		exit 1
	}
}
