/*
 * A RAM block device for CryptoFS tests: a cfs_config over memory that can
 * log every write and flush (for power-loss replay) and stop accepting
 * writes after a cut point.
 */
#ifndef EXO_TESTS_FS_RAMDEV_H
#define EXO_TESTS_FS_RAMDEV_H

#include <stdbool.h>
#include <stdint.h>
#include "fs/cfs.h"

#define RAMDEV_FLUSH UINT64_MAX

struct ramdev_op { uint64_t blkno; uint8_t *data; };   /* blkno RAMDEV_FLUSH = flush */

struct ramdev {
	uint8_t *data;
	uint64_t nblocks;
	uint64_t reads, writes, flushes;
	bool recording;
	struct ramdev_op *log;
	size_t nlog, caplog;
	uint64_t rng;                       /* deterministic randomness for the fs */
	bool deterministic;
};

void ramdev_init(struct ramdev *d, uint64_t nblocks);
void ramdev_free(struct ramdev *d);
void ramdev_config(struct ramdev *d, struct cfs_config *cfg);
void ramdev_log_clear(struct ramdev *d);
/* cfs_config.map for the device (ramdev_config leaves map NULL). */
uint8_t *ramdev_map(void *ctx, uint64_t blkno);
uint64_t ramdev_rand(uint64_t *state);

/* Host allocator callbacks, shared by tests and tools. */
void *ramdev_alloc(void *ctx, size_t size);
void ramdev_dealloc(void *ctx, void *p);

#endif
