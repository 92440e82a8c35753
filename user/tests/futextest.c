/*
 * FUTEX_WAIT and FUTEX_WAKE between envs: one frame, allocated and mapped
 * here with the native calls at one address and into child envs at
 * another (read-only in one of them), is where they meet.  Checked: bad
 * arguments, the compare, timeouts, wakes across envs in FIFO order and
 * bounded by n, a wake of another word waking nobody, a waiter whose page
 * is unmapped waking with -EFAULT, and no record left by a killed waiter.
 * A child is known to be blocked when YIELD_TO on its thread says it is
 * not runnable (its only blocking call is the futex wait).
 */
#include "check.h"
#include "exo.h"

#include <time.h>

#define E(x) (-(int64_t)(x))
#define WORD_VA 0x0000510000000000ull		/* the shared frame, here */
#define REPORT_VA 0x0000520000000000ull		/* children's results, here */
#define CHILD_WORD_VA SHARED_VA			/* the shared frame, in a child */
#define CHILD_REPORT_VA (SHARED_VA + 0x10000)
#define SENTINEL 0x7777
#define NCHILD 6

static volatile uint32_t *word = (volatile uint32_t *)WORD_VA;
static volatile int64_t *report = (volatile int64_t *)REPORT_VA;
static int64_t word_frame, report_frame;
static int64_t env_of[NCHILD], thread_of[NCHILD];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- bodies run in child envs: only arguments, stack and native calls --- */

/* Waits on the word (expecting 0, no timeout) and reports the result. */
static void body_waiter(uint64_t word_va, uint64_t report_va, uint64_t a2)
{
	(void)a2;
	int64_t r = exo_call(EXO_SYS_FUTEX_WAIT, word_va, 0, EXO_FOREVER);
	*(volatile int64_t *)report_va = r;
	exo_call(EXO_SYS_EXIT, 0);
}

/* Wakes one waiter on the word, trying every 10 ms for about 10 s until
 * one was there; reports how many it woke. */
static void body_waker(uint64_t word_va, uint64_t report_va, uint64_t a2)
{
	(void)a2;
	int64_t n = exo_call0(EXO_SYS_NOTIFY_CREATE), r = 0;
	for (int i = 0; i < 1000 && r == 0; i++) {
		exo_call(EXO_SYS_NOTIFY_WAIT, n, 10000000);
		r = exo_call(EXO_SYS_FUTEX_WAKE, word_va, 1);
	}
	*(volatile int64_t *)report_va = r;
	exo_call(EXO_SYS_EXIT, 0);
}

/* --- the root --- */

/* Child i with the shared frame (read-only when readonly) and the report
 * page mapped; runs fn. */
static int start_child(int i, void (*fn)(uint64_t, uint64_t, uint64_t), int readonly)
{
	int64_t th;
	int64_t env = child_create(256, 0, &th, NULL);
	if (env < 0)
		return 0;
	env_of[i] = env;
	thread_of[i] = th;
	report[i] = SENTINEL;
	return exo_call(EXO_SYS_PAGE_MAP, env, CHILD_WORD_VA, word_frame, 0,
			readonly ? EXO_PROT_READ : EXO_PROT_READ | EXO_PROT_WRITE) == 0 &&
	       exo_call(EXO_SYS_PAGE_MAP, env, CHILD_REPORT_VA, report_frame, 0,
			EXO_PROT_READ | EXO_PROT_WRITE) == 0 &&
	       child_start(th, fn, CHILD_WORD_VA, CHILD_REPORT_VA + 8 * (uint64_t)i, 0) == 0;
}

/* Whether child i's thread is blocked within 10 s. */
static int blocked(int i)
{
	double t0 = now_s();
	while (now_s() - t0 < 10) {
		if (exo_call(EXO_SYS_YIELD_TO, thread_of[i]) == E(EXO_EAGAIN))
			return 1;
		exo_call0(EXO_SYS_YIELD);
	}
	return 0;
}

static void bad_arguments(void)
{
	*word = 5;
	EXPECT("futex-unaligned-einval", exo_call(EXO_SYS_FUTEX_WAIT, WORD_VA + 2, 5, 0) == E(EXO_EINVAL) &&
	       exo_call(EXO_SYS_FUTEX_WAKE, WORD_VA + 1, 1) == E(EXO_EINVAL));
	EXPECT("futex-kernel-address-efault", exo_call(EXO_SYS_FUTEX_WAIT, 0xffff800000001000ull, 0, 0) == E(EXO_EFAULT) &&
	       exo_call(EXO_SYS_FUTEX_WAKE, 0xffff800000001000ull, 1) == E(EXO_EFAULT));
	EXPECT("futex-unmapped-efault", exo_call(EXO_SYS_FUTEX_WAIT, 0x10, 0, EXO_FOREVER) == E(EXO_EFAULT) &&
	       exo_call(EXO_SYS_FUTEX_WAKE, EXO_USER_TOP - 4, 1) == E(EXO_EFAULT));
	EXPECT("futex-expected-over-32-bits", exo_call(EXO_SYS_FUTEX_WAIT, WORD_VA, 5 | 1ull << 32, 0) == E(EXO_EINVAL));
	EXPECT("futex-other-value-eagain", exo_call(EXO_SYS_FUTEX_WAIT, WORD_VA, 4, EXO_FOREVER) == E(EXO_EAGAIN));
	EXPECT("futex-zero-timeout", exo_call(EXO_SYS_FUTEX_WAIT, WORD_VA, 5, 0) == E(EXO_ETIMEDOUT));
	EXPECT("futex-wake-nobody", exo_call(EXO_SYS_FUTEX_WAKE, WORD_VA, 100) == 0);
	double t0 = now_s();
	int64_t r = exo_call(EXO_SYS_FUTEX_WAIT, WORD_VA, 5, 20000000);	/* 20 ms */
	EXPECT("futex-timeout", r == E(EXO_ETIMEDOUT) && now_s() - t0 >= 0.019);
	/* the kernel info page is mapped readable in every env: a word there works */
	EXPECT("futex-readonly-kernel-page", exo_call(EXO_SYS_FUTEX_WAKE, EXO_KINFO_VA, 1) == 0);
	*word = 0;
}

/* Three waiters in three envs, blocked one after the other; the first two
 * (FIFO) are woken through this env's address of the frame. */
static void wake_across_envs(void)
{
	int ok = 1;
	for (int i = 0; i < 3; i++)
		ok &= start_child(i, body_waiter, i == 0) && blocked(i);
	EXPECT("futex-waiters-block", ok);
	EXPECT("futex-wake-other-word-wakes-none", exo_call(EXO_SYS_FUTEX_WAKE, WORD_VA + 4, 10) == 0);
	EXPECT("futex-wake-n", exo_call(EXO_SYS_FUTEX_WAKE, WORD_VA, 2) == 2);
	int64_t s0 = child_wait(env_of[0], 10000000000ull), s1 = child_wait(env_of[1], 10000000000ull);
	EXPECT("futex-woken-return-0", s0 == EXO_STATUS_EXITED(0) && s1 == EXO_STATUS_EXITED(0) &&
	       report[0] == 0 && report[1] == 0);
	EXPECT("futex-third-still-waits", report[2] == SENTINEL &&
	       exo_call(EXO_SYS_YIELD_TO, thread_of[2]) == E(EXO_EAGAIN));
	/* killed while waiting: no record is left for a wake to find */
	EXPECT("futex-kill-waiter", exo_call(EXO_SYS_ENV_KILL, env_of[2], 9) == 0);
	EXPECT("futex-killed-waiter-gone", exo_call(EXO_SYS_FUTEX_WAKE, WORD_VA, 10) == 0 && report[2] == SENTINEL);
	for (int i = 0; i < 3; i++)
		child_destroy(env_of[i]);
}

/* The frame unmapped from a waiter's env: it wakes with -EFAULT at once. */
static void unmap_wakes(void)
{
	int ok = start_child(3, body_waiter, 0) && blocked(3);
	EXPECT("futex-unmap-waiter-blocks", ok);
	EXPECT("futex-unmap", exo_call(EXO_SYS_PAGE_UNMAP, env_of[3], CHILD_WORD_VA) == 0);
	EXPECT("futex-unmap-wakes-efault", child_wait(env_of[3], 10000000000ull) == EXO_STATUS_EXITED(0) &&
	       report[3] == E(EXO_EFAULT));
	EXPECT("futex-unmap-no-record", exo_call(EXO_SYS_FUTEX_WAKE, WORD_VA, 10) == 0);
	child_destroy(env_of[3]);
}

/* This env waits; a child wakes it through its own address of the frame. */
static void woken_by_child(void)
{
	EXPECT("futex-waker-start", start_child(4, body_waker, 1));
	int64_t r = exo_call(EXO_SYS_FUTEX_WAIT, WORD_VA, 0, 20000000000ull);
	EXPECT("futex-woken-by-other-env", r == 0);
	EXPECT("futex-waker-woke-one", child_wait(env_of[4], 10000000000ull) == EXO_STATUS_EXITED(0) &&
	       report[4] == 1);
	child_destroy(env_of[4]);
}

int main(void)
{
	word_frame = map_new_frames(WORD_VA, 1);
	report_frame = map_new_frames(REPORT_VA, 1);
	EXPECT("futex-frames", word_frame >= 0 && report_frame >= 0);
	bad_arguments();
	wake_across_envs();
	unmap_wakes();
	woken_by_child();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
