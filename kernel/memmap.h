/*
 * The usable physical memory, as a sorted list of disjoint page-aligned
 * ranges.  Built from the boot memory map (the EFI map when the firmware gave
 * one, else the BIOS e820 entries), then the kernel image, modules, boot
 * information and the first MiB are taken out.  Portable and host-tested.
 */
#ifndef EXO_KERNEL_MEMMAP_H
#define EXO_KERNEL_MEMMAP_H

#include <stdint.h>

#include "kernel/bootinfo.h"

#define MEMMAP_MAX 128

struct mem_range {
	uint64_t start, end;	/* [start, end) */
};

struct memmap {
	struct mem_range r[MEMMAP_MAX];
	int n;
	int dropped;		/* ranges lost because the table was full */
};

/* Usable RAM from the boot information (no reservations applied yet). */
void memmap_from_boot(struct memmap *m, const struct boot_info *bi);

/* Adds [start, end) (page-aligned inwards), merging with neighbours. */
void memmap_add(struct memmap *m, uint64_t start, uint64_t end);

/* Removes [start, end) (page-aligned outwards) from the usable ranges. */
void memmap_reserve(struct memmap *m, uint64_t start, uint64_t end);

uint64_t memmap_total(const struct memmap *m);
uint64_t memmap_highest(const struct memmap *m);

/* Takes the lowest size bytes (page-rounded) lying wholly below limit out
 * of the map and returns their start, or 0 when no range is big enough. */
uint64_t memmap_carve(struct memmap *m, uint64_t size, uint64_t limit);

#endif
