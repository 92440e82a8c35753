#!/bin/sh
# The long libFuzzer run of lwIP's Ethernet input in the library OS's
# configuration (`make fuzz`).
set -e
B=${BUILD:-build}
mkdir -p "$B/fuzz/corpus-netif"
exec "$B/fuzz/fuzz_netif" -max_total_time=${FUZZ_SECONDS:-600} "$B/fuzz/corpus-netif"
