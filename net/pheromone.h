/*
 * Pheromones: the swarm's small authenticated gossip messages.  This file
 * is only the wire format (docs/PROTOCOL.md, "Pheromone"): a 24-byte
 * header in network byte order, a payload, the author's certificate, the
 * author's Ed25519 signature, and a 16-byte keyed-BLAKE2b MAC under the
 * swarm's MAC key (a cheap outer filter).  ttl and hops change at every
 * relay and are left out of signature and MAC; everything else is covered.
 */
#ifndef EXO_NET_PHEROMONE_H
#define EXO_NET_PHEROMONE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "crypto/crypto.h"
#include "net/identity.h"

enum {
	PHEROMONE_VERSION = 6,     /* 6: HELLO may leave the certificate out; 5: writer-signed
				      store entries; 4: anti-entropy digests of 16 IDs;
				      3: signed by the author */
	PHEROMONE_HEADER_BYTES = 24,
	PHEROMONE_MAC_BYTES = CX_MAC_BYTES,
	PHEROMONE_AUTH_BYTES = CERT_BYTES + CX_SIGNATURE_BYTES,   /* cert, author signature */
	PHEROMONE_TRAILER_BYTES = PHEROMONE_AUTH_BYTES + PHEROMONE_MAC_BYTES,
	PHEROMONE_MAX_BYTES = 1200,
	PHEROMONE_MAX_PAYLOAD = PHEROMONE_MAX_BYTES - PHEROMONE_HEADER_BYTES -
				PHEROMONE_TRAILER_BYTES,
	PHEROMONE_MAX_TTL = 64,
};

enum pheromone_type {
	PH_HELLO = 1,      /* heartbeat, link-local */
	PH_DATA = 2,       /* application data, flooded */
	PH_ALARM = 3,      /* security or application alarm, flooded */
	PH_QUEEN_CMD = 4,  /* queen command, flooded, Ed25519-signed */
	PH_REBIRTH = 5,    /* "my old identity died", flooded */
	PH_DIE = 6,        /* queen-signed order for one node to die, flooded */
	PH_STATE = 7,      /* replicated key/value entries */
	PH_MODULE = 8,     /* module payload (maze, ...) */
	PH_PING = 9,       /* membership probe, link-local */
	PH_ACK = 10,       /* probe answer, link-local */
	PH_PING_REQ = 11,  /* ask a neighbour to probe for us, link-local */
	PH_PULL = 12,      /* ask a neighbour to resend a message, link-local */
	PH_SUSPECT = 13,   /* "I suspect this neighbour", two hops */
	PH_ALIVE = 14,     /* refutation of a suspicion by its target, two hops */
	PH_TYPE_MAX = 14,
};

/* Header flags. */
enum {
	PHF_SIGNED = 0x01, /* payload ends with a 64-byte queen signature */
	PHF_NO_CERT = 0x02, /* HELLO only: the certificate is left out (still signed
			       over); the receiver takes it from its cache by sender id */
	PHF_CERT_WANTED = 0x04, /* HELLO only: "I skipped a HELLO whose certificate I
				   lack: put yours in your next one" */
	PHF_KNOWN = PHF_SIGNED | PHF_NO_CERT | PHF_CERT_WANTED,
};

struct pheromone {
	uint8_t version;
	uint8_t type;
	uint8_t ttl;
	uint8_t hops;
	uint32_t sender;       /* author's node id (from its public key) */
	uint32_t seq;          /* incarnation << 20 | per-life counter from 1 */
	uint64_t timestamp_ms; /* sender's swarm clock when created */
	uint16_t payload_len;
	uint8_t flags;
	const uint8_t *payload;   /* points into the decoded buffer */
	const uint8_t *cert;      /* ditto: the author's certificate (NULL: PHF_NO_CERT) */
	const uint8_t *sig;       /* ditto: the author's signature */
	const uint8_t *mac;       /* ditto */
};
_Static_assert(PHEROMONE_HEADER_BYTES == 1 + 1 + 1 + 1 + 4 + 4 + 8 + 2 + 1 + 1,
	       "pheromone header layout");

/* The 64-bit message identifier (sender, seq) used for duplicate suppression. */
static inline uint64_t pheromone_id(const struct pheromone *p)
{
	return ((uint64_t)p->sender << 32) | p->seq;
}

/* True for the types gossip relays beyond the first hop. */
bool pheromone_type_relayed(uint8_t type);

/* True for the relayed types kept in the message cache for repair (not the
 * two-hop membership messages, which matter only while fresh). */
bool pheromone_type_repaired(uint8_t type);

/* Derive the MAC key from the swarm key (domain-separated). */
int pheromone_mac_key(uint8_t mac_key[CX_KEY_BYTES], const uint8_t swarm_key[CX_KEY_BYTES]);

/*
 * Serialise header fields of h (pointers ignored) plus payload, append
 * the author's certificate (unless h->flags has PHF_NO_CERT: a HELLO) and
 * signature (by author->sk, over the certificate either way), then the
 * MAC.  Returns the packet length or -EINVAL / -EMSGSIZE.
 */
int pheromone_encode(uint8_t *buf, size_t cap, const struct pheromone *h,
		     const void *payload, size_t payload_len,
		     const struct swarm_identity *author, const uint8_t mac_key[CX_KEY_BYTES]);

/* The byte string the author's signature covers (label, header with ttl and
 * hops zero, payload, certificate) into msg; returns its length. */
size_t pheromone_signed_bytes(uint8_t msg[PHEROMONE_MAX_BYTES + 32], const struct pheromone *p);

/* Parse a packet without checking MAC or signatures: 0, or -EPROTO / -EMSGSIZE.
 * With PHF_NO_CERT, out->cert is NULL: the caller supplies the sender's
 * certificate before pheromone_signed_bytes(). */
int pheromone_decode(struct pheromone *out, const uint8_t *buf, size_t len);

/* 0 when the MAC of a decoded packet is right, -EBADMSG otherwise. */
int pheromone_verify(const struct pheromone *p, const uint8_t mac_key[CX_KEY_BYTES]);

/* Rewrite the mutable routing fields of an encoded packet for a relay. */
void pheromone_set_route(uint8_t *buf, uint8_t ttl, uint8_t hops);

/*
 * Queen signatures: the message signed is a domain label, the header with
 * ttl and hops zeroed, and the body (payload without its signature).
 */
int pheromone_queen_sign(uint8_t sig[CX_SIGNATURE_BYTES], const struct pheromone *h,
			 const uint8_t *body, size_t body_len,
			 const uint8_t queen_sk[CX_SIGN_SECRET_BYTES]);
int pheromone_queen_verify(const struct pheromone *p,
			   const uint8_t queen_pk[CX_SIGN_PUBLIC_BYTES]);

#endif
