/* The CMOS real-time clock (kernel/rtc.c). */
#ifndef EXO_KERNEL_RTC_H
#define EXO_KERNEL_RTC_H

#include <stdint.h>

/* Seconds since 1970-01-01 UTC from the RTC, or -1 when it reads garbage.
 * century_reg: the CMOS register of the century (ACPI FADT), or 0. */
int64_t rtc_read_unix(uint8_t century_reg);
/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
