/*
 * What the Linux system-call fuzzer (user/tests/lxfuzz.c) found, one call
 * each, as it crashed the library OS (tests/suites/26-fuzz-syscalls.sh):
 * each call must return, with a result or an error, instead of ending
 * the program with SIGSEGV inside the library OS; and the sequence of its
 * threaded runs that ended a batch inside fork (fork_beside_threads).
 * And one a review found: a process rewriting the kind of a description
 * it shares, so that another process's call indexed past the table of
 * kinds' ops and called through what lay there (forged_kind).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
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

/* The library OS's own functions, which a hostile program linked with it
 * can call as well as any other (libos/thread.h, libos/vfs.h). */
void lo_lock(void);
void lo_unlock(void);
void *fd_get(int fd);

/* A forked child rewrites the kind (the first word of libos/vfs.h's struct
 * file, in the shared segment) of the pipe description it shares with us;
 * our read must fail with ENXIO, as on a description no longer usable. */
static void forged_kind(void)
{
	int p[2];
	if (pipe(p) != 0) {
		EXPECT("forged-kind-pipe", 0);
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		lo_lock();
		unsigned *kind = fd_get(p[0]);
		if (kind)
			*kind = 0x40000000u;
		lo_unlock();
		_exit(kind ? 0 : 1);
	}
	int st = 0;
	int forged = c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	char b;
	errno = 0;
	ssize_t n = read(p[0], &b, 1);
	EXPECT("forged-kind-read-enxio", forged && n < 0 && errno == ENXIO);
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
	forged_kind();
	return failures ? 1 : 0;
}
