/*
 * Entry stubs for all 256 vectors.  Each pushes a zero error code where the
 * CPU pushes none, then the vector number, and jumps to trap_common, which
 * saves the general registers as a struct trapframe and calls trap_dispatch.
 * Coming from user mode (or going back to it) the GS base is swapped, so
 * kernel code always finds its struct percpu there.  trap_entries[] lists
 * the stubs for idt_init.  new_thread_entry is where a new thread's first
 * switch lands: it releases the kernel lock its creator's CPU held and
 * enters user mode.
 */
#include "kernel/trapframe.h"

	.text
trap_common:
	testb $3, 24(%rsp)		/* cs: from user mode? */
	jz 1f
	swapgs
1:	PUSH_GPRS
	cld
	movq %rsp, %rdi
	call trap_dispatch
	.global trap_return
trap_return:
	POP_GPRS
	addq $16, %rsp
	testb $3, 8(%rsp)		/* cs: to user mode? */
	jz 1f
	swapgs
1:	iretq

	.global new_thread_entry
new_thread_entry:
	movl $0, bkl(%rip)		/* bkl_unlock: a plain store releases on x86 */
	jmp trap_return


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
