/*
 * ELF64 parsing for execve and the personality's loader (libos/elf.h).
 * Every field is checked against the file's size before it is used, with
 * sums written so that they cannot overflow; fields are read byte by byte,
 * so a header at any offset is fine.
 */
#include "libos/elf.h"

#define PAGE 4096ull
#define EH_SIZE 64
#define PH_SIZE 56
#define ET_EXEC 2
#define ET_DYN 3
#define EM_X86_64 62
#define PT_LOAD 1
#define PT_INTERP 3
#define PT_NOTE 4
#define PT_PHDR 6
#define PF_X 1
#define PF_W 2
#define PF_R 4
#define MIN_VA 0x10000ull		/* nothing is mapped below (mmap_min_addr) */
#define E_NOEXEC 8
#define E_ACCES 13
#define E_INVAL 22

static uint64_t rd(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t page_down(uint64_t x) { return x & ~(PAGE - 1); }
static uint64_t page_up(uint64_t x) { return (x + PAGE - 1) & ~(PAGE - 1); }

/* Whether [off, off+len) lies inside a file of size bytes. */
static int inside(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Whether the notes in [off, off+len) of the file name ExoSwarm's. */
static int has_exo_note(const uint8_t *f, uint64_t off, uint64_t len)
{
	static const char name[] = ELF_EXO_NOTE_NAME;
	uint64_t end = off + len;		/* inside the file: checked */

	while (end - off >= 12) {
		uint64_t namesz = rd(f + off, 4), descsz = rd(f + off + 4, 4), type = rd(f + off + 8, 4);
		uint64_t body = off + 12, nlen = (namesz + 3) & ~3ull;
		uint64_t dlen = (descsz + 3) & ~3ull;
		if (nlen > end - body || dlen > end - body - nlen)
			return 0;
		if (type == ELF_EXO_NOTE_TYPE && namesz == sizeof name) {
			int same = 1;
			for (uint64_t i = 0; i < sizeof name; i++)
				same &= f[body + i] == (uint8_t)name[i];
			if (same)
				return 1;
		}
		off = body + nlen + dlen;
	}
	return 0;
}

static int prot_of(uint64_t flags)
{
	return (flags & PF_R ? ELF_PROT_R : 0) | (flags & PF_W ? ELF_PROT_W : 0) |
	       (flags & PF_X ? ELF_PROT_X : 0);
}

/* Checks the ELF header: 0 or -ENOEXEC. */
static int check_header(const uint8_t *f, uint64_t size, struct elf_image *img)
{
	if (size < EH_SIZE || f[0] != 0x7f || f[1] != 'E' || f[2] != 'L' || f[3] != 'F')
		return -E_NOEXEC;
	if (f[4] != 2 || f[5] != 1 || f[6] != 1)		/* 64-bit, little-endian, v1 */
		return -E_NOEXEC;
	img->type = (uint16_t)rd(f + 16, 2);
	if ((img->type != ET_EXEC && img->type != ET_DYN) || rd(f + 18, 2) != EM_X86_64 ||
	    rd(f + 20, 4) != 1 || rd(f + 54, 2) != PH_SIZE)
		return -E_NOEXEC;
	uint64_t phoff = rd(f + 32, 8);
	img->phnum = (uint16_t)rd(f + 56, 2);
	if (img->phnum == 0 || img->phnum > ELF_MAX_PHNUM || !inside(phoff, (uint64_t)img->phnum * PH_SIZE, size))
		return -E_NOEXEC;
	img->base = img->type == ET_DYN ? ELF_PIE_BASE : 0;
	return 0;
}

/* Adds a loadable segment and its pages, merging a page it shares with
 * the previous segment: 0 or -errno. */
static int add_load(struct elf_image *img, const uint8_t *ph, uint64_t size)
{
	uint64_t off = rd(ph + 8, 8), va = rd(ph + 16, 8), filesz = rd(ph + 32, 8), memsz = rd(ph + 40, 8);
	int prot = prot_of(rd(ph + 4, 4));

	if (memsz == 0)
		return 0;
	if (filesz > memsz || !inside(off, filesz, size) || (va - off) % PAGE)
		return -E_NOEXEC;
	if (va > ELF_USER_END - img->base || memsz > ELF_USER_END - img->base - va)
		return -E_INVAL;
	va += img->base;
	if (va < MIN_VA)
		return -E_INVAL;
	if (img->nseg) {
		const struct elf_seg *prev = &img->seg[img->nseg - 1];
		if (va < prev->vaddr + prev->memsz)
			return -E_NOEXEC;		/* out of order or overlapping */
	}
	img->seg[img->nseg++] = (struct elf_seg){ va, memsz, off, filesz };
	uint64_t start = page_down(va), end = page_up(va + memsz);
	struct elf_run *last = img->nrun ? &img->run[img->nrun - 1] : 0;
	if (last && start < last->va + last->pages * PAGE) {
		last->prot |= prot;		/* one shared page */
		last->pages = (end - last->va) / PAGE;
	} else {
		if (img->nrun == ELF_MAX_RUNS)
			return -E_NOEXEC;
		img->run[img->nrun++] = (struct elf_run){ start, (end - start) / PAGE, prot };
	}
	last = &img->run[img->nrun - 1];
	if ((last->prot & ELF_PROT_W) && (last->prot & ELF_PROT_X))
		return -E_ACCES;			/* W^X */
	img->end = end;
	return 0;
}

int elf_parse(const uint8_t *f, uint64_t size, struct elf_image *img)
{
	return elf_parse_head(f, size, size, img);
}

/* Whether the program headers and the notes lie inside the first head
 * bytes (the rest is not looked at): else the caller reads more. */
static int headers_inside(const uint8_t *f, uint64_t head, const struct elf_image *img)
{
	uint64_t phoff = rd(f + 32, 8);
	if (!inside(phoff, (uint64_t)img->phnum * PH_SIZE, head))
		return 0;
	for (uint64_t i = 0; i < img->phnum; i++) {
		const uint8_t *ph = f + phoff + i * PH_SIZE;
		if (rd(ph, 4) == PT_NOTE && !inside(rd(ph + 8, 8), rd(ph + 32, 8), head))
			return 0;
	}
	return 1;
}

int elf_parse_head(const uint8_t *f, uint64_t head, uint64_t size, struct elf_image *img)
{
	*img = (struct elf_image){ 0 };
	if (head < size && head < EH_SIZE)
		return ELF_NEED_WHOLE;
	int err = check_header(f, size, img);
	if (err)
		return err;
	if (!headers_inside(f, head, img))
		return ELF_NEED_WHOLE;
	uint64_t phoff = rd(f + 32, 8), phend = phoff + (uint64_t)img->phnum * PH_SIZE;
	uint64_t phdr_va = 0;
	for (uint64_t i = 0; i < img->phnum; i++) {
		const uint8_t *ph = f + phoff + i * PH_SIZE;
		uint64_t type = rd(ph, 4), off = rd(ph + 8, 8), filesz = rd(ph + 32, 8);
		if (type == PT_INTERP)
			return -E_NOEXEC;		/* dynamically linked: no loader here */
		if (type == PT_NOTE && inside(off, filesz, size) && has_exo_note(f, off, filesz))
			img->exo = 1;
		if (type == PT_PHDR)
			phdr_va = rd(ph + 16, 8);
		if (type == PT_LOAD && (err = add_load(img, ph, size)))
			return err;
	}
	if (img->nseg == 0)
		return -E_NOEXEC;
	/* the program headers' address: PT_PHDR, else the segment holding them */
	for (int i = 0; i < img->nseg && !phdr_va; i++) {
		const struct elf_seg *s = &img->seg[i];
		if (s->offset <= phoff && phend <= s->offset + s->filesz)
			phdr_va = s->vaddr + (phoff - s->offset) - img->base;
	}
	img->phdr = phdr_va ? phdr_va + img->base : 0;
	uint64_t entry = rd(f + 24, 8);
	img->entry = entry + img->base;
	for (int i = 0; i < img->nrun; i++) {
		const struct elf_run *r = &img->run[i];
		if ((r->prot & ELF_PROT_X) && img->entry >= r->va && img->entry - r->va < r->pages * PAGE)
			return 0;
	}
	return -E_NOEXEC;				/* the entry is not in executable code */
}
