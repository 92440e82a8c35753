/*
 * Node identities: every node holds an Ed25519 key pair, its node id is
 * derived from the public key, and the operator (queen) key signs a
 * certificate binding the id, the public key, the roles the node may take
 * and an expiry.  This file is the certificate format, the id derivation,
 * a cache of certificates already checked and the revocation list
 * (docs/PROTOCOL.md, "Identities and certificates").
 */
#ifndef EXO_NET_IDENTITY_H
#define EXO_NET_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "crypto/crypto.h"

enum {
	CERT_VERSION = 1,
	CERT_BODY_BYTES = 48,                     /* what the queen signs */
	CERT_BYTES = CERT_BODY_BYTES + CX_SIGNATURE_BYTES,
	IDENT_CERT_CACHE = 256,                   /* checked certificates, by id */
	IDENT_CERT_PROBE = 8,
	IDENT_REVOKED = 64,                       /* revoked ids kept until their expiry */
	ROLES_ALL = 0x0f,                         /* bit r: role r permitted */
};

struct node_cert {
	uint8_t version;
	uint8_t roles;          /* bit r: the node may take role r */
	uint32_t id;            /* node_id_from_pk(pk) */
	uint64_t expiry_ms;     /* swarm clock; refused from then on */
	uint8_t pk[CX_SIGN_PUBLIC_BYTES];
};
_Static_assert(CERT_BODY_BYTES == 1 + 1 + 2 + 4 + 8 + CX_SIGN_PUBLIC_BYTES, "cert layout");

/* What a node needs to speak: its key pair and its queen-signed certificate. */
struct swarm_identity {
	uint8_t pk[CX_SIGN_PUBLIC_BYTES];
	uint8_t sk[CX_SIGN_SECRET_BYTES];
	uint8_t cert[CERT_BYTES];
};

/* The node id of a public key: 32 bits of a domain-separated BLAKE2b,
 * never 0 or 0xffffffff (the broadcast address). */
uint32_t node_id_from_pk(const uint8_t pk[CX_SIGN_PUBLIC_BYTES]);

/* Serialise c (its id recomputed from pk) and sign it with the queen key. */
int cert_issue(uint8_t out[CERT_BYTES], const struct node_cert *c,
	       const uint8_t queen_sk[CX_SIGN_SECRET_BYTES]);

/* Parse without the signature check: -EPROTO unless version, reserved
 * bytes and the id derived from the key are right. */
int cert_decode(struct node_cert *c, const uint8_t in[CERT_BYTES]);

/* The byte string the queen's certificate signature covers; returns its length. */
size_t cert_signed_bytes(uint8_t *msg, const uint8_t in[CERT_BYTES]);

/* A key pair from seed and a certificate for it: for operators' tools,
 * tests and the simulator's queen. */
int identity_issue(struct swarm_identity *out, const uint8_t seed[CX_SIGN_SEED_BYTES],
		   uint8_t roles, uint64_t expiry_ms,
		   const uint8_t queen_sk[CX_SIGN_SECRET_BYTES]);

/* Certificates whose queen signature was checked, so that each costs one
 * signature check per node, not one per message. */
struct cert_cache {
	struct { uint32_t id; uint64_t used_ms; uint8_t cert[CERT_BYTES]; } e[IDENT_CERT_CACHE];
};
bool cert_cache_has(const struct cert_cache *cc, const uint8_t cert[CERT_BYTES], uint32_t id);
void cert_cache_put(struct cert_cache *cc, const uint8_t cert[CERT_BYTES], uint32_t id,
		    uint64_t now_ms);
/* The cached certificate of id (marked used at now_ms), or NULL. */
const uint8_t *cert_cache_get(struct cert_cache *cc, uint32_t id, uint64_t now_ms);
/* How many certificates the cache holds (distinct authors heard, <= 256). */
size_t cert_cache_count(const struct cert_cache *cc);

/* Revoked ids, each kept until the expiry of the certificate it ended. */
struct revocations {
	struct { uint32_t id; uint64_t until_ms; } e[IDENT_REVOKED];
};
void revocation_add(struct revocations *r, uint32_t id, uint64_t until_ms, uint64_t now_ms);
bool revoked(const struct revocations *r, uint32_t id, uint64_t now_ms);

#endif
