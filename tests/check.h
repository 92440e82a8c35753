/*
 * A very small harness for host unit tests.  Each test is a function; RUN()
 * calls it and prints "PASS name" or "FAIL name" for tests/run to count.
 * CHECK() records a failure with its place and goes on, so one run reports
 * every broken expectation of a test.
 */
#ifndef EXO_TESTS_CHECK_H
#define EXO_TESTS_CHECK_H

#include <stdio.h>

static int check_failed_;
static int check_failures_;

#define CHECK(cond) do { \
	if (!(cond)) { \
		printf("  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		check_failed_ = 1; \
	} \
} while (0)

#define CHECK_EQ(a, b) do { \
	long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) { \
		printf("  %s:%d: check failed: %s == %s (%lld != %lld)\n", \
		       __FILE__, __LINE__, #a, #b, a_, b_); \
		check_failed_ = 1; \
	} \
} while (0)

static inline void check_run_(const char *name, void (*fn)(void))
{
	check_failed_ = 0;
	fn();
	printf("%s %s\n", check_failed_ ? "FAIL" : "PASS", name);
	fflush(stdout);
	check_failures_ += check_failed_;
}

#define RUN(fn) check_run_(#fn, fn)
#define CHECK_EXIT_STATUS() (check_failures_ ? 1 : 0)

#endif
