/*
 * libFuzzer target: arbitrary bytes as an executable through execve's ELF
 * parser (libos/elf.c).  It must refuse or accept without reading outside
 * the input, and what it accepts must be loadable: segments inside the file
 * and the user range, page runs in order, W^X kept, the entry in code.
 */
#include "libos/elf.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);	/* exactly size bytes for ASan */
	struct elf_image img;

	memcpy(buf, data, size);
	if (elf_parse(buf, size, &img) == 0) {
		int in_code = 0;
		for (int i = 0; i < img.nseg; i++)
			if (img.seg[i].filesz > img.seg[i].memsz || img.seg[i].offset > size ||
			    img.seg[i].filesz > size - img.seg[i].offset)
				abort();
		for (int i = 0; i < img.nrun; i++) {
			const struct elf_run *r = &img.run[i];
			if (r->va < 0x10000 || r->pages == 0 || r->va + r->pages * 4096 > ELF_USER_END ||
			    ((r->prot & ELF_PROT_W) && (r->prot & ELF_PROT_X)) ||
			    (i && r->va < img.run[i - 1].va + img.run[i - 1].pages * 4096))
				abort();
			if ((r->prot & ELF_PROT_X) && img.entry >= r->va && img.entry < r->va + r->pages * 4096)
				in_code = 1;
		}
		if (!in_code)
			abort();
	}
	free(buf);
	return 0;
}
