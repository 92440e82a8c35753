#!/bin/sh
# The long libFuzzer run of execve's ELF parser (`make fuzz`).
set -e
B=${BUILD:-build}
mkdir -p "$B/fuzz/corpus-elf"
exec "$B/fuzz/fuzz_elf" -max_total_time=${FUZZ_SECONDS:-600} "$B/fuzz/corpus-elf"
