/*
 * libFuzzer target: arbitrary bytes as Multiboot2 boot information, through
 * the parser, the memory-map builder and the frame allocator's sizing.  The
 * parser must refuse or accept without reading outside the input, and what
 * it accepts must give a well-formed map.
 */
#include "kernel/bootinfo.h"
#include "kernel/memmap.h"
#include "kernel/frame.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the kernel gets an 8-byte-aligned block; give the parser exactly
	 * size bytes so ASan sees any read past them */
	uint8_t *buf = aligned_alloc(8, (size + 7) & ~(size_t)7 ? (size + 7) & ~(size_t)7 : 8);
	struct boot_info bi;
	struct memmap m;

	memcpy(buf, data, size);
	if (bootinfo_parse(&bi, buf, size) == 0) {
		memmap_from_boot(&m, &bi);
		for (int i = 0; i < m.n; i++) {
			if (m.r[i].start >= m.r[i].end || (i && m.r[i - 1].end >= m.r[i].start))
				abort();
		}
		memmap_reserve(&m, 0, 1 << 20);
		(void)frames_bitmap_bytes(&m);
		(void)memmap_carve(&m, 4096, 1ull << 32);
		for (int i = 0; i < bi.nmodules; i++)
			if (bi.modules[i].cmdline)
				(void)strlen(bi.modules[i].cmdline);
		if (bi.cmdline)
			(void)strlen(bi.cmdline);
	}
	free(buf);
	return 0;
}
