/*
 * AEGIS-256 (crypto/aegis256.c): the test vectors of the CFRG draft's
 * AEGIS-256 section, at every lane width this CPU has; batches agree with
 * single messages; every changed bit of ciphertext, tag, nonce, key or
 * associated data is refused; and the -ENOTSUP path of CPUs without AES.
 */
#include "crypto/crypto.h"
#include "tests/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The draft's vectors: key, nonce, ad, msg, ct, tag128 in hex; a vector
 * with valid = 0 must fail to open. */
struct vector { const char *key, *nonce, *ad, *msg, *ct, *tag; int valid; };

#define K1 "1001000000000000000000000000000000000000000000000000000000000000"
#define N1 "1000020000000000000000000000000000000000000000000000000000000000"
static const struct vector vectors[] = {
	{ K1, N1, "", "00000000000000000000000000000000",
	  "754fc3d8c973246dcc6d741412a4b236", "3fe91994768b332ed7f570a19ec5896e", 1 },
	{ K1, N1, "", "", "", "e3def978a0f054afd1e761d7553afba3", 1 },
	{ K1, N1, "0001020304050607",
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	  "f373079ed84b2709faee373584585d60accd191db310ef5d8b11833df9dec711",
	  "8d86f91ee606e9ff26a01b64ccbdd91d", 1 },
	{ K1, N1, "0001020304050607", "000102030405060708090a0b0c0d",
	  "f373079ed84b2709faee37358458", "c60b9c2d33ceb058f96e6dd03c215652", 1 },
	{ K1, N1,
	  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829",
	  "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637",
	  "57754a7d09963e7c787583a2e7b859bb24fa1e04d49fd550b2511a358e3bca252a9b1b8b30cc4a67",
	  "ab8a7d53fd0e98d727accca94925e128", 1 },
	{ N1, K1, "0001020304050607", NULL, "f373079ed84b2709faee37358458",
	  "c60b9c2d33ceb058f96e6dd03c215652", 0 },
	{ K1, N1, "0001020304050607", NULL, "f373079ed84b2709faee37358459",
	  "c60b9c2d33ceb058f96e6dd03c215652", 0 },
	{ K1, N1, "0001020304050608", NULL, "f373079ed84b2709faee37358458",
	  "c60b9c2d33ceb058f96e6dd03c215652", 0 },
	{ K1, N1, "0001020304050607", NULL, "f373079ed84b2709faee37358458",
	  "c60b9c2d33ceb058f96e6dd03c215653", 0 },
};

static size_t unhex(const char *h, uint8_t *out)
{
	size_t n = strlen(h) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;

		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static int widths[] = { 1, 2, 4 };

static void draft_vectors(void)
{
	for (size_t w = 0; w < 3; w++) {
		cx_aegis_limit_lanes(widths[w]);
		for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
			const struct vector *v = &vectors[i];
			uint8_t key[32], nonce[32], ad[64], msg[64], ct[64], tag[16], out[64], got[16];
			size_t adlen = unhex(v->ad, ad), ctlen = unhex(v->ct, ct);

			unhex(v->key, key);
			unhex(v->nonce, nonce);
			unhex(v->tag, tag);
			if (v->valid) {
				CHECK_EQ(unhex(v->msg, msg), ctlen);
				CHECK_EQ(cx_aegis_seal(out, got, msg, ctlen, ad, adlen, nonce, key), 0);
				CHECK(memcmp(out, ct, ctlen) == 0);
				CHECK(memcmp(got, tag, 16) == 0);
				CHECK_EQ(cx_aegis_open(out, ct, ctlen, tag, ad, adlen, nonce, key), 0);
				CHECK(memcmp(out, msg, ctlen) == 0);
			} else {
				memset(out, 0xaa, sizeof out);
				CHECK_EQ(cx_aegis_open(out, ct, ctlen, tag, ad, adlen, nonce, key),
					 -EBADMSG);
				CHECK(memcmp(out, (uint8_t[64]){ 0 }, ctlen) == 0);
			}
		}
	}
	cx_aegis_limit_lanes(4);
}

/* Eleven messages (8 + 2 + 1 at the widest) of every length 0..80 with their own keys and nonces:
 * each batch width gives what one message at a time gives, in place too. */
static void batches_match_single_messages(void)
{
	enum { N = 11, MAX = 80 };
	uint8_t key[N][32], nonce[N][32], ad[N][40], in[N][MAX], one[N][MAX], many[N][MAX];
	uint8_t tag1[N][16], tagm[N][16];

	cx_random(key, sizeof key);
	cx_random(nonce, sizeof nonce);
	cx_random(ad, sizeof ad);
	cx_random(in, sizeof in);
	for (size_t len = 0; len <= MAX; len += 1 + len / 8) {
		size_t adlen = len % 41;

		cx_aegis_limit_lanes(1);
		for (int i = 0; i < N; i++)
			CHECK_EQ(cx_aegis_seal(one[i], tag1[i], in[i], len, ad[i], adlen,
					       nonce[i], key[i]), 0);
		for (size_t w = 0; w < 3; w++) {
			struct cx_aegis_msg m[N];

			cx_aegis_limit_lanes(widths[w]);
			memcpy(many, in, sizeof many);
			for (int i = 0; i < N; i++)
				m[i] = (struct cx_aegis_msg){ many[i], many[i], ad[i], nonce[i],
							      key[i], tagm[i], 0 };
			CHECK_EQ(cx_aegis_seal_many(m, N, len, adlen), 0);
			for (int i = 0; i < N; i++) {
				CHECK(memcmp(many[i], one[i], len) == 0);
				CHECK(memcmp(tagm[i], tag1[i], 16) == 0);
			}
			tagm[3][0] ^= 1;       /* one bad message among good ones */
			CHECK_EQ(cx_aegis_open_many(m, N, len, adlen), -EBADMSG);
			for (int i = 0; i < N; i++) {
				CHECK_EQ(m[i].rc, i == 3 ? -EBADMSG : 0);
				if (i != 3)
					CHECK(memcmp(many[i], in[i], len) == 0);
			}
		}
	}
	cx_aegis_limit_lanes(4);
}

/* Flip each bit of a 100-byte message's ciphertext and tag, and of the
 * key, nonce and associated data: every one is refused. */
static void every_changed_bit_is_refused(void)
{
	uint8_t key[32], nonce[32], ad[20], msg[100], ct[100], tag[16], out[100];
	int accepted = 0;

	cx_random(key, sizeof key);
	cx_random(nonce, sizeof nonce);
	cx_random(ad, sizeof ad);
	cx_random(msg, sizeof msg);
	CHECK_EQ(cx_aegis_seal(ct, tag, msg, sizeof msg, ad, sizeof ad, nonce, key), 0);
	uint8_t *fields[] = { ct, tag, key, nonce, ad };
	size_t sizes[] = { sizeof ct, sizeof tag, sizeof key, sizeof nonce, sizeof ad };

	for (int f = 0; f < 5; f++)
		for (size_t bit = 0; bit < sizes[f] * 8; bit++) {
			fields[f][bit / 8] ^= (uint8_t)(1u << (bit % 8));
			accepted += cx_aegis_open(out, ct, sizeof ct, tag, ad, sizeof ad,
						  nonce, key) != -EBADMSG;
			fields[f][bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
	CHECK_EQ(accepted, 0);
	CHECK_EQ(cx_aegis_open(out, ct, sizeof ct, tag, ad, sizeof ad, nonce, key), 0);
	CHECK(memcmp(out, msg, sizeof msg) == 0);
}

static void without_aes_every_call_says_enotsup(void)
{
	uint8_t k[32] = { 1 }, n[32] = { 0 }, buf[16] = { 0 }, tag[16];

	CHECK(cx_aegis_available());
	cx_aegis_limit_lanes(0);
	CHECK(!cx_aegis_available());
	CHECK_EQ(cx_aegis_seal(buf, tag, buf, sizeof buf, NULL, 0, n, k), -ENOTSUP);
	CHECK_EQ(cx_aegis_open(buf, buf, sizeof buf, tag, NULL, 0, n, k), -ENOTSUP);
	cx_aegis_limit_lanes(4);
}

int main(void)
{
	if (cx_init() != 0)
		return 1;
	if (!cx_aegis_available()) {
		printf("FAIL aegis: this CPU has no AES-NI, so nothing here can run\n");
		return 1;
	}
	RUN(draft_vectors);
	RUN(batches_match_single_messages);
	RUN(every_changed_bit_is_refused);
	RUN(without_aes_every_call_says_enotsup);
	return CHECK_EXIT_STATUS();
}
