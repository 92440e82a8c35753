/*
 * The in-memory space map that copy-on-write allocation uses: blocks free
 * in both the working and the last committed map.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"


/* True when the committed space map holds blkno: every block a committed
 * pointer names must be, or the image is corrupt (and reusing it would
 * alias two blocks). */
bool cfs_block_committed(const struct cfs *fs, uint64_t blkno)
{
	return blkno < fs->bm_words * 64 && ((fs->bm_commit[blkno / 64] >> (blkno % 64)) & 1);
}

/* True when the working space map holds blkno. */
bool cfs_block_in_use(const struct cfs *fs, uint64_t blkno)
{
	return (fs->bm_work[blkno / 64] >> (blkno % 64)) & 1;
}

/* Allocate a block free in both the working map and the committed one, so
 * the committed tree is never overwritten before the next commit. */
int cfs_block_alloc(struct cfs *fs, uint64_t *blkno)
{
	uint64_t w = fs->alloc_cursor;

	if (!cfs_may_allocate(fs))
		return -ENOSPC;
	for (uint64_t n = 0; n < fs->bm_words; n++, w++) {
		if (w >= fs->bm_words)
			w = 0;
		uint64_t used = fs->bm_work[w] | fs->bm_commit[w];

		if (used == UINT64_MAX)
			continue;
		int bit = __builtin_ctzll(~used);

		fs->bm_work[w] |= 1ull << bit;
		fs->alloc_cursor = w;
		fs->used_blocks++;
		fs->avail--;
		fs->allocs++;
		*blkno = w * 64 + (uint64_t)bit;
		return 0;
	}
	return -ENOSPC;
}

/* Release a block in the working map and forget any cached copy. */
void cfs_block_free(struct cfs *fs, uint64_t blkno)
{
	if (blkno < CFS_FIRST_DATA_BLOCK || blkno >= fs->sb.nblocks)
		return;
	if (cfs_block_in_use(fs, blkno)) {
		fs->bm_work[blkno / 64] &= ~(1ull << (blkno % 64));
		fs->used_blocks--;
		if (!((fs->bm_commit[blkno / 64] >> (blkno % 64)) & 1))
			fs->avail++;
	}
	cfs_cache_drop(fs, blkno);
}
