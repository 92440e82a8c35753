/*
 * The ChaCha20 block function (RFC 8439, section 2.3), freestanding so the
 * kernel's CSPRNG can use it; host tests check it against the RFC vectors.
 */
#ifndef EXO_CRYPTO_CHACHA20_H
#define EXO_CRYPTO_CHACHA20_H

#include <stdint.h>

/* One 64-byte keystream block for key, 32-bit counter and 96-bit nonce. */
void chacha20_block(uint8_t out[64], const uint8_t key[32], uint32_t counter,
		    const uint8_t nonce[12]);

/* XORs len bytes of keystream (starting at block counter) into buf. */
void chacha20_xor(uint8_t *buf, uint64_t len, const uint8_t key[32],
		  uint32_t counter, const uint8_t nonce[12]);

#endif
