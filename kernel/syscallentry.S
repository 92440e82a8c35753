/*
 * SYSCALL entry.  The CPU arrives with interrupts off (SFMASK), the user's
 * rip in rcx and rflags in r11, still on the user stack and with the user's
 * GS base.  `swapgs` makes GS this CPU's struct percpu (kernel/percpu.h):
 * we park the user's rsp there, switch to the running thread's kernel
 * stack, build the same struct trapframe an interrupt would, and call
 * syscall_dispatch.  The way back is SYSRET, unless the thread's
 * registers were changed from outside (syscall_dispatch returns non-zero),
 * which needs IRETQ to restore rcx and r11 as well.  Before SYSRET, SS is
 * loaded with the kernel data selector: on AMD CPUs SYSRET does not reload
 * SS's hidden attributes, which an interrupt may have left null.
 */
#include "kernel/trapframe.h"

	.text
	.global syscall_entry
syscall_entry:
	swapgs
	movq %rsp, %gs:16		/* percpu.user_rsp */
	movq %gs:8, %rsp		/* percpu.kstack_top */
	pushq $0x23			/* ss */
	pushq %gs:16			/* rsp */
	pushq %r11			/* rflags */
	pushq $0x2b			/* cs */
	pushq %rcx			/* rip */
	pushq $0			/* error */
	pushq $0x100			/* "vector": a system call */
	PUSH_GPRS
	cld
	movq %rsp, %rdi
	call syscall_dispatch
	testl %eax, %eax
	jnz trap_return			/* full restore through iretq (swapgs there) */
	movw $0x10, %ax
	movw %ax, %ss
	POP_GPRS
	addq $16, %rsp			/* vector, error */
	movq (%rsp), %rcx		/* rip */
	movq 16(%rsp), %r11		/* rflags */
	movq 24(%rsp), %rsp		/* user rsp */
	swapgs
	sysretq
