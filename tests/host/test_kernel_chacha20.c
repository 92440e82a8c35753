/* ChaCha20 (crypto/chacha20.c, used by the kernel CSPRNG) against the
 * test vectors of RFC 8439: section 2.3.2, 2.4.2 and appendix A.1/A.2. */
#include "crypto/chacha20.h"
#include "tests/check.h"

#include <string.h>

static void unhex(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i]; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static void block_2_3_2(void)
{
	uint8_t key[32], nonce[12], out[64], want[64];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	unhex(nonce, "000000090000004a00000000");
	unhex(want, "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
		    "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e");
	chacha20_block(out, key, 1, nonce);
	CHECK(memcmp(out, want, 64) == 0);
}

static void appendix_a1(void)
{
	uint8_t key[32] = {0}, nonce[12] = {0}, out[64], want[64];

	unhex(want, "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
		    "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586");
	chacha20_block(out, key, 0, nonce);
	CHECK(memcmp(out, want, 64) == 0);
	unhex(want, "9f07e7be5551387a98ba977c732d080dcb0f29a048e3656912c6533e32ee7aed"
		    "29b721769ce64e43d57133b074d839d531ed1f28510afb45ace10a1f4b794d6f");
	chacha20_block(out, key, 1, nonce);
	CHECK(memcmp(out, want, 64) == 0);
	key[31] = 1;
	unhex(want, "3aeb5224ecf849929b9d828db1ced4dd832025e8018b8160b82284f3c949aa5a"
		    "8eca00bbb4a73bdad192b5c42f73f2fd4e273644c8b36125a64addeb006c13a0");
	chacha20_block(out, key, 1, nonce);
	CHECK(memcmp(out, want, 64) == 0);
}

static void encryption_2_4_2(void)
{
	static const char plain[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
		"only one tip for the future, sunscreen would be it.";
	uint8_t key[32], nonce[12], buf[114], want[114];

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	unhex(nonce, "000000000000004a00000000");
	unhex(want, "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b"
		    "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8"
		    "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736"
		    "5af90bbf74a35be6b40b8eedf2785e42874d");
	memcpy(buf, plain, sizeof buf);
	chacha20_xor(buf, sizeof buf, key, 1, nonce);
	CHECK(memcmp(buf, want, sizeof buf) == 0);
	chacha20_xor(buf, sizeof buf, key, 1, nonce);
	CHECK(memcmp(buf, plain, sizeof buf) == 0);
}

int main(void)
{
	RUN(block_2_3_2);
	RUN(appendix_a1);
	RUN(encryption_2_4_2);
	return CHECK_EXIT_STATUS();
}
