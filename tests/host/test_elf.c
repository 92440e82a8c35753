/* The ELF parser of execve (libos/elf.c): well-formed static images are
 * described exactly, and each malformed or hostile header is refused with
 * the error Linux gives (ENOEXEC, EINVAL, or EACCES for W^X), never read
 * past the end of the file (ASan watches). */
#include "libos/elf.h"
#include "tests/check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t file[16384];

static void put(uint64_t off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		file[off + i] = (uint8_t)(v >> (8 * i));
}

/* Program header i: type, flags, offset, vaddr, filesz, memsz. */
static void ph(int i, uint32_t type, uint32_t flags, uint64_t off, uint64_t va, uint64_t filesz, uint64_t memsz)
{
	uint64_t p = 64 + (uint64_t)i * 56;
	put(p, type, 4);
	put(p + 4, flags, 4);
	put(p + 8, off, 8);
	put(p + 16, va, 8);
	put(p + 24, va, 8);
	put(p + 32, filesz, 8);
	put(p + 40, memsz, 8);
	put(p + 48, 4096, 8);
}

/* A static ET_EXEC like musl-gcc's: R headers, RX text, RW data + bss. */
static void build(int type, uint64_t base_va, int phnum)
{
	memset(file, 0, sizeof file);
	memcpy(file, "\177ELF\2\1\1", 7);
	put(16, type, 2);
	put(18, 62, 2);
	put(20, 1, 4);
	put(24, base_va + 0x1010, 8);		/* entry in the text */
	put(32, 64, 8);				/* phoff */
	put(52, 64, 2);
	put(54, 56, 2);
	put(56, phnum, 2);
	ph(0, 1, 4, 0, base_va, 0x300, 0x300);
	ph(1, 1, 5, 0x1000, base_va + 0x1000, 0x800, 0x800);
	ph(2, 1, 6, 0x2000, base_va + 0x2000, 0x100, 0x5000);
}

static uint8_t *exact_copy(uint64_t size)
{
	uint8_t *p = malloc(size);
	memcpy(p, file, size);
	return p;
}

static int parse(uint64_t size, struct elf_image *img)
{
	uint8_t *p = exact_copy(size);	/* ASan: nothing past size is read */
	int r = elf_parse(p, size, img);
	free(p);
	return r;
}

static void static_exec(void)
{
	struct elf_image img;
	build(2, 0x400000, 3);
	CHECK_EQ(parse(0x2100, &img), 0);
	CHECK_EQ(img.base, 0);
	CHECK_EQ(img.entry, 0x401010);
	CHECK_EQ(img.phdr, 0x400040);
	CHECK_EQ(img.nseg, 3);
	CHECK_EQ(img.nrun, 3);
	CHECK_EQ(img.run[1].prot, ELF_PROT_R | ELF_PROT_X);
	CHECK_EQ(img.run[2].va, 0x402000);
	CHECK_EQ(img.run[2].pages, 5);
	CHECK_EQ(img.end, 0x407000);
	CHECK_EQ(img.exo, 0);
}

static void static_pie(void)
{
	struct elf_image img;
	build(3, 0, 3);
	CHECK_EQ(parse(0x2100, &img), 0);
	CHECK_EQ(img.base, ELF_PIE_BASE);
	CHECK_EQ(img.entry, ELF_PIE_BASE + 0x1010);
	CHECK_EQ(img.seg[0].vaddr, ELF_PIE_BASE);
	CHECK_EQ(img.phdr, ELF_PIE_BASE + 64);
}

static void exo_note(void)
{
	struct elf_image img;
	build(2, 0x400000, 4);
	ph(3, 4, 4, 0x200, 0x400200, 28, 28);
	put(0x200, 9, 4);
	put(0x204, 4, 4);
	put(0x208, ELF_EXO_NOTE_TYPE, 4);
	memcpy(file + 0x20c, "ExoSwarm", 9);
	CHECK_EQ(parse(0x2100, &img), 0);
	CHECK_EQ(img.exo, 1);
	/* a note whose sizes run past its segment is ignored, not followed */
	put(0x204, 0xfffffff0u, 4);
	CHECK_EQ(parse(0x2100, &img), 0);
	CHECK_EQ(img.exo, 0);
	put(0x204, 4, 4);
	put(0x208, 1, 4);
	CHECK_EQ(parse(0x2100, &img), 0);
	CHECK_EQ(img.exo, 0);
}

static void shared_page_merged(void)
{
	struct elf_image img;
	build(2, 0x400000, 3);
	ph(1, 1, 4, 0x1000, 0x401000, 0x800, 0x800);	/* rodata, R */
	ph(2, 1, 6, 0x1800, 0x401800, 0x100, 0x2000);	/* data on the same page */
	put(24, 0x400010, 8);
	ph(0, 1, 5, 0, 0x400000, 0x300, 0x300);
	CHECK_EQ(parse(0x2100, &img), 0);
	CHECK_EQ(img.nrun, 2);
	CHECK_EQ(img.run[1].prot, ELF_PROT_R | ELF_PROT_W);
	CHECK_EQ(img.run[1].pages, 3);
	/* the shared page would be writable and executable */
	ph(1, 1, 5, 0x1000, 0x401000, 0x800, 0x800);
	put(24, 0x401010, 8);
	CHECK_EQ(parse(0x2100, &img), -EACCES);
}

static void refused(void)
{
	struct elf_image img;
	build(2, 0x400000, 3);
	CHECK_EQ(parse(63, &img), -ENOEXEC);			/* shorter than a header */
	CHECK_EQ(parse(64 + 56, &img), -ENOEXEC);		/* headers cut off */
	CHECK_EQ(parse(0x2000, &img), -ENOEXEC);		/* data past the end */
	file[0] = 0x7e;
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	file[4] = 1;						/* 32-bit */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	put(18, 183, 2);					/* aarch64 */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(1, 0x400000, 3);					/* ET_REL */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	put(54, 32, 2);						/* phentsize */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	put(32, UINT64_MAX - 10, 8);				/* phoff wraps */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 0xffff);				/* too many headers */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 0);
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x402000, 0x200, 0x100);		/* filesz > memsz */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(2, 1, 6, UINT64_MAX - 0xfff, 0x402000, 0x2000, 0x2000);	/* offset + filesz wraps */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x402000, 0x100, UINT64_MAX - 0x1000);	/* vaddr + memsz wraps */
	CHECK_EQ(parse(0x2100, &img), -EINVAL);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x00007fffffff0000ull, 0x100, 0x100);	/* beyond the user range */
	CHECK_EQ(parse(0x2100, &img), -EINVAL);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x00007d0000000000ull, 0x100, 0x100);	/* over the shared segment */
	CHECK_EQ(parse(0x2100, &img), -EINVAL);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x00007e0000002000ull, 0x100, 0x100);	/* over the libOS heap */
	CHECK_EQ(parse(0x2100, &img), -EINVAL);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x00007cfffffff000ull, 0x100, 0x2000);	/* running into the segment */
	CHECK_EQ(parse(0x2100, &img), -EINVAL);
	build(2, 0, 3);						/* page zero */
	CHECK_EQ(parse(0x2100, &img), -EINVAL);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2010, 0x402000, 0x100, 0x100);		/* offset and vaddr disagree mod 4096 */
	CHECK_EQ(parse(0x2200, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(2, 1, 6, 0x2000, 0x401000, 0x100, 0x100);		/* overlaps the text */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(1, 1, 7, 0x1000, 0x401000, 0x800, 0x800);		/* RWX */
	CHECK_EQ(parse(0x2100, &img), -EACCES);
	build(2, 0x400000, 3);
	put(24, 0x402010, 8);					/* entry in data */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(0, 3, 4, 0x200, 0x400200, 16, 16);			/* PT_INTERP: dynamic */
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
	build(2, 0x400000, 3);
	ph(0, 1, 4, 0, 0x400000, 0, 0);				/* empty segments only */
	ph(1, 1, 5, 0, 0x401000, 0, 0);
	ph(2, 1, 6, 0, 0x402000, 0, 0);
	CHECK_EQ(parse(0x2100, &img), -ENOEXEC);
}

/* Random corruption of a valid image: parse must return, and whatever it
 * accepts must lie in the user range with W^X kept. */
static void random_corruption(void)
{
	uint64_t rng = 88172645463325252ull;
	int bad = 0;
	for (int n = 0; n < 200000; n++) {
		build(n & 1 ? 2 : 3, n & 1 ? 0x400000 : 0, 3);
		for (int k = 0; k < 1 + n % 8; k++) {
			rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
			file[rng % 256] = (uint8_t)(rng >> 32);
		}
		struct elf_image img;
		if (parse(0x2100, &img) != 0)
			continue;
		for (int i = 0; i < img.nrun; i++) {
			const struct elf_run *r = &img.run[i];
			if (r->va < 0x10000 || r->va + r->pages * 4096 > ELF_USER_END ||
			    ((r->prot & ELF_PROT_W) && (r->prot & ELF_PROT_X)))
				bad++;
		}
		for (int i = 0; i < img.nseg; i++)
			if (img.seg[i].offset + img.seg[i].filesz > 0x2100 || img.seg[i].filesz > img.seg[i].memsz)
				bad++;
	}
	CHECK_EQ(bad, 0);
}

int main(void)
{
	RUN(static_exec);
	RUN(static_pie);
	RUN(exo_note);
	RUN(shared_page_merged);
	RUN(refused);
	RUN(random_corruption);
	return check_failures_ ? 1 : 0;
}
