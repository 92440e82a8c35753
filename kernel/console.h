/* Kernel console: formatted output to COM1 and/or the screen, with levels;
 * input typed on COM1 or the PS/2 keyboard, kept for the holder of the
 * console cap. */
#ifndef EXO_KERNEL_CONSOLE_H
#define EXO_KERNEL_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#define CONSOLE_IRQ 4		/* COM1's line: the kernel's, never bound by user space */

struct notify;

enum log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_NOTICE = 5, LOG_INFO = 6, LOG_DEBUG = 7 };

extern int log_level;

void console_select(int serial, int screen);
void console_putc(char c);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints when level <= log_level (loglevel= on the command line). */
void klog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Starts taking input from COM1's receive interrupt and the keyboard's. */
void console_input_init(void);
/* Moves up to max waiting input bytes into buf: how many (0: none). */
size_t console_input_read(uint8_t *buf, size_t max);
/* n (NULL: none) is signalled with badge when input arrives, and at once if
 * some is waiting; it replaces the previous reader's notification. */
void console_input_bind(struct notify *n, uint64_t badge);
/* The TSC when a program first bound a notification for input, i.e. first
 * waited for a key: on the image `make run` boots without a disk, the
 * shell at its first prompt.  0 until then; tools/bench-boot reads it
 * through the debugger (docs/PERFORMANCE.md, "Boot to a shell prompt"). */
extern uint64_t console_first_wait_tsc;
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stops the CPU for good: interrupts off, halt forever. */
_Noreturn void halt_forever(void);

#endif
