/*
 * Per-CPU state, reached through the GS base: while a CPU runs kernel code
 * its GS base points at its struct percpu (SYSCALL and interrupt entries
 * from user mode do `swapgs`, so the user's GS base waits in
 * MSR_KERNEL_GS_BASE meanwhile).  The first fields are at fixed offsets for
 * kernel/syscallentry.S.
 */
#ifndef EXO_KERNEL_PERCPU_H
#define EXO_KERNEL_PERCPU_H

#include <stdint.h>

#include "kernel/object.h"

#define MAX_CPUS 16
#define MSR_GS_BASE 0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS size");

/* The TSS is followed by the I/O permission bitmap of the running env
 * (env_load_ioports copies in the part of it that allows ports; the rest
 * stays all ones) and the terminating 0xff byte. */
struct tss_io {
	struct tss tss;
	uint8_t bitmap[8192];
	uint8_t end;
} __attribute__((packed, aligned(64)));

/* What another CPU asks of this one (kernel/smp.c), served without the
 * kernel lock: flush a page or everything of an address space, leave it,
 * reload the I/O bitmap, or give the thread running here new user
 * registers. */
struct exo_regs;
struct cpu_request {
	volatile uint32_t pending;
	struct thread *thread;		/* non-NULL: set its registers to regs */
	const struct exo_regs *regs;
	struct env *env;
	uint64_t va;			/* ~0: the whole address space */
	uint64_t pages;			/* from va on */
	int leave;			/* switch to the kernel's page tables */
};

struct percpu {
	struct percpu *self;		/* %gs:0 */
	uint64_t kstack_top;		/* %gs:8: the running thread's kernel stack */
	uint64_t user_rsp;		/* %gs:16: scratch at SYSCALL entry */
	struct thread *cur;		/* %gs:24: the running thread (current) */
	int id;				/* index in percpus[] */
	uint32_t apic_id;
	volatile int online;
	int resched;			/* need_resched */
	uint64_t slice_end_ns;
	uint64_t timer_due_ns;		/* the timer fires by then (0: not armed, or fired) */
	struct thread *runq;		/* threads waiting for this CPU: circular */
	int nrun;			/* how many */
	uint64_t runq_aff;		/* the CPUs they may run on (a superset) */
	struct thread idle;		/* runs when nothing else can */
	struct env *loaded_env;		/* whose page tables CR3 holds (NULL: the kernel's) */
	struct env *iobitmap_loaded;	/* whose ports the TSS bitmap holds */
	uint32_t io_lo, io_hi;		/* the TSS bitmap's bytes [lo, hi) may differ from 0xff */
	struct cpu_request req;
	uint64_t gdt[8];
	struct tss_io tss_io;
};
_Static_assert(__builtin_offsetof(struct percpu, kstack_top) == 8, "syscallentry.S");
_Static_assert(__builtin_offsetof(struct percpu, user_rsp) == 16, "syscallentry.S");

extern struct percpu percpus[MAX_CPUS];
extern int ncpus;			/* CPUs started */

#include "kernel/this_cpu.h"

#define current (this_cpu()->cur)
#define need_resched (this_cpu()->resched)

#endif
