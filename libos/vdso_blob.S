/* The vDSO (build/libos/vdso.so, see vdso.c), embedded page-aligned in the
 * text so it runs where it lies: musl reads it through AT_SYSINFO_EHDR. */
	.section .text
	.balign 4096
	.global libos_vdso
libos_vdso:
	.incbin VDSO_FILE
	.balign 4096
	.section .note.GNU-stack, "", @progbits
