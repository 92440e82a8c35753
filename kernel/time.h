/*
 * Time: the TSC and the LAPIC timer are calibrated against the PIT, over
 * 0.3 ms at boot (right to 0.36%; the window runs beside boot work that
 * needs no clock: PCI enumeration, copying the first program), then over 5 ms and 100 ms while the
 * first program runs (0.1%, 0.01%; time_ns() stays continuous when the
 * rate changes).  With
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

/* Opens the quick calibration window (PIT channel 2 and the LAPIC timer
 * start counting), so boot work that needs no clock runs inside it. */
void time_calibration_start(void);
/* Closes the window (opening it first if nobody did; waiting for the rest
 * of its 0.3 ms if boot work was shorter) and starts the clock. */
void time_init(void);
/* Nanoseconds since time_init, from the TSC. */
uint64_t time_ns(void);
/* One sleep of ns on the timer interrupt, timed by the clock and by the
 * PIT (an independent clock): for the self-test.  -1 when the PIT's
 * reads were held up (a busy host) or the clock is not calibrated yet. */
struct sleep_check {
	uint64_t first_wake;		/* clock ns to the first interrupt */
	uint64_t by_clock, by_pit;	/* ns the whole sleep took */
	uint64_t bracket;		/* ns the PIT reads' brackets span */
};
int time_sleep_check(uint64_t ns, struct sleep_check *r);
/* Whether the calibration has ended (or the CPU stated the rate). */
int time_calibrated(void);
/* Calls fn once from the timer interrupt (kernel lock held, interrupts
 * off) when time_ns() >= due_ns; for work after boot (six at most). */
void time_call_at(uint64_t due_ns, void (*fn)(void));
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
/* Fills the clock fields of the kernel info page, and keeps them up to
 * date (clock_seq) when the calibration or CLOCK_SET changes them. */
struct exo_kinfo;
void time_publish(volatile struct exo_kinfo *k);
/* Sets CLOCK_REALTIME to now_ns (ns since 1970). */
void time_set_realtime(uint64_t now_ns);

#endif
