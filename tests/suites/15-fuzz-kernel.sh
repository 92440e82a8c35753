#!/usr/bin/env bash
# A short libFuzzer run over the boot-information parser, seeded with the
# captured blocks (the long run is `make fuzz`).
set -u
B=${BUILD:-build}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
if "$B/fuzz/fuzz_bootinfo" -max_total_time=10 -seed=1 "$corpus" tests/data tests/fuzz/regressions >"$B/test-logs/fuzz_bootinfo.out" 2>&1; then
	echo "PASS fuzz-bootinfo ($(grep -o 'Done [0-9]* runs' "$B/test-logs/fuzz_bootinfo.out"))"
else
	echo "FAIL fuzz-bootinfo: a crash or sanitizer report; see $B/test-logs/fuzz_bootinfo.out"
	tail -n 40 "$B/test-logs/fuzz_bootinfo.out"
fi
