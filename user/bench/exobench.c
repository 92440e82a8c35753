/* The ExoSwarm side of `make bench` (see bench.h and tools/bench-kernel). */
#include "bench.h"
#include "../tests/exo.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGES 2000
#define ROUNDS 2000
#define SPIN_MODE (1ull << 32)		/* the partner polls instead of blocking */
#define CALLER_POLLS (1ull << 33)	/* the caller polls instead of blocking */

/* The partner env: answers each signal on mine with one on theirs and
 * stores the CPU it answered from in the page shared at SHARED_VA.  It
 * blocks in NOTIFY_WAIT, or with SPIN_MODE polls (never leaving its CPU).
 * No globals here: it runs in an env of its own (tests/exo.h). */
static void body_pong(uint64_t mine, uint64_t theirs, uint64_t mode_rounds)
{
	volatile uint64_t *where = (volatile uint64_t *)SHARED_VA;
	uint64_t rounds = (uint32_t)mode_rounds;

	for (uint64_t i = 0; i < rounds; i++) {
		if (mode_rounds & SPIN_MODE)
			while (!exo_call(EXO_SYS_NOTIFY_POLL, mine))
				__builtin_ia32_pause();
		else
			exo_call(EXO_SYS_NOTIFY_WAIT, mine, EXO_FOREVER);
		*where = bench_cpu();
		exo_call(EXO_SYS_NOTIFY_SIGNAL, theirs, 1);
	}
	exo_call(EXO_SYS_EXIT, 0);
}

/*
 * Notification round trips with an env of its own, each timed alone and
 * sorted by where the two sides ran (RDTSCP on both sides of every round):
 * same CPU, different CPUs, or moved during the round.
 */
static void ping_pong(const char *name, uint64_t mode)
{
	static volatile uint64_t *where;
	static int64_t shared;
	char label[64];
	struct bench_tally same = { 0 }, cross = { 0 }, moved = { 0 };

	if (!shared) {
		shared = map_new_frames(SHARED_VA, 1);
		where = (volatile uint64_t *)SHARED_VA;
	}
	int64_t thread, mine = exo_call0(EXO_SYS_NOTIFY_CREATE), theirs = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 0, &thread, NULL);
	exo_call(EXO_SYS_PAGE_MAP, env, SHARED_VA, shared, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	int64_t t_in = exo_call(EXO_SYS_CAP_GRANT, theirs, env, EXO_R_READ);
	int64_t m_in = exo_call(EXO_SYS_CAP_GRANT, mine, env, EXO_R_WRITE);
	child_start(thread, body_pong, (uint64_t)t_in, (uint64_t)m_in, (mode & SPIN_MODE) | (ROUNDS + 16));
	for (int i = 0; i < ROUNDS + 16; i++) {
		unsigned before = bench_cpu();
		uint64_t t0 = bench_ticks();
		exo_call(EXO_SYS_NOTIFY_SIGNAL, theirs, 1);
		if (mode & (SPIN_MODE | CALLER_POLLS))
			while (!exo_call(EXO_SYS_NOTIFY_POLL, mine))
				__builtin_ia32_pause();
		else
			exo_call(EXO_SYS_NOTIFY_WAIT, mine, EXO_FOREVER);
		uint64_t t = bench_ticks() - t0;
		unsigned after = bench_cpu();
		if (i < 16)
			continue;	/* warm-up */
		if (before != after)
			bench_tally_add(&moved, t);
		else if (*where == before)
			bench_tally_add(&same, t);
		else
			bench_tally_add(&cross, t);
	}
	child_wait(env, 1000000000ull);
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, mine);
	exo_call(EXO_SYS_CAP_DELETE, theirs);
	snprintf(label, sizeof label, "%s-same-cpu", name);
	bench_tally_print(label, &same);
	snprintf(label, sizeof label, "%s-cross-cpu", name);
	bench_tally_print(label, &cross);
	snprintf(label, sizeof label, "%s-moved", name);
	bench_tally_print(label, &moved);
}

/* A second thread of this env: spins on whichever CPU took it, saying
 * which, until told to stop; then blocks for good. */
static volatile uint64_t spin_where, spin_count, spin_stop;

static void spinner(uint64_t parked)
{
	while (!spin_stop) {
		spin_where = bench_cpu();
		spin_count++;
		__builtin_ia32_pause();
	}
	exo_call(EXO_SYS_NOTIFY_WAIT, parked, EXO_FOREVER);
}

/* Starts spinner on a thread of this env; 0 once it is seen running on a
 * CPU other than ours. */
static int spinner_start(void)
{
	static uint8_t stack[16384] __attribute__((aligned(16)));
	struct exo_regs r;
	int64_t t = exo_call(EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV);

	memset(&r, 0, sizeof r);
	r.rip = (uint64_t)spinner;
	r.rdi = (uint64_t)exo_call0(EXO_SYS_NOTIFY_CREATE);
	r.rsp = (uint64_t)(stack + sizeof stack) - 8;
	r.rflags = 0x202;
	if (t < 0 || exo_call(EXO_SYS_THREAD_SET_REGS, t, &r) || exo_call(EXO_SYS_THREAD_START, t))
		return -1;
	for (int i = 0; i < 1000000 && !spin_count; i++)
		__builtin_ia32_pause();
	return spin_count && spin_where != bench_cpu() ? 0 : -1;
}

/*
 * TLB shootdown: PAGE_UNMAP of pages this env had mapped and touched.
 * With the spinner running on the other CPU the kernel must flush that
 * CPU's TLB too (an IPI, waiting for its answer); without it, only its own.
 * Each round is timed alone and counted as remote only when the spinner was
 * seen on another CPU before and after it and kept running.  With more
 * than one page, `ranged` says whether one PAGE_UNMAP names them all (one
 * flush round) or each page has its own (a round each, as before the
 * kernel took ranges).
 */
static void unmap_rounds(const char *name, int remote, int pages, int ranged)
{
	volatile uint8_t *page = (volatile uint8_t *)(SHARED_VA + 0x100000);
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, pages);
	struct bench_tally t = { 0 }, other = { 0 };

	for (int i = 0; i < ROUNDS / pages + 16; i++) {
		for (int p = 0; p < pages; p++) {
			exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, (uint64_t)(page + p * 4096), f, p,
				 EXO_PROT_READ | EXO_PROT_WRITE);
			page[p * 4096] = 1;
		}
		unsigned me = bench_cpu();
		uint64_t where = spin_where, count = spin_count;
		uint64_t t0 = bench_ticks();
		if (ranged)
			exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, (uint64_t)page, pages);
		else
			for (int p = 0; p < pages; p++)
				exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, (uint64_t)(page + p * 4096));
		uint64_t dt = bench_ticks() - t0;
		if (i < 16)
			continue;
		int elsewhere = where != me && spin_where == where && spin_count != count;
		bench_tally_add(elsewhere == remote && bench_cpu() == me ? &t : &other, dt);
	}
	exo_call(EXO_SYS_CAP_DELETE, f);
	bench_tally_print(name, &t);
	if (other.rounds)
		bench_tally_print("unmap-misplaced", &other);
}

/* nanosleep(1 ms) on the libOS (a kernel wait with a deadline): how much
 * later than asked it returns, in ns of CLOCK_MONOTONIC. */
static void sleep_overshoot(void)
{
	struct bench_tally t = { 0 };
	struct timespec a, b, ms = { 0, 1000000 };

	for (int i = 0; i < 200; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		nanosleep(&ms, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		int64_t ns = (b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec);
		bench_tally_add(&t, (uint64_t)(ns - 1000000));
	}
	bench_tally_print("nanosleep-overshoot-ns", &t);
}

/* argv[1]: the number of CPUs the VM has (tools/bench-kernel boots it); the
 * cross-CPU figures need two. */
int main(int argc, char **argv)
{
	struct timespec ts;
	const struct exo_kinfo *k = (const struct exo_kinfo *)EXO_KINFO_VA;
	int cpus = argc > 1 ? atoi(argv[1]) : 1;

	/* the kernel's work once after boot (refining its TSC calibration
	 * at 5 ms and 100 ms, looking for CPUs that did not start at about
	 * 1 s) arms the timer on every switch until it is done: measure the
	 * steady state after it (under -icount the sleep costs no host time) */
	struct timespec settle = { 1, 200000000 };
	nanosleep(&settle, NULL);
	printf("bench tsc-hz %llu\n", (unsigned long long)k->tsc_hz);
	BENCH("null-call", 20000, exo_call0(EXO_SYS_NULL));
	BENCH("getpid", 20000, syscall(SYS_getpid));
	BENCH("clock_gettime", 20000, clock_gettime(CLOCK_MONOTONIC, &ts));

	/* page fault round trip: fault, handler, map, resume */
	unsigned char *m = mmap(NULL, (PAGES + 32) * 4096ul, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long next_page = 0;
	BENCH("page-fault", PAGES, m[4096 * next_page++] = 1);

	ping_pong("ping-pong", 0);
	sleep_overshoot();
	unmap_rounds("unmap-local", 0, 1, 0);
	unmap_rounds("unmap16-one-by-one-local", 0, 16, 0);
	unmap_rounds("unmap16-range-local", 0, 16, 1);
	if (cpus < 2)
		return 0;
	/* with both sides blocking, the CPU that blocks takes the woken
	 * partner itself; polling keeps a side on its CPU */
	ping_pong("ping-pong-ipi", CALLER_POLLS);
	ping_pong("ping-pong-poll", SPIN_MODE);
	if (spinner_start()) {
		printf("bench: the spinner did not start on another CPU\n");
		return 1;
	}
	unmap_rounds("unmap-remote", 1, 1, 0);
	unmap_rounds("unmap16-one-by-one-remote", 1, 16, 0);
	unmap_rounds("unmap16-range-remote", 1, 16, 1);
	/* a null call and getpid while another thread of ours runs elsewhere */
	BENCH("null-call-busy", 20000, exo_call0(EXO_SYS_NULL));
	BENCH("getpid-busy", 20000, syscall(SYS_getpid));
	spin_stop = 1;
	return 0;
}
