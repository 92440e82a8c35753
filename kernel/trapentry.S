/*
 * Entry stubs for all 256 vectors.  Each pushes a zero error code where the
 * CPU pushes none, then the vector number, and jumps to trap_common, which
 * saves the general registers as a struct trapframe and calls trap_dispatch.
 * trap_entries[] lists the stubs for idt_init.
 */
	.text
trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	call trap_dispatch
	.global trap_return
trap_return:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq


	.altmacro
.macro STUB n
	.balign 16
trap_entry_\n:
	.if !((\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30))
	pushq $0
	.endif
	pushq $\n
	jmp trap_common
.endm

.macro ENTRY_ADDR n
	.quad trap_entry_\n
.endm

	.set i, 0
	.rept 256
	STUB %i
	.set i, i + 1
	.endr

	.section .rodata
	.balign 8
	.global trap_entries
trap_entries:
	.set i, 0
	.rept 256
	ENTRY_ADDR %i
	.set i, i + 1
	.endr
