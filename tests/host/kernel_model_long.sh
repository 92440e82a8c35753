#!/bin/sh
# The long run of the kernel model (`make fuzz`): MODEL_STEPS steps on each
# of MODEL_SEEDS seeds, the whole state compared after every step.
set -e
B=${BUILD:-build}
exec "$B/tests/kernel_model_fast" "${MODEL_STEPS:-1000000}" "${MODEL_SEEDS:-8}" 1000 1
