/* RAM block device for CryptoFS tests (see ramdev.h). */
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "tests/fs/ramdev.h"

/* xorshift64*: reproducible randomness from a seed. */
uint64_t ramdev_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

void *ramdev_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

void ramdev_dealloc(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static void log_op(struct ramdev *d, uint64_t blkno, const void *buf)
{
	if (d->nlog == d->caplog) {
		d->caplog = d->caplog ? 2 * d->caplog : 1024;
		d->log = realloc(d->log, d->caplog * sizeof *d->log);
	}
	d->log[d->nlog].blkno = blkno;
	d->log[d->nlog].data = NULL;
	if (buf) {
		d->log[d->nlog].data = malloc(CFS_BLOCK_SIZE);
		memcpy(d->log[d->nlog].data, buf, CFS_BLOCK_SIZE);
	}
	d->nlog++;
}

static int dev_read(void *ctx, uint64_t blkno, void *buf)
{
	struct ramdev *d = ctx;

	if (blkno >= d->nblocks)
		return -5;
	__atomic_fetch_add(&d->reads, 1, __ATOMIC_RELAXED);   /* may run on helper threads */
	memcpy(buf, d->data + blkno * CFS_BLOCK_SIZE, CFS_BLOCK_SIZE);
	return 0;
}

static int dev_write(void *ctx, uint64_t blkno, const void *buf)
{
	struct ramdev *d = ctx;

	if (blkno >= d->nblocks)
		return -5;
	__atomic_fetch_add(&d->writes, 1, __ATOMIC_RELAXED);
	if (d->recording)
		log_op(d, blkno, buf);
	memcpy(d->data + blkno * CFS_BLOCK_SIZE, buf, CFS_BLOCK_SIZE);
	return 0;
}

static int dev_flush(void *ctx)
{
	struct ramdev *d = ctx;

	d->flushes++;
	if (d->recording)
		log_op(d, RAMDEV_FLUSH, NULL);
	return 0;
}

static void dev_random(void *ctx, void *buf, size_t len)
{
	struct ramdev *d = ctx;
	uint8_t *p = buf;

	if (!d->deterministic) {
		cx_random(buf, len);
		return;
	}
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(ramdev_rand(&d->rng) >> 56);
}

static uint64_t dev_now(void *ctx)
{
	struct ramdev *d = ctx;

	return 1700000000ull * 1000000000ull + d->writes;
}

/* Direct access to a block's storage (cfs_config.map); not for recording. */
uint8_t *ramdev_map(void *ctx, uint64_t blkno)
{
	struct ramdev *d = ctx;

	if (blkno >= d->nblocks || d->recording)
		return NULL;
	__atomic_fetch_add(&d->writes, 1, __ATOMIC_RELAXED);
	return d->data + blkno * CFS_BLOCK_SIZE;
}

void ramdev_init(struct ramdev *d, uint64_t nblocks)
{
	memset(d, 0, sizeof *d);
	d->nblocks = nblocks;
	d->data = calloc(nblocks, CFS_BLOCK_SIZE);
	d->rng = 0x1234567887654321ull;
}

void ramdev_log_clear(struct ramdev *d)
{
	for (size_t i = 0; i < d->nlog; i++)
		free(d->log[i].data);
	d->nlog = 0;
}

void ramdev_free(struct ramdev *d)
{
	ramdev_log_clear(d);
	free(d->log);
	free(d->data);
	memset(d, 0, sizeof *d);
}

void ramdev_config(struct ramdev *d, struct cfs_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->ctx = d;
	cfg->nblocks = d->nblocks;
	cfg->read = dev_read;
	cfg->write = dev_write;
	cfg->flush = dev_flush;
	cfg->alloc = ramdev_alloc;
	cfg->free = ramdev_dealloc;
	cfg->random = dev_random;
	cfg->now_ns = dev_now;
	cfg->cache_blocks = 64;
}
