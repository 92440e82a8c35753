/* Kernel CSPRNG; see random.h. */
#include "kernel/random.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "crypto/chacha20.h"

#include <stdint.h>

static uint8_t key[32];
static uint64_t counter;

static int rdseed64(uint64_t *v)
{
	for (int i = 0; i < 32; i++) {
		uint8_t ok;
		__asm__ volatile("rdseed %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return 1;
		cpu_relax();
	}
	return 0;
}

static int rdrand64(uint64_t *v)
{
	for (int i = 0; i < 10; i++) {
		uint8_t ok;
		__asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return 1;
	}
	return 0;
}

/*
 * Mixes 64 bits into the key: XOR into a word, then run the block function
 * over the whole key so every input bit affects every key bit.
 */
static void mix(uint64_t v, int word)
{
	uint8_t block[64], nonce[12] = { 'm', 'i', 'x' };

	for (int i = 0; i < 8; i++)
		key[(word % 4) * 8 + i] ^= (uint8_t)(v >> (8 * i));
	chacha20_block(block, key, (uint32_t)word, nonce);
	memcpy(key, block, 32);
	memset(block, 0, sizeof block);
}

/* Timing of a memory-touching loop varies with caches, interrupts and the
 * pipeline; only the low bits of many samples are used. */
static uint64_t jitter_sample(void)
{
	static volatile uint8_t scratch[4096];
	uint64_t t0 = rdtsc(), acc = 0;

	for (int i = 0; i < 64; i++)
		scratch[(t0 + (uint64_t)i * 61) % sizeof scratch] += (uint8_t)i;
	uint64_t t1 = rdtsc();
	for (int i = 0; i < 8; i++)
		acc = (acc << 8) | ((rdtsc() - t1) & 0xff);
	return (t1 - t0) ^ acc;
}

const char *random_init(void)
{
	const char *source = "tsc-jitter";
	int words = 0;
	uint64_t v;

	mix(rdtsc(), 0);
	if (cpu.rdseed) {
		for (int i = 0; i < 8; i++)
			if (rdseed64(&v))
				mix(v, words++);
		if (words >= 4)
			source = "rdseed";
	}
	if (words < 4 && cpu.rdrand) {
		for (int i = 0; i < 8; i++)
			if (rdrand64(&v))
				mix(v, words++);
		if (words >= 4)
			source = "rdrand";
	}
	if (words < 4)	/* no hardware source: 4096 jitter samples */
		for (int i = 0; i < 4096; i++)
			mix(jitter_sample(), i);
	return source;
}

void random_bytes(void *buf, size_t len)
{
	uint8_t block[64], nonce[12] = { 'o', 'u', 't' };
	uint8_t *out = buf;
	uint64_t flags = irq_save();

	memcpy(nonce + 4, &counter, 8);
	counter++;
	uint32_t blk = 1;
	for (size_t off = 0; off < len; off += 64, blk++) {
		chacha20_block(block, key, blk, nonce);
		size_t n = len - off < 64 ? len - off : 64;
		memcpy(out + off, block, n);
	}
	chacha20_block(block, key, 0, nonce);	/* block 0 becomes the next key */
	memcpy(key, block, 32);
	memset(block, 0, sizeof block);
	irq_restore(flags);
}
