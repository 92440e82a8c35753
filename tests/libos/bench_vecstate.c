/*
 * What saving the program's vector state costs (libos/vecstate.c): the
 * same XSAVE/XRSTOR pair, with every feature XCR0 enables, as the library
 * OS runs around each call into CryptoFS, against the work such a call
 * does at the least: sealing one 4 KiB block with AEGIS-256 (1 lane) and
 * opening it.  Runs on the host CPU (TCG does not time instructions).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <cpuid.h>

#include "crypto/crypto.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(void)
{
	unsigned a, b, c, d;
	uint32_t lo, hi;
	enum { N = 2000000, M = 200000 };

	if (cx_init() || !__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) {
		printf("bench_vecstate: no XSAVE here\n");
		return 0;
	}
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	__get_cpuid_count(0xd, 0, &a, &b, &c, &d);
	uint8_t *area = aligned_alloc(64, (b + 63) & ~63u);
	for (unsigned i = 0; i < b; i++)
		area[i] = 0;
	double t0 = now();
	for (int i = 0; i < N; i++) {
		__asm__ volatile("xsave64 (%0)" :: "r"(area), "a"(lo), "d"(hi) : "memory");
		__asm__ volatile("xrstor64 (%0)" :: "r"(area), "a"(lo), "d"(hi) : "memory");
	}
	double pair = (now() - t0) / N * 1e9;

	static uint8_t blk[4096], out[4096], key[32] = { 1 }, nonce[32] = { 2 }, ad[32], tag[16];
	cx_aegis_limit_lanes(1);
	t0 = now();
	for (int i = 0; i < M; i++) {
		nonce[0] = (uint8_t)i;
		cx_aegis_seal(out, tag, blk, sizeof blk, ad, sizeof ad, nonce, key);
		if (cx_aegis_open(blk, out, sizeof blk, tag, ad, sizeof ad, nonce, key))
			return 1;
	}
	double seal = (now() - t0) / M * 1e9;
	printf("vecstate: XSAVE+XRSTOR of %u bytes (XCR0 %#x): %.1f ns; AEGIS-256 seal+open of "
	       "one 4 KiB block: %.1f ns; ratio %.3f\n", b, lo, pair, seal, pair / seal);
	return 0;
}
