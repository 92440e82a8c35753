#!/bin/sh
# The long libFuzzer run of the boot-information parser (`make fuzz`).
set -e
B=${BUILD:-build}
mkdir -p "$B/fuzz/corpus-bootinfo"
exec "$B/fuzz/fuzz_bootinfo" -max_total_time=${FUZZ_SECONDS:-600} "$B/fuzz/corpus-bootinfo" tests/data tests/fuzz/regressions
