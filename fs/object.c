/*
 * Objects: radix trees of 64-way pointer blocks over numbered leaf blocks.
 * Files, directories, the inode table and the space map are all objects.
 * Writing a leaf copies the path above it to fresh addresses (copy-on-write)
 * unless those blocks were already allocated in the running transaction.
 */
#include <errno.h>
#include <string.h>
#include "fs/cfs_internal.h"

/* Number of leaf blocks a tree of this height can address. */
uint64_t cfs_obj_capacity(int height)
{
	return 1ull << (CFS_FANOUT_SHIFT * height);
}

/* The index of the node at this level that covers leaf index. */
static uint64_t at_level(uint64_t index, int level)
{
	return index >> (CFS_FANOUT_SHIFT * level);
}

/* A pointer block's contents as its 64 pointers. */
static struct cfs_ptr *ptrs(uint8_t *data)
{
	return (struct cfs_ptr *)(void *)data;
}

/* Record a corrupt pointer (the block and object -EIO names) and fail. */
static int corrupt(struct cfs *fs, uint64_t blkno, uint64_t obj)
{
	cfs_set_error(fs, blkno, obj);
	return -EIO;
}

/* A leaf written straight to the device in this transaction (see
 * cfs_obj_write_direct): uncommitted, allocated, and marked in its
 * pointer with this mount's random fresh mark, which no pointer read from
 * the disk carries. */
static bool fresh_leaf(const struct cfs *fs, int level, const struct cfs_ptr *p)
{
	return level == 0 && p->reserved == fs->fresh_mark && p->blkno >= CFS_FIRST_DATA_BLOCK &&
	       p->blkno < fs->sb.nblocks && cfs_block_in_use(fs, p->blkno) &&
	       !cfs_block_committed(fs, p->blkno);
}

/* The leaf at index, or *data = NULL for a hole.  The pointer is valid until
 * the next cache operation. */
int cfs_obj_read(struct cfs *fs, const struct cfs_obj *o, uint64_t index, const uint8_t **data)
{
	int h = *o->height;
	struct cfs_ptr p = *o->root;
	struct cfs_cblock *b;

	*data = NULL;
	if (h > CFS_MAX_HEIGHT)
		return corrupt(fs, p.blkno, o->id);
	if (index >= cfs_obj_capacity(h))
		return 0;
	for (int level = h;; level--) {
		if (p.blkno == 0)
			return 0;
		int rc = cfs_cache_get(fs, o, level, at_level(index, level), &p, &b);

		if (rc < 0)
			return rc;
		if (level == 0) {
			*data = b->data;
			return 0;
		}
		p = ptrs(b->data)[at_level(index, level - 1) % CFS_FANOUT];
	}
}

/* The pointer to leaf index (a hole gives blkno 0), walking the pointer
 * blocks through the cache. */
int cfs_obj_leaf_ptr(struct cfs *fs, const struct cfs_obj *o, uint64_t index, struct cfs_ptr *out)
{
	int h = *o->height;
	struct cfs_ptr p = *o->root;
	struct cfs_cblock *b;

	if (h > CFS_MAX_HEIGHT)
		return corrupt(fs, p.blkno, o->id);
	if (index >= cfs_obj_capacity(h))
		p.blkno = 0;
	for (int level = h; level > 0 && p.blkno; level--) {
		int rc = cfs_cache_get(fs, o, level, at_level(index, level), &p, &b);

		if (rc < 0)
			return rc;
		p = ptrs(b->data)[at_level(index, level - 1) % CFS_FANOUT];
	}
	*out = p;
	return 0;
}

/* The pointers to leaves first.. (up to max, and only as far as the end of
 * first's parent, so one walk serves them all) into out; *n says how many. */
int cfs_obj_leaf_run(struct cfs *fs, const struct cfs_obj *o, uint64_t first, size_t max,
		     struct cfs_ptr *out, size_t *n)
{
	int h = *o->height;
	struct cfs_ptr p = *o->root;
	struct cfs_cblock *b;
	size_t room = CFS_FANOUT - first % CFS_FANOUT;

	*n = 0;
	if (h > CFS_MAX_HEIGHT)
		return corrupt(fs, p.blkno, o->id);
	if (h == 0 || first >= cfs_obj_capacity(h)) {
		int rc = cfs_obj_leaf_ptr(fs, o, first, out);

		*n = rc < 0 ? 0 : 1;
		return rc;
	}
	for (int level = h; level > 1 && p.blkno; level--) {
		int rc = cfs_cache_get(fs, o, level, at_level(first, level), &p, &b);

		if (rc < 0)
			return rc;
		p = ptrs(b->data)[at_level(first, level - 1) % CFS_FANOUT];
	}
	*n = max < room ? max : room;
	if (p.blkno == 0) {             /* a hole as large as the parent */
		memset(out, 0, *n * sizeof *out);
		return 0;
	}
	int rc = cfs_cache_get(fs, o, 1, at_level(first, 1), &p, &b);

	if (rc < 0) {
		*n = 0;
		return rc;
	}
	memcpy(out, &ptrs(b->data)[first % CFS_FANOUT], *n * sizeof *out);
	return 0;
}

/* Read leaf index straight into out (CFS_BLOCK_SIZE bytes) without caching
 * it, unless it is cached already: streaming reads then cost one decryption
 * and no copy, and do not push metadata out of the cache. */
int cfs_obj_read_into(struct cfs *fs, const struct cfs_obj *o, uint64_t index, uint8_t *out)
{
	struct cfs_ptr p;
	struct cfs_cblock *b;
	int rc = cfs_obj_leaf_ptr(fs, o, index, &p);

	if (rc < 0)
		return rc;
	if (p.blkno == 0) {
		memset(out, 0, CFS_BLOCK_SIZE);
		return 0;
	}
	b = cfs_cache_lookup(fs, p.blkno);
	if (b) {
		int rc = cfs_cache_get(fs, o, 0, index, &p, &b);

		if (rc == 0)
			memcpy(out, b->data, CFS_BLOCK_SIZE);
		return rc;
	}
	return cfs_open_block(fs, o, 0, index, &p, out);
}

/* A fresh leaf becomes an ordinary dirty cached block where it is. */
static int cache_fresh_leaf(struct cfs *fs, const struct cfs_obj *o, uint64_t index,
			    struct cfs_ptr *p, enum cfs_fill fill, uint8_t **data)
{
	struct cfs_cblock *b = cfs_cache_lookup(fs, p->blkno);
	int rc;

	if (fill == CFS_ZERO && !b) {
		rc = cfs_cache_new_dirty(fs, p->blkno, &b);
	} else {
		rc = cfs_cache_get(fs, o, 0, index, p, &b);
		if (rc == 0)
			cfs_cache_make_dirty(fs, b, p->blkno);
	}
	if (rc < 0)
		return rc;
	b->owner = o->id;
	b->level = 0;
	p->reserved = 0;
	*data = b->data;
	return 0;
}

/* Make the block *p points to writable in this transaction: allocate it if
 * it is a hole, move it to a fresh address if it is committed. */
static int dirty_ptr(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
		     struct cfs_ptr *p, enum cfs_fill fill, uint8_t **data)
{
	struct cfs_cblock *b = NULL;
	uint64_t nb, old = p->blkno;
	int rc;

	if (old) {
		b = cfs_cache_lookup(fs, old);
		if (b && b->dirty) {
			if (!cfs_dirty_owned(b, o, level))
				return corrupt(fs, old, o->id);
			*data = b->data;
			return 0;
		}
		if (fresh_leaf(fs, level, p))   /* b, if any, is a clean copy */
			return cache_fresh_leaf(fs, o, nidx, p, fill, data);
		if (!cfs_block_committed(fs, old))
			return corrupt(fs, old, o->id);
	}
	rc = cfs_block_alloc(fs, &nb);
	if (rc < 0)
		return rc;
	if (old && !(fill == CFS_ZERO && level == 0 && !b)) {
		if (!b)
			rc = cfs_cache_get(fs, o, level, nidx, p, &b);
		if (rc < 0) {
			cfs_block_free(fs, nb);
			return rc;
		}
		cfs_cache_make_dirty(fs, b, nb);
	} else {
		rc = cfs_cache_new_dirty(fs, nb, &b);
		if (rc < 0) {
			cfs_block_free(fs, nb);
			return rc;
		}
	}
	if (old)
		cfs_block_free(fs, old);
	b->owner = o->id;
	b->level = level;
	memset(p, 0, sizeof *p);
	p->blkno = nb;
	fs->dirty = true;
	*data = b->data;
	return 0;
}

/* Raise the tree until it can address index. */
static int obj_grow(struct cfs *fs, struct cfs_obj *o, uint64_t index)
{
	while (index >= cfs_obj_capacity(*o->height)) {
		struct cfs_cblock *b;
		uint64_t nb;
		int rc;

		if (*o->height >= CFS_MAX_HEIGHT)
			return -EFBIG;
		if (o->root->blkno) {
			rc = cfs_block_alloc(fs, &nb);
			if (rc < 0)
				return rc;
			rc = cfs_cache_new_dirty(fs, nb, &b);
			if (rc < 0) {
				cfs_block_free(fs, nb);
				return rc;
			}
			b->owner = o->id;
			b->level = *o->height + 1;
			ptrs(b->data)[0] = *o->root;
			memset(o->root, 0, sizeof *o->root);
			o->root->blkno = nb;
			fs->dirty = true;
		}
		(*o->height)++;
	}
	return 0;
}

/* A writable leaf at index (zero-filled when fill is CFS_ZERO and the caller
 * overwrites all of it).  The buffer stays valid until the commit. */
int cfs_obj_write(struct cfs *fs, struct cfs_obj *o, uint64_t index, enum cfs_fill fill,
		  uint8_t **data)
{
	struct cfs_ptr *p = o->root;
	uint8_t *d;
	int rc;

	if (*o->height > CFS_MAX_HEIGHT)
		return -EIO;
	rc = obj_grow(fs, o, index);
	if (rc < 0)
		return rc;
	for (int level = *o->height;; level--) {
		rc = dirty_ptr(fs, o, level, at_level(index, level), p,
			       level == 0 ? fill : CFS_LOAD, &d);
		if (rc < 0)
			return rc;
		if (level == 0) {
			*data = d;
			return 0;
		}
		p = &ptrs(d)[at_level(index, level - 1) % CFS_FANOUT];
	}
}

/* Point leaf pointer *p at a block it may overwrite in this transaction,
 * marked fresh; the caller seals into it. */
static int direct_leaf(struct cfs *fs, const struct cfs_obj *o, struct cfs_ptr *p)
{
	uint64_t nb, old = p->blkno;
	int rc;

	if (old) {
		struct cfs_cblock *b = cfs_cache_lookup(fs, old);

		if ((b && b->dirty) || fresh_leaf(fs, 0, p)) {
			if (b && b->dirty && !cfs_dirty_owned(b, o, 0))
				return corrupt(fs, old, o->id);
			cfs_cache_drop(fs, old);    /* uncommitted: reuse in place */
			nb = old;
			goto mark;
		}
		if (!cfs_block_committed(fs, old))
			return corrupt(fs, old, o->id);
	}
	rc = cfs_block_alloc(fs, &nb);
	if (rc < 0)
		return rc;
	if (old)
		cfs_block_free(fs, old);
	fs->fresh_blocks++;
mark:
	memset(p, 0, sizeof *p);
	p->blkno = nb;
	p->reserved = fs->fresh_mark;
	fs->dirty = true;
	return 0;
}

/*
 * Write n whole leaves (at most CFS_BATCH) from src, starting at leaf
 * first, straight to the device: each is sealed from src into a block of
 * its own, so a streaming write costs one encryption and no copy into the
 * cache.  *done counts the leaves written, also on failure.  A device
 * error leaves pointers to unwritten blocks, so it marks the volume broken
 * (read-only) like a failed commit.
 */
int cfs_obj_write_direct(struct cfs *fs, struct cfs_obj *o, uint64_t first, size_t n,
			 const uint8_t *src, size_t *done)
{
	struct cfs_blockio io[CFS_BATCH];
	size_t k = 0;
	int rc, wrc;

	*done = 0;
	if (*o->height > CFS_MAX_HEIGHT)
		return -EIO;
	rc = obj_grow(fs, o, first + n - 1);
	for (uint8_t *parent = NULL; rc == 0 && k < n; k++) {
		struct cfs_ptr *p = o->root;
		uint64_t index = first + k;

		/* walk down once per parent; its neighbours share it */
		if (*o->height > 0 && (!parent || index % CFS_FANOUT == 0)) {
			for (int level = *o->height; rc == 0 && level > 0; level--) {
				rc = dirty_ptr(fs, o, level, at_level(index, level), p, CFS_LOAD,
					       &parent);
				if (rc == 0)
					p = &ptrs(parent)[at_level(index, level - 1) % CFS_FANOUT];
			}
		} else if (*o->height > 0) {
			p = &ptrs(parent)[index % CFS_FANOUT];
		}
		if (rc == 0)
			rc = direct_leaf(fs, o, p);
		if (rc < 0)
			break;
		io[k] = (struct cfs_blockio){ o->id, o->key, o->file, 0, index, p,
					      src + k * CFS_BLOCK_SIZE, NULL };
	}
	if (k == 0)
		return rc;
	wrc = cfs_seal_blocks(fs, io, k);
	if (wrc < 0) {
		fs->broken = true;
		return wrc;
	}
	*done = k;
	return rc;
}

/* Free the block *p and everything below it. */
static int free_subtree(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
			struct cfs_ptr *p)
{
	struct cfs_cblock *cached = cfs_cache_lookup(fs, p->blkno);

	if (p->blkno == 0)
		return 0;
	if ((!cached || !cached->dirty)
	    ? !cfs_block_committed(fs, p->blkno) && !fresh_leaf(fs, level, p)
	    : !cfs_dirty_owned(cached, o, level))
		return corrupt(fs, p->blkno, o->id);
	if (level > 0) {
		struct cfs_ptr kids[CFS_FANOUT];
		struct cfs_cblock *b;
		int rc = cfs_cache_get(fs, o, level, nidx, p, &b);

		if (rc < 0)
			return rc;
		memcpy(kids, b->data, sizeof kids);
		for (int i = 0; i < CFS_FANOUT; i++) {
			rc = free_subtree(fs, o, level - 1, nidx * CFS_FANOUT + (uint64_t)i, &kids[i]);
			if (rc < 0)
				return rc;
		}
	}
	cfs_block_free(fs, p->blkno);
	memset(p, 0, sizeof *p);
	fs->dirty = true;
	return 0;
}

/* True when some child of this node holds leaves at or past keep. */
static int node_reaches(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
			const struct cfs_ptr *p, uint64_t keep)
{
	struct cfs_cblock *b;
	int rc = cfs_cache_get(fs, o, level, nidx, p, &b);

	if (rc < 0)
		return rc;
	for (uint64_t i = 0; i < CFS_FANOUT; i++) {
		uint64_t child_end = (nidx * CFS_FANOUT + i + 1) << (CFS_FANOUT_SHIFT * (level - 1));

		if (ptrs(b->data)[i].blkno && child_end > keep)
			return 1;
	}
	return 0;
}

/* Free the leaves at or past keep below the node *p, copying on write
 * only the nodes that change. */
static int trunc_node(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
		      struct cfs_ptr *p, uint64_t keep)
{
	uint64_t first = nidx << (CFS_FANOUT_SHIFT * level);
	uint8_t *d;
	int rc;

	if (p->blkno == 0)
		return 0;
	if (first >= keep)
		return free_subtree(fs, o, level, nidx, p);
	if (level == 0 || first + cfs_obj_capacity(level) <= keep)
		return 0;
	rc = node_reaches(fs, o, level, nidx, p, keep);
	if (rc <= 0)
		return rc;
	rc = dirty_ptr(fs, o, level, nidx, p, CFS_LOAD, &d);
	if (rc < 0)
		return rc;
	for (int i = 0; i < CFS_FANOUT; i++) {
		rc = trunc_node(fs, o, level - 1, nidx * CFS_FANOUT + (uint64_t)i, &ptrs(d)[i], keep);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Free every leaf at index >= keep_blocks (and pointer blocks left empty). */
int cfs_obj_truncate(struct cfs *fs, struct cfs_obj *o, uint64_t keep_blocks)
{
	int rc;

	if (*o->height > CFS_MAX_HEIGHT)
		return -EIO;
	rc = trunc_node(fs, o, *o->height, 0, o->root, keep_blocks);
	if (rc == 0 && o->root->blkno == 0)
		*o->height = 0;
	return rc;
}

/* Write out the dirty blocks under *p, children before parents, so each
 * parent records its children's final secrets and tags. */
static int flush_node(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
		      struct cfs_ptr *p)
{
	struct cfs_cblock *b = cfs_cache_lookup(fs, p->blkno);
	int rc;

	if (fresh_leaf(fs, level, p)) {
		p->reserved = 0;        /* sealed already; its parent is now */
		return 0;
	}
	if (p->blkno == 0 || !b || !b->dirty)
		return 0;
	if (!cfs_dirty_owned(b, o, level))
		return corrupt(fs, p->blkno, o->id);
	if (level > 0) {
		for (int i = 0; i < CFS_FANOUT; i++) {
			rc = flush_node(fs, o, level - 1, nidx * CFS_FANOUT + (uint64_t)i,
					&ptrs(b->data)[i]);
			if (rc < 0)
				return rc;
		}
	} else if (o->id == CFS_OBJ_ITABLE) {
		struct cfs_inode *in = (struct cfs_inode *)(void *)b->data;

		for (int j = 0; j < CFS_INODES_PER_BLOCK; j++) {
			struct cfs_obj sub;

			if (in[j].mode == 0)
				continue;
			cfs_obj_of(&sub, nidx * CFS_INODES_PER_BLOCK + (uint64_t)j, &in[j]);
			rc = cfs_obj_flush(fs, &sub);
			if (rc < 0)
				return rc;
		}
	}
	return cfs_seal_block(fs, o, level, nidx, b->data, p);
}

/* Seal and write every dirty block of an object (commit step 2). */
int cfs_obj_flush(struct cfs *fs, struct cfs_obj *o)
{
	if (*o->height > CFS_MAX_HEIGHT)
		return -EIO;
	return flush_node(fs, o, *o->height, 0, o->root);
}

/* Visit the block *p and, for pointer blocks, everything below it. */
static int walk_node(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
		     const struct cfs_ptr *p, cfs_block_visit fn, void *ctx)
{
	struct cfs_ptr kids[CFS_FANOUT];
	struct cfs_cblock *b;
	int rc, vrc;

	if (p->blkno == 0)
		return 0;
	rc = cfs_cache_get(fs, o, level, nidx, p, &b);
	vrc = fn(ctx, p->blkno, level, nidx, rc);
	if (vrc < 0 || rc < 0 || level == 0)
		return vrc;
	memcpy(kids, b->data, sizeof kids);
	for (int i = 0; i < CFS_FANOUT; i++) {
		rc = walk_node(fs, o, level - 1, nidx * CFS_FANOUT + (uint64_t)i, &kids[i], fn, ctx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Visit every block of an object (fsck), authenticating each; fn gets the
 * open result and returns < 0 to stop. */
int cfs_obj_walk(struct cfs *fs, const struct cfs_obj *o, cfs_block_visit fn, void *ctx)
{
	if (*o->height > CFS_MAX_HEIGHT)
		return fn(ctx, o->root->blkno, *o->height, 0, -EIO);
	return walk_node(fs, o, *o->height, 0, o->root, fn, ctx);
}
