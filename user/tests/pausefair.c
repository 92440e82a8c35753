/*
 * A thread woken by a timer must get to run beside threads that keep the
 * library OS busy.  The main thread pauses under a 5 ms ITIMER_REAL tick
 * while three threads loop on getpid, for SECONDS of elapsed time, twice:
 * once with the threads blocking SIGALRM (as the Linux-call fuzzer's
 * threads do), once with them not blocking it (Linux then still gives the
 * process's SIGALRM to the main thread, which waits for it and is the
 * first it tries).  Each time pause must return for at least a fifth of
 * the ticks the elapsed time holds: a fraction, so a loaded machine does
 * not fail it, that a woken thread losing the lock or its signal to the
 * busy threads falls far below.  tests/suites/28-posix-threads.sh runs it
 * on one CPU and, built with plain musl-gcc, on this Linux host; the
 * counts go to stderr, the checks to stdout, which must be the same.
 */
#define _GNU_SOURCE
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TICK_US 5000
#define SECONDS 3
#define BUSY 3

static volatile int stop;
static volatile uint64_t ticks, busy_calls;
static int threads_block;

static void on_alarm(int sig)
{
	(void)sig;
	ticks++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *busy(void *arg)
{
	(void)arg;
	if (threads_block) {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGALRM);
		pthread_sigmask(SIG_BLOCK, &set, 0);
	}
	while (!stop) {
		syscall(SYS_getpid);
		__atomic_add_fetch(&busy_calls, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

/* One round: the number of pause returns against the ticks elapsed. */
static void round_with(int block, const char *name)
{
	pthread_t t[BUSY];
	threads_block = block;
	stop = 0;
	ticks = busy_calls = 0;
	for (int i = 0; i < BUSY; i++)
		pthread_create(&t[i], 0, busy, 0);
	struct itimerval it = { { 0, TICK_US }, { 0, TICK_US } };
	setitimer(ITIMER_REAL, &it, 0);
	uint64_t returns = 0;
	double t0 = now_s(), elapsed;
	while ((elapsed = now_s() - t0) < SECONDS) {
		pause();
		returns++;
	}
	struct itimerval off;
	memset(&off, 0, sizeof off);
	setitimer(ITIMER_REAL, &off, 0);
	stop = 1;
	for (int i = 0; i < BUSY; i++)
		pthread_join(t[i], 0);
	double expected = elapsed * 1e6 / TICK_US;
	fprintf(stderr, "info pausefair %s: %llu pause returns, %llu ticks handled, %.0f ticks elapsed "
		"in %.2f s; %llu getpid calls beside\n", name, (unsigned long long)returns,
		(unsigned long long)ticks, expected, elapsed, (unsigned long long)busy_calls);
	char check[64];
	snprintf(check, sizeof check, "pause-returns-beside-getpid-%s", name);
	EXPECT(check, (double)returns * 5 >= expected);
	snprintf(check, sizeof check, "busy-threads-ran-%s", name);
	EXPECT(check, busy_calls > 0);
}

int main(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, 0);
	round_with(1, "threads-block-sigalrm");
	round_with(0, "threads-take-sigalrm");
	return failures != 0;
}
