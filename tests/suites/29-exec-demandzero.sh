#!/usr/bin/env bash
# An exec'd image's bss and stack are demand-zero (user/tests/demandzero.c,
# docs/LIBOS.md "execve"): untouched bss reads zero, bss in the file's
# last page, a 100 KiB local array, fork after execve, /proc/self/maps,
# MAP_FIXED over bss; in the guest and, built with musl-gcc, on Linux, the
# outputs the same line for line.  Then an image whose bss is larger than
# RLIMIT_AS allows, and than the 512 MiB guest's budget, is refused with
# ENOMEM (guest).
set -u
B=${BUILD:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

strip -o "$tmp/demandzero" "$B/user/demandzero"
strip -o "$tmp/huge" "$B/user/demandzero_huge"

. tests/compare-linux.sh
COMPARE_EXO_RUN_OPTS="--file $tmp/demandzero:/bin/demandzero" EXO_RUN_TIMEOUT=300 \
	compare_with_linux demandzero "run $PWD/$B/host-musl/demandzero" "run /bin/demandzero"

EXO_RUN_MEM=512M EXO_RUN_TIMEOUT=300 tools/exo-run --file "$tmp/huge:/bin/huge" "$B/user/demandzero" huge /bin/huge \
	>"$tmp/huge.out" 2>"$tmp/huge.err"
rc=$?
sed -n -e "s/^ok /PASS demandzero-/p" -e "s/^FAIL /FAIL demandzero-/p" "$tmp/huge.out"
if [ $rc -ne 0 ] || [ "$(grep -c '^ok huge-bss-over' "$tmp/huge.out")" != 2 ]; then
	echo "FAIL demandzero-huge-status: $rc"
	tail -n 10 "$tmp/huge.err"
fi
