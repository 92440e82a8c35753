/*
 * Copies between the program's memory and the library OS's, with fault
 * recovery: a fault inside [lo_uaccess_begin, lo_uaccess_end) that the
 * fault handler cannot serve (no region, a read-only page, a kernel
 * address) resumes at lo_uaccess_fault, which returns -EFAULT from the
 * routine that faulted.  So a bad pointer passed to a system call yields
 * EFAULT, as on Linux, instead of ending the program.  The routines are
 * leaf functions that touch no stack, so the fixup only has to return.
 *
 *   int64_t lo_copy_in(void *dst, const void *user_src, size_t n);   0 or -EFAULT
 *   int64_t lo_copy_out(void *user_dst, const void *src, size_t n);  0 or -EFAULT
 *   int64_t lo_strncpy_in(char *dst, const char *user_src, size_t max);
 *       the length without the NUL, max when no NUL came within max bytes,
 *       or -EFAULT
 *   int64_t lo_touch_write(void *user);  0 or -EFAULT: the byte written with
 *       itself (a locked add of 0: atomic, so a thread writing it meanwhile
 *       loses nothing), which makes the page real and writable
 */
	.text
	.global lo_uaccess_begin, lo_uaccess_end, lo_uaccess_fault
	.global lo_copy_in, lo_copy_out, lo_strncpy_in, lo_touch_write
lo_uaccess_begin:
lo_copy_in:
lo_copy_out:
	movq %rdx, %rcx		/* 8-byte words, then the tail (lo_memcpy says why) */
	shrq $3, %rcx
	rep movsq
	movq %rdx, %rcx
	andq $7, %rcx
	rep movsb
	xorl %eax, %eax
	ret

lo_strncpy_in:
	xorl %eax, %eax
1:	cmpq %rdx, %rax
	je 2f
	movb (%rsi,%rax), %cl
	movb %cl, (%rdi,%rax)
	testb %cl, %cl
	jz 2f
	incq %rax
	jmp 1b
2:	ret

lo_touch_write:
	lock addb $0, (%rdi)
	xorl %eax, %eax
	ret
lo_uaccess_end:

lo_uaccess_fault:
	movq $-14, %rax
	ret

	.section .note.GNU-stack, "", @progbits
