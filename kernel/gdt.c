/*
 * The GDT and TSS, one of each per CPU.  Segment order (kernel code, kernel
 * data, user code32, user data, user code64) is the one SYSCALL/SYSRET
 * expects.  The TSS gives double fault, NMI and machine check their own
 * stacks (IST), each with an unmapped guard page below, so a kernel stack
 * overflow is still reported: the boot CPU's are in .bss (registered before
 * the kernel's page tables are built), the others' are kernel stacks.
 */
#include "kernel/percpu.h"
#include "kernel/trap.h"
#include "kernel/layout.h"
#include "kernel/console.h"
#include "kernel/string.h"
#include "kernel/vm.h"

#include <stdint.h>

#define IST_STACK_SIZE 8192
enum { IST_DOUBLE = 1, IST_NMI = 2, IST_MCHECK = 3 };

static uint8_t boot_ist_stacks[3][PAGE_SIZE + IST_STACK_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* Loads c's GDT and TSS on this CPU. */
void gdt_load(struct percpu *c)
{
	uint64_t *gdt = c->gdt;

	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffff;	/* 0x08 kernel code 64 */
	gdt[2] = 0x00cf92000000ffff;	/* 0x10 kernel data */
	gdt[3] = 0x00cffa000000ffff;	/* 0x18 user code 32 (unused) */
	gdt[4] = 0x00cff2000000ffff;	/* 0x20 user data */
	gdt[5] = 0x00affa000000ffff;	/* 0x28 user code 64 */
	c->tss_io.tss.iomap_base = 0xffff;	/* beyond the limit: no port for ring 3 */
	memset(c->tss_io.bitmap, 0xff, sizeof c->tss_io.bitmap);	/* env_load_ioports keeps it so */
	c->io_lo = c->io_hi = 0;
	c->tss_io.end = 0xff;

	uint64_t base = (uint64_t)&c->tss_io, limit = sizeof c->tss_io - 1;
	gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[7] = base >> 32;		/* 0x30 TSS (16 bytes) */

	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr =
		{ sizeof c->gdt - 1, (uint64_t)gdt };
	__asm__ volatile(
		"lgdt %0\n\t"
		"pushq $0x08\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movw $0x10, %%ax\n\t"
		"movw %%ax, %%ds\n\t"
		"movw %%ax, %%es\n\t"
		"movw %%ax, %%ss\n\t"
		"movw $0x30, %%ax\n\t"
		"ltr %%ax"
		:: "m"(ptr) : "rax", "memory");
}

void gdt_init(void)
{
	struct percpu *c = &percpus[0];

	for (int i = 0; i < 3; i++) {
		vm_register_guard((uintptr_t)boot_ist_stacks[i]);
		c->tss_io.tss.ist[i] = (uint64_t)(boot_ist_stacks[i] + sizeof boot_ist_stacks[i]);
	}
	gdt_load(c);
}

int gdt_prepare_ap(struct percpu *c)
{
	for (int i = 0; i < 3; i++) {
		uintptr_t top = kstack_alloc();
		if (!top)
			return -1;
		c->tss_io.tss.ist[i] = top;
	}
	return 0;
}

int ist_for_vector(int vector)
{
	switch (vector) {
	case T_DOUBLE: return IST_DOUBLE;
	case T_NMI: return IST_NMI;
	case T_MCHECK: return IST_MCHECK;
	default: return 0;
	}
}

void tss_set_iobitmap(int enabled)
{
	this_cpu()->tss_io.tss.iomap_base = enabled ? (uint16_t)sizeof(struct tss) : 0xffff;
}

void tss_set_rsp0(uint64_t rsp0)
{
	this_cpu()->tss_io.tss.rsp[0] = rsp0;
}

uint8_t *tss_iobitmap(void)
{
	return this_cpu()->tss_io.bitmap;
}
