/* Memory and string helpers for the library OS (never musl's, which the
 * application may be using when it traps). */
#include "libos/libos.h"

/* Moves 8-byte words, then the tail by bytes: under QEMU's -icount each
 * step of a rep string instruction counts as one instruction, so a page
 * moved by bytes cost 4,096 of them (make bench counts instructions); on
 * CPUs with fast byte strings either is about as fast. */
void *lo_memcpy(void *dst, const void *src, size_t n)
{
	void *ret = dst;
	size_t words = n >> 3, tail = n & 7;

	__asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words) :: "memory");
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(tail) :: "memory");
	return ret;
}

/* Stores 8-byte words, then the tail by bytes (see lo_memcpy). */
void *lo_memset(void *dst, int c, size_t n)
{
	void *ret = dst;
	size_t words = n >> 3, tail = n & 7;
	uint64_t v = (uint8_t)c * 0x0101010101010101ull;

	__asm__ volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(v) : "memory");
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(tail) : "a"(v) : "memory");
	return ret;
}

size_t lo_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int lo_memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] - y[i];
	return 0;
}
