/*
 * The physical frame allocator: one bit per 4 KiB frame from address 0 to
 * the top of usable memory (1 = in use), so holes and reserved areas simply
 * stay marked.  Searches start at a moving hint and skip full 64-frame words.
 * Beside the bitmap, a 32-bit count per frame of the capabilities that keep
 * it allocated (kernel/cap.c says which do): a frame handed to user space is
 * freed when its last one goes.  32 bits, so that no number of caps the
 * kernel's memory can hold overflows it.
 * Portable: the kernel gives it a bitmap in the direct map, tests a buffer.
 */
#ifndef EXO_KERNEL_FRAME_H
#define EXO_KERNEL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/memmap.h"

struct frames {
	uint64_t *bitmap;
	uint64_t nframes;	/* frames covered: [0, nframes * 4096) */
	uint64_t nfree;
	uint64_t hint;		/* word index to search from: every word below is full */
	uint32_t *refs;		/* per frame: capabilities keeping it (after the bitmap) */
	struct memmap usable;	/* what may ever be freed */
};

/* Bytes of bitmap and reference counts needed to cover the usable ranges of m. */
size_t frames_bitmap_bytes(const struct memmap *m);

/* Marks every frame in a usable range of m free, everything else in use;
 * bitmap has frames_bitmap_bytes(m) bytes. */
void frames_init(struct frames *f, const struct memmap *m, uint64_t *bitmap);

/* Returns the physical address of a free frame, or 0 when none is left. */
uint64_t frame_alloc(struct frames *f);

/* The lowest run of n physically contiguous free frames, all below limit;
 * 0 when there is none. */
uint64_t frame_alloc_contig(struct frames *f, uint64_t n, uint64_t limit);

/* Frees the frame at pa: 0, or -EINVAL if pa is unaligned, not in a usable
 * range (reserved, frame 0) or already free; a bad free changes nothing. */
int frame_free(struct frames *f, uint64_t pa);

int frame_is_free(const struct frames *f, uint64_t pa);

/* Adds a reference to each allocated frame of the range (one per holding
 * cap, so the 32-bit count cannot fill). */
void frame_ref(struct frames *f, uint64_t first_pfn, uint64_t count);
/* Drops a reference from each frame of the range and frees those that
 * reach none; returns how many were freed. */
uint64_t frame_unref(struct frames *f, uint64_t first_pfn, uint64_t count);
uint32_t frame_refs(const struct frames *f, uint64_t pfn);

#endif
