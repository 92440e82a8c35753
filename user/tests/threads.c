/*
 * pthreads on the library OS: mutexes, condition variables, join, detach,
 * thread-local storage, barriers, cancellation, pthread_kill, and the
 * futex calls beneath them.  tests/suites/28-posix-threads.sh runs it in
 * the guest (with -smp 4) and, built with plain musl-gcc, on the Linux
 * host, and compares the outputs line for line: every line is a result
 * that must be the same on both.
 */
#define _GNU_SOURCE
#include "check.h"
#include "show.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* futex operations (linux/futex.h is not in musl's headers) */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)

#define WORKERS 8
#define ROUNDS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *add_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return 0;
}

/* Many threads incrementing under one mutex: the total is exact. */
static void mutex_counter(void)
{
	pthread_t t[WORKERS];
	for (int i = 0; i < WORKERS; i++)
		EXPECT("mutex-create", pthread_create(&t[i], 0, add_many, 0) == 0);
	for (int i = 0; i < WORKERS; i++)
		EXPECT("mutex-join", pthread_join(t[i], 0) == 0);
	printf("mutex counter: %ld (want %d)\n", counter, WORKERS * ROUNDS);
	EXPECT("mutex-total", counter == (long)WORKERS * ROUNDS);
}

static void *square(void *arg)
{
	long v = (long)arg;
	return (void *)(v * v);
}

/* join hands back each thread's value; 100 threads one after another
 * (the library OS reuses exited threads). */
static void join_values(void)
{
	long sum = 0;
	for (long i = 0; i < 100; i++) {
		pthread_t t;
		void *r;
		if (pthread_create(&t, 0, square, (void *)i) || pthread_join(t, &r))
			break;
		sum += (long)r;
	}
	printf("join: sum of squares 0..99 = %ld\n", sum);
	EXPECT("join-values", sum == 328350);
}

static sem_t detached_done;
static void *detached(void *arg)
{
	(void)arg;
	sem_post(&detached_done);
	return 0;
}

static void detach_threads(void)
{
	sem_init(&detached_done, 0, 0);
	int ok = 0;
	for (int i = 0; i < 20; i++) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		ok += pthread_create(&t, &a, detached, 0) == 0;
		pthread_attr_destroy(&a);
	}
	for (int i = 0; i < ok; i++)
		sem_wait(&detached_done);
	printf("detach: %d detached threads ran\n", ok);
	EXPECT("detach", ok == 20);
	/* one more, detached after creation */
	pthread_t t;
	EXPECT("detach-after", pthread_create(&t, 0, detached, 0) == 0 && pthread_detach(t) == 0);
	sem_wait(&detached_done);
}

static __thread long tls_value = 7;
static __thread char tls_buf[64];
static void *tls_worker(void *arg)
{
	long mine = (long)arg;
	int fresh = tls_value == 7 && tls_buf[0] == 0;
	tls_value = mine;
	snprintf(tls_buf, sizeof tls_buf, "thread %ld", mine);
	usleep(1000);
	char want[64];
	snprintf(want, sizeof want, "thread %ld", mine);
	return (void *)(long)(fresh && tls_value == mine && strcmp(tls_buf, want) == 0);
}

static void thread_local(void)
{
	pthread_t t[6];
	int good = 0;
	tls_value = 99;
	for (long i = 0; i < 6; i++)
		pthread_create(&t[i], 0, tls_worker, (void *)(i + 100));
	for (int i = 0; i < 6; i++) {
		void *r;
		pthread_join(t[i], &r);
		good += (long)r == 1;
	}
	printf("tls: %d of 6 threads had their own copy; main still %ld\n", good, tls_value);
	EXPECT("tls", good == 6 && tls_value == 99);
}

static pthread_mutex_t pp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pp_cond = PTHREAD_COND_INITIALIZER;
static int turn, volleys;
#define VOLLEYS 2000

static void *ponger(void *arg)
{
	int me = (int)(long)arg;
	pthread_mutex_lock(&pp_lock);
	while (volleys < VOLLEYS) {
		while (turn != me && volleys < VOLLEYS)
			pthread_cond_wait(&pp_cond, &pp_lock);
		if (volleys >= VOLLEYS)
			break;
		volleys++;
		turn = !me;
		pthread_cond_broadcast(&pp_cond);
	}
	pthread_mutex_unlock(&pp_lock);
	return 0;
}

/* Two threads hand a turn back and forth through one condition variable. */
static void cond_ping_pong(void)
{
	pthread_t a, b;
	pthread_create(&a, 0, ponger, (void *)0);
	pthread_create(&b, 0, ponger, (void *)1);
	pthread_join(a, 0);
	pthread_join(b, 0);
	printf("condition variable ping-pong: %d volleys\n", volleys);
	EXPECT("cond-ping-pong", volleys == VOLLEYS);
}

static void timed_wait(void)
{
	struct timespec ts, t0, t1;
	clock_gettime(CLOCK_REALTIME, &ts);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ts.tv_nsec += 50 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&pp_lock);
	int r = pthread_cond_timedwait(&pp_cond, &pp_lock, &ts);
	pthread_mutex_unlock(&pp_lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("cond_timedwait 50 ms: %s\n", r == ETIMEDOUT ? "ETIMEDOUT" : "other");
	EXPECT("cond-timedwait-waited", ms >= 49);
}

static pthread_barrier_t barrier;
static int arrived;
static void *at_barrier(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&arrived, 1, __ATOMIC_SEQ_CST);
	int r = pthread_barrier_wait(&barrier);
	/* everyone arrived before anyone left */
	return (void *)(long)((r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD) &&
			      __atomic_load_n(&arrived, __ATOMIC_SEQ_CST) == 4);
}

static void barriers(void)
{
	pthread_t t[4];
	int good = 0;
	pthread_barrier_init(&barrier, 0, 4);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], 0, at_barrier, 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		good += (long)r;
	}
	printf("barrier: %d of 4 left after all arrived\n", good);
	EXPECT("barrier", good == 4);
}

static int cleaned;
static void cleanup(void *arg)
{
	cleaned = 1;
	pthread_mutex_unlock(arg);
}

static void *wait_forever(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pp_lock);
	pthread_cleanup_push(cleanup, &pp_lock);
	for (;;)
		pthread_cond_wait(&pp_cond, &pp_lock);
	pthread_cleanup_pop(0);
	return 0;
}

static void *sleep_forever(void *arg)
{
	(void)arg;
	for (;;)
		sleep(100);
	return 0;
}

/* Cancellation of threads blocked in cancellation points. */
static void cancellation(void)
{
	pthread_t t;
	void *r;
	pthread_create(&t, 0, wait_forever, 0);
	usleep(20000);
	int c = pthread_cancel(t);
	int j = pthread_join(t, &r);
	printf("cancel in cond_wait: cancel %d, join %d, canceled %d, cleanup ran %d\n", c, j,
	       r == PTHREAD_CANCELED, cleaned);
	EXPECT("cancel-cond-wait", c == 0 && j == 0 && r == PTHREAD_CANCELED && cleaned);
	EXPECT("cancel-mutex-released", pthread_mutex_trylock(&pp_lock) == 0);
	pthread_mutex_unlock(&pp_lock);

	pthread_create(&t, 0, sleep_forever, 0);
	usleep(20000);
	c = pthread_cancel(t);
	j = pthread_join(t, &r);
	printf("cancel in sleep: cancel %d, join %d, canceled %d\n", c, j, r == PTHREAD_CANCELED);
	EXPECT("cancel-sleep", c == 0 && j == 0 && r == PTHREAD_CANCELED);
}

static pthread_t usr1_target;
static volatile int usr1_in_target, usr1_count;
static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
	usr1_in_target = pthread_equal(pthread_self(), usr1_target);
}

static sem_t kill_sem;
static void *wait_for_kill(void *arg)
{
	(void)arg;
	while (sem_wait(&kill_sem) != 0)
		;
	return 0;
}

/* pthread_kill reaches the thread it names, even blocked in sem_wait. */
static void thread_kill(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, 0);
	sem_init(&kill_sem, 0, 0);
	pthread_create(&usr1_target, 0, wait_for_kill, 0);
	usleep(20000);
	int r = pthread_kill(usr1_target, SIGUSR1);
	/* the handler runs in the target, still blocked in sem_wait; allow it
	 * up to 2 s (on four TCG CPUs over two busy host cores a wake-up can
	 * take a while) before the post that would end the wait anyway */
	for (int i = 0; i < 200 && !usr1_count; i++)
		usleep(10000);
	sem_post(&kill_sem);
	pthread_join(usr1_target, 0);
	printf("pthread_kill: %d, handler ran %d time(s), in the target %d\n", r, usr1_count, usr1_in_target);
	EXPECT("pthread-kill", r == 0 && usr1_count == 1 && usr1_in_target);
}

static volatile long tids[4];
static void *get_tid(void *arg)
{
	tids[(long)arg] = syscall(SYS_gettid);
	return 0;
}

static void thread_ids(void)
{
	pthread_t t[3];
	tids[0] = syscall(SYS_gettid);
	for (long i = 1; i < 4; i++)
		pthread_create(&t[i - 1], 0, get_tid, (void *)i);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], 0);
	int distinct = 1;
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			distinct &= tids[i] != tids[j] && tids[j] > 0;
	printf("gettid: main is the pid %d, threads distinct %d\n", tids[0] == getpid(), distinct);
	EXPECT("gettid", tids[0] == getpid() && distinct);
}

static long futex(uint32_t *a, int op, uint32_t val, const struct timespec *ts, uint32_t *a2, uint32_t v3)
{
	return syscall(SYS_futex, a, op, val, ts, a2, v3);
}

static uint32_t fword, fword2;
static void *futex_waiter(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&fword, __ATOMIC_SEQ_CST) == 0)
		futex(&fword, FUTEX_WAIT_PRIVATE, 0, 0, 0, 0);
	return 0;
}

static void *futex_waiter2(void *arg)
{
	(void)arg;
	return (void *)futex(&fword, FUTEX_WAIT, 0, 0, 0, 0);
}

/* The futex calls themselves, with their errors. */
static void futexes(void)
{
	struct timespec ts = { 0, 20 * 1000000 };
	SHOW(futex(&fword, FUTEX_WAIT, 1, 0, 0, 0));		/* value differs: EAGAIN */
	SHOW(futex(&fword, FUTEX_WAIT, 0, &ts, 0, 0));		/* ETIMEDOUT */
	SHOW(futex(&fword, FUTEX_WAKE, 1, 0, 0, 0));		/* nobody waits: 0 */
	SHOW(futex(&fword, FUTEX_WAIT_BITSET, 0, 0, 0, 0));	/* bitset 0: EINVAL */
	SHOW(futex((uint32_t *)((char *)&fword + 1), FUTEX_WAKE, 1, 0, 0, 0));	/* EINVAL */
	SHOW(futex(0, FUTEX_WAIT, 0, 0, 0, 0));			/* EFAULT */
	SHOW(futex(&fword, FUTEX_CMP_REQUEUE, 1, (void *)1, &fword2, 5));	/* EAGAIN */
	struct timespec bad = { 0, 2000000000 };
	SHOW(futex(&fword, FUTEX_WAIT, 0, &bad, 0, 0));		/* EINVAL */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += 10 * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	SHOW(futex(&fword, FUTEX_WAIT_BITSET, 0, &ts, 0, ~0u));	/* absolute: ETIMEDOUT */

	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], 0, futex_waiter, 0);
	usleep(30000);
	__atomic_store_n(&fword, 1, __ATOMIC_SEQ_CST);
	long woken = futex(&fword, FUTEX_WAKE_PRIVATE, 10, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], 0);
	printf("futex wake: all 3 waiters released (woken now %s)\n", woken >= 0 && woken <= 3 ? "0..3" : "bad");

	/* requeue: two waiters on fword move to fword2; one wake there frees one */
	fword = 0;
	fword2 = 0;
	pthread_create(&t[0], 0, futex_waiter2, 0);
	pthread_create(&t[1], 0, futex_waiter2, 0);
	long moved = 0;
	for (int tries = 0; moved < 2 && tries < 4000; tries++) {
		usleep(5000);
		moved += futex(&fword, FUTEX_CMP_REQUEUE, 0, (void *)(2 - moved), &fword2, 0);
	}
	printf("futex cmp_requeue moved %ld waiters\n", moved);
	SHOW(futex(&fword, FUTEX_WAKE, 5, 0, 0, 0));
	SHOW(futex(&fword2, FUTEX_WAKE, 5, 0, 0, 0));
	for (int i = 0; i < 2; i++) {
		void *r;
		pthread_join(t[i], &r);
		printf("requeued waiter returned %ld\n", (long)r);
	}
}

int main(void)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	mutex_counter();
	join_values();
	detach_threads();
	thread_local();
	cond_ping_pong();
	timed_wait();
	barriers();
	thread_ids();
	futexes();
	cancellation();
	thread_kill();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
