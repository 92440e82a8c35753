/*
 * The IDT and trap dispatch.  Interrupts go to registered handlers; any
 * exception in the kernel is fatal: it is reported (vector, error code, CR2,
 * registers, a backtrace with symbol names) and the machine halts cleanly, or
 * in test mode powers QEMU off with a status the tests read.
 */
#include "kernel/trap.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/selftest.h"
#include "kernel/apic.h"
#include "kernel/env.h"
#include "kernel/smp.h"
#include "kernel/uaccess.h"
#include "include/exo/abi.h"

#include <stddef.h>

struct idt_gate {
	uint16_t offset_lo, selector;
	uint8_t ist, type;
	uint16_t offset_mid;
	uint32_t offset_hi, reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gate");

extern const uint64_t trap_entries[256];
int ist_for_vector(int vector);

static struct idt_gate idt[256];
static irq_handler handlers[256];
static volatile int in_fatal;

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization",
	"#CP control protection", "reserved", "reserved", "reserved", "reserved",
	"reserved", "reserved", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved",
};

void idt_load(void)
{
	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr =
		{ sizeof idt - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" :: "m"(ptr));
}

void idt_init(void)
{
	for (int v = 0; v < 256; v++) {
		uint64_t a = trap_entries[v];
		idt[v] = (struct idt_gate){
			.offset_lo = (uint16_t)a, .selector = 0x08,
			.ist = (uint8_t)ist_for_vector(v), .type = 0x8e,
			.offset_mid = (uint16_t)(a >> 16), .offset_hi = (uint32_t)(a >> 32),
		};
	}
	idt_load();
}

void trap_set_handler(int vector, irq_handler h)
{
	handlers[vector] = h;
}

static void print_symbol(uint64_t addr)
{
	uint64_t off;
	const char *name = ksym_lookup(addr, &off);

	if (name)
		kprintf("  %016lx %s+0x%lx\n", addr, name, off);
	else
		kprintf("  %016lx ?\n", addr);
}

void backtrace_print(uint64_t rip, uint64_t rbp, uint64_t stack_hint)
{
	kprintf("backtrace:\n");
	print_symbol(rip);
	/* follow saved frame pointers while they stay on this stack */
	for (int depth = 0; depth < 24 && rbp; depth++) {
		if (rbp % 8 || rbp < stack_hint || rbp - stack_hint > 65536)
			break;
		const uint64_t *frame = (const uint64_t *)rbp;
		if (frame[1] == 0)
			break;
		print_symbol(frame[1]);
		if (frame[0] <= rbp)
			break;
		rbp = frame[0];
	}
}

static void report_fatal(struct trapframe *tf)
{
	uint64_t cr2 = read_cr2();

	kprintf("\nFATAL: exception %lu (%s), error code 0x%lx\n", tf->vector,
		tf->vector < 32 ? exception_names[tf->vector] : "unexpected vector", tf->error);
	if (tf->vector == T_PAGE)
		kprintf("  fault address (cr2) 0x%016lx: %s %s in %s mode%s\n", cr2,
			tf->error & 1 ? "protection violation" : "page not present",
			tf->error & 16 ? "on instruction fetch" : tf->error & 2 ? "on write" : "on read",
			tf->error & 4 ? "user" : "kernel", tf->error & 8 ? ", reserved bit set" : "");
	kprintf("  rip %016lx  cs %04lx  rflags %016lx  rsp %016lx  ss %04lx\n",
		tf->rip, tf->cs, tf->rflags, tf->rsp, tf->ss);
	kprintf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
	kprintf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	kprintf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	kprintf("  r13 %016lx  r14 %016lx  r15 %016lx\n", tf->r13, tf->r14, tf->r15);
	kprintf("  cr0 %016lx  cr2 %016lx  cr3 %016lx  cr4 %016lx\n",
		read_cr0(), cr2, read_cr3(), read_cr4());
	backtrace_print(tf->rip, tf->rbp, tf->rsp);
}


/* The signal a Linux program would get for an exception. */
static int signal_for(uint64_t vector)
{
	switch (vector) {
	case 0: case 16: case 19: return 8;	/* SIGFPE */
	case 1: case 3: return 5;		/* SIGTRAP */
	case 6: return 4;			/* SIGILL */
	case 17: return 7;			/* SIGBUS */
	default: return 11;			/* SIGSEGV */
	}
}

/*
 * An exception in user mode goes to the env's fault handler: a struct
 * exo_fault is pushed on the exception stack (below the current frame when
 * the handler itself faulted, past the 128-byte red zone) and the handler
 * is entered with rdi pointing at it.  With no handler, or no room for the
 * frame, the env is killed with the matching signal.
 */
static void user_exception(struct trapframe *tf)
{
	struct env *e = current->env;
	uint64_t cr2 = tf->vector == T_PAGE ? read_cr2() : 0;

	if (e->fault_entry) {
		uint64_t stack = current->fault_stack ? current->fault_stack : e->fault_stack;
		uint64_t size = current->fault_stack ? current->fault_stack_size : e->fault_stack_size;
		uint64_t sp = stack;
		if (tf->rsp < stack && tf->rsp >= stack - size)
			sp = tf->rsp - 128;
		struct exo_fault f = { .addr = cr2, .error = tf->error, .vector = tf->vector,
			.regs = { tf->rax, tf->rbx, tf->rcx, tf->rdx, tf->rsi, tf->rdi, tf->rbp, tf->rsp,
				  tf->r8, tf->r9, tf->r10, tf->r11, tf->r12, tf->r13, tf->r14, tf->r15,
				  tf->rip, tf->rflags, rdmsr(0xc0000100) /* FS base, as set by wrfsbase too */ } };
		uint64_t frame = (sp - sizeof f) & ~15ull;
		if (sp > sizeof f + 64 && copy_to_user(frame, &f, sizeof f) == 0) {
			tf->rdi = frame;
			tf->rsp = frame - 8;		/* as if called */
			tf->rip = e->fault_entry;
			return;
		}
	}
	klog(LOG_NOTICE, "env %lu: %s at rip %#lx, address %#lx, error %#lx: killed\n", e->id,
	     tf->vector < 32 ? exception_names[tf->vector] : "trap", tf->rip, cr2, tf->error);
	env_kill(e, EXO_STATUS_SIGNALED(signal_for(tf->vector)));
	env_reap_orphans();
	schedule();
}

/* Interrupts and faults from user mode, and interrupts taken in the idle
 * loop, run under the kernel lock; faults in the kernel (a user copy's, or
 * a fatal one) run in whatever context had it; a request IPI needs none. */
static void dispatch(struct trapframe *tf, int from_user)
{
	if (tf->vector < 32 && from_user && current && current->env) {
		if (current->state == T_DEAD) {	/* killed from another CPU */
			schedule();
			return;
		}
		if (current->regs_replaced)	/* the old code's fault: gone */
			return;
		user_exception(tf);
		return;
	}
	if (tf->vector < 32 && !from_user && uaccess_fixup(tf))
		return;
	if (tf->vector >= 32 && handlers[tf->vector]) {
		handlers[tf->vector](tf);
		if (from_user && (need_resched || current->state != T_RUNNABLE))
			schedule();
		return;
	}
	if (tf->vector >= 32) {
		if (tf->vector != VEC_SPURIOUS)
			klog(LOG_WARN, "trap: unexpected interrupt vector %lu\n", tf->vector);
		if (tf->vector >= IRQ_BASE + 16 && tf->vector != VEC_SPURIOUS)
			apic_eoi();
		return;
	}
	/* an exception while reporting one: stop at once */
	if (in_fatal)
		halt_forever();
	in_fatal = 1;
	report_fatal(tf);
	selftest_on_fatal();
	kprintf("system halted\n");
	halt_forever();
}

void trap_dispatch(struct trapframe *tf)
{
	int from_user = (tf->cs & 3) == 3;
	int locked = tf->vector != VEC_IPI_REQUEST && (from_user || tf->vector >= 32);

	if (tf->vector == VEC_IPI_REQUEST) {
		smp_serve_request(!from_user);
		apic_eoi();
		if (!from_user || !current || current->state != T_DEAD)
			return;
		/* its thread was ended from another CPU (THREAD_END), which
		 * waits for this: no instruction of it runs again */
		bkl_lock();
		schedule();
		current->regs_replaced = 0;
		bkl_unlock();
		return;
	}
	if (locked)
		bkl_lock();
	dispatch(tf, from_user);
	if (from_user)
		current->regs_replaced = 0;	/* back to user mode, with its frame */
	if (locked)
		bkl_unlock();
}
