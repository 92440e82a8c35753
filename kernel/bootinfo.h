/*
 * Multiboot2 boot information, parsed into plain fields.  The parser checks
 * every length against the block's size, so a malformed block is refused
 * rather than followed off its end.  Portable: the host tests feed it blobs
 * captured from real BIOS and UEFI boots.
 */
#ifndef EXO_KERNEL_BOOTINFO_H
#define EXO_KERNEL_BOOTINFO_H

#include <stddef.h>
#include <stdint.h>

#define BOOT_MAX_MODULES 16

enum fb_type { FB_NONE, FB_RGB, FB_TEXT };

struct boot_framebuffer {
	enum fb_type type;
	uint64_t addr;		/* physical */
	uint32_t pitch, width, height;
	uint8_t bpp;
	uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
};

struct boot_module {
	uint32_t start, end;	/* physical, [start, end) */
	const char *cmdline;
};

struct boot_info {
	uint32_t total_size;
	const char *cmdline;
	const char *loader;
	int efi;			/* booted through UEFI */
	const uint8_t *mmap;		/* BIOS-style (e820) entries */
	uint32_t mmap_entry_size, mmap_count;
	const uint8_t *efi_mmap;	/* EFI memory descriptors */
	uint32_t efi_desc_size, efi_mmap_count;
	struct boot_framebuffer fb;
	const uint8_t *rsdp;		/* copy of the RSDP inside the info */
	uint32_t rsdp_len;
	int rsdp_v2;
	struct boot_module modules[BOOT_MAX_MODULES];
	int nmodules;
};

/* Parses the block at info (at most maxlen bytes readable); 0 or -EINVAL. */
int bootinfo_parse(struct boot_info *bi, const void *info, size_t maxlen);

/* One BIOS memory-map entry, decoded. */
struct e820_entry {
	uint64_t base, len;
	uint32_t type;		/* 1 available, 3 ACPI, 4 NVS, 5 bad, other reserved */
};
struct e820_entry bootinfo_mmap_entry(const struct boot_info *bi, uint32_t i);

/* One EFI memory descriptor, decoded. */
struct efi_mem_desc {
	uint32_t type;
	uint64_t phys, pages;
	uint64_t attr;
};
struct efi_mem_desc bootinfo_efi_entry(const struct boot_info *bi, uint32_t i);

#endif
