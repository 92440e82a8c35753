/* Kernel console; see console.h. */
#include "kernel/console.h"
#include "kernel/apic.h"
#include "kernel/cpu.h"
#include "kernel/env.h"
#include "kernel/object.h"
#include "kernel/trap.h"
#include "kernel/format.h"
#include "kernel/selftest.h"
#include "drivers/ps2kbd.h"
#include "drivers/serial.h"
#include "drivers/screen.h"

#include <stdarg.h>

int log_level = LOG_INFO;
static int to_serial = 1, to_screen = 1;

void console_select(int serial, int screen)
{
	to_serial = serial;
	to_screen = screen;
}

void console_putc(char c)
{
	if (to_serial)
		serial_putc(c);
	if (to_screen)
		screen_putc(c);
}

static void sink(char c, void *arg)
{
	(void)arg;
	console_putc(c);
}

static void vprint(const char *fmt, va_list ap)
{
	uint64_t flags = irq_save();
	format(sink, 0, fmt, ap);
	irq_restore(flags);
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void klog(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ input
 * Bytes typed on COM1 or the PS/2 keyboard wait in a ring until the holder
 * of the console cap reads them; everything else about a terminal is the
 * library OS's. */
#define INPUT_RING 1024		/* a power of two */

static struct {
	uint8_t buf[INPUT_RING];
	uint32_t head, tail;		/* tail - head bytes wait */
	uint64_t dropped;
	struct notify *n;		/* the reader's, or NULL */
	uint64_t badge;
} input;

uint64_t console_first_wait_tsc;

/* Takes a typed byte; a full ring drops it, as a UART's FIFO would. */
static void input_put(uint8_t c)
{
	if (input.tail - input.head == INPUT_RING) {
		input.dropped++;
		return;
	}
	input.buf[input.tail++ % INPUT_RING] = c;
}

/* COM1's receive interrupt: drain the UART, then wake the reader. */
static void serial_interrupt(struct trapframe *tf)
{
	int c, got = 0;

	(void)tf;
	while ((c = serial_getc()) >= 0) {
		input_put((uint8_t)c);
		got = 1;
	}
	if (got && input.n)
		notify_signal(input.n, input.badge);
	irq_eoi(CONSOLE_IRQ);
}

/* The keyboard's interrupt: translate what it sent, then wake the reader. */
static void keyboard_interrupt(struct trapframe *tf)
{
	uint32_t before = input.tail;

	(void)tf;
	ps2kbd_drain(input_put);
	if (input.tail != before && input.n)
		notify_signal(input.n, input.badge);
	irq_eoi(KEYBOARD_IRQ);
}

void console_input_init(void)
{
	if (serial_enable_rx_irq() == 0) {
		trap_set_handler(IRQ_BASE + CONSOLE_IRQ, serial_interrupt);
		irq_route(CONSOLE_IRQ, IRQ_BASE + CONSOLE_IRQ);
		while (serial_getc() >= 0)
			;	/* whatever arrived before we listened */
	}
	if (ps2kbd_init() == 0) {
		trap_set_handler(IRQ_BASE + KEYBOARD_IRQ, keyboard_interrupt);
		irq_route(KEYBOARD_IRQ, IRQ_BASE + KEYBOARD_IRQ);
		klog(LOG_INFO, "console: input from COM1 and the PS/2 keyboard\n");
	}
}

size_t console_input_read(uint8_t *buf, size_t max)
{
	size_t n = 0;

	while (n < max && input.head != input.tail)
		buf[n++] = input.buf[input.head++ % INPUT_RING];
	return n;
}

void console_input_bind(struct notify *n, uint64_t badge)
{
	struct notify *old = input.n;

	if (n && !console_first_wait_tsc)
		console_first_wait_tsc = rdtsc();
	if (n)
		n->refs++;		/* before the old one goes: it may be n */
	if (old)
		notify_put(old);
	input.n = n;
	input.badge = badge;
	if (n && input.head != input.tail)
		notify_signal(n, badge);
}

_Noreturn void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;

	irq_disable();
	kprintf("\nPANIC: ");
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	kprintf("\n");
	selftest_on_fatal();
	kprintf("system halted\n");
	halt_forever();
}
