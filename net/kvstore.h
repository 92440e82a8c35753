/*
 * Replicated key/value state: a small store whose entries carry a version
 * stamp (hybrid logical clock in ms, writer id) and merge by
 * last-writer-wins on that pair, which is a total order, so any two nodes
 * that saw the same entries hold the same store whatever the order.  An
 * entry stamped too far in the future is refused, so no entry can pin a
 * key.  Keys are small integers.
 */
#ifndef EXO_NET_KVSTORE_H
#define EXO_NET_KVSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
	KV_KEYS = 32,           /* keys are 0..KV_KEYS-1 */
	KV_VALUE_MAX = 24,
	KV_ENTRY_HEADER = 15,   /* key u16, stamp u64, writer u32, len u8 */
	KV_STATE_HEADER = 10,   /* flags u8, digest u64, count u8 */
};

enum { KV_FLAG_SYNC = 1 };  /* the STATE payload is (part of) a full-store sync */

#define KV_FUTURE_MS 30000ULL   /* stamps accepted at most this far ahead of now */

struct kv_entry {
	uint64_t stamp;         /* hybrid logical clock, ms; 0: key never written */
	uint32_t writer;
	uint8_t len;
	uint8_t value[KV_VALUE_MAX];
};

struct kvstore {
	struct kv_entry e[KV_KEYS];
	uint64_t clock;         /* newest stamp seen or written */
	uint64_t digest;        /* kv_digest(), kept current on every change */
};

void kv_init(struct kvstore *kv);

/* Write locally: stamps the entry max(now, clock + 1). 0 or -EINVAL. */
int kv_set(struct kvstore *kv, uint16_t key, const void *value, size_t len, uint32_t writer,
	   uint64_t now_ms);

/*
 * Merge one entry; returns 1 when it changed the store, 0 when not (also
 * when it is stamped more than KV_FUTURE_MS after now_ms).
 */
int kv_merge(struct kvstore *kv, uint16_t key, const struct kv_entry *in, uint64_t now_ms);

/* A 64-bit summary: equal stores have equal digests. */
uint64_t kv_digest(const struct kvstore *kv);

/*
 * Encode a STATE payload: either the single key (key >= 0) or the whole
 * store (key < 0, flag KV_FLAG_SYNC).  Returns the length or -EMSGSIZE
 * (also when the whole store does not fit: use kv_encode_sync).
 */
int kv_encode(const struct kvstore *kv, int key, uint8_t *buf, size_t cap);

/*
 * Encode one part of a full-store sync: the written entries from key *from
 * on, as many as fit; *from becomes the next key to send (KV_KEYS when
 * done).  Every part carries the digest of the whole store.
 */
int kv_encode_sync(const struct kvstore *kv, uint16_t *from, uint8_t *buf, size_t cap);

/*
 * Decode a STATE payload and merge its entries.  Returns the number of
 * entries that changed the store, or -EPROTO for a malformed payload (then
 * nothing is merged).  *flags and *digest receive the header fields.
 */
int kv_decode_merge(struct kvstore *kv, const uint8_t *buf, size_t len,
		    uint8_t *flags, uint64_t *digest, uint64_t now_ms);

#endif
