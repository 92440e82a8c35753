/*
 * The kernel command line (set in grub.cfg, editable in the GRUB menu):
 *   console=serial|screen|both   where kernel messages go (default both)
 *   loglevel=0..7                 messages above this level are dropped (6)
 *   test=NAME                     run in-kernel self-tests (self,
 *                                 smp-missing, clock-stall) or a
 *                                 deliberate fault (pagefault, divide), then
 *                                 power QEMU off through isa-debug-exit
 *   mbdump                        print the Multiboot2 information in hex
 *   onexit=halt|poweroff          what to do when the first program ends
 * Unknown words and bad values are reported, never silently ignored.
 */
#ifndef EXO_KERNEL_CMDLINE_H
#define EXO_KERNEL_CMDLINE_H

#include <stddef.h>

struct kernel_options {
	int console_serial, console_screen;
	int loglevel;
	char test[32];
	int mbdump;
	int onexit_poweroff;
};

/* Fills o (defaults for what is absent).  Problems are described, one per
 * line, in warn (NUL-terminated, possibly truncated); returns their number. */
int cmdline_parse(struct kernel_options *o, const char *cmdline, char *warn, size_t warnlen);

#endif
