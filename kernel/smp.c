/*
 * Multiprocessor support.  The kernel runs under one lock (the "big kernel
 * lock"): a CPU takes it on every entry from user mode or from its idle
 * loop and gives it back on the way out, so kernel data structures need no
 * finer locking and the model test's single-threaded rules are the rules.
 * User code runs on every CPU at once, threads of one env included.
 *
 * What must happen on other CPUs while the lock holder waits (TLB flushes,
 * leaving an address space about to be freed, reloading the I/O bitmap) is
 * a request: written into the target's struct cpu_request, announced with
 * an IPI, served by the target without the lock, in its interrupt handler
 * or while it spins for the lock (it spins with interrupts off).
 *
 * Other CPUs start through a real-mode trampoline copied to TRAMPOLINE_PA:
 * INIT, 10 ms, then two STARTUP IPIs, as the Intel and AMD manuals
 * prescribe; the INITs go to all of them early in boot (smp_send_init),
 * the STARTUPs from the timer interrupt while the first program runs, so
 * boot waits for none of it.  A CPU not up a second later is reported.
 */
#include "kernel/smp.h"
#include "include/exo/abi.h"
#include "kernel/acpi.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/env.h"
#include "kernel/percpu.h"
#include "kernel/selftest.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/vm.h"

struct percpu percpus[MAX_CPUS];
int ncpus = 1;
volatile uint32_t bkl;

/* bkl_lock found the lock taken: spin, serving requests, until it is ours. */
void bkl_lock_contended(void)
{
	do {
		while (__atomic_load_n(&bkl, __ATOMIC_RELAXED)) {
			smp_serve_request(1);
			cpu_relax();
		}
	} while (__atomic_exchange_n(&bkl, 1, __ATOMIC_ACQUIRE));
}

/* -------------------------------------------------------------- requests */

#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310

static void send_ipi(uint32_t apic_id, uint32_t icr)
{
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	for (int spins = 0; spins < 1000000 && (lapic_read(LAPIC_ICR_LO) & (1u << 12)); spins++)
		cpu_relax();		/* delivery status: wait until sent */
}

/* Drops pages pages from va (va ~0: every page) from this CPU's TLB. */
static void flush_local(uint64_t va, uint64_t pages)
{
	if (va == ~0ull) {
		write_cr3(read_cr3());
		return;
	}
	for (uint64_t i = 0; i < pages; i++)
		invlpg(va + i * PAGE_SIZE);
}

void smp_serve_request(int in_kernel)
{
	struct percpu *c = this_cpu();
	struct cpu_request *r = &c->req;

	if (!__atomic_load_n(&r->pending, __ATOMIC_ACQUIRE))
		return;
	if (r->thread) {
		/* the requester holds the lock, so the thread it saw here is
		 * still ours; its user registers are in its frame */
		if (c->cur == r->thread && r->regs)	/* none: a stop (smp_stop_thread) */
			thread_apply_regs(r->thread, r->regs, in_kernel);
		r->thread = NULL;
	} else if (r->leave) {
		if (c->loaded_env == r->env)
			env_load_address_space(NULL);
	} else if (r->va == ~0ull) {
		if (c->loaded_env == r->env)
			write_cr3(read_cr3());
		if (c->iobitmap_loaded == r->env)
			c->iobitmap_loaded = NULL;
		if (c->cur && c->cur->env == r->env && c->cur->state != T_DEAD)
			env_load_ioports(r->env);
	} else if (c->loaded_env == r->env) {
		flush_local(r->va, r->pages);
	}
	__atomic_store_n(&r->pending, 0, __ATOMIC_RELEASE);
}

/* Announces CPU c's filled-in request to it. */
static void post_request(struct percpu *c)
{
	__atomic_store_n(&c->req.pending, 1, __ATOMIC_RELEASE);
	send_ipi(c->apic_id, VEC_IPI_REQUEST);
}

/* Waits until CPU c has served its request. */
static void wait_request(struct percpu *c)
{
	while (__atomic_load_n(&c->req.pending, __ATOMIC_ACQUIRE))
		cpu_relax();
}

/* Asks every other CPU with e loaded (those in e->loaded_on; or all, for
 * the I/O bitmap) to do what the arguments say, then waits until each
 * has.  No CPU loads e meanwhile: that needs the lock we hold. */
static void request_all(struct env *e, uint64_t va, uint64_t pages, int leave, int everyone)
{
	struct percpu *me = this_cpu();
	int asked[MAX_CPUS] = { 0 };
	uint64_t which = everyone ? ~0ull : __atomic_load_n(&e->loaded_on, __ATOMIC_ACQUIRE);

	which &= ~(1ull << me->id);
	for (int i = 0; which && i < ncpus; i++) {
		struct percpu *c = &percpus[i];
		if (!((which >> i) & 1) || !c->online || (!everyone && c->loaded_env != e))
			continue;
		c->req.env = e;
		c->req.va = va;
		c->req.pages = pages;
		c->req.leave = leave;
		c->req.thread = NULL;
		post_request(c);
		asked[i] = 1;
	}
	for (int i = 0; which && i < ncpus; i++)
		if (asked[i])
			wait_request(&percpus[i]);
}

void smp_set_regs(struct thread *t, const struct exo_regs *r)
{
	struct percpu *c = &percpus[t->on_cpu];

	c->req.thread = t;
	c->req.regs = r;
	post_request(c);
	wait_request(c);
}

void smp_stop_thread(struct thread *t, int cpu)
{
	struct percpu *c = &percpus[cpu];

	if (!c->online)
		return;
	c->req.thread = t;
	c->req.regs = NULL;
	post_request(c);
	wait_request(c);
}

/* Whether a CPU other than this one may have e loaded. */
static int loaded_elsewhere(struct env *e)
{
	return (__atomic_load_n(&e->loaded_on, __ATOMIC_ACQUIRE) & ~(1ull << this_cpu()->id)) != 0;
}

void smp_flush_range(struct env *e, uint64_t va, uint64_t pages)
{
	if (pages > SMP_FLUSH_PAGES_MAX)
		va = ~0ull;	/* cheaper than that many invlpg, on every CPU */
	if (this_cpu()->loaded_env == e)
		flush_local(va, pages);
	if (loaded_elsewhere(e))
		request_all(e, va, pages, 0, 0);
}

void smp_leave(struct env *e)
{
	if (this_cpu()->loaded_env == e)
		env_load_address_space(NULL);
	if (loaded_elsewhere(e))
		request_all(e, 0, 0, 1, 0);
}

void smp_reload_ioports(struct env *e)
{
	if (ncpus > 1)
		request_all(e, ~0ull, 0, 0, 1);
}

void smp_kick(int id)
{
	if (id != this_cpu()->id && percpus[id].online)
		send_ipi(percpus[id].apic_id, VEC_IPI_RESCHED);
}

/* ------------------------------------------------------------- start-up */

#define TRAMPOLINE_PA 0x8000
#define SMP_INIT_WAIT_NS 10000000ull	/* INIT to STARTUP */
#define SMP_SIPI_GAP_NS 200000ull	/* STARTUP to the second STARTUP */
#define SMP_START_WAIT_NS 1000000000ull	/* a CPU not up by then is reported */
extern char trampoline_start[], trampoline_end[];
extern char tramp_cr3[], tramp_efer[], tramp_entry[];
void ap_entry64(void);
uint64_t ap_boot_cr3;
/* Where each starting CPU finds its struct percpu and stack, by APIC id
 * (all start at once: kernel/trampoline.S looks itself up here). */
struct percpu *ap_percpu_by_apic[256];
uint64_t ap_stack_by_apic[256];
extern char boot_pml4[];

void fpu_cpu_init(void);
void syscall_init(void);
void sched_ipi(void);
int sched_prepare_cpu(struct percpu *c);
_Noreturn void sched_run_first(void);
void lapic_init_cpu(void);
void timer_init_cpu(void);

static volatile struct exo_kinfo *smp_kinfo;
volatile int smp_checked;
static volatile uint32_t cpus_running = 1;

/* Raises the info page's count of running CPUs to ours (a CPU arriving
 * and smp_publish may race: the larger count wins). */
static void publish_running(void)
{
	volatile struct exo_kinfo *k = __atomic_load_n(&smp_kinfo, __ATOMIC_SEQ_CST);
	if (!k)
		return;
	uint32_t n = __atomic_load_n(&cpus_running, __ATOMIC_SEQ_CST);
	uint32_t old = __atomic_load_n(&k->cpus_running, __ATOMIC_SEQ_CST);
	while (old < n && !__atomic_compare_exchange_n(&k->cpus_running, &old, n, 0,
						      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

void smp_publish(volatile struct exo_kinfo *k)
{
	k->cpus_listed = apic_mode && acpi.ncpus > 1 ? (uint32_t)acpi.ncpus : 1;
	__atomic_store_n(&smp_kinfo, k, __ATOMIC_SEQ_CST);
	publish_running();
}

/* A second after STARTUP: names every CPU the MADT lists that is not
 * running, on the console (the info page counts them too). */
static void smp_check_started(void)
{
	uint32_t me = percpus[0].apic_id;
	smp_checked = 1;
	for (int i = 0; i < acpi.ncpus; i++) {
		uint32_t apic = acpi.cpu_apic_ids[i];
		int up = apic == me;
		for (int j = 1; j < ncpus && !up; j++)
			up = percpus[j].apic_id == apic && __atomic_load_n(&percpus[j].online, __ATOMIC_ACQUIRE);
		if (!up)
			klog(LOG_WARN, "smp: the cpu with apic id %u did not start; running without it\n", apic);
	}
	klog(cpus_running < (uint32_t)acpi.ncpus ? LOG_WARN : LOG_INFO, "smp: %u of %d cpu(s) running\n",
	     cpus_running, acpi.ncpus);
}

/* Where a started CPU arrives, in 64-bit mode on the kernel's page tables
 * and its own stack (kernel/trampoline.S). */
_Noreturn void ap_main(struct percpu *c)
{
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	gdt_load(c);
	idt_load();
	cpu_enable_protections();
	fpu_cpu_init();
	syscall_init();
	lapic_init_cpu();
	timer_init_cpu();
	if (cpu.rdtscp)
		wrmsr(MSR_TSC_AUX, (uint64_t)c->id);
	__atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&cpus_running, 1, __ATOMIC_SEQ_CST);
	publish_running();
	bkl_lock();
	sched_run_first();
}

static void handle_resched(struct trapframe *tf) { (void)tf; apic_eoi(); sched_ipi(); }
static void handle_request(struct trapframe *tf) { smp_serve_request((tf->cs & 3) != 3); apic_eoi(); }

static void patch(char *sym, uint64_t v, int bytes)
{
	uint8_t *p = (uint8_t *)phys_to_virt(TRAMPOLINE_PA) + (sym - trampoline_start);
	memcpy(p, &v, (size_t)bytes);
}

static uint64_t init_sent_tsc;		/* when the INITs went; 0: not yet */

static uint64_t scale_tsc_to_ns(uint64_t d)
{
	return d / tsc_hz * 1000000000u + d % tsc_hz * 1000000000u / tsc_hz;
}

/* INIT to every other CPU the MADT lists, as early as the local APIC is
 * up: each must wait 10 ms before its STARTUP, and those 10 ms then pass
 * during clock calibration and the rest of boot, for all CPUs at once.
 * (The TSC runs already; its rate is known by the time the wait ends.) */
void smp_send_init(void)
{
	if (!apic_mode || acpi.ncpus < 2)
		return;
	uint32_t me = lapic_read(LAPIC_ID) >> 24;
	for (int i = 0; i < acpi.ncpus; i++)
		if (acpi.cpu_apic_ids[i] != me)
			send_ipi(acpi.cpu_apic_ids[i], 0x4500);		/* INIT, assert */
	init_sent_tsc = rdtsc();
}

/* STARTUP to every CPU not up yet (from the timer interrupt, 10 ms after
 * INIT), and once more 200 us later, as the manuals prescribe. */
static void send_startup(void)
{
	static int sent;
	/* test=smp-missing: the last CPU gets none, as if it were broken */
	int last = selftest_mode && strcmp(selftest_mode, "smp-missing") == 0 ? ncpus - 1 : ncpus;

	for (int i = 1; i < last; i++)
		if (!__atomic_load_n(&percpus[i].online, __ATOMIC_ACQUIRE))
			send_ipi(percpus[i].apic_id, 0x4600 | (TRAMPOLINE_PA >> 12));
	if (!sent++)
		time_call_at(time_ns() + SMP_SIPI_GAP_NS, send_startup);
}

/* Makes percpus[id] ready for the CPU with APIC id apic: stack, tables,
 * idle thread, and its entry in the trampoline's lookup; 0 or -1. */
static int prepare_cpu(int id, uint32_t apic)
{
	struct percpu *c = &percpus[id];
	uintptr_t stack = apic < 256 ? kstack_alloc() : 0;

	c->self = c;
	c->id = id;
	c->apic_id = apic;
	if (!stack || gdt_prepare_ap(c) || sched_prepare_cpu(c))
		return -1;
	ap_stack_by_apic[apic] = stack;
	ap_percpu_by_apic[apic] = c;
	return 0;
}

/*
 * Starts the other CPUs without waiting for them: INIT (sent early by
 * smp_send_init), 10 ms, STARTUP, 200 us, STARTUP again to those not yet
 * up, as the Intel and AMD manuals prescribe, to all of them together;
 * the STARTUPs go from the timer interrupt (send_startup).
 * Each marks itself online when it arrives (ap_main); until then the
 * scheduler leaves it alone (it looks only at online CPUs).
 */
int smp_start_aps(void)
{
	trap_set_handler(VEC_IPI_RESCHED, handle_resched);
	trap_set_handler(VEC_IPI_REQUEST, handle_request);
	if (!apic_mode || acpi.ncpus < 2)
		return ncpus;
	uint32_t me = lapic_read(LAPIC_ID) >> 24;
	memcpy(phys_to_virt(TRAMPOLINE_PA), trampoline_start, (size_t)(trampoline_end - trampoline_start));
	patch(tramp_cr3, kernel_virt_to_phys(boot_pml4), 4);
	patch(tramp_efer, cpu.nx ? 1u << 11 : 0, 4);
	patch(tramp_entry, (uint64_t)ap_entry64, 8);
	ap_boot_cr3 = vm_kernel_pml4();
	int n = 1;
	for (int i = 0; i < acpi.ncpus && n < MAX_CPUS; i++) {
		if (acpi.cpu_apic_ids[i] == me)
			continue;
		if (prepare_cpu(n, acpi.cpu_apic_ids[i]) == 0)
			n++;
		else
			klog(LOG_WARN, "smp: no memory to start the cpu with apic id %u\n", acpi.cpu_apic_ids[i]);
	}
	ncpus = n;
	uint64_t ago = 0;		/* since the INITs went, on the clock */
	if (!init_sent_tsc) {
		for (int i = 1; i < n; i++)
			send_ipi(percpus[i].apic_id, 0x4500);
	} else {
		ago = scale_tsc_to_ns(rdtsc() - init_sent_tsc);
	}
	time_call_at(time_ns() + (ago < SMP_INIT_WAIT_NS ? SMP_INIT_WAIT_NS - ago : 0), send_startup);
	time_call_at(time_ns() + SMP_START_WAIT_NS, smp_check_started);
	return ncpus;
}
