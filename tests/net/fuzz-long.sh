#!/usr/bin/env bash
# make fuzz, swarm part: long libFuzzer runs of every net/ parser, each with
# its own corpus under $BUILD/fuzz/.  FUZZ_SECONDS sets the time per target.
set -eu
B=${BUILD:-build}
secs=${FUZZ_SECONDS:-300}
for t in swarm nert kvstore; do
	mkdir -p "$B/fuzz/corpus-$t"
	"$B/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 "$B/fuzz/corpus-$t"
done
