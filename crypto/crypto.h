/*
 * The project's crypto API: a thin layer over libsodium, so that CryptoFS,
 * the swarm protocols and the tools name one small set of primitives and
 * never call libsodium directly, plus AEGIS-256 (aegis256.c), which
 * Debian's libsodium 1.0.18 predates.  Every function returns 0 on success and a
 * negative errno value on failure (-EBADMSG when authentication fails,
 * -EINVAL for bad sizes or weak keys, -ENOMEM when Argon2 cannot allocate).
 * Call cx_init() once before anything else.
 */
#ifndef EXO_CRYPTO_H
#define EXO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

enum {
	CX_KEY_BYTES = 32,          /* every symmetric key */
	CX_TAG_BYTES = 16,          /* AEAD tag (Poly1305) */
	CX_XNONCE_BYTES = 24,       /* XChaCha20-Poly1305 nonce */
	CX_NONCE_BYTES = 12,        /* ChaCha20-Poly1305 (IETF) nonce */
	CX_MAC_BYTES = 16,          /* keyed BLAKE2b MAC, 128 bits */
	CX_HASH_BYTES = 32,         /* BLAKE2b-256 */
	CX_SIGN_PUBLIC_BYTES = 32,  /* Ed25519 public key */
	CX_SIGN_SECRET_BYTES = 64,  /* Ed25519 secret key (seed || public) */
	CX_SIGN_SEED_BYTES = 32,
	CX_SIGNATURE_BYTES = 64,
	CX_DH_BYTES = 32,           /* X25519 public key, secret key, shared */
	CX_SALT_BYTES = 16,         /* Argon2id salt */
};

int cx_init(void);

/* Fill buf with bytes from the system CSPRNG. */
void cx_random(void *buf, size_t len);

/* Overwrite secrets so the compiler cannot elide it. */
void cx_wipe(void *buf, size_t len);

/* Constant-time comparison: 1 when equal, 0 otherwise. */
int cx_equal(const void *a, const void *b, size_t len);

/* 1 when the key is all zero bytes (refused everywhere keys are accepted). */
int cx_key_is_zero(const uint8_t *key, size_t len);

/*
 * XChaCha20-Poly1305: out receives len bytes of ciphertext followed by the
 * CX_TAG_BYTES tag.  open takes the ciphertext and tag (len excludes the
 * tag) and returns -EBADMSG, leaving out zeroed, if anything was changed.
 */
int cx_xaead_seal(uint8_t *out, const uint8_t *in, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_XNONCE_BYTES], const uint8_t key[CX_KEY_BYTES]);
int cx_xaead_open(uint8_t *out, const uint8_t *in, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_XNONCE_BYTES], const uint8_t key[CX_KEY_BYTES]);

/*
 * AEGIS-256 with 128-bit tags (crypto/aegis256.c): the block cipher of
 * CryptoFS format 2.  Its 256-bit nonce may be random.  It needs AES-NI:
 * without it cx_aegis_available() is 0 and the calls return -ENOTSUP.
 * The tag is detached: seal writes len bytes to out and CX_TAG_BYTES to
 * tag; open returns -EBADMSG, with out zeroed, when anything was changed.
 * out may equal in.
 */
enum { CX_AEGIS_NONCE_BYTES = 32 };
int cx_aegis_available(void);
int cx_aegis_seal(uint8_t *out, uint8_t tag[CX_TAG_BYTES], const uint8_t *in, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_AEGIS_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES]);
int cx_aegis_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t tag[CX_TAG_BYTES],
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_AEGIS_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES]);

/* Many messages of the same lengths at once (several per register where
 * the CPU has VAES), each with its own key, nonce and buffers.  open_many
 * sets rc of each message and returns -EBADMSG when any failed. */
struct cx_aegis_msg {
	uint8_t *out;
	const uint8_t *in;
	const uint8_t *ad;
	const uint8_t *nonce;
	const uint8_t *key;
	uint8_t *tag;           /* written by seal, read by open */
	int rc;
};
int cx_aegis_seal_many(struct cx_aegis_msg *m, size_t n, size_t len, size_t adlen);
int cx_aegis_open_many(struct cx_aegis_msg *m, size_t n, size_t len, size_t adlen);
/* Tests only: use at most n lanes per register (0 acts as a CPU without AES). */
void cx_aegis_limit_lanes(int n);

/* ChaCha20-Poly1305 (RFC 8439) with a 96-bit nonce; same conventions. */
int cx_aead_seal(uint8_t *out, const uint8_t *in, size_t len,
		 const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[CX_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES]);
int cx_aead_open(uint8_t *out, const uint8_t *in, size_t len,
		 const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[CX_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES]);

/* ChaCha20 keystream (the 64-bit-nonce variant): len pseudo-random bytes,
 * a different stream for every nonce under a key. */
void cx_stream(uint8_t *out, size_t len, uint64_t nonce, const uint8_t key[CX_KEY_BYTES]);

/* BLAKE2b: an unkeyed hash of outlen (16..64) bytes, and a keyed MAC. */
int cx_hash(uint8_t *out, size_t outlen, const void *in, size_t len);
int cx_mac(uint8_t out[CX_MAC_BYTES], const void *in, size_t len,
	   const uint8_t key[CX_KEY_BYTES]);
/* 0 when tag is the MAC of in under key, -EBADMSG otherwise (constant time). */
int cx_mac_verify(const uint8_t tag[CX_MAC_BYTES], const void *in, size_t len,
		  const uint8_t key[CX_KEY_BYTES]);

/* Incremental keyed or unkeyed BLAKE2b for data that arrives in pieces. */
typedef struct { _Alignas(64) uint8_t opaque[384]; } cx_hash_state;
int cx_hash_init(cx_hash_state *st, const uint8_t *key, size_t keylen, size_t outlen);
int cx_hash_update(cx_hash_state *st, const void *in, size_t len);
int cx_hash_final(cx_hash_state *st, uint8_t *out, size_t outlen);

/*
 * Key derivation: a subkey bound to a context label (up to 64 bytes of
 * text or binary) and a 64-bit id, from a master key.  Different labels or
 * ids give independent keys.
 */
int cx_kdf(uint8_t out[CX_KEY_BYTES], const uint8_t master[CX_KEY_BYTES],
	   const char *label, uint64_t id);

/* Argon2id from a passphrase; ops >= 1, mem_bytes >= 8 KiB. */
int cx_pwhash(uint8_t out[CX_KEY_BYTES], const char *pass, size_t passlen,
	      const uint8_t salt[CX_SALT_BYTES], uint64_t ops, size_t mem_bytes);

/* Ed25519. */
int cx_sign_keypair(uint8_t pk[CX_SIGN_PUBLIC_BYTES], uint8_t sk[CX_SIGN_SECRET_BYTES],
		    const uint8_t seed[CX_SIGN_SEED_BYTES]);
int cx_sign(uint8_t sig[CX_SIGNATURE_BYTES], const void *msg, size_t len,
	    const uint8_t sk[CX_SIGN_SECRET_BYTES]);
/* 0 when valid, -EBADMSG otherwise; refuses small-order public keys. */
int cx_verify(const uint8_t sig[CX_SIGNATURE_BYTES], const void *msg, size_t len,
	      const uint8_t pk[CX_SIGN_PUBLIC_BYTES]);

/* X25519: public key from secret, and a shared secret (-EINVAL when the
 * peer's key has small order, so the result would be all zero). */
int cx_dh_public(uint8_t pk[CX_DH_BYTES], const uint8_t sk[CX_DH_BYTES]);
int cx_dh(uint8_t shared[CX_DH_BYTES], const uint8_t sk[CX_DH_BYTES],
	  const uint8_t peer_pk[CX_DH_BYTES]);

#endif
