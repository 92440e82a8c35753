/*
 * Replicated key/value store with last-writer-wins version stamps,
 * writer-signed entries, tombstones and per-key floors.
 * See docs/PROTOCOL.md, "Replicated state".
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/kvstore.h"

static const char entry_label[20] = "exoswarm kv entry v1";

static uint64_t compute_digest(const struct kvstore *kv);

/* Empty store; the digest of the empty store is kept like any other. */
void kv_init(struct kvstore *kv)
{
	memset(kv, 0, sizeof *kv);
	kv->tombstone_ms = KV_TOMBSTONE_MS;
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

	if (key >= KV_KEYS || len > KV_VALUE_MAX || (!value && len))
		return -EINVAL;
	e = &kv->e[key];
	kv->clock = now_ms > kv->clock ? now_ms : kv->clock + 1;
	memset(e, 0, sizeof *e);
	e->stamp = kv->clock;
	e->writer = writer;
	e->len = (uint8_t)len;
	e->tombstone = !value;
	if (len)
		memcpy(e->value, value, len);
	kv->digest = compute_digest(kv);
	return 0;
}

/* The wire form of the len byte: bit 7 marks a tombstone. */
static uint8_t len_byte(const struct kv_entry *e)
{
	return (uint8_t)(e->len | (e->tombstone ? KV_LEN_TOMBSTONE : 0));
}

/* See kvstore.h: label, key, stamp, writer, len byte, value. */
size_t kv_signed_bytes(uint8_t out[KV_SIGNED_MAX], uint16_t key, const struct kv_entry *e)
{
	memcpy(out, entry_label, sizeof entry_label);
	put_u16(out + 20, key);
	put_u64(out + 22, e->stamp);
	put_u32(out + 30, e->writer);
	out[34] = len_byte(e);
	memcpy(out + 35, e->value, e->len);
	return 35u + e->len;
}

/* See kvstore.h. */
bool kv_would_take(const struct kvstore *kv, uint16_t key, const struct kv_entry *in,
		   uint64_t now_ms)
{
	return key < KV_KEYS && in->stamp != 0 && in->len <= KV_VALUE_MAX &&
	       in->stamp <= now_ms + KV_FUTURE_MS && in->stamp > kv->floor[key] &&
	       newer(in, &kv->e[key]);
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
	if (!kv_would_take(kv, key, in, now_ms))
		return 0;
	kv->e[key] = *in;
	memset(kv->e[key].value + in->len, 0, KV_VALUE_MAX - in->len);
	kv->digest = compute_digest(kv);
	return 1;
}

/*
 * Raise a key's floor (never past KV_FUTURE_MS ahead of now) and drop an
 * entry at or below it; the clock follows, so the next local write still
 * wins.  Returns 1 when a live entry (not a tombstone) went.
 */
static int raise_floor(struct kvstore *kv, uint16_t key, uint64_t floor, uint64_t now_ms)
{
	int live;

	if (key >= KV_KEYS || floor <= kv->floor[key] || floor > now_ms + KV_FUTURE_MS)
		return 0;
	kv->floor[key] = floor;
	if (floor > kv->clock)
		kv->clock = floor;
	if (!kv->e[key].stamp || kv->e[key].stamp > floor)
		return 0;
	live = !kv->e[key].tombstone;
	memset(&kv->e[key], 0, sizeof kv->e[key]);
	kv->digest = compute_digest(kv);
	return live;
}

/* See kvstore.h: a tombstone past its life leaves only its stamp behind. */
int kv_expire(struct kvstore *kv, uint64_t now_ms)
{
	int gone = 0;

	for (uint16_t k = 0; k < KV_KEYS; k++) {
		const struct kv_entry *e = &kv->e[k];
		if (e->stamp && e->tombstone && e->stamp + kv->tombstone_ms <= now_ms) {
			raise_floor(kv, k, e->stamp, now_ms);
			gone++;
		}
	}
	return gone;
}

/* See kvstore.h. */
void kv_drop(struct kvstore *kv, uint16_t key)
{
	if (key >= KV_KEYS || !kv->e[key].stamp)
		return;
	memset(&kv->e[key], 0, sizeof kv->e[key]);
	kv->digest = compute_digest(kv);
}

/*
 * Hash every live entry in key order into 64 bits.  Tombstones are left
 * out: a store that holds one and a store whose copy already expired (or
 * that never held the entry) agree, so expiry, which happens on every node
 * within a second or two of the others, starts no syncs.
 */
static uint64_t compute_digest(const struct kvstore *kv)
{
	uint64_t h = 0x6a09e667f3bcc908ULL;

	for (int k = 0; k < KV_KEYS; k++) {
		const struct kv_entry *e = &kv->e[k];
		uint64_t v = 0;
		if (!e->stamp || e->tombstone)
			continue;
		for (int i = 0; i < e->len; i++)
			v = mix64(v ^ e->value[i] ^ ((uint64_t)i << 8));
		h = mix64(h ^ ((uint64_t)k << 48) ^ e->len);
		h = mix64(h ^ e->stamp);
		h = mix64(h ^ e->writer ^ (v << 1));
	}
	return h;
}

/* Serialise one entry with its signature; returns its size. */
static size_t entry_put(uint8_t *p, uint16_t key, const struct kv_entry *e)
{
	put_u16(p, key);
	put_u64(p + 2, e->stamp);
	put_u32(p + 10, e->writer);
	p[14] = len_byte(e);
	memcpy(p + KV_ENTRY_HEADER, e->value, e->len);
	memcpy(p + KV_ENTRY_HEADER + e->len, e->sig, KV_ENTRY_SIG);
	return KV_ENTRY_HEADER + e->len + KV_ENTRY_SIG;
}

/* True when the writer of e needs its certificate sent: not the author,
 * and not already among the first k entries' writers. */
static bool needs_cert(const struct kv_entry *const *sent, size_t k, const struct kv_entry *e,
		       uint32_t author)
{
	if (e->writer == author)
		return false;
	for (size_t i = 0; i < k; i++)
		if (sent[i]->writer == e->writer)
			return false;
	return true;
}

/*
 * Lay out a STATE payload: header, the entries of keys, the certificates
 * of their writers but author, then floors (nonzero ones, if with_floors).
 * Returns the length, or 0 when not even the fixed parts fit.
 */
static size_t state_put(const struct kvstore *kv, const uint16_t *keys, size_t nkeys,
			uint32_t author, bool with_floors, uint8_t flags, uint8_t *buf)
{
	const struct kv_entry *sent[KV_KEYS];
	uint8_t *p = buf + KV_STATE_HEADER, *ncert, *nfloor;
	size_t certs = 0;

	buf[0] = flags;
	put_u64(buf + 1, kv_digest(kv));
	buf[9] = (uint8_t)nkeys;
	for (size_t i = 0; i < nkeys; i++)
		p += entry_put(p, keys[i], &kv->e[keys[i]]);
	ncert = p++;
	for (size_t i = 0; i < nkeys; i++) {
		const struct kv_entry *e = &kv->e[keys[i]];
		if (needs_cert(sent, certs, e, author)) {
			memcpy(p, e->cert, CERT_BYTES);
			p += CERT_BYTES;
			sent[certs++] = e;
		}
	}
	*ncert = (uint8_t)certs;
	nfloor = p++;
	*nfloor = 0;
	for (uint16_t k = 0; with_floors && k < KV_KEYS; k++) {
		if (!kv->floor[k])
			continue;
		put_u16(p, k);
		put_u64(p + 2, kv->floor[k]);
		p += KV_FLOOR_BYTES;
		(*nfloor)++;
	}
	return (size_t)(p - buf);
}

/* Bytes state_put needs for these keys (certificates included). */
static size_t state_size(const struct kvstore *kv, const uint16_t *keys, size_t nkeys,
			 uint32_t author, bool with_floors)
{
	const struct kv_entry *sent[KV_KEYS];
	size_t n = KV_STATE_HEADER + 2, certs = 0;

	for (size_t i = 0; i < nkeys; i++) {
		const struct kv_entry *e = &kv->e[keys[i]];
		n += KV_ENTRY_HEADER + e->len + KV_ENTRY_SIG;
		if (needs_cert(sent, certs, e, author)) {
			n += CERT_BYTES;
			sent[certs++] = e;
		}
	}
	for (uint16_t k = 0; with_floors && k < KV_KEYS; k++)
		n += kv->floor[k] ? KV_FLOOR_BYTES : 0;
	return n;
}

/* See kvstore.h: entries from *from on while they fit, as a sync part. */
int kv_encode_sync(const struct kvstore *kv, uint16_t *from, uint32_t author, uint8_t *buf,
		   size_t cap)
{
	uint16_t keys[KV_KEYS] = { 0 }, k;
	size_t n = 0;
	bool floors = *from == 0;

	if (state_size(kv, keys, 0, author, floors) > cap)
		return -EMSGSIZE;
	for (k = *from; k < KV_KEYS; k++) {
		if (!kv->e[k].stamp)
			continue;
		keys[n] = k;
		if (state_size(kv, keys, n + 1, author, floors) > cap)
			break;
		n++;
	}
	if (k < KV_KEYS && !n)
		return -EMSGSIZE;
	*from = k;
	return (int)state_put(kv, keys, n, author, floors, KV_FLAG_SYNC, buf);
}

/* Serialise one key or the whole store as a STATE payload. */
int kv_encode(const struct kvstore *kv, int key, uint32_t author, uint8_t *buf, size_t cap)
{
	uint16_t from = 0, k = (uint16_t)key;
	size_t n;
	int len;

	if (key < 0) {
		len = kv_encode_sync(kv, &from, author, buf, cap);
		return len >= 0 && from < KV_KEYS ? -EMSGSIZE : len;
	}
	n = key < KV_KEYS && kv->e[key].stamp ? 1 : 0;
	if (key >= KV_KEYS || state_size(kv, &k, n, author, false) > cap)
		return -EMSGSIZE;
	return (int)state_put(kv, &k, n, author, false, 0, buf);
}

/* Parse one entry at p (avail bytes); returns its size or 0 if malformed. */
static size_t entry_get(const uint8_t *p, size_t avail, uint16_t *key, struct kv_entry *e)
{
	if (avail < KV_ENTRY_HEADER)
		return 0;
	memset(e, 0, sizeof *e);
	*key = get_u16(p);
	e->stamp = get_u64(p + 2);
	e->writer = get_u32(p + 10);
	e->len = p[14] & (uint8_t)~KV_LEN_TOMBSTONE;
	e->tombstone = (p[14] & KV_LEN_TOMBSTONE) != 0;
	if (*key >= KV_KEYS || e->stamp == 0 || e->len > KV_VALUE_MAX ||
	    (e->tombstone && e->len) ||
	    avail < KV_ENTRY_HEADER + (size_t)e->len + KV_ENTRY_SIG)
		return 0;
	memcpy(e->value, p + KV_ENTRY_HEADER, e->len);
	memcpy(e->sig, p + KV_ENTRY_HEADER + e->len, KV_ENTRY_SIG);
	return KV_ENTRY_HEADER + e->len + KV_ENTRY_SIG;
}

/* Where a STATE payload's parts start, found while validating it. */
struct state_layout {
	size_t entries, certs, floors;
	uint8_t count, ncert, nfloor;
};

/* Validate the whole payload; 0 or -EPROTO. */
static int state_parse(const uint8_t *buf, size_t len, struct state_layout *l)
{
	size_t off = KV_STATE_HEADER;

	if (len < KV_STATE_HEADER + 2 || (buf[0] & ~KV_FLAG_SYNC))
		return -EPROTO;
	l->entries = off;
	l->count = buf[9];
	for (uint8_t i = 0; i < l->count; i++) {
		uint16_t key;
		struct kv_entry e;
		size_t n = entry_get(buf + off, len - off, &key, &e);
		if (!n)
			return -EPROTO;
		off += n;
	}
	if (off + 1 > len)
		return -EPROTO;
	l->ncert = buf[off++];
	l->certs = off;
	off += (size_t)l->ncert * CERT_BYTES;
	if (off + 1 > len)
		return -EPROTO;
	l->nfloor = buf[off++];
	l->floors = off;
	off += (size_t)l->nfloor * KV_FLOOR_BYTES;
	for (uint8_t i = 0; off == len && i < l->nfloor; i++)
		if (get_u16(buf + l->floors + KV_FLOOR_BYTES * i) >= KV_KEYS)
			return -EPROTO;
	return off == len ? 0 : -EPROTO;
}

/* The certificate carried for writer, or NULL. */
static const uint8_t *carried_cert(const uint8_t *buf, const struct state_layout *l,
				   uint32_t writer)
{
	for (uint8_t i = 0; i < l->ncert; i++) {
		const uint8_t *c = buf + l->certs + (size_t)i * CERT_BYTES;
		if (get_u32(c + 4) == writer)
			return c;
	}
	return NULL;
}

/* Validate the whole payload first, then merge, so bad input changes nothing. */
int kv_decode_merge(struct kvstore *kv, const uint8_t *buf, size_t len, uint8_t *flags,
		    uint64_t *digest, uint64_t now_ms, kv_check_fn check, void *ctx,
		    int *refused)
{
	struct state_layout l;
	size_t off;
	int changed = 0;

	if (state_parse(buf, len, &l))
		return -EPROTO;
	*flags = buf[0];
	*digest = get_u64(buf + 1);
	if (refused)
		*refused = 0;
	for (uint8_t i = 0; i < l.nfloor; i++) {
		const uint8_t *f = buf + l.floors + (size_t)i * KV_FLOOR_BYTES;
		changed += raise_floor(kv, get_u16(f), get_u64(f + 2), now_ms);
	}
	off = l.entries;
	for (uint8_t i = 0; i < l.count; i++) {
		uint16_t key;
		struct kv_entry e;
		off += entry_get(buf + off, len - off, &key, &e);
		if (!kv_would_take(kv, key, &e, now_ms))
			continue;   /* nothing to gain: no signature check */
		if (check && check(ctx, key, &e, carried_cert(buf, &l, e.writer))) {
			if (refused)
				(*refused)++;
			continue;
		}
		changed += kv_merge(kv, key, &e, now_ms);
	}
	return changed;
}
