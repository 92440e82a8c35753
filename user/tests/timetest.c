/*
 * Time as a program sees it: CLOCK_REALTIME is the date (the CMOS clock,
 * checked against the host's time given as argv[1]), settimeofday moves it
 * for the whole machine and leaves CLOCK_MONOTONIC alone, and nanosleep(1 ms)
 * sleeps about 1 ms: never less, and not a 10 ms timer tick more.
 */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long host = argc > 1 ? atol(argv[1]) : 0;
	time_t now = time(NULL);
	printf("info guest time %ld, host time %ld\n", (long)now, host);
	EXPECT("realtime-is-the-date", host > 0 && labs((long)now - host) < 60);

	/* nanosleep(1 ms), 40 times */
	enum { N = 40 };
	uint64_t took[N];
	int early = 0;
	for (int i = 0; i < N; i++) {
		struct timespec req = { 0, 1000000 };
		uint64_t t0 = mono_ns();
		nanosleep(&req, NULL);
		took[i] = mono_ns() - t0;
		early += took[i] < 1000000;
	}
	qsort(took, N, sizeof took[0], cmp);
	printf("info nanosleep(1 ms): median %llu us, max %llu us\n",
	       (unsigned long long)took[N / 2] / 1000, (unsigned long long)took[N - 1] / 1000);
	EXPECT("nanosleep-never-early", early == 0);
	EXPECT("nanosleep-1ms-not-a-tick", took[N / 2] < 4000000);

	/* settimeofday: a day ahead, then back */
	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t m0 = mono_ns();
	struct timeval ahead = { tv.tv_sec + 86400, tv.tv_usec };
	EXPECT("settimeofday", settimeofday(&ahead, NULL) == 0);
	time_t later = time(NULL);
	EXPECT("settimeofday-moves-realtime", later - tv.tv_sec >= 86400 && later - tv.tv_sec < 86400 + 30);
	EXPECT("settimeofday-keeps-monotonic", mono_ns() - m0 < 10000000000ull);
	struct timespec back = { tv.tv_sec, 0 };
	EXPECT("clock_settime", clock_settime(CLOCK_REALTIME, &back) == 0 && time(NULL) - tv.tv_sec < 30);
	struct timespec bad = { 1, 2000000000 };
	EXPECT("clock_settime-bad-nsec", clock_settime(CLOCK_REALTIME, &bad) == -1);
	EXPECT("clock_settime-monotonic-refused", clock_settime(CLOCK_MONOTONIC, &back) == -1);
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
