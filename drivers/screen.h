/*
 * The screen console: VGA text mode under BIOS, or a linear framebuffer
 * (UEFI GOP) drawn with a PSF font that the build takes from Debian's
 * console-setup fonts.  Both scroll; tabs go to the next multiple of 8;
 * backspace moves left; ESC [ sequences move the cursor and erase (A B C D
 * G H f J K) as a VT100 does, and other sequences (colours) are ignored.
 */
#ifndef EXO_DRIVERS_SCREEN_H
#define EXO_DRIVERS_SCREEN_H

#include "kernel/bootinfo.h"

/* Sets up from the boot framebuffer; fb_virt is where it is mapped. */
void screen_init(const struct boot_framebuffer *fb, void *fb_virt);
void screen_putc(char c);
const char *screen_kind(void);

#endif
