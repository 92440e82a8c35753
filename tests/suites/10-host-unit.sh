#!/usr/bin/env bash
# Host unit tests of the shared crypto API, the kernel's portable code and
# execve's ELF parser.
set -u
rc=0
for t in "$BUILD"/tests/test_crypto "$BUILD"/tests/test_aegis "$BUILD"/tests/test_elf "$BUILD"/tests/test_kernel_*; do
	[ -x "$t" ] || continue
	echo "--- $t"
	"$t" || rc=1
done
exit $rc
