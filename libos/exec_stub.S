/*
 * The last step of execve (libos/exec.c), copied to its own page at
 * EXEC_STUB_VA because it deletes the caps of the old image, which unmaps
 * every page of it, the library OS's code and stacks included.  It is
 * position independent, uses no stack and makes only native calls:
 *
 *   exec_stub_begin(struct exec_plan *plan):
 *     removes the fault handler (the old one is going), deletes the caps in
 *     plan->delete (one CAP_DELETE_LIST), maps each run's frames at its
 *     address with its permissions (one PAGE_MAP a run), then jumps to
 *     plan->entry with rsp = plan->rsp and rdi = plan->record (the
 *     hand-over record) and every other register 0.  execve has ended the
 *     process's other threads (THREAD_END) before.
 *
 * Offsets into struct exec_plan are checked by _Static_assert in exec.c.
 */
#define SYS_CAP_DELETE_LIST	(0x4578 + 47)
#define SYS_PAGE_MAP		(0x4578 + 7)
#define SYS_SET_FAULT_HANDLER	(0x4578 + 27)
#define PLAN_NRUN		4104
#define PLAN_RUN		4112
#define PLAN_ENTRY		(4112 + 32 * 32)
#define RUN_SIZE		32

	.text
	.global exec_stub_begin, exec_stub_end
	.balign 16
exec_stub_begin:
	movq %rdi, %rbx
	movl $SYS_SET_FAULT_HANDLER, %eax
	xorl %edi, %edi
	xorl %esi, %esi
	xorl %edx, %edx
	syscall
	movl $SYS_CAP_DELETE_LIST, %eax
	leaq 8(%rbx), %rdi		/* plan->delete */
	movq 0(%rbx), %rsi		/* ndelete */
	syscall
	movq PLAN_NRUN(%rbx), %r13
	leaq PLAN_RUN(%rbx), %r12
3:	testq %r13, %r13
	jz 6f
	movl $SYS_PAGE_MAP, %eax	/* the whole run in one call */
	xorl %edi, %edi			/* our own env */
	movq 0(%r12), %rsi		/* va */
	movq 16(%r12), %rdx		/* frame slot */
	xorl %r10d, %r10d		/* from its first frame */
	movq 24(%r12), %r8		/* permissions */
	movq 8(%r12), %r9		/* pages */
	syscall
	addq $RUN_SIZE, %r12
	decq %r13
	jmp 3b
6:	movq PLAN_ENTRY(%rbx), %rcx
	movq PLAN_ENTRY+8(%rbx), %rsp
	movq PLAN_ENTRY+16(%rbx), %rdi
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %ebp, %ebp
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	jmp *%rcx
exec_stub_end:

/* The note that marks an image built by tools/exo-cc (libos/elf.h): an
 * execve of a program without it goes through the personality. */
	.section .note.exoswarm, "a", @note
	.balign 4
	.long 9				/* name size: "ExoSwarm" and its NUL */
	.long 4				/* descriptor size */
	.long 0x4578			/* ELF_EXO_NOTE_TYPE */
	.asciz "ExoSwarm"
	.balign 4
	.long 1				/* hand-over record version */

	.section .note.GNU-stack, "", @progbits
