/*
 * Threads of the library OS: one block per thread (struct lo_thread) with
 * what the kernel and the reflection entry write per thread, the libOS
 * lock that keeps the shared tables consistent, futexes and signals.
 */
#ifndef EXO_LIBOS_THREAD_H
#define EXO_LIBOS_THREAD_H

#include <stdint.h>

#include "include/exo/abi.h"
#include "libos/libos.h"
#include "libos/proc.h"

enum { LT_RUNNING, LT_PARKED, LT_STARTING };

struct lo_thread {
	struct exo_reflect reflect;	/* offset 0: the kernel writes it */
	struct exo_regs at_call;	/* offset 16: registers at the call; resumed from */
	uint64_t stack_top;		/* offset 168: where handlers run */
	uint64_t resume_rip, resume_rsp;	/* offsets 176, 184: libos_resume's jump */
	int64_t tid;
	int64_t slot;			/* its kernel thread cap */
	int64_t notify;			/* wakes it from futex waits and sleeps */
	uint64_t clear_tid;		/* CLONE_CHILD_CLEARTID, set_tid_address */
	uint64_t robust_list;
	uint64_t fs_base;
	uint64_t sigmask, sigpending;	/* bit n-1 for signal n */
	volatile int state;		/* LT_* */
	int regs_replaced;		/* rt_sigreturn: resume at_call as it is */
	struct exo_regs start;		/* where a parked thread goes when reused */
	uint64_t futex_addr;		/* futex wait: the word waited on */
	uint32_t futex_bitset;
	volatile int futex_queued;
	struct lo_thread *futex_next;	/* waiters, in arrival order */
	struct lo_thread *next;		/* every thread */
	struct sh_waker *waker;		/* where it sleeps (libos/proc.h) */
	uint64_t ss_sp, ss_size;	/* sigaltstack; size 0: disabled */
	uint64_t saved_mask;		/* rt_sigsuspend: the mask to go back to */
	int mask_saved;
	uint64_t waitset;		/* rt_sigtimedwait: blocked signals that wake it */
	uint64_t cpu_mask;		/* sched_setaffinity's; 0: every CPU */
	struct lo_thread *hand_to;	/* woken by a signal from us: runs after our call */
};
_Static_assert(__builtin_offsetof(struct lo_thread, reflect) == 0, "entry.S uses +0");
_Static_assert(__builtin_offsetof(struct lo_thread, at_call) == 16, "entry.S uses +16");
_Static_assert(__builtin_offsetof(struct lo_thread, stack_top) == 168, "entry.S uses +168");
_Static_assert(__builtin_offsetof(struct lo_thread, resume_rsp) == 184, "entry.S uses +176, +184");

extern struct lo_thread lo_thread0;
extern uint8_t lo_gsbase;		/* the CPU lets us set GS base: threads work */

/* The calling thread's block (GS base points at it). */
static inline struct lo_thread *lo_thread_self(void)
{
	uint64_t p;
	if (!lo_gsbase)
		return &lo_thread0;
	__asm__ volatile("rdgsbase %0" : "=r"(p));
	return (struct lo_thread *)p;
}

/* thread.c */
void lo_threads_init(void);
/* Forgets every other thread: a forked child runs only the forking one. */
void lo_threads_after_fork(struct lo_thread *t);
int64_t lo_thread_tid(struct lo_thread *t);
/* Waits on the thread's notification until deadline_ns (0: none) with the
 * lock released: 0 when woken, -ETIMEDOUT, or -EINTR when a signal is
 * pending for it.  Wake-ups may be spurious; callers check their state. */
int64_t lo_thread_wait(struct lo_thread *t, uint64_t deadline_ns);
/* The wait under every blocking call: sleeps on word (in the shared
 * segment, or the thread's own) while it holds expected, with the lock
 * released, until a wake, deadline_ns (0: none) or the process's next timer
 * deadline (libos/timer.c): 0 when woken or a timer fired (perhaps
 * spuriously), -ETIMEDOUT, or -EINTR when a signal is pending for it. */
int64_t lo_wait_word(const volatile uint32_t *word, uint32_t expected, uint64_t deadline_ns);
/* Wakes t from lo_thread_wait or lo_wait_word (lock held). */
void lo_thread_wake(struct lo_thread *t);
/* Sleeps until deadline_ns: 0, or -EINTR. */
int64_t lo_sleep_until(uint64_t deadline_ns);
struct lo_thread *lo_thread_by_tid(int64_t tid);
/* Starts a thread of the library OS running fn(arg) on a stack of its
 * own (lock not held): its tid, or -EAGAIN (no FSGSBASE, no memory). */
int64_t lo_thread_spawn(void (*fn)(void *), void *arg, uint64_t stack_size);
/* Every thread of the process: the list's first (newest) one. */
struct lo_thread *lo_threads(void);
void lo_threads_after_fork_parent(void);
/* fork: a page of another thread's block or handler stack, kept
 * writable in the parent (libos/thread.c). */
int lo_thread_page_kept(uint64_t va);

/* lock.c: one recursive lock for all of the libOS's shared state.  Every
 * reflected call and the fault handler run under it; a call that blocks
 * drops it while it waits (lo_unlock_all, then lo_relock). */
void lo_lock(void);
void lo_unlock(void);
uint32_t lo_unlock_all(void);
void lo_relock(uint32_t depth);
/* A long call's pause between pieces (a console write, sendfile): the
 * lock goes for a moment to whoever waits for it, so one process's long
 * call does not stop every other; 1 when a signal is pending, and the
 * call then returns what it has done, as Linux's do. */
int lo_lock_breather(void);
/* execve: the caller's hold passes to tid, the new image's first thread. */
void lo_lock_hand_over(uint64_t tid);

/* futex.c */
/* Wakes up to n waiters on uaddr whose bitset meets bitset: how many. */
int64_t lo_futex_wake(uint64_t uaddr, int64_t n, uint32_t bitset);

/* signal.c */
/* Makes signal sig pending for t and wakes it if it waits. */
void lo_signal_thread(struct lo_thread *t, int sig);
void lo_signal_thread_info(struct lo_thread *t, int sig, const struct lo_sigsrc *src);
void lo_signal_process_info(int sig, const struct lo_sigsrc *src);
/* Before a call returns to the program: runs the handler of a pending
 * unblocked signal by changing the registers it resumes with. */
void lo_signal_deliver(struct lo_thread *t, int64_t nr);
int lo_signal_pending(struct lo_thread *t);
/* Publishes dispositions and blocked signals in our process entry. */
void lo_signal_publish(void);

/* System calls (the table is libos/dispatch.c) */
LO_CALL(sys_clone);
LO_CALL(sys_thread_exit);
LO_CALL(sys_set_tid_address);
LO_CALL(sys_gettid);
LO_CALL(sys_set_robust_list);
LO_CALL(sys_get_robust_list);
LO_CALL(sys_sched_yield);
LO_CALL(sys_futex);
LO_CALL(sys_rt_sigaction);
LO_CALL(sys_rt_sigprocmask);
LO_CALL(sys_rt_sigreturn);
LO_CALL(sys_rt_sigpending);
LO_CALL(sys_kill);
LO_CALL(sys_tkill);
LO_CALL(sys_tgkill);
LO_CALL(sys_pause);
int lo_signal_fault(struct exo_regs *r, int sig, uint64_t addr);
LO_CALL(sys_rt_sigsuspend);
LO_CALL(sys_rt_sigtimedwait);
LO_CALL(sys_rt_sigqueueinfo);
LO_CALL(sys_sigaltstack);

/* timer.c: alarm, itimers, POSIX timers */
/* The earliest deadline of an armed timer (time_now_ns's clock), 0: none. */
uint64_t lo_timer_next(void);
/* Fires the timers whose deadline has passed (lock held). */
void lo_timers_run(void);
/* A forked child has no timers. */
void lo_timers_after_fork(void);
LO_CALL(sys_alarm);
LO_CALL(sys_getitimer);
LO_CALL(sys_setitimer);
LO_CALL(sys_timer_create);
LO_CALL(sys_timer_settime);
LO_CALL(sys_timer_gettime);
LO_CALL(sys_timer_getoverrun);
LO_CALL(sys_timer_delete);

#endif
