/*
 * Multiboot2 header.  GRUB reads it from the first 32 KiB of the image.  We
 * ask for the command line, modules, memory maps (BIOS and EFI), the
 * framebuffer and both ACPI RSDP copies, and say that modules must be page
 * aligned.  No EFI boot-services tag: GRUB exits boot services for us.
 */
#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

	.section .multiboot2, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

	/* information request: every tag here is required of the loader */
	.balign 8
1:	.short 1, 0
	.long 2f - 1b
	.long 1		/* command line */
	.long 3		/* modules */
	.long 6		/* memory map */
	.long 14	/* ACPI old RSDP */
	.long 15	/* ACPI new RSDP */
2:
	/* information request the loader may decline (flag 1 = optional) */
	.balign 8
1:	.short 1, 1
	.long 2f - 1b
	.long 2		/* boot loader name */
	.long 4		/* basic memory info */
	.long 8		/* framebuffer */
	.long 12	/* EFI 64-bit system table */
	.long 17	/* EFI memory map */
2:
	/* console flags: EGA text is supported (so BIOS boots get text mode) */
	.balign 8
1:	.short 4, 1
	.long 12
	.long 2
	/*
	 * No framebuffer tag: GRUB would let it override gfxpayload.  Without
	 * it, grub.cfg decides: EGA text under BIOS, the GOP mode under UEFI
	 * (no VGA text there), reported in the framebuffer information tag.
	 */
	/* page-align modules */
	.balign 8
1:	.short 6, 0
	.long 8
	/* end */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:
