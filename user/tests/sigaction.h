/* Installing handlers in the signal tests (user/tests/signals.c,
 * sigtimers.c), the same on the library OS and on Linux. */
#ifndef EXO_USER_TESTS_SIGACTION_H
#define EXO_USER_TESTS_SIGACTION_H

#include <signal.h>
#include <string.h>

/* A plain handler for sig with sa_flags flags. */
static inline void on(int sig, void (*h)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = flags;
	sigaction(sig, &sa, 0);
}

/* An SA_SIGINFO handler for sig. */
static inline void on_info(int sig, void (*h)(int, siginfo_t *, void *))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = h;
	sa.sa_flags = SA_SIGINFO;
	sigaction(sig, &sa, 0);
}

#endif
