/* The ExoSwarm side of `make bench` (see bench.h and tools/bench-kernel). */
#include "bench.h"
#include "../tests/exo.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGES 2000

static void body_pong(uint64_t mine, uint64_t theirs, uint64_t rounds)
{
	for (uint64_t i = 0; i < rounds; i++) {
		exo_call(EXO_SYS_NOTIFY_WAIT, mine, EXO_FOREVER);
		exo_call(EXO_SYS_NOTIFY_SIGNAL, theirs, 1);
	}
	exo_call(EXO_SYS_EXIT, 0);
}

int main(void)
{
	struct timespec ts;
	const struct exo_kinfo *k = (const struct exo_kinfo *)EXO_KINFO_VA;

	printf("bench tsc-hz %llu\n", (unsigned long long)k->tsc_hz);
	BENCH("null-call", 20000, exo_call0(EXO_SYS_NULL));
	BENCH("getpid", 20000, syscall(SYS_getpid));
	BENCH("clock_gettime", 20000, clock_gettime(CLOCK_MONOTONIC, &ts));

	/* page fault round trip: fault, handler, map, resume */
	unsigned char *m = mmap(NULL, (PAGES + 32) * 4096ul, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long next_page = 0;
	BENCH("page-fault", PAGES, m[4096 * next_page++] = 1);

	/* notification ping-pong with another env */
	int64_t thread, mine = exo_call0(EXO_SYS_NOTIFY_CREATE), theirs = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t t_in = exo_call(EXO_SYS_CAP_GRANT, theirs, env, EXO_R_READ);
	int64_t m_in = exo_call(EXO_SYS_CAP_GRANT, mine, env, EXO_R_WRITE);
	child_start(thread, body_pong, (uint64_t)t_in, (uint64_t)m_in, 2000 + 16);
	BENCH("ping-pong", 2000, (exo_call(EXO_SYS_NOTIFY_SIGNAL, theirs, 1),
				  exo_call(EXO_SYS_NOTIFY_WAIT, mine, EXO_FOREVER)));
	return 0;
}
