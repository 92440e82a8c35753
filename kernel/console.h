/* Kernel console: formatted output to COM1 and/or the screen, with levels. */
#ifndef EXO_KERNEL_CONSOLE_H
#define EXO_KERNEL_CONSOLE_H

enum log_level { LOG_ERR = 3, LOG_WARN = 4, LOG_NOTICE = 5, LOG_INFO = 6, LOG_DEBUG = 7 };

extern int log_level;

void console_select(int serial, int screen);
void console_putc(char c);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints when level <= log_level (loglevel= on the command line). */
void klog(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stops the CPU for good: interrupts off, halt forever. */
_Noreturn void halt_forever(void);

#endif
