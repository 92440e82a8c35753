/*
 * Every CPU: threads of one env run on several CPUs at once.  The program
 * starts a spinning thread per CPU beside its own (native THREAD_CREATE in
 * its own env); each writes the index of the CPU it runs on (RDTSCP's
 * TSC_AUX, which the kernel sets per CPU) and a counter.  Then it samples:
 * the threads must be seen making progress on argv[1] distinct CPUs at the
 * same time.  argv[1] is the number of CPUs the VM has.
 */
#include "check.h"

#include <exo/native.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXT 16

static volatile uint64_t where[MAXT], count[MAXT];

static inline uint64_t cpu_index(void)
{
	uint32_t lo, hi, aux;
	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	return aux;
}

/* Runs on its own thread: no libc, no TLS. */
static void spin(uint64_t i)
{
	for (;;) {
		where[i] = cpu_index();
		count[i]++;
	}
}

int main(int argc, char **argv)
{
	int want = argc > 1 ? atoi(argv[1]) : 1;
	if (want < 1 || want > MAXT)
		want = 1;
	for (int i = 1; i < want; i++) {
		int64_t t = exo_call(EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV);
		uint8_t *stack = malloc(65536);
		struct exo_regs r;
		memset(&r, 0, sizeof r);
		r.rip = (uint64_t)spin;
		r.rdi = (uint64_t)i;
		r.rsp = ((uint64_t)(stack + 65536) & ~15ull) - 8;
		r.rflags = 0x202;
		EXPECT("thread-start", t >= 0 && stack && exo_call(EXO_SYS_THREAD_SET_REGS, t, &r) == 0 &&
				       exo_call(EXO_SYS_THREAD_START, t) == 0);
	}
	/* sample for up to about 5 s: at some instant every thread must have
	 * moved, each on a CPU of its own */
	int best = 0;
	for (int round = 0; round < 500 && best < want; round++) {
		uint64_t before[MAXT];
		for (int i = 1; i < want; i++)
			before[i] = count[i];
		where[0] = cpu_index();
		for (volatile int k = 0; k < 200000; k++)
			;
		uint64_t seen = 1ull << where[0];
		int moving = 1;
		for (int i = 1; i < want; i++)
			if (count[i] != before[i]) {
				moving++;
				seen |= 1ull << (where[i] & 63);
			}
		int distinct = __builtin_popcountll(seen);
		if (moving == want && distinct > best)
			best = distinct;
	}
	printf("info %d threads seen running on %d cpus at once\n", want, best);
	EXPECT("threads-on-distinct-cpus-at-once", best == want);
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	fflush(stdout);
	return failures ? 1 : 0;
}
