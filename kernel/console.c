/* Kernel console; see console.h. */
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/format.h"
#include "kernel/selftest.h"
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
