/*
 * AEGIS-256 (crypto/aegis256.c): the test vectors of the CFRG draft's
 * AEGIS-256 section and a selection of Wycheproof's, at every lane width
 * this CPU has; batches of every size agree with single messages (so the
 * 8-, 4-, 2- and 1-message paths all run where the CPU has them); every
 * changed bit of ciphertext, tag, nonce, key or associated data is
 * refused; libsodium's own AEGIS-256 agrees where the installed libsodium
 * has it (1.0.19 and later); and the -ENOTSUP path of CPUs without AES.
 */
#include "crypto/crypto.h"
#include "tests/check.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Vectors: key, nonce, ad, msg, ct, tag128 in hex; a vector with
 * valid = 0 must fail to open. */
struct vector { const char *key, *nonce, *ad, *msg, *ct, *tag; int valid; };

/* The CFRG draft "The AEGIS Family of Authenticated Encryption
 * Algorithms", test vectors of AEGIS-256 (tests 1-5, then its four that
 * must fail). */
#define K1 "1001000000000000000000000000000000000000000000000000000000000000"
#define N1 "1000020000000000000000000000000000000000000000000000000000000000"
#define Z32 "0000000000000000000000000000000000000000000000000000000000000000"
#define K2 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define N2 "505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f"
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

	/* Wycheproof (C2SP/wycheproof, testvectors_v1/aegis256_test.json),
	 * by tcId: 1 (the 2013 paper's tag, 6 finalize rounds: must fail),
	 * 5, 6, 7, 9 (known vectors), 11, 12, 16, 19, 27 (pseudorandom, 0 to
	 * 16 bytes), 281 (111 bytes of associated data), 451 and 455
	 * (modified tags), 469 and 470 (different messages, one tag). */
	{ Z32, Z32, "", "00000000000000000000000000000000",
	  "b98f03a947807713d75a4fff9fc277a6", "a008acb1d372d73932ec5e6df9aca70a", 0 },
	{ Z32, Z32, "", "00000000000000000000000000000000",
	  "b98f03a947807713d75a4fff9fc277a6", "478f3b50dc478ef7d5cf2d0f7cc13180", 1 },
	{ Z32, Z32, "00000000000000000000000000000000", "00000000000000000000000000000000",
	  "b286705e6ccf368974ade9ff5550a4c5", "fdeb4a822f3ddd1fd4159e1db11a4c6b", 1 },
	{ "0001000000000000000000000000000000000000000000000000000000000000",
	  "0000020000000000000000000000000000000000000000000000000000000000", "00010203",
	  "00000000000000000000000000000000", "1f452a22fc07f2471ab4345d7ab121b1",
	  "065a9af5cc2fd9fee11280a51e37fdcc", 1 },
	{ Z32, Z32, "", "", "", "f7a0878f68bd083e8065354071fc27c3", 1 },
	{ "cc6657fd5f0014430cd8a2afa1b1270094c29427d5fbc0b0a2cfc0e87c83ba89",
	  "c0b1fdebffb7f2e277ffb88c0fa369b65f29c78d55e2cc258705a7e2440cb0b5", "", "", "",
	  "5f9302932f6af3a489a6fcca836a9d4d", 1 },
	{ "b1336707a426d43755b503b69e0056bd99d169b991c2def3257921af839e2ddf",
	  "967304567c8309a58e259eb2141e076710f39dc65c2c0106ec20a60fd329a8f5", "", "45", "fd",
	  "684e6dc775e429c59ca141a094087e63", 1 },
	{ "b3de4c30ec4a098e3c9ffa0ab16e14dde6a27efbaf1fd3941c2ad20ae41a2fb7",
	  "31bfb1ca8df96a889ce286550e04227c65172eda139100eaace350a4eb88d051", "",
	  "88b416974c", "d4cb62f3f5", "fb8d0aa5e65197c1b1919567e5c9b5d4", 1 },
	{ "13a2d8c246198cd6a3ed9f5813e33d18ff998e13c23b4bb53b1f5bac41890282",
	  "afc91c1cc48e29bb8ebd47e30513ed51a9b40fe8404bd04ece456221dbeb4c54", "",
	  "afe014240f6383d9", "5c4442ad1ebad45c", "0e9179d97789272ac6d9a6482d8a8a3d", 1 },
	{ "aa5429fd3f178b3885f2c696975e88890102455b5d9e42766429e80d4889672a",
	  "e1ed38af5753851b79175e4ae11fd6cf80033f81aec484ecd0448c5e7cc0a27e", "",
	  "7aa8919ebb950f34690acb98651854cb", "5c8f1af7c12997873056004cb403c9d2",
	  "43b93cc3a9e6ddbeb18ba8bead2ab28f", 1 },
	{ "c91d41b39e9d9464a2d1c83505e0bb7f5f55452951d79627c36943e812f7c164",
	  "740f2333b8c08fde2281e18c4ad68311c4f76e331ea84a62ea68d8c0a0d1b510",
	  "71c15694ca4147b29c0ad4e6ac14c83de2ec25918ff9e541832d9348f114acb7425d3fd84edcece9"
	  "f571a7892d768ea6124c4671b084f72129f046d0a6039a29746389466f124e988ff04a596bcf696b"
	  "775f4d8a25cbe833de4ab38723ac08a3382d09660353d588394ec6c820",
	  "ac6694e45442510a1f14611f4c5202f2", "0fd8e1a367227d8d0b6ef93f6434683c",
	  "59a88cfdaf8e0d896e34a409eb470456", 1 },
	{ K2, N2, "", NULL, "b6c1000669eb0e577bf103d13d915bb5",
	  "1e63114cfe7c6b8bc50b16f5392f9eda", 0 },
	{ K2, N2, "", NULL, "b6c1000669eb0e577bf103d13d915bb5",
	  "00000000000000000000000000000000", 0 },
	{ Z32, Z32, "",
	  "0000000000000000000000000000000053a6730dde888f93419741933cc00b230ffe14cec4e10f2b"
	  "994525b7db4b082928d95f897cfd97d6baf42affb23e4a0d985c7f0d7187d4a53d1a5b9454b0db25"
	  "a9f895536559636209b2cf9853b4d6152b8e23423439801580063e27b6327291",
	  "b98f03a947807713d75a4fff9fc277a6e1200353b247b91a353aa86c6990afe637989075c7427cba"
	  "63be4c77fbb26e9b8f3dd64af30bb16c23a731709ce6c498d5af4608c51aa3daf27df7090a75ae10"
	  "4c9bafdf7691588f271dbc26ecd9546adebfe6045e0f6c43a98e93853b0068a6",
	  "b68e3034ad6c9007260341bb24be31d0", 1 },
	{ Z32, Z32, "",
	  "01010101010101010101010101010101e12f8ced9549095fab9543e010b645d60f4976db2814b1da"
	  "1908dbf3618a9a7e6e56ceaf59cc7bb8799ce4035dbf6c691239520dad4f8ecdb381a45198dad59b"
	  "a399b20a887aa56c290cc5f58bee0a2e98243bac8dbc5ff2389c569cbbd0f7ec",
	  "b88e02a846817612d65b4efe9ec376a753a9fcb3f9863fd6df38aa1f45e6e1136dbdd4c3c3716ced"
	  "7aeb0d2e9b009ace95b3723cadfbbd26b6737cec382598879669376c35cd397c43b5f90665242a2e"
	  "868cb0979bab9fcd8b00dd8d1d48df6456f33e8f554a2490119695c25c2f4bf8",
	  "b68e3034ad6c9007260341bb24be31d0", 1 },
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

static void published_vectors(void)
{
	for (size_t w = 0; w < 3; w++) {
		cx_aegis_limit_lanes(widths[w]);
		for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
			const struct vector *v = &vectors[i];
			uint8_t key[32], nonce[32], ad[128], msg[128], ct[128], tag[16], out[128];
			uint8_t got[16];
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
				CHECK(memcmp(out, (uint8_t[128]){ 0 }, ctlen) == 0);
			}
		}
	}
	cx_aegis_limit_lanes(4);
}

/* Batches of 1 to 15 messages of every length 0..80, each with its own
 * key and nonce, give what one message at a time gives, in place too; 15
 * = 8 + 4 + 2 + 1, so every path (8, 4, 2 and 1 messages at once) runs at
 * the widest lanes, and the smaller batches cover every mix. */
static void batches_match_single_messages(void)
{
	enum { N = 15, MAX = 80 };
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
			cx_aegis_limit_lanes(widths[w]);
			for (int n = 1; n <= N; n += len % 3 == 0 ? 1 : 7) {
				struct cx_aegis_msg m[N];
				int bad = n / 2;

				memcpy(many, in, sizeof many);
				for (int i = 0; i < n; i++)
					m[i] = (struct cx_aegis_msg){ many[i], many[i], ad[i], nonce[i],
								      key[i], tagm[i], 0 };
				CHECK_EQ(cx_aegis_seal_many(m, (size_t)n, len, adlen), 0);
				for (int i = 0; i < n; i++) {
					CHECK(memcmp(many[i], one[i], len) == 0);
					CHECK(memcmp(tagm[i], tag1[i], 16) == 0);
				}
				tagm[bad][0] ^= 1;      /* one bad message among good ones */
				CHECK_EQ(cx_aegis_open_many(m, (size_t)n, len, adlen), -EBADMSG);
				for (int i = 0; i < n; i++) {
					CHECK_EQ(m[i].rc, i == bad ? -EBADMSG : 0);
					if (i != bad)
						CHECK(memcmp(many[i], in[i], len) == 0);
				}
			}
		}
	}
	cx_aegis_limit_lanes(4);
}

#ifdef crypto_aead_aegis256_KEYBYTES
/* libsodium 1.0.19 and later carry AEGIS-256: both agree on random
 * messages of every length up to 300 bytes, and open each other's. */
static void agrees_with_libsodium(void)
{
	uint8_t key[32], nonce[32], ad[40], msg[300], ours[300], tag[16], theirs[300 + 16];
	unsigned long long clen;

	for (size_t len = 0; len <= sizeof msg; len += 1 + len / 4) {
		size_t adlen = len % 41;

		cx_random(key, sizeof key);
		cx_random(nonce, sizeof nonce);
		cx_random(ad, sizeof ad);
		cx_random(msg, sizeof msg);
		CHECK_EQ(cx_aegis_seal(ours, tag, msg, len, ad, adlen, nonce, key), 0);
		CHECK_EQ(crypto_aead_aegis256_encrypt(theirs, &clen, msg, len, ad, adlen, NULL,
						      nonce, key), 0);
		CHECK_EQ(clen, len + 16);
		CHECK(memcmp(ours, theirs, len) == 0);
		CHECK(memcmp(tag, theirs + len, 16) == 0);
		CHECK_EQ(cx_aegis_open(ours, theirs, len, theirs + len, ad, adlen, nonce, key), 0);
		CHECK(memcmp(ours, msg, len) == 0);
	}
}
#endif

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
	/* say which batch paths this CPU can run (aegis256.c: detect_lanes) */
	printf("  AEGIS batch paths run here: 1%s messages at once%s\n",
	       __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx2") ? ", 2" : "",
	       __builtin_cpu_supports("vaes") && __builtin_cpu_supports("avx512f")
	       ? ", 4, 8" : "; 4 and 8 need AVX-512F with VAES");
	if (!cx_aegis_available()) {
		printf("FAIL aegis: this CPU has no AES-NI, so nothing here can run\n");
		return 1;
	}
	RUN(published_vectors);
	RUN(batches_match_single_messages);
#ifdef crypto_aead_aegis256_KEYBYTES
	RUN(agrees_with_libsodium);
#else
	printf("SKIP aegis_agrees_with_libsodium: libsodium %s has no AEGIS-256 (1.0.19 has)\n",
	       sodium_version_string());
#endif
	RUN(every_changed_bit_is_refused);
	RUN(without_aes_every_call_says_enotsup);
	return CHECK_EXIT_STATUS();
}
