/*
 * printf-style formatting for the kernel, portable so the host tests can
 * compare it with libc.  Supports %d %i %u %x %X %o %p %s %c %%, the flags
 * '-' '0' '+' ' ' '#', width and precision (also '*'), and the length
 * modifiers hh h l ll z t j.
 */
#ifndef EXO_KERNEL_FORMAT_H
#define EXO_KERNEL_FORMAT_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*format_sink)(char c, void *arg);

/* Formats to sink; returns the number of characters produced. */
int format(format_sink sink, void *arg, const char *fmt, va_list ap);

/* Like vsnprintf: always NUL-terminates when size > 0; returns the length
 * the full output would have had. */
int format_buf(char *buf, size_t size, const char *fmt, va_list ap);
int snformat(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
