#!/bin/sh
# The long libFuzzer run of the library OS's socket layer (`make fuzz`),
# from the seed that tests/suites/28-network.sh writes too.
set -e
B=${BUILD:-build}
mkdir -p "$B/fuzz/corpus-socket"
tests/fuzz/socket_seed.sh >"$B/fuzz/corpus-socket/seed-loopback"
exec "$B/fuzz/fuzz_socket" -max_total_time=${FUZZ_SECONDS:-600} "$B/fuzz/corpus-socket"
