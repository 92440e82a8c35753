/* Timer calibration, periodic tick and the TSC clock; see time.h. */
#include "kernel/time.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/acpi.h"
#include "kernel/cpu.h"
#include "kernel/rtc.h"
#include "kernel/trap.h"

#define PIT_HZ 1193182u
/* At least 5 ms of PIT ticks: the TSC is read around each PIT read, and a
 * window counts only when those brackets are within 1/625 of it, so the
 * rate is right to 0.08% plus one PIT tick (0.02%) wherever the reads
 * land; the self-test compares it with a 40 ms window */
#define CAL_PIT_TICKS 5966u
#define CAL_CHECK_TICKS 47727u
#define CAL_PIT_GIVE_UP 60000u		/* the counter starts at 0xffff */

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


/* One reading of PIT channel 2's count, with the TSC just before and
 * after it and the LAPIC timer's count. */
struct pit_sample {
	uint64_t before, after;		/* TSC around the PIT read */
	uint32_t count, lapic;		/* the LAPIC timer read just after */
};

static struct pit_sample pit_sample(void)
{
	struct pit_sample p;

	p.before = rdtsc();
	outb(0x43, 0x80);			/* latch channel 2 */
	p.count = inb(0x42);
	p.count |= (uint32_t)inb(0x42) << 8;
	p.after = rdtsc();
	p.lapic = apic_mode ? lapic_read(LAPIC_TIMER_CUR) : 0;
	return p;
}

/*
 * The TSC's and the LAPIC timer's rates (the latter after /16) against PIT
 * channel 2 (gated through port 0x61, polled, no interrupt needed), over
 * at least min_ticks PIT ticks.  Each end is a PIT read bracketed by TSC
 * reads, so where the CPU was held up (an SMI; a busy host under a
 * hypervisor) shows as a wide bracket: the window ends only at a read
 * whose bracket, with the first's, is within 1/625 of the window (taking
 * each bracket's middle, an error of at most 0.08%).
 */
static void calibrate(uint32_t min_ticks, uint64_t *tsc_rate, uint64_t *lapic_rate)
{
	uint8_t gate = (inb(0x61) & ~0x02) | 0x01;

	outb(0x61, gate);
	outb(0x43, 0xb0);			/* channel 2, lo/hi, mode 0 */
	outb(0x42, 0xff);
	outb(0x42, 0xff);
	if (apic_mode) {
		lapic_write(LAPIC_TIMER_DIV, 0x3);	/* divide by 16 */
		lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	}
	struct pit_sample first = pit_sample(), best = first, p;
	for (int i = 0; i < 8; i++) {		/* a tight first bracket */
		p = pit_sample();
		if (p.after - p.before < best.after - best.before)
			best = p;
	}
	first = best;
	int found = 0;
	for (;;) {
		struct pit_sample q = pit_sample();
		if (q.count > first.count)
			break;		/* wrapped during a long stall: keep the last */
		p = q;
		uint64_t span = p.after - first.before, slack = (p.after - p.before) + (first.after - first.before);
		if (first.count - p.count >= min_ticks && slack * 625 <= span) {
			found = 1;
			break;
		}
		if (first.count - p.count >= CAL_PIT_GIVE_UP)
			break;
	}
	if (!found)
		klog(LOG_WARN, "time: no calibration window without a delay; the clock may be off\n");
	uint64_t mid0 = first.before + (first.after - first.before) / 2;
	uint64_t mid1 = p.before + (p.after - p.before) / 2;
	uint64_t pit = first.count - p.count;
	*tsc_rate = pit ? (mid1 - mid0) * PIT_HZ / pit : 0;
	*lapic_rate = apic_mode && pit ? (uint64_t)(first.lapic - p.lapic) * PIT_HZ / pit : 0;
	outb(0x61, inb(0x61) & ~1);
}

/* The TSC rate measured over ticks PIT ticks. */
static uint64_t tsc_hz_over(uint32_t ticks_wanted)
{
	uint64_t t, l;

	calibrate(ticks_wanted, &t, &l);
	return t;
}

int64_t time_calibration_error_ppm(void)
{
	int64_t best = INT64_MAX;
	for (int i = 0; i < 3; i++) {
		int64_t quick = (int64_t)tsc_hz_over(CAL_PIT_TICKS);
		int64_t slow = (int64_t)tsc_hz_over(CAL_CHECK_TICKS);
		int64_t ppm = (quick - slow) * 1000000 / slow;
		if ((ppm < 0 ? -ppm : ppm) < (best < 0 ? -best : best))
			best = ppm;
	}
	if (timer_mode == TIMER_ONESHOT)
		lapic_write(LAPIC_TIMER_INIT, 0);	/* calibrate left it counting */
	return best;
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

/*
 * The TSC's rate as the CPU or the hypervisor states it, or 0: the
 * hypervisor leaf 0x40000010 (kHz, VMware's and KVM's), else leaf 0x15
 * (crystal Hz times the TSC/crystal ratio) when it names the crystal.
 */
static uint64_t tsc_hz_from_cpuid(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	if ((r[2] >> 31) & 1) {				/* under a hypervisor */
		cpuid(0x40000000, 0, r);
		if (r[0] >= 0x40000010) {
			cpuid(0x40000010, 0, r);
			if (r[0])
				return (uint64_t)r[0] * 1000;
		}
	}
	cpuid(0, 0, r);
	if (r[0] < 0x15)
		return 0;
	cpuid(0x15, 0, r);
	return r[0] && r[1] && r[2] ? (uint64_t)r[2] * r[1] / r[0] : 0;
}

void time_init(void)
{
	uint64_t measured = 0, lapic_rate = 0;

	/* with the rate known and TSC-deadline timers, the LAPIC timer's
	 * rate is never used: no calibration at all */
	uint64_t stated = tsc_hz_from_cpuid();
	if (!stated || !apic_mode || !cpu.tsc_deadline)
		calibrate(CAL_PIT_TICKS, &measured, &lapic_rate);
	tsc_hz = stated ? stated : measured;
	if (tsc_hz < 1000000)
		panic("time: TSC calibration failed (%lu Hz)", tsc_hz);
	tsc_mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / tsc_hz);
	tsc_base = rdtsc();

	realtime_init();
	if (apic_mode) {
		lapic_hz = lapic_rate;				/* after /16 */
		if (lapic_hz < TICK_HZ && !(stated && cpu.tsc_deadline))
			panic("time: LAPIC timer calibration failed");
		tsc_per_ns = per_ns(tsc_hz);
		lapic_per_ns = per_ns(lapic_hz);
		trap_set_handler(VEC_TIMER, tick);
		timer_mode = cpu.tsc_deadline ? TIMER_TSC_DEADLINE : TIMER_ONESHOT;
		timer_init_cpu();
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz%s%s, lapic timer %lu kHz, %s\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000, stated ? " (from cpuid)" : "",
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
