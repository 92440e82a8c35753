#!/bin/sh
# The long run of the Linux system-call fuzzer in the guest
# (user/tests/lxfuzz.c): LXFUZZ_CALLS calls (default 1,000,000) in batches
# of 5,000, each in a fresh process, with a supervisor checking after each
# batch that the damage stayed inside (`make fuzz-lx`).  LXFUZZ_SEED picks
# another sequence; LXFUZZ_VERBOSE=1 logs the supervisor's steps;
# LXFUZZ_FIRST=N starts at the sequence's batch N (to replay one).
set -u
B=${BUILD:-build}
calls=${LXFUZZ_CALLS:-1000000}
start=$(date +%s)
EXO_RUN_TIMEOUT=${LXFUZZ_TIMEOUT:-7200} tools/exo-run ${LXFUZZ_VERBOSE:+-e LXFUZZ_VERBOSE=1} ${LXFUZZ_FIRST:+-e LXFUZZ_FIRST=$LXFUZZ_FIRST} \
	"$B/user/lxfuzz" "$calls" ${LXFUZZ_SEED:-}
rc=$?
echo "lxfuzz_long: exit status $rc after $(( $(date +%s) - start )) s"
exit $rc
