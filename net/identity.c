/*
 * Node certificates, id derivation, the checked-certificate cache and the
 * revocation list.  See docs/PROTOCOL.md, "Identities and certificates".
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/identity.h"

static const char id_label[] = "exoswarm node id v1";
static const char cert_label[] = "exoswarm node cert v1";

/* See identity.h. */
uint32_t node_id_from_pk(const uint8_t pk[CX_SIGN_PUBLIC_BYTES])
{
	uint8_t msg[sizeof id_label - 1 + CX_SIGN_PUBLIC_BYTES], h[16];
	uint32_t id;

	memcpy(msg, id_label, sizeof id_label - 1);
	memcpy(msg + sizeof id_label - 1, pk, CX_SIGN_PUBLIC_BYTES);
	cx_hash(h, sizeof h, msg, sizeof msg);
	id = get_u32(h);
	return id == 0 || id == 0xffffffffu ? 1 : id;
}

/* Write the signed body of c. */
static void cert_body(uint8_t out[CERT_BODY_BYTES], const struct node_cert *c)
{
	out[0] = CERT_VERSION;
	out[1] = c->roles;
	out[2] = out[3] = 0;
	put_u32(out + 4, node_id_from_pk(c->pk));
	put_u64(out + 8, c->expiry_ms);
	memcpy(out + 16, c->pk, CX_SIGN_PUBLIC_BYTES);
}

/* See identity.h. */
size_t cert_signed_bytes(uint8_t *msg, const uint8_t in[CERT_BYTES])
{
	memcpy(msg, cert_label, sizeof cert_label - 1);
	memcpy(msg + sizeof cert_label - 1, in, CERT_BODY_BYTES);
	return sizeof cert_label - 1 + CERT_BODY_BYTES;
}

/* See identity.h. */
int cert_issue(uint8_t out[CERT_BYTES], const struct node_cert *c,
	       const uint8_t queen_sk[CX_SIGN_SECRET_BYTES])
{
	uint8_t msg[sizeof cert_label + CERT_BODY_BYTES];

	cert_body(out, c);
	return cx_sign(out + CERT_BODY_BYTES, msg, cert_signed_bytes(msg, out), queen_sk);
}

/* See identity.h. */
int cert_decode(struct node_cert *c, const uint8_t in[CERT_BYTES])
{
	if (in[0] != CERT_VERSION || in[2] || in[3])
		return -EPROTO;
	c->version = in[0];
	c->roles = in[1];
	c->id = get_u32(in + 4);
	c->expiry_ms = get_u64(in + 8);
	memcpy(c->pk, in + 16, CX_SIGN_PUBLIC_BYTES);
	return c->id == node_id_from_pk(c->pk) ? 0 : -EPROTO;
}

/* See identity.h. */
int identity_issue(struct swarm_identity *out, const uint8_t seed[CX_SIGN_SEED_BYTES],
		   uint8_t roles, uint64_t expiry_ms,
		   const uint8_t queen_sk[CX_SIGN_SECRET_BYTES])
{
	struct node_cert c = { .version = CERT_VERSION, .roles = roles, .expiry_ms = expiry_ms };
	int err = cx_sign_keypair(out->pk, out->sk, seed);

	if (err)
		return err;
	memcpy(c.pk, out->pk, sizeof c.pk);
	return cert_issue(out->cert, &c, queen_sk);
}

/* First probe slot of id. */
static uint32_t cache_slot(uint32_t id)
{
	return (uint32_t)mix64(id) % IDENT_CERT_CACHE;
}

/* See identity.h: the exact bytes, so a changed certificate is checked anew. */
bool cert_cache_has(const struct cert_cache *cc, const uint8_t cert[CERT_BYTES], uint32_t id)
{
	uint32_t h = cache_slot(id);

	for (uint32_t i = 0; i < IDENT_CERT_PROBE; i++) {
		const uint8_t *c = cc->e[(h + i) % IDENT_CERT_CACHE].cert;
		if (cc->e[(h + i) % IDENT_CERT_CACHE].id == id && !memcmp(c, cert, CERT_BYTES))
			return true;
	}
	return false;
}

/* See identity.h: a HELLO that left its certificate out is checked against this one. */
const uint8_t *cert_cache_get(struct cert_cache *cc, uint32_t id, uint64_t now_ms)
{
	uint32_t h = cache_slot(id);

	for (uint32_t i = 0; i < IDENT_CERT_PROBE; i++) {
		uint32_t k = (h + i) % IDENT_CERT_CACHE;
		if (id && cc->e[k].id == id) {
			cc->e[k].used_ms = now_ms;
			return cc->e[k].cert;
		}
	}
	return NULL;
}

/* See identity.h: replaces the id's entry, a free one or the least recently used. */
void cert_cache_put(struct cert_cache *cc, const uint8_t cert[CERT_BYTES], uint32_t id,
		    uint64_t now_ms)
{
	uint32_t h = cache_slot(id), victim = h;

	for (uint32_t i = 0; i < IDENT_CERT_PROBE; i++) {
		uint32_t k = (h + i) % IDENT_CERT_CACHE;
		if (cc->e[k].id == id || cc->e[k].id == 0) {
			victim = k;
			break;
		}
		if (cc->e[k].used_ms < cc->e[victim].used_ms)
			victim = k;
	}
	cc->e[victim].id = id;
	cc->e[victim].used_ms = now_ms;
	memcpy(cc->e[victim].cert, cert, CERT_BYTES);
}

/* See identity.h: a full list drops the entry that expires first. */
void revocation_add(struct revocations *r, uint32_t id, uint64_t until_ms, uint64_t now_ms)
{
	int victim = 0;

	for (int i = 0; i < IDENT_REVOKED; i++) {
		if (r->e[i].id == id) {
			victim = i;
			if (r->e[i].until_ms > until_ms)
				until_ms = r->e[i].until_ms;
			break;
		}
		if (r->e[i].until_ms <= now_ms || r->e[i].until_ms < r->e[victim].until_ms)
			victim = i;
	}
	r->e[victim].id = id;
	r->e[victim].until_ms = until_ms;
}

/* See identity.h. */
bool revoked(const struct revocations *r, uint32_t id, uint64_t now_ms)
{
	for (int i = 0; i < IDENT_REVOKED; i++)
		if (r->e[i].id == id && r->e[i].until_ms > now_ms)
			return true;
	return false;
}

/* See identity.h. */
size_t cert_cache_count(const struct cert_cache *cc)
{
	size_t n = 0;

	for (int i = 0; i < IDENT_CERT_CACHE; i++)
		n += cc->e[i].id != 0;
	return n;
}
