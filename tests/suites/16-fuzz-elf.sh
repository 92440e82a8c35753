#!/usr/bin/env bash
# A short libFuzzer run over execve's ELF parser (libos/elf.c), seeded with
# the start of a program built by tools/exo-cc (the long run is `make fuzz`).
set -u
B=${BUILD:-build}
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
[ -f "$B/user/hello" ] && head -c 16384 "$B/user/hello" >"$corpus/hello-head"
if "$B/fuzz/fuzz_elf" -max_total_time=10 -seed=1 -max_len=16384 "$corpus" >"$B/test-logs/fuzz_elf.out" 2>&1; then
	echo "PASS fuzz-elf ($(grep -o 'Done [0-9]* runs' "$B/test-logs/fuzz_elf.out"))"
else
	echo "FAIL fuzz-elf: a crash or sanitizer report; see $B/test-logs/fuzz_elf.out"
	tail -n 40 "$B/test-logs/fuzz_elf.out"
fi
