/*
 * The libOS lock: one recursive spinlock over all of the library OS's
 * shared state (descriptor table, allocator, memory tables, threads,
 * futexes).  Handlers may not use libc locks, and a lock built on a
 * notification would cost a kernel call each time; a handler holds this
 * one only while it computes, never while it sleeps: a blocking call gives
 * it up entirely around its wait (lo_unlock_all, lo_relock).  It is
 * recursive because the fault handler takes it too, and a handler's own
 * access to the program's memory may fault.  A waiter spins a little, then
 * yields its CPU, since the holder may have been preempted.
 */
#include "libos/libos.h"
#include "libos/thread.h"
#include "include/exo/native.h"

/* The holder (its struct lo_thread; 0: free) and the depth are in the
 * private block (lp.lock_owner, lp.lock_depth): the fault handler writes
 * them, so they must never be copy-on-write after a fork. */
void lo_lock(void)
{
	uint64_t me = (uint64_t)lo_thread_self();
	if (lp.lock_owner == me) {
		lp.lock_depth++;
		return;
	}
	for (uint32_t spins = 0;; spins++) {
		if (lp.lock_owner == 0 && __sync_bool_compare_and_swap(&lp.lock_owner, 0, me))
			break;
		__asm__ volatile("pause");
		if (spins >= 64)
			exo_call0(EXO_SYS_YIELD);
	}
	lp.lock_depth = 1;
}

void lo_unlock(void)
{
	if (--lp.lock_depth == 0)
		__atomic_store_n(&lp.lock_owner, 0, __ATOMIC_RELEASE);
}

/* Releases the lock however deep the caller holds it; returns the depth
 * for lo_relock. */
uint32_t lo_unlock_all(void)
{
	/* a caller not holding it (start-up code) must not free another
	 * thread's hold: nothing to give up, and lo_relock(0) is a no-op */
	if (lp.lock_owner != (uint64_t)lo_thread_self())
		return 0;
	uint32_t d = lp.lock_depth;
	lp.lock_depth = 0;
	__atomic_store_n(&lp.lock_owner, 0, __ATOMIC_RELEASE);
	return d;
}

void lo_relock(uint32_t d)
{
	if (!d)
		return;
	lo_lock();
	lp.lock_depth = d;
}

/* A forked child starts with the lock its parent held for the fork. */
void lo_lock_reset(void)
{
	lp.lock_depth = 0;
	lp.lock_owner = 0;
}
