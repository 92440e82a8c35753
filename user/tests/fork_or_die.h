/* fork for the process tests: stdout flushed first (so the child does not
 * print the parent's buffered lines again), and a FAIL line and exit when
 * fork fails.  Needs show.h's errno_name. */
#ifndef EXO_USER_TESTS_FORK_OR_DIE_H
#define EXO_USER_TESTS_FORK_OR_DIE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static pid_t fork_or_die(void)
{
	fflush(stdout);
	pid_t p = fork();
	if (p < 0) {
		printf("FAIL fork: %s\n", errno_name(errno));
		exit(1);
	}
	return p;
}

#endif
