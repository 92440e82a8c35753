/*
 * Pheromone wire format: encode, decode, MAC and queen signature.
 * Layout and rationale are in docs/PROTOCOL.md, "Pheromone".
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/pheromone.h"

static const char queen_label[] = "exoswarm queen command v1";
static const char author_label[] = "exoswarm pheromone v3";

/* The flooded types; the rest are link-local. */
bool pheromone_type_relayed(uint8_t type)
{
	switch (type) {
	case PH_DATA: case PH_ALARM: case PH_QUEEN_CMD: case PH_REBIRTH:
	case PH_DIE: case PH_STATE: case PH_MODULE: case PH_SUSPECT: case PH_ALIVE:
		return true;
	default:
		return false;
	}
}

/* Flooded types that anti-entropy repairs. */
bool pheromone_type_repaired(uint8_t type)
{
	return pheromone_type_relayed(type) && type != PH_SUSPECT && type != PH_ALIVE;
}

/* Domain-separated MAC key; an all-zero swarm key is refused. */
int pheromone_mac_key(uint8_t mac_key[CX_KEY_BYTES], const uint8_t swarm_key[CX_KEY_BYTES])
{
	if (cx_key_is_zero(swarm_key, CX_KEY_BYTES))
		return -EINVAL;
	return cx_kdf(mac_key, swarm_key, "exoswarm pheromone mac", 1);
}

/* Write the header of h into out, with the mutable ttl/hops as given. */
static void header_write(uint8_t out[PHEROMONE_HEADER_BYTES], const struct pheromone *h,
			 uint8_t ttl, uint8_t hops)
{
	out[0] = h->version;
	out[1] = h->type;
	out[2] = ttl;
	out[3] = hops;
	put_u32(out + 4, h->sender);
	put_u32(out + 8, h->seq);
	put_u64(out + 12, h->timestamp_ms);
	put_u16(out + 20, h->payload_len);
	out[22] = h->flags;
	out[23] = 0;
}

/* Certificate and signature bytes on the wire after the payload. */
static size_t auth_bytes(uint8_t flags)
{
	return flags & PHF_NO_CERT ? CX_SIGNATURE_BYTES : PHEROMONE_AUTH_BYTES;
}

/* MAC over the header with ttl and hops zeroed, then payload, certificate
 * (unless left out) and signature (contiguous after the payload). */
static int compute_mac(uint8_t tag[CX_MAC_BYTES], const struct pheromone *h,
		       const uint8_t *payload, const uint8_t key[CX_KEY_BYTES])
{
	uint8_t hdr[PHEROMONE_HEADER_BYTES];
	cx_hash_state st;

	header_write(hdr, h, 0, 0);
	if (cx_hash_init(&st, key, CX_KEY_BYTES, CX_MAC_BYTES) ||
	    cx_hash_update(&st, hdr, sizeof hdr) ||
	    cx_hash_update(&st, payload, h->payload_len + auth_bytes(h->flags)) ||
	    cx_hash_final(&st, tag, CX_MAC_BYTES))
		return -EINVAL;
	return 0;
}

/* Label, header with ttl and hops zero, payload and certificate. */
static size_t signed_bytes(uint8_t *msg, const struct pheromone *h, const uint8_t *payload,
			   const uint8_t *cert)
{
	size_t n = sizeof author_label - 1;

	memcpy(msg, author_label, n);
	header_write(msg + n, h, 0, 0);
	n += PHEROMONE_HEADER_BYTES;
	memcpy(msg + n, payload, h->payload_len);
	n += h->payload_len;
	memcpy(msg + n, cert, CERT_BYTES);
	return n + CERT_BYTES;
}

/* See pheromone.h. */
size_t pheromone_signed_bytes(uint8_t msg[PHEROMONE_MAX_BYTES + 32], const struct pheromone *p)
{
	return signed_bytes(msg, p, p->payload, p->cert);
}

/* See pheromone.h. */
int pheromone_encode(uint8_t *buf, size_t cap, const struct pheromone *h,
		     const void *payload, size_t payload_len,
		     const struct swarm_identity *author, const uint8_t mac_key[CX_KEY_BYTES])
{
	uint8_t msg[PHEROMONE_MAX_BYTES + 32];
	struct pheromone w = *h;
	size_t total = PHEROMONE_HEADER_BYTES + payload_len + auth_bytes(h->flags) +
		       PHEROMONE_MAC_BYTES;
	uint8_t *sig = buf + PHEROMONE_HEADER_BYTES + payload_len;

	if (payload_len > PHEROMONE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (total > cap || h->type == 0 || h->type > PH_TYPE_MAX ||
	    h->ttl == 0 || h->ttl > PHEROMONE_MAX_TTL || (h->flags & ~PHF_KNOWN) ||
	    (h->type != PH_HELLO && (h->flags & (PHF_NO_CERT | PHF_CERT_WANTED))))
		return -EINVAL;
	w.version = PHEROMONE_VERSION;
	w.payload_len = (uint16_t)payload_len;
	header_write(buf, &w, w.ttl, w.hops);
	if (payload_len)
		memmove(buf + PHEROMONE_HEADER_BYTES, payload, payload_len);
	if (!(h->flags & PHF_NO_CERT)) {
		memcpy(sig, author->cert, CERT_BYTES);
		sig += CERT_BYTES;
	}
	if (cx_sign(sig, msg, signed_bytes(msg, &w, buf + PHEROMONE_HEADER_BYTES, author->cert),
		    author->sk) ||
	    compute_mac(sig + CX_SIGNATURE_BYTES, &w, buf + PHEROMONE_HEADER_BYTES, mac_key))
		return -EINVAL;
	return (int)total;
}

/* See pheromone.h: structural checks only, no MAC. */
int pheromone_decode(struct pheromone *out, const uint8_t *buf, size_t len)
{
	size_t plen, auth;

	if (len < PHEROMONE_HEADER_BYTES + CX_SIGNATURE_BYTES + PHEROMONE_MAC_BYTES ||
	    len > PHEROMONE_MAX_BYTES)
		return -EMSGSIZE;
	if (buf[0] != PHEROMONE_VERSION || buf[1] == 0 || buf[1] > PH_TYPE_MAX ||
	    buf[2] == 0 || buf[2] > PHEROMONE_MAX_TTL || buf[23] != 0 || (buf[22] & ~PHF_KNOWN) ||
	    (buf[1] != PH_HELLO && (buf[22] & (PHF_NO_CERT | PHF_CERT_WANTED))))
		return -EPROTO;
	plen = get_u16(buf + 20);
	auth = auth_bytes(buf[22]);
	if (PHEROMONE_HEADER_BYTES + plen + auth + PHEROMONE_MAC_BYTES != len)
		return -EPROTO;
	out->version = buf[0];
	out->type = buf[1];
	out->ttl = buf[2];
	out->hops = buf[3];
	out->sender = get_u32(buf + 4);
	out->seq = get_u32(buf + 8);
	out->timestamp_ms = get_u64(buf + 12);
	out->payload_len = (uint16_t)plen;
	out->flags = buf[22];
	out->payload = buf + PHEROMONE_HEADER_BYTES;
	out->cert = auth == PHEROMONE_AUTH_BYTES ? buf + PHEROMONE_HEADER_BYTES + plen : NULL;
	out->sig = buf + PHEROMONE_HEADER_BYTES + plen + auth - CX_SIGNATURE_BYTES;
	out->mac = out->sig + CX_SIGNATURE_BYTES;
	if (out->sender == 0 || out->seq == 0)
		return -EPROTO;
	return 0;
}

/* Constant-time MAC check of a decoded packet. */
int pheromone_verify(const struct pheromone *p, const uint8_t mac_key[CX_KEY_BYTES])
{
	uint8_t tag[CX_MAC_BYTES];

	if (compute_mac(tag, p, p->payload, mac_key))
		return -EBADMSG;
	return cx_equal(tag, p->mac, CX_MAC_BYTES) ? 0 : -EBADMSG;
}

/* Rewrite ttl and hops in place (they are outside the MAC). */
void pheromone_set_route(uint8_t *buf, uint8_t ttl, uint8_t hops)
{
	buf[2] = ttl;
	buf[3] = hops;
}

/* Build the byte string a queen signature covers into msg; returns its length. */
static size_t queen_message(uint8_t *msg, const struct pheromone *h,
			    const uint8_t *body, size_t body_len)
{
	size_t n = sizeof queen_label - 1;

	memcpy(msg, queen_label, n);
	header_write(msg + n, h, 0, 0);
	n += PHEROMONE_HEADER_BYTES;
	memcpy(msg + n, body, body_len);
	return n + body_len;
}

/* Sign body as the queen for header h (payload_len and flags as sent). */
int pheromone_queen_sign(uint8_t sig[CX_SIGNATURE_BYTES], const struct pheromone *h,
			 const uint8_t *body, size_t body_len,
			 const uint8_t queen_sk[CX_SIGN_SECRET_BYTES])
{
	uint8_t msg[sizeof queen_label + PHEROMONE_HEADER_BYTES + PHEROMONE_MAX_PAYLOAD];
	struct pheromone w = *h;

	if (body_len + CX_SIGNATURE_BYTES > PHEROMONE_MAX_PAYLOAD)
		return -EMSGSIZE;
	w.version = PHEROMONE_VERSION;
	w.payload_len = (uint16_t)(body_len + CX_SIGNATURE_BYTES);
	w.flags |= PHF_SIGNED;
	return cx_sign(sig, msg, queen_message(msg, &w, body, body_len), queen_sk);
}

/* Check the queen signature at the end of a SIGNED payload. */
int pheromone_queen_verify(const struct pheromone *p,
			   const uint8_t queen_pk[CX_SIGN_PUBLIC_BYTES])
{
	uint8_t msg[sizeof queen_label + PHEROMONE_HEADER_BYTES + PHEROMONE_MAX_PAYLOAD];
	size_t body_len;

	if (!(p->flags & PHF_SIGNED) || p->payload_len < CX_SIGNATURE_BYTES)
		return -EBADMSG;
	body_len = p->payload_len - CX_SIGNATURE_BYTES;
	return cx_verify(p->payload + body_len, msg,
			 queen_message(msg, p, p->payload, body_len), queen_pk);
}
