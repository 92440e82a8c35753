/* Timer calibration, periodic tick and the TSC clock; see time.h. */
#include "kernel/time.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/acpi.h"
#include "kernel/cpu.h"
#include "kernel/rtc.h"
#include "kernel/trap.h"

#define PIT_HZ 1193182u
#define CAL_PIT_COUNT 23864u		/* 20 ms */

volatile uint64_t ticks;		/* timer interrupts taken */
uint64_t tsc_hz;
static uint64_t tsc_base, tsc_mult;	/* ns = (tsc - base) * mult >> 32 */
static uint64_t lapic_hz;		/* LAPIC timer counts per second (after /16) */
static uint64_t tsc_per_ns, lapic_per_ns;	/* counts per ns, << 32 */
static enum { TIMER_PIT, TIMER_ONESHOT, TIMER_TSC_DEADLINE } timer_mode;
static uint64_t realtime_base;
static volatile uint64_t *realtime_published;

#define MSR_TSC_DEADLINE 0x6e0
#define LVT_ONESHOT 0
#define LVT_TSC_DEADLINE (2u << 17)


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
	__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
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

void timer_init_cpu(void)
{
	if (timer_mode == TIMER_PIT)
		return;
	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, VEC_TIMER |
		    (timer_mode == TIMER_TSC_DEADLINE ? LVT_TSC_DEADLINE : LVT_ONESHOT));
}

const char *timer_mode_name(void)
{
	return timer_mode == TIMER_TSC_DEADLINE ? "tsc-deadline" :
	       timer_mode == TIMER_ONESHOT ? "lapic one-shot" : "pit periodic";
}

void timer_arm(uint64_t deadline_ns)
{
	if (timer_mode == TIMER_PIT)
		return;
	if (!deadline_ns) {
		if (timer_mode == TIMER_TSC_DEADLINE)
			wrmsr(MSR_TSC_DEADLINE, 0);
		else
			lapic_write(LAPIC_TIMER_INIT, 0);
		return;
	}
	uint64_t now = time_ns(), delta = deadline_ns > now ? deadline_ns - now : 0;
	if (timer_mode == TIMER_TSC_DEADLINE) {
		uint64_t cycles = (uint64_t)(((unsigned __int128)delta * tsc_per_ns) >> 32);
		wrmsr(MSR_TSC_DEADLINE, rdtsc() + (cycles ? cycles : 1));
		return;
	}
	unsigned __int128 counts = ((unsigned __int128)delta * lapic_per_ns) >> 32;
	/* too far for the 32-bit counter: fire at its end and re-arm then */
	lapic_write(LAPIC_TIMER_INIT, counts > 0xffffffffu ? 0xffffffffu : counts ? (uint32_t)counts : 1);
}

/* hz / 1e9 as a 32.32 fixed-point number, with 64-bit divisions only */
static uint64_t per_ns(uint64_t hz)
{
	return ((hz / 1000000000u) << 32) + ((hz % 1000000000u) << 32) / 1000000000u;
}

uint64_t time_realtime_base(void) { return realtime_base; }

void time_publish_realtime(volatile uint64_t *kinfo_slot)
{
	realtime_published = kinfo_slot;
	*kinfo_slot = realtime_base;
}

void time_set_realtime(uint64_t now_ns)
{
	realtime_base = now_ns - time_ns();
	if (realtime_published)
		*realtime_published = realtime_base;
}

/* CLOCK_REALTIME from the CMOS clock, as its base at time_ns() == 0. */
static void realtime_init(void)
{
	int64_t secs = rtc_read_unix(acpi.rtc_century);
	if (secs < 0) {
		klog(LOG_WARN, "time: the CMOS clock reads garbage; CLOCK_REALTIME starts at 1970\n");
		return;
	}
	realtime_base = (uint64_t)secs * 1000000000u - time_ns();
	klog(LOG_INFO, "time: CMOS clock says %ld s since 1970 (UTC)\n", (long)secs);
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

	realtime_init();
	if (apic_mode) {
		lapic_hz = (uint64_t)dl * PIT_HZ / CAL_PIT_COUNT;	/* after /16 */
		if (lapic_hz < TICK_HZ)
			panic("time: LAPIC timer calibration failed");
		tsc_per_ns = per_ns(tsc_hz);
		lapic_per_ns = per_ns(lapic_hz);
		trap_set_handler(VEC_TIMER, tick);
		timer_mode = cpu.tsc_deadline ? TIMER_TSC_DEADLINE : TIMER_ONESHOT;
		timer_init_cpu();
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz%s, lapic timer %lu kHz, %s\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000,
		     cpu.invariant_tsc ? " (invariant)" : "", lapic_hz * 16 / 1000, timer_mode_name());
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
