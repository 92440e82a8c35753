/* Processes that share a machine: getppid across three generations,
 * orphans re-parented to the first process, process groups and sessions,
 * kill between processes (a child in a busy loop ended by its parent and
 * by a sibling, a child blocked in a wait woken by a handled signal, a
 * whole group), SIGCHLD, waitpid and waitid on a process group, and the
 * libOS lock surviving children killed while they make calls in a loop.
 * tests/suites/29-posix-procs.sh compares the output with the same program
 * built with musl-gcc and run on Linux, line for line; waits are bounded by
 * elapsed time, never by loop turns. */
#define _GNU_SOURCE
#include "check.h"
#include "show.h"
#include "fork_or_die.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The status of child pid, or -1. */
static int wait_for(pid_t pid)
{
	int st;
	return waitpid(pid, &st, 0) == pid ? st : -1;
}

static void generations(void)
{
	pid_t top = getpid();
	pid_t c = fork_or_die();
	if (c == 0) {
		pid_t me = getpid();
		pid_t g = fork_or_die();
		if (g == 0)
			_exit(getppid() == me ? 0 : 1);
		int gs = wait_for(g);
		_exit(getppid() == top && WIFEXITED(gs) && WEXITSTATUS(gs) == 0 ? 0 : 1);
	}
	int st = wait_for(c);
	EXPECT("getppid-child-and-grandchild", WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The child forks a grandchild and ends; the grandchild must then have the
 * first process (here: this program, a subreaper on Linux) as parent,
 * which can wait for it. */
static void orphans(void)
{
	pid_t top = getpid();
	pid_t c = fork_or_die();
	if (c == 0) {
		pid_t g = fork_or_die();
		if (g == 0) {
			double t0 = now();
			while (getppid() != top && now() - t0 < 20)
				sleep_ms(10);
			_exit(getppid() == top ? 33 : 1);
		}
		_exit(0);
	}
	int st = wait_for(c);
	EXPECT("orphan-parent-exits", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	int gs = -1;
	pid_t got = waitpid(-1, &gs, 0);
	EXPECT("orphan-waited-by-first-process", got > 0 && WIFEXITED(gs) && WEXITSTATUS(gs) == 33);
	SHOW(waitpid(-1, &gs, WNOHANG) == -1 && errno == ECHILD);
}

static void groups_and_sessions(void)
{
	pid_t c = fork_or_die();
	if (c == 0) {
		pid_t me = getpid();
		printf("child: inherits group %d session %d\n", getpgid(0) == getpgid(getppid()),
		       getsid(0) == getsid(getppid()));
		SHOW(setpgid(0, 0));
		printf("child: leads its group %d, getpgid(me) %d\n", getpgrp() == me, getpgid(me) == me);
		SHOW(setsid());
		SHOW(getpgid(999999));
		SHOW(getsid(999999));
		SHOW(setpgid(0, 999999));
		SHOW(setpgid(999999, 0));
		SHOW(setpgid(0, -1));
		pid_t d = fork_or_die();
		if (d == 0) {
			pid_t dm = getpid();
			printf("grandchild: in its parent's group %d\n", getpgrp() == me);
			printf("grandchild: setsid gives its pid %d\n", setsid() == dm);
			printf("grandchild: session %d group %d\n", getsid(0) == dm, getpgrp() == dm);
			SHOW(setpgid(0, 0));
			SHOW(setpgid(0, me));
			fflush(stdout);
			_exit(0);
		}
		wait_for(d);
		SHOW(setpgid(d, me));
		fflush(stdout);
		_exit(0);
	}
	wait_for(c);
}

/* A child that never makes a system call again. */
static pid_t busy_child(void)
{
	pid_t c = fork_or_die();
	if (c == 0) {
		volatile unsigned long n = 0;
		for (;;)
			n++;
	}
	return c;
}

static void kill_busy(void)
{
	pid_t c = busy_child();
	sleep_ms(100);
	SHOW(kill(c, SIGTERM));
	int st = wait_for(c);
	EXPECT("busy-child-killed-by-parent", WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	printf("status as a shell shows it: %d\n", WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1);

	/* a sibling ends it: the sender is not its parent */
	pid_t v = busy_child();
	pid_t s = fork_or_die();
	if (s == 0)
		_exit(kill(v, SIGTERM) == 0 ? 0 : 1);
	int ss = wait_for(s);
	st = wait_for(v);
	EXPECT("busy-child-killed-by-sibling", WIFEXITED(ss) && WEXITSTATUS(ss) == 0 &&
	       WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	SHOW(kill(v, 0));
	SHOW(kill(c, SIGTERM));
}

static volatile sig_atomic_t usr1;
static void on_usr1(int sig)
{
	(void)sig;
	usr1++;
}

static void exit_seven(int sig)
{
	(void)sig;
	_exit(7);
}

/* A child blocked in nanosleep: a handled signal from its parent ends the
 * sleep early (EINTR), and it goes on. */
static void wake_blocked(void)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, 0);
	pid_t c = fork_or_die();
	if (c == 0) {
		/* the signal may come before the sleep starts: then the
		 * next sleep, not interrupted, would last 30 s */
		struct timespec ts = { 30, 0 };
		double t0 = now();
		while (!usr1 && now() - t0 < 20)
			nanosleep(&ts, 0);
		_exit(usr1 == 1 && now() - t0 < 20 ? 0 : 1);
	}
	sleep_ms(200);
	SHOW(kill(c, SIGUSR1));
	int st = wait_for(c);
	EXPECT("blocked-child-interrupted-by-handled-signal", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	signal(SIGUSR1, SIG_DFL);
}

/* Two children in a group of their own, a third outside it. */
static pid_t group_of_two(pid_t *a, pid_t *b, int code_a, int code_b, int sleep_first)
{
	*a = fork_or_die();
	if (*a == 0) {
		setpgid(0, 0);
		if (sleep_first)
			sleep_ms(300);
		else
			pause();
		_exit(code_a);
	}
	setpgid(*a, *a);
	*b = fork_or_die();
	if (*b == 0) {
		setpgid(0, *a);
		if (sleep_first)
			sleep_ms(300);
		else
			pause();
		_exit(code_b);
	}
	setpgid(*b, *a);
	return *a;
}

static void exit_nine(int sig)
{
	(void)sig;
	_exit(9);
}

static void wait_group(void)
{
	signal(SIGUSR1, exit_nine);
	pid_t a, b, other = fork_or_die();
	if (other == 0)
		for (;;)
			pause();
	signal(SIGUSR1, SIG_DFL);
	pid_t g = group_of_two(&a, &b, 5, 6, 1);
	int s1 = -1, s2 = -1;
	pid_t w1 = waitpid(-g, &s1, 0), w2 = waitpid(-g, &s2, 0);
	EXPECT("waitpid-group-gets-both", ((w1 == a && w2 == b) || (w1 == b && w2 == a)) &&
	       WEXITSTATUS(s1) + WEXITSTATUS(s2) == 11);
	SHOW(waitpid(-g, &s1, 0) == -1 && errno == ECHILD);
	siginfo_t si;
	memset(&si, 0xff, sizeof si);
	SHOW(waitid(P_PID, other, &si, WEXITED | WNOHANG));
	printf("waitid WNOHANG on a running child: si_pid %d\n", si.si_pid);
	kill(other, SIGUSR1);
	memset(&si, 0, sizeof si);
	SHOW(waitid(P_PID, other, &si, WEXITED | WNOWAIT));
	printf("waitid WNOWAIT: signo %d code %d pid %d status %d\n", si.si_signo, si.si_code,
	       si.si_pid == other, si.si_status);
	memset(&si, 0, sizeof si);
	SHOW(waitid(P_ALL, 0, &si, WEXITED));
	printf("waitid: code %d pid %d status %d\n", si.si_code, si.si_pid == other, si.si_status);
	SHOW(waitid(P_ALL, 0, &si, WEXITED));
	SHOW(waitid(7, 0, &si, WEXITED));

	/* a signal to the group: both members end in their handler */
	signal(SIGUSR2, exit_seven);
	g = group_of_two(&a, &b, 1, 1, 0);
	signal(SIGUSR2, SIG_DFL);
	sleep_ms(100);
	SHOW(kill(-g, SIGUSR2));
	int sa = wait_for(a), sb = wait_for(b);
	EXPECT("kill-group-reaches-both", WIFEXITED(sa) && WEXITSTATUS(sa) == 7 &&
	       WIFEXITED(sb) && WEXITSTATUS(sb) == 7);
	SHOW(kill(-g, SIGUSR2));
}

static volatile sig_atomic_t chld;
static volatile int chld_pid, chld_code;
static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	chld++;
	chld_pid = si->si_pid;
	chld_code = si->si_code;
}

static void sigchld(void)
{
	struct sigaction sa = { .sa_sigaction = on_chld, .sa_flags = SA_SIGINFO | SA_RESTART };
	sigaction(SIGCHLD, &sa, 0);
	pid_t c = fork_or_die();
	if (c == 0)
		_exit(3);
	int st = wait_for(c);
	double t0 = now();
	while (!chld && now() - t0 < 5)
		sleep_ms(10);
	EXPECT("sigchld-handler-runs", chld == 1 && chld_pid == c && chld_code == CLD_EXITED);
	EXPECT("sigchld-wait-status", WIFEXITED(st) && WEXITSTATUS(st) == 3);
	chld = 0;
	c = busy_child();
	kill(c, SIGKILL);
	wait_for(c);
	t0 = now();
	while (!chld && now() - t0 < 5)
		sleep_ms(10);
	EXPECT("sigchld-for-a-killed-child", chld == 1 && chld_pid == c && chld_code == CLD_KILLED);
	signal(SIGCHLD, SIG_DFL);
}

/* Children that make calls in a loop are killed at random moments; the
 * lock they take on every call must never stay held by a dead one. */
static void lock_survives(void)
{
	int ok = 1;
	for (int round = 0; round < 6; round++) {
		pid_t kids[4];
		for (int i = 0; i < 4; i++) {
			kids[i] = fork_or_die();
			if (kids[i] == 0)
				for (;;) {
					getppid();
					free(malloc(100 + i * 5000));
				}
		}
		sleep_ms(20 + round * 10);
		for (int i = 0; i < 4; i++)
			kill(kids[i], i % 2 ? SIGKILL : SIGTERM);
		for (int i = 0; i < 4; i++) {
			int st = wait_for(kids[i]);
			ok &= WIFSIGNALED(st);
		}
	}
	pid_t c = fork_or_die();
	if (c == 0)
		_exit(getppid() > 0 ? 4 : 1);
	int st = wait_for(c);
	EXPECT("lock-survives-killed-children", ok && WIFEXITED(st) && WEXITSTATUS(st) == 4);
}

int main(void)
{
	prctl(PR_SET_CHILD_SUBREAPER, 1);	/* Linux: orphans come to us, as to pid 1 in the guest */
	generations();
	orphans();
	groups_and_sessions();
	kill_busy();
	wake_blocked();
	wait_group();
	sigchld();
	lock_survives();
	SHOW(kill(0x7ffffff0, 0));
	SHOW(kill(1 << 30, SIGTERM));
	return failures ? 1 : 0;
}
