/*
 * The VFS: the mount table, path resolution across mounts and symbolic
 * links, the working directory, and the file ops of files opened from a
 * file system (regular files and directories; devices bring their own).
 * File systems plug in through struct vnode_ops (libos/vfs.h).  The root
 * and the mount table are the processes' struct vfs_ns, the cwd and umask
 * each process's own (proc_files(), libos/shared.h).
 */
#include "libos/libos.h"
#include "libos/shared.h"
#include "libos/vfs.h"
#include "libos/cfs_vfs.h"

const struct vnode_ops *const vnode_kinds[VK_COUNT] = {
	[VK_TMPFS] = &tmpfs_vnode_ops,
	[VK_CFS] = &cfs_vnode_ops,
	[VK_PROC] = &procfs_vnode_ops,
};

uint32_t vfs_umask(void)
{
	return proc_files()->umask;
}

uint32_t vfs_set_umask(uint32_t mask)
{
	uint32_t old = proc_files()->umask;
	proc_files()->umask = mask;
	return old;
}

void vfs_changed(struct vfs_ns *ns)
{
	ns->changes++;
	sh_wake(&ns->changes);
}

struct lx_timespec vfs_now(void)
{
	uint64_t ns = libos_kinfo->realtime_base_ns + time_now_ns();
	return (struct lx_timespec){ (int64_t)(ns / 1000000000u), (int64_t)(ns % 1000000000u) };
}

void vfs_ref(struct vnode *v)
{
	v->refs++;
}

void vfs_put(struct vnode *v)
{
	if (--v->refs == 0 && v->nlink == 0 && vops(v)->destroy)
		vops(v)->destroy(v);
}

struct vnode *vfs_root(void) { return vfs_ns()->root; }
struct vnode *vfs_cwd(void) { return proc_files()->cwd; }

void vfs_set_cwd(struct vnode *v)
{
	vfs_ref(v);
	struct vnode *old = proc_files()->cwd;
	proc_files()->cwd = v;
	if (old)
		vfs_put(old);
}

/* Steps from dir into one name: ".", "..", and into mounted roots. */
static int step(struct vnode *dir, const char *name, size_t len, struct vnode **out)
{
	if (!LX_S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (len == 1 && name[0] == '.') {
		*out = dir;
		return 0;
	}
	if (len == 2 && name[0] == '.' && name[1] == '.') {
		while (dir->mnt->root == dir && dir->mnt->covered)
			dir = dir->mnt->covered;
		*out = dir->parent ? dir->parent : dir;
		return 0;
	}
	struct vnode *v;
	int r = vops(dir)->lookup(dir, name, len, &v);
	if (r)
		return r;
	while (v->mounted)
		v = v->mounted;
	*out = v;
	return 0;
}

/* A symlink's target, which must not be empty. */
static int link_target(struct vnode *v, const char **t)
{
	size_t len;
	int r = vops(v)->readlink ? vops(v)->readlink(v, t, &len) : -EINVAL;
	return r ? r : len ? 0 : -ENOENT;
}

/*
 * Resolves path from start.  With p, stops at the last name: p gets its
 * directory and the name, and the node if it exists.  follow: whether a
 * symlink in the last place is followed (always when a slash trails).
 * links counts the symlinks followed, for ELOOP.
 */
static int walk(struct vnode *start, const char *path, int follow, int *links,
		struct vfs_parent *p, struct vnode **out)
{
	struct vnode *dir = path[0] == '/' ? vfs_root() : start;
	const char *s = path;
	for (;;) {
		while (*s == '/')
			s++;
		if (!*s) {				/* "/" or the start itself */
			if (p) {
				p->dir = dir;
				p->name = "";
				p->len = 0;
				p->node = dir;
			}
			*out = dir;
			return 0;
		}
		const char *e = s;
		while (*e && *e != '/')
			e++;
		size_t len = (size_t)(e - s);
		if (len > LX_NAME_MAX)
			return -ENAMETOOLONG;
		const char *rest = e;
		while (*rest == '/')
			rest++;
		int last = !*rest, trailing = last && *e == '/';
		struct vnode *v = 0;
		int r = step(dir, s, len, &v);
		if (last && p) {
			if (r && r != -ENOENT)
				return r;
			p->dir = dir;
			p->name = s;
			p->len = len;
			p->trailing_slash = trailing;
			p->node = v;
		} else if (r) {
			return r;
		}
		if (v && LX_S_ISLNK(v->mode) && (!last || follow || trailing)) {
			const char *t;
			if (++*links > LX_SYMLOOP_MAX)
				return -ELOOP;
			if ((r = link_target(v, &t)))
				return r;
			r = walk(dir, t, 1, links, last ? p : 0, &v);
			if (r)
				return r;
			if (last && p)
				p->trailing_slash |= trailing;
		}
		if (last) {
			if (v && trailing && !LX_S_ISDIR(v->mode))
				return -ENOTDIR;
			*out = v;
			return 0;
		}
		dir = v;
		s = e;
	}
}

/* The directory relative paths start from: the cwd or dirfd's node. */
static int start_of(int dirfd, const char *path, struct vnode **start)
{
	if (path[0] == '/' || dirfd == LX_AT_FDCWD) {
		*start = vfs_cwd();
		return 0;
	}
	struct file *f = fd_get(dirfd);
	if (!f)
		return -EBADF;
	if (!f->vn || !LX_S_ISDIR(f->vn->mode))
		return path[0] ? -ENOTDIR : 0;
	*start = f->vn;
	return 0;
}

/* Copies a path in: ENAMETOOLONG at PATH_MAX, ENOENT when empty. */
static int path_in(char *buf, const char *upath)
{
	if (!upath)
		return -EFAULT;
	int64_t n = lo_strncpy_in(buf, upath, LX_PATH_MAX);
	if (n < 0)
		return (int)n;
	if (n == LX_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

int vfs_lookup_k(struct vnode *start, const char *path, int follow, struct vnode **out)
{
	int links = 0;
	if (!path[0])
		return -ENOENT;
	return walk(start, path, follow, &links, 0, out);
}

int vfs_lookup_at(int dirfd, const char *upath, int flags, struct vnode **out)
{
	char buf[LX_PATH_MAX];
	struct vnode *start;
	int r = path_in(buf, upath);
	if (r)
		return r;
	if (!buf[0] && (flags & LX_AT_EMPTY_PATH)) {
		if (dirfd == LX_AT_FDCWD) {
			*out = vfs_cwd();
			return 0;
		}
		struct file *f = fd_get(dirfd);
		if (!f)
			return -EBADF;
		if (!f->vn)
			return -ENOENT;		/* callers handle fds without a node */
		*out = f->vn;
		return 0;
	}
	if (!buf[0])
		return -ENOENT;
	if ((r = start_of(dirfd, buf, &start)))
		return r;
	return vfs_lookup_k(start, buf, !(flags & LX_AT_SYMLINK_NOFOLLOW), out);
}

int vfs_parent_k(struct vnode *start, const char *path, int follow, struct vfs_parent *p)
{
	int links = 0;
	struct vnode *v;
	if (!path[0])
		return -ENOENT;
	return walk(start, path, follow, &links, p, &v);
}

int vfs_parent_at(int dirfd, const char *upath, int follow, struct vfs_parent *p)
{
	struct vnode *start;
	int r = path_in(p->buf, upath);
	if (r)
		return r;
	if (!p->buf[0])
		return -ENOENT;
	if ((r = start_of(dirfd, p->buf, &start)))
		return r;
	return vfs_parent_k(start, p->buf, follow, p);
}

int vfs_make_k(const char *path, uint32_t mode, uint64_t rdev, const char *target, size_t tlen,
	       struct vnode **out)
{
	static struct vfs_parent p;
	size_t n = lo_strlen(path);
	if (n >= sizeof p.buf)
		return -ENAMETOOLONG;
	lo_memcpy(p.buf, path, n + 1);
	int r = vfs_parent_k(vfs_root(), p.buf, 0, &p);
	if (r)
		return r;
	if (p.node)
		return -EEXIST;
	return vops(p.dir)->create(p.dir, p.name, p.len, mode, rdev, target, tlen, out);
}

int vfs_mount(const char *path, struct vnode *root, const char *type, int64_t magic)
{
	struct vfs_ns *ns = vfs_ns();
	struct mount *m = sh_alloc(sizeof *m);
	if (!m)
		return -ENOMEM;
	m->root = root;
	m->dev = ns->next_dev++;
	size_t n = lo_strlen(type);
	lo_memcpy(m->type, type, n < sizeof m->type ? n : sizeof m->type - 1);
	m->magic = magic;
	m->next_ino = 2;
	m->next = ns->mounts;
	ns->mounts = m;
	root->mnt = m;
	root->ino = 1;
	vfs_ref(root);
	if (!path)
		return 0;
	struct vnode *at;
	int r = vfs_lookup_k(ns->root, path, 1, &at);
	if (r)
		return r;
	if (!LX_S_ISDIR(at->mode))
		return -ENOTDIR;
	m->covered = at;
	at->mounted = root;
	vfs_ref(at);
	return 0;
}

void vfs_fill_stat(struct vnode *v, struct lx_stat *st)
{
	lo_memset(st, 0, sizeof *st);
	st->dev = lx_makedev(0, (uint32_t)v->mnt->dev);
	st->ino = v->ino;
	st->nlink = v->nlink;
	st->mode = v->mode;
	st->uid = v->uid;
	st->gid = v->gid;
	st->rdev = v->rdev;
	st->size = (int64_t)v->size;
	st->blksize = 4096;
	st->blocks = LX_S_ISREG(v->mode) ? (int64_t)((v->size + 4095) / 4096 * 8) : 0;
	st->atime = v->atime;
	st->mtime = v->mtime;
	st->ctime = v->ctime;
}

/* File ops of nodes opened from a file system. */
static int64_t node_pread(struct file *f, void *ubuf, uint64_t len, uint64_t off)
{
	struct vnode *v = f->vn;
	if (LX_S_ISDIR(v->mode))
		return -EISDIR;
	if (!vops(v)->read)
		return -EINVAL;
	return vops(v)->read(v, ubuf, len, off);
}

static int64_t node_pwrite(struct file *f, const void *ubuf, uint64_t len, uint64_t off)
{
	struct vnode *v = f->vn;
	if (!vops(v)->write)
		return -EINVAL;
	if (f->flags & LX_O_APPEND)
		off = v->size;
	return vops(v)->write(v, ubuf, len, off);
}

static int64_t node_read(struct file *f, void *ubuf, uint64_t len)
{
	int64_t r = node_pread(f, ubuf, len, f->pos);
	if (r > 0)
		f->pos += (uint64_t)r;
	return r;
}

static int64_t node_write(struct file *f, const void *ubuf, uint64_t len)
{
	if (f->flags & LX_O_APPEND)
		f->pos = f->vn->size;
	int64_t r = node_pwrite(f, ubuf, len, f->pos);
	if (r > 0)
		f->pos += (uint64_t)r;
	return r;
}

static int64_t node_lseek(struct file *f, int64_t off, int whence)
{
	int64_t base, size = (int64_t)f->vn->size;
	switch (whence) {
	case LX_SEEK_SET: base = 0; break;
	case LX_SEEK_CUR: base = (int64_t)f->pos; break;
	case LX_SEEK_END: base = size; break;
	case LX_SEEK_DATA:
	case LX_SEEK_HOLE:
		if (!LX_S_ISREG(f->vn->mode))
			return -EINVAL;
		if (off < 0 || off >= size)
			return -6;		/* ENXIO */
		f->pos = (uint64_t)(whence == LX_SEEK_DATA ? off : size);
		return (int64_t)f->pos;
	default: return -EINVAL;
	}
	if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
		return -EINVAL;
	f->pos = (uint64_t)(base + off);
	return (int64_t)f->pos;
}

static int node_stat(struct file *f, struct lx_stat *st)
{
	vfs_fill_stat(f->vn, st);
	return 0;
}

static int node_truncate(struct file *f, uint64_t len)
{
	if (!LX_S_ISREG(f->vn->mode) || !vops(f->vn)->truncate)
		return -EINVAL;
	return vops(f->vn)->truncate(f->vn, len);
}

static int64_t node_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	if (cmd != 0x541b || !LX_S_ISREG(f->vn->mode))	/* FIONREAD */
		return -ENOTTY;
	int n = f->pos < f->vn->size ? (int)(f->vn->size - f->pos) : 0;
	return lo_copy_out((void *)arg, &n, sizeof n);
}

/* Appends one linux_dirent64 record at buf+*used; 0 when it does not fit. */
static int put_dirent(uint8_t *buf, uint64_t cap, uint64_t *used, const struct vfs_dirent *d, uint64_t next)
{
	uint64_t reclen = (19 + d->len + 1 + 7) & ~7ull;
	if (*used + reclen > cap)
		return 0;
	uint8_t *r = buf + *used;
	lo_memset(r, 0, reclen);
	lo_memcpy(r, &d->ino, 8);
	lo_memcpy(r + 8, &next, 8);
	uint16_t rl = (uint16_t)reclen;
	lo_memcpy(r + 16, &rl, 2);
	r[18] = d->type;
	lo_memcpy(r + 19, d->name, d->len);
	*used += reclen;
	return 1;
}

/* getdents64: "." and ".." first (positions 0 and 1), then the file
 * system's entries; the position after each is its d_off. */
static int64_t node_getdents(struct file *f, void *ubuf, uint64_t len)
{
	struct vnode *dir = f->vn;
	uint8_t chunk[2048];
	uint64_t done = 0;
	if (!LX_S_ISDIR(dir->mode))
		return -ENOTDIR;
	if (dir->nlink == 0)
		return -ENOENT;			/* removed, as Linux answers */
	for (;;) {
		uint64_t used = 0, pos = f->pos;
		uint64_t cap = len - done < sizeof chunk ? len - done : sizeof chunk;
		int full = 0;
		for (;;) {
			struct vfs_dirent d;
			uint64_t next;
			if (pos < 2) {
				struct vnode *up = dir;
				step(dir, "..", 2, &up);
				d = (struct vfs_dirent){ pos ? up->ino : dir->ino, 4, "..", pos + 1 };
				next = pos + 1;
			} else {
				uint64_t cookie = pos - 2;
				if (!vops(dir)->readdir(dir, &cookie, &d))
					break;
				next = cookie + 2;
			}
			if (!put_dirent(chunk, cap, &used, &d, next)) {
				full = 1;
				break;
			}
			pos = next;
		}
		if (used == 0)
			return done ? (int64_t)done : full ? -EINVAL : 0;
		int64_t r = lo_copy_out((uint8_t *)ubuf + done, chunk, used);
		if (r)
			return done ? (int64_t)done : r;
		done += used;
		f->pos = pos;
	}
}

static int node_fsync(struct file *f)
{
	return vops(f->vn)->fsync ? vops(f->vn)->fsync(f->vn) : 0;
}

const struct file_ops vfs_node_fops = {
	.read = node_read, .write = node_write, .pread = node_pread, .pwrite = node_pwrite,
	.lseek = node_lseek, .ioctl = node_ioctl, .stat = node_stat, .truncate = node_truncate,
	.getdents = node_getdents, .fsync = node_fsync,
};

int vfs_open_node(struct vnode *v, uint32_t flags, struct file **out)
{
	struct file *f = file_new(FK_NODE, flags);
	if (!f)
		return -ENOMEM;
	f->vn = v;
	vfs_ref(v);
	uint32_t type = v->mode & LX_S_IFMT;
	int (*open)(struct vnode *, struct file *) =
		type == LX_S_IFCHR ? devfs_open : type == LX_S_IFIFO ? fifo_open : vops(v)->open;
	if (open && !(flags & LX_O_PATH)) {
		int r = open(v, f);
		if (r) {
			file_put(f);
			return r;
		}
	}
	*out = f;
	return 0;
}

/* The root tmpfs with /tmp and /dev mounted on it, the console as fds 0-2,
 * then the initramfs unpacked into the root and the procfs on /proc.  A
 * process that has files already (a program started by execve) keeps them. */
void vfs_init(void)
{
	if (proc_files()->fdtab)
		return;
	struct vfs_ns *ns = sh_alloc(sizeof *ns);
	if (!ns || fd_table_init(ns))
		return;
	ns->next_dev = 1;
	ns->next_pipe_ino = 1;
	proc_files()->umask = 022;
	struct vnode *root = tmpfs_new();
	ns->root = root;
	if (!root || vfs_mount(0, root, "rootfs", 0x01021994))
		return;
	root->mode = LX_S_IFDIR | 0755;
	vfs_set_cwd(root);
	struct vnode *v;
	vfs_make_k("/tmp", LX_S_IFDIR | 01777, 0, 0, 0, &v);
	vfs_make_k("/dev", LX_S_IFDIR | 0755, 0, 0, 0, &v);
	struct vnode *tmp = tmpfs_new();
	if (tmp && vfs_mount("/tmp", tmp, "tmpfs", 0x01021994) == 0)
		tmp->mode = LX_S_IFDIR | 01777;
	devfs_mount("/dev");
	/* POSIX shared memory and named semaphores (musl's shm_open, sem_open) */
	struct vnode *shm = tmpfs_new();
	if (vfs_make_k("/dev/shm", LX_S_IFDIR | 01777, 0, 0, 0, &v) == 0 && shm &&
	    vfs_mount("/dev/shm", shm, "tmpfs", 0x01021994) == 0)
		shm->mode = LX_S_IFDIR | 01777;
	devfs_open_stdio();
	initramfs_load();
	procfs_mount("/proc");
	cfs_mount_prepare();		/* CryptoFS at /data, if exo-run asked */
}
