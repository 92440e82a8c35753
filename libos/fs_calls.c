/*
 * The file system calls: arguments are checked and copied in here, then
 * served by the descriptor table (fd.c), the VFS (vfs.c) and each file's
 * ops.  Errors are the ones Linux gives for the same call.
 */
#include "libos/libos.h"
#include "libos/vfs.h"
#include "libos/hold.h"

#define RW_MAX 0x7ffff000ull		/* Linux caps one transfer so */
#define IOV_MAX 1024
#define UTIME_NOW ((1l << 30) - 1)
#define UTIME_OMIT ((1l << 30) - 2)
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#define SETTABLE_FL (LX_O_APPEND | LX_O_NONBLOCK | LX_O_ASYNC | LX_O_DIRECT | LX_O_NOATIME)

/* The open file behind fd, if it may be used for I/O (not O_PATH). */
static int io_file(uint64_t fd, struct file **out)
{
	struct file *f = fd_get((int)fd);
	if ((int64_t)fd < 0 || (int64_t)fd > INT32_MAX || !f || (f->flags & LX_O_PATH))
		return -EBADF;
	*out = f;
	return 0;
}

static int can_read(struct file *f) { return (f->flags & LX_O_ACCMODE) != LX_O_WRONLY; }
static int can_write(struct file *f) { return (f->flags & LX_O_ACCMODE) != LX_O_RDONLY; }

/* The same, opened for reading or for writing as the call needs. */
static int io_file_for(uint64_t fd, int writing, struct file **out)
{
	int r = io_file(fd, out);
	if (r)
		return r;
	return (writing ? can_write(*out) : can_read(*out)) ? 0 : -EBADF;
}

static int is_dot(const struct vfs_parent *p)
{
	return p->len == 0 || (p->len == 1 && p->name[0] == '.') ||
	       (p->len == 2 && p->name[0] == '.' && p->name[1] == '.');
}

static int64_t truncate_node(struct vnode *v, int64_t len);

static int64_t do_open(int dirfd, const char *upath, uint64_t flags, uint32_t mode)
{
	struct vfs_parent p;
	struct vnode *v;
	int created = 0;
	uint32_t acc = flags & LX_O_ACCMODE;
	if ((flags & LX_O_TMPFILE_BIT) || (acc == 3 && !(flags & LX_O_PATH)))
		return (flags & LX_O_TMPFILE_BIT) ? -EOPNOTSUPP : -EINVAL;
	int excl = (flags & (LX_O_CREAT | LX_O_EXCL)) == (LX_O_CREAT | LX_O_EXCL);
	int r = fd_available();
	if (r)
		return r;
	r = vfs_parent_at(dirfd, upath, !(flags & LX_O_NOFOLLOW) && !excl, &p);
	if (r)
		return r;
	v = p.node;
	if (!v) {
		if (!(flags & LX_O_CREAT))
			return -ENOENT;
		if (p.trailing_slash)
			return -EISDIR;
		r = vops(p.dir)->create(p.dir, p.name, p.len, LX_S_IFREG | (mode & 07777 & ~vfs_umask()),
				       0, 0, 0, &v);
		if (r)
			return r;
		created = 1;
	} else if (excl) {
		return -EEXIST;
	} else if (LX_S_ISLNK(v->mode) && !(flags & LX_O_PATH)) {
		return -ELOOP;			/* O_NOFOLLOW */
	} else if (LX_S_ISDIR(v->mode) && !(flags & LX_O_PATH) && ((flags & LX_O_CREAT) || acc != LX_O_RDONLY)) {
		return -EISDIR;
	}
	if ((flags & LX_O_DIRECTORY) && !LX_S_ISDIR(v->mode))
		return -ENOTDIR;
	if ((flags & LX_O_TRUNC) && !created && LX_S_ISREG(v->mode) && acc != LX_O_RDONLY &&
	    !(flags & LX_O_PATH) && (r = (int)truncate_node(v, 0)))
		return r;		/* a file with no truncate (procfs): EINVAL, not a call through NULL */
	uint32_t keep = LX_O_ACCMODE | SETTABLE_FL | LX_O_DSYNC | LX_O_PATH;
	struct file *f;
	r = vfs_open_node(v, (uint32_t)(flags & keep) | LX_O_LARGEFILE, &f);
	if (r)
		return r;
	r = fd_install(f, 0, (flags & LX_O_CLOEXEC) != 0);
	file_put(f);
	return r;
}

LO_CALL(sys_open) { UNUSED_ARGS; return do_open(LX_AT_FDCWD, (const char *)a0, a1, (uint32_t)a2); }
LO_CALL(sys_openat) { UNUSED_ARGS; return do_open((int)a0, (const char *)a1, a2, (uint32_t)a3); }
LO_CALL(sys_creat)
{
	UNUSED_ARGS;
	return do_open(LX_AT_FDCWD, (const char *)a0, LX_O_CREAT | LX_O_WRONLY | LX_O_TRUNC, (uint32_t)a1);
}
LO_CALL(sys_close) { UNUSED_ARGS; return fd_close((int)a0); }

/* The kind's read or write (off < 0: at the file position), holding a
 * reference on the description for the call's length: a call that sleeps
 * (a socket's, a pipe's) gives the lock up, and another thread's close
 * meanwhile must not free what it works on, as on Linux, where the file
 * stays open under a call blocked on it (before, a socket's read went on
 * in freed memory: the million-call fuzzer's batches died in recv_dgram). */
static int64_t io_held(struct file *f, uint64_t buf, uint64_t len, int64_t off, int writing)
{
	struct sh_waker *w = hold_waker();
	file_ref(f);			/* file_hold, inline */
	hold_note(w, f);
	int64_t r = off < 0 ? (writing ? fops(f)->write(f, (const void *)buf, len) : fops(f)->read(f, (void *)buf, len))
			    : (writing ? fops(f)->pwrite(f, (const void *)buf, len, (uint64_t)off)
				       : fops(f)->pread(f, (void *)buf, len, (uint64_t)off));
	hold_unnote(w);			/* file_let_go */
	file_put(f);
	return r;
}

/* read and write at the file position. */
static int64_t transfer(uint64_t fd, uint64_t buf, uint64_t len, int writing)
{
	struct file *f;
	int r = io_file_for(fd, writing, &f);
	if (r)
		return r;
	if (writing ? !fops(f)->write : !fops(f)->read)
		return -EINVAL;
	if (len > RW_MAX)
		len = RW_MAX;
	return io_held(f, buf, len, -1, writing);
}

LO_CALL(sys_read) { UNUSED_ARGS; return transfer(a0, a1, a2, 0); }
LO_CALL(sys_write) { UNUSED_ARGS; return transfer(a0, a1, a2, 1); }

/* pread64 and pwrite64: at an offset, leaving the file position alone. */
static int64_t positional(uint64_t fd, uint64_t buf, uint64_t len, int64_t off, int writing)
{
	struct file *f;
	int r = io_file_for(fd, writing, &f);
	if (r)
		return r;
	if (off < 0)
		return -EINVAL;
	if (writing ? !fops(f)->pwrite : !fops(f)->pread)
		return -ESPIPE;
	if (len > RW_MAX)
		len = RW_MAX;
	return io_held(f, buf, len, off, writing);
}

LO_CALL(sys_pread64) { UNUSED_ARGS; return positional(a0, a1, a2, (int64_t)a3, 0); }
LO_CALL(sys_pwrite64) { UNUSED_ARGS; return positional(a0, a1, a2, (int64_t)a3, 1); }

/* sendfile: from in_fd, at *offset (left alone by the call, and moved in
 * *offset) or at its position, to out_fd, through a buffer of the library
 * OS, until count bytes, end of file or a short write. */
#define SENDFILE_CHUNK 65536ull
LO_CALL(sys_sendfile)
{
	UNUSED_ARGS;
	int64_t off = 0;
	if (a2 && lo_copy_in(&off, (const void *)a2, sizeof off))
		return -EFAULT;
	if (off < 0)
		return -EINVAL;
	uint8_t *buf = lo_alloc(SENDFILE_CHUNK);
	if (!buf)
		return -ENOMEM;
	uint64_t left = a3 > RW_MAX ? RW_MAX : a3;
	int64_t done = 0, r = 0;
	while (left) {
		uint64_t want = left < SENDFILE_CHUNK ? left : SENDFILE_CHUNK;
		r = a2 ? positional(a1, (uint64_t)buf, want, off, 0) : transfer(a1, (uint64_t)buf, want, 0);
		if (r <= 0)
			break;
		int64_t w = transfer(a0, (uint64_t)buf, (uint64_t)r, 1);
		if (w < 0) {
			r = w;
			break;
		}
		done += w;
		off += w;
		left -= (uint64_t)w;
		if (w < r) {
			if (!a2)	/* the input's position went past what was written */
				sys_lseek(a1, (uint64_t)(w - r), 1, 0, 0, 0);
			break;
		}
		if (left && lo_lock_breather())
			break;		/* a signal: what is done so far */
	}
	lo_free(buf);
	if (a2 && lo_copy_out((void *)a2, &off, sizeof off))
		return -EFAULT;
	return done ? done : r;
}

/* readv, writev, preadv, pwritev: element by element, stopping at the
 * first short transfer.  off < 0: at the file position. */
static int64_t vectored(uint64_t fd, uint64_t uiov, uint64_t cnt, int64_t off, int writing)
{
	struct file *f;
	int r = io_file_for(fd, writing, &f);
	if (r)
		return r;
	if (cnt > IOV_MAX)
		return -EINVAL;
	struct lx_iovec iov[64];
	uint64_t total = 0;
	int64_t done = 0;
	for (uint64_t base = 0; base < cnt; base += 64) {
		uint64_t n = cnt - base < 64 ? cnt - base : 64;
		if (lo_copy_in(iov, (const struct lx_iovec *)uiov + base, n * sizeof iov[0]))
			return done ? done : -EFAULT;
		for (uint64_t i = 0; i < n; i++) {
			if (iov[i].len > (uint64_t)INT64_MAX - total)
				return done ? done : -EINVAL;
			total += iov[i].len;
		}
		for (uint64_t i = 0; i < n; i++) {
			if (!iov[i].len)
				continue;
			int64_t k = off >= 0 ? positional(fd, iov[i].base, iov[i].len, off + done, writing)
					     : transfer(fd, iov[i].base, iov[i].len, writing);
			if (k < 0)
				return done ? done : k;
			done += k;
			if ((uint64_t)k < iov[i].len)
				return done;
		}
	}
	return done;
}

LO_CALL(sys_readv) { UNUSED_ARGS; return vectored(a0, a1, a2, -1, 0); }
LO_CALL(sys_writev) { UNUSED_ARGS; return vectored(a0, a1, a2, -1, 1); }
LO_CALL(sys_preadv) { UNUSED_ARGS; return (int64_t)a3 < 0 ? -EINVAL : vectored(a0, a1, a2, (int64_t)a3, 0); }
LO_CALL(sys_pwritev) { UNUSED_ARGS; return (int64_t)a3 < 0 ? -EINVAL : vectored(a0, a1, a2, (int64_t)a3, 1); }

LO_CALL(sys_lseek)
{
	UNUSED_ARGS;
	struct file *f;
	int r = io_file(a0, &f);
	if (r)
		return r;
	return fops(f)->lseek ? fops(f)->lseek(f, (int64_t)a1, (int)a2) : -ESPIPE;
}

LO_CALL(sys_ioctl)
{
	UNUSED_ARGS;
	struct file *f;
	int r = io_file(a0, &f);
	if (r)
		return r;
	if (a1 == 0x5451 || a1 == 0x5450) {		/* FIOCLEX, FIONCLEX */
		fd_set_cloexec((int)a0, a1 == 0x5451);
		return 0;
	}
	if (a1 == 0x5421) {				/* FIONBIO */
		int on;
		if (lo_copy_in(&on, (const void *)a2, sizeof on))
			return -EFAULT;
		f->flags = on ? f->flags | LX_O_NONBLOCK : f->flags & ~(uint32_t)LX_O_NONBLOCK;
		return 0;
	}
	return fops(f)->ioctl ? fops(f)->ioctl(f, a1, a2) : -ENOTTY;
}

LO_CALL(sys_getdents64)
{
	UNUSED_ARGS;
	struct file *f;
	int r = io_file(a0, &f);
	if (r)
		return r;
	return fops(f)->getdents ? fops(f)->getdents(f, (void *)a1, a2 < RW_MAX ? a2 : RW_MAX) : -ENOTDIR;
}

/* fstat on any descriptor, O_PATH ones included. */
static int stat_fd(uint64_t fd, struct lx_stat *st)
{
	struct file *f = (int64_t)fd >= 0 && fd <= INT32_MAX ? fd_get((int)fd) : 0;
	if (!f)
		return -EBADF;
	return fops(f)->stat(f, st);
}

/* Whether the program's path is the empty string (or -EFAULT). */
static int empty_path(const char *upath)
{
	char c;
	if (!upath || lo_copy_in(&c, upath, 1))
		return -EFAULT;
	return c == 0;
}

/* The stat of dirfd+path with AT_* flags, into st. */
static int stat_at(int dirfd, const char *upath, int flags, struct lx_stat *st)
{
	if (flags & ~(LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH | LX_AT_NO_AUTOMOUNT | LX_AT_STATX_SYNC_TYPE))
		return -EINVAL;
	int e = empty_path(upath);
	if (e < 0)
		return e;
	if (e && (flags & LX_AT_EMPTY_PATH) && dirfd != LX_AT_FDCWD)
		return stat_fd((uint64_t)(int64_t)dirfd, st);
	struct vnode *v;
	int r = vfs_lookup_at(dirfd, upath, flags, &v);
	if (r)
		return r;
	vfs_fill_stat(v, st);
	return 0;
}

static int64_t stat_out(int r, const struct lx_stat *st, uint64_t ubuf)
{
	return r ? r : lo_copy_out((void *)ubuf, st, sizeof *st);
}

LO_CALL(sys_stat) { UNUSED_ARGS; struct lx_stat st; return stat_out(stat_at(LX_AT_FDCWD, (const char *)a0, 0, &st), &st, a1); }
LO_CALL(sys_lstat)
{
	UNUSED_ARGS;
	struct lx_stat st;
	return stat_out(stat_at(LX_AT_FDCWD, (const char *)a0, LX_AT_SYMLINK_NOFOLLOW, &st), &st, a1);
}
LO_CALL(sys_fstat) { UNUSED_ARGS; struct lx_stat st; return stat_out(stat_fd(a0, &st), &st, a1); }
LO_CALL(sys_newfstatat)
{
	UNUSED_ARGS;
	struct lx_stat st;
	return stat_out(stat_at((int)a0, (const char *)a1, (int)a3, &st), &st, a2);
}

LO_CALL(sys_statx)
{
	UNUSED_ARGS;
	struct lx_stat st;
	struct lx_statx sx;
	int r = stat_at((int)a0, (const char *)a1, (int)a2, &st);
	if (r)
		return r;
	if (a3 & 0x80000000u)			/* STATX__RESERVED */
		return -EINVAL;
	lo_memset(&sx, 0, sizeof sx);
	sx.mask = 0x7ff;			/* STATX_BASIC_STATS */
	sx.blksize = (uint32_t)st.blksize;
	sx.nlink = (uint32_t)st.nlink;
	sx.uid = st.uid;
	sx.gid = st.gid;
	sx.mode = (uint16_t)st.mode;
	sx.ino = st.ino;
	sx.size = (uint64_t)st.size;
	sx.blocks = (uint64_t)st.blocks;
	sx.atime = (struct lx_statx_timestamp){ st.atime.sec, (uint32_t)st.atime.nsec, 0 };
	sx.mtime = (struct lx_statx_timestamp){ st.mtime.sec, (uint32_t)st.mtime.nsec, 0 };
	sx.ctime = (struct lx_statx_timestamp){ st.ctime.sec, (uint32_t)st.ctime.nsec, 0 };
	sx.rdev_major = lx_major(st.rdev);
	sx.rdev_minor = lx_minor(st.rdev);
	sx.dev_major = lx_major(st.dev);
	sx.dev_minor = lx_minor(st.dev);
	return lo_copy_out((void *)a4, &sx, sizeof sx);
}

static int64_t do_mkdir(int dirfd, const char *upath, uint32_t mode)
{
	struct vfs_parent p;
	struct vnode *v;
	int r = vfs_parent_at(dirfd, upath, 0, &p);
	if (r)
		return r;
	if (p.node)
		return -EEXIST;
	return vops(p.dir)->create(p.dir, p.name, p.len, LX_S_IFDIR | (mode & 01777 & ~vfs_umask()), 0, 0, 0, &v);
}

/* The parent of a name that must not exist yet (mknod, symlink). */
static int free_name_at(int dirfd, const char *upath, struct vfs_parent *p)
{
	int r = vfs_parent_at(dirfd, upath, 0, p);
	if (r)
		return r;
	if (p->node)
		return -EEXIST;
	return p->trailing_slash ? -ENOENT : 0;
}

/* mknod: regular files, FIFOs and device nodes (a device's number picks
 * what it opens, devfs.c); directories are mkdir's (EPERM), sockets have
 * no kind yet (EOPNOTSUPP). */
static int64_t do_mknod(int dirfd, const char *upath, uint32_t mode, uint64_t dev)
{
	struct vfs_parent p;
	struct vnode *v;
	uint32_t type = mode & LX_S_IFMT;
	if (type == 0)
		type = LX_S_IFREG;
	if (type == LX_S_IFDIR)
		return -EPERM;
	if (type != LX_S_IFREG && type != LX_S_IFIFO && type != LX_S_IFCHR && type != LX_S_IFBLK &&
	    type != LX_S_IFSOCK)
		return -EINVAL;
	int r = free_name_at(dirfd, upath, &p);
	if (r)
		return r;
	if (type == LX_S_IFSOCK)
		return -EOPNOTSUPP;
	uint64_t rdev = type == LX_S_IFCHR || type == LX_S_IFBLK ? (uint32_t)dev : 0;	/* a 32-bit dev_t */
	return vops(p.dir)->create(p.dir, p.name, p.len, type | (mode & 07777 & ~vfs_umask()), rdev, 0, 0, &v);
}

LO_CALL(sys_mknod) { UNUSED_ARGS; return do_mknod(LX_AT_FDCWD, (const char *)a0, (uint32_t)a1, a2); }
LO_CALL(sys_mknodat) { UNUSED_ARGS; return do_mknod((int)a0, (const char *)a1, (uint32_t)a2, a3); }

LO_CALL(sys_mkdir) { UNUSED_ARGS; return do_mkdir(LX_AT_FDCWD, (const char *)a0, (uint32_t)a1); }
LO_CALL(sys_mkdirat) { UNUSED_ARGS; return do_mkdir((int)a0, (const char *)a1, (uint32_t)a2); }

static int dir_is_empty(struct vnode *d)
{
	uint64_t pos = 0;
	struct vfs_dirent e;
	return !vops(d)->readdir(d, &pos, &e);
}

/* Whether v is a mount point or the root of a mounted file system. */
static int is_mount_root(struct vnode *v)
{
	return v->mnt->root == v;
}

static int64_t do_rmdir(int dirfd, const char *upath)
{
	struct vfs_parent p;
	int r = vfs_parent_at(dirfd, upath, 0, &p);
	if (r)
		return r;
	if (p.len == 2 && p.name[0] == '.' && p.name[1] == '.')
		return -ENOTEMPTY;
	if (p.len == 1 && p.name[0] == '.')
		return -EINVAL;
	if (p.len == 0)
		return -EBUSY;
	if (!p.node)
		return -ENOENT;
	if (!LX_S_ISDIR(p.node->mode))
		return -ENOTDIR;
	if (is_mount_root(p.node))
		return -EBUSY;
	if (!dir_is_empty(p.node))
		return -ENOTEMPTY;
	return vops(p.dir)->unlink(p.dir, p.name, p.len);
}

static int64_t do_unlink(int dirfd, const char *upath)
{
	struct vfs_parent p;
	int r = vfs_parent_at(dirfd, upath, 0, &p);
	if (r)
		return r;
	if (!p.node)
		return -ENOENT;
	if (is_dot(&p) || LX_S_ISDIR(p.node->mode))
		return -EISDIR;
	return vops(p.dir)->unlink(p.dir, p.name, p.len);
}

LO_CALL(sys_rmdir) { UNUSED_ARGS; return do_rmdir(LX_AT_FDCWD, (const char *)a0); }
LO_CALL(sys_unlink) { UNUSED_ARGS; return do_unlink(LX_AT_FDCWD, (const char *)a0); }
LO_CALL(sys_unlinkat)
{
	UNUSED_ARGS;
	if (a2 & ~(uint64_t)LX_AT_REMOVEDIR)
		return -EINVAL;
	return a2 ? do_rmdir((int)a0, (const char *)a1) : do_unlink((int)a0, (const char *)a1);
}

/* Whether dir is anc or lies below it. */
static int is_below(struct vnode *dir, struct vnode *anc)
{
	for (struct vnode *v = dir; v; v = v->parent)
		if (v == anc)
			return 1;
	return 0;
}

/* RENAME_EXCHANGE: both names exist; neither may hold the other. */
static int64_t exchange(struct vfs_parent *po, struct vfs_parent *pn)
{
	if (!pn->node)
		return -ENOENT;
	if (po->node == pn->node)
		return 0;
	if ((LX_S_ISDIR(po->node->mode) && is_below(pn->dir, po->node)) ||
	    (LX_S_ISDIR(pn->node->mode) && is_below(po->dir, pn->node)))
		return -EINVAL;
	if (!vops(po->dir)->exchange)
		return -EINVAL;
	return vops(po->dir)->exchange(po->dir, po->name, po->len, pn->dir, pn->name, pn->len);
}

static int64_t do_rename(int odirfd, const char *uold, int ndirfd, const char *unew, uint64_t flags)
{
	static struct vfs_parent po, pn;	/* two path buffers: too big for one stack frame */
	if (flags & ~(uint64_t)(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	int r = vfs_parent_at(odirfd, uold, 0, &po);
	if (r || (r = vfs_parent_at(ndirfd, unew, 0, &pn)))
		return r;
	if (!po.node)
		return -ENOENT;
	if (is_dot(&po) || is_dot(&pn))
		return -EBUSY;
	if (po.dir->mnt != pn.dir->mnt)
		return -EXDEV;
	if (is_mount_root(po.node) || (pn.node && is_mount_root(pn.node)))
		return -EBUSY;
	int odir = LX_S_ISDIR(po.node->mode);
	if (!odir && (po.trailing_slash || pn.trailing_slash))
		return -ENOTDIR;
	if (pn.node && flags & RENAME_NOREPLACE)
		return -EEXIST;
	if (flags & RENAME_EXCHANGE)
		return exchange(&po, &pn);
	if (po.node == pn.node)
		return 0;
	if (odir && is_below(pn.dir, po.node))
		return -EINVAL;
	if (pn.node) {
		if (odir && !LX_S_ISDIR(pn.node->mode))
			return -ENOTDIR;
		if (!odir && LX_S_ISDIR(pn.node->mode))
			return -EISDIR;
		if (odir && !dir_is_empty(pn.node))
			return -ENOTEMPTY;
		if (!vops(pn.dir)->rename_replaces && (r = vops(pn.dir)->unlink(pn.dir, pn.name, pn.len)))
			return r;
	}
	return vops(po.dir)->rename(po.dir, po.name, po.len, pn.dir, pn.name, pn.len);
}

LO_CALL(sys_rename) { UNUSED_ARGS; return do_rename(LX_AT_FDCWD, (const char *)a0, LX_AT_FDCWD, (const char *)a1, 0); }
LO_CALL(sys_renameat) { UNUSED_ARGS; return do_rename((int)a0, (const char *)a1, (int)a2, (const char *)a3, 0); }
LO_CALL(sys_renameat2) { UNUSED_ARGS; return do_rename((int)a0, (const char *)a1, (int)a2, (const char *)a3, a4); }

static int64_t do_link(int odirfd, const char *uold, int ndirfd, const char *unew, uint64_t flags)
{
	struct vfs_parent p;
	struct vnode *v;
	if (flags & ~(uint64_t)(LX_AT_SYMLINK_FOLLOW | LX_AT_EMPTY_PATH))
		return -EINVAL;
	int r = vfs_lookup_at(odirfd, uold, flags & LX_AT_SYMLINK_FOLLOW ? (int)(flags & LX_AT_EMPTY_PATH)
						     : LX_AT_SYMLINK_NOFOLLOW | (int)(flags & LX_AT_EMPTY_PATH), &v);
	if (r || (r = vfs_parent_at(ndirfd, unew, 0, &p)))
		return r;
	if (p.node)
		return -EEXIST;
	if (LX_S_ISDIR(v->mode))
		return -EPERM;
	if (v->mnt != p.dir->mnt)
		return -EXDEV;
	if (p.trailing_slash)
		return -ENOENT;
	return vops(p.dir)->link(p.dir, p.name, p.len, v);
}

LO_CALL(sys_link) { UNUSED_ARGS; return do_link(LX_AT_FDCWD, (const char *)a0, LX_AT_FDCWD, (const char *)a1, 0); }
LO_CALL(sys_linkat) { UNUSED_ARGS; return do_link((int)a0, (const char *)a1, (int)a2, (const char *)a3, a4); }

static int64_t do_symlink(const char *utarget, int dirfd, const char *upath)
{
	static char target[LX_PATH_MAX];
	struct vfs_parent p;
	struct vnode *v;
	if (!utarget)
		return -EFAULT;
	int64_t n = lo_strncpy_in(target, utarget, sizeof target);
	if (n < 0)
		return n;
	if (n == (int64_t)sizeof target)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	int r = free_name_at(dirfd, upath, &p);
	if (r)
		return r;
	return vops(p.dir)->create(p.dir, p.name, p.len, LX_S_IFLNK | 0777, 0, target, (size_t)n, &v);
}

LO_CALL(sys_symlink) { UNUSED_ARGS; return do_symlink((const char *)a0, LX_AT_FDCWD, (const char *)a1); }
LO_CALL(sys_symlinkat) { UNUSED_ARGS; return do_symlink((const char *)a0, (int)a1, (const char *)a2); }

static int64_t do_readlink(int dirfd, const char *upath, uint64_t ubuf, int64_t size)
{
	struct vnode *v;
	const char *t;
	size_t len;
	if (size <= 0)
		return -EINVAL;
	int r = vfs_lookup_at(dirfd, upath, LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH, &v);
	if (r)
		return r;
	if (!LX_S_ISLNK(v->mode) || vops(v)->readlink(v, &t, &len))
		return -EINVAL;
	if (len > (uint64_t)size)
		len = (size_t)size;
	return lo_copy_out((void *)ubuf, t, len) ? -EFAULT : (int64_t)len;
}

LO_CALL(sys_readlink) { UNUSED_ARGS; return do_readlink(LX_AT_FDCWD, (const char *)a0, a1, (int64_t)a2); }
LO_CALL(sys_readlinkat) { UNUSED_ARGS; return do_readlink((int)a0, (const char *)a1, a2, (int64_t)a3); }

static int64_t change_dir(struct vnode *v)
{
	if (!LX_S_ISDIR(v->mode))
		return -ENOTDIR;
	vfs_set_cwd(v);
	return 0;
}

LO_CALL(sys_chdir)
{
	UNUSED_ARGS;
	struct vnode *v;
	int r = vfs_lookup_at(LX_AT_FDCWD, (const char *)a0, 0, &v);
	return r ? r : change_dir(v);
}

LO_CALL(sys_fchdir)
{
	UNUSED_ARGS;
	struct file *f = (int64_t)a0 >= 0 && a0 <= INT32_MAX ? fd_get((int)a0) : 0;
	if (!f)
		return -EBADF;
	return f->vn ? change_dir(f->vn) : -ENOTDIR;
}

/* The name of v in its parent directory (v is not the root). */
static int name_in_parent(struct vnode *v, struct vnode **parent, struct vfs_dirent *d)
{
	while (v->mnt->root == v && v->mnt->covered)
		v = v->mnt->covered;
	struct vnode *up = v->parent;
	if (!up)
		return -ENOENT;
	for (uint64_t pos = 0; vops(up)->readdir(up, &pos, d);)
		if (d->ino == v->ino) {
			*parent = up;
			return 0;
		}
	return -ENOENT;
}

LO_CALL(sys_getcwd)
{
	UNUSED_ARGS;
	static char path[LX_PATH_MAX];
	uint64_t at = sizeof path - 1;
	struct vnode *v = vfs_cwd();
	path[at] = 0;
	if (v->nlink == 0)
		return -ENOENT;
	while (v != vfs_root()) {
		struct vfs_dirent d;
		struct vnode *up;
		int r = name_in_parent(v, &up, &d);
		if (r)
			return r;
		if (d.len + 1 > at)
			return -ENAMETOOLONG;
		at -= d.len;
		lo_memcpy(path + at, d.name, d.len);
		path[--at] = '/';
		v = up;
	}
	if (at == sizeof path - 1)
		path[--at] = '/';
	uint64_t len = sizeof path - at;
	if (len > a1)
		return -ERANGE;
	return lo_copy_out((void *)a0, path + at, len) ? -EFAULT : (int64_t)len;
}

LO_CALL(sys_dup)
{
	UNUSED_ARGS;
	struct file *f = (int64_t)a0 >= 0 && a0 <= INT32_MAX ? fd_get((int)a0) : 0;
	return f ? fd_install(f, 0, 0) : -EBADF;
}

static int64_t do_dup3(uint64_t oldfd, uint64_t newfd, uint64_t flags, int dup2)
{
	struct file *f = (int64_t)oldfd >= 0 && oldfd <= INT32_MAX ? fd_get((int)oldfd) : 0;
	if (!dup2 && (flags & ~(uint64_t)LX_O_CLOEXEC))
		return -EINVAL;
	if (oldfd == newfd)
		return dup2 ? (f ? (int64_t)newfd : -EBADF) : -EINVAL;
	if (!f)
		return -EBADF;
	if (newfd > INT32_MAX)
		return -EBADF;
	return fd_install_at(f, (int)newfd, flags != 0);
}

LO_CALL(sys_dup2) { UNUSED_ARGS; return do_dup3(a0, a1, 0, 1); }
LO_CALL(sys_dup3) { UNUSED_ARGS; return do_dup3(a0, a1, a2, 0); }

/* F_ADD_SEALS and F_GET_SEALS: tmpfs files only (else EINVAL); adding
 * needs the file open for writing (EPERM), as on Linux. */
static int64_t fcntl_seals(struct file *f, int cmd, uint64_t seals)
{
	struct vnode *v = f->kind == FK_NODE && !(f->flags & LX_O_PATH) ? f->vn : 0;
	if (!v || v->kind != VK_TMPFS || !LX_S_ISREG(v->mode))
		return -EINVAL;
	if (cmd == LX_F_GET_SEALS)
		return tmpfs_seals(v);
	if (seals & ~(uint64_t)LX_F_SEAL_ALL)
		return -EINVAL;
	if (!can_write(f))
		return -EPERM;
	return tmpfs_add_seals(v, (uint32_t)seals);
}

LO_CALL(sys_fcntl)
{
	UNUSED_ARGS;
	int fd = (int)a0;
	struct file *f = (int64_t)a0 >= 0 && a0 <= INT32_MAX ? fd_get(fd) : 0;
	if (!f)
		return -EBADF;
	switch ((int)a1) {
	case LX_F_DUPFD:
	case LX_F_DUPFD_CLOEXEC:
		if (a2 >= fd_limit())
			return -EINVAL;
		return fd_install(f, (int)a2, (int)a1 == LX_F_DUPFD_CLOEXEC);
	case LX_F_GETFD:
		return fd_get_cloexec(fd) ? LX_FD_CLOEXEC : 0;
	case LX_F_SETFD:
		fd_set_cloexec(fd, (a2 & LX_FD_CLOEXEC) != 0);
		return 0;
	case LX_F_GETFL:
		return f->flags;
	case LX_F_GETLK:
	case LX_F_SETLK:
	case LX_F_SETLKW:
		return f->flags & LX_O_PATH ? -EBADF : flock_fcntl(f, (int)a1, a2);
	case LX_F_SETFL:
		if (f->flags & LX_O_PATH)
			return -EBADF;
		f->flags = (f->flags & ~(uint32_t)SETTABLE_FL) | ((uint32_t)a2 & SETTABLE_FL);
		return 0;
	case LX_F_ADD_SEALS:
	case LX_F_GET_SEALS:
		return fcntl_seals(f, (int)a1, a2);
	default:
		return -EINVAL;
	}
}

/* truncate and open's O_TRUNC: a regular file whose file system can
 * change its size. */
static int64_t truncate_node(struct vnode *v, int64_t len)
{
	if (len < 0)
		return -EINVAL;
	if (LX_S_ISDIR(v->mode))
		return -EISDIR;
	if (!LX_S_ISREG(v->mode) || !vops(v)->truncate)
		return -EINVAL;
	return vops(v)->truncate(v, (uint64_t)len);
}

LO_CALL(sys_ftruncate)
{
	UNUSED_ARGS;
	struct file *f;
	int r = io_file(a0, &f);
	if (r)
		return r;
	if ((int64_t)a1 < 0 || !can_write(f))
		return -EINVAL;
	return fops(f)->truncate ? fops(f)->truncate(f, a1) : -EINVAL;
}

LO_CALL(sys_truncate)
{
	UNUSED_ARGS;
	struct vnode *v;
	int r = vfs_lookup_at(LX_AT_FDCWD, (const char *)a0, 0, &v);
	return r ? r : truncate_node(v, (int64_t)a1);
}

LO_CALL(sys_fsync)
{
	UNUSED_ARGS;
	struct file *f;
	int r = io_file(a0, &f);
	if (r)
		return r;
	return fops(f)->fsync ? fops(f)->fsync(f) : -EINVAL;
}

LO_CALL(sys_umask)
{
	UNUSED_ARGS;
	return vfs_set_umask((uint32_t)a0 & 0777);
}

/* access: we run as root, so only X_OK can fail, on a file with no x bit. */
static int64_t do_access(int dirfd, const char *upath, uint64_t mode, uint64_t flags)
{
	struct vnode *v;
	if (mode & ~7ull)
		return -EINVAL;
	if (flags & ~(uint64_t)(LX_AT_EACCESS | LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH))
		return -EINVAL;
	int r = vfs_lookup_at(dirfd, upath, (int)flags & (LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH), &v);
	if (r)
		return r;
	if ((mode & 1) && !LX_S_ISDIR(v->mode) && !(v->mode & 0111))
		return -EACCES;
	return 0;
}

LO_CALL(sys_access) { UNUSED_ARGS; return do_access(LX_AT_FDCWD, (const char *)a0, a1, 0); }
LO_CALL(sys_faccessat) { UNUSED_ARGS; return do_access((int)a0, (const char *)a1, a2, 0); }
LO_CALL(sys_faccessat2) { UNUSED_ARGS; return do_access((int)a0, (const char *)a1, a2, a3); }

/* The node a path or a descriptor names, for the attribute calls. */
static int attr_node(int dirfd, const char *upath, int flags, int by_fd, struct vnode **v)
{
	if (by_fd) {
		struct file *f;
		int r = io_file((uint64_t)(int64_t)dirfd, &f);
		if (r)
			return r;
		if (!f->vn)
			return -EINVAL;
		*v = f->vn;
		return 0;
	}
	return vfs_lookup_at(dirfd, upath, flags, v);
}

static int64_t do_chmod(int dirfd, const char *upath, uint64_t mode, int by_fd)
{
	struct vnode *v;
	int r = attr_node(dirfd, upath, 0, by_fd, &v);
	if (r)
		return r;
	v->mode = (v->mode & LX_S_IFMT) | ((uint32_t)mode & 07777);
	v->ctime = vfs_now();
	return vops(v)->setattr ? vops(v)->setattr(v) : 0;
}

LO_CALL(sys_chmod) { UNUSED_ARGS; return do_chmod(LX_AT_FDCWD, (const char *)a0, a1, 0); }
LO_CALL(sys_fchmod) { UNUSED_ARGS; return do_chmod((int)a0, 0, a1, 1); }
LO_CALL(sys_fchmodat) { UNUSED_ARGS; return do_chmod((int)a0, (const char *)a1, a2, 0); }

static int64_t do_chown(int dirfd, const char *upath, uint64_t uid, uint64_t gid, int flags, int by_fd)
{
	struct vnode *v;
	if (flags & ~(LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH))
		return -EINVAL;
	int r = attr_node(dirfd, upath, flags, by_fd, &v);
	if (r)
		return r;
	if ((uint32_t)uid != 0xffffffffu)
		v->uid = (uint32_t)uid;
	if ((uint32_t)gid != 0xffffffffu)
		v->gid = (uint32_t)gid;
	if (LX_S_ISREG(v->mode)) {		/* as Linux does, even for root */
		v->mode &= ~04000u;			/* S_ISUID */
		if (v->mode & 010)
			v->mode &= ~02000u;		/* S_ISGID with group exec */
	}
	v->ctime = vfs_now();
	return vops(v)->setattr ? vops(v)->setattr(v) : 0;
}

LO_CALL(sys_chown) { UNUSED_ARGS; return do_chown(LX_AT_FDCWD, (const char *)a0, a1, a2, 0, 0); }
LO_CALL(sys_lchown) { UNUSED_ARGS; return do_chown(LX_AT_FDCWD, (const char *)a0, a1, a2, LX_AT_SYMLINK_NOFOLLOW, 0); }
LO_CALL(sys_fchown) { UNUSED_ARGS; return do_chown((int)a0, 0, a1, a2, 0, 1); }
LO_CALL(sys_fchownat) { UNUSED_ARGS; return do_chown((int)a0, (const char *)a1, a2, a3, (int)a4, 0); }

/* utimensat; a NULL path means dirfd itself (musl's futimens). */
LO_CALL(sys_utimensat)
{
	UNUSED_ARGS;
	struct lx_timespec ts[2], now = vfs_now();
	struct vnode *v;
	int r;
	if (a3 & ~(uint64_t)(LX_AT_SYMLINK_NOFOLLOW | LX_AT_EMPTY_PATH))
		return -EINVAL;
	if (a2) {
		if (lo_copy_in(ts, (const void *)a2, sizeof ts))
			return -EFAULT;
		for (int i = 0; i < 2; i++)
			if (ts[i].nsec != UTIME_NOW && ts[i].nsec != UTIME_OMIT &&
			    (ts[i].nsec < 0 || ts[i].nsec >= 1000000000))
				return -EINVAL;
	} else {
		ts[0].nsec = ts[1].nsec = UTIME_NOW;
	}
	if (!a1) {
		if ((int)a0 == LX_AT_FDCWD)
			return -EFAULT;
		struct file *f = (int64_t)a0 >= 0 && a0 <= INT32_MAX ? fd_get((int)a0) : 0;
		if (!f)
			return -EBADF;
		if (!f->vn)
			return -EINVAL;
		v = f->vn;
	} else if ((r = vfs_lookup_at((int)a0, (const char *)a1, (int)a3, &v))) {
		return r;
	}
	if (ts[0].nsec == UTIME_OMIT && ts[1].nsec == UTIME_OMIT)
		return 0;
	if (ts[0].nsec != UTIME_OMIT)
		v->atime = ts[0].nsec == UTIME_NOW ? now : ts[0];
	if (ts[1].nsec != UTIME_OMIT)
		v->mtime = ts[1].nsec == UTIME_NOW ? now : ts[1];
	v->ctime = now;
	return vops(v)->setattr ? vops(v)->setattr(v) : 0;
}

static int64_t statfs_out(struct vnode *v, uint64_t ubuf)
{
	struct lx_statfs s;
	lo_memset(&s, 0, sizeof s);
	if (!v) {
		s.type = 0x50495045;		/* PIPEFS_MAGIC */
		s.bsize = s.frsize = 4096;
		s.namelen = LX_NAME_MAX;
	} else {
		int r = vops(v)->statfs ? vops(v)->statfs(v, &s) : -ENOSYS;
		if (r)
			return r;
	}
	return lo_copy_out((void *)ubuf, &s, sizeof s);
}

LO_CALL(sys_statfs)
{
	UNUSED_ARGS;
	struct vnode *v;
	int r = vfs_lookup_at(LX_AT_FDCWD, (const char *)a0, 0, &v);
	return r ? r : statfs_out(v, a1);
}

LO_CALL(sys_fstatfs)
{
	UNUSED_ARGS;
	struct file *f = (int64_t)a0 >= 0 && a0 <= INT32_MAX ? fd_get((int)a0) : 0;
	return f ? statfs_out(f->vn, a1) : -EBADF;
}

LO_CALL(sys_pipe2)
{
	UNUSED_ARGS;
	struct file *rd, *wr;
	if (a1 & ~(uint64_t)(LX_O_CLOEXEC | LX_O_NONBLOCK | LX_O_DIRECT))
		return -EINVAL;
	int r = fd_available();
	if (r)
		return r;
	r = pipe_create(&rd, &wr, (uint32_t)a1 & (LX_O_NONBLOCK | LX_O_DIRECT));
	if (r)
		return r;
	int fds[2];
	fds[0] = fd_install(rd, 0, (a1 & LX_O_CLOEXEC) != 0);
	fds[1] = fds[0] < 0 ? fds[0] : fd_install(wr, 0, (a1 & LX_O_CLOEXEC) != 0);
	file_put(rd);
	file_put(wr);
	if (fds[1] < 0 || lo_copy_out((void *)a0, fds, sizeof fds)) {
		r = fds[1] < 0 ? fds[1] : -EFAULT;
		if (fds[0] >= 0)
			fd_close(fds[0]);
		if (fds[1] >= 0)
			fd_close(fds[1]);
		return r;
	}
	return 0;
}

LO_CALL(sys_pipe) { UNUSED_ARGS; return sys_pipe2(a0, 0, 0, 0, 0, 0); }
