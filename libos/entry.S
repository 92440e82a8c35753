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
 * return address and flags are in libos_reflect.  Everything the Linux ABI
 * preserves is preserved (the handlers are built without SSE registers).
 *
 * libos_fault_entry: user-level exceptions, rdi = struct exo_fault *.  When
 * libos_fault handles it (a demand-zero page), the interrupted code resumes
 * with every register as it was, without a kernel call.
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

	.global libos_syscall_entry
libos_syscall_entry:
	subq $128, %rsp			/* the caller's red zone */
	pushq libos_reflect(%rip)	/* return address */
	pushq libos_reflect+8(%rip)	/* flags */
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
	/*
	 * Resume without iretq (QEMU treats a user-mode iretq's stack reads as
	 * supervisor accesses, which SMAP refuses): the rip goes just below the
	 * interrupted code's red zone; rflags, rbx and that stack address go on
	 * this stack, to be popped last; `ret $128` then lands on the exact rsp.
	 */
	movq 32+7*8(%rbx), %rax		/* interrupted rsp */
	subq $136, %rax
	movq 32+16*8(%rbx), %rcx	/* rip */
	movq %rcx, (%rax)
	pushq %rax			/* new rsp */
	pushq 32+1*8(%rbx)		/* rbx */
	pushq 32+17*8(%rbx)		/* rflags */
	movq 32+0*8(%rbx), %rax
	movq 32+2*8(%rbx), %rcx
	movq 32+3*8(%rbx), %rdx
	movq 32+4*8(%rbx), %rsi
	movq 32+5*8(%rbx), %rdi
	movq 32+6*8(%rbx), %rbp
	movq 32+8*8(%rbx), %r8
	movq 32+9*8(%rbx), %r9
	movq 32+10*8(%rbx), %r10
	movq 32+11*8(%rbx), %r11
	movq 32+12*8(%rbx), %r12
	movq 32+13*8(%rbx), %r13
	movq 32+14*8(%rbx), %r14
	movq 32+15*8(%rbx), %r15
	popfq
	popq %rbx
	popq %rsp
	ret $128

	.section .note.GNU-stack, "", @progbits
