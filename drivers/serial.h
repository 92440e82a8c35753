/* COM1 (16550 UART): output polled, input by interrupt (IRQ 4). */
#ifndef EXO_DRIVERS_SERIAL_H
#define EXO_DRIVERS_SERIAL_H

void serial_init(void);
void serial_putc(char c);
/* Turns on the receive interrupt: 0, or -1 when there is no UART. */
int serial_enable_rx_irq(void);
/* A received byte, or -1 when none is waiting. */
int serial_getc(void);

#endif
