/* Multiboot2 boot information parser; see bootinfo.h. */
#include "kernel/bootinfo.h"

#include <errno.h>
#include <string.h>

enum {
	TAG_END = 0, TAG_CMDLINE = 1, TAG_LOADER = 2, TAG_MODULE = 3,
	TAG_MEMINFO = 4, TAG_MMAP = 6, TAG_FRAMEBUFFER = 8, TAG_EFI64 = 12,
	TAG_ACPI_OLD = 14, TAG_ACPI_NEW = 15, TAG_EFI_MMAP = 17,
	TAG_EFI_BS_NOT_TERMINATED = 18, TAG_EFI64_IMAGE = 20,
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* A string field must be NUL-terminated inside its tag. */
static const char *tag_string(const uint8_t *s, uint32_t len)
{
	return len > 0 && memchr(s, 0, len) ? (const char *)s : NULL;
}

static int parse_framebuffer(struct boot_info *bi, const uint8_t *t, uint32_t size)
{
	if (size < 32)
		return -EINVAL;
	struct boot_framebuffer *fb = &bi->fb;
	fb->addr = rd64(t + 8);
	fb->pitch = rd32(t + 16);
	fb->width = rd32(t + 20);
	fb->height = rd32(t + 24);
	fb->bpp = t[28];
	switch (t[29]) {
	case 1:
		if (size < 38)
			return -EINVAL;
		fb->type = FB_RGB;
		/* type is followed by a 16-bit reserved field */
		fb->red_pos = t[32];   fb->red_size = t[33];
		fb->green_pos = t[34]; fb->green_size = t[35];
		fb->blue_pos = t[36];  fb->blue_size = t[37];
		if (fb->bpp != 32 && fb->bpp != 24 && fb->bpp != 16)
			fb->type = FB_NONE;
		break;
	case 2:
		fb->type = FB_TEXT;
		break;
	default:
		fb->type = FB_NONE;	/* indexed colour: not supported */
		break;
	}
	if (fb->width == 0 || fb->height == 0 || fb->pitch == 0)
		fb->type = FB_NONE;
	return 0;
}

static int parse_tag(struct boot_info *bi, const uint8_t *t, uint32_t type, uint32_t size)
{
	switch (type) {
	case TAG_CMDLINE:
		bi->cmdline = tag_string(t + 8, size - 8);
		break;
	case TAG_LOADER:
		bi->loader = tag_string(t + 8, size - 8);
		break;
	case TAG_MODULE:
		if (size < 17 || bi->nmodules == BOOT_MAX_MODULES)
			return size < 17 ? -EINVAL : 0;
		bi->modules[bi->nmodules].start = rd32(t + 8);
		bi->modules[bi->nmodules].end = rd32(t + 12);
		bi->modules[bi->nmodules].cmdline = tag_string(t + 16, size - 16);
		if (bi->modules[bi->nmodules].end < bi->modules[bi->nmodules].start)
			return -EINVAL;
		bi->nmodules++;
		break;
	case TAG_MMAP: {
		if (size < 16)
			return -EINVAL;
		uint32_t esize = rd32(t + 8);
		if (esize < 24 || esize % 8)
			return -EINVAL;
		bi->mmap = t + 16;
		bi->mmap_entry_size = esize;
		bi->mmap_count = (size - 16) / esize;
		break;
	}
	case TAG_EFI_MMAP: {
		if (size < 16)
			return -EINVAL;
		uint32_t dsize = rd32(t + 8);
		if (dsize < 40)
			return -EINVAL;
		bi->efi_mmap = t + 16;
		bi->efi_desc_size = dsize;
		bi->efi_mmap_count = (size - 16) / dsize;
		bi->efi = 1;
		break;
	}
	case TAG_FRAMEBUFFER:
		return parse_framebuffer(bi, t, size);
	case TAG_EFI64:
	case TAG_EFI64_IMAGE:
	case TAG_EFI_BS_NOT_TERMINATED:
		bi->efi = 1;
		break;
	case TAG_ACPI_OLD:
	case TAG_ACPI_NEW:
		/* prefer the ACPI 2.0+ copy, whichever order they come in */
		if (size < 8 + 20 || (bi->rsdp_v2 && type == TAG_ACPI_OLD))
			break;
		bi->rsdp = t + 8;
		bi->rsdp_len = size - 8;
		bi->rsdp_v2 = type == TAG_ACPI_NEW;
		break;
	default:
		break;
	}
	return 0;
}

int bootinfo_parse(struct boot_info *bi, const void *info, size_t maxlen)
{
	const uint8_t *p = info;

	memset(bi, 0, sizeof *bi);
	if (maxlen < 16)
		return -EINVAL;
	uint32_t total = rd32(p);
	if (total < 16 || total > maxlen || (uintptr_t)p % 8)
		return -EINVAL;
	bi->total_size = total;
	for (uint32_t off = 8; off + 8 <= total;) {
		uint32_t type = rd32(p + off), size = rd32(p + off + 4);
		if (size < 8 || size > total - off)
			return -EINVAL;
		if (type == TAG_END)
			return 0;
		int err = parse_tag(bi, p + off, type, size);
		if (err)
			return err;
		off += (size + 7) & ~7u;
	}
	return -EINVAL;		/* no end tag */
}

struct e820_entry bootinfo_mmap_entry(const struct boot_info *bi, uint32_t i)
{
	const uint8_t *e = bi->mmap + (size_t)i * bi->mmap_entry_size;
	return (struct e820_entry){ rd64(e), rd64(e + 8), rd32(e + 16) };
}

struct efi_mem_desc bootinfo_efi_entry(const struct boot_info *bi, uint32_t i)
{
	const uint8_t *d = bi->efi_mmap + (size_t)i * bi->efi_desc_size;
	return (struct efi_mem_desc){ rd32(d), rd64(d + 8), rd64(d + 24), rd64(d + 32) };
}
