/*
 * Time: the TSC and the LAPIC timer are calibrated against the PIT.  With
 * a local APIC the timer is one-shot, armed for the next deadline the
 * scheduler has (TSC-deadline mode where the CPU has it), so nothing ticks
 * while nothing is due; without one, the PIT ticks at TICK_HZ through the
 * PIC.  time_ns() is a TSC-based monotonic clock; CLOCK_REALTIME starts
 * from the CMOS clock.
 */
#ifndef EXO_KERNEL_TIME_H
#define EXO_KERNEL_TIME_H

#include <stdint.h>

#define TICK_HZ 100

extern volatile uint64_t ticks;
extern uint64_t tsc_hz;

void time_init(void);
/* Nanoseconds since time_init, from the TSC. */
uint64_t time_ns(void);
/* How far (ppm) the boot's 5 ms TSC calibration lands from one over 40 ms,
 * the closest of three tries (the self-test's check of its accuracy). */
int64_t time_calibration_error_ppm(void);
/* Busy-waits (with interrupts as they are) for ns nanoseconds. */
void time_delay_ns(uint64_t ns);

/* Arms the timer interrupt for time_ns() == deadline (0: none); a deadline
 * already past fires at once.  A no-op with the periodic PIT tick. */
void timer_arm(uint64_t deadline_ns);
/* Sets this CPU's LAPIC timer to the mode time_init chose. */
void timer_init_cpu(void);
/* "tsc-deadline", "lapic one-shot" or "pit periodic". */
const char *timer_mode_name(void);

/* CLOCK_REALTIME at time_ns() == 0, in ns since 1970 (0: unknown); the
 * kernel info page shows it, so every env reads the date without a call. */
uint64_t time_realtime_base(void);
void time_publish_realtime(volatile uint64_t *kinfo_slot);
/* Sets CLOCK_REALTIME to now_ns (ns since 1970). */
void time_set_realtime(uint64_t now_ns);

#endif
