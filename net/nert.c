/*
 * NERT session: handshake with mac1/mac2 and a cookie reply under load,
 * re-handshakes with fresh ephemeral keys, packet protection, reliability,
 * FEC, congestion and flow control, close.  docs/PROTOCOL.md, "NERT".
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "net/bytes.h"
#include "net/nert.h"

enum {
	K_DATA = 1, K_PARITY = 2, K_ACK = 3, K_DGRAM = 4, K_DGRAM_ACK = 5, K_CLOSE = 6, K_PING = 7,
	K_DGRAM_FRAG = 8, K_REKEY = 9,
	SACK_BITS = 256,
	ACK_BYTES = 1 + 4 + SACK_BITS / 8 + 2 + 4 + 2 + 1,   /* ..., rwnd, echo seg, delay, flags */
	ACK_ECHO = 1 + 4 + SACK_BITS / 8 + 2,
	ACK_F_ECHO = 1,                 /* echo names the DATA segment that triggered the ACK */
	DATA_FIXED = 1 + 4 + 11,
	PARITY_BYTES = 1 + 4 + 1 + NERT_SEG_BODY,
	DGRAM_FIXED = 1 + 4 + 1,
	DFRAG_FIXED = 1 + 4 + 11,       /* kind, id, then a segment body's header */
	HS_RETRY_CAP_MS = 2000,         /* INIT retries 1 s, then every 2 s */
	DELAYED_ACK_MS = 10,
	DUP_THRESH = 3,
	CRITICAL_FEC_K = 4,
	CLOSE_TRIES = 16,
	MIN_SSTHRESH = 8,               /* slow start always reaches this after a cut */
	MIN_QUEUE_CWND = 4,             /* below this window a high SRTT is not a queue */
	NERT_TAIL_SEGS = 8,             /* the last segments, whose holes no later data reveals */
	FLAT_TIMEOUTS = 2,              /* timeouts in a row before a flat-RTT path halves cwnd */
	INITIAL_CWND = 10,
	INIT_PAYLOAD = 16,              /* salt, timestamp, responder sid of the session re-keyed */
	INIT_MAC1 = NERT_INIT_BODY,     /* offsets of mac1 and mac2 in INIT */
	INIT_MAC2 = NERT_INIT_BODY + CX_MAC_BYTES,
	RESP_PAYLOAD = 9,               /* responder sid, salt, flags */
	RESP_F_CONTINUES = 1,           /* the re-handshake continues the session's streams */
	REKEY_ASK_MS = 1000,            /* responder: at most one K_REKEY request per second */
};

static const char proto_name[] = "NERT_IK_25519_ChaChaPoly_BLAKE2b_v3";

/* ------------------------------------------------------------ helpers */

static void mix_hash(uint8_t h[CX_HASH_BYTES], const void *data, size_t len)
{
	cx_hash_state st;

	cx_hash_init(&st, NULL, 0, CX_HASH_BYTES);
	cx_hash_update(&st, h, CX_HASH_BYTES);
	cx_hash_update(&st, data, len);
	cx_hash_final(&st, h, CX_HASH_BYTES);
}

/* ck, k = BLAKE2b-512 keyed by ck over a DH result (HKDF-like chaining). */
static int mix_key(uint8_t ck[CX_KEY_BYTES], uint8_t k[CX_KEY_BYTES], const uint8_t dh[CX_DH_BYTES])
{
	cx_hash_state st;
	uint8_t out[64];

	if (cx_hash_init(&st, ck, CX_KEY_BYTES, sizeof out) || cx_hash_update(&st, dh, CX_DH_BYTES) ||
	    cx_hash_final(&st, out, sizeof out))
		return -EINVAL;
	memcpy(ck, out, CX_KEY_BYTES);
	if (k)
		memcpy(k, out + CX_KEY_BYTES, CX_KEY_BYTES);
	cx_wipe(out, sizeof out);
	return 0;
}

/* Count one X25519 operation: what the cookie defence saves is measured in them. */
static void count_dh(struct nert_session *s)
{
	s->stats.dh_ops++;
	if (s->cfg.endpoint)
		s->cfg.endpoint->dh_ops++;
}

/* Mix DH(sk, pk) into the chain; refuses small-order (all-zero) results. */
static int mix_dh(struct nert_session *s, uint8_t ck[CX_KEY_BYTES], uint8_t k[CX_KEY_BYTES],
		  const uint8_t sk[CX_DH_BYTES], const uint8_t pk[CX_DH_BYTES])
{
	uint8_t shared[CX_DH_BYTES];
	int err;

	count_dh(s);
	err = cx_dh(shared, sk, pk);
	if (!err)
		err = mix_key(ck, k, shared);
	cx_wipe(shared, sizeof shared);
	return err;
}

/* BLAKE2b-128 keyed by key (keylen bytes) over data: mac1, mac2 and cookies. */
static void mac16(uint8_t out[CX_MAC_BYTES], const uint8_t *key, size_t keylen,
		  const uint8_t *data, size_t len)
{
	static const uint8_t none[1];
	cx_hash_state st;

	cx_hash_init(&st, key, keylen, CX_MAC_BYTES);
	cx_hash_update(&st, len ? data : none, len);
	cx_hash_final(&st, out, CX_MAC_BYTES);
}

/* H(label || static public key): the mac1 and cookie keys of a responder. */
static void label_key(uint8_t out[CX_KEY_BYTES], const char label[8], const uint8_t pk[CX_DH_BYTES])
{
	cx_hash_state st;

	cx_hash_init(&st, NULL, 0, CX_KEY_BYTES);
	cx_hash_update(&st, label, 8);
	cx_hash_update(&st, pk, CX_DH_BYTES);
	cx_hash_final(&st, out, CX_KEY_BYTES);
}

static const uint8_t zero_nonce[CX_NONCE_BYTES];

static void dgram_start_next(struct nert_session *s, uint64_t now);

/* Write the 12-byte cleartext header. */
static void header_put(uint8_t *p, uint8_t type, uint16_t epoch, uint32_t sid, uint32_t pn)
{
	p[0] = NERT_VERSION;
	p[1] = type;
	put_u16(p + 2, epoch);
	put_u32(p + 4, sid);
	put_u32(p + 8, pn);
}

/* See nert.h: checks version, type and the fixed handshake sizes. */
int nert_parse_header(const uint8_t *pkt, size_t len, uint8_t *type, uint16_t *epoch,
		      uint32_t *sid, uint32_t *pn)
{
	if (len < NERT_HEADER_BYTES || len > NERT_MAX_PACKET)
		return -EMSGSIZE;
	if (pkt[0] != NERT_VERSION || pkt[1] < NP_INIT || pkt[1] > NP_COOKIE)
		return -EPROTO;
	*type = pkt[1];
	*epoch = get_u16(pkt + 2);
	*sid = get_u32(pkt + 4);
	*pn = get_u32(pkt + 8);
	if (*type == NP_INIT && len != NERT_INIT_BYTES)
		return -EPROTO;
	if (*type == NP_RESP && len != NERT_RESP_BYTES)
		return -EPROTO;
	if (*type == NP_COOKIE && len != NERT_COOKIE_BYTES)
		return -EPROTO;
	if (*type == NP_DATA && len < NERT_HEADER_BYTES + CX_TAG_BYTES + 1)
		return -EPROTO;
	return 0;
}

/* Give up every pending best-effort message, reporting it to cfg.undelivered. */
static void give_up_dgrams(struct nert_session *s, int reason)
{
	for (int i = 0; i < NERT_DGRAMS; i++) {
		struct nert_dgram *d = &s->dgrams[i];
		if (!d->used)
			continue;
		d->used = false;
		s->stats.dgrams_undelivered++;
		if (s->cfg.undelivered)
			s->cfg.undelivered(s->cfg.ctx, d->cls, d->ext ? d->ext : d->data, d->len, reason);
	}
}

/*
 * End the session (reason 0: clean close), wipe its keys, give up pending
 * best-effort messages and tell the owner once.
 */
static void fail(struct nert_session *s, int reason)
{
	if (s->state == NERT_CLOSED || s->state == NERT_FAILED)
		return;
	s->state = reason ? NERT_FAILED : NERT_CLOSED;
	s->rekeying = false;
	cx_wipe(&s->cur, sizeof s->cur);
	cx_wipe(&s->prev, sizeof s->prev);
	cx_wipe(&s->pend, sizeof s->pend);
	cx_wipe(s->e_sk, sizeof s->e_sk);
	cx_wipe(s->ck, sizeof s->ck);
	cx_wipe(s->cookie, sizeof s->cookie);
	give_up_dgrams(s, reason ? reason : -ESHUTDOWN);
	if (s->cfg.closed)
		s->cfg.closed(s->cfg.ctx, reason);
}

/* ---------------------------------------------------------------- init */

/* Transport state of a fresh session (windows, timers, estimator). */
static void session_defaults(struct nert_session *s, uint64_t now)
{
	s->cwnd_milli = INITIAL_CWND * 1000;
	s->ssthresh = NERT_WINDOW;
	s->peer_rwnd = NERT_WINDOW;
	s->rto = 1000;
	s->min_rtt = UINT32_MAX;
	s->last_rx_ms = s->last_tx_ms = now;
}

int nert_init(struct nert_session *s, const struct nert_config *cfg, bool initiator,
	      uint64_t now_ms)
{
	memset(s, 0, sizeof *s);
	if (!cfg->random || !cfg->send || !cfg->deliver || !cfg->rx_buf ||
	    cx_key_is_zero(cfg->static_sk, CX_DH_BYTES) || cx_key_is_zero(cfg->peer_pk, CX_DH_BYTES) ||
	    (!initiator && !cfg->endpoint) || cx_dh_public(s->own_pk, cfg->static_sk))
		return -EINVAL;
	s->cfg = *cfg;
	if (!s->cfg.rekey_packets)
		s->cfg.rekey_packets = NERT_REKEY_PACKETS;
	if (!s->cfg.rekey_ms)
		s->cfg.rekey_ms = NERT_REKEY_MS;
	if (!s->cfg.idle_ms)
		s->cfg.idle_ms = 30000;
	s->initiator = initiator;
	label_key(s->mac1_in, "mac1----", s->own_pk);
	label_key(s->cookie_in, "cookie--", s->own_pk);
	label_key(s->mac1_out, "mac1----", cfg->peer_pk);
	label_key(s->cookie_out, "cookie--", cfg->peer_pk);
	session_defaults(s, now_ms);
	return 0;
}

/* Start the chain: ck = h = H(protocol name), then h = H(h || responder static). */
static void chain_start(uint8_t ck[CX_KEY_BYTES], uint8_t h[CX_HASH_BYTES],
			const uint8_t responder_pk[CX_DH_BYTES])
{
	cx_hash(ck, CX_KEY_BYTES, proto_name, sizeof proto_name - 1);
	memcpy(h, ck, CX_HASH_BYTES);
	mix_hash(h, responder_pk, CX_DH_BYTES);
}

/* Derive both directions' transport keys from the final chaining key. */
static int split_keys(const uint8_t ck[CX_KEY_BYTES], bool initiator, struct nert_keys *k)
{
	uint8_t i2r[CX_KEY_BYTES], r2i[CX_KEY_BYTES];
	int err = 0;

	if (cx_kdf(i2r, ck, "nert i2r", 0) || cx_kdf(r2i, ck, "nert r2i", 0) ||
	    cx_key_is_zero(i2r, CX_KEY_BYTES) || cx_key_is_zero(r2i, CX_KEY_BYTES))
		err = -EINVAL;
	memcpy(k->tx, initiator ? i2r : r2i, CX_KEY_BYTES);
	memcpy(k->rx, initiator ? r2i : i2r, CX_KEY_BYTES);
	cx_wipe(i2r, sizeof i2r);
	cx_wipe(r2i, sizeof r2i);
	return err;
}

/* A session id (odd) that none of the session's key sets uses. */
static uint32_t new_sid(struct nert_session *s)
{
	uint32_t sid;

	s->cfg.random(s->cfg.ctx, &sid, sizeof sid);
	sid |= 1;
	for (int i = 0; i < 4; i++)
		if ((s->cur.valid && sid == s->cur.local_sid) ||
		    (s->prev.valid && sid == s->prev.local_sid) ||
		    (s->pend.active && sid == s->pend.k.local_sid))
			sid += 2;
	return sid;
}

/* Hand a packet to the owner's send callback and count it. */
static void emit(struct nert_session *s, const uint8_t *pkt, size_t len, uint64_t now)
{
	s->stats.packets_sent++;
	s->last_tx_ms = now;
	s->cfg.send(s->cfg.ctx, pkt, len);
}

/*
 * The INIT timestamp: the owner's clock (increasing across reboots) when
 * it has one, else now_ms; always above the previous INIT's of this session.
 */
static uint64_t init_timestamp(struct nert_session *s, uint64_t now)
{
	uint64_t ts = s->cfg.clock ? s->cfg.clock(s->cfg.ctx) : now;

	if (ts <= s->own_ts)
		ts = s->own_ts + 1;
	s->own_ts = ts;
	return ts;
}

/*
 * (Re)send our INIT: the copy number in the header's pn (RESP echoes it,
 * so the handshake's RTT sample is unambiguous after a retry, as QUIC's
 * packet numbers make it), mac1 under the responder's static key, and
 * mac2 under the responder's cookie when we hold one younger than
 * NERT_COOKIE_MS (zeros otherwise).
 */
static void send_init(struct nert_session *s, uint64_t now)
{
	uint8_t *p = s->init_pkt;

	s->init_copy++;
	s->init_copy_ms[s->init_copy % NERT_INIT_COPIES] = now;
	put_u32(p + 8, s->init_copy);
	mac16(p + INIT_MAC1, s->mac1_out, CX_KEY_BYTES, p, NERT_INIT_BODY);
	s->init_has_cookie = s->has_cookie && now - s->cookie_ms < NERT_COOKIE_MS;
	if (s->init_has_cookie)
		mac16(p + INIT_MAC2, s->cookie, CX_MAC_BYTES, p, INIT_MAC2);
	else
		memset(p + INIT_MAC2, 0, CX_MAC_BYTES);
	s->hs_sent_ms = now;
	emit(s, p, NERT_INIT_BYTES, now);
}

/*
 * Initiator: start a handshake (rekey: a re-handshake of the established
 * session) with a fresh ephemeral key and sid; INIT carries the es and ss
 * DHs' AEADs: our static key, then salt, timestamp and the responder sid
 * of the session it re-keys (0 for a new session).
 */
static int handshake_start(struct nert_session *s, bool rekey, uint64_t now)
{
	uint8_t *p = s->init_pkt, k[CX_KEY_BYTES], payload[INIT_PAYLOAD];
	int err;

	chain_start(s->ck, s->h, s->cfg.peer_pk);
	s->cfg.random(s->cfg.ctx, s->e_sk, sizeof s->e_sk);
	count_dh(s);
	if (cx_dh_public(s->e_pk, s->e_sk))
		return -EINVAL;
	s->hs_sid = new_sid(s);
	s->cfg.random(s->cfg.ctx, s->hs_salt, sizeof s->hs_salt);
	header_put(p, NP_INIT, 0, s->hs_sid, 0);
	memcpy(p + 12, s->e_pk, 32);
	mix_hash(s->h, s->e_pk, 32);
	if ((err = mix_dh(s, s->ck, k, s->e_sk, s->cfg.peer_pk)))           /* es */
		goto out;
	cx_aead_seal(p + 44, s->own_pk, 32, s->h, CX_HASH_BYTES, zero_nonce, k);
	mix_hash(s->h, p + 44, 48);
	if ((err = mix_dh(s, s->ck, k, s->cfg.static_sk, s->cfg.peer_pk)))  /* ss */
		goto out;
	memcpy(payload, s->hs_salt, 4);
	put_u64(payload + 4, init_timestamp(s, now));
	put_u32(payload + 12, rekey ? s->cur.peer_sid : 0);
	cx_aead_seal(p + 92, payload, sizeof payload, s->h, CX_HASH_BYTES, zero_nonce, k);
	mix_hash(s->h, p + 92, INIT_PAYLOAD + CX_TAG_BYTES);
	s->rekeying = rekey;
	s->hs_start_ms = now;
	s->hs_tries = 1;
	s->init_copy = 0;
	send_init(s, now);
out:
	cx_wipe(k, sizeof k);
	return err;
}

/* Initiator: send the handshake's first message. */
int nert_connect(struct nert_session *s, uint64_t now_ms)
{
	int err;

	if (!s->initiator || s->state != NERT_IDLE)
		return -EINVAL;
	s->state = NERT_HS_SENT;
	if ((err = handshake_start(s, false, now_ms)))
		s->state = NERT_IDLE;
	return err;
}

/*
 * Two copies of one handshake message: equal but for the header's pn
 * (an INIT's copy number, a RESP's echo of it) and, for INITs, the MACs
 * that cover it (mac1 is checked before this is asked).
 */
static bool same_copy(const uint8_t *a, const uint8_t *b, size_t len)
{
	return !memcmp(a, b, 8) && !memcmp(a + NERT_HEADER_BYTES, b + NERT_HEADER_BYTES,
					  len - NERT_HEADER_BYTES);
}

/*
 * Endpoint replay memory: accept an authenticated INIT's timestamp only
 * when it is newer than every one accepted before from the same static
 * key, whatever happened to the sessions since; then remember it.
 */
static int endpoint_accept_ts(struct nert_endpoint *ep, const uint8_t pk[CX_DH_BYTES],
			      uint64_t ts, uint64_t now)
{
	struct nert_peer_ts *slot = NULL, *victim = &ep->peers[0];

	for (int i = 0; i < NERT_PEERS && !slot; i++) {
		struct nert_peer_ts *e = &ep->peers[i];
		if (e->used && cx_equal(e->pk, pk, CX_DH_BYTES))
			slot = e;
		else if (victim->used && (!e->used || e->used_ms < victim->used_ms))
			victim = e;
	}
	if (slot && ts <= slot->ts) {
		ep->inits_refused++;
		return -EALREADY;
	}
	if (!slot) {
		slot = victim;
		memcpy(slot->pk, pk, CX_DH_BYTES);
		slot->used = true;
	}
	slot->ts = ts;
	slot->used_ms = now;
	return 0;
}

/*
 * Count a mac1-valid INIT and say whether the endpoint is under load:
 * more than NERT_LOAD_INITS of them in this second or in the one before,
 * or the owner says so.  Under load, only INITs with a valid mac2 get
 * any DH work.
 */
static bool endpoint_loaded(struct nert_endpoint *ep, uint64_t now)
{
	uint64_t sec = now / 1000;

	if (sec != ep->load_sec) {
		ep->load_last = sec == ep->load_sec + 1 ? ep->load_count : 0;
		ep->load_count = 0;
		ep->load_sec = sec;
	}
	if (ep->load_count < UINT32_MAX)
		ep->load_count++;
	return ep->force_load || ep->load_count > NERT_LOAD_INITS || ep->load_last > NERT_LOAD_INITS;
}

/* The cookie of a source address: a MAC under the endpoint's secret, renewed every NERT_COOKIE_MS. */
static void make_cookie(struct nert_session *s, const uint8_t *src, size_t src_len, uint64_t now,
			uint8_t out[CX_MAC_BYTES])
{
	struct nert_endpoint *ep = s->cfg.endpoint;

	if (!ep->has_secret || now - ep->secret_ms >= NERT_COOKIE_MS) {
		s->cfg.random(s->cfg.ctx, ep->cookie_secret, sizeof ep->cookie_secret);
		ep->secret_ms = now;
		ep->has_secret = true;
	}
	mac16(out, ep->cookie_secret, CX_KEY_BYTES, src, src_len);
}

/*
 * Under load: 0 when the INIT's mac2 is the cookie of its source address;
 * otherwise answer the source with a COOKIE message (the cookie sealed
 * with XChaCha20-Poly1305 under H("cookie--" || our static key), the
 * INIT's mac1 as associated data) and return -EAGAIN, having done no DH.
 */
static int cookie_check(struct nert_session *s, const uint8_t *p, const uint8_t *src,
			size_t src_len, uint64_t now)
{
	uint8_t cookie[CX_MAC_BYTES], mac2[CX_MAC_BYTES], reply[NERT_COOKIE_BYTES];
	bool ok;

	make_cookie(s, src, src_len, now, cookie);
	mac16(mac2, cookie, sizeof cookie, p, INIT_MAC2);
	ok = cx_equal(mac2, p + INIT_MAC2, CX_MAC_BYTES);
	if (!ok) {
		header_put(reply, NP_COOKIE, 0, get_u32(p + 4), 0);
		s->cfg.random(s->cfg.ctx, reply + NERT_HEADER_BYTES, CX_XNONCE_BYTES);
		cx_xaead_seal(reply + NERT_HEADER_BYTES + CX_XNONCE_BYTES, cookie, sizeof cookie,
			      p + INIT_MAC1, CX_MAC_BYTES, reply + NERT_HEADER_BYTES, s->cookie_in);
		s->stats.cookies_sent++;
		s->stats.packets_sent++;
		s->cfg.endpoint->cookies_sent++;
		if (s->cfg.send_to)
			s->cfg.send_to(s->cfg.ctx, src, src_len, reply, sizeof reply);
		else
			s->cfg.send(s->cfg.ctx, reply, sizeof reply);
	}
	cx_wipe(cookie, sizeof cookie);
	return ok ? 0 : -EAGAIN;
}

/*
 * Check an INIT up to its payload: decrypt the initiator's static key
 * (es), which must be the expected peer, then the payload (ss).  Leaves
 * ck and h for the RESP; payload is salt (4) || timestamp (8) || sid (4).
 */
static int init_open(struct nert_session *s, const uint8_t *p, uint8_t ck[CX_KEY_BYTES],
		     uint8_t h[CX_HASH_BYTES], uint8_t payload[INIT_PAYLOAD])
{
	uint8_t k[CX_KEY_BYTES], peer_static[CX_DH_BYTES];
	int err;

	chain_start(ck, h, s->own_pk);
	mix_hash(h, p + 12, 32);
	if ((err = mix_dh(s, ck, k, s->cfg.static_sk, p + 12)))
		return err;
	err = -EBADMSG;
	if (cx_aead_open(peer_static, p + 44, 32, h, CX_HASH_BYTES, zero_nonce, k))
		goto out;
	mix_hash(h, p + 44, 48);
	err = -EACCES;
	if (!cx_equal(peer_static, s->cfg.peer_pk, 32))
		goto out;
	if ((err = mix_dh(s, ck, k, s->cfg.static_sk, peer_static)))
		goto out;
	err = cx_aead_open(payload, p + 92, INIT_PAYLOAD, h, CX_HASH_BYTES, zero_nonce, k) ?
		      -EBADMSG : 0;
	mix_hash(h, p + 92, INIT_PAYLOAD + CX_TAG_BYTES);
out:
	cx_wipe(k, sizeof k);
	return err;
}

/*
 * The cheap checks before any DH: mac1 (keyed by our static public key,
 * so only a sender who knows it passes), a copy of an INIT already
 * answered (its RESP again), then under load the cookie (mac2).  0 means
 * go on with the DHs; 1 means answered.
 */
static int init_precheck(struct nert_session *s, const uint8_t *p, const uint8_t *src,
			 size_t src_len, uint64_t now)
{
	struct nert_pending *pd = &s->pend;
	uint8_t mac1[CX_MAC_BYTES];

	mac16(mac1, s->mac1_in, CX_KEY_BYTES, p, NERT_INIT_BODY);
	if (!cx_equal(mac1, p + INIT_MAC1, CX_MAC_BYTES)) {
		s->cfg.endpoint->mac1_failures++;
		return -EBADMSG;
	}
	if (pd->active && same_copy(p, pd->init_pkt, NERT_INIT_BODY)) {
		pd->init_ms = now;
		put_u32(pd->resp_pkt + 8, get_u32(p + 8));      /* echo this copy's number */
		emit(s, pd->resp_pkt, NERT_RESP_BYTES, now);   /* our RESP was lost */
		return 1;
	}
	if (!s->initiator && s->state != NERT_IDLE && same_copy(p, s->init_pkt, NERT_INIT_BODY)) {
		put_u32(s->resp_pkt + 8, get_u32(p + 8));
		emit(s, s->resp_pkt, NERT_RESP_BYTES, now);     /* a late copy: answered already */
		return 1;
	}
	if (endpoint_loaded(s->cfg.endpoint, now))
		return cookie_check(s, p, src, src_len, now);
	return 0;
}

static void pending_install(struct nert_session *s, uint64_t now);

/*
 * Responder: answer a valid, fresh INIT with a RESP and hold the new keys
 * as a pending handshake.  Nothing is trusted yet: the pending keys become
 * the session only when a packet authenticated under them arrives (key
 * confirmation), and until then the current keys carry on.  A replayed or
 * stale INIT is refused by the endpoint's timestamp memory.  An INIT that
 * names our current session re-keys it (streams continue); any other
 * replaces it once confirmed (the peer rebooted).
 */
static int on_init(struct nert_session *s, const uint8_t *p, const uint8_t *src, size_t src_len,
		   uint64_t now)
{
	struct nert_pending *pd = &s->pend;
	uint8_t ck[CX_KEY_BYTES], h[CX_HASH_BYTES], k[CX_KEY_BYTES], e_sk[CX_DH_BYTES];
	uint8_t payload[INIT_PAYLOAD], rpay[RESP_PAYLOAD], *resp = pd->resp_pkt;
	uint32_t rekey_sid;
	int err;

	if (!s->cfg.endpoint)
		return -EPROTO;
	if ((err = init_precheck(s, p, src, src_len, now)))
		return err > 0 ? 0 : err;
	if ((err = init_open(s, p, ck, h, payload)) ||
	    (err = endpoint_accept_ts(s->cfg.endpoint, s->cfg.peer_pk, get_u64(payload + 4), now)))
		goto out;
	rekey_sid = get_u32(payload + 12);
	if (pd->active && rekey_sid && rekey_sid == pd->k.local_sid)
		pending_install(s, now);     /* it names the pending keys: it holds them */
	cx_wipe(pd, sizeof *pd);
	pd->continues = rekey_sid && s->cur.valid && rekey_sid == s->cur.local_sid &&
			(s->state == NERT_ESTABLISHED || s->state == NERT_CLOSING);
	pd->k.local_sid = new_sid(s);
	pd->k.peer_sid = get_u32(p + 4);
	pd->k.gen = pd->continues ? (uint16_t)(s->cur.gen + 1) : 0;
	s->cfg.random(s->cfg.ctx, pd->k.tx_salt, sizeof pd->k.tx_salt);
	memcpy(pd->k.rx_salt, payload, 4);
	s->cfg.random(s->cfg.ctx, e_sk, sizeof e_sk);
	header_put(resp, NP_RESP, 0, pd->k.peer_sid, get_u32(p + 8));  /* echo the INIT copy */
	count_dh(s);
	if ((err = cx_dh_public(resp + 12, e_sk)))
		goto out;
	mix_hash(h, resp + 12, 32);
	if ((err = mix_dh(s, ck, NULL, e_sk, p + 12)) ||                    /* ee */
	    (err = mix_dh(s, ck, k, e_sk, s->cfg.peer_pk)) ||                 /* se */
	    (err = split_keys(ck, false, &pd->k)))
		goto out;
	put_u32(rpay, pd->k.local_sid);
	memcpy(rpay + 4, pd->k.tx_salt, 4);
	rpay[8] = pd->continues ? RESP_F_CONTINUES : 0;
	cx_aead_seal(resp + 44, rpay, sizeof rpay, h, CX_HASH_BYTES, zero_nonce, k);
	memcpy(pd->init_pkt, p, NERT_INIT_BYTES);
	pd->init_ms = now;
	pd->active = true;
	if (s->state == NERT_IDLE)
		s->state = NERT_RESP_SENT;
	emit(s, resp, NERT_RESP_BYTES, now);
out:
	cx_wipe(ck, sizeof ck);
	cx_wipe(k, sizeof k);
	cx_wipe(e_sk, sizeof e_sk);
	if (err && !pd->active)
		cx_wipe(pd, sizeof *pd);
	return err;
}

static int send_frame(struct nert_session *s, const uint8_t *pt, size_t len, uint64_t now);
static void pump(struct nert_session *s, uint64_t now);
static void rtt_sample(struct nert_session *s, uint32_t r);

/*
 * Both streams restart (the peer rebooted and started a new session): what
 * the old session had in flight is dropped and the owner told through
 * cfg.restarted.
 */
static void streams_restart(struct nert_session *s, uint64_t now)
{
	give_up_dgrams(s, -ECONNRESET);
	memset(&s->txq, 0, sizeof *s - offsetof(struct nert_session, txq));
	session_defaults(s, now);
	s->stats.restarts++;
	if (s->cfg.restarted)
		s->cfg.restarted(s->cfg.ctx);
}

/*
 * Make k the session's keys.  A re-handshake (continues) keeps the old
 * keys as prev for NERT_KEY_OVERLAP_MS, to open packets already in flight,
 * then they are wiped; otherwise an established session restarts its
 * streams and the old keys are wiped at once.
 */
static void keys_install(struct nert_session *s, const struct nert_keys *k, bool continues,
			 uint64_t now)
{
	if (continues) {
		s->prev = s->cur;
		s->prev_until_ms = now + NERT_KEY_OVERLAP_MS;
		s->stats.rekeys++;
	} else {
		cx_wipe(&s->prev, sizeof s->prev);
		if (s->state == NERT_ESTABLISHED || s->state == NERT_CLOSING)
			streams_restart(s, now);
		s->state = NERT_ESTABLISHED;
	}
	s->cur = *k;
	s->cur.born_ms = now;
	s->cur.valid = true;
	s->last_rx_ms = now;
}

/* Key confirmation: a packet authenticated under the pending keys proves the initiator holds them. */
static void pending_install(struct nert_session *s, uint64_t now)
{
	struct nert_pending *pd = &s->pend;

	keys_install(s, &pd->k, pd->continues, now);
	memcpy(s->init_pkt, pd->init_pkt, NERT_INIT_BYTES);
	memcpy(s->resp_pkt, pd->resp_pkt, NERT_RESP_BYTES);
	cx_wipe(pd, sizeof *pd);
}

/*
 * The initiator's first RTT sample: RESP echoes the copy number of the
 * INIT it answers, so the sample is that copy's round trip even after
 * retries (Karn's ambiguity does not arise).  An echo of 0 (a version 3
 * responder) or of a copy too old to remember gives none.
 */
static void handshake_rtt_sample(struct nert_session *s, uint32_t copy, uint64_t now)
{
	uint64_t sent = s->init_copy_ms[copy % NERT_INIT_COPIES];

	if (s->rtt_valid || !copy || copy > s->init_copy || s->init_copy - copy >= NERT_INIT_COPIES ||
	    now < sent)
		return;
	rtt_sample(s, (uint32_t)(now - sent + 1));
}

/*
 * Initiator: finish a handshake from a RESP, then confirm the keys at
 * once.  A re-handshake the responder could not continue (it rebooted)
 * restarts the streams.
 */
static int on_resp(struct nert_session *s, const uint8_t *p, uint64_t now)
{
	uint8_t ck[CX_KEY_BYTES], h[CX_HASH_BYTES], k[CX_KEY_BYTES], rpay[RESP_PAYLOAD];
	uint8_t ping = K_PING;
	struct nert_keys nk;
	bool continues;
	uint64_t sent;
	int err;

	if (s->initiator && s->cur.valid && same_copy(p, s->resp_pkt, NERT_RESP_BYTES))
		return send_frame(s, &ping, 1, now);    /* our confirmation was lost */
	if (!s->initiator || (s->state != NERT_HS_SENT && !s->rekeying) ||
	    get_u32(p + 4) != s->hs_sid)
		return -EPROTO;
	memcpy(ck, s->ck, sizeof ck);
	memcpy(h, s->h, sizeof h);
	mix_hash(h, p + 12, 32);
	memset(&nk, 0, sizeof nk);
	if ((err = mix_dh(s, ck, NULL, s->e_sk, p + 12)) ||
	    (err = mix_dh(s, ck, k, s->cfg.static_sk, p + 12)))
		goto out;
	err = -EBADMSG;
	if (cx_aead_open(rpay, p + 44, RESP_PAYLOAD, h, CX_HASH_BYTES, zero_nonce, k) ||
	    (err = split_keys(ck, true, &nk)))
		goto out;
	continues = s->rekeying && (rpay[8] & RESP_F_CONTINUES);
	nk.local_sid = s->hs_sid;
	nk.peer_sid = get_u32(rpay);
	nk.gen = continues ? (uint16_t)(s->cur.gen + 1) : 0;
	memcpy(nk.tx_salt, s->hs_salt, 4);
	memcpy(nk.rx_salt, rpay + 4, 4);
	cx_wipe(s->ck, sizeof s->ck);
	cx_wipe(s->e_sk, sizeof s->e_sk);
	s->rekeying = false;
	keys_install(s, &nk, continues, now);
	handshake_rtt_sample(s, get_u32(p + 8), now);
	memcpy(s->resp_pkt, p, NERT_RESP_BYTES);
	sent = s->stats.packets_sent;
	pump(s, now);
	if (s->stats.packets_sent == sent)
		send_frame(s, &ping, 1, now);           /* key confirmation for the responder */
out:
	cx_wipe(ck, sizeof ck);
	cx_wipe(k, sizeof k);
	cx_wipe(&nk, sizeof nk);
	return err;
}

/*
 * Initiator: the responder is under load and sent the cookie of our
 * address.  Keep it and resend INIT with mac2 at once, unless the INIT
 * last sent carried this very cookie (a replayed COOKIE makes nothing).
 */
static int on_cookie(struct nert_session *s, const uint8_t *p, uint64_t now)
{
	uint8_t cookie[CX_MAC_BYTES];
	bool same;

	if (!s->initiator || (s->state != NERT_HS_SENT && !s->rekeying) ||
	    get_u32(p + 4) != s->hs_sid)
		return -EPROTO;
	if (cx_xaead_open(cookie, p + NERT_HEADER_BYTES + CX_XNONCE_BYTES, CX_MAC_BYTES,
			  s->init_pkt + INIT_MAC1, CX_MAC_BYTES, p + NERT_HEADER_BYTES, s->cookie_out))
		return -EBADMSG;
	s->stats.cookies_received++;
	same = s->init_has_cookie && cx_equal(cookie, s->cookie, sizeof cookie);
	memcpy(s->cookie, cookie, sizeof cookie);
	cx_wipe(cookie, sizeof cookie);
	s->cookie_ms = now;
	s->has_cookie = true;
	if (!same)
		send_init(s, now);
	return 0;
}

/* ----------------------------------------------------- packet protection */

static void nonce_for(uint8_t nonce[CX_NONCE_BYTES], const uint8_t salt[4], uint16_t gen,
		      uint32_t pn)
{
	memcpy(nonce, salt, 4);
	put_u32(nonce + 4, gen);
	put_u32(nonce + 8, pn);
}

/* See nert.h: protect one frame as the next DATA packet under the current keys. */
int nert_seal(struct nert_session *s, const uint8_t *pt, size_t len, uint8_t *pkt,
	      size_t cap, uint64_t now)
{
	struct nert_keys *k = &s->cur;
	uint8_t nonce[CX_NONCE_BYTES];

	(void)now;
	if ((s->state != NERT_ESTABLISHED && s->state != NERT_CLOSING) || !k->valid)
		return -ENOTCONN;
	if (len + NERT_HEADER_BYTES + CX_TAG_BYTES > cap ||
	    len + NERT_HEADER_BYTES + CX_TAG_BYTES > NERT_MAX_PACKET)
		return -EMSGSIZE;
	if (k->next_pn == UINT32_MAX) {
		fail(s, -EOVERFLOW);       /* never reuse a nonce: end the session */
		return -EOVERFLOW;
	}
	header_put(pkt, NP_DATA, k->gen, k->peer_sid, ++k->next_pn);
	nonce_for(nonce, k->tx_salt, k->gen, k->next_pn);
	cx_aead_seal(pkt + NERT_HEADER_BYTES, pt, len, pkt, NERT_HEADER_BYTES, nonce, k->tx);
	return (int)(NERT_HEADER_BYTES + len + CX_TAG_BYTES);
}

/*
 * The current keys reached rekey_packets: the initiator starts a
 * re-handshake; the responder, which cannot, asks for one (K_REKEY, at
 * most once per REKEY_ASK_MS).
 */
static void rekey_by_count(struct nert_session *s, uint64_t now)
{
	uint8_t ask = K_REKEY;

	if (s->cur.next_pn < s->cfg.rekey_packets || s->rekeying)
		return;
	if (s->initiator) {
		handshake_start(s, true, now);
	} else if (!s->rekey_asked_ms || now - s->rekey_asked_ms >= REKEY_ASK_MS) {
		s->rekey_asked_ms = now;
		send_frame(s, &ask, 1, now);
	}
}

/* Seal and send one plaintext frame. */
static int send_frame(struct nert_session *s, const uint8_t *pt, size_t len, uint64_t now)
{
	uint8_t pkt[NERT_MAX_PACKET];
	int n = nert_seal(s, pt, len, pkt, sizeof pkt, now);

	if (n < 0)
		return n;
	emit(s, pkt, (size_t)n, now);
	rekey_by_count(s, now);
	return 0;
}

/*
 * A sliding window over the last w numbers below max (w a multiple of 64,
 * bit n % w): true when n was marked or is too old to tell.  The packet
 * replay window and the datagram id window both use it.
 */
static bool window_seen(const uint64_t *bits, uint32_t w, uint32_t max, uint32_t n)
{
	if ((int32_t)(n - max) > 0)
		return false;
	if (max - n >= w)
		return true;
	return (bits[n % w / 64] >> (n % 64)) & 1;
}

/* Mark n in the window, first sliding it forward (clearing the bits it uncovers) if n is newer. */
static void window_mark(uint64_t *bits, uint32_t w, uint32_t *max, uint32_t n)
{
	if ((int32_t)(n - *max) > 0) {
		if (n - *max >= w)
			memset(bits, 0, w / 8);
		else
			for (uint32_t i = *max + 1; i != n; i++)
				bits[i % w / 64] &= ~(1ULL << (i % 64));
		*max = n;
	}
	bits[n % w / 64] |= 1ULL << (n % 64);
}

/* Open a DATA packet under one key set (its generation only). */
static int open_with(const struct nert_keys *k, const uint8_t *pkt, size_t len, uint16_t gen,
		     uint32_t pn, uint8_t *pt)
{
	uint8_t nonce[CX_NONCE_BYTES];

	if (gen != k->gen)
		return -EBADMSG;
	nonce_for(nonce, k->rx_salt, gen, pn);
	return cx_aead_open(pt, pkt + NERT_HEADER_BYTES, len - NERT_HEADER_BYTES - CX_TAG_BYTES, pkt,
			    NERT_HEADER_BYTES, nonce, k->rx);
}

/* The keys a DATA packet's sid names: the current ones, or the previous ones during the overlap. */
static struct nert_keys *keys_for(struct nert_session *s, uint32_t sid)
{
	if (s->cur.valid && sid == s->cur.local_sid)
		return &s->cur;
	if (s->prev.valid && sid == s->prev.local_sid)
		return &s->prev;
	return NULL;
}

/* ---------------------------------------------------------------- sender */

static uint32_t seg_count(uint32_t len)
{
	return len ? (len + NERT_SEG_DATA - 1) / NERT_SEG_DATA : 1;
}

/* Bytes of a len-byte message carried by the fragment at offset off. */
static uint32_t frag_len(uint32_t len, uint32_t off)
{
	return len - off < NERT_SEG_DATA ? len - off : NERT_SEG_DATA;
}

/*
 * True when a fragment (off, len) of a message of mlen bytes is one the
 * sender's fragmentation could have made: inside the message, full-sized
 * unless it is the last, and the message within NERT_MAX_MESSAGE.
 */
static bool frag_ok(uint32_t off, uint32_t mlen, uint32_t len)
{
	return mlen <= NERT_MAX_MESSAGE && off <= mlen && len <= mlen - off &&
	       len <= NERT_SEG_DATA && (len == NERT_SEG_DATA || off + len == mlen);
}

/* Write a segment body's fields and data (11 + len bytes). */
static void body_put(uint8_t *body, uint32_t off, uint32_t mlen, uint8_t cls,
		     const uint8_t *data, uint32_t len)
{
	put_u32(body, off);
	put_u32(body + 4, mlen);
	body[8] = cls;
	put_u16(body + 9, (uint16_t)len);
	memcpy(body + 11, data, len);
}

/* Congestion window in whole segments (at least 1). */
static uint32_t cwnd(const struct nert_session *s)
{
	uint32_t c = s->cwnd_milli / 1000;

	return c ? c : 1;
}

/* Which queued message holds segment seg. */
static int msg_of(const struct nert_session *s, uint32_t seg)
{
	for (int i = 0; i < NERT_SEND_QUEUE; i++) {
		const struct nert_txmsg *m = &s->txq[i];
		if (m->used && seg >= m->first_seg && seg - m->first_seg < seg_count(m->len))
			return i;
	}
	return -1;
}

/* The fixed-size body of a segment (what parity is computed over). */
static void seg_body(const struct nert_session *s, const struct nert_txseg *t, uint8_t *body)
{
	const struct nert_txmsg *m = &s->txq[t->msg];

	memset(body, 0, NERT_SEG_BODY);
	body_put(body, t->off, m->len, m->cls, m->data + t->off, t->len);
}

/* Close the open FEC group by sending its parity frame. */
static void send_parity(struct nert_session *s, uint64_t now)
{
	uint8_t pt[PARITY_BYTES];

	if (!s->fec_count)
		return;
	pt[0] = K_PARITY;
	put_u32(pt + 1, s->fec_start);
	pt[5] = (uint8_t)s->fec_count;
	memcpy(pt + 6, s->fec_body, NERT_SEG_BODY);
	send_frame(s, pt, sizeof pt, now);
	s->fec_count = 0;
}

/* Add a freshly sent segment to the open FEC group, closing it when full. */
static void fec_add(struct nert_session *s, const struct nert_txseg *t, const uint8_t *body,
		    bool last_of_msg, uint64_t now)
{
	const struct nert_txmsg *m = &s->txq[t->msg];
	uint32_t k = s->cfg.fec_k ? s->cfg.fec_k : (m->cls == NERT_CRITICAL ? CRITICAL_FEC_K : 0);

	if (!k || (s->fec_count && (k != s->fec_k_active || t->seg != s->fec_start + s->fec_count)))
		send_parity(s, now);
	if (!k)
		return;
	if (!s->fec_count) {
		s->fec_start = t->seg;
		s->fec_k_active = k;
		memset(s->fec_body, 0, sizeof s->fec_body);
	}
	for (size_t i = 0; i < NERT_SEG_BODY; i++)
		s->fec_body[i] ^= body[i];
	if (++s->fec_count == k || last_of_msg)
		send_parity(s, now);
}

/* Send (or resend) one segment; fresh ones also feed the FEC group. */
static void send_segment(struct nert_session *s, struct nert_txseg *t, bool fresh, uint64_t now)
{
	uint8_t pt[DATA_FIXED + NERT_SEG_DATA], body[NERT_SEG_BODY];
	const struct nert_txmsg *m = &s->txq[t->msg];

	seg_body(s, t, body);
	pt[0] = K_DATA;
	put_u32(pt + 1, t->seg);
	memcpy(pt + 5, body, 11 + t->len);
	t->sent = true;
	t->lost = false;
	t->sent_ms = now;
	s->probe_base_ms = now;
	if (!fresh) {
		t->retries++;
		s->stats.retransmits++;
	}
	send_frame(s, pt, DATA_FIXED + t->len, now);
	if (fresh)
		fec_add(s, t, body, t->off + t->len >= m->len, now);
}

/* Segments sent and neither acknowledged nor declared lost. */
static uint32_t inflight(const struct nert_session *s)
{
	uint32_t n = 0;

	for (uint32_t seg = s->snd_una; seg != s->snd_nxt; seg++) {
		const struct nert_txseg *t = &s->txw[seg % NERT_WINDOW];
		n += t->sent && !t->acked && !t->lost;
	}
	return n;
}

/*
 * Whether a retransmission (already sent, retries counted) goes out as
 * two copies.  Once every queued segment has been sent, no later data
 * reveals a hole again: a lost retransmission, or its lost ACK, costs a
 * tail-loss probe or a backed-off timeout.  So the last NERT_TAIL_SEGS
 * segments get two copies from their first retransmission, and any other
 * hole from its second.  Before, a hole 23 segments from the end was
 * retransmitted six times, four of them as single copies, and held a
 * transfer at 30 % loss with reordering to 0.498 of lossless (seed 173);
 * one 39 from the end, nine times, to 0.334 (seed 830).
 */
static bool resend_twice(const struct nert_session *s, const struct nert_txseg *t)
{
	if (s->snd_nxt != s->snd_end)
		return false;
	return s->snd_end - t->seg <= NERT_TAIL_SEGS || t->retries >= 2;
}

/* Send what the windows allow: retransmissions first, then new segments. */
static void pump(struct nert_session *s, uint64_t now)
{
	uint32_t limit = cwnd(s), flight = inflight(s);

	if (s->state != NERT_ESTABLISHED && s->state != NERT_CLOSING)
		return;
	if (s->cfg.max_inflight && limit > s->cfg.max_inflight)
		limit = s->cfg.max_inflight;
	for (uint32_t seg = s->snd_una; seg != s->snd_nxt && flight < limit; seg++) {
		struct nert_txseg *t = &s->txw[seg % NERT_WINDOW];
		if (t->lost && !t->acked) {
			if (t->retries >= NERT_MAX_RETRIES) {
				fail(s, -ETIMEDOUT);
				return;
			}
			send_segment(s, t, false, now);
			if (resend_twice(s, t))
				send_segment(s, t, false, now);
			flight++;
		}
	}
	while (flight < limit && s->snd_nxt != s->snd_end &&
	       s->snd_nxt - s->snd_una < NERT_WINDOW && s->snd_nxt - s->snd_una < s->peer_rwnd) {
		struct nert_txseg *t = &s->txw[s->snd_nxt % NERT_WINDOW];
		int mi = msg_of(s, s->snd_nxt);
		if (mi < 0)
			break;
		memset(t, 0, sizeof *t);
		t->seg = s->snd_nxt;
		t->msg = (uint8_t)mi;
		t->off = (s->snd_nxt - s->txq[mi].first_seg) * NERT_SEG_DATA;
		t->len = frag_len(s->txq[mi].len, t->off);
		s->snd_nxt++;
		send_segment(s, t, true, now);
		flight++;
	}
	if (s->state == NERT_CLOSING && s->snd_una == s->snd_end && !s->close_sent) {
		uint8_t c = K_CLOSE;
		s->close_sent = true;
		s->close_ms = now;
		send_frame(s, &c, 1, now);
	}
}

/* RFC 6298 RTT estimation (milliseconds, clock granularity 1 ms). */
static void rtt_sample(struct nert_session *s, uint32_t r)
{
	if (!s->rtt_valid) {
		s->srtt = r;
		s->rttvar = r / 2;
		s->rtt_valid = true;
	} else {
		uint32_t diff = s->srtt > r ? s->srtt - r : r - s->srtt;
		s->rttvar = (3 * s->rttvar + diff) / 4;
		s->srtt = (7 * s->srtt + r) / 8;
	}
	if (r < s->min_rtt)
		s->min_rtt = r;
	s->rtt_recent[s->rtt_recent_n++ % NERT_RTT_RECENT] = r;
	s->fresh_samples++;
	s->rto = s->srtt + (4 * s->rttvar > 1 ? 4 * s->rttvar : 1);
	if (s->rto < NERT_MIN_RTO_MS)
		s->rto = NERT_MIN_RTO_MS;
	if (s->rto > NERT_MAX_RTO_MS)
		s->rto = NERT_MAX_RTO_MS;
}

static bool queue_building(const struct nert_session *s);

/*
 * Mark a segment acknowledged: RACK time, window growth.  A
 * retransmission's send time counts for RACK when the ACK came at least
 * one SRTT after it (RFC 8985 6.2 uses the minimum RTT; a reordered
 * original arriving late then moved RACK and made spurious losses):
 * sooner, the ACK is likely for an earlier copy.  Without it the last
 * holes of a transfer, which have no three later segments, waited for
 * one tail-loss probe each.
 */
static bool seg_acked(struct nert_session *s, struct nert_txseg *t, uint64_t now)
{
	if (t->acked || !t->sent)
		return false;
	t->acked = true;
	if (t->sent_ms > s->rack_ms &&
	    (!t->retries || (s->rtt_valid && now >= t->sent_ms + s->srtt)))
		s->rack_ms = t->sent_ms;
	if (cwnd(s) < s->ssthresh && queue_building(s))
		s->ssthresh = cwnd(s);                          /* a queue: leave slow start */
	if (cwnd(s) < s->ssthresh)
		s->cwnd_milli += 1000;                          /* slow start */
	else
		s->cwnd_milli += 1000000 / s->cwnd_milli;       /* additive increase */
	if (s->cwnd_milli > NERT_WINDOW * 1000)
		s->cwnd_milli = NERT_WINDOW * 1000;
	s->probes = 0;
	return true;
}

/* The smallest of the latest NERT_RTT_RECENT RTT samples. */
static uint32_t recent_min_rtt(const struct nert_session *s)
{
	uint32_t n = s->rtt_recent_n < NERT_RTT_RECENT ? s->rtt_recent_n : NERT_RTT_RECENT;
	uint32_t m = UINT32_MAX;

	for (uint32_t i = 0; i < n; i++)
		if (s->rtt_recent[i] < m)
			m = s->rtt_recent[i];
	return m;
}

/*
 * True when the RTT shows a queue building (the smallest of the latest
 * samples > 1.5 x the minimum + 4 ms) and the window is large enough to
 * have built one: a few segments cannot fill a queue.  A queue delays
 * every packet, so it lifts the recent minimum; a reordered packet delays
 * only itself, and SRTT, which averages such samples in, rose above the
 * threshold on a path with 10 % reordering and no queue at all, and cut
 * the window at each loss.
 */
static bool queue_building(const struct nert_session *s)
{
	return s->rtt_valid && cwnd(s) >= MIN_QUEUE_CWND &&
	       (uint64_t)recent_min_rtt(s) * 2 > (uint64_t)s->min_rtt * 3 + 8;
}

/*
 * The window after a congestion cut: what the path holds without the
 * queue (cwnd x min RTT / the recent RTT floor, which the queue lifted),
 * but at least half of it.  Halving alone went below the path's size when
 * the queue was short (a cut from 41 to 20 segments on a 25-segment path
 * left it a fifth idle until additive increase refilled it).
 */
static uint32_t cut_window(const struct nert_session *s)
{
	uint32_t w = cwnd(s), rtt = recent_min_rtt(s);
	uint64_t pipe = rtt ? (uint64_t)w * s->min_rtt / rtt : 0;
	uint32_t cut = pipe > w / 2 ? (uint32_t)pipe : w / 2;

	return cut > MIN_SSTHRESH ? cut : MIN_SSTHRESH;
}

/*
 * A loss was detected.  Random loss on a radio link is not congestion, so
 * the multiplicative decrease happens only when the RTT shows a queue
 * building, at most once per window, and down to the path's size.
 */
static void on_loss(struct nert_session *s, uint32_t seg)
{
	if (seg < s->recover_seg)
		return;
	s->recover_seg = s->snd_nxt;
	if (queue_building(s)) {
		s->ssthresh = cut_window(s);
		s->cwnd_milli = s->ssthresh * 1000;
	}
}

/* Free queue slots of messages whose every segment is acknowledged. */
static void release_messages(struct nert_session *s)
{
	for (int i = 0; i < NERT_SEND_QUEUE; i++) {
		struct nert_txmsg *m = &s->txq[i];
		if (m->used && s->snd_una - m->first_seg >= seg_count(m->len) &&
		    (int32_t)(s->snd_una - m->first_seg) > 0)
			m->used = false;
	}
}

/*
 * Loss detection: a segment is lost when three later segments are
 * acknowledged, or (as in RACK) when a segment sent more than a quarter
 * RTT after it was acknowledged, which also catches lost retransmissions;
 * and it must be older than one SRTT.  With no RTT sample yet (the first
 * window was lost and Karn's rule takes none from retransmissions) a
 * retransmission must be one RTO old: else every ACK of the restarted
 * window re-declared the others lost and resent them within the same
 * millisecond.
 */
static void detect_losses(struct nert_session *s, uint32_t highest, uint64_t now)
{
	uint64_t reo = s->rtt_valid ? s->srtt / 4 + 1 : 1;

	for (uint32_t seg = s->snd_una; seg != s->snd_nxt; seg++) {
		struct nert_txseg *t = &s->txw[seg % NERT_WINDOW];
		bool by_count = (int32_t)(highest - seg) >= DUP_THRESH;
		uint64_t guard = s->rtt_valid ? s->srtt : (t->retries ? s->rto : 0);
		bool by_time = t->sent_ms + reo < s->rack_ms;
		if (t->sent && !t->acked && !t->lost && (by_count || by_time) &&
		    now - t->sent_ms >= guard) {
			t->lost = true;
			on_loss(s, seg);
		}
	}
}

/*
 * Take an RTT sample from an ACK only when it is unambiguous (RFC 6298 and
 * Karn's rule): the ACK names the DATA segment whose direct arrival
 * triggered it (not a parity recovery, not a timer), that segment was
 * transmitted exactly once and never declared lost, and this ACK is the
 * first to acknowledge it (a late, reordered or duplicate ACK finds it
 * acknowledged already).  The receiver's reported holding delay is
 * subtracted.  Anything else would measure loss recovery, not the path.
 */
static void ack_rtt_sample(struct nert_session *s, const uint8_t *pt, uint64_t now)
{
	uint32_t echo = get_u32(pt + ACK_ECHO), delay = get_u16(pt + ACK_ECHO + 4);
	const struct nert_txseg *t = &s->txw[echo % NERT_WINDOW];
	uint64_t r;

	if (!(pt[ACK_ECHO + 6] & ACK_F_ECHO) || echo - s->snd_una >= s->snd_nxt - s->snd_una ||
	    t->seg != echo || !t->sent || t->acked || t->lost || t->retries || now < t->sent_ms)
		return;
	r = now - t->sent_ms;
	r = r > delay ? r - delay : 1;
	rtt_sample(s, r > NERT_MAX_RTO_MS ? NERT_MAX_RTO_MS : (uint32_t)r);
}

/* Process an ACK frame: cumulative and selective acknowledgements, then send more. */
static void on_ack(struct nert_session *s, const uint8_t *pt, uint64_t now)
{
	uint32_t cum = get_u32(pt + 1), highest;

	if (cum - s->snd_una > s->snd_nxt - s->snd_una)
		return;                                 /* acknowledges what was never sent */
	ack_rtt_sample(s, pt, now);
	s->peer_rwnd = get_u16(pt + 5 + SACK_BITS / 8);
	if (cum != s->snd_una) {
		s->rto_backoff = 0;                     /* progress: forget the backoff */
		s->progress_ms = now;
	}
	for (; s->snd_una != cum; s->snd_una++)
		seg_acked(s, &s->txw[s->snd_una % NERT_WINDOW], now);
	highest = cum - 1;
	for (uint32_t i = 0; i < SACK_BITS; i++) {
		uint32_t seg = cum + 1 + i;
		if (!((pt[5 + i / 8] >> (i % 8)) & 1) || seg - s->snd_una >= s->snd_nxt - s->snd_una)
			continue;
		if (seg_acked(s, &s->txw[seg % NERT_WINDOW], now)) {
			s->rto_backoff = 0;             /* selective progress is progress too */
			s->progress_ms = now;
		}
		highest = seg;
	}
	detect_losses(s, highest, now);
	release_messages(s);
	pump(s, now);
}

/* --------------------------------------------------------------- receiver */

static struct nert_rxseg *rx_slot(struct nert_session *s, uint32_t seg)
{
	struct nert_rxseg *r = &s->rxw[seg % NERT_WINDOW];

	return r->present && r->seg == seg ? r : NULL;
}

/*
 * Acknowledge: cumulative point, 256-segment SACK bitmap, receive window.
 * The window counts segments from the cumulative point (as TCP's does):
 * the ring takes any segment in [rcv_nxt, rcv_nxt + NERT_WINDOW) and
 * in-order data is delivered at once, so it is the whole ring.  Free
 * slots (the ring minus the span held) would count a hole twice, since
 * the sender reads the window from the cumulative point.
 */
static void send_ack(struct nert_session *s, uint64_t now)
{
	uint8_t pt[ACK_BYTES];

	memset(pt, 0, sizeof pt);
	for (uint32_t i = 0; i < SACK_BITS; i++)
		if (rx_slot(s, s->rcv_nxt + 1 + i))
			pt[5 + i / 8] |= (uint8_t)(1u << (i % 8));
	pt[0] = K_ACK;
	put_u32(pt + 1, s->rcv_nxt);
	put_u16(pt + 5 + SACK_BITS / 8, NERT_WINDOW);
	if (s->ack_echo_valid) {
		uint64_t held = now - s->ack_echo_ms;
		put_u32(pt + ACK_ECHO, s->ack_echo);
		put_u16(pt + ACK_ECHO + 4, (uint16_t)(held < UINT16_MAX ? held : UINT16_MAX));
		pt[ACK_ECHO + 6] = ACK_F_ECHO;
	}
	s->ack_echo_valid = false;
	s->ack_due = false;
	s->unacked_rx = 0;
	send_frame(s, pt, sizeof pt, now);
}

/* Hand in-order segments to the message being reassembled. */
static int deliver_in_order(struct nert_session *s)
{
	struct nert_rxseg *r;

	while ((r = rx_slot(s, s->rcv_nxt))) {
		uint32_t off = get_u32(r->body), mlen = get_u32(r->body + 4);
		uint16_t len = get_u16(r->body + 9);
		uint8_t cls = r->body[8];
		if (mlen > s->cfg.rx_cap || off != s->rx_msg_expect || !frag_ok(off, mlen, len) ||
		    cls < NERT_RELIABLE)
			return -EPROTO;
		memcpy(s->cfg.rx_buf + off, r->body + 11, len);
		s->rx_msg_expect += len;
		s->rcv_nxt++;
		if (s->rx_msg_expect == mlen) {
			s->rx_msg_expect = 0;
			s->stats.bytes_delivered += mlen;
			s->cfg.deliver(s->cfg.ctx, cls, s->cfg.rx_buf, mlen);
			if (s->state == NERT_FAILED || s->state == NERT_CLOSED)
				return 0;
		}
	}
	return 0;
}

/* Put a segment body into its ring slot. */
static void store_segment(struct nert_session *s, uint32_t seg, const uint8_t *body)
{
	struct nert_rxseg *r = &s->rxw[seg % NERT_WINDOW];

	r->seg = seg;
	r->present = true;
	memcpy(r->body, body, NERT_SEG_BODY);
}

/* Recover the single missing segment of a parity group, if exactly one is. */
static void try_recover(struct nert_session *s, struct nert_parity *p)
{
	uint8_t body[NERT_SEG_BODY];
	uint32_t missing = 0, which = 0;

	if (p->start + p->count <= s->rcv_nxt) {
		p->used = false;
		return;
	}
	for (uint32_t i = 0; i < p->count; i++) {
		uint32_t seg = p->start + i;
		if (!rx_slot(s, seg)) {
			if (seg < s->rcv_nxt) {             /* body gone: cannot help */
				p->used = false;
				return;
			}
			missing++;
			which = seg;
		}
	}
	if (missing == 0) {
		p->used = false;
		return;
	}
	if (missing > 1 || which - s->rcv_nxt >= NERT_WINDOW)
		return;
	memcpy(body, p->body, sizeof body);
	for (uint32_t i = 0; i < p->count; i++) {
		struct nert_rxseg *r = rx_slot(s, p->start + i);
		if (r)
			for (size_t b = 0; b < NERT_SEG_BODY; b++)
				body[b] ^= r->body[b];
	}
	store_segment(s, which, body);
	s->stats.fec_recovered++;
	p->used = false;
}

/* Try every held parity frame (after new data arrived). */
static void recover_all(struct nert_session *s)
{
	for (int i = 0; i < NERT_PARITY_SLOTS; i++)
		if (s->parity[i].used)
			try_recover(s, &s->parity[i]);
}

/* Accept a DATA frame: store, repair by FEC, deliver in order, schedule the ACK. */
static int on_data(struct nert_session *s, const uint8_t *pt, size_t len, uint64_t now)
{
	uint32_t seg = get_u32(pt + 1);
	uint8_t body[NERT_SEG_BODY];
	uint16_t dlen;

	if (len < DATA_FIXED)
		return -EPROTO;
	dlen = get_u16(pt + 5 + 9);
	if (dlen > NERT_SEG_DATA || (size_t)DATA_FIXED + dlen != len)
		return -EPROTO;
	s->unacked_rx++;
	if (seg - s->rcv_nxt >= NERT_WINDOW || rx_slot(s, seg)) {
		s->ack_due = true;                      /* duplicate or beyond the window */
		s->ack_due_ms = now;
		return 0;
	}
	memset(body, 0, sizeof body);
	memcpy(body, pt + 5, 11 + dlen);
	store_segment(s, seg, body);
	s->ack_echo = seg;                          /* a new segment, arrived directly */
	s->ack_echo_ms = now;
	s->ack_echo_valid = true;
	recover_all(s);
	if (deliver_in_order(s)) {
		fail(s, -EPROTO);
		return -EPROTO;
	}
	if (seg != s->rcv_nxt - 1 || s->unacked_rx >= 2) {
		s->ack_due = true;
		s->ack_due_ms = now;
	} else if (!s->ack_due) {
		s->ack_due = true;
		s->ack_due_ms = now + DELAYED_ACK_MS;
	}
	return 0;
}

/* Hold a parity frame and try to rebuild its group's missing segment. */
static int on_parity(struct nert_session *s, const uint8_t *pt, size_t len)
{
	struct nert_parity *slot = &s->parity[0];
	uint8_t count = pt[5];

	if (len != PARITY_BYTES || count == 0 || count > 64)
		return -EPROTO;
	for (int i = 0; i < NERT_PARITY_SLOTS; i++) {
		if (!s->parity[i].used) {
			slot = &s->parity[i];
			break;
		}
		if (s->parity[i].start < slot->start)
			slot = &s->parity[i];
	}
	slot->used = true;
	slot->start = get_u32(pt + 1);
	slot->count = count;
	memcpy(slot->body, pt + 6, NERT_SEG_BODY);
	try_recover(s, slot);
	if (deliver_in_order(s)) {
		fail(s, -EPROTO);
		return -EPROTO;
	}
	return 0;
}

/* Acknowledge a whole best-effort message. */
static void send_dgram_ack(struct nert_session *s, uint32_t id, uint64_t now)
{
	uint8_t ack[5];

	ack[0] = K_DGRAM_ACK;
	put_u32(ack + 1, id);
	send_frame(s, ack, sizeof ack, now);
}

/*
 * True when datagram id was delivered, or is too old to tell: the sender
 * never resends an id NERT_DGRAM_WINDOW older than its newest, so an id
 * below the window is a stale copy.
 */
static bool dgram_was_delivered(const struct nert_session *s, uint32_t id)
{
	return window_seen(s->dgram_bits, NERT_DGRAM_WINDOW, s->dgram_max, id);
}

/* Deliver a whole datagram message once, remembering its id in the window. */
static void dgram_deliver(struct nert_session *s, uint32_t id, uint8_t cls, const uint8_t *msg,
			  size_t len)
{
	window_mark(s->dgram_bits, NERT_DGRAM_WINDOW, &s->dgram_max, id);
	s->cfg.deliver(s->cfg.ctx, cls, msg, len);
}

/* Deliver a one-packet datagram (best effort: ACK, at most once). */
static int on_dgram(struct nert_session *s, const uint8_t *pt, size_t len, uint64_t now)
{
	uint32_t id = get_u32(pt + 1);
	uint8_t cls = pt[5];

	if (len < DGRAM_FIXED || len - DGRAM_FIXED > NERT_SEG_DATA || cls > NERT_BEST_EFFORT)
		return -EPROTO;
	if (cls == NERT_FIRE_AND_FORGET) {           /* sent once: the replay window suffices */
		s->cfg.deliver(s->cfg.ctx, cls, pt + DGRAM_FIXED, len - DGRAM_FIXED);
		return 0;
	}
	send_dgram_ack(s, id, now);
	if (dgram_was_delivered(s, id))
		return 0;                           /* a retry of one we have */
	dgram_deliver(s, id, cls, pt + DGRAM_FIXED, len - DGRAM_FIXED);
	return 0;
}

/* Forget the partial datagram being reassembled. */
static void reasm_drop(struct nert_session *s)
{
	if (s->reasm.active)
		s->stats.dgrams_dropped++;
	s->reasm.active = false;
}

/*
 * Take one fragment of a multi-packet datagram into the single reassembly
 * buffer (cfg.dgram_buf).  A newer message, or any message once the
 * partial one has made no progress for NERT_REASM_MS, replaces the partial
 * one; an older one is refused.  Only a complete message is delivered.
 */
static int on_dgram_frag(struct nert_session *s, const uint8_t *pt, size_t len, uint64_t now)
{
	struct nert_reasm *r = &s->reasm;
	uint32_t id, off, mlen, idx;
	uint16_t dlen;
	uint8_t cls;

	if (len < DFRAG_FIXED)
		return -EPROTO;
	id = get_u32(pt + 1);
	off = get_u32(pt + 5);
	mlen = get_u32(pt + 9);
	cls = pt[13];
	dlen = get_u16(pt + 14);
	if ((size_t)DFRAG_FIXED + dlen != len || cls > NERT_BEST_EFFORT || mlen <= NERT_SEG_DATA ||
	    off >= mlen || off % NERT_SEG_DATA || !frag_ok(off, mlen, dlen) ||
	    dlen != frag_len(mlen, off))
		return -EPROTO;
	if (dgram_was_delivered(s, id)) {
		if (cls == NERT_BEST_EFFORT)
			send_dgram_ack(s, id, now);     /* our ACK was lost */
		return 0;
	}
	if (!s->cfg.dgram_buf || mlen > s->cfg.dgram_cap)
		return -EMSGSIZE;
	if (r->active && r->id != id) {
		if ((int32_t)(id - r->id) < 0 && now < r->progress_ms + NERT_REASM_MS)
			return -EBUSY;
		reasm_drop(s);
	}
	if (!r->active) {
		r->id = id;
		r->len = mlen;
		r->cls = cls;
		r->have = 0;
		r->active = true;
		memset(r->bits, 0, (seg_count(mlen) + 7) / 8);
	} else if (r->len != mlen || r->cls != cls) {
		return -EPROTO;                         /* inconsistent with earlier fragments */
	}
	r->progress_ms = now;
	idx = off / NERT_SEG_DATA;
	if ((r->bits[idx / 8] >> (idx % 8)) & 1)
		return 0;
	r->bits[idx / 8] |= (uint8_t)(1u << (idx % 8));
	memcpy(s->cfg.dgram_buf + off, pt + DFRAG_FIXED, dlen);
	if (++r->have < seg_count(mlen))
		return 0;
	r->active = false;
	if (cls == NERT_BEST_EFFORT)
		send_dgram_ack(s, id, now);
	dgram_deliver(s, id, cls, s->cfg.dgram_buf, mlen);
	return 0;
}

/* Dispatch one authenticated plaintext frame by kind. */
static int on_frame(struct nert_session *s, const uint8_t *pt, size_t len, uint64_t now)
{
	switch (pt[0]) {
	case K_DATA:
		return on_data(s, pt, len, now);
	case K_PARITY:
		return on_parity(s, pt, len);
	case K_ACK:
		if (len != ACK_BYTES)
			return -EPROTO;
		on_ack(s, pt, now);
		return 0;
	case K_DGRAM:
		return on_dgram(s, pt, len, now);
	case K_DGRAM_FRAG:
		return on_dgram_frag(s, pt, len, now);
	case K_DGRAM_ACK:
		if (len != 5)
			return -EPROTO;
		for (int i = 0; i < NERT_DGRAMS; i++)
			if (s->dgrams[i].used && !s->dgrams[i].waiting &&
			    s->dgrams[i].id == get_u32(pt + 1))
				s->dgrams[i].used = false;
		dgram_start_next(s, now);
		return 0;
	case K_CLOSE:
		if (!s->close_sent) {
			uint8_t c = K_CLOSE;
			s->close_sent = true;
			send_frame(s, &c, 1, now);
		}
		fail(s, 0);
		return 0;
	case K_PING:
		return 0;
	case K_REKEY:                               /* the responder's keys are worn out */
		if (len != 1)
			return -EPROTO;
		if (s->initiator && !s->rekeying && now - s->cur.born_ms >= REKEY_ASK_MS)
			return handshake_start(s, true, now);
		return 0;
	default:
		return -EPROTO;
	}
}

/* See nert.h: header, handshake, replay window, AEAD, then the frame. */
int nert_receive(struct nert_session *s, const uint8_t *pkt, size_t len, const void *src,
		 size_t src_len, uint64_t now_ms)
{
	uint8_t type, pt[NERT_MAX_PACKET];
	struct nert_keys *k;
	uint16_t epoch;
	uint32_t sid, pn;
	int err = nert_parse_header(pkt, len, &type, &epoch, &sid, &pn);

	if (err)
		return err;
	if (src_len > NERT_ADDR_MAX || (!src && src_len))
		return -EINVAL;
	if (s->state == NERT_CLOSED || s->state == NERT_FAILED)
		return -ENOTCONN;
	s->stats.packets_received++;
	if (type == NP_INIT) {
		err = on_init(s, pkt, src, src_len, now_ms);
		if (err == -EBADMSG || err == -EACCES)
			s->stats.auth_failures++;
		return err;
	}
	if (type == NP_RESP)
		return on_resp(s, pkt, now_ms);
	if (type == NP_COOKIE)
		return on_cookie(s, pkt, now_ms);
	if (pn == 0)
		return -EPROTO;
	if (s->pend.active && sid == s->pend.k.local_sid) {
		if (open_with(&s->pend.k, pkt, len, epoch, pn, pt)) {
			s->stats.auth_failures++;
			return -EBADMSG;
		}
		pending_install(s, now_ms);             /* the initiator holds the keys */
		k = &s->cur;
	} else {
		if (s->state != NERT_ESTABLISHED && s->state != NERT_CLOSING)
			return -ENOTCONN;
		if (!(k = keys_for(s, sid)))
			return -EPROTO;
		if (window_seen(k->rx_bits, NERT_REPLAY_WINDOW, k->rx_max_pn, pn)) {
			s->stats.replays_dropped++;
			return -EALREADY;
		}
		if (open_with(k, pkt, len, epoch, pn, pt)) {
			s->stats.auth_failures++;
			return -EBADMSG;
		}
	}
	window_mark(k->rx_bits, NERT_REPLAY_WINDOW, &k->rx_max_pn, pn);
	s->last_rx_ms = now_ms;
	err = on_frame(s, pt, len - NERT_HEADER_BYTES - CX_TAG_BYTES, now_ms);
	if (s->ack_due && s->ack_due_ms <= now_ms && s->state == NERT_ESTABLISHED)
		send_ack(s, now_ms);
	return err;
}

/* ----------------------------------------------------------------- API */

/*
 * Send a whole datagram message: one DGRAM frame when it fits a packet,
 * else every fragment once as DGRAM_FRAG frames cut like reliable segments.
 */
static int send_dgram(struct nert_session *s, uint32_t id, uint8_t cls, const uint8_t *data,
		      uint32_t len, uint64_t now)
{
	uint8_t pt[DFRAG_FIXED + NERT_SEG_DATA];
	int err = 0;

	if (len <= NERT_SEG_DATA) {
		pt[0] = K_DGRAM;
		put_u32(pt + 1, id);
		pt[5] = cls;
		memcpy(pt + DGRAM_FIXED, data, len);
		return send_frame(s, pt, DGRAM_FIXED + len, now);
	}
	pt[0] = K_DGRAM_FRAG;
	put_u32(pt + 1, id);
	for (uint32_t off = 0; off < len && !err; off += NERT_SEG_DATA) {
		uint32_t n = frag_len(len, off);
		body_put(pt + 5, off, len, cls, data + off, n);
		err = send_frame(s, pt, DFRAG_FIXED + n, now);
	}
	return err;
}

/*
 * The peer reassembles one multi-packet datagram at a time, so best-effort
 * messages over a packet go one after another: when none is in progress,
 * start the oldest waiting one.
 */
static void dgram_start_next(struct nert_session *s, uint64_t now)
{
	struct nert_dgram *next = NULL;

	for (int i = 0; i < NERT_DGRAMS; i++) {
		struct nert_dgram *d = &s->dgrams[i];
		if (d->used && d->ext && !d->waiting)
			return;
		if (d->used && d->waiting && (!next || (int32_t)(d->id - next->id) < 0))
			next = d;
	}
	if (!next)
		return;
	next->waiting = false;
	next->due_ms = now + s->rto;
	send_dgram(s, next->id, next->cls, next->ext, next->len, now);
}

/* Fire-and-forget goes out at once; best effort also takes a slot for its retries. */
static int send_datagram_class(struct nert_session *s, uint8_t cls, const uint8_t *data,
			       uint32_t len, uint64_t now)
{
	struct nert_dgram *d = NULL;

	if (s->state != NERT_ESTABLISHED)
		return -ENOTCONN;
	if (cls == NERT_BEST_EFFORT) {
		for (int i = 0; i < NERT_DGRAMS && !d; i++)
			if (!s->dgrams[i].used)
				d = &s->dgrams[i];
		if (!d)
			return -EAGAIN;
	}
	for (int i = 0; i < NERT_DGRAMS; i++)       /* keep resent ids inside the peer's window */
		if (s->dgrams[i].used && s->next_dgram + 1 - s->dgrams[i].id >= NERT_DGRAM_WINDOW)
			return -EAGAIN;
	++s->next_dgram;
	if (d) {
		*d = (struct nert_dgram){ .id = s->next_dgram, .cls = cls, .len = len,
					  .due_ms = now + s->rto, .used = true };
		if (len <= NERT_SEG_DATA) {
			memcpy(d->data, data, len);
		} else {
			d->ext = data;
			d->waiting = true;
			d->due_ms = UINT64_MAX;
			dgram_start_next(s, now);
			return 0;
		}
	}
	return send_dgram(s, s->next_dgram, cls, data, len, now);
}

int nert_send(struct nert_session *s, uint8_t cls, const void *data, size_t len, uint64_t now_ms)
{
	if (s->state != NERT_ESTABLISHED && s->state != NERT_HS_SENT && s->state != NERT_IDLE &&
	    s->state != NERT_RESP_SENT)
		return -ENOTCONN;
	if (cls > NERT_CRITICAL)
		return -EINVAL;
	if (len > NERT_MAX_MESSAGE)
		return -EMSGSIZE;
	if (cls <= NERT_BEST_EFFORT)
		return send_datagram_class(s, cls, data, (uint32_t)len, now_ms);
	for (int i = 0; i < NERT_SEND_QUEUE; i++) {
		struct nert_txmsg *m = &s->txq[i];
		if (m->used)
			continue;
		*m = (struct nert_txmsg){ .data = data, .len = (uint32_t)len, .cls = cls,
					  .first_seg = s->snd_end, .used = true };
		s->snd_end += seg_count((uint32_t)len);
		pump(s, now_ms);
		return 0;
	}
	return -EAGAIN;
}

/* See nert.h. */
bool nert_send_idle(const struct nert_session *s)
{
	for (int i = 0; i < NERT_DGRAMS; i++)
		if (s->dgrams[i].used)
			return false;
	return s->snd_una == s->snd_end;
}

/* See nert.h: CLOSE goes out once the queue drains. */
int nert_close(struct nert_session *s, uint64_t now_ms)
{
	if (s->state != NERT_ESTABLISHED)
		return -ENOTCONN;
	s->state = NERT_CLOSING;
	pump(s, now_ms);
	return 0;
}

/*
 * The retransmission timer after backoff: RTO doubled per expiry since the
 * last progress (RFC 6298 5.5), but never past NERT_BACKOFF_CAP_MS (or RTO
 * itself when that is larger), so a lossy path keeps probing often enough
 * for the peer's idle timer and a recovered path is noticed quickly.
 */
static uint64_t backed_off_rto(const struct nert_session *s)
{
	uint64_t t = (uint64_t)s->rto << s->rto_backoff;
	uint64_t cap = s->rto > NERT_BACKOFF_CAP_MS ? s->rto : NERT_BACKOFF_CAP_MS;

	return t < cap ? t : cap;
}

/*
 * Tail-loss probe time (after RFC 8985's TLP): two smoothed RTTs plus the
 * peer's ACK delay after the last segment sent or acknowledged, at most
 * NERT_PROBES times between progress.  UINT64_MAX when none is due.
 */
static uint64_t probe_deadline(const struct nert_session *s)
{
	uint64_t pto = 2ull * s->srtt + DELAYED_ACK_MS;

	if (!s->rtt_valid || s->probes >= NERT_PROBES || !inflight(s))
		return UINT64_MAX;
	return s->probe_base_ms + (pto > NERT_MIN_PTO_MS ? pto : NERT_MIN_PTO_MS);
}

/*
 * A probe: resend the oldest segment in flight, twice (RFC 9002 6.2.4
 * lets a probe timeout send two packets), without declaring anything lost
 * or touching the window.  At high random loss a lone segment (a tail,
 * or the one a restarted window lets out) and its ACK often fail; the
 * probe tries again after two RTTs instead of an RTO that doubles, and
 * its ACK lets SACK find the other losses.  Two copies each draw an ACK,
 * so a probe round trip succeeds at 30 % loss 3 times in 4, not 1 in 2.
 */
static void send_probe(struct nert_session *s, uint64_t now)
{
	for (uint32_t seg = s->snd_una; seg != s->snd_nxt; seg++) {
		struct nert_txseg *t = &s->txw[seg % NERT_WINDOW];
		if (t->sent && !t->acked && !t->lost) {
			if (t->retries >= NERT_MAX_RETRIES)
				return;
			s->probes++;
			s->stats.probes++;
			send_segment(s, t, false, now);
			send_segment(s, t, false, now);
			return;
		}
	}
}

/*
 * The retransmission timer: RTO after the earliest send of a segment in
 * flight, restarted by every acknowledgement of new data, cumulative or
 * selective (RFC 6298 5.3, and RFC 8985 re-arms it on SACK progress too).
 * Without the restart a timeout fired while the ACKs of a burst of
 * retransmissions were still on their way and cut the window to one.
 */
static uint64_t rto_deadline(const struct nert_session *s)
{
	uint64_t t = UINT64_MAX;

	for (uint32_t seg = s->snd_una; seg != s->snd_nxt; seg++) {
		const struct nert_txseg *x = &s->txw[seg % NERT_WINDOW];
		uint64_t from = x->sent_ms > s->progress_ms ? x->sent_ms : s->progress_ms;
		uint64_t due = from + backed_off_rto(s);
		if (x->sent && !x->acked && !x->lost && due < t)
			t = due;
	}
	return t;
}

/*
 * Best-effort retries: an unacknowledged message is resent whole (every
 * fragment) at RTO, doubling, NERT_BE_RETRIES times; then it is given up
 * and reported through cfg.undelivered.
 */
static void dgram_timers(struct nert_session *s, uint64_t now)
{
	for (int i = 0; i < NERT_DGRAMS; i++) {
		struct nert_dgram *d = &s->dgrams[i];
		const uint8_t *data = d->ext ? d->ext : d->data;
		if (!d->used || now < d->due_ms)
			continue;
		if (d->retries++ >= NERT_BE_RETRIES) {
			d->used = false;
			s->stats.dgrams_undelivered++;
			if (s->cfg.undelivered)
				s->cfg.undelivered(s->cfg.ctx, d->cls, data, d->len, -ETIMEDOUT);
			if (d->ext)
				dgram_start_next(s, now);
			continue;
		}
		d->due_ms = now + ((uint64_t)s->rto << d->retries);
		if (send_dgram(s, d->id, d->cls, data, d->len, now))
			return;
	}
}

/*
 * When the initiator next resends INIT: 1 s after the first, then every
 * HS_RETRY_CAP_MS (a lost INIT or RESP at 50 % loss is the common case, so
 * the handshake keeps trying until NERT_HS_GIVEUP_MS).
 */
static uint64_t hs_retry_due(const struct nert_session *s)
{
	return s->hs_sent_ms + (s->hs_tries <= 1 ? 1000 : HS_RETRY_CAP_MS);
}

/* When the current keys may no longer be used: their re-handshake had NERT_HS_GIVEUP_MS and failed. */
static uint64_t keys_expire_ms(const struct nert_session *s)
{
	return s->cur.born_ms + s->cfg.rekey_ms + NERT_HS_GIVEUP_MS + NERT_KEY_OVERLAP_MS;
}

/*
 * Key lifetimes: the previous keys are wiped after their overlap, the
 * initiator re-handshakes every rekey_ms.  False when the current keys
 * expired (the session must end).
 */
static bool key_timers(struct nert_session *s, uint64_t now)
{
	if (s->prev.valid && now >= s->prev_until_ms)
		cx_wipe(&s->prev, sizeof s->prev);
	if (now >= keys_expire_ms(s))
		return false;
	if (s->initiator && !s->rekeying && now >= s->cur.born_ms + s->cfg.rekey_ms)
		handshake_start(s, true, now);
	return true;
}

/*
 * Handshake retries, key lifetimes, idle timeout, CLOSE retries, RTO, datagram retries,
 * delayed ACK, keepalive.
 */
void nert_on_timer(struct nert_session *s, uint64_t now_ms)
{
	if ((s->state == NERT_HS_SENT || s->rekeying) && now_ms >= hs_retry_due(s)) {
		if (now_ms >= s->hs_start_ms + NERT_HS_GIVEUP_MS) {
			fail(s, -ETIMEDOUT);
			return;
		}
		if (s->hs_tries < UINT8_MAX)
			s->hs_tries++;
		send_init(s, now_ms);
		if (s->state == NERT_HS_SENT)
			return;
	}
	if (s->pend.active && now_ms >= s->pend.init_ms + NERT_HS_GIVEUP_MS) {
		cx_wipe(&s->pend, sizeof s->pend);      /* never confirmed */
		if (s->state == NERT_RESP_SENT) {
			fail(s, -ETIMEDOUT);
			return;
		}
	}
	if (s->state != NERT_ESTABLISHED && s->state != NERT_CLOSING)
		return;
	if (now_ms >= s->last_rx_ms + s->cfg.idle_ms || !key_timers(s, now_ms)) {
		fail(s, -ETIMEDOUT);
		return;
	}
	if (s->close_sent && now_ms >= s->close_ms + s->rto) {
		uint8_t c = K_CLOSE;
		if (++s->close_tries > CLOSE_TRIES) {
			fail(s, 0);                  /* the peer's CLOSE never came */
			return;
		}
		s->close_ms = now_ms;                /* resend: ours may have been lost */
		send_frame(s, &c, 1, now_ms);
	}
	if (now_ms >= probe_deadline(s) && probe_deadline(s) < rto_deadline(s))
		send_probe(s, now_ms);
	if (now_ms >= rto_deadline(s)) {
		bool any = false;
		for (uint32_t seg = s->snd_una; seg != s->snd_nxt; seg++) {
			struct nert_txseg *t = &s->txw[seg % NERT_WINDOW];
			if (t->sent && !t->acked && !t->lost) {
				t->lost = true;
				any = true;
			}
		}
		/* a timeout with a queue building is congestion: restart from one
		 * segment; on a flat RTT it is random loss, and only repeated
		 * timeouts (a path that may have died) halve the window */
		if (any)
			s->stats.timeouts++;
		if (any && queue_building(s) && s->fresh_samples) {
			s->ssthresh = cwnd(s) / 2 > MIN_SSTHRESH ? cwnd(s) / 2 : MIN_SSTHRESH;
			s->cwnd_milli = 1000;
			s->recover_seg = s->snd_nxt;
			s->fresh_samples = 0;
		} else if (any && s->rto_backoff >= FLAT_TIMEOUTS) {
			s->cwnd_milli = cwnd(s) / 2 > 2 ? cwnd(s) / 2 * 1000 : 2000;
			s->recover_seg = s->snd_nxt;
		}
		if (any && s->rto_backoff < 8)
			s->rto_backoff++;               /* RFC 6298 5.5: back off the timer */
	}
	dgram_timers(s, now_ms);
	if (s->reasm.active && now_ms >= s->reasm.progress_ms + NERT_REASM_MS)
		reasm_drop(s);
	if (s->ack_due && now_ms >= s->ack_due_ms)
		send_ack(s, now_ms);
	pump(s, now_ms);
	if (now_ms >= s->last_tx_ms + s->cfg.idle_ms / 3) {
		uint8_t ping = K_PING;
		send_frame(s, &ping, 1, now_ms);
	}
}

/* The earliest of the timers nert_on_timer() serves. */
uint64_t nert_next_deadline(const struct nert_session *s)
{
	uint64_t t;

	uint64_t pend = s->pend.active ? s->pend.init_ms + NERT_HS_GIVEUP_MS : UINT64_MAX;

	if (s->state == NERT_HS_SENT)
		return hs_retry_due(s) < pend ? hs_retry_due(s) : pend;
	if (s->state != NERT_ESTABLISHED && s->state != NERT_CLOSING)
		return pend;
	t = s->last_rx_ms + s->cfg.idle_ms;
	if (pend < t)
		t = pend;
	if (s->last_tx_ms + s->cfg.idle_ms / 3 < t)
		t = s->last_tx_ms + s->cfg.idle_ms / 3;
	if (s->ack_due && s->ack_due_ms < t)
		t = s->ack_due_ms;
	if (rto_deadline(s) < t)
		t = rto_deadline(s);
	if (probe_deadline(s) < t)
		t = probe_deadline(s);
	if (s->rekeying && hs_retry_due(s) < t)
		t = hs_retry_due(s);
	if (s->initiator && !s->rekeying && s->cur.born_ms + s->cfg.rekey_ms < t)
		t = s->cur.born_ms + s->cfg.rekey_ms;
	if (keys_expire_ms(s) < t)
		t = keys_expire_ms(s);
	if (s->prev.valid && s->prev_until_ms < t)
		t = s->prev_until_ms;
	if (s->close_sent && s->close_ms + s->rto < t)
		t = s->close_ms + s->rto;
	for (int i = 0; i < NERT_DGRAMS; i++)
		if (s->dgrams[i].used && s->dgrams[i].due_ms < t)
			t = s->dgrams[i].due_ms;
	if (s->reasm.active && s->reasm.progress_ms + NERT_REASM_MS < t)
		t = s->reasm.progress_ms + NERT_REASM_MS;
	return t;
}
