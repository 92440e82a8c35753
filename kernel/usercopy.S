/*
 * uaccess_copy(dst, src, len): rep movsb with SMAP lifted (stac/clac only
 * when the CPU has SMAP: smap_enabled).  Returns 0, or -EFAULT (-14) when
 * the trap handler moved a faulting copy to uaccess_copy_fixup.
 */
.macro stac_if_smap
	cmpb $0, smap_enabled(%rip)
	je 1f
	stac
1:
.endm
.macro clac_if_smap
	cmpb $0, smap_enabled(%rip)
	je 1f
	clac
1:
.endm

	.text
	.global uaccess_copy, uaccess_copy_insn, uaccess_copy_fixup
uaccess_copy:
	movq %rdx, %rcx
	stac_if_smap
uaccess_copy_insn:
	rep movsb
	clac_if_smap
	xorl %eax, %eax
	ret
uaccess_copy_fixup:
	clac_if_smap
	movl $-14, %eax
	ret
