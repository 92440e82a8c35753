# Sourced by the network suites (tests/suites/2[89]-network*.sh): runs the
# suite again inside a network namespace of its own (loopback only, so no
# test traffic can leave the machine), brings its loopback up, and gives
# a temporary directory $T and the background processes list `pids`,
# both cleaned up when the suite ends.
if [ "${NETSUITE_INSIDE:-}" != 1 ]; then
	export NETSUITE_INSIDE=1
	if [ "$(id -u)" = 0 ]; then exec unshare -n "$0" "$@"; fi
	exec unshare -rn "$0" "$@"
fi
ip link set lo up || { echo "FAIL $(basename "$0" .sh)-namespace: cannot bring up loopback"; exit 1; }
B=${BUILD:-build}
T=$(mktemp -d)
pids=()
netsuite_cleanup() {
	for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap netsuite_cleanup EXIT
