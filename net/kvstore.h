/*
 * Replicated key/value state: a small store whose entries carry a version
 * stamp (Lamport counter, writer id) and merge by last-writer-wins on that
 * pair, which is a total order, so any two nodes that saw the same entries
 * hold the same store whatever the order.  Keys are small integers.
 */
#ifndef EXO_NET_KVSTORE_H
#define EXO_NET_KVSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
	KV_KEYS = 32,           /* keys are 0..KV_KEYS-1 */
	KV_VALUE_MAX = 24,
	KV_ENTRY_HEADER = 11,   /* key u16, lamport u32, writer u32, len u8 */
	KV_STATE_HEADER = 10,   /* flags u8, digest u64, count u8 */
};

enum { KV_FLAG_SYNC = 1 };  /* the STATE payload is a full-store sync */

struct kv_entry {
	uint32_t lamport;       /* 0: key never written */
	uint32_t writer;
	uint8_t len;
	uint8_t value[KV_VALUE_MAX];
};

struct kvstore {
	struct kv_entry e[KV_KEYS];
	uint32_t lamport;       /* highest counter seen */
	uint64_t digest;        /* kv_digest(), kept current on every change */
};

void kv_init(struct kvstore *kv);

/* Write locally: stamps the entry with a fresh counter. 0 or -EINVAL. */
int kv_set(struct kvstore *kv, uint16_t key, const void *value, size_t len, uint32_t writer);

/* Merge one entry; returns 1 when it changed the store, 0 when not. */
int kv_merge(struct kvstore *kv, uint16_t key, const struct kv_entry *in);

/* A 64-bit summary: equal stores have equal digests. */
uint64_t kv_digest(const struct kvstore *kv);

/*
 * Encode a STATE payload: either the single key (key >= 0) or the whole
 * store (key < 0, flag KV_FLAG_SYNC).  Returns the length or -EMSGSIZE.
 */
int kv_encode(const struct kvstore *kv, int key, uint8_t *buf, size_t cap);

/*
 * Decode a STATE payload and merge its entries.  Returns the number of
 * entries that changed the store, or -EPROTO for a malformed payload (then
 * nothing is merged).  *flags and *digest receive the header fields.
 */
int kv_decode_merge(struct kvstore *kv, const uint8_t *buf, size_t len,
		    uint8_t *flags, uint64_t *digest);

#endif
