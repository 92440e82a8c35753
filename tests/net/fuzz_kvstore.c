/* libFuzzer target: STATE payload parsing and merging. */
#include <stdint.h>

#include "net/kvstore.h"

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvstore kv = { .tombstone_ms = KV_TOMBSTONE_MS };
	uint8_t flags, out[2048];
	uint64_t digest;

	if (kv_decode_merge(&kv, data, size, &flags, &digest, 1000000, NULL, NULL, NULL) > 0)
		kv_encode(&kv, -1, 7, out, sizeof out);
	kv_expire(&kv, 1000000 + (size ? data[0] : 0) * 10000ULL);
	return 0;
}
