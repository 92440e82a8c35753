/*
 * A disk of 4 KiB blocks over a BLOCK capability (docs/ABI.md, "NIC and
 * block rings"), in the shape CryptoFS's struct cfs_config asks for:
 * read/write one block, flush.  Writes are staged and go to the device in
 * batches of up to EXO_RING_BATCH requests, one doorbell each; a read of a
 * staged block is served from the stage, and a read from the disk brings
 * the next blocks along in the same request (read-ahead).  Every wait is a notification
 * wait on the ring, never a spin.
 */
#ifndef EXO_LIBOS_BLOCKDEV_H
#define EXO_LIBOS_BLOCKDEV_H

#include <stdint.h>

#include "include/exo/abi.h"

#define BLOCKDEV_STAGE EXO_RING_BATCH	/* staged blocks per batch */
#define BLOCKDEV_AHEAD 16		/* blocks one read brings in (64 KiB) */
#define BLOCKDEV_PAGES (BLOCKDEV_STAGE + BLOCKDEV_AHEAD)

struct blockdev {
	int64_t cap, note, frames;	/* BLOCK cap, its notification, DMA frames */
	uint8_t *mem;			/* the frames: STAGE blocks, then one for reads */
	uint64_t nblocks;
	uint32_t sectors_per_block;
	uint32_t batch;			/* requests per submit (halved on -EAGAIN) */
	uint32_t staged;
	uint64_t staged_blk[BLOCKDEV_STAGE];
	uint64_t ahead_first, ahead_count;	/* blocks held in the read pages */
	uint64_t last_read;			/* read ahead only after it */
	int can_flush, read_only;
	uint64_t doorbells, requests;	/* counted for docs/PERFORMANCE.md */
	uint64_t silent_waits;		/* 1 s waits that ended without a signal */
};

/* Takes the disk behind BLOCK cap slot; buffers live at va
 * (BLOCKDEV_PAGES pages the caller keeps free).  0 or -errno. */
int blockdev_open(struct blockdev *d, int64_t cap, uint64_t va);
/* Gives back what blockdev_open took but the BLOCK cap and the
 * notification, whose slot it returns: an execve hands the disk to the
 * next image, which opens it again with blockdev_reopen on the same
 * notification (nothing to rebind). */
int64_t blockdev_close(struct blockdev *d);
/* blockdev_open with the notification note the disk is bound to already
 * (0: a new one). */
int blockdev_reopen(struct blockdev *d, int64_t cap, uint64_t va, int64_t note);
/* struct cfs_config callbacks: ctx is the struct blockdev. */
int blockdev_read(void *ctx, uint64_t blkno, void *out);
int blockdev_write(void *ctx, uint64_t blkno, const void *in);
int blockdev_flush(void *ctx);

#endif
