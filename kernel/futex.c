/*
 * Futexes: a thread sleeps until another thread, of any env that maps the
 * same frame, changes a word there and wakes it.  A waiter is found by the
 * physical address of its word, looked up through the caller's own page
 * tables, so the mapping is the authority and no cap is needed.  The
 * records live in the threads, on the FIFO chains of a fixed table of
 * buckets (hashed by frame): waiting costs no memory that could run out.
 * A waiter whose page leaves its env, or is remapped to another frame,
 * wakes at once with -EFAULT, so no record outlives the mapping it was made
 * through: a frame is freed only after its last mapping went, and a record
 * can never name a frame that was handed to someone else.  Everything runs
 * under the kernel lock, which makes compare-and-enqueue atomic with
 * respect to wakers on every CPU.
 */
#include "kernel/futex.h"
#include "kernel/env.h"
#include "kernel/percpu.h"
#include "kernel/vm.h"

#define FUTEX_BUCKETS 64

static struct thread *buckets[FUTEX_BUCKETS];
static uint64_t nwaiting;

static struct thread **bucket_of(uint64_t pa)
{
	return &buckets[(pa / PAGE_SIZE) % FUTEX_BUCKETS];
}

/* The physical address of the 32-bit word at va in e, which must be
 * aligned and in a page e maps (every user page is readable). */
static int64_t futex_word(struct env *e, uint64_t va, uint64_t *pa)
{
	if (va % 4)
		return -EXO_EINVAL;
	if (va >= EXO_USER_TOP)
		return -EXO_EFAULT;
	uint64_t pte = env_pte(e, va & ~(uint64_t)(PAGE_SIZE - 1));
	if (!(pte & PTE_P) || !(pte & PTE_U))
		return -EXO_EFAULT;
	*pa = (pte & PTE_ADDR) + va % PAGE_SIZE;
	return 0;
}

int64_t futex_wait(uint64_t va, uint32_t expected, uint64_t timeout_ns)
{
	struct thread *t = current;
	uint64_t pa = 0;
	int64_t err = futex_word(t->env, va, &pa);

	if (err)
		return err;
	if (*(volatile uint32_t *)phys_to_virt(pa) != expected)
		return -EXO_EAGAIN;
	if (timeout_ns == 0)
		return -EXO_ETIMEDOUT;
	t->futex_waiting = 1;
	t->futex_pa = pa;
	t->futex_page = va & ~(uint64_t)(PAGE_SIZE - 1);
	t->futex_next = NULL;
	struct thread **pp = bucket_of(pa);
	while (*pp)
		pp = &(*pp)->futex_next;
	*pp = t;
	nwaiting++;
	thread_block(NULL, deadline_after(timeout_ns));
	return (int64_t)t->wait_result;
}

/* Unlinks *pp (a waiter) from its chain. */
static struct thread *unlink_at(struct thread **pp)
{
	struct thread *t = *pp;
	*pp = t->futex_next;
	t->futex_next = NULL;
	t->futex_waiting = 0;
	nwaiting--;
	return t;
}

int64_t futex_wake(struct env *e, uint64_t va, uint64_t n)
{
	uint64_t pa = 0, woken = 0;
	int64_t err = futex_word(e, va, &pa);

	if (err)
		return err;
	for (struct thread **pp = bucket_of(pa); *pp && woken < n;) {
		if ((*pp)->futex_pa != pa) {
			pp = &(*pp)->futex_next;
			continue;
		}
		thread_wake(unlink_at(pp), 0);
		woken++;
	}
	return (int64_t)woken;
}

void futex_dequeue(struct thread *t)
{
	for (struct thread **pp = bucket_of(t->futex_pa); *pp; pp = &(*pp)->futex_next)
		if (*pp == t) {
			unlink_at(pp);
			return;
		}
}

void futex_unmapped(struct env *e, uint64_t va, uint64_t pa)
{
	if (!nwaiting)
		return;
	for (struct thread **pp = bucket_of(pa); *pp;) {
		struct thread *t = *pp;
		if (t->env == e && t->futex_page == va)
			thread_wake(unlink_at(pp), (uint64_t)-EXO_EFAULT);
		else
			pp = &t->futex_next;
	}
}

uint64_t futex_waiting_count(void)
{
	return nwaiting;
}
