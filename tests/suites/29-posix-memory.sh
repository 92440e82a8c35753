#!/usr/bin/env bash
# Memory as on Linux (user/tests/mempolicy.c, docs/LIBOS.md "Memory
# budgets"): in a 256 MiB VM a chain of 8 nested forks each touches a
# quarter of the machine's memory in turn, a process that frees 100 MiB
# lets its sibling allocate it, RLIMIT_AS is still enforced, and a process
# that touches more than there is ends alone and gives everything back.
set -u
B=${BUILD:-build}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
t0=$(date +%s)
EXO_RUN_MEM=256M EXO_RUN_TIMEOUT=600 tools/exo-run "$B/user/mempolicy" >"$out" 2>&1
rc=$?
echo "info mempolicy took $(( $(date +%s) - t0 )) s"
sed -n 's/^ok /PASS mempolicy-/p; s/^FAIL /FAIL mempolicy-/p' "$out"
grep -q '^all checks passed$' "$out" && [ $rc -eq 0 ] && exit 0
echo "FAIL mempolicy: exit status $rc"; head -n 40 "$out"
exit 1
