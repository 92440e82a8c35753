/*
 * A disk of 4 KiB blocks over a BLOCK capability (docs/ABI.md, "NIC and
 * block rings"), in the shape CryptoFS's struct cfs_config asks for:
 * read/write one block, flush.  Writes are staged and go to the device in
 * batches of up to EXO_RING_BATCH requests, one doorbell each; a read of a
 * staged block is served from the stage.  Every wait is a notification
 * wait on the ring, never a spin.
 */
#ifndef EXO_LIBOS_BLOCKDEV_H
#define EXO_LIBOS_BLOCKDEV_H

#include <stdint.h>

#include "include/exo/abi.h"

#define BLOCKDEV_STAGE EXO_RING_BATCH	/* staged blocks per batch */

struct blockdev {
	int64_t cap, note, frames;	/* BLOCK cap, its notification, DMA frames */
	uint8_t *mem;			/* the frames: STAGE blocks, then one for reads */
	uint64_t nblocks;
	uint32_t sectors_per_block;
	uint32_t batch;			/* requests per submit (halved on -EAGAIN) */
	uint32_t staged;
	uint64_t staged_blk[BLOCKDEV_STAGE];
	int can_flush, read_only;
	uint64_t doorbells, requests;	/* counted for docs/PERFORMANCE.md */
};

/* Takes the disk behind BLOCK cap slot; buffers live at va (BLOCKDEV_STAGE
 * + 1 pages the caller keeps free).  0 or -errno. */
int blockdev_open(struct blockdev *d, int64_t cap, uint64_t va);
/* struct cfs_config callbacks: ctx is the struct blockdev. */
int blockdev_read(void *ctx, uint64_t blkno, void *out);
int blockdev_write(void *ctx, uint64_t blkno, const void *in);
int blockdev_flush(void *ctx);

#endif
