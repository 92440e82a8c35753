/*
 * Kernel robustness: two envs issue random native calls and random Linux-ABI
 * calls with random arguments (a mix of plausible slots, addresses of their
 * own memory, kernel addresses and noise), and half the time *sequences* of
 * related calls on the caps they made themselves (derive a range of what an
 * allocation returned, grant it to themselves, map it (a page or a run),
 * protect and unmap it, delete or revoke it, allocate from a budget they
 * derived, wait and wake on words of what they mapped, make and end
 * threads of their own, list their slots and delete lists of them), as an attacker
 * would chain them, and now and then checks that a copy of a frame cap
 * keeps its frames, and what was written in them, after the cap it was
 * made from is deleted, and that MEM_ALLOC_COPY's frames hold exactly the
 * bytes asked and zeros; meanwhile a third env keeps re-computing a checksum of its private
 * memory.  The root restarts fuzzers that die or stall, until at least
 * CALLS calls were made.  Pass: the kernel never panics or hangs (exo-run
 * would time out), the checksum never changes, every copy kept its
 * frames and every MEM_ALLOC_COPY was exact.
 */
#include "check.h"
#include "exo.h"

#include <stdlib.h>

#define CALLS 1000000ull
#define CHECK_VA 0x0000610000000000ull
#define CHECK_PAGES 16
#define COUNT_VA 0x0000620000000000ull	/* never an argument's target */

/* The checker's report: mapped in the checker and the root only. */
struct report {
	volatile uint64_t rounds;
	volatile uint64_t bad;
	volatile uint64_t sum;
};

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* An argument that is sometimes meaningful: small slots, counts and
 * rights, own addresses, kernel addresses, or noise. */
static uint64_t arg(uint64_t *s)
{
	uint64_t r = next(s), k = r % 10;
	if (k < 3)
		return (r >> 8) % 48;
	if (k == 3)
		return (r >> 8) % 8;
	if (k == 4 || k == 5)
		return CHILD_STACK_TOP - 4096 * (1 + (r >> 8) % 8) + ((r >> 20) % 4096);
	if (k == 6)
		return 0xffff800000000000ull + ((r >> 8) << 12);
	if (k == 7)
		return (r >> 8) & ~4095ull & 0x00007fffffffffffull;
	if (k == 8)
		return r % 3 ? (r >> 8) % 1000000 : EXO_FOREVER;
	return next(s);
}

#define SEQ_VA 0x0000630000000000ull	/* where sequences map what they made */
#define COPY_VA 0x0000640000000000ull	/* copy_outlives_holder's page */
#define MADE 16

/* A frame cap's copy outlives the cap it was made from (the holder of
 * the frames' references, docs/ABI.md): what was written through the copy
 * stays, and no allocation after the holder's deletion gets its frames.
 * Returns 1 when the kernel broke that; 0 otherwise, or when there was
 * no budget for it. */
static int copy_outlives_holder(uint64_t *s, uint64_t mem)
{
	uint64_t pages = 1 + next(s) % 8, pattern = next(s) | 1;
	int64_t holder = exo_call(EXO_SYS_MEM_ALLOC, mem, pages);
	if (holder < 0)
		return 0;
	int64_t copy = exo_call(EXO_SYS_CAP_GRANT, holder, EXO_SLOT_SELF_ENV, EXO_R_ALL, 0);
	struct exo_cap_info ci, ni;
	int bad = 0;
	if (copy >= 0 && exo_call(EXO_SYS_CAP_INSPECT, copy, &ci) == 0 &&
	    exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, COPY_VA, copy, pages - 1,
		     EXO_PROT_READ | EXO_PROT_WRITE) == 0) {
		*(volatile uint64_t *)COPY_VA = pattern;
		exo_call(EXO_SYS_CAP_DELETE, holder);
		holder = -1;
		int64_t again = exo_call(EXO_SYS_MEM_ALLOC, mem, 8);
		if (again >= 0 && exo_call(EXO_SYS_CAP_INSPECT, again, &ni) == 0)
			bad |= ni.first < ci.first + ci.count && ci.first < ni.first + ni.count;
		if (again >= 0)
			exo_call(EXO_SYS_CAP_DELETE, again);
		bad |= *(volatile uint64_t *)COPY_VA != pattern;
	}
	if (holder >= 0)
		exo_call(EXO_SYS_CAP_DELETE, holder);
	if (copy >= 0)
		exo_call(EXO_SYS_CAP_DELETE, copy);	/* unmaps COPY_VA */
	return bad;
}

/* MEM_ALLOC_COPY fills its frames with exactly the bytes asked, from a
 * frame cap read through a read-only copy, and zeroes every other byte
 * (what the frames held before, another env's data, must not show).
 * Returns 1 when the kernel broke that; 0 otherwise, or when there was
 * no budget for it. */
static int alloc_copy_exact(uint64_t *s, uint64_t mem)
{
	uint64_t off = next(s) % 8192, len = 1 + next(s) % (8192 - off), dest = next(s) % (12288 - len);
	uint8_t fill = (uint8_t)(next(s) | 1);
	int64_t src = exo_call(EXO_SYS_MEM_ALLOC, mem, 2), ro = -1, dst = -1;
	int bad = 0;
	if (src >= 0 && exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, COPY_VA, src, 0,
				 EXO_PROT_READ | EXO_PROT_WRITE, 2) == 0) {
		for (uint64_t i = 0; i < 8192; i++)
			((volatile uint8_t *)COPY_VA)[i] = (uint8_t)(fill + i);
		struct exo_cap_info ci;
		if (exo_call(EXO_SYS_CAP_INSPECT, src, &ci) == 0)
			ro = exo_call(EXO_SYS_CAP_DERIVE, src, EXO_R_READ, ci.first, 2);
		struct exo_mem_copy p = { (uint64_t)ro, off, len, dest };
		if (ro >= 0)
			dst = exo_call(EXO_SYS_MEM_ALLOC_COPY, mem, 3, &p, 1);
	}
	if (dst >= 0 && exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, COPY_VA + 2 * 4096, dst, 0, EXO_PROT_READ, 3) == 0)
		for (uint64_t i = 0; i < 12288; i++) {
			uint8_t b = ((volatile uint8_t *)(COPY_VA + 2 * 4096))[i];
			bad |= b != (i >= dest && i < dest + len ? (uint8_t)(fill + off + i - dest) : 0);
		}
	int64_t made[3] = { dst, ro, src };
	for (int c = 0; c < 3; c++)
		if (made[c] >= 0)
			exo_call(EXO_SYS_CAP_DELETE, made[c]);	/* unmaps COPY_VA */
	return bad;
}

/* One call related to the caps made so far (made[], on the stack: a child
 * env has no globals); returns the result. */
static int64_t related_call(uint64_t *s, uint64_t *made, uint64_t nmade, uint64_t mem)
{
	uint64_t r = next(s), slot = nmade ? made[(r >> 8) % nmade] : mem;
	struct exo_cap_info info;
	info.first = info.count = 0;
	exo_call(EXO_SYS_CAP_INSPECT, slot, &info);
	uint64_t n = info.count ? info.count : 1, x = next(s), va = SEQ_VA + ((x >> 4) % 16) * 4096;
	uint64_t prot = 1 | (x & 2) | ((x & 2) ? 0 : (x & 4));
	uint64_t word = va + ((x >> 40) % 1024) * 4;	/* fresh frames hold 0: a wait blocks */
	struct exo_mem_copy p[3];
	/* slots for CAP_DELETE_LIST, with room for CAP_LIST's 64 bytes */
	uint64_t list[8] = { slot, nmade ? made[(x >> 12) % nmade] : mem, (x >> 20) % 520, slot };
	switch ((r >> 16) % 17) {
	case 0: return exo_call(EXO_SYS_CAP_DERIVE, slot, (x >> 8) & EXO_R_ALL, info.first + (x >> 16) % n,
				1 + (x >> 32) % n);
	case 1: return exo_call(EXO_SYS_CAP_GRANT, slot, EXO_SLOT_SELF_ENV, (x >> 8) & EXO_R_ALL, 0);
	case 2: return exo_call(EXO_SYS_CAP_DELETE, slot);
	case 3: return exo_call(EXO_SYS_CAP_REVOKE, slot);
	case 4: return exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, slot, (x >> 16) % (n + 1), prot);
	case 5:		/* a run: often reaching past the cap's end */
		return exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, slot, (x >> 16) % (n + 1), prot,
				1 + (x >> 28) % (n + 1));
	case 6: return exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, va, (x >> 36) % 4);
	case 7: return exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, va, prot);
	case 8: return exo_call(EXO_SYS_MEM_ALLOC, (x & 1) ? mem : slot, 1 + (x >> 8) % 8);
	case 9: return exo_call(EXO_SYS_FUTEX_WAIT, word, (x >> 8) % 2, (x >> 16) % 100000);
	case 10: return exo_call(EXO_SYS_FUTEX_WAKE, word, (x >> 8) % 4);
	case 11:	/* pieces of what was made: often past a cap's end, out of order, not ours */
		for (int i = 0; i < 3; i++)
			p[i] = (struct exo_mem_copy){ nmade ? made[(x >> (8 * i)) % nmade] : slot, next(s) % (n * 4096 + 2),
						      1 + next(s) % 8192, (uint64_t)i * 4096 + next(s) % 4200 };
		return exo_call(EXO_SYS_MEM_ALLOC_COPY, (x & 1) ? mem : slot, 1 + (x >> 8) % 8,
				(x & 6) ? (uint64_t)p : arg(s), (x >> 40) % 4);
	/* the teardown calls: a thread of its own (never started, or the
	 * caller), the used slots, a list of slots (some bad, some twice) */
	case 12: return exo_call(EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV);
	case 13: return exo_call(EXO_SYS_THREAD_END, (x & 1) ? EXO_SLOT_SELF_THREAD : slot);
	case 14: return exo_call(EXO_SYS_CAP_LIST, (x & 1) ? va : (uint64_t)list);
	case 15: return exo_call(EXO_SYS_CAP_DELETE_LIST, (x & 2) ? (uint64_t)list : va, (x >> 4) % 5);
	default: return exo_call(EXO_SYS_CAP_DERIVE, (x & 1) ? mem : slot, EXO_R_ALL, 0, 1 + (x >> 8) % 16);
	}
}

static void body_fuzz(uint64_t id, uint64_t seed, uint64_t mem)
{
	(void)id;
	volatile uint64_t *count = (volatile uint64_t *)COUNT_VA;
	uint64_t s = seed | 1, made[MADE], nmade = 0;
	for (;;) {
		uint64_t r = next(&s), nr;
		if (r % 64 == 1) {
			if (copy_outlives_holder(&s, mem))
				count[1] = 1;		/* the root reports it */
			++*count;
			continue;
		}
		if (r % 64 == 2) {
			if (alloc_copy_exact(&s, mem))
				count[2] = 1;		/* the root reports it */
			++*count;
			continue;
		}
		if (r % 2) {
			int64_t res = related_call(&s, made, nmade, mem);
			if (res >= EXO_SLOT_FIRST_FREE && res < 512)	/* a new slot: remember it */
				made[nmade < MADE ? nmade++ : (r >> 24) % MADE] = (uint64_t)res;
			++*count;
			continue;
		}
		if (r % 4 == 0)
			nr = (r >> 8) % 600;				/* Linux ABI */
		else
			nr = EXO_SYS_BASE + (r >> 8) % (EXO_SYS_END - EXO_SYS_BASE + 2);
		/* dying at once teaches little: make exits and kills rare */
		if ((nr == EXO_SYS_EXIT || nr == EXO_SYS_ENV_KILL) && (r >> 40) % 64)
			continue;
		uint64_t a[6] = { arg(&s), arg(&s), arg(&s), arg(&s), arg(&s), arg(&s) };
		if (nr == EXO_SYS_NOTIFY_WAIT)
			a[1] %= 100000;		/* waits end: a blocked fuzzer fuzzes nothing */
		if (nr == EXO_SYS_FUTEX_WAIT)
			a[2] %= 100000;
		exo_call6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		++*count;
	}
}

static uint64_t checksum(const uint64_t *p, uint64_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint64_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void body_check(uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a0; (void)a1; (void)a2;
	struct report *sh = (struct report *)SHARED_VA;
	uint64_t *mem = (uint64_t *)CHECK_VA, s = 0x1234567, n = CHECK_PAGES * 512;
	for (uint64_t i = 0; i < n; i++)
		mem[i] = next(&s);
	uint64_t want = checksum(mem, n);
	sh->sum = want;
	for (;;) {
		if (checksum(mem, n) != want) {
			sh->bad = 1;
			exo_call(EXO_SYS_EXIT, 1);
		}
		sh->rounds++;
		exo_call0(EXO_SYS_YIELD);	/* checked; let the fuzzers run */
	}
}

/* A fuzzer env: its own budget, its counter page, a stack, our text. */
static int64_t start_fuzzer(uint64_t id, uint64_t seed, int64_t counters)
{
	int64_t thread, mem;
	int64_t env = child_create(96, 64, &thread, &mem);
	if (env < 0)
		return env;
	if (exo_call(EXO_SYS_PAGE_MAP, env, COUNT_VA, counters, id, EXO_PROT_READ | EXO_PROT_WRITE) ||
	    child_start(thread, body_fuzz, id, seed, (uint64_t)mem))
		return -1;
	return env;
}

int main(int argc, char **argv)
{
	uint64_t target = argc > 1 ? strtoull(argv[1], 0, 10) : CALLS, polls = 0;
	int64_t shared = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	int64_t counters = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 2);
	exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, SHARED_VA, shared, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	for (int i = 0; i < 2; i++)
		exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, COUNT_VA + 4096ull * i, counters, i, EXO_PROT_READ);
	struct report *sh = (struct report *)SHARED_VA;
	volatile uint64_t *calls[2] = { (volatile uint64_t *)COUNT_VA, (volatile uint64_t *)(COUNT_VA + 4096) };

	/* the checker: private memory nobody else has a cap to */
	int64_t cthread;
	int64_t checker = child_create(64, 0, &cthread, NULL);
	int64_t cmem = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, CHECK_PAGES);
	for (int i = 0; i < CHECK_PAGES; i++)
		exo_call(EXO_SYS_PAGE_MAP, checker, CHECK_VA + 4096ull * i, cmem, i, EXO_PROT_READ | EXO_PROT_WRITE);
	exo_call(EXO_SYS_PAGE_MAP, checker, SHARED_VA, shared, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	EXPECT("checker-started", checker >= 0 && child_start(cthread, body_check, 0, 0, 0) == 0);

	int64_t fz[2];
	uint64_t seed = 0x9e3779b97f4a7c15ull, restarts = 0, last[2] = { 0, 0 }, stall[2] = { 0, 0 };
	for (int i = 0; i < 2; i++)
		fz[i] = start_fuzzer((uint64_t)i, next(&seed), counters);
	EXPECT("fuzzers-started", fz[0] >= 0 && fz[1] >= 0);
	int64_t tick = exo_call0(EXO_SYS_NOTIFY_CREATE);
	while (*calls[0] + *calls[1] < target && !sh->bad) {
		if (++polls % 50 == 0)
			fprintf(stderr, "progress %llu %llu restarts %llu check %llu\n", (unsigned long long)*calls[0], (unsigned long long)*calls[1], (unsigned long long)restarts, (unsigned long long)sh->rounds);
		exo_call(EXO_SYS_NOTIFY_WAIT, tick, 20000000);	/* 20 ms */
		for (int i = 0; i < 2; i++) {
			int64_t st = exo_call(EXO_SYS_ENV_STATUS, fz[i]);
			int dead = st != -EXO_EAGAIN;
			stall[i] = *calls[i] == last[i] ? stall[i] + 1 : 0;
			last[i] = *calls[i];
			if (dead || stall[i] > 5) {	/* dead, or stuck for 100 ms */
				child_destroy(fz[i]);		/* kills it if alive */
				fz[i] = start_fuzzer((uint64_t)i, next(&seed), counters);
				if (fz[i] < 0) {
					printf("FAIL fuzzer-restart: %lld\n", (long long)fz[i]);
					return 1;
				}
				stall[i] = 0;
				restarts++;
			}
		}
	}
	/* the checker is still alive and still checking: it completes another
	 * round within a few seconds (generous: a loaded host runs four TCG
	 * CPUs on two cores) */
	uint64_t rounds = sh->rounds;
	for (int i = 0; i < 100 && sh->rounds == rounds; i++)
		exo_call(EXO_SYS_NOTIFY_WAIT, tick, 50000000);
	printf("info %llu calls, %llu fuzzer restarts, %llu checksum rounds\n",
	       (unsigned long long)(*calls[0] + *calls[1]), (unsigned long long)restarts,
	       (unsigned long long)sh->rounds);
	EXPECT("million-calls", *calls[0] + *calls[1] >= target && target >= CALLS);
	EXPECT("checksum-never-changed", !sh->bad && sh->sum != 0);
	EXPECT("copies-kept-their-frames", !calls[0][1] && !calls[1][1]);
	EXPECT("alloc-copy-exact", !calls[0][2] && !calls[1][2]);
	EXPECT("checker-kept-running", sh->rounds > rounds && exo_call(EXO_SYS_ENV_STATUS, checker) == -EXO_EAGAIN);
	return failures ? 1 : 0;
}
