/*
 * Shared by the ExoSwarm and Linux sides of `make bench`: times N runs of
 * an operation with the TSC and prints "bench NAME TICKS-PER-OP".  Under
 * QEMU with -icount shift=0 the guest TSC advances with executed
 * instructions, so both guests are measured on the same deterministic scale.
 */
#ifndef EXO_BENCH_H
#define EXO_BENCH_H

#include <stdint.h>
#include <stdio.h>

static inline uint64_t bench_ticks(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) :: "memory");
	return ((uint64_t)hi << 32) | lo;
}

#define BENCH(name, n, body) do { \
	for (int warm_ = 0; warm_ < 16; warm_++) { body; } \
	uint64_t t0_ = bench_ticks(); \
	for (long i_ = 0; i_ < (n); i_++) { body; } \
	uint64_t t1_ = bench_ticks(); \
	printf("bench %s %llu\n", (name), (unsigned long long)((t1_ - t0_) / (uint64_t)(n))); \
	fflush(stdout); \
} while (0)

#endif
