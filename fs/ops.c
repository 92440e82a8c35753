/*
 * The path-based API: name resolution and the POSIX-like operations the
 * libOS VFS and the host tools call.  Each mutating operation runs inside
 * the open transaction; cfs_sync/cfs_fsync commit it.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

/* The directory-entry type of a mode (its S_IFMT bits >> 12). */
static uint8_t dtype_of(uint32_t mode)
{
	return (uint8_t)((mode & CFS_S_IFMT) >> 12);
}

/* True for directory inodes. */
static bool is_dir(const struct cfs_inode *ip)
{
	return (ip->mode & CFS_S_IFMT) == CFS_S_IFDIR;
}

/* Next path component after *p; returns its length (0 at the end). */
static size_t next_component(const char **p, const char *end, const char **start)
{
	while (*p < end && **p == '/')
		(*p)++;
	*start = *p;
	while (*p < end && **p != '/')
		(*p)++;
	return (size_t)(*p - *start);
}

/* strlen that stops at max (strnlen is POSIX, not C11). */
static size_t bounded_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

/* Paths are absolute and shorter than CFS_PATH_MAX. */
static int check_path(const char *path)
{
	if (!path || path[0] != '/')
		return -EINVAL;
	if (bounded_len(path, CFS_PATH_MAX) >= CFS_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Walk from dir through n bytes of path; symlinks are not followed. */
static int walk(struct cfs *fs, const char *path, size_t n, uint64_t *ino)
{
	const char *p = path, *end = path + n, *c;
	uint64_t cur = CFS_ROOT_INO;
	size_t len;

	while ((len = next_component(&p, end, &c)) > 0) {
		struct cfs_inode in;
		int rc;

		if (len > CFS_NAME_MAX)
			return -ENAMETOOLONG;
		if (len == 1 && c[0] == '.')
			continue;
		rc = cfs_inode_get(fs, cur, &in);
		if (rc < 0)
			return rc;
		if (!is_dir(&in))
			return -ENOTDIR;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			cur = in.parent;
			continue;
		}
		rc = cfs_dir_lookup(fs, cur, c, len, &cur);
		if (rc < 0)
			return rc;
	}
	*ino = cur;
	return 0;
}

/* The inode a whole path names, and a copy of it. */
static int resolve(struct cfs *fs, const char *path, uint64_t *ino, struct cfs_inode *in)
{
	int rc = check_path(path);

	if (rc == 0)
		rc = walk(fs, path, strlen(path), ino);
	if (rc == 0)
		rc = cfs_inode_get(fs, *ino, in);
	if (rc == 0 && in->mode == 0)
		rc = -EIO;
	return rc;
}

/* The directory that holds the last component, and that component. */
static int resolve_parent(struct cfs *fs, const char *path, uint64_t *dir, const char **name,
			  size_t *len)
{
	size_t n;
	int rc = check_path(path);

	if (rc < 0)
		return rc;
	n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	size_t s = n;

	while (s > 0 && path[s - 1] != '/')
		s--;
	*name = path + s;
	*len = n - s;
	if (*len == 0 || (*len == 1 && path[s] == '.') ||
	    (*len == 2 && path[s] == '.' && path[s + 1] == '.'))
		return -EINVAL;
	if (*len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	rc = walk(fs, path, s, dir);
	if (rc == 0) {
		struct cfs_inode in;

		rc = cfs_inode_get(fs, *dir, &in);
		if (rc == 0 && !is_dir(&in))
			rc = -ENOTDIR;
	}
	return rc;
}

/* The caller-visible attributes of an inode. */
static void fill_stat(uint64_t ino, const struct cfs_inode *in, struct cfs_stat *st)
{
	st->ino = ino;
	st->mode = in->mode;
	st->nlink = in->nlink;
	st->size = in->size;
	st->mtime_ns = in->mtime_ns;
	st->ctime_ns = in->ctime_ns;
}

/* A handle names an inode and its allocation generation, so a stale handle
 * never reaches a reused inode. */
static int64_t handle_of(uint64_t ino, const struct cfs_inode *in)
{
	return (int64_t)(((uint64_t)in->igen << 32) | ino);
}

/* The inode behind a handle; -EBADF once it was freed or reused. */
static int handle_inode(struct cfs *fs, int64_t fh, uint64_t *ino, struct cfs_inode *in)
{
	int rc;

	if (fh < 0)
		return -EBADF;
	*ino = (uint64_t)fh & 0xffffffffu;
	if (*ino == 0 || *ino >= fs->pl.inode_count)
		return -EBADF;
	rc = cfs_inode_get(fs, *ino, in);
	if (rc < 0)
		return rc;
	if (in->mode == 0 || in->igen != (uint64_t)fh >> 32)
		return -EBADF;
	return 0;
}

/* Mutations are refused after a failed commit. */
static int writable(struct cfs *fs)
{
	return cfs_make_room(fs);
}

/* Create name in dir as a new inode of this mode. */
static int create_in(struct cfs *fs, uint64_t dir, const char *name, size_t len, uint32_t mode,
		     uint64_t *ino)
{
	bool is_directory = (mode & CFS_S_IFMT) == CFS_S_IFDIR;
	struct cfs_inode *pp;
	int rc = cfs_inode_alloc(fs, mode, dir, ino);

	if (rc < 0)
		return rc;
	if (is_directory)
		rc = cfs_dir_init(fs, *ino);
	if (rc == 0)
		rc = cfs_dir_insert(fs, dir, name, len, *ino, dtype_of(mode));
	if (rc < 0) {
		/* undo, so a full volume leaves no orphan behind */
		fs->freeing = true;
		cfs_inode_free(fs, *ino);
		fs->freeing = false;
		return rc;
	}
	if (is_directory && (rc = cfs_inode_rw(fs, dir, &pp)) == 0)
		pp->nlink++;
	return rc;
}

/* Open (and with CFS_O_CREAT create) a regular file; see cfs.h. */
int64_t cfs_open(struct cfs *fs, const char *path, int flags, uint32_t mode)
{
	struct cfs_inode in;
	uint64_t dir, ino;
	const char *name;
	size_t len;
	int rc;

	if (strcmp(path ? path : "", "/") == 0)
		return -EISDIR;
	rc = resolve_parent(fs, path, &dir, &name, &len);
	if (rc < 0)
		return rc;
	rc = cfs_dir_lookup(fs, dir, name, len, &ino);
	if (rc == 0) {
		if ((flags & CFS_O_CREAT) && (flags & CFS_O_EXCL))
			return -EEXIST;
		rc = cfs_inode_get(fs, ino, &in);
		if (rc < 0)
			return rc;
		if (in.mode == 0)
			return -EIO;
		if (is_dir(&in))
			return -EISDIR;
		if ((in.mode & CFS_S_IFMT) == CFS_S_IFLNK)
			return -ELOOP;
		if (flags & CFS_O_TRUNC) {
			if ((rc = writable(fs)) < 0)
				return rc;
			rc = cfs_op_end(fs, cfs_file_truncate(fs, ino, 0));
			if (rc < 0)
				return rc;
		}
		return handle_of(ino, &in);
	}
	if (rc != -ENOENT || !(flags & CFS_O_CREAT))
		return rc;
	if ((rc = writable(fs)) < 0)
		return rc;
	rc = create_in(fs, dir, name, len, CFS_S_IFREG | (mode & 07777), &ino);
	if (rc == 0)
		rc = cfs_inode_get(fs, ino, &in);
	rc = cfs_op_end(fs, rc);
	return rc < 0 ? rc : handle_of(ino, &in);
}

/* Read up to len bytes at off; holes read as zeros. */
int64_t cfs_read(struct cfs *fs, int64_t fh, void *buf, size_t len, uint64_t off)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = handle_inode(fs, fh, &ino, &in);

	if (rc < 0)
		return rc;
	if (is_dir(&in))
		return -EISDIR;
	if (off >= in.size)
		return 0;
	if (len > in.size - off)
		len = (size_t)(in.size - off);
	if (len > INT64_MAX)
		len = INT64_MAX;
	rc = cfs_file_read(fs, ino, &in, buf, len, off);
	cx_wipe(in.key, sizeof in.key);
	return rc < 0 ? rc : (int64_t)len;
}

/* cfs_read_plan's walk over the blocks of [off, off + len). */
static int plan_blocks(struct cfs *fs, uint64_t ino, const struct cfs_obj *o,
		       const struct cfs_inode *in, uint8_t *dst, size_t len, uint64_t off,
		       struct cfs_block_ref *refs, size_t nrefs, size_t *nout)
{
	int rc;

	for (size_t done = 0; done < len; done += CFS_BLOCK_SIZE) {
		uint64_t index = (off + done) / CFS_BLOCK_SIZE;
		size_t n = len - done < CFS_BLOCK_SIZE ? len - done : CFS_BLOCK_SIZE;
		struct cfs_ptr p;

		if (n == CFS_BLOCK_SIZE && *nout < nrefs) {
			rc = cfs_obj_leaf_ptr(fs, o, index, &p);
			if (rc < 0)
				return rc;
			if (p.blkno == 0) {
				memset(dst + done, 0, n);
				continue;
			}
			if (!cfs_cache_lookup(fs, p.blkno)) {
				struct cfs_block_ref *r = &refs[(*nout)++];

				r->blkno = p.blkno;
				r->obj = ino;
				r->index = index;
				r->buf_offset = done;
				memcpy(r->key, in->key, sizeof r->key);
				memcpy(r->secret, p.secret, sizeof r->secret);
				memcpy(r->tag, p.tag, sizeof r->tag);
				continue;
			}
		}
		rc = cfs_file_read(fs, ino, in, dst + done, n, off + done);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Serve what needs no decryption, describe the whole blocks that do; the
 * copy of the file's key on this stack is wiped (refs carry their own,
 * which the caller wipes). */
int64_t cfs_read_plan(struct cfs *fs, int64_t fh, void *buf, size_t len, uint64_t off,
		      struct cfs_block_ref *refs, size_t nrefs, size_t *nout)
{
	struct cfs_inode in;
	struct cfs_obj o;
	uint64_t ino;
	int rc = handle_inode(fs, fh, &ino, &in);

	*nout = 0;
	if (rc == 0 && is_dir(&in))
		rc = -EISDIR;
	else if (rc == 0 && off % CFS_BLOCK_SIZE)
		rc = -EINVAL;
	if (rc == 0 && off < in.size) {
		if (len > in.size - off)
			len = (size_t)(in.size - off);
		cfs_obj_of(&o, ino, &in);
		rc = plan_blocks(fs, ino, &o, &in, buf, len, off, refs, nrefs, nout);
	} else if (rc == 0) {
		len = 0;
	}
	cx_wipe(in.key, sizeof in.key);
	return rc < 0 ? rc : (int64_t)len;
}

/* Write len bytes at off, extending the file. */
int64_t cfs_write(struct cfs *fs, int64_t fh, const void *buf, size_t len, uint64_t off)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = handle_inode(fs, fh, &ino, &in);

	if (rc == 0)
		rc = writable(fs);
	if (rc < 0)
		return rc;
	if (is_dir(&in))
		return -EISDIR;
	if (len > INT64_MAX)
		return -EINVAL;
	rc = cfs_op_end(fs, cfs_file_write(fs, ino, buf, len, off));
	return rc < 0 ? rc : (int64_t)len;
}

/* Set the size of an open regular file. */
int cfs_ftruncate(struct cfs *fs, int64_t fh, uint64_t size)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = handle_inode(fs, fh, &ino, &in);

	if (rc == 0)
		rc = writable(fs);
	if (rc < 0)
		return rc;
	if (!((in.mode & CFS_S_IFMT) == CFS_S_IFREG))
		return -EINVAL;
	return cfs_op_end(fs, cfs_file_truncate(fs, ino, size));
}

/* Set the size of a regular file named by path. */
int cfs_truncate(struct cfs *fs, const char *path, uint64_t size)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = resolve(fs, path, &ino, &in);

	if (rc < 0)
		return rc;
	if (is_dir(&in))
		return -EISDIR;
	return cfs_ftruncate(fs, handle_of(ino, &in), size);
}

/* Attributes of an open file. */
int cfs_fstat(struct cfs *fs, int64_t fh, struct cfs_stat *st)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = handle_inode(fs, fh, &ino, &in);

	if (rc == 0)
		fill_stat(ino, &in, st);
	return rc;
}

/* Commit everything (the whole volume is one transaction). */
int cfs_fsync(struct cfs *fs, int64_t fh)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = handle_inode(fs, fh, &ino, &in);

	return rc < 0 ? rc : cfs_sync(fs);
}

/* Handles hold no state; closing only checks the handle. */
int cfs_close(struct cfs *fs, int64_t fh)
{
	struct cfs_inode in;
	uint64_t ino;

	return handle_inode(fs, fh, &ino, &in);
}

/* Attributes of a path, without following a final symlink. */
int cfs_stat(struct cfs *fs, const char *path, struct cfs_stat *st)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = resolve(fs, path, &ino, &in);

	if (rc == 0)
		fill_stat(ino, &in, st);
	return rc;
}

/* Change an inode record found by path. */
static int modify(struct cfs *fs, const char *path, uint32_t mode, uint64_t mtime, bool set_mode)
{
	struct cfs_inode in, *ip;
	uint64_t ino;
	int rc = resolve(fs, path, &ino, &in);

	if (rc == 0)
		rc = writable(fs);
	if (rc == 0)
		rc = cfs_inode_rw(fs, ino, &ip);
	if (rc < 0)
		return rc;
	if (set_mode)
		ip->mode = (ip->mode & CFS_S_IFMT) | (mode & 07777);
	else
		ip->mtime_ns = mtime;
	ip->ctime_ns = cfs_now(fs);
	return cfs_op_end(fs, 0);
}

/* Change permission bits. */
int cfs_chmod(struct cfs *fs, const char *path, uint32_t mode)
{
	return modify(fs, path, mode, 0, true);
}

/* Set the modification time (utimens). */
int cfs_set_mtime(struct cfs *fs, const char *path, uint64_t mtime_ns)
{
	return modify(fs, path, 0, mtime_ns, false);
}

/* Where a new entry for path goes: its directory and name.  -EEXIST when
 * path names something already (a missing parent stays -ENOENT), and the
 * volume must be writable. */
static int place_new_entry(struct cfs *fs, const char *path, uint64_t *dir, const char **name,
			   size_t *len)
{
	uint64_t ino;
	int rc = resolve_parent(fs, path, dir, name, len);

	if (rc < 0)
		return rc;
	rc = cfs_dir_lookup(fs, *dir, *name, *len, &ino);
	if (rc == 0)
		return -EEXIST;
	if (rc != -ENOENT)
		return rc;
	return writable(fs);
}

/* Make a directory. */
int cfs_mkdir(struct cfs *fs, const char *path, uint32_t mode)
{
	uint64_t dir, ino;
	const char *name;
	size_t len;
	int rc;

	if (strcmp(path ? path : "", "/") == 0)
		return -EEXIST;
	rc = place_new_entry(fs, path, &dir, &name, &len);
	if (rc < 0)
		return rc;
	return cfs_op_end(fs, create_in(fs, dir, name, len, CFS_S_IFDIR | (mode & 07777), &ino));
}

/* Remove name from dir and free its inode (and fix the parent's links). */
static int remove_entry(struct cfs *fs, uint64_t dir, const char *name, size_t len, uint64_t ino,
			bool was_dir)
{
	int rc = cfs_dir_remove(fs, dir, name, len);

	if (rc == 0)
		rc = cfs_inode_free(fs, ino);
	if (rc == 0 && was_dir) {
		struct cfs_inode *pp;

		rc = cfs_inode_rw(fs, dir, &pp);
		if (rc == 0 && pp->nlink > 2)
			pp->nlink--;
	}
	return rc;
}

/* unlink and rmdir: checks first, then one removal that may use the
 * freeing reserve. */
static int remove_path(struct cfs *fs, const char *path, bool want_dir)
{
	struct cfs_inode in;
	uint64_t dir, ino;
	const char *name;
	size_t len;
	int rc;

	if (strcmp(path ? path : "", "/") == 0)
		return -EBUSY;
	rc = resolve_parent(fs, path, &dir, &name, &len);
	if (rc == 0)
		rc = cfs_dir_lookup(fs, dir, name, len, &ino);
	if (rc == 0)
		rc = cfs_inode_get(fs, ino, &in);
	if (rc < 0)
		return rc;
	if (in.mode == 0)
		return -EIO;
	if (want_dir && !is_dir(&in))
		return -ENOTDIR;
	if (!want_dir && is_dir(&in))
		return -EISDIR;
	if (want_dir) {
		rc = cfs_dir_is_empty(fs, ino);
		if (rc <= 0)
			return rc < 0 ? rc : -ENOTEMPTY;
	}
	if ((rc = writable(fs)) < 0)
		return rc;
	fs->freeing = true;
	rc = remove_entry(fs, dir, name, len, ino, want_dir);
	fs->freeing = false;
	return cfs_op_end(fs, rc);
}

/* Remove an empty directory. */
int cfs_rmdir(struct cfs *fs, const char *path)
{
	return remove_path(fs, path, true);
}

/* Remove a file or symlink; its key goes with the next cfs_sync. */
int cfs_unlink(struct cfs *fs, const char *path)
{
	return remove_path(fs, path, false);
}

/* -EINVAL when dir is ino or lies below it (a directory into itself). */
static int check_not_below(struct cfs *fs, uint64_t ino, uint64_t dir)
{
	for (int depth = 0; depth < 4096; depth++) {
		struct cfs_inode in;
		int rc;

		if (dir == ino)
			return -EINVAL;
		if (dir == CFS_ROOT_INO)
			return 0;
		rc = cfs_inode_get(fs, dir, &in);
		if (rc < 0)
			return rc;
		dir = in.parent;
	}
	return -EIO;
}

/* The part of rename that changes the tree, once every check passed. */
static int rename_apply(struct cfs *fs, uint64_t fdir, const char *fname, size_t flen,
			uint64_t tdir, const char *tname, size_t tlen, uint64_t ino,
			const struct cfs_inode *src, bool replace, uint64_t old,
			const struct cfs_inode *oldin)
{
	struct cfs_inode *ip;
	int rc;

	if (replace) {
		rc = cfs_dir_set(fs, tdir, tname, tlen, ino, dtype_of(src->mode));
		if (rc == 0)
			rc = cfs_inode_free(fs, old);
		if (rc == 0 && is_dir(oldin) && (rc = cfs_inode_rw(fs, tdir, &ip)) == 0)
			ip->nlink--;
	} else {
		rc = cfs_dir_insert(fs, tdir, tname, tlen, ino, dtype_of(src->mode));
	}
	if (rc == 0)
		rc = cfs_dir_remove(fs, fdir, fname, flen);
	if (rc == 0 && is_dir(src) && fdir != tdir) {
		if ((rc = cfs_inode_rw(fs, ino, &ip)) == 0)
			ip->parent = tdir;
		if (rc == 0 && (rc = cfs_inode_rw(fs, fdir, &ip)) == 0)
			ip->nlink--;
		if (rc == 0 && (rc = cfs_inode_rw(fs, tdir, &ip)) == 0)
			ip->nlink++;
	}
	if (rc == 0 && (rc = cfs_inode_rw(fs, ino, &ip)) == 0)
		ip->ctime_ns = cfs_now(fs);
	return rc;
}

/* Rename, atomically replacing a compatible target (all checks happen
 * before the first change, and the change commits as a whole). */
int cfs_rename(struct cfs *fs, const char *from, const char *to)
{
	struct cfs_inode src, dst = { 0 };
	uint64_t fdir, tdir, ino, old = 0;
	const char *fname, *tname;
	size_t flen, tlen;
	bool replace = false;
	int rc;

	rc = resolve_parent(fs, from, &fdir, &fname, &flen);
	if (rc == 0)
		rc = resolve_parent(fs, to, &tdir, &tname, &tlen);
	if (rc == 0)
		rc = cfs_dir_lookup(fs, fdir, fname, flen, &ino);
	if (rc == 0)
		rc = cfs_inode_get(fs, ino, &src);
	if (rc < 0)
		return rc;
	if (src.mode == 0)
		return -EIO;
	rc = cfs_dir_lookup(fs, tdir, tname, tlen, &old);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		if (old == ino)
			return 0;
		replace = true;
		if ((rc = cfs_inode_get(fs, old, &dst)) < 0)
			return rc;
		if (is_dir(&src) && !is_dir(&dst))
			return -ENOTDIR;
		if (!is_dir(&src) && is_dir(&dst))
			return -EISDIR;
		if (is_dir(&dst)) {
			rc = cfs_dir_is_empty(fs, old);
			if (rc <= 0)
				return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	if (is_dir(&src) && (rc = check_not_below(fs, ino, tdir)) < 0)
		return rc;
	if ((rc = writable(fs)) < 0)
		return rc;
	/* start only with ordinary headroom, then let the steps use the
	 * reserve, so a nearly full volume never stops between them */
	if (!cfs_may_allocate(fs))
		return -ENOSPC;
	fs->freeing = true;
	rc = rename_apply(fs, fdir, fname, flen, tdir, tname, tlen, ino, &src, replace, old, &dst);
	fs->freeing = false;
	return cfs_op_end(fs, rc);
}

/* Make a symlink whose target is stored as its data. */
int cfs_symlink(struct cfs *fs, const char *target, const char *path)
{
	uint64_t dir, ino;
	const char *name;
	size_t len, tlen = target ? bounded_len(target, CFS_PATH_MAX) : 0;
	int rc;

	if (tlen == 0)
		return -EINVAL;
	if (tlen >= CFS_PATH_MAX)
		return -ENAMETOOLONG;
	rc = place_new_entry(fs, path, &dir, &name, &len);
	if (rc < 0)
		return rc;
	rc = create_in(fs, dir, name, len, CFS_S_IFLNK | 0777, &ino);
	if (rc == 0)
		rc = cfs_file_write(fs, ino, target, tlen, 0);
	return cfs_op_end(fs, rc);
}

/* Copy a symlink's target (not NUL-terminated), returning its length. */
int64_t cfs_readlink(struct cfs *fs, const char *path, char *buf, size_t size)
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = resolve(fs, path, &ino, &in);

	if (rc < 0)
		return rc;
	if ((in.mode & CFS_S_IFMT) != CFS_S_IFLNK)
		return -EINVAL;
	if (in.size >= CFS_PATH_MAX)
		return -EIO;
	if (size > in.size)
		size = (size_t)in.size;
	rc = cfs_file_read(fs, ino, &in, buf, size, 0);
	return rc < 0 ? rc : (int64_t)size;
}

struct readdir_ctx { cfs_filldir fn; void *ctx; };

/* Adapt a directory entry to the caller's filldir callback. */
static int readdir_visit(void *vctx, const struct cfs_dirent *e, uint64_t next)
{
	struct readdir_ctx *rc = vctx;
	struct cfs_stat st = { .ino = e->ino, .mode = (uint32_t)e->type << 12 };

	return rc->fn(rc->ctx, e->name, e->namelen, &st, next);
}

/* List a directory from cookie on; see cfs.h. */
int cfs_readdir(struct cfs *fs, const char *path, uint64_t cookie, cfs_filldir fn, void *ctx)
{
	struct readdir_ctx rc = { fn, ctx };
	struct cfs_inode in;
	uint64_t ino;
	int r = resolve(fs, path, &ino, &in);

	if (r < 0)
		return r;
	if (!is_dir(&in))
		return -ENOTDIR;
	return cfs_dir_iterate(fs, ino, cookie, readdir_visit, &rc);
}

/* Test hook: copy a file's key (to check that it is destroyed). */
int cfs_debug_file_key(struct cfs *fs, const char *path, uint8_t key[CFS_KEY_BYTES])
{
	struct cfs_inode in;
	uint64_t ino;
	int rc = resolve(fs, path, &ino, &in);

	if (rc == 0)
		memcpy(key, in.key, CFS_KEY_BYTES);
	return rc;
}
