/* The kernel's printf formatting (kernel/format.c) against the C library's,
 * over fixed cases and 20,000 random format specifications. */
#include "kernel/format.h"
#include "tests/check.h"

#include <stdarg.h>
#include <sys/types.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int same(const char *fmt, ...)
{
	char a[256], b[256];
	va_list ap, aq;

	va_start(ap, fmt);
	va_copy(aq, ap);
	int na = format_buf(a, sizeof a, fmt, ap);
	int nb = vsnprintf(b, sizeof b, fmt, aq);
	va_end(aq);
	va_end(ap);
	if (na != nb || strcmp(a, b) != 0) {
		printf("  format '%s': kernel '%s' (%d), libc '%s' (%d)\n", fmt, a, na, b, nb);
		return 0;
	}
	return 1;
}

static void fixed_cases(void)
{
	CHECK(same("plain text"));
	CHECK(same("%d %i %u %x %X %o", -5, 17, 42u, 0xabcu, 0xabcu, 8u));
	CHECK(same("%ld %lu %lx %lld %llu %zu %zd", -1L, ~0UL, 0xdeadbeefUL, -9LL, ~0ULL, (size_t)7, (ssize_t)-7));
	CHECK(same("%hhd %hhu %hd %hu", -3, 250, -30000, 65000));
	CHECK(same("[%5d] [%-5d] [%05d] [%+d] [% d] [%.3d] [%8.3d] [%-8.3d]", 42, 42, -42, 42, 42, 7, -7, 7));
	CHECK(same("[%s] [%10s] [%-10s] [%.2s] [%*s] [%-*s] [%.*s]", "abc", "abc", "abc", "abc", 6, "x", 6, "x", 1, "xyz"));
	CHECK(same("[%c] [%3c] [%-3c] [%%]", 'a', 'b', 'c'));
	CHECK(same("[%#x] [%#X] [%#o] [%#o] [%#x]", 255u, 255u, 8u, 0u, 0u));
	CHECK(same("[%.0d] [%.0x] [%5.0d]", 0, 0u, 0));
	CHECK(same("%p %p", (void *)0x1234, (void *)~0UL));
	CHECK(same("%ld %ld", (long)INT64_MIN, (long)INT64_MAX));
	CHECK(same("%+u % u", 5u, 6u));
}

/* A random conversion spec whose meaning C defines, and a matching value. */
static void random_cases(void)
{
	static const char convs[] = "diuxXosc";
	int bad = 0;

	for (int i = 0; i < 20000 && bad < 5; i++) {
		char fmt[64], *p = fmt;
		char conv = convs[next() % (sizeof convs - 1)];
		int numeric = conv != 's' && conv != 'c';
		*p++ = '[';
		*p++ = '%';
		if (next() % 3 == 0) *p++ = '-';
		if (numeric && next() % 3 == 0) *p++ = '0';
		if ((conv == 'd' || conv == 'i') && next() % 4 == 0) *p++ = '+';
		if ((conv == 'd' || conv == 'i') && next() % 4 == 0) *p++ = ' ';
		if ((conv == 'x' || conv == 'X' || conv == 'o') && next() % 3 == 0) *p++ = '#';
		if (next() % 2) p += sprintf(p, "%d", (int)(next() % 25));
		if (conv != 'c' && next() % 3 == 0) p += sprintf(p, ".%d", (int)(next() % 25));
		int len = numeric ? (int)(next() % 3) : 0;	/* int, l, ll */
		if (len == 1) *p++ = 'l';
		if (len == 2) { *p++ = 'l'; *p++ = 'l'; }
		*p++ = conv;
		*p++ = ']';
		*p = 0;
		uint64_t v = next() >> (next() % 64);
		int ok;
		if (conv == 's') {
			static const char *strs[] = { "", "a", "hello", "a longer string here" };
			ok = same(fmt, strs[next() % 4]);
		} else if (conv == 'c') {
			ok = same(fmt, (int)(' ' + next() % 90));
		} else if (len == 0) {
			ok = same(fmt, (int)v);
		} else if (len == 1) {
			ok = same(fmt, (long)v);
		} else {
			ok = same(fmt, (long long)v);
		}
		if (!ok)
			bad++;
	}
	CHECK_EQ(bad, 0);
}

static void truncation(void)
{
	char buf[8];
	int n = snformat(buf, sizeof buf, "%s", "0123456789");

	CHECK_EQ(n, 10);
	CHECK(strcmp(buf, "0123456") == 0);
	CHECK_EQ(snformat(buf, 0, "abc"), 3);
	CHECK_EQ(snformat(buf, 1, "abc"), 3);
	CHECK(buf[0] == 0);
}

int main(void)
{
	RUN(fixed_cases);
	RUN(random_cases);
	RUN(truncation);
	return CHECK_EXIT_STATUS();
}
