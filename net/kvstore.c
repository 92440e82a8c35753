/*
 * Replicated key/value store with last-writer-wins version stamps.
 * See docs/PROTOCOL.md, "Replicated state".
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/kvstore.h"

static uint64_t compute_digest(const struct kvstore *kv);

/* Empty store; the digest of the empty store is kept like any other. */
void kv_init(struct kvstore *kv)
{
	memset(kv, 0, sizeof *kv);
	kv->digest = compute_digest(kv);
}

/* The cached digest (recomputed on every change). */
uint64_t kv_digest(const struct kvstore *kv)
{
	return kv->digest;
}

/* True when stamp a is newer than stamp b. */
static bool newer(const struct kv_entry *a, const struct kv_entry *b)
{
	if (a->stamp != b->stamp)
		return a->stamp > b->stamp;
	return a->writer > b->writer;
}

/*
 * Local write: the hybrid logical clock gives max(now, newest stamp seen
 * + 1), so a write always beats every entry this node has seen, and no
 * accepted entry is more than KV_FUTURE_MS ahead of anyone's clock.
 */
int kv_set(struct kvstore *kv, uint16_t key, const void *value, size_t len, uint32_t writer,
	   uint64_t now_ms)
{
	struct kv_entry *e;

	if (key >= KV_KEYS || len > KV_VALUE_MAX)
		return -EINVAL;
	e = &kv->e[key];
	kv->clock = now_ms > kv->clock ? now_ms : kv->clock + 1;
	e->stamp = kv->clock;
	e->writer = writer;
	e->len = (uint8_t)len;
	memset(e->value, 0, sizeof e->value);
	memcpy(e->value, value, len);
	kv->digest = compute_digest(kv);
	return 0;
}

/*
 * Last-writer-wins merge of one entry; also advances the clock.  An entry
 * stamped more than KV_FUTURE_MS ahead of now is refused: one bad entry
 * could otherwise pin its key (and the clock) for ever.
 */
int kv_merge(struct kvstore *kv, uint16_t key, const struct kv_entry *in, uint64_t now_ms)
{
	if (key >= KV_KEYS || in->stamp == 0 || in->len > KV_VALUE_MAX ||
	    in->stamp > now_ms + KV_FUTURE_MS)
		return 0;
	if (in->stamp > kv->clock)
		kv->clock = in->stamp;
	if (!newer(in, &kv->e[key]))
		return 0;
	kv->e[key] = *in;
	memset(kv->e[key].value + in->len, 0, KV_VALUE_MAX - in->len);
	kv->digest = compute_digest(kv);
	return 1;
}

/* Hash every written entry in key order into 64 bits. */
static uint64_t compute_digest(const struct kvstore *kv)
{
	uint64_t h = 0x6a09e667f3bcc908ULL;

	for (int k = 0; k < KV_KEYS; k++) {
		const struct kv_entry *e = &kv->e[k];
		uint64_t v = 0;
		if (!e->stamp)
			continue;
		for (int i = 0; i < e->len; i++)
			v = mix64(v ^ e->value[i] ^ ((uint64_t)i << 8));
		h = mix64(h ^ ((uint64_t)k << 48) ^ e->len);
		h = mix64(h ^ e->stamp);
		h = mix64(h ^ e->writer ^ (v << 1));
	}
	return h;
}

/* Serialise one entry; returns its size. */
static size_t entry_put(uint8_t *p, uint16_t key, const struct kv_entry *e)
{
	put_u16(p, key);
	put_u64(p + 2, e->stamp);
	put_u32(p + 10, e->writer);
	p[14] = e->len;
	memcpy(p + KV_ENTRY_HEADER, e->value, e->len);
	return KV_ENTRY_HEADER + e->len;
}

/* See kvstore.h: entries from *from on while they fit, as a sync part. */
int kv_encode_sync(const struct kvstore *kv, uint16_t *from, uint8_t *buf, size_t cap)
{
	size_t n = KV_STATE_HEADER;
	uint8_t count = 0;
	uint16_t k;

	if (cap < KV_STATE_HEADER)
		return -EMSGSIZE;
	for (k = *from; k < KV_KEYS; k++) {
		const struct kv_entry *e = &kv->e[k];
		if (!e->stamp)
			continue;
		if (n + KV_ENTRY_HEADER + e->len > cap)
			break;
		n += entry_put(buf + n, k, e);
		count++;
	}
	if (k < KV_KEYS && !count)
		return -EMSGSIZE;
	*from = k;
	buf[0] = KV_FLAG_SYNC;
	put_u64(buf + 1, kv_digest(kv));
	buf[9] = count;
	return (int)n;
}

/* Serialise one key or the whole store as a STATE payload. */
int kv_encode(const struct kvstore *kv, int key, uint8_t *buf, size_t cap)
{
	uint16_t from = 0;
	int n;

	if (key < 0) {
		n = kv_encode_sync(kv, &from, buf, cap);
		return n >= 0 && from < KV_KEYS ? -EMSGSIZE : n;
	}
	if (key >= KV_KEYS || cap < (size_t)KV_STATE_HEADER + KV_ENTRY_HEADER + kv->e[key].len)
		return -EMSGSIZE;
	n = KV_STATE_HEADER;
	if (kv->e[key].stamp)
		n += (int)entry_put(buf + n, (uint16_t)key, &kv->e[key]);
	buf[0] = 0;
	put_u64(buf + 1, kv_digest(kv));
	buf[9] = kv->e[key].stamp ? 1 : 0;
	return n;
}

/* Parse one entry at p (avail bytes); returns its size or 0 if malformed. */
static size_t entry_get(const uint8_t *p, size_t avail, uint16_t *key, struct kv_entry *e)
{
	if (avail < KV_ENTRY_HEADER)
		return 0;
	*key = get_u16(p);
	e->stamp = get_u64(p + 2);
	e->writer = get_u32(p + 10);
	e->len = p[14];
	if (*key >= KV_KEYS || e->stamp == 0 || e->len > KV_VALUE_MAX ||
	    avail < KV_ENTRY_HEADER + (size_t)e->len)
		return 0;
	memset(e->value, 0, sizeof e->value);
	memcpy(e->value, p + KV_ENTRY_HEADER, e->len);
	return KV_ENTRY_HEADER + e->len;
}

/* Validate the whole payload first, then merge, so bad input changes nothing. */
int kv_decode_merge(struct kvstore *kv, const uint8_t *buf, size_t len,
		    uint8_t *flags, uint64_t *digest, uint64_t now_ms)
{
	size_t off = KV_STATE_HEADER;
	uint8_t count;
	int changed = 0;

	if (len < KV_STATE_HEADER || (buf[0] & ~KV_FLAG_SYNC))
		return -EPROTO;
	count = buf[9];
	for (uint8_t i = 0; i < count; i++) {      /* validate everything first */
		uint16_t key;
		struct kv_entry e;
		size_t n = entry_get(buf + off, len - off, &key, &e);
		if (!n)
			return -EPROTO;
		off += n;
	}
	if (off != len)
		return -EPROTO;
	*flags = buf[0];
	*digest = get_u64(buf + 1);
	off = KV_STATE_HEADER;
	for (uint8_t i = 0; i < count; i++) {
		uint16_t key;
		struct kv_entry e;
		off += entry_get(buf + off, len - off, &key, &e);
		changed += kv_merge(kv, key, &e, now_ms);
	}
	return changed;
}
