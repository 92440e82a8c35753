/*
 * Entry from GRUB (Multiboot2): 32-bit protected mode, paging off,
 * EAX = magic, EBX = physical address of the boot information.  Builds page
 * tables that map the first 4 GiB three times (identity, at the direct-map
 * base, and the first 2 GiB at the kernel base), enters long mode and jumps
 * to kmain(magic, info) in the higher half.  kernel/vm.c replaces these
 * tables once the memory map is known.
 */
#include "kernel/layout.h"

#define MB2_BOOT_MAGIC 0x36d76289
#define PHYS(x) ((x) - KERNEL_VMA)
#define PTE_P  0x1
#define PTE_W  0x2
#define PTE_PS 0x80

	.section .boot.text, "ax"
	.code32
	.global boot_entry32
boot_entry32:
	cli
	cld
	movl $PHYS(boot_stack_top), %esp
	movl %eax, %edi			/* magic: kmain's first argument */
	movl %ebx, %esi			/* info: kmain's second argument */

	cmpl $MB2_BOOT_MAGIC, %edi
	movl $msg_magic, %ebx
	jne boot_fail32

	/* CPUID must report long mode */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	movl $msg_nolm, %ebx
	jb boot_fail32
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx
	jz boot_fail32
	movl %edx, %ebp			/* keep: bit 20 is NX */

	/* four page directories of 2 MiB pages: physical 0 .. 4 GiB */
	movl $PHYS(boot_pd), %edx
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_W | PTE_PS), %eax
	movl %eax, (%edx, %ecx, 8)
	movl %ecx, %eax
	shrl $11, %eax			/* bits 32+ of (ecx << 21) */
	movl %eax, 4(%edx, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b

	/* low PDPT: entries 0..3 -> the four directories */
	movl $PHYS(boot_pdpt_low), %edx
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $12, %eax
	addl $(PHYS(boot_pd) + PTE_P + PTE_W), %eax
	movl %eax, (%edx, %ecx, 8)
	incl %ecx
	cmpl $4, %ecx
	jb 1b

	/* high PDPT: entries 510, 511 -> first two directories (kernel base) */
	movl $PHYS(boot_pdpt_high), %edx
	movl $(PHYS(boot_pd) + PTE_P + PTE_W), 510*8(%edx)
	movl $(PHYS(boot_pd) + 4096 + PTE_P + PTE_W), 511*8(%edx)

	/* PML4: 0 (identity) and 256 (direct map) -> low, 511 -> high */
	movl $PHYS(boot_pml4), %edx
	movl $(PHYS(boot_pdpt_low) + PTE_P + PTE_W), (%edx)
	movl $(PHYS(boot_pdpt_low) + PTE_P + PTE_W), 256*8(%edx)
	movl $(PHYS(boot_pdpt_high) + PTE_P + PTE_W), 511*8(%edx)
	movl %edx, %cr3

	movl %cr4, %eax
	orl $(1 << 5), %eax		/* PAE */
	movl %eax, %cr4

	movl $0xc0000080, %ecx		/* EFER */
	rdmsr
	orl $(1 << 8), %eax		/* LME */
	testl $(1 << 20), %ebp
	jz 1f
	orl $(1 << 11), %eax		/* NXE */
1:	wrmsr

	movl %cr0, %eax
	orl $((1 << 31) | (1 << 16) | 1), %eax	/* PG, WP, PE */
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $0x08, $boot_entry64

/* Print the NUL-terminated message at %ebx on COM1 and VGA, then halt. */
boot_fail32:
	movl $0xb8000, %edi
1:	movb (%ebx), %al
	testb %al, %al
	jz 3f
	movb $0x4f, %ah
	movw %ax, (%edi)
	addl $2, %edi
	movw $0x3fd, %dx
	movb %al, %cl
2:	inb %dx, %al
	testb $0x20, %al
	jz 2b
	movw $0x3f8, %dx
	movb %cl, %al
	outb %al, %dx
	incl %ebx
	jmp 1b
3:	cli
	hlt
	jmp 3b

	.code64
boot_entry64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $boot_entry_high, %rax
	jmp *%rax

	.section .boot.data, "aw"
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
boot_gdt_ptr:
	.short boot_gdt_ptr - boot_gdt - 1
	.long boot_gdt
msg_magic:
	.asciz "ExoSwarm: not started by a Multiboot2 loader"
msg_nolm:
	.asciz "ExoSwarm: this CPU has no 64-bit long mode"

	.text
boot_entry_high:
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl %edi, %edi
	movl %esi, %esi
	call kmain
1:	cli
	hlt
	jmp 1b

	.section .bss, "aw", @nobits
	.balign 4096
	.global boot_pml4, boot_stack_guard, boot_stack_top
boot_pml4:	.skip 4096
boot_pdpt_low:	.skip 4096
boot_pdpt_high:	.skip 4096
boot_pd:	.skip 4 * 4096
boot_stack_guard:	.skip 4096	/* left unmapped by vm_init */
boot_stack:	.skip BOOT_STACK_SIZE
boot_stack_top:
