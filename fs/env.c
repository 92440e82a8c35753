/*
 * The core's environment: memory, randomness and time through the host's
 * callbacks, and where the last failure happened.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

/* Allocate zeroed memory through the host's allocator. */
void *cfs_alloc(struct cfs *fs, size_t size)
{
	void *p = fs->cfg.alloc(fs->cfg.ctx, size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Return memory to the host's allocator. */
void cfs_free(struct cfs *fs, void *p)
{
	if (p)
		fs->cfg.free(fs->cfg.ctx, p);
}

/* Random bytes for secrets and nonces: the host's source or the CSPRNG. */
void cfs_rand(struct cfs *fs, void *buf, size_t len)
{
	if (fs->cfg.random)
		fs->cfg.random(fs->cfg.ctx, buf, len);
	else
		cx_random(buf, len);
}

/* Wall-clock time in nanoseconds, 0 when the host gives none. */
uint64_t cfs_now(struct cfs *fs)
{
	return fs->cfg.now_ns ? fs->cfg.now_ns(fs->cfg.ctx) : 0;
}

/* Remember where the last authentication or I/O failure happened. */
void cfs_set_error(struct cfs *fs, uint64_t blkno, uint64_t ino)
{
	fs->err_blkno = blkno;
	fs->err_ino = ino;
}

/* Report the block and inode of the last -EIO (see cfs.h). */
void cfs_last_error(struct cfs *fs, uint64_t *blkno, uint64_t *ino)
{
	*blkno = fs->err_blkno;
	*ino = fs->err_ino;
}
