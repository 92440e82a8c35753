/*
 * Timers of a process: alarm, setitimer/getitimer (ITIMER_REAL), and the
 * POSIX timers (timer_create with SIGEV_SIGNAL, SIGEV_NONE or
 * SIGEV_THREAD_ID on CLOCK_REALTIME or CLOCK_MONOTONIC).
 *
 * Nothing runs by itself at a deadline: the library OS runs only when a
 * thread calls in.  So a timer fires (its signal is sent) at the first of
 * (a) any thread's next system call after the deadline (libos_syscall
 * looks), and (b) the deadline itself when a thread is blocked in the
 * library OS: every blocking wait (lo_wait_word) takes the earliest
 * deadline as its timeout.  A process whose threads all run program code
 * and never call in gets the signal only at its next call
 * (docs/LIBOS.md "Signals").  Timers are the process's own: a forked
 * child starts with none, and execve ends them.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/thread.h"
#include "include/exo/native.h"

#define NTIMERS 32			/* POSIX timers per process */
#define SIGALRM 14
#define SI_KERNEL 0x80
#define SI_TIMER (-2)
#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD_ID 4
#define TIMER_ABSTIME 1
#define NS 1000000000ull
#define NSIG 64

struct timer {
	int used;
	int realtime;			/* CLOCK_REALTIME: the deadline moves with the clock */
	uint64_t deadline;		/* time_now_ns's clock; 0: disarmed */
	uint64_t interval;
	int notify, sig;
	int32_t tid;			/* SIGEV_THREAD_ID */
	uint64_t value;			/* sigev_value */
	int32_t overrun;		/* expirations missed at the last firing */
};

struct itimerspec_lx {
	struct lx_timespec interval, value;
};

struct itimerval_lx {
	int64_t interval_sec, interval_usec, value_sec, value_usec;
};

static struct timer itimer_real;	/* alarm and setitimer(ITIMER_REAL) */
static struct timer timers[NTIMERS];
static uint64_t next_deadline;		/* the earliest armed one; 0: none */

static void recompute(void)
{
	next_deadline = itimer_real.deadline;
	for (int i = 0; i < NTIMERS; i++)
		if (timers[i].used && timers[i].deadline &&
		    (!next_deadline || timers[i].deadline < next_deadline))
			next_deadline = timers[i].deadline;
}

uint64_t lo_timer_next(void)
{
	return next_deadline;
}

/* Sends a timer's signal: the itimer's SIGALRM with SI_KERNEL, a POSIX
 * timer's with SI_TIMER, its id, overrun and value. */
static void fire(struct timer *t, int id)
{
	if (t->notify == SIGEV_NONE)
		return;
	struct lo_sigsrc src = { .code = t == &itimer_real ? SI_KERNEL : SI_TIMER, .a = id,
				 .b = t->overrun, .value = t->value };
	if (t == &itimer_real)
		src.a = 0;
	struct lo_thread *to = t->notify == SIGEV_THREAD_ID ? lo_thread_by_tid(t->tid) : 0;
	if (to)
		lo_signal_thread_info(to, t->sig, &src);
	else
		lo_signal_process_info(t->sig, &src);
}

/* A timer whose deadline passed: fired, then re-armed by its interval
 * (the periods missed meanwhile count as overruns) or disarmed. */
static void expire(struct timer *t, int id, uint64_t now)
{
	t->overrun = 0;
	if (t->interval) {
		uint64_t missed = (now - t->deadline) / t->interval;
		t->overrun = missed > 0x7fffffff ? 0x7fffffff : (int32_t)missed;
		t->deadline += (missed + 1) * t->interval;
	} else {
		t->deadline = 0;
	}
	fire(t, id);
}

void lo_timers_run(void)
{
	if (!next_deadline)
		return;
	uint64_t now = time_now_ns();
	if (now < next_deadline)
		return;
	if (itimer_real.deadline && itimer_real.deadline <= now)
		expire(&itimer_real, 0, now);
	for (int i = 0; i < NTIMERS; i++)
		if (timers[i].used && timers[i].deadline && timers[i].deadline <= now)
			expire(&timers[i], i, now);
	recompute();
}

void lo_timers_after_fork(void)
{
	lo_memset(&itimer_real, 0, sizeof itimer_real);
	lo_memset(timers, 0, sizeof timers);
	next_deadline = 0;
}

/* ------------------------------------------------- alarm and itimers */

/* What is left of a timer: ns, 0 when disarmed (never 0 while armed). */
static uint64_t remaining(const struct timer *t)
{
	if (!t->deadline)
		return 0;
	uint64_t now = time_now_ns();
	return t->deadline > now ? t->deadline - now : 1;
}

static void arm(struct timer *t, uint64_t value_ns, uint64_t interval_ns)
{
	t->deadline = value_ns ? time_now_ns() + value_ns : 0;
	t->interval = t->deadline ? interval_ns : 0;
	recompute();
}

static void itimer_setup(void)
{
	itimer_real.sig = SIGALRM;
	itimer_real.notify = SIGEV_SIGNAL;
}

LO_CALL(sys_alarm)
{
	UNUSED_ARGS;
	uint64_t left = remaining(&itimer_real);
	itimer_setup();
	arm(&itimer_real, (uint64_t)(uint32_t)a0 * NS, 0);
	/* whole seconds, rounded to nearest, never 0 while armed (as Linux) */
	uint64_t sec = (left + NS / 2) / NS;
	return left && !sec ? 1 : (int64_t)sec;
}

static void itimer_get(struct itimerval_lx *v)
{
	uint64_t left = remaining(&itimer_real);
	uint64_t iv = itimer_real.deadline ? itimer_real.interval : 0;
	left = (left + 999) / 1000;		/* µs, rounded up */
	iv /= 1000;
	*v = (struct itimerval_lx){ (int64_t)(iv / 1000000), (int64_t)(iv % 1000000),
				    (int64_t)(left / 1000000), (int64_t)(left % 1000000) };
}

/* ITIMER_VIRTUAL and ITIMER_PROF count CPU time, which the library OS
 * does not measure: ENOSYS. */
static int64_t itimer_which(uint64_t which)
{
	return which == 0 ? 0 : which <= 2 ? -ENOSYS : -EINVAL;
}

LO_CALL(sys_getitimer)
{
	UNUSED_ARGS;
	int64_t err = itimer_which(a0);
	if (err)
		return err;
	struct itimerval_lx v;
	itimer_get(&v);
	return lo_copy_out((void *)a1, &v, sizeof v) ? -EFAULT : 0;
}

/* setitimer: a NULL new value disarms, as Linux still allows. */
LO_CALL(sys_setitimer)
{
	UNUSED_ARGS;
	int64_t err = itimer_which(a0);
	if (err)
		return err;
	struct itimerval_lx v = { 0 }, old;
	if (a1 && lo_copy_in(&v, (const void *)a1, sizeof v))
		return -EFAULT;
	if (v.value_sec < 0 || v.value_usec < 0 || v.value_usec >= 1000000 ||
	    v.interval_sec < 0 || v.interval_usec < 0 || v.interval_usec >= 1000000)
		return -EINVAL;
	itimer_get(&old);
	if (a2 && lo_copy_out((void *)a2, &old, sizeof old))
		return -EFAULT;
	itimer_setup();
	arm(&itimer_real, (uint64_t)v.value_sec * NS + (uint64_t)v.value_usec * 1000,
	    (uint64_t)v.interval_sec * NS + (uint64_t)v.interval_usec * 1000);
	return 0;
}

/* ------------------------------------------------------ POSIX timers */

struct sigevent_lx {
	uint64_t value;
	int32_t signo, notify;
	int32_t tid;
	int32_t pad[11];
};
_Static_assert(sizeof(struct sigevent_lx) == 64, "struct sigevent");

/* clock ids: REALTIME 0, MONOTONIC 1, BOOTTIME 7 (the same as MONOTONIC
 * here); 1 for CLOCK_REALTIME, 0 for the others, -EINVAL otherwise. */
static int clock_kind(uint64_t clock)
{
	return clock == 0 ? 1 : clock == 1 || clock == 7 ? 0 : -EINVAL;
}

static struct timer *timer_of(uint64_t id)
{
	return id < NTIMERS && timers[id].used ? &timers[id] : 0;
}

LO_CALL(sys_timer_create)
{
	UNUSED_ARGS;
	int rt = clock_kind(a0);
	if (rt < 0)
		return rt;
	struct sigevent_lx ev = { .signo = SIGALRM, .notify = SIGEV_SIGNAL };
	if (a1 && lo_copy_in(&ev, (const void *)a1, sizeof ev))
		return -EFAULT;
	if (ev.notify != SIGEV_SIGNAL && ev.notify != SIGEV_NONE && ev.notify != SIGEV_THREAD_ID)
		return -EINVAL;
	if (ev.notify != SIGEV_NONE && (ev.signo < 1 || ev.signo > NSIG))
		return -EINVAL;
	if (ev.notify == SIGEV_THREAD_ID && !lo_thread_by_tid(ev.tid))
		return -EINVAL;
	int id = 0;
	while (id < NTIMERS && timers[id].used)
		id++;
	if (id == NTIMERS)
		return -EAGAIN;
	if (!a1)
		ev.value = (uint64_t)id;	/* sigev_value is the id, as Linux */
	int32_t out = id;
	if (lo_copy_out((void *)a2, &out, 4))
		return -EFAULT;
	timers[id] = (struct timer){ .used = 1, .realtime = rt, .notify = ev.notify, .sig = ev.signo,
				     .tid = ev.tid, .value = ev.value };
	return 0;
}

static void timer_get(const struct timer *t, struct itimerspec_lx *v)
{
	uint64_t left = remaining(t), iv = t->deadline ? t->interval : 0;
	*v = (struct itimerspec_lx){ { (int64_t)(iv / NS), (int64_t)(iv % NS) },
				     { (int64_t)(left / NS), (int64_t)(left % NS) } };
}

static int valid_ts(const struct lx_timespec *ts)
{
	return ts->sec >= 0 && ts->nsec >= 0 && ts->nsec < (int64_t)NS;
}

LO_CALL(sys_timer_settime)
{
	UNUSED_ARGS;
	struct timer *t = timer_of(a0);
	struct itimerspec_lx v, old;
	if (!t)
		return -EINVAL;
	if (lo_copy_in(&v, (const void *)a2, sizeof v))
		return -EFAULT;
	if (!valid_ts(&v.value) || !valid_ts(&v.interval))
		return -EINVAL;
	timer_get(t, &old);
	if (a3 && lo_copy_out((void *)a3, &old, sizeof old))
		return -EFAULT;
	uint64_t value = (uint64_t)v.value.sec * NS + (uint64_t)v.value.nsec;
	uint64_t interval = (uint64_t)v.interval.sec * NS + (uint64_t)v.interval.nsec;
	if (value && (a1 & TIMER_ABSTIME)) {
		uint64_t now = time_now_ns() + (t->realtime ? libos_kinfo->realtime_base_ns : 0);
		value = value > now ? value - now : 1;	/* past: fires at once */
	}
	arm(t, value, interval);
	lo_timers_run();
	return 0;
}

LO_CALL(sys_timer_gettime)
{
	UNUSED_ARGS;
	struct timer *t = timer_of(a0);
	struct itimerspec_lx v;
	if (!t)
		return -EINVAL;
	timer_get(t, &v);
	return lo_copy_out((void *)a1, &v, sizeof v) ? -EFAULT : 0;
}

LO_CALL(sys_timer_getoverrun)
{
	UNUSED_ARGS;
	struct timer *t = timer_of(a0);
	return t ? t->overrun : -EINVAL;
}

LO_CALL(sys_timer_delete)
{
	UNUSED_ARGS;
	struct timer *t = timer_of(a0);
	if (!t)
		return -EINVAL;
	lo_memset(t, 0, sizeof *t);
	recompute();
	return 0;
}
