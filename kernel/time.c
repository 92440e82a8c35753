/* Timer calibration, periodic tick and the TSC clock; see time.h. */
#include "kernel/time.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/trap.h"

#define PIT_HZ 1193182u
#define CAL_PIT_COUNT 23864u		/* 20 ms */

volatile uint64_t ticks;
uint64_t tsc_hz;
static uint64_t tsc_base, tsc_mult;	/* ns = (tsc - base) * mult >> 32 */
static uint32_t lapic_per_tick;


/*
 * Counts TSC cycles and LAPIC timer decrements over 20 ms of PIT channel 2
 * (gated through port 0x61, polled, no interrupt needed).
 */
static void calibrate(uint64_t *tsc_delta, uint32_t *lapic_delta)
{
	uint8_t gate = (inb(0x61) & ~0x02) | 0x01;

	outb(0x61, gate & ~1);
	outb(0x43, 0xb0);			/* channel 2, lo/hi, mode 0 */
	outb(0x42, CAL_PIT_COUNT & 0xff);
	outb(0x42, CAL_PIT_COUNT >> 8);
	if (apic_mode) {
		lapic_write(LAPIC_TIMER_DIV, 0x3);	/* divide by 16 */
		lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	}
	outb(0x61, gate);			/* start counting */
	uint64_t t0 = rdtsc();
	uint32_t l0 = apic_mode ? lapic_read(LAPIC_TIMER_CUR) : 0;
	for (uint64_t spins = 0; !(inb(0x61) & 0x20) && spins < 100000000; spins++)
		cpu_relax();
	*tsc_delta = rdtsc() - t0;
	*lapic_delta = apic_mode ? l0 - lapic_read(LAPIC_TIMER_CUR) : 0;
	outb(0x61, inb(0x61) & ~1);
}

void sched_tick(void);

static void tick(struct trapframe *tf)
{
	(void)tf;
	ticks++;
	irq_eoi(0);
	sched_tick();
}

uint64_t time_ns(void)
{
	return (uint64_t)(((unsigned __int128)(rdtsc() - tsc_base) * tsc_mult) >> 32);
}

void time_delay_ns(uint64_t ns)
{
	uint64_t end = time_ns() + ns;
	while (time_ns() < end)
		cpu_relax();
}

void time_init(void)
{
	uint64_t dt;
	uint32_t dl;

	calibrate(&dt, &dl);
	tsc_hz = dt * PIT_HZ / CAL_PIT_COUNT;
	if (tsc_hz < 1000000)
		panic("time: TSC calibration failed (%lu Hz)", tsc_hz);
	tsc_mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / tsc_hz);
	tsc_base = rdtsc();

	if (apic_mode) {
		uint64_t lapic_hz = (uint64_t)dl * PIT_HZ / CAL_PIT_COUNT;	/* after /16 */
		lapic_per_tick = (uint32_t)(lapic_hz / TICK_HZ);
		if (lapic_per_tick == 0)
			panic("time: LAPIC timer calibration failed");
		trap_set_handler(VEC_TIMER, tick);
		lapic_write(LAPIC_TIMER_DIV, 0x3);
		lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | (1u << 17));	/* periodic */
		lapic_write(LAPIC_TIMER_INIT, lapic_per_tick);
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz%s, lapic timer %lu kHz, tick %d Hz\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000,
		     cpu.invariant_tsc ? " (invariant)" : "", lapic_hz * 16 / 1000, TICK_HZ);
	} else {
		uint32_t div = PIT_HZ / TICK_HZ;
		trap_set_handler(IRQ_BASE + 0, tick);
		outb(0x43, 0x34);		/* channel 0, lo/hi, rate generator */
		outb(0x40, div & 0xff);
		outb(0x40, div >> 8);
		irq_route(0, IRQ_BASE + 0);
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz, pit tick %d Hz\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000, TICK_HZ);
	}
}

uint64_t tsc_base_value(void) { return tsc_base; }
uint64_t tsc_mult_value(void) { return tsc_mult; }
