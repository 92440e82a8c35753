/*
 * Replicated key/value state: a small store whose entries carry a version
 * stamp (hybrid logical clock in ms, writer id) and merge by
 * last-writer-wins on that pair, which is a total order, so any two nodes
 * that saw the same entries hold the same store whatever the order.  An
 * entry stamped too far in the future is refused, so no entry can pin a
 * key.  Every entry carries its writer's Ed25519 signature and, in the
 * store, the writer's certificate, so a relay can pass it on but never
 * change or invent one; the check itself is the caller's (kv_check_fn).
 * Deleting writes a tombstone; tombstones expire into a per-key floor
 * (one stamp per key), below which nothing is taken again.  Keys are small
 * integers.
 */
#ifndef EXO_NET_KVSTORE_H
#define EXO_NET_KVSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "net/identity.h"

enum {
	KV_KEYS = 32,           /* keys are 0..KV_KEYS-1 */
	KV_VALUE_MAX = 24,
	KV_ENTRY_HEADER = 15,   /* key u16, stamp u64, writer u32, len u8 */
	KV_ENTRY_SIG = CX_SIGNATURE_BYTES,   /* after the value */
	KV_STATE_HEADER = 10,   /* flags u8, digest u64, count u8 */
	KV_FLOOR_BYTES = 10,    /* key u16, floor u64 */
	KV_LEN_TOMBSTONE = 0x80,   /* len byte bit 7: a deletion (len 0) */
	KV_SIGNED_MAX = 20 + KV_ENTRY_HEADER + KV_VALUE_MAX,
};

enum { KV_FLAG_SYNC = 1 };  /* the STATE payload is (part of) a full-store sync */

#define KV_FUTURE_MS 30000ULL        /* stamps accepted at most this far ahead of now */
#define KV_TOMBSTONE_MS 300000ULL    /* default life of a tombstone, by its stamp */

struct kv_entry {
	uint64_t stamp;         /* hybrid logical clock, ms; 0: key never written */
	uint32_t writer;
	uint8_t len;
	bool tombstone;         /* a deletion: len 0 */
	uint8_t value[KV_VALUE_MAX];
	uint8_t sig[KV_ENTRY_SIG];   /* writer's, over kv_signed_bytes() */
	uint8_t cert[CERT_BYTES];    /* writer's certificate (kept, sent in syncs) */
};

struct kvstore {
	struct kv_entry e[KV_KEYS];
	uint64_t floor[KV_KEYS];   /* entries stamped at or below are refused */
	uint64_t clock;         /* newest stamp seen or written */
	uint64_t digest;        /* kv_digest(), kept current on every change */
	uint64_t tombstone_ms;  /* tombstone life (KV_TOMBSTONE_MS unless set) */
};

/*
 * Check one entry that would change the store: cert is the writer's
 * certificate carried beside it in the STATE payload, or NULL.  Return 0
 * to take it (after copying the writer's certificate into e->cert), or a
 * negative errno to refuse it.
 */
typedef int (*kv_check_fn)(void *ctx, uint16_t key, struct kv_entry *e, const uint8_t *cert);

void kv_init(struct kvstore *kv);

/*
 * Write locally (value, or a tombstone when value is NULL): stamps the
 * entry max(now, clock + 1).  The caller signs it (kv_signed_bytes) and
 * fills sig and cert.  0 or -EINVAL.
 */
int kv_set(struct kvstore *kv, uint16_t key, const void *value, size_t len, uint32_t writer,
	   uint64_t now_ms);

/* The bytes a writer signs for entry e of key: returns their length. */
size_t kv_signed_bytes(uint8_t out[KV_SIGNED_MAX], uint16_t key, const struct kv_entry *e);

/*
 * True when in would replace the entry of key (newer, above the floor,
 * not too far ahead of now_ms): the only entries worth a signature check.
 */
bool kv_would_take(const struct kvstore *kv, uint16_t key, const struct kv_entry *in,
		   uint64_t now_ms);

/*
 * Merge one entry (already checked); returns 1 when it changed the store,
 * 0 when not (also when it is stamped more than KV_FUTURE_MS after now_ms,
 * or at or below the key's floor).
 */
int kv_merge(struct kvstore *kv, uint16_t key, const struct kv_entry *in, uint64_t now_ms);

/*
 * Drop tombstones older than kv->tombstone_ms, raising their key's floor
 * to their stamp.  Returns how many went.
 */
int kv_expire(struct kvstore *kv, uint64_t now_ms);

/* Drop the entry of key outright (no tombstone, floor unchanged): for
 * entries every node refuses anyway (revoked or expired writer). */
void kv_drop(struct kvstore *kv, uint16_t key);

/* A 64-bit summary of the entries: equal stores have equal digests. */
uint64_t kv_digest(const struct kvstore *kv);

/*
 * Encode a STATE payload: either the single key (key >= 0) or the whole
 * store (key < 0, flag KV_FLAG_SYNC).  Returns the length or -EMSGSIZE
 * (also when the whole store does not fit: use kv_encode_sync).  author is
 * the node that will sign the pheromone: entries by any other writer
 * travel with that writer's certificate.
 */
int kv_encode(const struct kvstore *kv, int key, uint32_t author, uint8_t *buf, size_t cap);

/*
 * Encode one part of a full-store sync: the written entries from key *from
 * on, as many as fit, with their writers' certificates (except author's),
 * and in the first part (*from == 0) every nonzero floor; *from becomes
 * the next key to send (KV_KEYS when done).  Every part carries the digest
 * of the whole store.
 */
int kv_encode_sync(const struct kvstore *kv, uint16_t *from, uint32_t author, uint8_t *buf,
		   size_t cap);

/*
 * Decode a STATE payload and merge: floors first, then each entry that
 * would change the store and that check (NULL: none) accepts.  Returns
 * the number of entries changed, or -EPROTO for a malformed payload (then
 * nothing is merged).  *flags and *digest receive the header fields;
 * *refused (may be NULL) counts entries check refused.
 */
int kv_decode_merge(struct kvstore *kv, const uint8_t *buf, size_t len, uint8_t *flags,
		    uint64_t *digest, uint64_t now_ms, kv_check_fn check, void *ctx,
		    int *refused);

#endif
