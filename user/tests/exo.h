/*
 * Helpers for in-guest tests of the native ABI: running a function of this
 * program in a child env.  The child gets this program's text pages
 * (read+execute, nothing else of ours), a fresh stack, and whatever caps the
 * test grants it; the function may use only its arguments, its stack and
 * native calls: no globals and no string constants, and the program is
 * built with -fno-jump-tables (those live outside the text).
 */
#ifndef EXO_USER_TESTS_EXO_H
#define EXO_USER_TESTS_EXO_H

#include <stdint.h>
#include <string.h>

#include <exo/native.h>

extern char __executable_start[], __etext[];

#define CHILD_STACK_TOP 0x0000700000000000ull
#define CHILD_STACK_PAGES 4
#define SHARED_VA 0x0000600000000000ull

static int64_t child_memory_slot;	/* a budget derived for children */

/* What each child env costs in our slots, freed by child_destroy. */
static struct { int64_t thread, stack, budget; } child_slots[512];

/* A child env able to run fn(a0, a1, a2); returns its env slot (>= 0) and
 * its thread slot in *thread, or a negative error. */
static int64_t child_create(uint64_t quota, uint64_t budget, int64_t *thread, int64_t *mem_in_child)
{
	if (!child_memory_slot) {
		struct exo_cap_info m;
		exo_call(EXO_SYS_CAP_INSPECT, EXO_SLOT_MEMORY, &m);
		child_memory_slot = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, m.count / 2);
	}
	int64_t env = exo_call(EXO_SYS_ENV_CREATE, child_memory_slot, quota);
	if (env < 0)
		return env;
	uint64_t lo = (uint64_t)__executable_start & ~4095ull, hi = ((uint64_t)__etext + 4095) & ~4095ull;
	for (uint64_t va = lo; va < hi; va += 4096)
		if (exo_call(EXO_SYS_PAGE_MAP, env, va, EXO_SLOT_IMAGE, (va - lo) / 4096,
			     EXO_PROT_READ | EXO_PROT_EXEC))
			return -1000;
	int64_t stack = exo_call(EXO_SYS_MEM_ALLOC, child_memory_slot, CHILD_STACK_PAGES);
	if (stack < 0)
		return stack;
	for (int i = 0; i < CHILD_STACK_PAGES; i++)
		if (exo_call(EXO_SYS_PAGE_MAP, env, CHILD_STACK_TOP - (CHILD_STACK_PAGES - i) * 4096ull,
			     stack, i, EXO_PROT_READ | EXO_PROT_WRITE))
			return -1001;
	child_slots[env].stack = stack;
	child_slots[env].budget = 0;
	if (budget && mem_in_child) {
		int64_t m = exo_call(EXO_SYS_CAP_DERIVE, child_memory_slot, EXO_R_ALL, 0, budget);
		if (m < 0)
			return m;
		child_slots[env].budget = m;
		*mem_in_child = exo_call(EXO_SYS_CAP_GRANT, m, env, EXO_R_ALL);
	}
	*thread = exo_call(EXO_SYS_THREAD_CREATE, env);
	child_slots[env].thread = *thread;
	return *thread < 0 ? *thread : env;
}

/* Ends the child (if alive) and frees every slot it cost us. */
static void child_destroy(int64_t env)
{
	exo_call(EXO_SYS_CAP_DELETE, env);	/* the last cap to it: it ends */
	if (child_slots[env].thread > 0)
		exo_call(EXO_SYS_CAP_DELETE, child_slots[env].thread);
	if (child_slots[env].stack > 0)
		exo_call(EXO_SYS_CAP_DELETE, child_slots[env].stack);
	if (child_slots[env].budget > 0)
		exo_call(EXO_SYS_CAP_DELETE, child_slots[env].budget);
	child_slots[env].thread = child_slots[env].stack = child_slots[env].budget = 0;
}

/* Starts fn(a0, a1, a2) on the child's thread. */
static int64_t child_start(int64_t thread, void (*fn)(uint64_t, uint64_t, uint64_t),
			   uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct exo_regs r;
	memset(&r, 0, sizeof r);
	r.rip = (uint64_t)fn;
	r.rsp = CHILD_STACK_TOP - 8;
	r.rdi = a0;
	r.rsi = a1;
	r.rdx = a2;
	r.rflags = 0x202;
	int64_t e = exo_call(EXO_SYS_THREAD_SET_REGS, thread, &r);
	return e ? e : exo_call(EXO_SYS_THREAD_START, thread);
}

/* Waits up to timeout_ns for env to end; returns its status or -EAGAIN. */
__attribute__((unused)) static int64_t child_wait(int64_t env, uint64_t timeout_ns)
{
	static int64_t n;
	if (!n)
		n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	exo_call(EXO_SYS_NOTIFY_POLL, n);	/* forget earlier children */
	exo_call(EXO_SYS_ENV_WATCH, env, n, 1);
	exo_call(EXO_SYS_NOTIFY_WAIT, n, timeout_ns);
	return exo_call(EXO_SYS_ENV_STATUS, env);
}

/* pages new frames (one FRAME cap, its slot returned) mapped read/write
 * at va in this env. */
__attribute__((unused)) static int64_t map_new_frames(uint64_t va, int pages)
{
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, pages);
	for (int i = 0; i < pages && f >= 0; i++)
		exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va + i * 4096ull, f, i,
			 EXO_PROT_READ | EXO_PROT_WRITE);
	return f;
}

#endif
