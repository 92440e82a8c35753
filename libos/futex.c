/*
 * futex: FUTEX_WAIT, FUTEX_WAKE, their _BITSET forms, FUTEX_REQUEUE and
 * FUTEX_CMP_REQUEUE, private or shared, with timeouts.  A waiter queues
 * itself (under the libOS lock, after checking the word) and sleeps on its
 * own waker's word with the lock released; a waker dequeues it and wakes
 * that word, so nobody spins while waiting.  A futex is named by
 * its address in the process.  A word in memory other processes map too
 * (a MAP_SHARED file, System V memory: mm_shared_word) is named by where
 * it lives in the shared segment instead, private flag or not, and waits
 * there with sh_wait, so a waker in any process finds it (woken waiters
 * of such a word all wake, and look again: spurious wakes are allowed).
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/thread.h"
#include "libos/shared.h"
#include "include/exo/native.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define ETIMEDOUT 110

static struct lo_thread *waiters;	/* every waiter, oldest first */

static void dequeue(struct lo_thread *t)
{
	for (struct lo_thread **pp = &waiters; *pp; pp = &(*pp)->futex_next)
		if (*pp == t) {
			*pp = t->futex_next;
			break;
		}
	t->futex_next = 0;
	t->futex_queued = 0;
}

static void enqueue(struct lo_thread *t)
{
	struct lo_thread **pp = &waiters;
	while (*pp)
		pp = &(*pp)->futex_next;
	*pp = t;
	t->futex_next = 0;
	t->futex_queued = 1;
}

int64_t lo_futex_wake(uint64_t uaddr, int64_t n, uint32_t bitset)
{
	int64_t woken = 0;
	uint64_t sword = mm_shared_word(uaddr);
	if (sword) {
		sh_wake((volatile uint32_t *)sword);
		return n > 0;
	}
	struct lo_thread *t = waiters;
	while (t && woken < n) {
		struct lo_thread *next = t->futex_next;
		if (t->futex_addr == uaddr && (t->futex_bitset & bitset)) {
			dequeue(t);
			lo_thread_wake(t);
			woken++;
		}
		t = next;
	}
	return woken;
}

/* The deadline of a wait in ns of time_now_ns (0: none), from a relative
 * timeout (FUTEX_WAIT) or an absolute one (FUTEX_WAIT_BITSET). */
static int64_t deadline_of(uint64_t uts, int absolute, int realtime, uint64_t *deadline)
{
	struct lx_timespec ts;
	*deadline = 0;
	if (!uts)
		return 0;
	if (lo_copy_in(&ts, (const void *)uts, sizeof ts))
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
		return -EINVAL;
	uint64_t ns = (uint64_t)ts.sec * 1000000000u + (uint64_t)ts.nsec, now = time_now_ns();
	if (!absolute)
		*deadline = now + ns;
	else if (realtime)
		*deadline = ns > libos_kinfo->realtime_base_ns ? ns - libos_kinfo->realtime_base_ns : 1;
	else
		*deadline = ns ? ns : 1;
	return 0;
}

/* A wait on a word of the shared segment (sword), its value checked. */
static int64_t shared_wait(uint64_t sword, uint32_t val, uint64_t deadline)
{
	volatile uint32_t *w = (volatile uint32_t *)sword;
	int64_t r = sh_wait(w, val, deadline);
	if (r == -EINTR)
		return -EINTR;
	return r ? -ETIMEDOUT : 0;
}

static int64_t futex_wait(uint64_t uaddr, uint32_t val, uint64_t deadline, uint32_t bitset)
{
	struct lo_thread *t = lo_thread_self();
	uint32_t cur;
	if (!bitset)
		return -EINVAL;
	if (lo_copy_in(&cur, (const void *)uaddr, 4))
		return -EFAULT;
	if (cur != val)
		return -EAGAIN;
	uint64_t sword = mm_shared_word(uaddr);
	if (sword)
		return shared_wait(sword, val, deadline);
	t->futex_addr = uaddr;
	t->futex_bitset = bitset;
	enqueue(t);
	for (;;) {
		int64_t r = lo_thread_wait(t, deadline);
		if (!t->futex_queued)
			return 0;
		if (r == -EXO_ETIMEDOUT || r == -EINTR) {
			dequeue(t);
			return r == -EINTR ? -EINTR : -ETIMEDOUT;
		}
	}
}

/* Wakes n waiters of uaddr and moves up to n2 of the rest to uaddr2:
 * returns how many were woken and moved. */
static int64_t futex_requeue(uint64_t uaddr, int64_t n, int64_t n2, uint64_t uaddr2)
{
	int64_t done = lo_futex_wake(uaddr, n, ~0u);
	for (struct lo_thread *t = waiters; t && n2 > 0; t = t->futex_next)
		if (t->futex_addr == uaddr) {
			t->futex_addr = uaddr2;
			n2--;
			done++;
		}
	return done;
}

LO_CALL(sys_futex)
{
	UNUSED_ARGS;
	int op = (int)(a1 & ~(uint64_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME));
	int realtime = (a1 & FUTEX_CLOCK_REALTIME) != 0;
	uint64_t deadline;
	int64_t err;
	if (a0 % 4)
		return -EINVAL;
	if (realtime && op != FUTEX_WAIT_BITSET && op != FUTEX_WAIT)
		return -ENOSYS;
	switch (op) {
	case FUTEX_WAIT:
	case FUTEX_WAIT_BITSET:
		if ((err = deadline_of(a3, op == FUTEX_WAIT_BITSET, realtime, &deadline)))
			return err;
		return futex_wait(a0, (uint32_t)a2, deadline, op == FUTEX_WAIT ? ~0u : (uint32_t)a5);
	case FUTEX_WAKE:
	case FUTEX_WAKE_BITSET:
		if (op == FUTEX_WAKE_BITSET && !(uint32_t)a5)
			return -EINVAL;
		return lo_futex_wake(a0, (int32_t)a2 < 0 ? 0 : (int32_t)a2,
				     op == FUTEX_WAKE ? ~0u : (uint32_t)a5);
	case FUTEX_CMP_REQUEUE: {
		uint32_t cur;
		if (a4 % 4)
			return -EINVAL;
		if (lo_copy_in(&cur, (const void *)a0, 4))
			return -EFAULT;
		if (cur != (uint32_t)a5)
			return -EAGAIN;
	}	/* fall through */
	case FUTEX_REQUEUE:
		if (a4 % 4 || (int32_t)a2 < 0 || (int32_t)a3 < 0)
			return -EINVAL;
		return futex_requeue(a0, (int32_t)a2, (int32_t)a3, a4);
	default:
		return -ENOSYS;
	}
}
