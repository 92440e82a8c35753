#!/usr/bin/env bash
# CryptoFS core: unit, model-based random, power-loss and tampering tests
# (host, ASan+UBSan).  Tool and fuzz tests are in 31-cryptofs-tool.sh.
set -u
rc=0
for t in test_fs_unit test_fs_harden test_fs_model test_fs_powerloss test_fs_tamper; do
	echo "--- $t"
	if [ ! -x "$BUILD/tests/$t" ]; then
		echo "FAIL $t (not built)"
		rc=1
		continue
	fi
	"$BUILD/tests/$t" || rc=1
done
exit $rc
