/* Memory and string helpers for the library OS (never musl's, which the
 * application may be using when it traps). */
#include "libos/libos.h"

void *lo_memcpy(void *dst, const void *src, size_t n)
{
	void *ret = dst;
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) :: "memory");
	return ret;
}

void *lo_memset(void *dst, int c, size_t n)
{
	void *ret = dst;
	__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
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
