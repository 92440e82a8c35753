/*
 * Boot phase timestamps: the TSC at the end of each step of boot, kept so
 * the time to the first program can be broken down (loglevel=7 prints them
 * just before the first program starts; docs/PERFORMANCE.md, "Boot time").
 */
#ifndef EXO_KERNEL_BOOTTIME_H
#define EXO_KERNEL_BOOTTIME_H

/* Records the TSC now as the end of the boot step named what (a literal). */
void boot_mark(const char *what);
/* Prints each step's TSC and its time since the one before, at LOG_DEBUG. */
void boot_marks_print(void);

#endif
