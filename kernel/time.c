/* Timer calibration, periodic tick and the TSC clock; see time.h. */
#include "kernel/time.h"
#include "include/exo/abi.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/acpi.h"
#include "kernel/cpu.h"
#include "kernel/percpu.h"
#include "kernel/rtc.h"
#include "kernel/selftest.h"
#include "kernel/string.h"
#include "kernel/trap.h"

#define PIT_HZ 1193182u
/*
 * Boot takes a quick rate over CAL_QUICK_TICKS of PIT channel 2 (0.3 ms):
 * a PIT tick is 1/358 of that and each end's bracket at most 1/1250 of it,
 * so the rate is right to 0.36%.  The counter keeps running, and the timer
 * interrupt ends longer windows from the same first read while the first
 * program runs (time_refine): CAL_PIT_TICKS (5 ms), right to 0.1% (a tick
 * 0.02%, brackets within 1/625 0.08%); then CAL_LONG_TICKS (100 ms), right
 * to 0.01% (a tick 0.001%, brackets within 1/6250 0.008%).
 */
#define CAL_QUICK_TICKS 358u
#define CAL_PIT_TICKS 5966u
#define CAL_LONG_TICKS 119318u
#define CAL_PIT_GIVE_UP 60000u		/* the counter starts at 0xffff */
#define CAL_RETRY_NS 1000000u		/* a refinement sample too wide: again in 1 ms */
#define CAL_RETRIES 100
#define CAL_UNWRAP_MAX_TICKS (4u * PIT_HZ)	/* wraps counted right to 4 s */

volatile uint64_t ticks;		/* timer interrupts taken */
uint64_t tsc_hz;
/* ns = (tsc - base) * mult >> 32.  The scale changes twice, 95 ms apart
 * (time_refine): into the other of two copies, then clock points at it,
 * so a reader on another CPU (nanoseconds long, interrupts off) sees one
 * whole pair or the other, for one extra load (user space, through kinfo,
 * uses clock_seq instead) */
struct clock_scale { uint64_t base, mult; };
static struct clock_scale scales[2];
static struct clock_scale *clock = &scales[0];
static uint64_t lapic_hz;		/* LAPIC timer counts per second (after /16) */
static uint64_t lapic_per_tsc;		/* LAPIC counts (after /16) per TSC tick, << 32 */
static uint64_t tsc_per_ns, lapic_per_ns;	/* counts per ns, << 32 */
static enum { TIMER_PIT, TIMER_ONESHOT, TIMER_TSC_DEADLINE } timer_mode;
static uint64_t realtime_base;
static volatile struct exo_kinfo *kinfo;

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

/* v * mul / div without 128-bit division (the kernel has no __udivti3):
 * exact while v * mul fits 64 bits, as for any window under minutes */
static uint64_t scale(uint64_t v, uint64_t mul, uint64_t div)
{
	if (v < UINT64_MAX / mul)
		return v * mul / div;
	return v / div * mul + v % div * mul / div;
}

static uint64_t mid(const struct pit_sample *p) { return p->before + (p->after - p->before) / 2; }

/* Whether the window from a to b is timed well enough: both brackets
 * together within 1/k of it (each end's middle off by at most 1/2k). */
static int window_tight(const struct pit_sample *a, const struct pit_sample *b, uint64_t k)
{
	uint64_t span = b->after - a->before;
	return ((b->after - b->before) + (a->after - a->before)) * k <= span;
}

/* Starts PIT channel 2 counting down from 0xffff (mode 0: it wraps and
 * goes on), gated through port 0x61, polled: no interrupt needed. */
static void pit_start(void)
{
	uint8_t gate = (inb(0x61) & ~0x02) | 0x01;

	outb(0x61, gate);
	outb(0x43, 0xb0);			/* channel 2, lo/hi, mode 0 */
	outb(0x42, 0xff);
	outb(0x42, 0xff);
}

/* The first end of a window: the tightest bracket of a few reads. */
static struct pit_sample window_open(void)
{
	struct pit_sample best = pit_sample(), p;

	for (int i = 0; i < 8; i++) {
		p = pit_sample();
		if (p.after - p.before < best.after - best.before)
			best = p;
	}
	return best;
}

/* Polls until at least min_ticks PIT ticks after first, at a read tight
 * enough (window_tight); *found says whether one was. */
static struct pit_sample window_close(const struct pit_sample *first, uint32_t min_ticks, int *found)
{
	struct pit_sample p = *first;

	*found = 0;
	for (;;) {
		struct pit_sample q = pit_sample();
		if (q.count > first->count)
			break;		/* wrapped during a long stall: keep the last */
		p = q;
		if (first->count - p.count >= min_ticks && window_tight(first, &p, 625)) {
			*found = 1;
			break;
		}
		if (first->count - p.count >= CAL_PIT_GIVE_UP)
			break;
	}
	return p;
}

/* TSC ticks per second over a window of pit PIT ticks. */
static uint64_t rate_over(const struct pit_sample *a, const struct pit_sample *b, uint64_t pit)
{
	return pit ? scale(mid(b) - mid(a), PIT_HZ, pit) : 0;
}

/* ---------------------------------------------- one-shot boot callbacks */

/* Work the kernel does once, some time after boot, from the timer
 * interrupt (the kernel lock held): the end of the calibration window,
 * the check that every CPU started.  timer_arm never arms later than the
 * earliest of them. */
static struct { uint64_t due; void (*fn)(void); } later[6];
static uint64_t later_due;		/* the earliest of them; 0: none */

static void find_later_due(void)
{
	uint64_t e = 0;
	for (unsigned i = 0; i < sizeof later / sizeof later[0]; i++)
		if (later[i].fn && (!e || later[i].due < e))
			e = later[i].due;
	later_due = e;
}

void time_call_at(uint64_t due_ns, void (*fn)(void))
{
	uint64_t flags = irq_save();	/* boot calls this with interrupts on */

	for (unsigned i = 0; i < sizeof later / sizeof later[0]; i++)
		if (!later[i].fn) {
			later[i].due = due_ns ? due_ns : 1;
			later[i].fn = fn;
			find_later_due();
			timer_arm(0);
			irq_restore(flags);
			return;
		}
	panic("time: too many calls for later");
}


static void run_later(void)
{
	uint64_t now = time_ns();
	if (!later_due || later_due > now)
		return;
	for (unsigned i = 0; i < sizeof later / sizeof later[0]; i++)
		if (later[i].fn && later[i].due <= now) {
			void (*fn)(void) = later[i].fn;
			later[i].fn = NULL;
			find_later_due();
			fn();
		}
}

/* --------------------------------------------------------- calibration */

static struct pit_sample cal_first;	/* where both windows began */
static uint64_t quick_hz;
static int cal_tries;
static volatile int calibrated;		/* the 100 ms window has set the rate */

/* hz / 1e9 as a 32.32 fixed-point number, with 64-bit divisions only */
static uint64_t per_ns(uint64_t hz)
{
	return ((hz / 1000000000u) << 32) + ((hz % 1000000000u) << 32) / 1000000000u;
}

static uint64_t ns_at(uint64_t tsc, uint64_t base, uint64_t mult)
{
	return (uint64_t)(((unsigned __int128)(tsc - base) * mult) >> 32);
}

static void publish_clock(void)
{
	if (!kinfo)
		return;
	kinfo->clock_seq++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);	/* x86 keeps stores in order */
	kinfo->tsc_hz = tsc_hz;
	kinfo->tsc_base = clock->base;
	kinfo->tsc_mult = clock->mult;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	kinfo->clock_seq++;
}

/*
 * Sets the TSC rate to hz from now on, keeping time_ns() continuous and
 * never going back: the base moves so that now reads the same on the new
 * scale.  Readers see either the old pair or the new one (clock).
 */
static void clock_set_rate(uint64_t hz)
{
	uint64_t tsc = rdtsc();
	uint64_t now = ns_at(tsc, clock->base, clock->mult);
	uint64_t mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / hz);
	uint64_t base = tsc - scale(now, hz, 1000000000u);

	for (int i = 0; i < 64 && ns_at(tsc, base, mult) < now; i++)
		base--;				/* rounding: never back */
	struct clock_scale *next = clock == &scales[0] ? &scales[1] : &scales[0];
	next->base = base;
	next->mult = mult;
	__atomic_store_n(&clock, next, __ATOMIC_RELEASE);
	tsc_hz = hz;
	if (lapic_per_tsc) {
		lapic_hz = (uint64_t)(((unsigned __int128)hz * lapic_per_tsc) >> 32);
		lapic_per_ns = per_ns(lapic_hz);
	}
	tsc_per_ns = per_ns(hz);
	publish_clock();
}

/*
 * The end of the 5 ms window, then of the 100 ms one, from the timer
 * interrupt while the first program runs.  The PIT count wraps every
 * 55 ms: the rate so far (right to 0.36%) says how many times it did, and
 * a count that disagrees with it by more than 1% (someone else programmed
 * channel 2) or a wide bracket makes it try again 1 ms later.
 */
static void time_refine(void)
{
	static int stage;
	uint64_t want = stage ? CAL_LONG_TICKS : CAL_PIT_TICKS, tight = stage ? 6250 : 625;
	struct pit_sample p = pit_sample();
	uint64_t predicted = scale(mid(&p) - mid(&cal_first), PIT_HZ, quick_hz);
	uint64_t pit = (cal_first.count - p.count) & 0xffff;

	if (predicted + 32768 >= pit)
		pit += (predicted + 32768 - pit) / 65536 * 65536;	/* the wraps */
	uint64_t diff = pit > predicted ? pit - predicted : predicted - pit;
	if (pit >= want && window_tight(&cal_first, &p, tight) && diff <= predicted / 100 + 4) {
		clock_set_rate(rate_over(&cal_first, &p, pit));
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz over %lu PIT ticks (%ld ppm from the last rate)\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000, pit,
		     (long)(((int64_t)tsc_hz - (int64_t)quick_hz) * 1000000 / (int64_t)quick_hz));
		quick_hz = tsc_hz;
		cal_tries = 0;
		if (!stage++) {
			uint64_t left = pit < CAL_LONG_TICKS ? CAL_LONG_TICKS - pit : 0;
			time_call_at(time_ns() + left * 1000000000ull / PIT_HZ, time_refine);
			return;
		}
	} else if (++cal_tries < CAL_RETRIES) {
		time_call_at(time_ns() + CAL_RETRY_NS, time_refine);
		return;
	} else {
		klog(LOG_WARN, "time: no %lu ms calibration window without a delay; the clock keeps the last rate\n",
		     want * 1000 / PIT_HZ);
	}
	outb(0x61, inb(0x61) & ~1);
	__atomic_store_n(&calibrated, 1, __ATOMIC_RELEASE);
}

int time_calibrated(void) { return __atomic_load_n(&calibrated, __ATOMIC_ACQUIRE); }

/*
 * The quick rates at boot: the TSC's against the PIT over CAL_QUICK_TICKS,
 * and the LAPIC timer's (after /16) against the TSC over the same window
 * (both fine-grained, so the ratio is exact to a few ns; it holds when
 * the refinement corrects the TSC's rate).
 */
int time_sleep_check(uint64_t ns, struct sleep_check *r)
{
	if (!time_calibrated())
		return -1;
	pit_start();
	struct pit_sample a = window_open();
	uint64_t start = ns_at(mid(&a), clock->base, clock->mult), deadline = start + ns, now;

	r->first_wake = 0;
	while ((now = time_ns()) < deadline) {
		uint64_t k = ticks;
		timer_arm(deadline);
		while (ticks == k)
			cpu_idle();
		if (!r->first_wake)
			r->first_wake = time_ns() - start;
	}
	struct pit_sample b = pit_sample();
	outb(0x61, inb(0x61) & ~1);
	r->by_clock = ns_at(mid(&b), clock->base, clock->mult) - start;
	r->by_pit = (uint64_t)((a.count - b.count) & 0xffff) * 1000000000u / PIT_HZ;
	r->bracket = ns_at(b.after - b.before + a.after - a.before, 0, clock->mult);
	return window_tight(&a, &b, 625) && r->by_clock < 50000000u ? 0 : -1;
}

void sched_tick(void);

static void tick(struct trapframe *tf)
{
	(void)tf;
	this_cpu()->timer_due_ns = 0;
	__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
	irq_eoi(0);
	run_later();
	sched_tick();
}

uint64_t time_ns(void)
{
	const struct clock_scale *c = __atomic_load_n(&clock, __ATOMIC_ACQUIRE);
	return ns_at(rdtsc(), c->base, c->mult);
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
	if (later_due && (!deadline_ns || later_due < deadline_ns))
		deadline_ns = later_due;
	this_cpu()->timer_due_ns = deadline_ns;
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

uint64_t time_realtime_base(void) { return realtime_base; }

void time_publish(volatile struct exo_kinfo *k)
{
	kinfo = k;
	k->realtime_base_ns = realtime_base;
	publish_clock();
}

void time_set_realtime(uint64_t now_ns)
{
	realtime_base = now_ns - time_ns();
	if (kinfo)
		kinfo->realtime_base_ns = realtime_base;
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

static uint64_t stated_hz;		/* the rate CPUID states, or 0 */
static int cal_open;			/* time_calibration_start opened the window */

/* Starts PIT channel 2 and the LAPIC timer and takes the window's first read. */
static void window_start(void)
{
	pit_start();
	if (apic_mode) {
		lapic_write(LAPIC_TIMER_DIV, 0x3);	/* divide by 16 */
		lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	}
	cal_first = window_open();
}

/*
 * The PIT ticks from a to b, whose counts differ by raw: the 16-bit count
 * may have wrapped any number of times unseen in between (boot work or a
 * host stall longer than its 55 ms period; a count found above a's only
 * shows one of them).  A short window polled now gives the rate to
 * 0.5 %, enough to count the wraps of a window up to CAL_UNWRAP_MAX_TICKS;
 * the long window's rate must then agree with it within 2 %, else *found
 * is cleared (a stall inside the short window too).
 */
static uint64_t unwrap(const struct pit_sample *a, const struct pit_sample *b, uint64_t raw, int *found)
{
	int ok;
	struct pit_sample c = window_open();
	struct pit_sample d = window_close(&c, CAL_QUICK_TICKS, &ok);
	uint64_t local = ok ? rate_over(&c, &d, c.count - d.count) : 0;

	if (!local) {
		*found = 0;
		return raw;
	}
	uint64_t est = scale(mid(b) - mid(a), PIT_HZ, local), pit = raw;
	if (est + 32768 >= raw)
		pit += (est + 32768 - raw) / 65536 * 65536;
	uint64_t hz = rate_over(a, b, pit), diff = hz > local ? hz - local : local - hz;
	if (est > CAL_UNWRAP_MAX_TICKS || diff > local / 50)
		*found = 0;
	return pit;
}

/* Ends the window begun at cal_first at the first read at least
 * CAL_QUICK_TICKS on that is timed tightly; *found says whether one was
 * (not after a stall that wrapped the count above its first read, nor one
 * unwrap cannot count).  Returns the TSC's rate. */
static uint64_t window_end(int *found)
{
	struct pit_sample p = window_close(&cal_first, CAL_QUICK_TICKS, found);

	if (apic_mode && p.after > cal_first.after)
		lapic_per_tsc = scale(cal_first.lapic - p.lapic, 1ull << 32, p.after - cal_first.after);
	if (apic_mode)
		lapic_write(LAPIC_TIMER_INIT, 0);
	uint64_t pit = cal_first.count - p.count;
	if (*found)
		pit = unwrap(&cal_first, &p, pit, found);
	return rate_over(&cal_first, &p, pit);
}

void time_calibration_start(void)
{
	/* with the rate known and TSC-deadline timers, the LAPIC timer's
	 * rate is never used: no calibration at all */
	stated_hz = tsc_hz_from_cpuid();
	if (stated_hz && apic_mode && cpu.tsc_deadline)
		return;
	window_start();
	cal_open = 1;
}

/* The quick rates: the window opened by time_calibration_start ran beside
 * boot work; one that cannot be closed well is taken again, waited for. */
static uint64_t calibrate_quick(void)
{
	int found;
	uint64_t hz = window_end(&found);

	if (found)
		return hz;
	window_start();
	hz = window_end(&found);
	if (!found)
		klog(LOG_WARN, "time: no calibration window without a delay; the clock may be off\n");
	return hz;
}

/* test=clock-stall: the calibration window is made to last over three
 * PIT periods, the count wrapping unseen, as boot work longer than 55 ms
 * or a host that stops the CPU makes it (tests/suites/20-boot.sh). */
static void stall_window(void)
{
	uint32_t last = pit_sample().count;

	for (int wraps = 0; wraps < 3;) {
		uint32_t c = pit_sample().count;
		wraps += c > last;
		last = c;
	}
}

void time_init(void)
{
	uint64_t stated = stated_hz;
	if (!cal_open)
		time_calibration_start();
	if (cal_open && selftest_mode && strcmp(selftest_mode, "clock-stall") == 0)
		stall_window();
	if (cal_open)
		quick_hz = calibrate_quick();
	tsc_hz = stated ? stated : quick_hz;
	if (tsc_hz < 1000000)
		panic("time: TSC calibration failed (%lu Hz)", tsc_hz);
	clock->mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / tsc_hz);
	clock->base = rdtsc();
	tsc_per_ns = per_ns(tsc_hz);
	if (lapic_per_tsc) {
		lapic_hz = (uint64_t)(((unsigned __int128)tsc_hz * lapic_per_tsc) >> 32);
		lapic_per_ns = per_ns(lapic_hz);
	}

	realtime_init();
	if (apic_mode) {
		if (lapic_hz < TICK_HZ && !(stated && cpu.tsc_deadline))
			panic("time: LAPIC timer calibration failed");
		trap_set_handler(VEC_TIMER, tick);
		timer_mode = cpu.tsc_deadline ? TIMER_TSC_DEADLINE : TIMER_ONESHOT;
		timer_init_cpu();
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz%s%s, lapic timer %lu kHz, %s\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000, stated ? " (from cpuid)" : " (quick)",
		     cpu.invariant_tsc ? " (invariant)" : "", lapic_hz * 16 / 1000, timer_mode_name());
	} else {
		uint32_t div = PIT_HZ / TICK_HZ;
		trap_set_handler(IRQ_BASE + 0, tick);
		outb(0x43, 0x34);		/* channel 0, lo/hi, rate generator */
		outb(0x40, div & 0xff);
		outb(0x40, div >> 8);
		irq_route(0, IRQ_BASE + 0);
		klog(LOG_INFO, "time: tsc %lu.%03lu MHz%s, pit tick %d Hz\n",
		     tsc_hz / 1000000, tsc_hz / 1000 % 1000, stated ? " (from cpuid)" : " (quick)", TICK_HZ);
	}
	if (stated)
		calibrated = 1;
	else	/* the rest of the window runs beside the first program */
		time_call_at(time_ns() + CAL_PIT_TICKS * 1000000000ull / PIT_HZ, time_refine);
}

