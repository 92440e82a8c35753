/* COM1 at 115200 8N1, polled output; input by the receive interrupt once
 * the kernel console asks for it.  A missing UART (the scratch register
 * does not hold a value) is detected so writes never spin forever. */
#include "drivers/serial.h"
#include "kernel/cpu.h"

#define COM1 0x3f8

static int serial_present;

void serial_init(void)
{
	outb(COM1 + 7, 0x5a);
	if (inb(COM1 + 7) != 0x5a)
		return;
	outb(COM1 + 1, 0x00);	/* no interrupts */
	outb(COM1 + 3, 0x80);	/* DLAB */
	outb(COM1 + 0, 0x01);	/* divisor 1: 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);	/* FIFO on, cleared */
	outb(COM1 + 4, 0x03);	/* DTR, RTS */
	serial_present = 1;
}

void serial_putc(char c)
{
	if (!serial_present)
		return;
	if (c == '\n')
		serial_putc('\r');
	for (int spins = 0; !(inb(COM1 + 5) & 0x20) && spins < 100000; spins++)
		cpu_relax();
	outb(COM1, (uint8_t)c);
}

int serial_enable_rx_irq(void)
{
	if (!serial_present)
		return -1;
	outb(COM1 + 4, 0x0b);	/* DTR, RTS, OUT2 (gates the IRQ line) */
	outb(COM1 + 1, 0x01);	/* interrupt on received data */
	return 0;
}

int serial_getc(void)
{
	if (!serial_present || !(inb(COM1 + 5) & 0x01))
		return -1;
	return inb(COM1);
}
