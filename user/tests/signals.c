/*
 * Signals on the library OS: handlers (plain and SA_SIGINFO), the mask,
 * pending signals, SIG_IGN, kill/tgkill/raise to the process itself,
 * hardware faults (SIGSEGV, SIGFPE, SIGILL) delivered to the program's
 * handler, and the FPU state kept across a handler.  With "die SIG" it
 * raises SIG with its default action, so the exit status shows what
 * tools/exo-run reports (128+SIG when it kills).  tests/suites/
 * 28-posix-threads.sh compares the output with the same program on Linux.
 */
#define _GNU_SOURCE
#include "check.h"
#include "show.h"
#include "sigaction.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile int count[65], last_code, last_pid_ok;
static volatile uintptr_t last_addr;
static sigjmp_buf escape;

static void plain(int sig)
{
	count[sig]++;
}

static void with_info(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	count[sig]++;
	last_code = si->si_code;
	last_pid_ok = si->si_pid == getpid();
}

static void fault(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	count[sig]++;
	last_addr = (uintptr_t)si->si_addr;
	siglongjmp(escape, sig);
}

static void nested(int sig)
{
	count[sig]++;
	raise(SIGUSR1);		/* runs inside this handler */
}

static void handlers(void)
{
	on(SIGUSR1, plain, 0);
	SHOW(raise(SIGUSR1));
	printf("raise: SIGUSR1 handled %d time(s)\n", count[SIGUSR1]);
	on_info(SIGUSR2, with_info);
	SHOW(kill(getpid(), SIGUSR2));
	printf("kill: SIGUSR2 handled %d, si_code %d, si_pid is ours %d\n", count[SIGUSR2], last_code, last_pid_ok);
	SHOW(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGUSR2));
	printf("tgkill: SIGUSR2 handled %d, si_code %d\n", count[SIGUSR2], last_code);
	struct sigaction old;
	SHOW(sigaction(SIGUSR2, 0, &old));
	printf("old action is the handler %d, SA_SIGINFO %d\n", old.sa_sigaction == with_info,
	       (old.sa_flags & SA_SIGINFO) != 0);

	/* a handler that raises another signal */
	on(SIGHUP, nested, 0);
	SHOW(raise(SIGHUP));
	printf("nested: SIGHUP %d, SIGUSR1 %d\n", count[SIGHUP], count[SIGUSR1]);

	/* the caller's FPU/SSE registers survive a handler */
	volatile double x = 1.25;
	double y = x * 3.0;
	raise(SIGUSR1);
	printf("fpu across a handler: %.3f\n", y + x);
}

static void mask_and_pending(void)
{
	sigset_t s, pend;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	int before = count[SIGUSR1];
	SHOW(sigprocmask(SIG_BLOCK, &s, 0));
	SHOW(raise(SIGUSR1));
	SHOW(raise(SIGUSR1));		/* a second one merges with the first */
	printf("blocked: handled %d more\n", count[SIGUSR1] - before);
	SHOW(sigpending(&pend));
	printf("pending SIGUSR1 %d, SIGUSR2 %d\n", sigismember(&pend, SIGUSR1), sigismember(&pend, SIGUSR2));
	SHOW(sigprocmask(SIG_UNBLOCK, &s, 0));
	printf("unblocked: handled %d more\n", count[SIGUSR1] - before);
	sigset_t cur;
	sigemptyset(&s);
	sigaddset(&s, SIGKILL);
	sigaddset(&s, SIGSTOP);
	sigaddset(&s, SIGTERM);
	SHOW(sigprocmask(SIG_SETMASK, &s, 0));
	SHOW(sigprocmask(SIG_SETMASK, 0, &cur));
	printf("SIGKILL, SIGSTOP cannot be blocked: %d %d; SIGTERM blocked %d\n", sigismember(&cur, SIGKILL),
	       sigismember(&cur, SIGSTOP), sigismember(&cur, SIGTERM));
	sigemptyset(&s);
	SHOW(sigprocmask(SIG_SETMASK, &s, 0));
	SHOW(sigprocmask(99, &s, 0));

	/* ignored, and ignored by default */
	on(SIGUSR1, SIG_IGN, 0);
	before = count[SIGUSR1];
	SHOW(raise(SIGUSR1));
	SHOW(raise(SIGCHLD));
	SHOW(raise(SIGWINCH));
	printf("ignored: handled %d more\n", count[SIGUSR1] - before);
}

static void errors(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = plain;
	SHOW(sigaction(SIGKILL, &sa, 0));
	SHOW(sigaction(SIGSTOP, &sa, 0));
	SHOW(syscall(SYS_rt_sigaction, 65, 0, 0, 8));
	SHOW(syscall(SYS_rt_sigaction, SIGUSR1, 0, 0, 4));
	SHOW(kill(getpid(), 99));
	SHOW(kill(getpid(), 0));
	SHOW(syscall(SYS_tgkill, getpid(), 0x3ffffff0, SIGUSR1));
	SHOW(syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0));
	SHOW(syscall(SYS_rt_sigaction, SIGUSR1, (void *)8, 0, 8));
	SHOW(syscall(SYS_rt_sigprocmask, SIG_BLOCK, (void *)8, 0, 8));
}

static void hardware_faults(void)
{
	on_info(SIGSEGV, fault);
	on_info(SIGFPE, fault);
	on_info(SIGILL, fault);
	int sig = sigsetjmp(escape, 1);
	if (sig == 0)
		*(volatile int *)16 = 1;
	printf("write to address 16: signal %d, si_addr %#lx\n", sig, (unsigned long)last_addr);
	sig = sigsetjmp(escape, 1);
	if (sig == 0) {
		volatile int zero = 0;
		printf("%d\n", 7 / zero);
	}
	printf("divide by zero: signal %d\n", sig);
	sig = sigsetjmp(escape, 1);
	if (sig == 0)
		__asm__ volatile("ud2");
	printf("invalid opcode: signal %d\n", sig);
	printf("faults handled: SEGV %d FPE %d ILL %d\n", count[SIGSEGV], count[SIGFPE], count[SIGILL]);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc > 2 && strcmp(argv[1], "die") == 0) {
		if (strcmp(argv[2], "abort") == 0)
			abort();
		if (strcmp(argv[2], "segv") == 0)
			*(volatile int *)8 = 0;
		raise(atoi(argv[2]));
		printf("still alive after signal %s\n", argv[2]);
		return 0;
	}
	handlers();
	mask_and_pending();
	errors();
	hardware_faults();
	EXPECT("handlers-ran", count[SIGUSR2] == 2 && count[SIGHUP] == 1);
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
