/*
 * Threads and scheduling: round robin on every CPU, preempted by the timer
 * when they run in user mode (the kernel itself runs with interrupts off,
 * under the kernel lock).  Each CPU has a queue of the threads waiting for
 * it (running threads are on none).  A thread made runnable goes to an idle
 * CPU it may run on (which an IPI wakes), else back to the CPU it last ran
 * on, else to the allowed CPU with the shortest queue; a CPU whose queue is
 * empty takes a thread from the longest queue it may (work stealing), and
 * a thread that waits behind a running one wakes an idle CPU to take it.  A
 * thread's affinity (a mask of CPUs) bounds all of this.  Switches go
 * directly from one thread to the next; with nothing to run, a CPU's idle
 * thread halts it.  FPU/SSE/AVX
 * state is saved with XSAVE (FXSAVE where there is none), and the FS and
 * GS bases per thread.
 * Notifications are words of bits: signal ORs bits in and wakes the first
 * waiter; wait takes them all, or blocks until a signal or a deadline.
 */
#include "kernel/env.h"
#include "include/exo/abi.h"
#include "kernel/apic.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "drivers/ps2kbd.h"
#include "kernel/cpu.h"
#include "kernel/futex.h"
#include "kernel/heap.h"
#include "kernel/percpu.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vm.h"

static struct thread *sleepers;		/* by deadline, through sleep_next */
static struct thread *reap;		/* dead, waiting to be freed */
static uint64_t idle_cpus;		/* the CPUs running their idle thread */
static uint64_t next_thread_id = 1;
static uint32_t xsave_size;
static uint64_t xcr0;

#define idle_thread (this_cpu()->idle)
#define slice_end_ns (this_cpu()->slice_end_ns)

void swtch(uint64_t *old_ksp, uint64_t new_ksp);
void tss_set_rsp0(uint64_t rsp0);
void tss_set_iobitmap(int enabled);
extern char new_thread_entry[];

#define SLICE_NS 20000000ull	/* 20 ms */
#define MSR_FS_BASE 0xc0000100

/* FPU, SSE and AVX for user threads on this CPU; the kernel itself never
 * uses them. */
void fpu_cpu_init(void)
{
	uint32_t r[4];

	write_cr0((read_cr0() & ~((1ull << 2) | (1ull << 3))) | (1ull << 1));	/* !EM !TS MP */
	uint64_t cr4 = read_cr4() | (1ull << 9) | (1ull << 10);			/* OSFXSR OSXMMEXCPT */
	if (cpu.fsgsbase)
		cr4 |= CR4_FSGSBASE;
	if (cpu.xsave)
		cr4 |= 1ull << 18;						/* OSXSAVE */
	write_cr4(cr4);
	if (cpu.xsave) {
		cpuid(1, 0, r);
		xcr0 = 3 | (((r[2] >> 28) & 1) ? 4 : 0);		/* x87, SSE, AVX */
		__asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)xcr0), "d"((uint32_t)(xcr0 >> 32)));
		cpuid(0xd, 0, r);
		if (!xsave_size)
			xsave_size = r[1];
	} else {
		xsave_size = 512;
	}
	if (xsave_size > PAGE_SIZE)
		panic("sched: XSAVE area of %u bytes does not fit a page", xsave_size);
}

static void fpu_save(uint8_t *area)
{
	fpu_save_area(area, cpu.xsave ? xcr0 : 0);
}

static void fpu_restore(const uint8_t *area)
{
	fpu_load_area(area, cpu.xsave ? xcr0 : 0);
}

/* Appends t to CPU c's queue. */
static inline __attribute__((always_inline)) void runq_add(struct percpu *c, struct thread *t)
{
	t->queue_cpu = c->id;
	c->nrun++;
	c->runq_aff |= t->affinity;
	if (!c->runq) {
		c->runq = t->run_next = t->run_prev = t;
		return;
	}
	t->run_next = c->runq;
	t->run_prev = c->runq->run_prev;
	c->runq->run_prev->run_next = t;
	c->runq->run_prev = t;
}

/* c->runq_aff exactly, from c's queue (short: the threads waiting for
 * one CPU).  Kept a superset on the switch path (a thread leaving a queue
 * others still wait on leaves its bits), made exact by an idle CPU that
 * woke for it and found nothing to take: else that CPU would take the
 * lock over and over for nothing (idle_loop). */
static void runq_aff_recount(struct percpu *c)
{
	uint64_t aff = 0;
	struct thread *t = c->runq;
	for (int i = 0; t && i < c->nrun; i++, t = t->run_next)
		aff |= t->affinity;
	c->runq_aff = aff;
}

/* Takes t off the queue it waits on. */
static inline __attribute__((always_inline)) void runq_remove(struct thread *t)
{
	struct percpu *c = &percpus[t->queue_cpu];

	if (t->run_next == t) {
		c->runq = NULL;
		c->runq_aff = 0;
	} else {
		t->run_prev->run_next = t->run_next;
		t->run_next->run_prev = t->run_prev;
		if (c->runq == t)
			c->runq = t->run_next;
	}
	c->nrun--;
	t->run_next = t->run_prev = NULL;
	t->queue_cpu = -1;
}

static int allowed(const struct thread *t, int cpu)
{
	return (t->affinity >> cpu) & 1;
}

/* The first thread on CPU from's queue that may run on cpu, or NULL. */
static struct thread *first_allowed(struct percpu *from, int cpu)
{
	struct thread *t = from->runq;
	for (int i = 0; t && i < from->nrun; i++, t = t->run_next)
		if (allowed(t, cpu))
			return t;
	return NULL;
}

/* A thread for CPU me, whose queue is empty, from the longest queue that
 * has one allowed there; NULL when none. */
static __attribute__((noinline)) struct thread *steal(struct percpu *me)
{
	struct thread *best = NULL;
	int most = 0;
	for (int i = 0; i < ncpus; i++) {
		if (&percpus[i] == me || percpus[i].nrun <= most)
			continue;
		struct thread *t = first_allowed(&percpus[i], me->id);
		if (t) {
			best = t;
			most = percpus[i].nrun;
		}
	}
	return best;
}

/* What this CPU runs next: the head of its queue, else a stolen thread.
 * Inline: every switch asks. */
static inline struct thread *pick_next(void)
{
	struct percpu *me = this_cpu();
	return me->runq ? me->runq : steal(me);
}

static void sleepers_remove(struct thread *t)
{
	for (struct thread **pp = &sleepers; *pp; pp = &(*pp)->sleep_next)
		if (*pp == t) {
			*pp = t->sleep_next;
			break;
		}
	t->sleep_next = NULL;
}

static void waiters_remove(struct notify *n, struct thread *t)
{
	for (struct thread **pp = &n->waiters; *pp; pp = &(*pp)->wait_next)
		if (*pp == t) {
			*pp = t->wait_next;
			break;
		}
	t->wait_next = NULL;
}

/*
 * Arms the timer for the next thing due while running: the earliest
 * sleeper's deadline, and the end of running's slice when another thread
 * waits for the CPU.  With nothing due the timer stays off and an idle CPU
 * stays halted.
 */
static inline __attribute__((always_inline)) void rearm(struct thread *running)
{
	struct percpu *c = this_cpu();

	/* every CPU arms for the earliest sleeper (whichever takes the lock
	 * first wakes it), and for its own slice */
	uint64_t next = sleepers ? sleepers->deadline_ns : 0;
	if (running != &c->idle && c->runq && (!next || slice_end_ns < next))
		next = slice_end_ns;
	/* A timer already due by then stays armed: it fires early and the
	 * tick arms it again (at most once per deadline).  So does one due
	 * while nothing is, except on an idle CPU, which stays halted. */
	uint64_t due = c->timer_due_ns;
	if (due && (next ? due <= next : running != &c->idle))
		return;
	timer_arm(next);
}

/* t has just been queued on c, behind a thread that runs there: wakes an
 * idle CPU with nothing queued that t may run on, which steals it
 * (work_here, steal).  A halted CPU looks at the other queues only when
 * something wakes it, so without this a thread could wait its turn on a
 * busy CPU while another CPU it may use stays halted. */
static inline __attribute__((always_inline)) void call_thief(struct percpu *c, struct thread *t)
{
	for (uint64_t idle = idle_cpus & t->affinity & ~(1ull << c->id); idle; idle &= idle - 1) {
		int i = __builtin_ctzll(idle);
		if (percpus[i].online && !percpus[i].nrun) {
			smp_kick(i);
			return;
		}
	}
}

/* Queues t where it will run soonest (see the top of this file) and wakes
 * that CPU if it idles. */
static void make_runnable(struct thread *t)
{
	struct percpu *target = NULL;

	t->state = T_RUNNABLE;
	for (uint64_t idle = idle_cpus & t->affinity; idle && !target; idle &= idle - 1) {
		int i = __builtin_ctzll(idle);
		if (percpus[i].online && !percpus[i].nrun)
			target = &percpus[i];
	}
	if (!target && t->last_cpu >= 0 && allowed(t, t->last_cpu))
		target = &percpus[t->last_cpu];
	for (int i = 0; i < ncpus && !target; i++)
		if (percpus[i].online && allowed(t, i) &&
		    (!target || percpus[i].nrun < target->nrun))
			target = &percpus[i];
	if (!target)
		target = this_cpu();	/* affinity names no CPU that runs: wait here */
	runq_add(target, t);
	if (target != this_cpu())
		smp_kick(target->id);
	else if (current)
		rearm(current);		/* current may have competition now */
}

void thread_wake(struct thread *t, uint64_t r)
{
	if (t->waiting_on)
		waiters_remove(t->waiting_on, t);
	if (t->futex_waiting)
		futex_dequeue(t);
	if (t->deadline_ns)
		sleepers_remove(t);
	t->waiting_on = NULL;
	t->deadline_ns = 0;
	t->wait_result = r;
	make_runnable(t);
}

/* A dead thread's kernel stack and XSAVE area go back at once; only the
 * small struct waits for the last cap naming the thread. */
static void thread_free_stack(struct thread *t)
{
	if (t->kstack_top)
		kstack_free(t->kstack_top);
	if (t->xsave)
		frame_free(&kframes, virt_to_phys(t->xsave));
	t->kstack_top = 0;
	t->xsave = NULL;
	t->tf = NULL;
}

static void thread_free(struct thread *t)
{
	thread_free_stack(t);
	kfree(t);
}

void thread_put(struct thread *t)
{
	if (--t->refs > 0)
		return;
	if (t->on_cpu >= 0)		/* freed after its CPU switches away */
		return;
	thread_free(t);
}

void sched_reap_dead(void)
{
	while (reap) {
		struct thread *t = reap;
		reap = t->run_next;
		t->run_next = NULL;
		if (t->refs > 1)
			thread_free_stack(t);
		thread_put(t);		/* the thread's own reference */
	}
}

/* e's I/O ports on CPU c (kernel/env.c's env_load_ioports), with the
 * cases of nearly every switch done here without a call: e has no ports
 * (the TSS's bitmap goes off, as tss_set_iobitmap(0) does), or the TSS
 * holds e's bitmap already. */
static inline void load_ports(struct percpu *c, struct env *e)
{
	if (!e->iobitmap)
		c->tss_io.tss.iomap_base = 0xffff;
	else if (c->iobitmap_loaded == e)
		c->tss_io.tss.iomap_base = sizeof(struct tss);
	else
		env_load_ioports(e);
}

static void switch_to(struct thread *next)
{
	struct thread *prev = current;
	struct percpu *c = this_cpu();

	if (prev == next)
		return;
	if (prev->env && prev->state != T_DEAD) {
		fpu_save(prev->xsave);
		/* with FSGSBASE the user may set either base itself; the
		 * user's GS base waits in KERNEL_GS_BASE while we run */
		prev->fsbase = rdmsr(MSR_FS_BASE);
		prev->gsbase = rdmsr(MSR_KERNEL_GS_BASE);
	}
	if (prev->state == T_DEAD && prev != &c->idle) {
		prev->run_next = reap;
		reap = prev;
	}
	prev->on_cpu = -1;
	next->on_cpu = c->id;
	next->last_cpu = c->id;
	current = next;
	if (next->env) {
		tss_set_rsp0(next->kstack_top);
		c->kstack_top = next->kstack_top;
		if (c->loaded_env != next->env)
			env_load_address_space(next->env);
		load_ports(c, next->env);
		fpu_restore(next->xsave);
		wrmsr(MSR_FS_BASE, next->fsbase);
		wrmsr(MSR_KERNEL_GS_BASE, next->gsbase);
	} else if (c->loaded_env) {
		env_load_address_space(NULL);	/* idle: keep no env's TLB entries */
	}
	if (next == &c->idle)
		idle_cpus |= 1ull << c->id;
	else if (prev == &c->idle)
		idle_cpus &= ~(1ull << c->id);
	swtch(&prev->ksp, next->ksp);
	if (reap)
		sched_reap_dead();
}

void schedule(void)
{
	struct thread *prev = current;
	struct percpu *c = this_cpu();

	need_resched = 0;
	slice_end_ns = time_ns() + SLICE_NS;
	int stay = prev->state == T_RUNNABLE && prev != &idle_thread && allowed(prev, c->id);
	struct thread *next = pick_next();
	if (stay && !next) {
		rearm(prev);				/* alone: keep running */
		return;
	}
	if (prev->state == T_RUNNABLE && prev != &idle_thread) {
		if (stay) {
			runq_add(c, prev);		/* its turn is over: last */
			call_thief(c, prev);
		} else
			make_runnable(prev);		/* its affinity moved it */
	}
	if (!next)
		next = &idle_thread;
	else
		runq_remove(next);
	rearm(next);
	switch_to(next);
}

/* Whether this CPU has anything to run (read without the lock, as a hint). */
static int work_here(void)
{
	struct percpu *me = this_cpu();
	if (me->runq)
		return 1;
	/* a thread waiting on another CPU's queue that may run here:
	 * steal() takes it (runq_aff may say so wrongly only until this
	 * CPU has looked once: idle_loop) */
	for (int i = 0; i < ncpus; i++)
		if (&percpus[i] != me && percpus[i].nrun && ((percpus[i].runq_aff >> me->id) & 1))
			return 1;
	return 0;
}

/* The idle thread: halts until an interrupt brings work; it alone runs
 * without the kernel lock while it waits. */
static void idle_loop(void)
{
	for (;;) {
		bkl_unlock();
		/* check with interrupts off, then sti; hlt as one: a wake-up
		 * arriving after the check is held until the hlt and ends it
		 * (checked with interrupts on, it could run between the check
		 * and the hlt, and the CPU would sleep on queued work until
		 * some later interrupt: with no periodic tick, for good) */
		for (;;) {
			irq_disable();
			if (work_here())
				break;
			cpu_idle();		/* sti; hlt */
		}
		bkl_lock();
		if (pick_next()) {
			schedule();
		} else {
			/* woken for a queue whose mask said so wrongly: make
			 * every mask exact, or work_here says so again */
			for (int i = 0; i < ncpus; i++)
				runq_aff_recount(&percpus[i]);
		}
	}
}

void sched_yield_to(struct thread *t)
{
	struct percpu *c = this_cpu();

	if (t->state != T_RUNNABLE || t == current || t->on_cpu >= 0 || !allowed(t, c->id))
		return;		/* running already, or not allowed here: nothing to hand over */
	runq_remove(t);
	if (current->state == T_RUNNABLE && current != &idle_thread) {
		/* current goes first in line after t */
		runq_add(c, current);
		c->runq = current;
		call_thief(c, current);
	}
	slice_end_ns = time_ns() + SLICE_NS;
	rearm(t);
	switch_to(t);
}

/* A reschedule IPI: another CPU made a thread runnable or killed ours. */
void sched_ipi(void)
{
	need_resched = 1;
	rearm(current);
}

void sched_tick(void)
{
	uint64_t now = time_ns();

	while (sleepers && sleepers->deadline_ns <= now)
		thread_wake(sleepers, (uint64_t)-EXO_ETIMEDOUT);
	if (now >= slice_end_ns && current != &idle_thread)
		need_resched = 1;
	if (current == &idle_thread && pick_next())
		need_resched = 1;
	rearm(current);
}

uint64_t deadline_after(uint64_t timeout_ns)
{
	if (timeout_ns == UINT64_MAX)
		return 0;		/* forever: no need to read the clock */
	uint64_t now = time_ns();
	return timeout_ns >= UINT64_MAX - now ? 0 : now + timeout_ns;
}

void thread_block(struct notify *n, uint64_t deadline_ns)
{
	struct thread *t = current;

	t->state = T_BLOCKED;		/* running: it is on no run queue */
	t->waiting_on = n;
	t->deadline_ns = deadline_ns;
	if (n) {
		struct thread **pp = &n->waiters;
		while (*pp)
			pp = &(*pp)->wait_next;
		*pp = t;
	}
	if (deadline_ns) {
		struct thread **pp = &sleepers;
		while (*pp && (*pp)->deadline_ns <= deadline_ns)
			pp = &(*pp)->sleep_next;
		t->sleep_next = *pp;
		*pp = t;
	}
	schedule();
}

struct thread *thread_create(struct env *e, int *err)
{
	/* struct, xsave page and the kernel stack come out of the quota */
	uint64_t cost = 2 + KSTACK_SIZE / PAGE_SIZE;
	if (e->state == ENV_DEAD) {
		*err = -EXO_ESRCH;
		return NULL;
	}
	if (env_charge(e, cost)) {
		*err = -EXO_ENOMEM;
		return NULL;
	}
	struct thread *t = kzalloc(sizeof *t);
	uint64_t xs = page_alloc_zeroed();
	uintptr_t top = kstack_alloc();
	if (!t || !xs || !top) {
		kfree(t);
		if (xs)
			frame_free(&kframes, xs);
		if (top)
			kstack_free(top);
		env_uncharge(e, cost);
		*err = -EXO_ENOMEM;
		return NULL;
	}
	t->id = next_thread_id++;
	t->env = e;
	t->state = T_NEW;
	t->on_cpu = -1;
	t->queue_cpu = -1;
	t->last_cpu = -1;
	t->affinity = ~0ull;
	t->refs = 1;
	t->xsave = phys_to_virt(xs);
	*(uint32_t *)(t->xsave + 24) = 0x1f80;		/* MXCSR: exceptions masked */
	*(uint16_t *)(t->xsave + 0) = 0x37f;		/* FCW */
	t->kstack_top = top;
	t->tf = (struct trapframe *)(top - sizeof(struct trapframe));
	*t->tf = (struct trapframe){ .cs = 0x2b, .ss = 0x23, .rflags = 0x202 };
	/* swtch pops six registers, then returns into new_thread_entry */
	uint64_t *sp = (uint64_t *)t->tf;
	*--sp = (uint64_t)new_thread_entry;
	for (int i = 0; i < 6; i++)
		*--sp = 0;
	t->ksp = (uint64_t)sp;
	t->env_next = e->threads;
	e->threads = t;
	e->nthreads_alive++;
	return t;
}

/* Only the arithmetic and direction flags are the user's to choose; IF is
 * always set, IOPL always 0. */
static uint64_t user_rflags(uint64_t f)
{
	return (f & 0xcd5) | 0x202;
}

void thread_apply_regs(struct thread *t, const struct exo_regs *r, int in_entry)
{
	struct trapframe *u = t->tf;

	u->rax = r->rax; u->rbx = r->rbx; u->rcx = r->rcx; u->rdx = r->rdx;
	u->rsi = r->rsi; u->rdi = r->rdi; u->rbp = r->rbp; u->rsp = r->rsp;
	u->r8 = r->r8; u->r9 = r->r9; u->r10 = r->r10; u->r11 = r->r11;
	u->r12 = r->r12; u->r13 = r->r13; u->r14 = r->r14; u->r15 = r->r15;
	u->rip = r->rip;
	u->rflags = user_rflags(r->rflags);
	t->fsbase = r->fsbase;
	if (t->on_cpu == this_cpu()->id)
		wrmsr(MSR_FS_BASE, r->fsbase);	/* live in the MSR while it runs */
	t->full_restore = 1;
	if (in_entry)
		t->regs_replaced = 1;
}

void thread_start(struct thread *t)
{
	if (t->state == T_NEW)
		make_runnable(t);
}

void thread_kill(struct thread *t)
{
	if (t->state == T_DEAD)
		return;
	if (t->state == T_BLOCKED) {
		if (t->waiting_on)
			waiters_remove(t->waiting_on, t);
		if (t->futex_waiting)
			futex_dequeue(t);
		if (t->deadline_ns)
			sleepers_remove(t);
		t->waiting_on = NULL;
	} else if (t->state == T_RUNNABLE && t->on_cpu < 0) {
		runq_remove(t);
	}
	int running = t->on_cpu;
	t->state = T_DEAD;
	if (running < 0) {		/* not on a CPU: no stack in use */
		t->run_next = reap;
		reap = t;
	} else if (running != this_cpu()->id) {
		smp_kick(running);	/* it leaves at its next kernel entry */
	} else {
		need_resched = 1;
	}
	t->env->nthreads_alive--;
}

void thread_end(struct thread *t)
{
	struct env *e = t->env;

	thread_kill(t);
	for (struct thread **pp = &e->threads; *pp; pp = &(*pp)->env_next)
		if (*pp == t) {
			*pp = t->env_next;
			break;
		}
	t->env_next = NULL;
	env_uncharge(e, 1 + KSTACK_SIZE / PAGE_SIZE);	/* its stack and XSAVE page */
}

/* This CPU's idle thread, on a stack of its own; 0 or -1. */
int sched_prepare_cpu(struct percpu *c)
{
	uintptr_t top = kstack_alloc();
	if (!top)
		return -1;
	uint64_t *sp = (uint64_t *)top;
	*--sp = 0;
	*--sp = (uint64_t)idle_loop;
	for (int i = 0; i < 6; i++)
		*--sp = 0;
	c->idle.ksp = (uint64_t)sp;
	c->idle.state = T_RUNNABLE;
	c->idle.refs = 1 << 30;		/* never freed */
	c->idle.on_cpu = -1;
	return 0;
}

void sched_init(void)
{
	fpu_cpu_init();
	if (sched_prepare_cpu(&percpus[0]))
		panic("sched: no memory for the idle stack");
}

/* Leaves the boot stack for good, holding the kernel lock: runs whatever
 * is runnable, else idles. */
_Noreturn void sched_run_first(void)
{
	static struct thread boot[MAX_CPUS];	/* the contexts being abandoned */
	struct percpu *c = this_cpu();

	boot[c->id].state = T_DEAD;
	boot[c->id].refs = 1 << 30;		/* never freed */
	boot[c->id].on_cpu = c->id;
	current = &boot[c->id];
	slice_end_ns = time_ns() + SLICE_NS;
	struct thread *next = pick_next();
	if (next)
		runq_remove(next);
	else
		next = &c->idle;
	rearm(next);
	switch_to(next);
	panic("sched: returned to the boot context");
}

/* ------------------------------------------------------- notifications */
struct notify *notify_create(struct env *charge_to)
{
	if (charge_to && env_charge(charge_to, 1))
		return NULL;
	struct notify *n = kzalloc(sizeof *n);
	if (!n && charge_to)
		env_uncharge(charge_to, 1);
	return n;
}

void notify_signal(struct notify *n, uint64_t bits)
{
	n->bits |= bits;
	if (n->bits && n->waiters) {
		struct thread *t = n->waiters;
		uint64_t b = n->bits;
		n->bits = 0;
		thread_wake(t, b);
	}
}

void notify_put(struct notify *n)
{
	if (--n->refs > 0)
		return;
	while (n->waiters)
		thread_wake(n->waiters, (uint64_t)-EXO_EINTR);
	kfree(n);
	/* the page charged at creation stays charged to its env until that
	 * env ends: a notification may outlive the cap that paid for it */
}

/* ---------------------------------------------------------------- IRQs */
static struct {
	struct cap *owner;
	struct notify *n;
	uint64_t badge;
} irq_bindings[24];

static void irq_interrupt(struct trapframe *tf)
{
	int line = (int)tf->vector - IRQ_BASE;

	irq_mask(line);
	if (line >= 0 && line < 24 && irq_bindings[line].n)
		notify_signal(irq_bindings[line].n, irq_bindings[line].badge);
	irq_eoi(line);
}

int irq_bind(struct cap *irq, struct notify *n, uint64_t badge)
{
	int line = (int)irq->first;

	if (line < 0 || line >= 24 || (line >= 16 && !apic_mode))
		return -EXO_EINVAL;		/* the PIC pair has lines 0-15 only */
	if ((line == 0 && !apic_mode) || line == 2 || line == CONSOLE_IRQ || line == KEYBOARD_IRQ)
		return -EXO_EBUSY;		/* the kernel's: tick, PIC cascade, console input */
	if (irq_bindings[line].owner && irq_bindings[line].owner != irq)
		return -EXO_EBUSY;
	if (irq_bindings[line].n)
		notify_put(irq_bindings[line].n);
	n->refs++;
	irq_bindings[line].owner = irq;
	irq_bindings[line].n = n;
	irq_bindings[line].badge = badge;
	trap_set_handler(IRQ_BASE + line, irq_interrupt);
	irq_route(line, IRQ_BASE + line);
	return 0;
}

/* The owner of a line a kernel driver took (never a real cap). */
static struct cap kernel_irq_owner;

int irq_claim(int line)
{
	if (line < 0 || line >= 24)
		return -EXO_EINVAL;
	if (irq_bindings[line].owner && irq_bindings[line].owner != &kernel_irq_owner)
		return -EXO_EBUSY;
	irq_bindings[line].owner = &kernel_irq_owner;
	return 0;
}

int irq_ack(struct cap *irq)
{
	int line = (int)irq->first;

	if (line < 0 || line >= 24 || irq_bindings[line].owner != irq)
		return -EXO_EINVAL;
	irq_unmask(line);
	return 0;
}

void irq_release(struct cap *irq)
{
	int line = (int)irq->first;

	if (line < 0 || line >= 24 || irq_bindings[line].owner != irq)
		return;
	irq_mask(line);
	notify_put(irq_bindings[line].n);
	irq_bindings[line].owner = NULL;
	irq_bindings[line].n = NULL;
}

int thread_set_affinity(struct thread *t, uint64_t mask)
{
	uint64_t online = 0;
	for (int i = 0; i < ncpus; i++)
		if (percpus[i].online)
			online |= 1ull << i;
	if (!(mask & online))
		return -EXO_EINVAL;
	t->affinity = mask;
	if (t->state == T_RUNNABLE && t->on_cpu < 0 && !allowed(t, t->queue_cpu)) {
		runq_remove(t);
		make_runnable(t);
	} else if (t->state == T_RUNNABLE && t->on_cpu < 0 && t->queue_cpu >= 0) {
		/* it may wait where it is, or now somewhere idle */
		percpus[t->queue_cpu].runq_aff |= mask;
		call_thief(&percpus[t->queue_cpu], t);
	} else if (t->on_cpu >= 0 && !allowed(t, t->on_cpu)) {
		if (t->on_cpu == this_cpu()->id)
			need_resched = 1;
		else
			smp_kick(t->on_cpu);	/* it moves at its next kernel entry */
	}
	return 0;
}
