/* Kernel command-line parsing; see cmdline.h. */
#include "kernel/cmdline.h"
#include "kernel/format.h"

#include <string.h>

struct warnbuf {
	char *buf;
	size_t len, used;
	int count;
};

static void warn(struct warnbuf *w, const char *what, const char *word, size_t n)
{
	if (w->len > w->used) {
		int k = snformat(w->buf + w->used, w->len - w->used, "cmdline: %s '%.*s'\n",
				 what, (int)n, word);
		w->used += (size_t)k < w->len - w->used ? (size_t)k : w->len - w->used - 1;
	}
	w->count++;
}

static int value_is(const char *v, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(v, s, n) == 0;
}

static void parse_word(struct kernel_options *o, const char *w, size_t n, struct warnbuf *wb)
{
	const char *eq = memchr(w, '=', n);
	size_t klen = eq ? (size_t)(eq - w) : n;
	const char *v = eq ? eq + 1 : w + n;
	size_t vlen = eq ? n - klen - 1 : 0;

	if (value_is(w, klen, "console") && eq) {
		if (value_is(v, vlen, "serial"))
			o->console_serial = 1, o->console_screen = 0;
		else if (value_is(v, vlen, "screen"))
			o->console_serial = 0, o->console_screen = 1;
		else if (value_is(v, vlen, "both"))
			o->console_serial = 1, o->console_screen = 1;
		else
			warn(wb, "console= takes serial, screen or both, not", v, vlen);
	} else if (value_is(w, klen, "loglevel") && eq) {
		if (vlen == 1 && v[0] >= '0' && v[0] <= '7')
			o->loglevel = v[0] - '0';
		else
			warn(wb, "loglevel= takes 0 to 7, not", v, vlen);
	} else if (value_is(w, klen, "test") && eq) {
		if (vlen == 0 || vlen >= sizeof o->test)
			warn(wb, "bad test name", v, vlen);
		else {
			memcpy(o->test, v, vlen);
			o->test[vlen] = 0;
		}
	} else if (value_is(w, klen, "onexit") && eq) {
		if (value_is(v, vlen, "halt"))
			o->onexit_poweroff = 0;
		else if (value_is(v, vlen, "poweroff"))
			o->onexit_poweroff = 1;
		else
			warn(wb, "onexit= takes halt or poweroff, not", v, vlen);
	} else if (value_is(w, n, "mbdump")) {
		o->mbdump = 1;
	} else {
		warn(wb, "unknown option", w, n);
	}
}

int cmdline_parse(struct kernel_options *o, const char *cmdline, char *warnout, size_t warnlen)
{
	struct warnbuf wb = { warnout, warnlen, 0, 0 };

	*o = (struct kernel_options){ .console_serial = 1, .console_screen = 1, .loglevel = 6 };
	if (warnlen)
		warnout[0] = 0;
	if (!cmdline)
		return 0;
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (p > start)
			parse_word(o, start, (size_t)(p - start), &wb);
	}
	return wb.count;
}
