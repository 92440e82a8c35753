#!/usr/bin/env bash
# The kernel's capability and memory rules against the reference model
# (tests/host/test_kernel_model.c): the issue-9 exploit, a deep revoke
# chain, map runs, splits of mapping records, copies' references and MEM_ALLOC_COPY's attacks as
# scripts, then random sequences of related calls.  With the
# sanitizers the whole state is compared after every step; the optimized
# build runs a million steps more, comparing every 16; and under
# ThreadSanitizer, four host threads make the calls as four CPUs at once,
# each under the kernel lock (docs/ARCHITECTURE.md, "Every CPU").
set -u
B=${BUILD:-build}
rc=0
"$B/tests/kernel_model" 10000 6 1 1 || rc=1
"$B/tests/kernel_model_fast" 250000 4 100 16 | grep -v '^PASS model-\(exploit\|deep\|map-run\|copy-refs\|alloc-copy\|thread-end\|grant-range\|split-at-quota\|revoke-mid-run\|run-across\)' || rc=1
"$B/tests/kernel_model_tsan" 1500 1 1 50 4 || rc=1
exit $rc
