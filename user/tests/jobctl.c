/* Job control between processes: SIGSTOP and SIGTSTP stop a child (sent
 * by the parent, or raised by the child itself), wait4 with WUNTRACED and
 * WCONTINUED and waitid with WSTOPPED report the stop and the SIGCONT once,
 * SIGCHLD carries CLD_STOPPED and CLD_CONTINUED, the call a stop
 * interrupted goes on, SIGKILL ends a stopped child; and nanosleep ended by
 * a handled signal tells the time left.  tests/suites/29-posix-jobctl.sh
 * compares the output with the same program built with musl-gcc and run on
 * Linux, line for line; every wait is a blocking wait or bounded by
 * elapsed time. */
#define _GNU_SOURCE
#include "check.h"
#include "show.h"
#include "fork_or_die.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A child that sleeps in nanosleep for ever (its sleep goes on across a
 * stop), or ends with status 3 on SIGUSR1; returned once its handler is
 * in place. */
static void on_usr1_exit(int sig)
{
	(void)sig;
	_exit(3);
}

static pid_t sleeper(void)
{
	int ready[2];
	char b = 0;
	if (pipe(ready))
		exit(1);
	pid_t c = fork_or_die();
	if (c == 0) {
		signal(SIGUSR1, on_usr1_exit);
		write(ready[1], &b, 1);	/* its handler is in place */
		for (;;) {
			struct timespec ts = { 1000, 0 };
			nanosleep(&ts, 0);
		}
	}
	read(ready[0], &b, 1);
	close(ready[0]);
	close(ready[1]);
	return c;
}

/* Prints what a wait4 status says. */
static void show_status(const char *what, int st)
{
	if (WIFSTOPPED(st))
		printf("%s: stopped by %d\n", what, WSTOPSIG(st));
	else if (WIFCONTINUED(st))
		printf("%s: continued\n", what);
	else if (WIFSIGNALED(st))
		printf("%s: killed by %d\n", what, WTERMSIG(st));
	else
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	fflush(stdout);
}

static void stop_and_continue(void)
{
	pid_t c = sleeper();
	int st = 0;
	SHOW(kill(c, SIGSTOP));
	EXPECT("wuntraced-reports-stop", waitpid(c, &st, WUNTRACED) == c);
	show_status("after SIGSTOP", st);
	EXPECT("stop-reported-once", waitpid(c, &st, WUNTRACED | WNOHANG) == 0);
	EXPECT("no-wuntraced-no-stop", waitpid(c, &st, WNOHANG) == 0);
	SHOW(kill(c, SIGCONT));
	EXPECT("wcontinued-reports-cont", waitpid(c, &st, WCONTINUED) == c);
	show_status("after SIGCONT", st);
	EXPECT("cont-reported-once", waitpid(c, &st, WCONTINUED | WNOHANG) == 0);
	/* the continued child's sleep goes on, and it still takes signals */
	SHOW(kill(c, SIGUSR1));
	EXPECT("continued-child-ends", waitpid(c, &st, 0) == c);
	show_status("after SIGUSR1", st);
}

static void stop_self(void)
{
	pid_t c = fork_or_die();
	if (c == 0) {
		/* a group of its own, whose parent is outside it: Linux
		 * discards SIGTSTP in an orphaned group */
		setpgid(0, 0);
		raise(SIGTSTP);
		_exit(5);		/* only once continued */
	}
	int st = 0;
	EXPECT("tstp-stops", waitpid(c, &st, WUNTRACED) == c);
	show_status("after raise(SIGTSTP)", st);
	SHOW(kill(c, SIGCONT));
	EXPECT("tstp-then-exit", waitpid(c, &st, 0) == c);
	show_status("after SIGCONT", st);
}

static void waitid_stopped(void)
{
	pid_t c = sleeper();
	siginfo_t si;
	SHOW(kill(c, SIGSTOP));
	memset(&si, 0, sizeof si);
	EXPECT("waitid-wstopped", waitid(P_PID, c, &si, WSTOPPED) == 0);
	printf("waitid: pid matches %d, code %s, status %d\n", si.si_pid == c,
	       si.si_code == CLD_STOPPED ? "CLD_STOPPED" : "other", si.si_status);
	SHOW(kill(c, SIGKILL));
	int st = 0;
	EXPECT("stopped-child-killed", waitpid(c, &st, 0) == c);
	show_status("after SIGKILL", st);
}

static volatile sig_atomic_t chld_codes[4], nchld;
static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (nchld < 4)
		chld_codes[nchld++] = si->si_code;
}

/* Waits up to 10 s of elapsed time for n SIGCHLDs. */
static void await_chld(int n)
{
	struct timespec start, t;
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (nchld < n && t.tv_sec - start.tv_sec < 10);
}

static void sigchld_codes(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_chld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGCHLD, &sa, 0);
	pid_t c = sleeper();
	kill(c, SIGSTOP);
	await_chld(1);
	kill(c, SIGCONT);
	await_chld(2);
	printf("SIGCHLD codes: %s %s\n", chld_codes[0] == CLD_STOPPED ? "CLD_STOPPED" : "other",
	       chld_codes[1] == CLD_CONTINUED ? "CLD_CONTINUED" : "other");
	kill(c, SIGKILL);
	waitpid(c, 0, 0);
	signal(SIGCHLD, SIG_DFL);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* nanosleep(10 s) ended after about 0.3 s by a handled SIGALRM: EINTR, and
 * rem holds the time left, between 9 and 10 s. */
static void nanosleep_rem(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, 0);
	struct itimerval it = { { 0, 0 }, { 0, 300000 } };
	setitimer(ITIMER_REAL, &it, 0);
	struct timespec req = { 10, 0 }, rem = { -1, -1 };
	SHOW(nanosleep(&req, &rem));
	EXPECT("nanosleep-rem-left", rem.tv_sec >= 9 && rem.tv_sec < 10 && rem.tv_nsec >= 0 &&
	       rem.tv_nsec < 1000000000);
}

int main(void)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	stop_and_continue();
	stop_self();
	waitid_stopped();
	sigchld_codes();
	nanosleep_rem();
	return failures ? 1 : 0;
}
