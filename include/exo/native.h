/* Native ExoSwarm calls (see abi.h), for the library OS and for programs
 * that use the exokernel directly (tools/exo-cc puts include/ on the path:
 * #include <exo/native.h>). */
#ifndef EXO_NATIVE_H
#define EXO_NATIVE_H

#include <stdint.h>

#include "abi.h"

static inline int64_t exo_call6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				uint64_t a3, uint64_t a4, uint64_t a5)
{
	int64_t ret;
	register uint64_t r10 __asm__("r10") = a3;
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define exo_call(nr, ...) exo_call_n(nr, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define exo_call_n(nr, a, b, c, d, e, f, ...) \
	exo_call6((nr), (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), (uint64_t)(e), (uint64_t)(f))
#define exo_call0(nr) exo_call6((nr), 0, 0, 0, 0, 0, 0)

/* CLOCK_MONOTONIC in ns from the kernel info page and the TSC, with no
 * kernel entry; reads again while the kernel changes the scale
 * (clock_seq odd, or changed meanwhile). */
static inline uint64_t exo_kinfo_now_ns(const volatile struct exo_kinfo *k)
{
	uint64_t seq, base, mult;
	uint32_t lo, hi;

	do {
		seq = k->clock_seq;
		__asm__ volatile("" ::: "memory");
		base = k->tsc_base;
		mult = k->tsc_mult;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	} while ((seq & 1) || seq != k->clock_seq);
	uint64_t tsc = ((uint64_t)hi << 32) | lo;
	return (uint64_t)(((unsigned __int128)(tsc - base) * mult) >> 32);
}

#endif
