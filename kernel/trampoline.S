/*
 * Start-up code of the other CPUs.  kernel/smp.c copies trampoline_start..
 * trampoline_end to physical 0x8000 and fills in the three words at the
 * end; a STARTUP IPI then starts a CPU there in real mode, several CPUs at
 * once (nothing here writes memory or uses a stack).  It enters protected
 * mode, turns on PAE, long mode and paging on the boot page tables (which
 * still map the first 4 GiB at their physical addresses and the kernel at
 * its link address), jumps to 64-bit code, and from there to ap_entry64 in
 * the kernel's text, which loads the kernel's own page tables, finds its
 * struct percpu and stack by its APIC id (CPUID leaf 1), and calls
 * ap_main.
 */
#define TRAMP 0x8000
#define T(x) (TRAMP + (x) - trampoline_start)

	.section .rodata
	.balign 16
	.global trampoline_start, trampoline_end, tramp_cr3, tramp_efer, tramp_entry
	.code16
trampoline_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl T(tramp_gdt_ptr)
	movl %cr0, %eax
	orl $1, %eax			/* PE */
	movl %eax, %cr0
	ljmpl $0x08, $T(tramp32)

	.code32
tramp32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl T(tramp_cr3), %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $(1 << 5), %eax		/* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx		/* EFER */
	rdmsr
	orl $(1 << 8), %eax		/* LME */
	orl T(tramp_efer), %eax		/* NXE where the CPU has it */
	wrmsr
	movl %cr0, %eax
	orl $((1 << 31) | (1 << 16)), %eax	/* PG, WP */
	movl %eax, %cr0
	ljmpl $0x18, $T(tramp64)

	.code64
tramp64:
	movq T(tramp_entry), %rax
	jmpq *%rax

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
tramp_gdt_ptr:
	.word 31
	.long T(tramp_gdt)
	.balign 8
tramp_cr3:	.long 0, 0
tramp_efer:	.long 0, 0
tramp_entry:	.quad 0
trampoline_end:

	.text
	.global ap_entry64
ap_entry64:
	movq ap_boot_cr3(%rip), %rax
	movq %rax, %cr3
	movl $1, %eax
	cpuid				/* ebx[31:24]: this CPU's initial APIC id */
	shrl $24, %ebx
	leaq ap_percpu_by_apic(%rip), %rax
	movq (%rax,%rbx,8), %rdi
	testq %rdi, %rdi
	jz 1f				/* not a CPU the kernel prepared: stay off */
	leaq ap_stack_by_apic(%rip), %rax
	movq (%rax,%rbx,8), %rsp
	xorl %ebp, %ebp
	call ap_main
1:	cli
	hlt
	jmp 1b
