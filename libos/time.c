/* Time from the TSC, scaled with the kernel info page: no kernel call. */
#include "libos/libos.h"

uint64_t time_now_ns(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t tsc = ((uint64_t)hi << 32) | lo;
	return (uint64_t)(((unsigned __int128)(tsc - libos_kinfo->tsc_base) * libos_kinfo->tsc_mult) >> 32);
}
