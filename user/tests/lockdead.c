/*
 * A process that dies holding the library OS's lock (libos/lock.c) must
 * not wedge the machine: children take the lock, as a handler does, and
 * end their env through the kernel without giving it back (as a kernel
 * kill would end them).  The parent and a bystander must go on making
 * calls that take the lock, and the parent must reap each child with the
 * status its env ended with (tests/suites/26-fuzz-syscalls.sh).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(void)
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
	return failures ? 1 : 0;
}
