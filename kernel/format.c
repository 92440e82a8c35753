/* printf-style formatting; see format.h. */
#include "kernel/format.h"

#include <stdint.h>

struct spec {
	int left, zero, plus, space, alt;
	int width, prec;	/* prec < 0: none */
	int length;		/* 'H' hh, 'h', 'l', 'L' ll/j/z/t, 0 int */
};

struct out {
	format_sink sink;
	void *arg;
	int count;
};

static void put(struct out *o, char c)
{
	o->sink(c, o->arg);
	o->count++;
}

static void pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

/* Emits one converted number: sign/prefix, zero padding, digits. */
static void emit_number(struct out *o, const struct spec *s, uintmax_t v,
			int negative, unsigned base, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char buf[24], prefix[3] = {0};
	int n = 0, plen = 0;

	while (v) {
		buf[n++] = digits[v % base];
		v /= base;
	}
	if (s->prec < 0 && n == 0)
		buf[n++] = '0';
	if (negative)
		prefix[plen++] = '-';
	else if (s->plus && base == 10)
		prefix[plen++] = '+';
	else if (s->space && base == 10)
		prefix[plen++] = ' ';
	if (s->alt && base == 16 && n && !(n == 1 && buf[0] == '0')) {
		prefix[plen++] = '0';
		prefix[plen++] = upper ? 'X' : 'x';
	}
	int zeros = s->prec > n ? s->prec - n : 0;
	if (s->alt && base == 8 && zeros == 0 && (n == 0 || buf[n - 1] != '0'))
		zeros = 1;
	int body = plen + zeros + n;
	int fill = s->width > body ? s->width - body : 0;

	if (!s->left && !(s->zero && s->prec < 0))
		pad(o, ' ', fill);
	for (int i = 0; i < plen; i++)
		put(o, prefix[i]);
	if (!s->left && s->zero && s->prec < 0)
		pad(o, '0', fill);
	pad(o, '0', zeros);
	while (n)
		put(o, buf[--n]);
	if (s->left)
		pad(o, ' ', fill);
}

static void emit_string(struct out *o, const struct spec *s, const char *str)
{
	int n = 0;

	if (!str)
		str = "(null)";
	while (str[n] && (s->prec < 0 || n < s->prec))
		n++;
	if (!s->left)
		pad(o, ' ', s->width - n);
	for (int i = 0; i < n; i++)
		put(o, str[i]);
	if (s->left)
		pad(o, ' ', s->width - n);
}

static uintmax_t fetch_unsigned(const struct spec *s, va_list *ap)
{
	switch (s->length) {
	case 'H': return (unsigned char)va_arg(*ap, unsigned);
	case 'h': return (unsigned short)va_arg(*ap, unsigned);
	case 'l': return va_arg(*ap, unsigned long);
	case 'L': return va_arg(*ap, unsigned long long);
	default:  return va_arg(*ap, unsigned);
	}
}

static intmax_t fetch_signed(const struct spec *s, va_list *ap)
{
	switch (s->length) {
	case 'H': return (signed char)va_arg(*ap, int);
	case 'h': return (short)va_arg(*ap, int);
	case 'l': return va_arg(*ap, long);
	case 'L': return va_arg(*ap, long long);
	default:  return va_arg(*ap, int);
	}
}

/* Parses flags, width, precision and length at *fmt into s. */
static const char *parse_spec(const char *fmt, struct spec *s, va_list *ap)
{
	*s = (struct spec){ .prec = -1 };
	for (;; fmt++) {
		if (*fmt == '-') s->left = 1;
		else if (*fmt == '0') s->zero = 1;
		else if (*fmt == '+') s->plus = 1;
		else if (*fmt == ' ') s->space = 1;
		else if (*fmt == '#') s->alt = 1;
		else break;
	}
	if (*fmt == '*') {
		s->width = va_arg(*ap, int);
		if (s->width < 0) {
			s->left = 1;
			s->width = -s->width;
		}
		fmt++;
	} else {
		while (*fmt >= '0' && *fmt <= '9')
			s->width = s->width * 10 + (*fmt++ - '0');
	}
	if (*fmt == '.') {
		fmt++;
		s->prec = 0;
		if (*fmt == '*') {
			s->prec = va_arg(*ap, int);
			if (s->prec < 0)
				s->prec = -1;
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				s->prec = s->prec * 10 + (*fmt++ - '0');
		}
	}
	if (fmt[0] == 'h' && fmt[1] == 'h') { s->length = 'H'; fmt += 2; }
	else if (fmt[0] == 'l' && fmt[1] == 'l') { s->length = 'L'; fmt += 2; }
	else if (*fmt == 'h') { s->length = 'h'; fmt++; }
	else if (*fmt == 'l' || *fmt == 'z' || *fmt == 't') { s->length = 'l'; fmt++; }
	else if (*fmt == 'j') { s->length = 'L'; fmt++; }
	return fmt;
}

int format(format_sink sink, void *arg, const char *fmt, va_list ap_in)
{
	struct out o = { sink, arg, 0 };
	va_list ap;

	va_copy(ap, ap_in);
	while (*fmt) {
		if (*fmt != '%') {
			put(&o, *fmt++);
			continue;
		}
		struct spec s;
		fmt = parse_spec(fmt + 1, &s, &ap);
		char c = *fmt ? *fmt++ : 0;
		switch (c) {
		case 'd': case 'i': {
			intmax_t v = fetch_signed(&s, &ap);
			emit_number(&o, &s, v < 0 ? -(uintmax_t)v : (uintmax_t)v, v < 0, 10, 0);
			break;
		}
		case 'u':
			s.plus = s.space = 0;	/* signs belong to signed conversions */
			emit_number(&o, &s, fetch_unsigned(&s, &ap), 0, 10, 0);
			break;
		case 'x': emit_number(&o, &s, fetch_unsigned(&s, &ap), 0, 16, 0); break;
		case 'X': emit_number(&o, &s, fetch_unsigned(&s, &ap), 0, 16, 1); break;
		case 'o': emit_number(&o, &s, fetch_unsigned(&s, &ap), 0, 8, 0); break;
		case 'p': {
			struct spec ps = s;
			ps.alt = 1;
			emit_number(&o, &ps, (uintptr_t)va_arg(ap, void *), 0, 16, 0);
			break;
		}
		case 's': emit_string(&o, &s, va_arg(ap, const char *)); break;
		case 'c': {
			char str[2] = { (char)va_arg(ap, int), 0 };
			s.prec = 1;
			if (!s.left) pad(&o, ' ', s.width - 1);
			put(&o, str[0]);
			if (s.left) pad(&o, ' ', s.width - 1);
			break;
		}
		case '%': put(&o, '%'); break;
		case 0: break;
		default: put(&o, '%'); put(&o, c); break;
		}
	}
	va_end(ap);
	return o.count;
}

struct bufsink {
	char *buf;
	size_t size, used;
};

static void buf_put(char c, void *arg)
{
	struct bufsink *b = arg;

	if (b->used + 1 < b->size)
		b->buf[b->used] = c;
	b->used++;
}

int format_buf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct bufsink b = { buf, size, 0 };
	int n = format(buf_put, &b, fmt, ap);

	if (size)
		buf[b.used < size ? b.used : size - 1] = 0;
	return n;
}

int snformat(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = format_buf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
