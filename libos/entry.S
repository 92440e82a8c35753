/*
 * The library OS's three ways in from the kernel.
 *
 * _exo_start: the program's ELF entry (tools/exo-cc sets it).  rdi points at
 * struct exo_start.  libos_init builds a Linux initial stack (argc, argv,
 * envp, auxv) in the top 64 KiB of the stack and returns where it starts;
 * then musl's own _start runs as it would on Linux.
 *
 * libos_syscall_entry: where the kernel reflects Linux system calls, with
 * rax = number and the arguments in rdi, rsi, rdx, r10, r8, r9; the caller's
 * return address and flags are in lp.reflect.  The registers at the call
 * are kept in lp.at_call, for fork.  Everything the Linux ABI
 * preserves is preserved (the handlers are built without SSE registers).
 *
 * libos_fault_entry: user-level exceptions, rdi = struct exo_fault *.  When
 * libos_fault handles it (a demand-zero or copy-on-write page), the
 * interrupted code resumes with every register as it was, without a kernel
 * call.
 */
	.text
	.global _exo_start
_exo_start:
	movq %rsp, %rbx
	subq $65536, %rsp		/* room for the initial stack image above us */
	andq $-16, %rsp
	movq %rbx, %rsi
	call libos_init
	movq %rax, %rsp
	xorl %ebp, %ebp
	jmp _start

/* lp.at_call (struct exo_regs at lp+16): what fork gives its child */
	.global libos_syscall_entry
libos_syscall_entry:
	movq %rbx, lp+16+1*8(%rip)
	movq %rdx, lp+16+3*8(%rip)
	movq %rsi, lp+16+4*8(%rip)
	movq %rdi, lp+16+5*8(%rip)
	movq %rbp, lp+16+6*8(%rip)
	movq %rsp, lp+16+7*8(%rip)
	movq %r8, lp+16+8*8(%rip)
	movq %r9, lp+16+9*8(%rip)
	movq %r10, lp+16+10*8(%rip)
	movq %r12, lp+16+12*8(%rip)
	movq %r13, lp+16+13*8(%rip)
	movq %r14, lp+16+14*8(%rip)
	movq %r15, lp+16+15*8(%rip)
	subq $128, %rsp			/* the caller's red zone */
	pushq lp(%rip)			/* return address (lp.reflect.rip) */
	pushq lp+8(%rip)		/* flags */
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %r10
	pushq %r8
	pushq %r9
	pushq %rbp
	movq %rsp, %rbp
	andq $-16, %rsp
	pushq %r9			/* sixth argument on the stack */
	pushq %r9			/* (twice keeps the alignment) */
	movq %r8, %r9
	movq %r10, %r8
	movq %rdx, %rcx
	movq %rsi, %rdx
	movq %rdi, %rsi
	movq %rax, %rdi
	call libos_dispatch
	movq %rbp, %rsp
	popq %rbp
	popq %r9
	popq %r8
	popq %r10
	popq %rdx
	popq %rsi
	popq %rdi
	popfq
	popq %rcx			/* the return address; rcx is the caller's to lose */
	addq $128, %rsp
	jmp *%rcx

	.global libos_fault_entry
libos_fault_entry:
	movq %rdi, %rbx			/* struct exo_fault, kept across the call */
	andq $-16, %rsp
	call libos_fault		/* returns only when the fault was handled */
	leaq 32(%rbx), %rdi
	jmp libos_resume

/*
 * libos_fork_child: where a forked child starts, on its own exception
 * stack.  libos_child_init registers the child's entries; then it resumes
 * as the parent's fork call would return, with rax = 0.
 */
	.global libos_fork_child
libos_fork_child:
	andq $-16, %rsp
	call libos_child_init		/* returns the struct exo_regs to resume */
	movq %rax, %rdi
	jmp libos_resume

/*
 * libos_resume(struct exo_regs *r): continues with every register from r,
 * without iretq (QEMU treats a user-mode iretq's stack reads as supervisor
 * accesses, which SMAP refuses): the rip goes just below the target's red
 * zone; rflags, rbx and that stack address go on this stack, to be popped
 * last; `ret $128` then lands on the exact rsp.
 */
libos_resume:
	movq %rdi, %rbx
	movq 7*8(%rbx), %rax		/* target rsp */
	subq $136, %rax
	movq 16*8(%rbx), %rcx		/* rip */
	movq %rcx, (%rax)
	pushq %rax			/* new rsp */
	pushq 1*8(%rbx)			/* rbx */
	pushq 17*8(%rbx)		/* rflags */
	movq 0*8(%rbx), %rax
	movq 2*8(%rbx), %rcx
	movq 3*8(%rbx), %rdx
	movq 4*8(%rbx), %rsi
	movq 5*8(%rbx), %rdi
	movq 6*8(%rbx), %rbp
	movq 8*8(%rbx), %r8
	movq 9*8(%rbx), %r9
	movq 10*8(%rbx), %r10
	movq 11*8(%rbx), %r11
	movq 12*8(%rbx), %r12
	movq 13*8(%rbx), %r13
	movq 14*8(%rbx), %r14
	movq 15*8(%rbx), %r15
	popfq
	popq %rbx
	popq %rsp
	ret $128

	.section .note.GNU-stack, "", @progbits
