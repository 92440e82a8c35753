/* The PS/2 keyboard (IRQ 1): key presses as the bytes a terminal sends. */
#ifndef EXO_DRIVERS_PS2KBD_H
#define EXO_DRIVERS_PS2KBD_H

#include <stdint.h>

#define KEYBOARD_IRQ 1

/* Turns on the controller's keyboard interrupt: 0, or -1 without one. */
int ps2kbd_init(void);
/* Takes the scan codes waiting in the controller; each typed byte goes to put. */
void ps2kbd_drain(void (*put)(uint8_t c));

#endif
