/*
 * The console: fd 1 goes to COM2 and fd 2 to COM3 when those UARTs exist
 * (tools/exo-run gives the VM both), written directly through their I/O-port
 * capabilities, byte for byte; otherwise both go to the kernel console
 * through the console capability.  The first program finds the port caps in
 * its start information; a forked child inherits them in the same slots.
 */
#include "libos/libos.h"
#include "include/exo/native.h"

#include <stdarg.h>

static const uint16_t uart_base[3] = { 0, 0x2f8, 0x3e8 };
static int uart_ok[3];

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

/* The slot of the first program's port cap for base, or 0. */
static int64_t port_slot(uint16_t base)
{
	const struct exo_start *st = libos_start_info;
	struct exo_cap_info info;

	for (uint64_t i = 0; st && i < st->ioport_count; i++) {
		int64_t slot = (int64_t)(st->ioport_slot_first + i);
		/* raw call: this runs before mm_init, on the kernel-made stack */
		if (exo_call(EXO_SYS_CAP_INSPECT, slot, &info) == 0 && info.type == EXO_CAP_IOPORT && info.first == base)
			return slot;
	}
	return 0;
}

void console_init(void)
{
	if (libos_start_info && libos_start_info->ioport_count) {	/* else kept (fork, execve) */
		lp.uart_slot[1] = port_slot(uart_base[1]);
		lp.uart_slot[2] = port_slot(uart_base[2]);
	}
	for (int fd = 1; fd <= 2; fd++) {
		uint16_t b = uart_base[fd];
		if (!lp.uart_slot[fd] || exo_call(EXO_SYS_IOPORT_ENABLE, lp.uart_slot[fd]) != 0)
			continue;
		outb(b + 7, 0xa5);		/* scratch register: is a UART there? */
		if (inb(b + 7) != 0xa5)
			continue;
		outb(b + 1, 0);
		outb(b + 3, 0x80);
		outb(b + 0, 1);
		outb(b + 1, 0);
		outb(b + 3, 3);
		outb(b + 2, 0xc7);
		uart_ok[fd] = 1;
	}
}

int console_is_kernel(void)
{
	return !uart_ok[1];
}

int64_t console_write(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (fd < 1 || fd > 2)
		return -EXO_EBADF;
	if (!uart_ok[fd]) {
		size_t done = 0;
		while (done < len) {
			size_t n = len - done > 4096 ? 4096 : len - done;
			int64_t r = exo_call(EXO_SYS_CONSOLE_WRITE, EXO_SLOT_CONSOLE, p + done, n);
			if (r < 0)
				return done ? (int64_t)done : r;
			done += n;
		}
		return (int64_t)len;
	}
	uint16_t b = uart_base[fd];
	for (size_t i = 0; i < len; i++) {
		while (!(inb(b + 5) & 0x20))
			;
		outb(b, p[i]);
	}
	return (int64_t)len;
}

static void put_hex(char *out, size_t *n, uint64_t v)
{
	char tmp[16];
	int k = 0;
	do {
		tmp[k++] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v);
	out[(*n)++] = '0';
	out[(*n)++] = 'x';
	while (k)
		out[(*n)++] = tmp[--k];
}

void lo_report(const char *fmt, ...)
{
	char out[256];
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt && n < sizeof out - 40; fmt++) {
		if (*fmt != '%') {
			out[n++] = *fmt;
			continue;
		}
		fmt++;
		if (*fmt == 's') {
			const char *s = va_arg(ap, const char *);
			while (*s && n < sizeof out - 40)
				out[n++] = *s++;
		} else if (*fmt == 'd') {
			int64_t v = va_arg(ap, int64_t);
			char tmp[24];
			int k = 0;
			uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
			do tmp[k++] = (char)('0' + u % 10); while (u /= 10);
			if (v < 0)
				out[n++] = '-';
			while (k)
				out[n++] = tmp[--k];
		} else if (*fmt == 'x' || *fmt == 'p') {
			put_hex(out, &n, va_arg(ap, uint64_t));
		} else if (!*fmt) {
			break;
		}
	}
	va_end(ap);
	console_write(2, out, n);
}
