/* Unit tests of the project's crypto API (crypto/crypto.h). */
#include "crypto/crypto.h"
#include "tests/check.h"

#include <errno.h>
#include <string.h>

static uint8_t key[CX_KEY_BYTES];

static void aead_round_trip_and_tamper(void)
{
	uint8_t msg[100], ct[100 + CX_TAG_BYTES], pt[100];
	uint8_t xn[CX_XNONCE_BYTES] = {1}, n[CX_NONCE_BYTES] = {2};

	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (uint8_t)i;
	CHECK_EQ(cx_xaead_seal(ct, msg, sizeof msg, (const uint8_t *)"ad", 2, xn, key), 0);
	CHECK(memcmp(ct, msg, sizeof msg) != 0);
	CHECK_EQ(cx_xaead_open(pt, ct, sizeof msg, (const uint8_t *)"ad", 2, xn, key), 0);
	CHECK(memcmp(pt, msg, sizeof msg) == 0);
	CHECK_EQ(cx_xaead_open(pt, ct, sizeof msg, (const uint8_t *)"AD", 2, xn, key), -EBADMSG);
	ct[5] ^= 1;
	CHECK_EQ(cx_xaead_open(pt, ct, sizeof msg, (const uint8_t *)"ad", 2, xn, key), -EBADMSG);
	CHECK(memcmp(pt, (uint8_t[100]){0}, sizeof pt) == 0);

	CHECK_EQ(cx_aead_seal(ct, msg, sizeof msg, NULL, 0, n, key), 0);
	CHECK_EQ(cx_aead_open(pt, ct, sizeof msg, NULL, 0, n, key), 0);
	CHECK(memcmp(pt, msg, sizeof msg) == 0);
	ct[sizeof msg] ^= 0x80; /* the tag */
	CHECK_EQ(cx_aead_open(pt, ct, sizeof msg, NULL, 0, n, key), -EBADMSG);
}

static void mac_and_hash(void)
{
	uint8_t tag[CX_MAC_BYTES], h1[CX_HASH_BYTES], h2[CX_HASH_BYTES];
	cx_hash_state st;

	CHECK_EQ(cx_mac(tag, "hello", 5, key), 0);
	CHECK_EQ(cx_mac_verify(tag, "hello", 5, key), 0);
	CHECK_EQ(cx_mac_verify(tag, "hellO", 5, key), -EBADMSG);
	CHECK_EQ(cx_hash(h1, sizeof h1, "abcdef", 6), 0);
	CHECK_EQ(cx_hash_init(&st, NULL, 0, sizeof h2), 0);
	cx_hash_update(&st, "abc", 3);
	cx_hash_update(&st, "def", 3);
	CHECK_EQ(cx_hash_final(&st, h2, sizeof h2), 0);
	CHECK(memcmp(h1, h2, sizeof h1) == 0);
	CHECK_EQ(cx_hash(h1, 8, "x", 1), -EINVAL);
}

static void kdf_separates_labels_and_ids(void)
{
	uint8_t a[CX_KEY_BYTES], b[CX_KEY_BYTES], c[CX_KEY_BYTES], a2[CX_KEY_BYTES];

	cx_kdf(a, key, "file", 1);
	cx_kdf(b, key, "file", 2);
	cx_kdf(c, key, "name", 1);
	cx_kdf(a2, key, "file", 1);
	CHECK(memcmp(a, b, sizeof a) != 0);
	CHECK(memcmp(a, c, sizeof a) != 0);
	CHECK(memcmp(a, a2, sizeof a) == 0);
}

static void signatures(void)
{
	uint8_t seed[CX_SIGN_SEED_BYTES] = {7}, pk[CX_SIGN_PUBLIC_BYTES];
	uint8_t sk[CX_SIGN_SECRET_BYTES], sig[CX_SIGNATURE_BYTES];

	CHECK_EQ(cx_sign_keypair(pk, sk, seed), 0);
	CHECK_EQ(cx_sign(sig, "cmd", 3, sk), 0);
	CHECK_EQ(cx_verify(sig, "cmd", 3, pk), 0);
	CHECK_EQ(cx_verify(sig, "cmD", 3, pk), -EBADMSG);
	sig[0] ^= 1;
	CHECK_EQ(cx_verify(sig, "cmd", 3, pk), -EBADMSG);
}

static void diffie_hellman(void)
{
	uint8_t a[CX_DH_BYTES], b[CX_DH_BYTES], pa[CX_DH_BYTES], pb[CX_DH_BYTES];
	uint8_t s1[CX_DH_BYTES], s2[CX_DH_BYTES], zero[CX_DH_BYTES] = {0};

	cx_random(a, sizeof a);
	cx_random(b, sizeof b);
	CHECK_EQ(cx_dh_public(pa, a), 0);
	CHECK_EQ(cx_dh_public(pb, b), 0);
	CHECK_EQ(cx_dh(s1, a, pb), 0);
	CHECK_EQ(cx_dh(s2, b, pa), 0);
	CHECK(memcmp(s1, s2, sizeof s1) == 0);
	CHECK_EQ(cx_dh(s1, a, zero), -EINVAL); /* small-order point */
	CHECK(cx_key_is_zero(zero, sizeof zero));
	CHECK(!cx_key_is_zero(s2, sizeof s2));
}

static void password_hash(void)
{
	uint8_t salt[CX_SALT_BYTES] = {3}, k1[CX_KEY_BYTES], k2[CX_KEY_BYTES];

	CHECK_EQ(cx_pwhash(k1, "pass", 4, salt, 1, 64 * 1024), 0);
	CHECK_EQ(cx_pwhash(k2, "pass", 4, salt, 1, 64 * 1024), 0);
	CHECK(memcmp(k1, k2, sizeof k1) == 0);
	CHECK_EQ(cx_pwhash(k2, "pasS", 4, salt, 1, 64 * 1024), 0);
	CHECK(memcmp(k1, k2, sizeof k1) != 0);
	CHECK_EQ(cx_pwhash(k2, "pass", 4, salt, 0, 64 * 1024), -EINVAL);
}

int main(void)
{
	if (cx_init() != 0)
		return 1;
	cx_random(key, sizeof key);
	RUN(aead_round_trip_and_tamper);
	RUN(mac_and_hash);
	RUN(kdf_separates_labels_and_ids);
	RUN(signatures);
	RUN(diffie_hellman);
	RUN(password_hash);
	return CHECK_EXIT_STATUS();
}
