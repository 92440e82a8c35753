/* For the tests that run several processes: a sleep that survives
 * signals, and a child's status as one number. */
#ifndef EXO_USER_TESTS_CHILD_WAIT_H
#define EXO_USER_TESTS_CHILD_WAIT_H

#include <errno.h>
#include <sys/wait.h>
#include <time.h>

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A child's exit status, or 128 + its signal. */
static int child_status(pid_t pid)
{
	int st = 0;
	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
