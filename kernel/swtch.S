/*
 * swtch(&old_ksp, new_ksp): saves the callee-saved registers on the current
 * kernel stack, stores its pointer in *old_ksp, and resumes the thread whose
 * stack is new_ksp.  A new thread's stack is prepared so that this `ret`
 * lands in trap_return, which enters user mode from its trapframe.
 */
	.text
	.global swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret
