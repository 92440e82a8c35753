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

/* The index of the CPU this runs on: RDTSCP's TSC_AUX, which ExoSwarm sets
 * to the CPU index and Linux to (node << 12) | cpu. */
static inline unsigned bench_cpu(void)
{
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux) :: "memory");
	return aux & 0xfff;
}

#define BENCH(name, n, body) do { \
	for (int warm_ = 0; warm_ < 16; warm_++) { body; } \
	uint64_t t0_ = bench_ticks(); \
	for (long i_ = 0; i_ < (n); i_++) { body; } \
	uint64_t t1_ = bench_ticks(); \
	printf("bench %s %llu\n", (name), (unsigned long long)((t1_ - t0_) / (uint64_t)(n))); \
	fflush(stdout); \
} while (0)

/* Rounds timed one by one and sorted by where they ran: "bench NAME
 * TICKS-PER-ROUND ROUNDS" for each class that had rounds, so a figure
 * always says on which CPUs it was taken. */
struct bench_tally {
	uint64_t ticks, rounds;
};

static inline void bench_tally_add(struct bench_tally *t, uint64_t ticks)
{
	t->ticks += ticks;
	t->rounds++;
}

static inline void bench_tally_print(const char *name, const struct bench_tally *t)
{
	printf("bench %s %llu %llu\n", name,
	       (unsigned long long)(t->rounds ? t->ticks / t->rounds : 0), (unsigned long long)t->rounds);
	fflush(stdout);
}

#endif
