/*
 * Timers and the later signal calls on the library OS: alarm interrupting
 * pause, nanosleep and a futex wait; setitimer firing at an interval;
 * POSIX timers (timer_create/settime/gettime/delete, SIGEV_SIGNAL on
 * CLOCK_MONOTONIC and CLOCK_REALTIME, absolute and periodic); sigsuspend
 * with a mask; a handler on the alternate stack (sigaltstack); sigtimedwait
 * with and without a timeout; sigqueue within a process and to another;
 * tgkill to a thread of another process; SIGCHLD set to SIG_IGN reaping
 * children.  Each call's errors too.  With "alarm-dies" it lets SIGALRM's
 * default action end it.  tests/suites/28-posix-threads.sh compares the
 * output with the same program on Linux, line for line.
 */
#define _GNU_SOURCE
#include "check.h"
#include "show.h"
#include "sigaction.h"

#define FUTEX_WAIT 0
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int count[65], last_code, last_value, last_pid_ok;
static volatile uintptr_t handler_sp;
static volatile int alt_flags, alt_set_err;

static void plain(int sig)
{
	count[sig]++;
}

static void with_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	count[sig]++;
	last_code = si->si_code;
	last_value = si->si_value.sival_int;
	last_pid_ok = si->si_pid == getpid();
}

static void block(int sig, int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, 0);
}

static void alarms(void)
{
	on(SIGALRM, plain, 0);
	SHOW(alarm(0));
	SHOW(alarm(5));
	SHOW(alarm(0));		/* 5 left, rounded */
	alarm(1);
	SHOW(pause());
	printf("alarm interrupted pause: SIGALRM %d\n", count[SIGALRM]);
	alarm(1);
	struct timespec ts = { 10, 0 };
	SHOW(nanosleep(&ts, 0));
	printf("alarm interrupted nanosleep: SIGALRM %d\n", count[SIGALRM]);
	static int word;
	alarm(1);
	SHOW(syscall(SYS_futex, &word, FUTEX_WAIT, 0, 0, 0, 0));
	printf("alarm interrupted a futex wait: SIGALRM %d\n", count[SIGALRM]);
}

static void itimers(void)
{
	struct itimerval v = { { 0, 20000 }, { 0, 20000 } }, g;
	count[SIGALRM] = 0;
	SHOW(setitimer(ITIMER_REAL, &v, 0));
	SHOW(getitimer(ITIMER_REAL, &g));
	printf("armed: interval %ld us, value within it %d\n", (long)g.it_interval.tv_usec,
	       g.it_value.tv_sec == 0 && g.it_value.tv_usec > 0 && g.it_value.tv_usec <= 20000);
	while (count[SIGALRM] < 5)
		pause();
	memset(&v, 0, sizeof v);
	SHOW(setitimer(ITIMER_REAL, &v, &g));
	printf("interval timer fired 5 times %d, old interval %ld us\n", count[SIGALRM] >= 5,
	       (long)g.it_interval.tv_usec);
	SHOW(getitimer(ITIMER_REAL, &g));
	printf("disarmed: %ld %ld\n", (long)g.it_value.tv_sec, (long)g.it_value.tv_usec);
	v.it_value.tv_usec = 1000000;
	SHOW(setitimer(ITIMER_REAL, &v, 0));
	SHOW(setitimer(99, &v, 0));
	SHOW(getitimer(99, &g));
	SHOW(syscall(SYS_getitimer, ITIMER_REAL, (void *)8));
}

/* Waits in sigsuspend (unblocking all) until count[sig] reaches n. */
static void suspend_until(int sig, int n)
{
	sigset_t none;
	sigemptyset(&none);
	while (count[sig] < n)
		sigsuspend(&none);
}

static void posix_timers(void)
{
	timer_t t;
	struct sigevent ev;
	struct itimerspec its, old;
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGUSR1;
	ev.sigev_value.sival_int = 42;
	on_info(SIGUSR1, with_info);
	block(SIGUSR1, SIG_BLOCK);
	SHOW(timer_create(CLOCK_MONOTONIC, &ev, &t));
	memset(&its, 0, sizeof its);
	its.it_value.tv_nsec = 30000000;
	SHOW(timer_settime(t, 0, &its, 0));
	SHOW(timer_gettime(t, &old));
	printf("one-shot armed: %d\n", old.it_value.tv_sec == 0 && old.it_value.tv_nsec > 0);
	suspend_until(SIGUSR1, 1);
	printf("timer fired: SIGUSR1 %d, code is SI_TIMER %d, value %d\n", count[SIGUSR1],
	       last_code == SI_TIMER, last_value);
	SHOW(timer_gettime(t, &old));
	printf("after: %ld %ld\n", (long)old.it_value.tv_sec, old.it_value.tv_nsec);
	its.it_interval.tv_nsec = 10000000;
	its.it_value.tv_nsec = 10000000;
	SHOW(timer_settime(t, 0, &its, 0));
	suspend_until(SIGUSR1, 4);
	printf("periodic timer fired 3 more times: %d\n", count[SIGUSR1] >= 4);
	SHOW(timer_delete(t));
	SHOW(timer_settime(t, 0, &its, 0));
	SHOW(timer_gettime(t, &old));
	sigset_t one;			/* a firing left pending goes */
	struct timespec zero = { 0, 0 };
	sigemptyset(&one);
	sigaddset(&one, SIGUSR1);
	sigtimedwait(&one, 0, &zero);
	count[SIGUSR1] = 0;

	/* CLOCK_REALTIME, absolute: 40 ms from now */
	ev.sigev_value.sival_int = 7;
	SHOW(timer_create(CLOCK_REALTIME, &ev, &t));
	memset(&its, 0, sizeof its);
	clock_gettime(CLOCK_REALTIME, &its.it_value);
	its.it_value.tv_nsec += 40000000;
	if (its.it_value.tv_nsec >= 1000000000) {
		its.it_value.tv_sec++;
		its.it_value.tv_nsec -= 1000000000;
	}
	SHOW(timer_settime(t, TIMER_ABSTIME, &its, 0));
	suspend_until(SIGUSR1, 1);
	printf("absolute realtime timer fired, value %d\n", last_value);
	its.it_value.tv_nsec = 1000000000;
	SHOW(timer_settime(t, 0, &its, 0));
	SHOW(timer_delete(t));
	SHOW(timer_create(12345, &ev, &t));
	ev.sigev_signo = 99;
	SHOW(timer_create(CLOCK_MONOTONIC, &ev, &t));
	block(SIGUSR1, SIG_UNBLOCK);
}

static void suspend_mask(void)
{
	sigset_t mask, now;
	count[SIGUSR1] = count[SIGUSR2] = 0;
	on(SIGUSR1, plain, 0);
	on(SIGUSR2, plain, 0);
	block(SIGUSR1, SIG_BLOCK);
	raise(SIGUSR1);
	printf("pending before sigsuspend: SIGUSR1 %d\n", count[SIGUSR1]);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	SHOW(sigsuspend(&mask));
	sigprocmask(SIG_BLOCK, 0, &now);
	printf("sigsuspend: SIGUSR1 %d, mask back: USR1 blocked %d, USR2 blocked %d\n", count[SIGUSR1],
	       sigismember(&now, SIGUSR1), sigismember(&now, SIGUSR2));
	/* a signal the suspend mask blocks waits; the timer's does not */
	on(SIGALRM, plain, 0);
	count[SIGALRM] = 0;
	sigaddset(&mask, SIGUSR1);
	raise(SIGUSR1);
	struct itimerval v = { { 0, 0 }, { 0, 30000 } };
	setitimer(ITIMER_REAL, &v, 0);
	SHOW(sigsuspend(&mask));
	printf("sigsuspend with USR1 in the mask: ALRM %d, USR1 %d\n", count[SIGALRM], count[SIGUSR1]);
	block(SIGUSR1, SIG_UNBLOCK);
	printf("unblocked: USR1 %d\n", count[SIGUSR1]);
	SHOW(syscall(SYS_rt_sigsuspend, &mask, 4));
	SHOW(syscall(SYS_rt_sigsuspend, (void *)8, 8));
}

static char *alt;
#define ALT_SIZE 65536

static void on_alt(int sig)
{
	int local;
	stack_t cur, ss = { .ss_sp = alt, .ss_size = ALT_SIZE };
	count[sig]++;
	handler_sp = (uintptr_t)&local;
	sigaltstack(0, &cur);
	alt_flags = cur.ss_flags;
	alt_set_err = sigaltstack(&ss, 0) ? errno : 0;
}

static int on_alt_stack(void)
{
	return handler_sp >= (uintptr_t)alt && handler_sp < (uintptr_t)alt + ALT_SIZE;
}

static void altstack(void)
{
	stack_t ss, old;
	alt = malloc(ALT_SIZE);
	SHOW(sigaltstack(0, &old));
	printf("initially: SS_DISABLE %d\n", old.ss_flags == SS_DISABLE);
	ss = (stack_t){ .ss_sp = alt, .ss_size = 100 };
	SHOW(sigaltstack(&ss, 0));
	ss = (stack_t){ .ss_sp = alt, .ss_size = ALT_SIZE, .ss_flags = 0x1234 };
	SHOW(sigaltstack(&ss, 0));
	SHOW(syscall(SYS_sigaltstack, (void *)8, 0));
	ss.ss_flags = 0;
	SHOW(sigaltstack(&ss, 0));
	SHOW(sigaltstack(0, &old));
	printf("set: flags %d, ours %d\n", old.ss_flags, old.ss_sp == alt && old.ss_size == ALT_SIZE);
	on(SIGUSR2, on_alt, SA_ONSTACK);
	raise(SIGUSR2);
	printf("SA_ONSTACK handler: on the alternate stack %d, SS_ONSTACK %d, change it: %s\n",
	       on_alt_stack(), alt_flags == SS_ONSTACK, errno_name(alt_set_err));
	on(SIGUSR2, on_alt, 0);
	raise(SIGUSR2);
	printf("plain handler: on the alternate stack %d, flags %d\n", on_alt_stack(), alt_flags);
	ss.ss_flags = SS_DISABLE;
	SHOW(sigaltstack(&ss, &old));
	SHOW(sigaltstack(0, &old));
	printf("disabled: SS_DISABLE %d\n", old.ss_flags == SS_DISABLE);
	on(SIGUSR2, on_alt, SA_ONSTACK);
	raise(SIGUSR2);
	printf("SA_ONSTACK without one: on the alternate stack %d\n", on_alt_stack());
	on(SIGUSR2, plain, 0);
}

static void timedwait(void)
{
	sigset_t set;
	siginfo_t si;
	struct timespec ts = { 0, 50000000 };
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_BLOCK, &set, 0);
	count[SIGUSR1] = 0;
	raise(SIGUSR1);
	SHOW(sigtimedwait(&set, &si, &ts));
	printf("took it: signo %d, SI_TKILL %d, handler ran %d\n", si.si_signo, si.si_code == SI_TKILL,
	       count[SIGUSR1]);
	SHOW(sigtimedwait(&set, &si, &ts));
	ts.tv_nsec = 0;
	SHOW(sigtimedwait(&set, &si, &ts));
	ts.tv_nsec = 1000000000;
	SHOW(sigtimedwait(&set, &si, &ts));
	struct itimerval v = { { 0, 0 }, { 0, 30000 } };
	setitimer(ITIMER_REAL, &v, 0);
	SHOW(sigwaitinfo(&set, &si));
	printf("no timeout: SIGALRM from the timer, SI_KERNEL %d\n", si.si_code == SI_KERNEL);
	SHOW(syscall(SYS_rt_sigtimedwait, &set, &si, 0, 4));
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

static void queue(void)
{
	on_info(SIGUSR2, with_info);
	count[SIGUSR2] = 0;
	SHOW(sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = 7 }));
	printf("sigqueue: handled %d, SI_QUEUE %d, value %d, ours %d\n", count[SIGUSR2],
	       last_code == SI_QUEUE, last_value, last_pid_ok);
	SHOW(sigqueue(0x3ffffff0, SIGUSR2, (union sigval){ .sival_int = 7 }));
	SHOW(sigqueue(getpid(), 99, (union sigval){ .sival_int = 7 }));
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_code = SI_USER;
	SHOW(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR2, (void *)8));
	SHOW(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR2, &si));
	printf("own SI_USER: handled %d\n", count[SIGUSR2]);

	/* to another process, which waits for it with sigwaitinfo */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, 0);
	pid_t pid = fork();
	if (pid == 0) {
		siginfo_t got;
		int sig = sigwaitinfo(&set, &got);
		printf("child: sigwaitinfo %d, SI_QUEUE %d, value %d, from parent %d\n", sig,
		       got.si_code == SI_QUEUE, got.si_value.sival_int, got.si_pid == getppid());
		fflush(stdout);
		_exit(0);
	}
	SHOW(syscall(SYS_rt_sigqueueinfo, pid, SIGUSR2, &si));
	SHOW(sigqueue(pid, SIGUSR2, (union sigval){ .sival_int = 99 }));
	int st;
	waitpid(pid, &st, 0);
	printf("child status %d\n", WEXITSTATUS(st));
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

static volatile pid_t waiter_tid;

/* A thread of the child: takes the SIGUSR1 sent to it alone. */
static void *waiter(void *arg)
{
	(void)arg;
	sigset_t set;
	siginfo_t got;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	waiter_tid = (pid_t)syscall(SYS_gettid);
	int sig = sigwaitinfo(&set, &got);
	printf("thread of the child: sigwaitinfo %d, SI_TKILL %d\n", sig, got.si_code == SI_TKILL);
	fflush(stdout);
	return 0;
}

static void tgkill_other(void)
{
	block(SIGUSR1, SIG_BLOCK);
	pid_t pid = fork();
	if (pid == 0) {
		pthread_t th;
		pthread_create(&th, 0, waiter, 0);
		while (!waiter_tid)
			sched_yield();
		pid_t me = getpid(), g = fork();
		if (g == 0) {	/* another process signals the child's thread */
			long r = syscall(SYS_tgkill, me, waiter_tid, SIGUSR1);
			long e1 = syscall(SYS_tgkill, me, 0x3ffffff0, SIGUSR1) < 0 ? errno : 0;
			long e2 = syscall(SYS_tgkill, getpid(), me, 0) < 0 ? errno : 0;
			_exit(r == 0 && e1 == ESRCH && e2 == ESRCH ? 0 : 1);
		}
		pthread_join(th, 0);
		int st;
		waitpid(g, &st, 0);
		printf("child: the signalling process ended with %d\n", WEXITSTATUS(st));
		fflush(stdout);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	printf("tgkill child status %d\n", WEXITSTATUS(st));
	SHOW(syscall(SYS_tgkill, pid, pid, SIGUSR1));	/* reaped */
	block(SIGUSR1, SIG_UNBLOCK);
}

static void autoreap(void)
{
	signal(SIGCHLD, SIG_IGN);
	pid_t a = fork();
	if (a == 0)
		_exit(3);
	pid_t b = fork();
	if (b == 0) {
		usleep(50000);
		_exit(4);
	}
	long r = wait(0);	/* blocks until both ended, then ECHILD */
	printf("wait = %ld, ECHILD %d\n", r, errno == ECHILD);
	r = waitpid(a, 0, WNOHANG);
	printf("waitpid = %ld, ECHILD %d\n", r, errno == ECHILD);
	SHOW(kill(b, 0));
	signal(SIGCHLD, SIG_DFL);
	pid_t c = fork();
	if (c == 0)
		_exit(5);
	int st = 0;
	int found = waitpid(c, &st, 0) == c;
	printf("SIG_DFL again: waited for it %d, status %d\n", found, WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "alarm-dies") == 0) {
		alarm(1);
		for (;;)
			pause();
	}
	alarms();
	itimers();
	posix_timers();
	suspend_mask();
	altstack();
	timedwait();
	queue();
	tgkill_other();
	autoreap();
	EXPECT("sigtimers-done", 1);
	return failures ? 1 : 0;
}
