/* In-guest test helpers: "ok NAME" or "FAIL NAME: why" per check, and a
 * non-zero exit status when any check failed. */
#ifndef EXO_USER_TESTS_CHECK_H
#define EXO_USER_TESTS_CHECK_H

#include <stdio.h>

static int failures;

#define EXPECT(name, cond) do { \
	if (cond) \
		printf("ok %s\n", name); \
	else { \
		printf("FAIL %s: %s (line %d)\n", name, #cond, __LINE__); \
		failures++; \
	} \
	fflush(stdout); \
} while (0)

#endif
