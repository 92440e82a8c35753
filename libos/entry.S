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
 * return address and flags are in the thread's reflection slot.  The
 * registers at the call are kept in the thread's block, for fork, clone
 * and signals.  Everything the Linux ABI preserves is preserved (the
 * handlers are built without SSE registers).
 *
 * libos_fault_entry: user-level exceptions, rdi = struct exo_fault *.  When
 * libos_fault handles it (a demand-zero or copy-on-write page), the
 * interrupted code resumes with every register as it was, without a kernel
 * call.
 */
#define EXEC_MAGIC		0x3163657845787845	/* libos/exec.h */
#define EXEC_BOOT_STACK		8192
#define SYS_SET_FAULT_HANDLER	(0x4578 + 27)

	.text
	.global _exo_start
_exo_start:
	movabsq $EXEC_MAGIC, %rax	/* started by execve: its bss and stack */
	cmpq %rax, (%rdi)		/* are demand-zero from here on */
	jne 1f
	movq %rdi, %r12
	movq 8(%rdi), %rsi		/* the record's size: its boot stack follows */
	addq $(4095 + EXEC_BOOT_STACK), %rsi
	andq $-4096, %rsi
	addq %rdi, %rsi
	movl $EXEC_BOOT_STACK, %edx
	leaq exec_boot_fault_entry(%rip), %rdi
	movl $SYS_SET_FAULT_HANDLER, %eax
	syscall
	movq %r12, %rdi
1:	movq %rsp, %rbx
	subq $65536, %rsp		/* room for the initial stack image above us */
	andq $-16, %rsp
	movq %rbx, %rsi
	call libos_init
	movq %rax, %rsp
	xorl %ebp, %ebp
	jmp _start

/*
 * The calling thread's block (struct lo_thread, libos/thread.h) is where
 * its GS base points (lo_thread0 on CPUs without FSGSBASE, which run one
 * thread).  rcx and r11 are free (syscall clobbered them) and the flags
 * are saved in the reflection slot.  Every register goes to at_call; the
 * call is served on the thread's handler stack, and libos_syscall returns
 * the registers to resume with: at_call with the result in rax, or a
 * signal handler's entry.  The direction flag is cleared for the C code
 * (the ABI wants it clear at every call); the caller's comes back with
 * its flags.
 */
	.global libos_syscall_entry
libos_syscall_entry:
	cld
	cmpb $0, lo_gsbase(%rip)
	je 1f
	rdgsbase %r11
	jmp 2f
1:	leaq lo_thread0(%rip), %r11
2:	movq %rax, 16+0*8(%r11)
	movq %rbx, 16+1*8(%r11)
	movq %rdx, 16+3*8(%r11)
	movq %rsi, 16+4*8(%r11)
	movq %rdi, 16+5*8(%r11)
	movq %rbp, 16+6*8(%r11)
	movq %rsp, 16+7*8(%r11)
	movq %r8, 16+8*8(%r11)
	movq %r9, 16+9*8(%r11)
	movq %r10, 16+10*8(%r11)
	movq %r12, 16+12*8(%r11)
	movq %r13, 16+13*8(%r11)
	movq %r14, 16+14*8(%r11)
	movq %r15, 16+15*8(%r11)
	movq 168(%r11), %rsp		/* the thread's handler stack */
	movq %r11, %rdi
	call libos_syscall
	movq %rax, %rdi
	jmp libos_resume

/*
 * lo_thread_entry: where a new kernel thread starts, on its handler stack
 * with rdi = its struct lo_thread; lo_thread_begin returns the registers
 * clone gave it.
 */
	.global lo_thread_entry
lo_thread_entry:
	wrgsbase %rdi
	andq $-16, %rsp
	call lo_thread_begin
	movq %rax, %rdi
	jmp libos_resume

/*
 * A fault can stop the program anywhere, also between musl memmove's std
 * and cld: the handler's C code (rep movsb in lo_memcpy) needs the
 * direction flag clear, and the interrupted code gets its own back from
 * the saved rflags when it resumes.
 */
	.global libos_fault_entry
libos_fault_entry:
	cld
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
 * accesses, which SMAP refuses) and without touching the target's stack
 * (musl's detached threads unmap theirs before their last two calls): the
 * target rip and rsp go to the thread's block (struct lo_thread, +176 and
 * +184, found through GS base, or lo_thread0), rflags and rbx on this
 * stack, to be popped last; then rsp is loaded and the jump goes through
 * the block.
 */
.macro RESTORE_BUT_RBX_RSP
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
.endm

	.global libos_resume
libos_resume:
	movq %rdi, %rbx
	cmpb $0, lo_gsbase(%rip)
	je 1f
	rdgsbase %rax
	movq 16*8(%rbx), %rcx
	movq %rcx, 176(%rax)		/* rip */
	movq 7*8(%rbx), %rcx
	movq %rcx, 184(%rax)		/* rsp */
	RESTORE_BUT_RBX_RSP
	movq %gs:184, %rsp
	jmp *%gs:176
1:	movq 16*8(%rbx), %rcx
	movq %rcx, lo_thread0+176(%rip)
	movq 7*8(%rbx), %rcx
	movq %rcx, lo_thread0+184(%rip)
	RESTORE_BUT_RBX_RSP
	movq lo_thread0+184(%rip), %rsp
	jmp *lo_thread0+176(%rip)

/*
 * exec_boot_fault_entry: an exec'd image's fault handler until its memory
 * tables exist (libos/exec.c exec_boot_fault, which returns only when it
 * mapped the page).  It resumes as libos_resume does, but through a block
 * in .data, which is never demand-zero, instead of the thread's.
 */
	.global exec_boot_fault_entry
exec_boot_fault_entry:
	cld
	movq %rdi, %rbx
	andq $-16, %rsp
	call exec_boot_fault
	leaq 32(%rbx), %rbx
	movq 16*8(%rbx), %rcx
	movq %rcx, boot_jump(%rip)	/* rip */
	movq 7*8(%rbx), %rcx
	movq %rcx, boot_jump+8(%rip)	/* rsp */
	RESTORE_BUT_RBX_RSP
	movq boot_jump+8(%rip), %rsp
	jmp *boot_jump(%rip)

	.data
	.balign 16
boot_jump:
	.quad 0, 0

	.section .note.GNU-stack, "", @progbits
