/*
 * The libOS lock: one recursive spinlock over all of the library OS's
 * state, for every process of the machine: it lives in the shared segment
 * (libos/proc.h), so a process's own tables (descriptor table, allocator,
 * memory tables, threads, futexes) and what processes share (the process
 * table, the segment's allocator, files) are guarded by the same lock.
 * Handlers may not use libc locks, and a lock built on a notification
 * would cost a kernel call each time; a handler holds this one only while
 * it computes, never while it sleeps: a blocking call gives it up entirely
 * around its wait (lo_unlock_all, lo_relock).  It is recursive because the
 * fault handler takes it too, and a handler's own access to the program's
 * memory may fault.  A waiter spins a little, then yields its CPU, since
 * the holder may have been preempted.
 *
 * Each yield of a waiter is counted, and each release that finds the count
 * above zero takes one off and yields too.  Without that, a thread woken
 * from a sleep hardly ever got the lock beside threads that call in
 * without pause (getpid in a loop, the fuzzer's threads): such a thread
 * holds the lock most of its time, so it holds it whenever its slice ends,
 * and the woken thread, when its turn came, found it held, yielded, and
 * found it held again at its next turn (a pause under a 5 ms timer beside
 * three such threads returned 31 times in 5 s; docs/LIBOS.md, "The lock
 * and a woken thread").
 * A waiter that gets the lock takes back the yields it counted itself
 * (none is left to answer: it was the one waiting); the count is of
 * yields, not of waiters, so a waiter ended while it waits (its process
 * killed) leaves at most MAX_YIELDS unanswered behind.
 *
 * The holder is named by its tid, unique on the machine (a main thread's
 * is its pid, the others come from a counter in the segment).  A process
 * is ended by the library OS only while its ender holds the lock
 * (proc_end_self ends itself after giving the lock up; a killer ends
 * another process while holding it).  A thread of an ending process that
 * takes the lock finds its process no longer running and gives it back at
 * once, to wait for its end.
 *
 * The kernel may still end an env holding the lock (a fault it cannot
 * deliver, a kill through the native call), and then every process would
 * wait for it for good.  So a waiter that has waited 50 ms asks the
 * kernel for the status of the env the holder runs in (ENV_STATUS, with
 * the env cap every process keeps of every other; a vfork child runs in
 * its parent's); an ended holder's lock is taken over by that waiter,
 * which marks its process dead with the kernel's status (its parent reaps
 * it) and says so on the console.  What the dead holder left half done
 * under the lock stays half done, but for a fork's or vfork's half-made
 * child (docs/LIBOS.md, "A process that dies holding the lock";
 * user/tests/lockdead.c ends a process at each step of them on purpose,
 * include/exo/diepoint.h).  A thread of a process that lives on
 * cannot die holding it: a kernel thread ends only with its env, or by
 * THREAD_END from its own process's execve, whose caller holds the lock.
 */
#include "libos/libos.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "include/exo/native.h"

/* Yields counted at most: a long hold (a fork) must not leave hundreds
 * of them for the releases after it to answer. */
#define MAX_YIELDS 16
/* How long a waiter waits between asking whether the holder still lives:
 * far longer than any hold (a fork's is the longest), so the kernel call
 * costs nothing while the lock works as it should. */
#define HOLDER_CHECK_NS 50000000ull

static struct sh_lock *the_lock(void)
{
	return lp.shared_pages ? &sh_seg()->lock : (struct sh_lock *)&lp.early_lock;
}

static uint64_t my_id(void)
{
	int64_t tid = lo_thread_self()->tid;
	return tid ? (uint64_t)tid : 1;		/* start-up, before the pid is known */
}

/* A thread of a process that is ending (another thread or process marked
 * it dead, or its parent reaped it already) must not go on under the
 * lock: it waits to be ended. */
static void stop_if_ending(struct sh_lock *l)
{
	const struct sh_proc *me = lp.shared_pages ? proc_self() : 0;
	/* reaped, its entry may be another process's already */
	if (!me || (me->state == PROC_RUNNING && me->pid == (int32_t)lp.self_pid))
		return;
	l->depth = 0;
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELEASE);
	for (;;)
		exo_call0(EXO_SYS_YIELD);
}

/* Once a waiter has waited HOLDER_CHECK_NS since it last looked, it
 * asks whether the holder's env still lives; if not, it takes the lock
 * over from it (returns the holder's tid, *status its wait status), else
 * returns 0.  The compare-and-swap on the holder's tid makes the take-over
 * safe: a dead holder can no longer free the lock, and tids are unique. */
static uint64_t take_over_dead(struct sh_lock *l, uint64_t me, uint64_t *since, int64_t *status)
{
	uint64_t now = time_now_ns();
	if (!*since)
		*since = now;
	if (now - *since < HOLDER_CHECK_NS)
		return 0;
	*since = now;
	uint64_t holder = l->owner;
	if (!holder || (*status = proc_holder_ended(holder)) < 0)
		return 0;
	return __sync_bool_compare_and_swap(&l->owner, holder, me) ? holder : 0;
}

/* Takes back up to n of the yields counted, a waiter's own once it has
 * the lock: left, they made its own releases yield to the thread it had
 * waited for.  Some of its yields may have been answered already, so this
 * can take back another waiter's too; that waiter counts again at its next
 * yield (at most 64 spins later).  A process calling in while another held the lock for long
 * stretches (a 2 MiB console write giving it up every 64 KiB) then made
 * one call per stretch instead of a slice's worth. */
static void uncount_yields(struct sh_lock *l, uint32_t n)
{
	uint32_t y = __atomic_load_n(&l->yields, __ATOMIC_RELAXED);
	while (y && !__atomic_compare_exchange_n(&l->yields, &y, y > n ? y - n : 0, 0,
						 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* The lock was held by another thread: spins, yields, and takes it over
 * from a holder that died.  Out of line, so the uncontended lo_lock
 * saves no registers. */
static __attribute__((noinline)) void lock_contended(struct sh_lock *l, uint64_t me)
{
	uint64_t dead = 0, since = 0;
	int64_t status = 0;
	uint32_t counted = 0;
	for (uint32_t spins = 1;; spins++) {
		if (l->owner == 0 && __sync_bool_compare_and_swap(&l->owner, 0, me))
			break;
		__asm__ volatile("pause");
		if (spins % 64 == 0) {
			if (l->yields < MAX_YIELDS) {
				__atomic_add_fetch(&l->yields, 1, __ATOMIC_RELAXED);
				counted++;
			}
			exo_call0(EXO_SYS_YIELD);
			if (lp.shared_pages && (dead = take_over_dead(l, me, &since, &status)))
				break;
		}
	}
	l->depth = 1;
	if (counted)
		uncount_yields(l, counted);
	if (dead)
		proc_holder_dead(dead, status);
}

void lo_lock(void)
{
	struct sh_lock *l = the_lock();
	uint64_t me = my_id();
	if (l->owner == me) {
		l->depth++;
		return;
	}
	if (l->owner == 0 && __sync_bool_compare_and_swap(&l->owner, 0, me))
		l->depth = 1;
	else
		lock_contended(l, me);
	stop_if_ending(l);
}

/* Frees the lock, and answers a waiter's yield with one of ours: the
 * waiter may be queued behind us on this CPU. */
static void release(struct sh_lock *l)
{
	__atomic_store_n(&l->owner, 0, __ATOMIC_RELEASE);
	uint32_t n = __atomic_load_n(&l->yields, __ATOMIC_RELAXED);
	while (n && !__atomic_compare_exchange_n(&l->yields, &n, n - 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (n)
		exo_call0(EXO_SYS_YIELD);
}

void lo_unlock(void)
{
	struct sh_lock *l = the_lock();
	if (--l->depth == 0)
		release(l);
}

/* Releases the lock however deep the caller holds it; returns the depth
 * for lo_relock. */
uint32_t lo_unlock_all(void)
{
	struct sh_lock *l = the_lock();
	/* a caller not holding it (start-up code) must not free another
	 * thread's hold: nothing to give up, and lo_relock(0) is a no-op */
	if (l->owner != my_id())
		return 0;
	uint32_t d = l->depth;
	l->depth = 0;
	release(l);
	return d;
}

void lo_relock(uint32_t d)
{
	if (!d)
		return;
	lo_lock();
	the_lock()->depth = d;
}

int lo_lock_breather(void)
{
	uint32_t depth = lo_unlock_all();
	exo_call0(EXO_SYS_YIELD);	/* a thread made runnable meanwhile runs now, */
	lo_relock(depth);		/* not at our next sleep: no tick may come */
	return lo_signal_pending(lo_thread_self());
}

/* The hold stays held across execve (the new image takes it up at start
 * and gives it up once its start-up is done), under the tid its first
 * thread will have: the pid. */
void lo_lock_hand_over(uint64_t tid)
{
	struct sh_lock *l = the_lock();
	if (l->owner == my_id())
		l->owner = tid;
}
