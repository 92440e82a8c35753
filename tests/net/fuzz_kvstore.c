/* libFuzzer target: STATE payload parsing and merging. */
#include <stdint.h>

#include "net/kvstore.h"

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvstore kv;
	uint8_t flags, out[2048];
	uint64_t digest;

	if (kv_decode_merge(&kv, data, size, &flags, &digest, 1000000) > 0)
		kv_encode(&kv, -1, out, sizeof out);
	return 0;
}
