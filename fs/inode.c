/*
 * Inodes live in the inode table object, 16 to a block; inode 1 is the root
 * directory.  File contents are the inode's own object, encrypted under
 * keys derived from the inode's random file key.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

/* Describe the object of inode ino whose record is *ip. */
void cfs_obj_of(struct cfs_obj *o, uint64_t ino, struct cfs_inode *ip)
{
	o->id = ino;
	o->root = &ip->root;
	o->height = &ip->height;
	o->key = ip->key;
	o->file = ino != CFS_OBJ_ITABLE && ino != CFS_OBJ_BITMAP &&
		  (ip->mode & CFS_S_IFMT) == CFS_S_IFREG;
}

/* The inode table as an object. */
static void itable_obj(struct cfs *fs, struct cfs_obj *o)
{
	cfs_obj_of(o, CFS_OBJ_ITABLE, &fs->pl.itable);
}

/* A copy of inode ino; -EIO for a number outside the table. */
int cfs_inode_get(struct cfs *fs, uint64_t ino, struct cfs_inode *out)
{
	struct cfs_obj it;
	const uint8_t *d;
	int rc;

	if (ino == 0 || ino >= fs->pl.inode_count) {
		cfs_set_error(fs, 0, ino);
		return -EIO;
	}
	itable_obj(fs, &it);
	rc = cfs_obj_read(fs, &it, ino / CFS_INODES_PER_BLOCK, &d);
	if (rc < 0) {
		fs->err_ino = ino;
		return rc;
	}
	if (d)
		memcpy(out, d + (ino % CFS_INODES_PER_BLOCK) * CFS_INODE_SIZE, sizeof *out);
	else
		memset(out, 0, sizeof *out);
	return 0;
}

/* A writable inode record, valid until the commit. */
int cfs_inode_rw(struct cfs *fs, uint64_t ino, struct cfs_inode **out)
{
	struct cfs_obj it;
	uint8_t *d;
	int rc;

	if (ino == 0 || ino >= fs->pl.inode_count)
		return -EIO;
	itable_obj(fs, &it);
	rc = cfs_obj_write(fs, &it, ino / CFS_INODES_PER_BLOCK, CFS_LOAD, &d);
	if (rc < 0)
		return rc;
	*out = (struct cfs_inode *)(void *)(d + (ino % CFS_INODES_PER_BLOCK) * CFS_INODE_SIZE);
	return 0;
}

/* The lowest free inode number at or after the hint, or a new one. */
static int inode_find_free(struct cfs *fs, uint64_t *ino)
{
	struct cfs_obj it;
	uint64_t n = fs->inode_hint < 2 ? 2 : fs->inode_hint;

	itable_obj(fs, &it);
	while (n < fs->pl.inode_count) {
		uint64_t end = (n / CFS_INODES_PER_BLOCK + 1) * CFS_INODES_PER_BLOCK;
		const uint8_t *d;
		int rc = cfs_obj_read(fs, &it, n / CFS_INODES_PER_BLOCK, &d);

		if (rc < 0)
			return rc;
		if (end > fs->pl.inode_count)
			end = fs->pl.inode_count;
		if (!d) {
			*ino = n;
			return 0;
		}
		for (; n < end; n++) {
			const struct cfs_inode *in =
				(const void *)(d + (n % CFS_INODES_PER_BLOCK) * CFS_INODE_SIZE);

			if (in->mode == 0) {
				*ino = n;
				return 0;
			}
		}
	}
	if (fs->pl.inode_count >= (1ull << 31))
		return -ENOSPC;
	*ino = fs->pl.inode_count;
	return 0;
}

/* Allocate an inode with a fresh random file key. */
int cfs_inode_alloc(struct cfs *fs, uint32_t mode, uint64_t parent, uint64_t *ino)
{
	struct cfs_inode *ip;
	uint64_t n, old_count = fs->pl.inode_count;
	uint32_t igen;
	int rc = inode_find_free(fs, &n);

	if (rc < 0)
		return rc;
	if (n == fs->pl.inode_count)
		fs->pl.inode_count++;
	rc = cfs_inode_rw(fs, n, &ip);
	if (rc < 0) {
		fs->pl.inode_count = old_count;
		return rc;
	}
	igen = ip->igen + 1;
	memset(ip, 0, sizeof *ip);
	ip->igen = igen & 0x7fffffff;
	ip->mode = mode;
	ip->nlink = (mode & CFS_S_IFMT) == CFS_S_IFDIR ? 2 : 1;
	ip->parent = parent;
	ip->mtime_ns = ip->ctime_ns = cfs_now(fs);
	cfs_rand(fs, ip->key, sizeof ip->key);
	fs->pl.files++;
	fs->inode_hint = n + 1;
	*ino = n;
	return 0;
}

/* Free an inode and all its blocks; its key is erased from the record, so
 * after the next commit no live tree holds it. */
int cfs_inode_free(struct cfs *fs, uint64_t ino)
{
	struct cfs_inode *ip;
	struct cfs_obj o;
	uint32_t igen;
	int rc = cfs_inode_rw(fs, ino, &ip);

	if (rc < 0)
		return rc;
	cfs_obj_of(&o, ino, ip);
	rc = cfs_obj_truncate(fs, &o, 0);
	if (rc < 0)
		return rc;
	igen = ip->igen;
	cx_wipe(ip, sizeof *ip);
	ip->igen = igen;
	if (fs->pl.files)
		fs->pl.files--;
	if (ino < fs->inode_hint)
		fs->inode_hint = ino;
	fs->shred_pending = true;
	return 0;
}

/* Read up to max (>= 1) whole leaves from first into dst, setting *bytes
 * to what was read: holes and cached leaves are copied, and a run of up to
 * CFS_BATCH leaves on the device is opened at once straight into dst. */
static int read_whole_blocks(struct cfs *fs, const struct cfs_obj *o, uint64_t first,
			     size_t max, uint8_t *dst, size_t *bytes)
{
	struct cfs_ptr ptr[CFS_BATCH];
	struct cfs_blockio io[CFS_BATCH];
	size_t n = 0, run;
	int rc;

	*bytes = 0;
	rc = cfs_obj_leaf_run(fs, o, first, max < CFS_BATCH ? max : CFS_BATCH, ptr, &run);
	if (rc < 0)
		return rc;
	for (; n < run; n++) {
		if (ptr[n].blkno == 0 || cfs_cache_lookup(fs, ptr[n].blkno))
			break;
		io[n] = (struct cfs_blockio){ o->id, o->key, o->file, 0, first + n, &ptr[n],
					      NULL, dst + n * CFS_BLOCK_SIZE };
	}
	if (n == 0) {                   /* a hole or a cached leaf */
		rc = cfs_obj_read_into(fs, o, first, dst);
		*bytes = rc < 0 ? 0 : CFS_BLOCK_SIZE;
		return rc;
	}
	rc = cfs_open_blocks(fs, io, n);
	if (rc < 0)
		return rc;
	*bytes = n * CFS_BLOCK_SIZE;
	return 0;
}

/* Read len bytes at off from a file's object o (already clamped to its
 * size by the caller). */
static int read_range(struct cfs *fs, const struct cfs_obj *o, uint8_t *dst, size_t len,
		      uint64_t off)
{
	while (len) {
		uint64_t blk = off / CFS_BLOCK_SIZE, boff = off % CFS_BLOCK_SIZE;
		size_t n = CFS_BLOCK_SIZE - boff < len ? CFS_BLOCK_SIZE - boff : len;
		const uint8_t *d;
		int rc;

		if (n == CFS_BLOCK_SIZE) {
			rc = read_whole_blocks(fs, o, blk, len / CFS_BLOCK_SIZE, dst, &n);
			if (rc < 0)
				return rc;
			dst += n;
			off += n;
			len -= n;
			continue;
		}
		rc = cfs_obj_read(fs, o, blk, &d);
		if (rc < 0)
			return rc;
		if (d)
			memcpy(dst, d + boff, n);
		else
			memset(dst, 0, n);
		dst += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* The same on a private copy of the record, whose key is wiped after. */
int cfs_file_read(struct cfs *fs, uint64_t ino, const struct cfs_inode *ip, void *buf,
		  size_t len, uint64_t off)
{
	struct cfs_inode copy = *ip;
	struct cfs_obj o;
	int rc;

	cfs_obj_of(&o, ino, &copy);
	rc = read_range(fs, &o, buf, len, off);
	cx_wipe(copy.key, sizeof copy.key);
	return rc;
}

/* Write len bytes at off, extending the file as needed. */
int cfs_file_write(struct cfs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *src = buf;
	struct cfs_inode *ip;
	struct cfs_obj o;
	int rc;

	if (off > CFS_MAX_FILE_SIZE || len > CFS_MAX_FILE_SIZE - off)
		return -EFBIG;
	rc = cfs_inode_rw(fs, ino, &ip);
	if (rc < 0)
		return rc;
	cfs_obj_of(&o, ino, ip);
	while (len) {
		uint64_t blk = off / CFS_BLOCK_SIZE, boff = off % CFS_BLOCK_SIZE;
		size_t n = CFS_BLOCK_SIZE - boff < len ? CFS_BLOCK_SIZE - boff : len;
		uint8_t *d;

		if (n == CFS_BLOCK_SIZE) {
			size_t want = len / CFS_BLOCK_SIZE, done;

			rc = cfs_obj_write_direct(fs, &o, blk, want < CFS_BATCH ? want : CFS_BATCH,
						  src, &done);
			n = done * CFS_BLOCK_SIZE;
		} else {
			rc = cfs_obj_write(fs, &o, blk, CFS_LOAD, &d);
			if (rc == 0)
				memcpy(d + boff, src, n);
			else
				n = 0;
		}
		src += n;
		off += n;
		len -= n;
		if (off > ip->size)
			ip->size = off;
		if (rc < 0)
			return rc;
	}
	ip->mtime_ns = ip->ctime_ns = cfs_now(fs);
	return 0;
}

/* Set a file's size: shrinking frees whole blocks and zeroes the tail of
 * the last one, growing leaves a hole. */
int cfs_file_truncate(struct cfs *fs, uint64_t ino, uint64_t size)
{
	struct cfs_inode *ip;
	struct cfs_obj o;
	int rc;

	if (size > CFS_MAX_FILE_SIZE)
		return -EFBIG;
	rc = cfs_inode_rw(fs, ino, &ip);
	if (rc < 0)
		return rc;
	cfs_obj_of(&o, ino, ip);
	if (size < ip->size) {
		uint64_t keep = (size + CFS_BLOCK_SIZE - 1) / CFS_BLOCK_SIZE;
		const uint8_t *cur;

		rc = cfs_obj_truncate(fs, &o, keep);
		if (rc < 0)
			return rc;
		if (size % CFS_BLOCK_SIZE) {
			rc = cfs_obj_read(fs, &o, size / CFS_BLOCK_SIZE, &cur);
			if (rc < 0)
				return rc;
			if (cur) {
				uint8_t *d;

				rc = cfs_obj_write(fs, &o, size / CFS_BLOCK_SIZE, CFS_LOAD, &d);
				if (rc < 0)
					return rc;
				memset(d + size % CFS_BLOCK_SIZE, 0,
				       CFS_BLOCK_SIZE - size % CFS_BLOCK_SIZE);
			}
		}
	}
	ip->size = size;
	ip->mtime_ns = ip->ctime_ns = cfs_now(fs);
	fs->dirty = true;
	return 0;
}
