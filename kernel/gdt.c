/*
 * The GDT and TSS.  Segment order (kernel code, kernel data, user code32,
 * user data, user code64) is the one SYSCALL/SYSRET expects.  The TSS gives
 * double fault, NMI and machine check their own stacks (IST), each with an
 * unmapped guard page below, so a kernel stack overflow is still reported.
 */
#include "kernel/trap.h"
#include "kernel/layout.h"
#include "kernel/string.h"
#include "kernel/vm.h"

#include <stdint.h>

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

#define IST_STACK_SIZE 8192
enum { IST_DOUBLE = 1, IST_NMI = 2, IST_MCHECK = 3 };

/* The TSS is followed by the I/O permission bitmap of the running env
 * (env_load_ioports copies it in) and the terminating 0xff byte. */
static struct {
	struct tss tss;
	uint8_t bitmap[8192];
	uint8_t end;
} __attribute__((packed, aligned(64))) tss_io;
uint8_t *const tss_iobitmap_ptr = tss_io.bitmap;
static uint64_t gdt[8];
static uint8_t ist_stacks[3][PAGE_SIZE + IST_STACK_SIZE] __attribute__((aligned(PAGE_SIZE)));

void gdt_init(void)
{
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffff;	/* 0x08 kernel code 64 */
	gdt[2] = 0x00cf92000000ffff;	/* 0x10 kernel data */
	gdt[3] = 0x00cffa000000ffff;	/* 0x18 user code 32 (unused) */
	gdt[4] = 0x00cff2000000ffff;	/* 0x20 user data */
	gdt[5] = 0x00affa000000ffff;	/* 0x28 user code 64 */

	for (int i = 0; i < 3; i++) {
		vm_register_guard((uintptr_t)ist_stacks[i]);
		tss_io.tss.ist[i] = (uint64_t)(ist_stacks[i] + sizeof ist_stacks[i]);
	}
	tss_io.tss.iomap_base = 0xffff;	/* beyond the limit: no port for ring 3 */
	tss_io.end = 0xff;

	uint64_t base = (uint64_t)&tss_io, limit = sizeof tss_io - 1;
	gdt[6] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		 (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	gdt[7] = base >> 32;		/* 0x30 TSS (16 bytes) */

	struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr =
		{ sizeof gdt - 1, (uint64_t)gdt };
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
	tss_io.tss.iomap_base = enabled ? (uint16_t)sizeof(struct tss) : 0xffff;
}

void tss_set_rsp0(uint64_t rsp0)
{
	tss_io.tss.rsp[0] = rsp0;
}
