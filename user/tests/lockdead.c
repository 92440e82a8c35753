/*
 * A process that dies holding the library OS's lock (libos/lock.c) must
 * not wedge the machine: children take the lock, as a handler does, and
 * end their env through the kernel without giving it back (as a kernel
 * kill would end them).  The parent and a bystander must go on making
 * calls that take the lock, and the parent must reap each child with the
 * status its env ended with (tests/suites/26-fuzz-syscalls.sh).  And a
 * process that dies so in the middle of a fork must not leave the child
 * it was making behind: that child is ended and reaped, and the copy of
 * the descriptors made for it closes (die_forking; run by hand with the
 * argument "forking" and two CPUs, not in make test: it does not hold in
 * every run yet, docs/LIBOS.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <exo/native.h>

#include "check.h"

void lo_lock(void);		/* the library OS's, linked in with it */

#define CHILDREN 3

/* Seconds since an arbitrary start, for the time limits. */
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A child: takes the lock (twice: a handler's recursive hold), then its
 * env ends in the kernel with SIGKILL's status, the lock still held. */
static _Noreturn void die_holding(void)
{
	lo_lock();
	lo_lock();
	exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, SIGKILL);
	for (;;)
		;
}

/* Words of the shared segment's header (libos/proc.h, struct sh_header),
 * read without the lock as a debugger would: its magic, the lock's
 * holder and the count of process-table entries in use. */
#define SEG_MAGIC (*(volatile uint64_t *)0x7d0000000000ull)
#define SEG_LOCK_OWNER (*(volatile uint64_t *)0x7d0000000018ull)
#define SEG_NPROCS (*(volatile uint32_t *)0x7d0000000034ull)

static volatile int in_fork;
static volatile uint32_t nprocs_before;

/* The killer thread: waits until the main thread holds the lock inside a
 * fork that has made the child's entry, then ends the env.  It writes no
 * memory meanwhile: the fork makes our pages copy-on-write, and a write
 * would wait in the fault handler for the fork's end. */
static void *kill_in_fork(void *arg)
{
	uint64_t me = (uint64_t)(uintptr_t)arg;
	while (!(in_fork && SEG_LOCK_OWNER == me && SEG_NPROCS > nprocs_before))
		__asm__ volatile("pause");
	exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, SIGKILL);
	for (;;)
		;
}

/* A child that forks (children that exit at once) until its killer
 * thread ends it in the middle of one, holding the write end of a pipe. */
static _Noreturn void fork_until_killed(void)
{
	pthread_t t;
	if (pthread_create(&t, 0, kill_in_fork, (void *)(uintptr_t)getpid()))
		_exit(3);
	for (double t0 = now(); now() - t0 < 30.0;) {
		nprocs_before = SEG_NPROCS;
		in_fork = 1;
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		in_fork = 0;
		if (c < 0 || waitpid(c, 0, 0) != c)
			_exit(4);
	}
	_exit(5);			/* never killed: the segment's layout changed? */
}

/* One round: a child dies forking; 1 when the pipe it held reached EOF
 * (no copy of its write end left) and its half-made child was ended
 * (reaped by us, the first process, with SIGKILL's status), 0 when the
 * kill came after that child started (it exits by itself then), -1 when
 * something stayed behind. */
static int die_forking_round(void)
{
	int p[2];
	if (pipe(p))
		return -1;
	fflush(stdout);
	pid_t x = fork();
	if (x == 0) {
		close(p[0]);
		fork_until_killed();
	}
	close(p[1]);
	int st = 0;
	if (x < 0 || waitpid(x, &st, 0) != x || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		close(p[0]);
		return -1;
	}
	struct pollfd pf = { .fd = p[0], .events = POLLIN };
	char b;
	int eof = poll(&pf, 1, 15000) == 1 && read(p[0], &b, 1) == 0;
	close(p[0]);
	int killed = 0, ended = 0;
	double t0 = now();
	while (!ended && now() - t0 < 15.0) {	/* the orphan, ended or exiting */
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w > 0) {
			ended = 1;
			killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		} else
			usleep(10000);
	}
	return !eof || !ended ? -1 : killed;
}

/* Rounds until one kill lands inside a fork (before the child's thread
 * started); every round must leave nothing behind.  Before the fix the
 * half-made child stayed in the process table for good and kept the
 * pipe's write end open.  The waits are long (15 s): on a loaded host
 * the take-over and the orphan's exit take seconds. */
static void die_forking(void)
{
	EXPECT("segment-layout", SEG_MAGIC == 0x6d67655368737845ull);
	int caught = 0, bad = 0;
	for (int i = 0; i < 5 && !caught && !bad; i++) {
		int r = die_forking_round();
		printf("info lockdead: dying in a fork, round %d: %s\n", i + 1,
		       r == 1 ? "half-made child ended" : r == 0 ? "the kill came after the child started" : "something stayed");
		caught += r == 1;
		bad += r < 0;
	}
	EXPECT("died-forking-left-nothing", !bad);
	EXPECT("died-forking-half-made-child-ended", caught);
}

/* A bystander: keeps calling in (each call takes the lock) for `secs`
 * seconds, then exits with 0. */
static _Noreturn void bystander(double secs)
{
	double t0 = now();
	while (now() - t0 < secs) {
		if (getppid() <= 0)
			_exit(2);
		usleep(1000);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	fflush(stdout);
	pid_t by = fork();
	if (by == 0)
		bystander(5.0);
	EXPECT("bystander-forked", by > 0);
	for (int i = 0; i < CHILDREN; i++) {
		fflush(stdout);
		pid_t c = fork();
		if (c == 0)
			die_holding();
		EXPECT("child-forked", c > 0);
		int st = 0;
		pid_t w = waitpid(c, &st, 0);
		EXPECT("child-reaped", w == c);
		EXPECT("child-status-sigkill", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		/* calls that take the lock still return */
		EXPECT("parent-calls-in", getpid() > 0 && kill(getpid(), 0) == 0);
	}
	int st = -1;
	EXPECT("bystander-reaped", waitpid(by, &st, 0) == by);
	EXPECT("bystander-kept-going", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* a fork after the take-overs works as before */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	EXPECT("fork-after", c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
	/* not in make test: on one CPU the killer only runs when a tick
	 * falls inside a fork (on an idle host never, in 30 s of forks), and
	 * on two (EXO_RUN_QEMU_ARGS="-smp 2") about half of the runs still
	 * leave the pipe open and the orphan dies of SIGSEGV (docs/LIBOS.md,
	 * the fuzzer's section): run by hand with the argument "forking" */
	if (argc > 1 && strcmp(argv[1], "forking") == 0)
		die_forking();
	return failures ? 1 : 0;
}
