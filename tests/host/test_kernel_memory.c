/*
 * Boot-information parsing, the usable-memory map and the frame allocator
 * (kernel/bootinfo.c, memmap.c, frame.c), from Multiboot2 blocks captured
 * on real BIOS and UEFI boots (tests/data/, made by tests/tools/capture-mbinfo)
 * and from synthetic maps with holes, overlaps and memory above 4 GiB.
 */
#include "kernel/bootinfo.h"
#include "kernel/cmdline.h"
#include "kernel/frame.h"
#include "kernel/memmap.h"
#include "tests/check.h"

#include <stdlib.h>
#include <string.h>

#define MiB (1ull << 20)
#define GiB (1ull << 30)

static uint8_t *load(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, "tests/data/%s", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("  cannot open %s\n", path);
		return NULL;
	}
	uint8_t *buf = aligned_alloc(8, 65536);
	*len = fread(buf, 1, 65536, f);
	fclose(f);
	return buf;
}

static int well_formed(const struct memmap *m)
{
	for (int i = 0; i < m->n; i++) {
		if (m->r[i].start % 4096 || m->r[i].end % 4096 || m->r[i].start >= m->r[i].end)
			return 0;
		if (i && m->r[i - 1].end >= m->r[i].start)	/* sorted, disjoint, merged */
			return 0;
	}
	return 1;
}

/* Parses a capture and checks the usable total against the guest's RAM. */
static void check_capture(const char *name, int efi, uint64_t ram, uint64_t slack)
{
	size_t len;
	uint8_t *blob = load(name, &len);
	struct boot_info bi;
	struct memmap m;

	CHECK(blob != NULL);
	if (!blob)
		return;
	CHECK_EQ(bootinfo_parse(&bi, blob, len), 0);
	CHECK_EQ(bi.efi, efi);
	CHECK(bi.mmap_count > 0);
	CHECK(efi ? bi.efi_mmap_count > 0 : bi.efi_mmap == NULL);
	CHECK(bi.rsdp != NULL && memcmp(bi.rsdp, "RSD PTR ", 8) == 0);
	CHECK(bi.cmdline && strstr(bi.cmdline, "mbdump"));
	CHECK(bi.fb.type == (efi ? FB_RGB : FB_TEXT));
	memmap_from_boot(&m, &bi);
	CHECK(well_formed(&m));
	uint64_t total = memmap_total(&m);
	printf("  %s: %d ranges, %llu KiB usable of %llu MiB\n", name, m.n,
	       (unsigned long long)(total >> 10), (unsigned long long)(ram >> 20));
	CHECK(total <= ram && total + slack >= ram);
	if (ram > 4 * GiB)
		CHECK(memmap_highest(&m) > 4 * GiB);
	/* nothing usable may overlap a non-RAM e820 entry */
	for (uint32_t i = 0; i < bi.mmap_count; i++) {
		struct e820_entry e = bootinfo_mmap_entry(&bi, i);
		if (e.type == 1)
			continue;
		for (int j = 0; j < m.n; j++)
			CHECK(m.r[j].end <= e.base || m.r[j].start >= e.base + e.len);
	}
	free(blob);
}

static void bios_256m(void) { check_capture("mbinfo-bios-256M.mbi", 0, 256 * MiB, 2 * MiB); }
static void bios_6g(void) { check_capture("mbinfo-bios-6G.mbi", 0, 6 * GiB, 2 * MiB); }
static void uefi_256m(void) { check_capture("mbinfo-uefi-256M.mbi", 1, 256 * MiB, 24 * MiB); }
static void uefi_6g(void) { check_capture("mbinfo-uefi-6G.mbi", 1, 6 * GiB, 40 * MiB); }

/* Builds a Multiboot2 block holding one memory-map tag with these entries. */
static size_t make_e820_blob(uint8_t *buf, const uint64_t (*ents)[3], int n)
{
	uint32_t *w = (uint32_t *)buf;
	size_t tag = 8, off = tag + 16;

	for (int i = 0; i < n; i++, off += 24) {
		memcpy(buf + off, &ents[i][0], 8);
		memcpy(buf + off + 8, &ents[i][1], 8);
		uint32_t type = (uint32_t)ents[i][2], zero = 0;
		memcpy(buf + off + 16, &type, 4);
		memcpy(buf + off + 20, &zero, 4);
	}
	w[tag / 4] = 6;
	w[tag / 4 + 1] = (uint32_t)(off - tag);
	w[tag / 4 + 2] = 24;
	w[tag / 4 + 3] = 0;
	off = (off + 7) & ~(size_t)7;
	w[off / 4] = 0;
	w[off / 4 + 1] = 8;
	off += 8;
	w[0] = (uint32_t)off;
	w[1] = 0;
	return off;
}

static void holes_overlaps_and_high_memory(void)
{
	static const uint64_t ents[][3] = {
		{ 0, 0x9fc00, 1 },
		{ 0x9fc00, 0x400, 2 },
		{ 0x100000, 0x7ff00000 - 0x100000, 1 },	/* to 2 GiB - 1 MiB */
		{ 0x40000800, 0x1000, 2 },			/* reserved inside RAM, unaligned */
		{ 0xfeffc000, 0x4000, 2 },
		{ 0x100000000, 0x80000000, 1 },			/* 2 GiB above 4 GiB */
		{ 0x17fff0000, 0x20000, 1 },			/* overlaps the end */
	};
	_Alignas(8) uint8_t blob[1024];
	size_t len = make_e820_blob(blob, ents, 7);
	struct boot_info bi;
	struct memmap m;

	CHECK_EQ(bootinfo_parse(&bi, blob, len), 0);
	memmap_from_boot(&m, &bi);
	CHECK(well_formed(&m));
	CHECK_EQ(m.n, 4);
	CHECK_EQ(m.r[0].start, 0);
	CHECK_EQ(m.r[0].end, 0x9f000);		/* 0x9fc00 rounded down */
	CHECK_EQ(m.r[1].end, 0x40000000);	/* up to the reserved page */
	CHECK_EQ(m.r[2].start, 0x40002000);	/* after it, rounded up */
	CHECK_EQ(m.r[3].start, 0x100000000);
	CHECK_EQ(m.r[3].end, 0x180010000);	/* merged with the overlap */

	memmap_reserve(&m, 0, MiB);
	memmap_reserve(&m, 0x50000000, 0x50000001);	/* splits a range */
	CHECK(well_formed(&m));
	CHECK_EQ(m.n, 4);
	uint64_t total = memmap_total(&m);
	uint64_t at = memmap_carve(&m, 10000, 4 * GiB);
	CHECK_EQ(at, MiB);
	CHECK_EQ(memmap_total(&m), total - 3 * 4096);
	CHECK_EQ(memmap_carve(&m, 8 * GiB, UINT64_MAX), 0);
}

static void frame_allocator(void)
{
	static const uint64_t ents[][3] = {
		{ 0, 0xa0000, 1 },
		{ 0x100000, 0x300000, 1 },		/* 1..4 MiB */
		{ 0x100000000, 0x200000, 1 },		/* 2 MiB above 4 GiB */
	};
	_Alignas(8) uint8_t blob[512];
	size_t len = make_e820_blob(blob, ents, 3);
	struct boot_info bi;
	struct memmap m;

	bootinfo_parse(&bi, blob, len);
	memmap_from_boot(&m, &bi);
	memmap_reserve(&m, 0x200000, 0x201000);
	uint64_t usable = memmap_total(&m) / 4096;
	size_t bytes = frames_bitmap_bytes(&m);
	uint64_t *bitmap = malloc(bytes);
	struct frames f;
	frames_init(&f, &m, bitmap);
	CHECK_EQ(f.nfree, usable - 1);		/* frame 0 is never handed out */

	uint64_t *got = malloc(usable * sizeof *got);
	uint64_t n = 0, pa;
	while ((pa = frame_alloc(&f)) != 0) {
		int inside = 0;
		for (int i = 0; i < m.n; i++)
			inside |= pa >= m.r[i].start && pa < m.r[i].end;
		CHECK(inside);
		CHECK(pa % 4096 == 0);
		got[n++] = pa;
	}
	CHECK_EQ(n, usable - 1);
	CHECK_EQ(f.nfree, 0);
	int high = 0;
	for (uint64_t i = 0; i < n; i++)
		high += got[i] >= 0x100000000;
	CHECK_EQ(high, 512);
	for (uint64_t i = 1; i < n; i++)
		CHECK(got[i] != got[i - 1]);
	for (uint64_t i = 0; i < n; i++)
		CHECK_EQ(frame_free(&f, got[i]), 0);
	CHECK_EQ(f.nfree, usable - 1);
	CHECK_EQ(frame_free(&f, got[0]), -22);		/* double free */
	CHECK_EQ(frame_free(&f, 0x200000), -22);	/* reserved */
	CHECK_EQ(frame_free(&f, 0x100001), -22);	/* unaligned */
	CHECK_EQ(frame_free(&f, 0x900000000), -22);	/* beyond the map */
	CHECK_EQ(f.nfree, usable - 1);

	uint64_t run = frame_alloc_contig(&f, 256, 4 * GiB);
	CHECK(run >= 0x100000 && run + 256 * 4096 <= 0x400000);
	CHECK(run >= 0x201000 || run + 256 * 4096 <= 0x200000);
	CHECK_EQ(frame_alloc_contig(&f, 1024, 4 * GiB), 0);	/* no such run */
	CHECK_EQ(f.nfree, usable - 1 - 256);
	free(got);
	free(bitmap);
}

/* The lowest run of n clear bits of bm below top, by bits: what
 * frame_alloc_contig must find (0: none). */
static uint64_t first_fit(const uint64_t *bm, uint64_t n, uint64_t top)
{
	for (uint64_t i = 0, run = 0; i < top; i++) {
		run = (bm[i / 64] >> (i % 64)) & 1 ? 0 : run + 1;
		if (run == n)
			return (i + 1 - n) * 4096;
	}
	return 0;
}

/* frame_alloc_contig, which searches a word at a time from the hint,
 * finds the run a search bit by bit from frame 0 finds, on a bitmap made
 * ragged by single frames allocated and freed at random, for runs of
 * every length up to past a whole word, with and without a limit. */
static void frame_contig_first_fit(void)
{
	static const uint64_t ents[][3] = { { 0x100000, 0x1000000, 1 } };	/* 1..17 MiB */
	_Alignas(8) uint8_t blob[512];
	size_t len = make_e820_blob(blob, ents, 1);
	struct boot_info bi;
	struct memmap m;
	struct frames f;

	bootinfo_parse(&bi, blob, len);
	memmap_from_boot(&m, &bi);
	uint64_t *bitmap = malloc(frames_bitmap_bytes(&m));
	frames_init(&f, &m, bitmap);
	uint64_t total = f.nfree, *held = malloc(total * sizeof *held), nheld = 0;
	uint64_t words = (f.nframes + 63) / 64, *copy = malloc(words * 8);
	uint32_t seed = 12345;
	int found = 0;
	for (int round = 0; round < 400; round++) {
		for (int k = 0; k < 200; k++) {
			seed = seed * 1103515245u + 12345u;
			if ((seed >> 16) % 3 && nheld < total * 3 / 4) {
				uint64_t pa = frame_alloc(&f);
				if (pa)
					held[nheld++] = pa;
			} else if (nheld) {
				uint64_t at = (seed >> 8) % nheld;
				CHECK_EQ(frame_free(&f, held[at]), 0);
				held[at] = held[--nheld];
			}
		}
		seed = seed * 1103515245u + 12345u;
		uint64_t n = 1 + (seed >> 16) % 80;
		uint64_t limit = round % 4 ? UINT64_MAX : 0x100000 + (seed >> 4) % 0x1000000;
		uint64_t top = limit / 4096 < f.nframes ? limit / 4096 : f.nframes;
		memcpy(copy, f.bitmap, words * 8);
		uint64_t want = first_fit(copy, n, top), nfree = f.nfree;
		uint64_t got = frame_alloc_contig(&f, n, limit);
		CHECK_EQ(got, want);
		if (!got)
			continue;
		found++;
		CHECK_EQ(f.nfree, nfree - n);
		for (uint64_t i = 0; i < n; i++)
			CHECK(!frame_is_free(&f, got + i * 4096));
		for (uint64_t i = 0; i < n; i++)
			CHECK_EQ(frame_free(&f, got + i * 4096), 0);
	}
	CHECK(found > 100 && found < 400);	/* runs found and not found */
	free(copy);
	free(held);
	free(bitmap);
}

static void malformed_bootinfo(void)
{
	_Alignas(8) uint8_t blob[64] = {0};
	struct boot_info bi;
	uint32_t *w = (uint32_t *)blob;

	CHECK_EQ(bootinfo_parse(&bi, blob, 8), -22);		/* too short */
	w[0] = 64;
	CHECK_EQ(bootinfo_parse(&bi, blob, 32), -22);		/* total > buffer */
	w[0] = 24; w[2] = 1; w[3] = 4;				/* tag size < 8 */
	CHECK_EQ(bootinfo_parse(&bi, blob, 64), -22);
	w[2] = 1; w[3] = 100;					/* tag past the end */
	CHECK_EQ(bootinfo_parse(&bi, blob, 64), -22);
	w[0] = 16; w[2] = 1; w[3] = 8;				/* no end tag */
	CHECK_EQ(bootinfo_parse(&bi, blob, 64), -22);
	w[0] = 32; w[2] = 1; w[3] = 12;				/* unterminated string */
	memcpy(blob + 16, "abcd", 4);
	w[6] = 0; w[7] = 8;
	CHECK_EQ(bootinfo_parse(&bi, blob, 64), 0);
	CHECK(bi.cmdline == NULL);
}

static void command_line(void)
{
	struct kernel_options o;
	char warn[256];

	CHECK_EQ(cmdline_parse(&o, NULL, warn, sizeof warn), 0);
	CHECK(o.console_serial && o.console_screen && o.loglevel == 6 && !o.test[0]);
	CHECK_EQ(cmdline_parse(&o, "  console=screen\tloglevel=7 test=pagefault mbdump ", warn, sizeof warn), 0);
	CHECK(!o.console_serial && o.console_screen && o.loglevel == 7 && o.mbdump);
	CHECK(strcmp(o.test, "pagefault") == 0);
	CHECK_EQ(cmdline_parse(&o, "console=tty loglevel=9 loglevel= test=", warn, sizeof warn), 4);
	CHECK(strstr(warn, "'tty'") && strstr(warn, "'9'"));
	CHECK(o.console_serial && o.console_screen && o.loglevel == 6);
	CHECK_EQ(cmdline_parse(&o, "a b c d e f g h i j k l m n o p", warn, 16), 16);
	CHECK(strlen(warn) < 16);
}

int main(void)
{
	RUN(bios_256m);
	RUN(bios_6g);
	RUN(uefi_256m);
	RUN(uefi_6g);
	RUN(holes_overlaps_and_high_memory);
	RUN(frame_allocator);
	RUN(frame_contig_first_fit);
	RUN(malformed_bootinfo);
	RUN(command_line);
	return CHECK_EXIT_STATUS();
}
