/*
 * Time: the TSC and the LAPIC timer are calibrated against the PIT; a
 * periodic tick runs at TICK_HZ (LAPIC timer, or the PIT through the PIC
 * when there is no APIC); time_ns() is a TSC-based monotonic clock.
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
/* Busy-waits (with interrupts as they are) for ns nanoseconds. */
void time_delay_ns(uint64_t ns);

#endif
