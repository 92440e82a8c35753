/* The console font, a PSF file from Debian's console-setup fonts unpacked by
 * the build (FONT_FILE is set in kernel/kernel.mk). */
	.section .rodata
	.balign 16
	.global font_psf, font_psf_end
font_psf:
	.incbin FONT_FILE
font_psf_end:
