/*
 * What the Linux system-call fuzzer (user/tests/lxfuzz.c) found, one call
 * each, as it crashed the library OS (tests/suites/26-fuzz-syscalls.sh):
 * each call must return, with a result or an error, instead of ending
 * the program with SIGSEGV inside the library OS; and the sequence of its
 * threaded runs that ended a batch inside fork (fork_beside_threads),
 * and threads faulting on the same page at once (same_page_faults).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int stop_busy;

/* Seconds since an arbitrary start. */
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A thread of the fuzzer's kind: writes its stack (a copy-on-write fault
 * after each fork) and calls in, without pause. */
static void *busy(void *arg)
{
	volatile char frame[8192];
	unsigned long n = 0;
	(void)arg;
	while (!stop_busy) {
		for (unsigned i = 0; i < sizeof frame; i += 512)
			frame[i] = (char)n;
		if (n++ % 4 == 0)
			syscall(SYS_getppid);
	}
	return 0;
}

/* fork beside threads that fault and call in: the kernel framed their
 * faults on handler stacks, and wrote their reflection slots, that fork
 * had just made copy-on-write; it could not, and it ended the whole
 * process in the middle of the fork, holding the library OS's lock (the
 * threaded fuzzer's million-call runs stopped so).  For `secs` seconds:
 * every fork and wait must work. */
static void fork_beside_threads(double secs)
{
	pthread_t t[3];
	int started = 0, forks = 0, bad = 0;
	for (int i = 0; i < 3; i++)
		started += pthread_create(&t[i], 0, busy, 0) == 0;
	for (double t0 = now(); now() - t0 < secs; forks++) {
		pid_t c = fork();
		if (c == 0)
			_exit(3);
		int st = 0;
		if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
			bad++;
	}
	stop_busy = 1;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], 0);
	printf("info fuzzfound: %d forks beside 3 busy threads in %.0f s\n", forks, secs);
	EXPECT("fork-beside-busy-threads", started == 3 && forks > 0 && bad == 0);
}

#define SP_PAGES 512
#define SP_THREADS 3
static volatile unsigned char *sp_area;	/* the pages the threads write */
static volatile int sp_round, sp_done[SP_THREADS], sp_stop;
static char sp_bss[SP_PAGES * 4096];	/* copy-on-write after each fork */

/* A writer of same_page_faults: each round, every page of sp_area, in
 * the same order as the other writers, so they fault on one page at once. */
static void *sp_writer(void *arg)
{
	int me = (int)(long)arg, seen = 0;
	while (!sp_stop) {
		if (sp_round == seen) {
			syscall(SYS_getppid);	/* holds the lock a while: faults queue */
			continue;
		}
		seen = sp_round;
		for (unsigned i = 0; i < SP_PAGES * 4096; i += 4096)
			sp_area[i] = (unsigned char)(me + 1);
		sp_done[me] = seen;
	}
	return 0;
}

/* Threads faulting on the same page at once: the first one's fault
 * mapped it (demand-zero) or copied it (copy-on-write) while the others
 * waited for the lock; their faults then found the page there and were
 * taken for bad writes, ending the program with SIGSEGV (the threaded
 * fuzzer's batches died so, most right after a fork).  For `secs`
 * seconds: rounds of fresh mappings and of a .bss area just forked. */
static void same_page_faults(double secs)
{
	pthread_t t[SP_THREADS];
	int started = 0, rounds = 0, bad = 0;
	for (long i = 0; i < SP_THREADS; i++)
		started += pthread_create(&t[i], 0, sp_writer, (void *)i) == 0;
	for (double t0 = now(); now() - t0 < secs; rounds++) {
		void *m = 0;
		if (rounds % 2 == 0) {		/* demand-zero pages */
			m = mmap(0, SP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {
				bad++;
				break;
			}
			sp_area = m;
		} else {			/* copy-on-write pages */
			sp_bss[rounds % 4096] = 1;
			pid_t c = fork();
			if (c == 0)
				_exit(sp_bss[rounds % 4096] == 1 ? 3 : 4);
			int st = 0;
			if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
				bad++;
			sp_area = (volatile unsigned char *)sp_bss;
		}
		int round = ++sp_round;
		for (double t1 = now(); now() - t1 < 10.0;) {
			int all = 1;
			for (int i = 0; i < started; i++)
				all &= sp_done[i] == round;
			if (all)
				break;
			sched_yield();
		}
		for (int i = 0; i < started; i++)
			bad += sp_done[i] != round;
		if (m)
			munmap(m, SP_PAGES * 4096);
	}
	sp_stop = 1;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], 0);
	printf("info fuzzfound: %d rounds of %d threads writing %d pages at once in %.0f s\n",
	       rounds, SP_THREADS, SP_PAGES, secs);
	EXPECT("same-page-faults", started == SP_THREADS && rounds > 0 && bad == 0);
}

int main(void)
{
	/* O_TRUNC on a procfs file called the file system's truncate
	 * through a NULL pointer */
	long r = syscall(SYS_creat, "/proc/self/maps", 0644);
	EXPECT("creat-proc-self-maps-returns", r < 0 ? errno == EINVAL : 1);
	r = syscall(SYS_open, "/proc/self/status", O_WRONLY | O_TRUNC);
	EXPECT("open-trunc-proc-self-status-returns", r < 0 ? errno == EINVAL : 1);
	fork_beside_threads(3.0);
	same_page_faults(5.0);
	return failures ? 1 : 0;
}
