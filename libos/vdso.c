/*
 * The vDSO: a small shared object that musl finds through AT_SYSINFO_EHDR
 * and calls instead of making a system call.  Time comes from the TSC,
 * scaled with the kernel info page (EXO_KINFO_VA), with no kernel entry.
 * Built on its own as build/libos/vdso.so and embedded page-aligned in the
 * library OS's text (vdso_blob.S).  Clocks it does not know go through the
 * ordinary (reflected) system call.
 */
#include <stdint.h>

#include "include/exo/native.h"

struct vdso_timespec { int64_t sec, nsec; };
struct vdso_timeval { int64_t sec, usec; };

static uint64_t now_ns(void)
{
	return exo_kinfo_now_ns((const volatile struct exo_kinfo *)EXO_KINFO_VA);
}

static uint64_t realtime_ns(void)
{
	return ((const volatile struct exo_kinfo *)EXO_KINFO_VA)->realtime_base_ns + now_ns();
}

static long fallback(long nr, long a, long b)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

int __vdso_clock_gettime(int clock, struct vdso_timespec *ts)
{
	uint64_t ns;

	if (clock == 0 || clock == 5)				/* REALTIME, _COARSE */
		ns = realtime_ns();
	else if (clock == 1 || clock == 4 || clock == 6 || clock == 7)	/* MONOTONIC... */
		ns = now_ns();
	else
		return (int)fallback(228, clock, (long)ts);
	ts->sec = (int64_t)(ns / 1000000000u);
	ts->nsec = (int64_t)(ns % 1000000000u);
	return 0;
}

int __vdso_gettimeofday(struct vdso_timeval *tv, void *tz)
{
	(void)tz;
	if (tv) {
		uint64_t ns = realtime_ns();
		tv->sec = (int64_t)(ns / 1000000000u);
		tv->usec = (int64_t)(ns % 1000000000u / 1000);
	}
	return 0;
}

int64_t __vdso_time(int64_t *t)
{
	int64_t s = (int64_t)(realtime_ns() / 1000000000u);
	if (t)
		*t = s;
	return s;
}
