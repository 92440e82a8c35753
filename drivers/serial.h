/* COM1 (16550 UART) output, polled. */
#ifndef EXO_DRIVERS_SERIAL_H
#define EXO_DRIVERS_SERIAL_H

void serial_init(void);
void serial_putc(char c);

#endif
