#!/usr/bin/env bash
# Long libFuzzer run over mutated CryptoFS images (`make fuzz`); the corpus
# is kept in $BUILD/fuzz/corpus-cryptofs between runs.  FUZZ_SECONDS sets
# the length (default 600).
set -eu
BUILD=${BUILD:-build}
mkdir -p "$BUILD/fuzz/corpus-cryptofs"
exec "$BUILD/fuzz/fuzz_cryptofs" -max_total_time="${FUZZ_SECONDS:-600}" -timeout=10 \
	"$BUILD/fuzz/corpus-cryptofs"
