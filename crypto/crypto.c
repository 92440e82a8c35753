/* The project's crypto API over libsodium; see crypto.h. */
#include "crypto.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

_Static_assert(CX_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key");
_Static_assert(CX_KEY_BYTES == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "key");
_Static_assert(CX_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag");
_Static_assert(CX_XNONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "xnonce");
_Static_assert(CX_NONCE_BYTES == crypto_aead_chacha20poly1305_ietf_NPUBBYTES, "nonce");
_Static_assert(CX_SIGN_PUBLIC_BYTES == crypto_sign_PUBLICKEYBYTES, "pk");
_Static_assert(CX_SIGN_SECRET_BYTES == crypto_sign_SECRETKEYBYTES, "sk");
_Static_assert(CX_SIGN_SEED_BYTES == crypto_sign_SEEDBYTES, "seed");
_Static_assert(CX_SIGNATURE_BYTES == crypto_sign_BYTES, "sig");
_Static_assert(CX_DH_BYTES == crypto_scalarmult_BYTES, "dh");
_Static_assert(CX_SALT_BYTES == crypto_pwhash_SALTBYTES, "salt");
_Static_assert(sizeof(cx_hash_state) >= sizeof(crypto_generichash_state), "hash state");

int cx_init(void)
{
	cx_aegis_available();       /* look at the CPU once, before any threads */
	return sodium_init() < 0 ? -EIO : 0;
}

void cx_random(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

void cx_wipe(void *buf, size_t len)
{
	sodium_memzero(buf, len);
}

int cx_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

int cx_key_is_zero(const uint8_t *key, size_t len)
{
	return sodium_is_zero(key, len);
}

int cx_xaead_seal(uint8_t *out, const uint8_t *in, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_XNONCE_BYTES], const uint8_t key[CX_KEY_BYTES])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen,
						   NULL, nonce, key);
	return 0;
}

int cx_xaead_open(uint8_t *out, const uint8_t *in, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_XNONCE_BYTES], const uint8_t key[CX_KEY_BYTES])
{
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, in,
			len + CX_TAG_BYTES, ad, adlen, nonce, key) != 0) {
		if (out && len)
			memset(out, 0, len);
		return -EBADMSG;
	}
	return 0;
}

int cx_aead_seal(uint8_t *out, const uint8_t *in, size_t len,
		 const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[CX_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES])
{
	crypto_aead_chacha20poly1305_ietf_encrypt(out, NULL, in, len, ad, adlen,
						  NULL, nonce, key);
	return 0;
}

int cx_aead_open(uint8_t *out, const uint8_t *in, size_t len,
		 const uint8_t *ad, size_t adlen,
		 const uint8_t nonce[CX_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES])
{
	if (crypto_aead_chacha20poly1305_ietf_decrypt(out, NULL, NULL, in,
			len + CX_TAG_BYTES, ad, adlen, nonce, key) != 0) {
		if (out && len)
			memset(out, 0, len);
		return -EBADMSG;
	}
	return 0;
}

void cx_stream(uint8_t *out, size_t len, uint64_t nonce, const uint8_t key[CX_KEY_BYTES])
{
	uint8_t n[crypto_stream_chacha20_NONCEBYTES];

	_Static_assert(sizeof n == 8, "chacha20 nonce");
	memcpy(n, &nonce, sizeof n);
	crypto_stream_chacha20(out, len, n, key);
}

int cx_hash(uint8_t *out, size_t outlen, const void *in, size_t len)
{
	if (outlen < crypto_generichash_BYTES_MIN || outlen > crypto_generichash_BYTES_MAX)
		return -EINVAL;
	return crypto_generichash(out, outlen, in, len, NULL, 0) ? -EINVAL : 0;
}

int cx_mac(uint8_t out[CX_MAC_BYTES], const void *in, size_t len,
	   const uint8_t key[CX_KEY_BYTES])
{
	return crypto_generichash(out, CX_MAC_BYTES, in, len, key, CX_KEY_BYTES)
		? -EINVAL : 0;
}

int cx_mac_verify(const uint8_t tag[CX_MAC_BYTES], const void *in, size_t len,
		  const uint8_t key[CX_KEY_BYTES])
{
	uint8_t want[CX_MAC_BYTES];
	int ok = cx_mac(want, in, len, key) == 0 && cx_equal(want, tag, CX_MAC_BYTES);

	cx_wipe(want, sizeof want);
	return ok ? 0 : -EBADMSG;
}

int cx_hash_init(cx_hash_state *st, const uint8_t *key, size_t keylen, size_t outlen)
{
	if (outlen < crypto_generichash_BYTES_MIN || outlen > crypto_generichash_BYTES_MAX ||
	    keylen > crypto_generichash_KEYBYTES_MAX)
		return -EINVAL;
	return crypto_generichash_init((crypto_generichash_state *)st, key, keylen, outlen)
		? -EINVAL : 0;
}

int cx_hash_update(cx_hash_state *st, const void *in, size_t len)
{
	return crypto_generichash_update((crypto_generichash_state *)st, in, len)
		? -EINVAL : 0;
}

int cx_hash_final(cx_hash_state *st, uint8_t *out, size_t outlen)
{
	return crypto_generichash_final((crypto_generichash_state *)st, out, outlen)
		? -EINVAL : 0;
}

/*
 * BLAKE2b keyed with the master key over (id, label): a PRF, so outputs for
 * different (label, id) pairs are independent.  The id goes first with a
 * fixed width so that no two inputs collide.
 */
int cx_kdf(uint8_t out[CX_KEY_BYTES], const uint8_t master[CX_KEY_BYTES],
	   const char *label, uint64_t id)
{
	crypto_generichash_state st;
	uint8_t idbytes[8];
	size_t n = strlen(label);

	if (n > 64)
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		idbytes[i] = (uint8_t)(id >> (8 * i));
	crypto_generichash_init(&st, master, CX_KEY_BYTES, CX_KEY_BYTES);
	crypto_generichash_update(&st, idbytes, sizeof idbytes);
	crypto_generichash_update(&st, (const uint8_t *)label, n);
	crypto_generichash_final(&st, out, CX_KEY_BYTES);
	sodium_memzero(&st, sizeof st);
	return 0;
}

int cx_pwhash(uint8_t out[CX_KEY_BYTES], const char *pass, size_t passlen,
	      const uint8_t salt[CX_SALT_BYTES], uint64_t ops, size_t mem_bytes)
{
	if (ops < crypto_pwhash_OPSLIMIT_MIN || mem_bytes < crypto_pwhash_MEMLIMIT_MIN)
		return -EINVAL;
	if (crypto_pwhash(out, CX_KEY_BYTES, pass, passlen, salt, ops, mem_bytes,
			  crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -ENOMEM;
	return 0;
}

int cx_sign_keypair(uint8_t pk[CX_SIGN_PUBLIC_BYTES], uint8_t sk[CX_SIGN_SECRET_BYTES],
		    const uint8_t seed[CX_SIGN_SEED_BYTES])
{
	return crypto_sign_seed_keypair(pk, sk, seed) ? -EINVAL : 0;
}

int cx_sign(uint8_t sig[CX_SIGNATURE_BYTES], const void *msg, size_t len,
	    const uint8_t sk[CX_SIGN_SECRET_BYTES])
{
	return crypto_sign_detached(sig, NULL, msg, len, sk) ? -EINVAL : 0;
}

int cx_verify(const uint8_t sig[CX_SIGNATURE_BYTES], const void *msg, size_t len,
	      const uint8_t pk[CX_SIGN_PUBLIC_BYTES])
{
	return crypto_sign_verify_detached(sig, msg, len, pk) ? -EBADMSG : 0;
}

int cx_dh_public(uint8_t pk[CX_DH_BYTES], const uint8_t sk[CX_DH_BYTES])
{
	return crypto_scalarmult_base(pk, sk) ? -EINVAL : 0;
}

int cx_dh(uint8_t shared[CX_DH_BYTES], const uint8_t sk[CX_DH_BYTES],
	  const uint8_t peer_pk[CX_DH_BYTES])
{
	return crypto_scalarmult(shared, sk, peer_pk) ? -EINVAL : 0;
}
