/*
 * CryptoFS behind the VFS seam (libos/vfs.h): a vnode per file of a
 * mounted volume, named by its path in the volume.  The core (fs/) is
 * path based and keeps no per-node state, so this layer caches one vnode
 * per inode it has seen (hashed by inode number, so the same file is the
 * same vnode; kept until the file is removed), keeps a handle open for each regular file (a handle names the
 * inode, so it survives renames), and rewrites cached paths when a
 * directory moves.  Every call into the core runs between vec_enter and
 * vec_leave (it uses vector registers; libos/vecstate.c).
 *
 * The core, its cache and this file's tables are the mounting process's
 * own memory.  Every other process (a forked child, a program execve
 * started, the shell's commands) sends its calls on the mount to a server
 * thread of the mounting process through a channel (libos/chan.c): the
 * ops below forward themselves when the caller is not the mounter, with
 * names and data copied through the message, and the server runs the same
 * op locally.  So one image alone ever touches the volume (the one-writer
 * rule holds), and when the mounter ends the calls fail with EIO.
 */
#include "libos/cfs_vfs.h"
#include "libos/chan.h"
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/shared.h"
#include "libos/vecstate.h"
#include "fs/cfs.h"

#define CFS_MAGIC 0x43465321		/* statfs f_type: "!SFC" */
#define BOUNCE (64 * 1024)		/* bytes moved per core call */
#define ORPHANS "/.exo-orphans"		/* unlinked files still open; hidden */
#define MAX_SIZE (1ull << 44)		/* 16 TiB, as tmpfs here and ext4 (the core takes 64) */

struct cnode {
	struct vnode v;			/* first: a vnode pointer is a cnode pointer */
	char *path;			/* in the volume, "/" for the root */
	size_t plen;
	int64_t fh;			/* regular files: the core's handle */
	char *target;			/* symlinks: the target */
	size_t tlen;
	int orphan;			/* unlinked while open: lives in ORPHANS */
	struct chan *chan;		/* the volume's server (shared segment) */
	struct cnode *next;		/* the live nodes of its hash bucket */
	struct cnode *all_prev, *all_next;	/* every node, the root first: for the next image */
};

static struct cfs *vol;
static struct chan *server;		/* where other processes' calls arrive */
static struct vnode *server_root;	/* the volume's root: never freed by a message */
static int64_t owner;			/* the env that mounted it */
#define BUCKETS 1024			/* live nodes hashed by inode number */
static struct cnode *live[BUCKETS];
static uint8_t *bounce;

static struct cnode *cn(struct vnode *v) { return (struct cnode *)v; }

/* Every node of the volume by its address, in the mounter's own memory:
 * the server acts only on a node it finds here, since a message's vnode
 * pointer could be anything another process wrote. */
struct known {
	const struct cnode *c;
	struct known *next;
};
static struct known *known[BUCKETS];

static struct known **known_slot(uint64_t addr) { return &known[(addr >> 4) % BUCKETS]; }

static int know(const struct cnode *c)
{
	struct known *k = lo_alloc(sizeof *k), **slot = known_slot((uint64_t)c);
	if (!k)
		return -ENOMEM;
	k->c = c;
	k->next = *slot;
	*slot = k;
	return 0;
}

static void unknow(const struct cnode *c)
{
	for (struct known **pp = known_slot((uint64_t)c); *pp; pp = &(*pp)->next)
		if ((*pp)->c == c) {
			struct known *k = *pp;
			*pp = k->next;
			lo_free(k);
			return;
		}
}

/* The live node at address addr (from a message), or NULL. */
static struct vnode *known_node(uint64_t addr)
{
	for (struct known *k = *known_slot(addr); k; k = k->next)
		if ((uint64_t)k->c == addr)
			return (struct vnode *)k->c;
	return 0;
}

/* The nodes live in the shared segment with the rest of the VFS, but the
 * volume's state (the core, its cache, this file's tables) is the mounting
 * program's own: another process, or the program execve starts in this
 * one (whose vol is not set), gets EIO. */
static int mine(void) { return vol && libos_pid() == owner; }

/* What another process asks the mounter (struct chan_msg's op). */
enum remote_op {
	R_LOOKUP, R_CREATE, R_UNLINK, R_RENAME, R_READDIR, R_READ, R_WRITE,
	R_TRUNCATE, R_FSYNC, R_SETATTR, R_STATFS, R_DESTROY,
};

/* Sends op on v's volume with data (len bytes, copied) and up to four
 * arguments: the server's result; m (if asked for) keeps the reply. */
static int64_t remote(struct vnode *v, uint32_t op, const void *data, uint64_t len,
		      const uint64_t *args, int nargs, struct chan_msg **keep)
{
	struct chan *ch = cn(v)->chan;
	struct chan_msg *m = chan_msg_new(ch, op, len);
	if (!m)
		return -ENOMEM;
	lo_memcpy(m->data, data, len);
	m->arg[0] = (uint64_t)v;
	for (int i = 0; i < nargs; i++)
		m->arg[1 + i] = args[i];
	int64_t r = chan_call(ch, m);
	if (keep)
		*keep = m;
	else
		chan_msg_free(ch, m);
	return r;
}

/* The same for an op with a name (and perhaps a second one after it). */
static int remote_names(struct vnode *dir, uint32_t op, const char *a, size_t alen, const char *b,
			size_t blen, uint64_t x, uint64_t y, struct vnode **out)
{
	char *buf = lo_alloc(alen + blen + 1);
	struct chan_msg *m = 0;
	if (!buf)
		return -ENOMEM;
	lo_memcpy(buf, a, alen);
	lo_memcpy(buf + alen, b, blen);
	uint64_t args[4] = { alen, blen, x, y };
	int r = (int)remote(dir, op, buf, alen + blen, args, 4, out ? &m : 0);
	lo_free(buf);
	if (m) {
		*out = r == 0 ? (struct vnode *)m->arg[5] : 0;
		chan_msg_free(cn(dir)->chan, m);
	}
	return r;
}

/* read and write from another process: a message per BOUNCE bytes, the
 * data copied between the program's memory and the message. */
static int64_t remote_io(struct vnode *v, uint32_t op, void *ubuf, uint64_t len, uint64_t off)
{
	uint64_t chunk = len < BOUNCE ? len : BOUNCE, done = 0;
	int64_t r = 0;
	struct chan *ch = cn(v)->chan;
	struct chan_msg *m = chan_msg_new(ch, op, chunk);
	if (!m)
		return -ENOMEM;
	m->arg[0] = (uint64_t)v;
	while (done < len) {
		uint64_t n = len - done < chunk ? len - done : chunk;
		if (op == R_WRITE && lo_copy_in(m->data, (const uint8_t *)ubuf + done, n)) {
			r = -EFAULT;
			break;
		}
		m->arg[1] = off + done;
		m->arg[2] = n;
		if ((r = chan_call(ch, m)) <= 0)
			break;
		if (op == R_READ && lo_copy_out((uint8_t *)ubuf + done, m->data, (size_t)r)) {
			r = -EFAULT;
			break;
		}
		done += (uint64_t)r;
		if ((uint64_t)r < n)
			break;
	}
	chan_msg_free(ch, m);
	return done ? (int64_t)done : r;
}

static char remote_name[CFS_NAME_MAX + 1];

/* readdir from another process: the entry's name comes back in the
 * message and is kept here until the next call. */
static int remote_readdir(struct vnode *dir, uint64_t *pos, struct vfs_dirent *out)
{
	struct chan_msg *m = 0;
	static const char room[CFS_NAME_MAX];
	int r = (int)remote(dir, R_READDIR, room, CFS_NAME_MAX, pos, 1, &m);
	if (r == 1 && m && m->arg[4] <= CFS_NAME_MAX && m->len >= m->arg[4]) {
		lo_memcpy(remote_name, m->data, m->arg[4]);
		*out = (struct vfs_dirent){ m->arg[2], (uint8_t)m->arg[3], remote_name, m->arg[4] };
		*pos = m->arg[1];
	} else {
		r = 0;
	}
	chan_msg_free(cn(dir)->chan, m);
	return r;
}

static int remote_statfs(struct vnode *v, struct lx_statfs *out)
{
	struct chan *ch = cn(v)->chan;
	struct chan_msg *m = chan_msg_new(ch, R_STATFS, sizeof *out);
	if (!m)
		return -ENOMEM;
	m->arg[0] = (uint64_t)v;
	int r = (int)chan_call(ch, m);
	if (r == 0)
		lo_memcpy(out, m->data, sizeof *out);
	chan_msg_free(ch, m);
	return r;
}

static struct lx_timespec ts_of(uint64_t ns)
{
	return (struct lx_timespec){ (int64_t)(ns / 1000000000u), (int64_t)(ns % 1000000000u) };
}

/* Copies a core stat into the vnode's attributes. */
static void set_attrs(struct cnode *c, const struct cfs_stat *st)
{
	c->v.ino = st->ino;
	c->v.mode = st->mode;
	c->v.nlink = c->orphan ? 0 : st->nlink;
	c->v.size = st->size;
	c->v.mtime = ts_of(st->mtime_ns);
	c->v.ctime = ts_of(st->ctime_ns);
}

/* dir's path joined with name, in libOS memory; NULL when out of memory. */
static char *join(const struct cnode *dir, const char *name, size_t len, size_t *out_len)
{
	size_t base = dir->plen == 1 ? 0 : dir->plen;
	char *p = sh_alloc(base + 1 + len + 1);
	if (!p)
		return 0;
	lo_memcpy(p, dir->path, base);
	p[base] = '/';
	lo_memcpy(p + base + 1, name, len);
	p[base + 1 + len] = 0;
	*out_len = base + 1 + len;
	return p;
}

static struct cnode *find_ino(uint64_t ino)
{
	for (struct cnode *c = live[ino % BUCKETS]; c; c = c->next)
		if (c->v.ino == ino)
			return c;
	return 0;
}

static void enlist(struct cnode *c)
{
	c->next = live[c->v.ino % BUCKETS];
	live[c->v.ino % BUCKETS] = c;
}

static void unlist(struct cnode *c)
{
	for (struct cnode **pp = &live[c->v.ino % BUCKETS]; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

/* The node of path (which the caller allocated and hands over). */
static int node_for(char *path, size_t plen, struct vnode *parent, struct vnode **out)
{
	struct cfs_stat st;
	int r = cfs_stat(vol, path, &st);
	struct cnode *c = r ? 0 : find_ino(st.ino);

	if (r || c) {
		if (c)
			set_attrs(c, &st);
		sh_free(path);
		*out = c ? &c->v : 0;
		return r;
	}
	c = sh_alloc(sizeof *c);
	if (!c || know(c)) {
		sh_free(c);
		sh_free(path);
		return -ENOMEM;
	}
	c->path = path;
	c->plen = plen;
	c->fh = -1;
	c->v.kind = VK_CFS;
	c->chan = cn(parent)->chan;
	c->all_prev = cn(server_root);
	c->all_next = c->all_prev->all_next;
	if (c->all_next)
		c->all_next->all_prev = c;
	c->all_prev->all_next = c;
	c->v.mnt = parent->mnt;
	c->v.parent = parent;
	set_attrs(c, &st);
	c->v.atime = c->v.mtime;
	if (LX_S_ISREG(st.mode))
		c->fh = cfs_open(vol, path, 0, 0);
	if (LX_S_ISLNK(st.mode) && (c->target = sh_alloc(st.size + 1))) {
		int64_t n = cfs_readlink(vol, path, c->target, st.size + 1);
		c->tlen = n > 0 ? (size_t)n : 0;
	}
	enlist(c);
	*out = &c->v;
	return 0;
}

/* Re-reads a node's attributes after a change made through another call. */
static void refresh(struct cnode *c)
{
	struct cfs_stat st;
	if (cfs_stat(vol, c->path, &st) == 0)
		set_attrs(c, &st);
}

/* The orphan directory is not there for the program. */
static int hidden(struct vnode *dir, const char *name, size_t len)
{
	return cn(dir)->plen == 1 && len == sizeof ORPHANS - 2 && !lo_memcmp(name, ORPHANS + 1, len);
}

static int c_lookup(struct vnode *dir, const char *name, size_t len, struct vnode **out)
{
	if (!mine())
		return remote_names(dir, R_LOOKUP, name, len, 0, 0, 0, 0, out);
	if (hidden(dir, name, len))
		return -ENOENT;
	size_t plen;
	char *path = join(cn(dir), name, len, &plen);
	if (!path)
		return -ENOMEM;
	vec_enter();
	int r = node_for(path, plen, dir, out);
	vec_leave();
	return r;
}

static int c_create(struct vnode *dir, const char *name, size_t len, uint32_t mode,
		    uint64_t rdev, const char *target, size_t tlen, struct vnode **out)
{
	if (!mine())
		return remote_names(dir, R_CREATE, name, len, target, tlen, mode, rdev, out);
	size_t plen;
	char *t = 0, *path;
	int r;

	(void)rdev;
	if ((!LX_S_ISREG(mode) && !LX_S_ISDIR(mode) && !LX_S_ISLNK(mode)) || hidden(dir, name, len))
		return -EPERM;			/* no device nodes, fifos or sockets */
	if (LX_S_ISLNK(mode) && !(t = sh_alloc(tlen + 1)))
		return -ENOMEM;
	if (!(path = join(cn(dir), name, len, &plen))) {
		sh_free(t);
		return -ENOMEM;
	}
	vec_enter();
	if (LX_S_ISREG(mode)) {
		int64_t fh = cfs_open(vol, path, CFS_O_CREAT | CFS_O_EXCL, mode & 07777);
		r = fh < 0 ? (int)fh : 0;
	} else if (LX_S_ISDIR(mode)) {
		r = cfs_mkdir(vol, path, mode & 07777);
	} else {
		lo_memcpy(t, target, tlen);
		r = cfs_symlink(vol, t, path);
	}
	if (r == 0) {
		refresh(cn(dir));
		r = node_for(path, plen, dir, out);
	} else {
		sh_free(path);
	}
	vec_leave();
	sh_free(t);
	return r;
}

/* No hard links in CryptoFS (an inode has one name and one parent). */
static int c_link(struct vnode *dir, const char *name, size_t len, struct vnode *v)
{
	(void)dir, (void)name, (void)len, (void)v;
	return -EPERM;
}

/* A node whose name is gone: out of the cache, and freed once nothing
 * refers to it. */
static void forget(struct cnode *c)
{
	c->v.nlink = 0;
	unlist(c);
	if (c->v.refs == 0)
		vops(&c->v)->destroy(&c->v);
}

/* An open file that loses its name stays readable, as on Linux: it moves
 * to ORPHANS/INO and is removed when the last descriptor closes (or, after
 * a crash, at the next mount). */
static int orphan(struct cnode *c)
{
	char *p = sh_alloc(sizeof ORPHANS + 22), digits[21];
	int n = 0, r;
	if (!p)
		return -ENOMEM;
	for (uint64_t ino = c->v.ino; n == 0 || ino; ino /= 10)
		digits[n++] = (char)('0' + ino % 10);
	lo_memcpy(p, ORPHANS "/", sizeof ORPHANS);
	for (int i = 0; i < n; i++)
		p[sizeof ORPHANS + i] = digits[n - 1 - i];
	p[sizeof ORPHANS + n] = 0;
	r = cfs_mkdir(vol, ORPHANS, 0700);
	if (r == 0 || r == -EEXIST)
		r = cfs_rename(vol, c->path, p);
	if (r) {
		sh_free(p);
		return r;
	}
	sh_free(c->path);
	c->path = p;
	c->plen = sizeof ORPHANS + (size_t)n;
	c->orphan = 1;
	return 0;
}

static int c_unlink(struct vnode *dir, const char *name, size_t len)
{
	if (!mine())
		return remote_names(dir, R_UNLINK, name, len, 0, 0, 0, 0, 0);
	size_t plen;
	struct vnode *v;
	char *path = join(cn(dir), name, len, &plen);
	if (!path)
		return -ENOMEM;
	vec_enter();
	int r = node_for(path, plen, dir, &v);
	if (r == 0 && LX_S_ISREG(v->mode) && v->refs > 0)
		r = orphan(cn(v));
	else if (r == 0)
		r = LX_S_ISDIR(v->mode) ? cfs_rmdir(vol, cn(v)->path) : cfs_unlink(vol, cn(v)->path);
	if (r == 0) {
		refresh(cn(dir));
		forget(cn(v));
	}
	vec_leave();
	return r;
}

/* After a rename: c's path, if it lies at or below from, starts with to. */
static void move_path(struct cnode *c, const char *from, size_t flen, const char *to, size_t tlen)
{
	if (c->plen < flen || lo_memcmp(c->path, from, flen) ||
	    (c->plen > flen && c->path[flen] != '/'))
		return;
	char *p = sh_alloc(tlen + c->plen - flen + 1);
	if (!p)
		return;
	lo_memcpy(p, to, tlen);
	lo_memcpy(p + tlen, c->path + flen, c->plen - flen + 1);
	sh_free(c->path);
	c->path = p;
	c->plen = tlen + c->plen - flen;
}

static void move_paths(const char *from, size_t flen, const char *to, size_t tlen)
{
	for (int b = 0; b < BUCKETS; b++)
		for (struct cnode *c = live[b]; c; c = c->next)
			move_path(c, from, flen, to, tlen);
}

/* Renames atomically, replacing a target the VFS already checked
 * (rename_replaces below: the VFS does not unlink it first). */
static int c_rename(struct vnode *odir, const char *oname, size_t olen,
		    struct vnode *ndir, const char *nname, size_t nlen)
{
	if (!mine())
		return remote_names(odir, R_RENAME, oname, olen, nname, nlen, (uint64_t)ndir, 0, 0);
	size_t fl, tl;
	char *from = join(cn(odir), oname, olen, &fl), *to = join(cn(ndir), nname, nlen, &tl);
	struct cfs_stat st;
	int r = -ENOMEM;

	if (from && to) {
		vec_enter();
		struct cnode *old = cfs_stat(vol, to, &st) == 0 ? find_ino(st.ino) : 0;
		r = cfs_rename(vol, from, to);
		if (r == 0) {
			if (old)
				forget(old);		/* the replaced target */
			move_paths(from, fl, to, tl);
			struct cnode *moved = cfs_stat(vol, to, &st) == 0 ? find_ino(st.ino) : 0;
			if (moved) {
				moved->v.parent = ndir;
				set_attrs(moved, &st);
			}
			refresh(cn(odir));
			refresh(cn(ndir));
		}
		vec_leave();
	}
	sh_free(from);
	sh_free(to);
	return r;
}

struct readdir_one {
	int root;
	uint64_t next;
	struct vfs_dirent *out;
	int got;
};

static char dirent_name[CFS_NAME_MAX + 1];

static int take_one(void *ctx, const char *name, size_t len, const struct cfs_stat *st, uint64_t next)
{
	struct readdir_one *o = ctx;
	if (o->root && len == sizeof ORPHANS - 2 && !lo_memcmp(name, ORPHANS + 1, len)) {
		o->next = next;
		return 0;			/* hidden: on to the next */
	}
	lo_memcpy(dirent_name, name, len);
	*o->out = (struct vfs_dirent){ st->ino, (uint8_t)(st->mode >> 12), dirent_name, len };
	o->next = next;
	o->got = 1;
	return 1;
}

static int c_readdir(struct vnode *dir, uint64_t *pos, struct vfs_dirent *out)
{
	if (!mine())
		return remote_readdir(dir, pos, out);
	struct readdir_one o = { cn(dir)->plen == 1, 0, out, 0 };
	vec_enter();
	int r = cfs_readdir(vol, cn(dir)->path, *pos, take_one, &o);
	vec_leave();
	if (r < 0 || !o.got)
		return 0;
	*pos = o.next;
	return 1;
}

/* A block that fails authentication is named on stderr once per call,
 * as the host tool names it; the call fails with EIO. */
static void report_damage(int64_t r)
{
	uint64_t blkno, ino;
	if (r != -EIO)
		return;
	cfs_last_error(vol, &blkno, &ino);
	lo_report("exoswarm: /data: damaged block %d (inode %d) fails authentication: "
		  "data there is lost or was tampered with\n", (int64_t)blkno, (int64_t)ino);
}

static int64_t c_read(struct vnode *v, void *ubuf, uint64_t len, uint64_t off)
{
	if (!mine())
		return remote_io(v, R_READ, ubuf, len, off);
	uint64_t done = 0;
	int64_t r = 0;

	if (off >= MAX_SIZE)
		return 0;			/* past the largest file */

	vec_enter();
	while (done < len) {
		uint64_t n = len - done < BOUNCE ? len - done : BOUNCE;
		r = cfs_read(vol, cn(v)->fh, bounce, n, off + done);
		report_damage(r);
		if (r <= 0)
			break;
		if (lo_copy_out((uint8_t *)ubuf + done, bounce, (size_t)r)) {
			r = -EFAULT;
			break;
		}
		done += (uint64_t)r;
		if ((uint64_t)r < n)
			break;
	}
	vec_leave();
	return done ? (int64_t)done : r;
}

static int64_t c_write(struct vnode *v, const void *ubuf, uint64_t len, uint64_t off)
{
	if (!mine())
		return remote_io(v, R_WRITE, (void *)ubuf, len, off);
	uint64_t done = 0;
	int64_t r = 0;

	if (off + len < off || off + len > MAX_SIZE)
		return -EFBIG;
	vec_enter();
	while (done < len) {
		uint64_t n = len - done < BOUNCE ? len - done : BOUNCE;
		if (lo_copy_in(bounce, (const uint8_t *)ubuf + done, n)) {
			r = -EFAULT;
			break;
		}
		r = cfs_write(vol, cn(v)->fh, bounce, n, off + done);
		if (r < 0)
			break;
		done += n;
	}
	struct cfs_stat st;
	if (done && cfs_fstat(vol, cn(v)->fh, &st) == 0)
		set_attrs(cn(v), &st);
	vec_leave();
	return done ? (int64_t)done : r;
}

static int c_truncate(struct vnode *v, uint64_t len)
{
	if (!mine())
		return (int)remote(v, R_TRUNCATE, 0, 0, &len, 1, 0);
	if (len > MAX_SIZE)
		return -EFBIG;
	struct cfs_stat st;
	vec_enter();
	int r = cfs_ftruncate(vol, cn(v)->fh, len);
	if (r == 0 && cfs_fstat(vol, cn(v)->fh, &st) == 0)
		set_attrs(cn(v), &st);
	vec_leave();
	return r;
}

static int c_readlink(struct vnode *v, const char **target, size_t *len)
{
	*target = cn(v)->target ? cn(v)->target : "";
	*len = cn(v)->tlen;
	return 0;
}

/* fsync commits the whole volume (one transaction). */
static int c_fsync(struct vnode *v)
{
	if (!mine())
		return (int)remote(v, R_FSYNC, 0, 0, 0, 0, 0);
	(void)v;
	vec_enter();
	int r = cfs_sync(vol);
	vec_leave();
	return r;
}

/* chmod, chown and utimensat changed the vnode: the mode and mtime are
 * kept in the inode; owners and access times only in the cached vnode. */
static int c_setattr(struct vnode *v)
{
	if (!mine())
		return (int)remote(v, R_SETATTR, 0, 0, 0, 0, 0);
	uint64_t ns = (uint64_t)v->mtime.sec * 1000000000u + (uint64_t)v->mtime.nsec;
	vec_enter();
	int r = cfs_chmod(vol, cn(v)->path, v->mode & 07777);
	if (r == 0)
		r = cfs_set_mtime(vol, cn(v)->path, ns);
	refresh(cn(v));
	vec_leave();
	return r;
}

static int c_statfs(struct vnode *v, struct lx_statfs *out)
{
	if (!mine())
		return remote_statfs(v, out);
	struct cfs_statfs s;
	vec_enter();
	int r = cfs_statfs(vol, &s);
	vec_leave();
	if (r)
		return r;
	lo_memset(out, 0, sizeof *out);
	out->type = CFS_MAGIC;
	out->bsize = out->frsize = (int64_t)s.block_size;
	out->blocks = s.blocks;
	out->bfree = out->bavail = s.free_blocks;
	out->files = s.files + s.free_blocks;
	out->ffree = s.free_blocks;
	out->fsid[0] = (int32_t)v->mnt->dev;
	out->namelen = CFS_NAME_MAX;
	return 0;
}

static void c_destroy(struct vnode *v)
{
	struct cnode *c = cn(v);
	if (!mine() && remote(v, R_DESTROY, 0, 0, 0, 0, 0) != -EIO)
		return;			/* the mounter freed it (else nobody holds it) */
	if (c->orphan && mine()) {
		vec_enter();
		cfs_unlink(vol, c->path);
		vec_leave();
	}
	if (mine())
		unknow(c);
	unlist(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	sh_free(c->path);
	sh_free(c->target);
	sh_free(c);
}

const struct vnode_ops cfs_vnode_ops = {
	.lookup = c_lookup, .create = c_create, .link = c_link, .unlink = c_unlink,
	.rename = c_rename, .readdir = c_readdir, .read = c_read, .write = c_write,
	.truncate = c_truncate, .readlink = c_readlink, .statfs = c_statfs,
	.destroy = c_destroy, .fsync = c_fsync, .setattr = c_setattr, .rename_replaces = 1,
};

/* The mounter's side of readdir: the entry and its name into m. */
static int64_t serve_readdir(struct vnode *dir, struct chan_msg *m)
{
	struct vfs_dirent d;
	uint64_t pos = m->arg[1];
	if (!c_readdir(dir, &pos, &d))
		return 0;
	if (d.len > m->len)
		return 0;
	lo_memcpy(m->data, d.name, d.len);
	m->arg[1] = pos;
	m->arg[2] = d.ino;
	m->arg[3] = d.type;
	m->arg[4] = d.len;
	return 1;
}

/* The server's read or write: the bytes within the message's data. */
static int64_t serve_io(struct vnode *v, struct chan_msg *m)
{
	if (!chan_msg_room(m, m->arg[2]))
		return -EINVAL;
	if (cn(v)->fh < 0)
		return LX_S_ISDIR(v->mode) ? -EISDIR : -EBADF;
	return m->op == R_READ ? c_read(v, m->data, m->arg[2], m->arg[1])
			       : c_write(v, m->data, m->arg[2], m->arg[1]);
}

/* The server thread's handler (libos/chan.c): runs another process's call
 * on the mounter's volume.  Nothing in the message is trusted: its nodes
 * must be live nodes of this volume (EBADF) and its lengths must lie
 * within its data (EINVAL). */
static int64_t serve(struct chan_msg *m)
{
	struct vnode *v = known_node(m->arg[0]), *out = 0;
	const char *a = (const char *)m->data;
	uint64_t alen = m->arg[1], blen = m->arg[2];
	int64_t r;

	if (!mine())
		return -EIO;
	if (!v)
		return -EBADF;
	if (!chan_msg_room(m, 0))
		return -EINVAL;
	switch (m->op) {
	case R_READ:
	case R_WRITE: return serve_io(v, m);
	case R_READDIR: return serve_readdir(v, m);
	case R_TRUNCATE: return cn(v)->fh < 0 ? -EBADF : c_truncate(v, m->arg[1]);
	case R_FSYNC: return c_fsync(v);
	case R_SETATTR: return c_setattr(v);
	case R_STATFS:
		return chan_msg_room(m, sizeof(struct lx_statfs)) ? c_statfs(v, (struct lx_statfs *)m->data)
								  : -EINVAL;
	case R_DESTROY:
		if (v->refs || v->nlink || v == server_root)
			return -EBUSY;		/* still in use: only its last holder frees it */
		c_destroy(v);
		return 0;
	}
	if (alen > m->len || blen > m->len - alen)
		return -EINVAL;
	switch (m->op) {
	case R_LOOKUP: r = c_lookup(v, a, alen, &out); break;
	case R_CREATE:
		r = c_create(v, a, alen, (uint32_t)m->arg[3], m->arg[4], a + alen, blen, &out);
		break;
	case R_UNLINK: return c_unlink(v, a, alen);
	case R_RENAME:
		if (!(out = known_node(m->arg[3])))
			return -EBADF;
		return c_rename(v, a, alen, out, a + alen, blen);
	default: return -ENOSYS;
	}
	m->arg[5] = (uint64_t)out;
	return r;
}

static char orphan_path[sizeof ORPHANS + CFS_NAME_MAX + 1];

static int remove_orphan(void *ctx, const char *name, size_t len, const struct cfs_stat *st,
			 uint64_t next)
{
	(void)st, (void)next;
	lo_memcpy(orphan_path, ORPHANS "/", sizeof ORPHANS);
	lo_memcpy(orphan_path + sizeof ORPHANS, name, len);
	orphan_path[sizeof ORPHANS + len] = 0;
	*(int *)ctx = cfs_unlink(vol, orphan_path) == 0 ? 1 : -1;
	return 1;			/* one at a time: the listing changed */
}

/* Files left open at a crash: removed at mount, with their directory. */
static void remove_orphans(void)
{
	int removed;
	do {
		removed = 0;
		if (cfs_readdir(vol, ORPHANS, 0, remove_orphan, &removed) < 0)
			break;
	} while (removed == 1);
	cfs_rmdir(vol, ORPHANS);
}

int cfs_vfs_mount(struct cfs *fs, const char *at)
{
	struct cfs_stat st;
	struct cnode *root = sh_alloc(sizeof *root);
	char *path = sh_alloc(2);

	bounce = lo_alloc(BOUNCE);
	if (!root || !path || !bounce)
		return -ENOMEM;
	vol = fs;
	owner = libos_pid();
	path[0] = '/';
	root->path = path;
	root->plen = 1;
	root->fh = -1;
	root->v.kind = VK_CFS;
	server_root = &root->v;
	if (know(root))
		return -ENOMEM;
	/* without a server (no threads on this CPU) other processes get EIO */
	if ((root->chan = server = chan_new()) && chan_serve_thread(server, serve)) {
		chan_close(server);
		lo_report("exoswarm: %s: no server thread: only this process reaches the volume\n", at);
	}
	vec_enter();
	remove_orphans();
	int r = cfs_stat(vol, "/", &st);
	vec_leave();
	if (r)
		return r;
	set_attrs(root, &st);
	r = vfs_mount(at, &root->v, "cryptofs", CFS_MAGIC);
	enlist(root);
	return r;
}

/* The mounter's image goes (exit, execve): other processes' calls fail
 * with EIO from now on, and this image no longer serves them. */
void cfs_vfs_detach(void)
{
	if (!mine())
		return;
	chan_close(server);
	vol = 0;
}

/* The mounter's image is replaced by execve: its next image serves the
 * volume (cfs_vfs_adopt), and other processes' calls wait for it.  This
 * image's handles and tables go with it; the nodes stay in the segment. */
void cfs_vfs_hand_over(uint64_t note)
{
	if (!mine())
		return;
	chan_hand_over(server, note);
	vol = 0;
}

struct vnode *cfs_vfs_handed_over(uint64_t *note)
{
	struct vfs_ns *ns = vfs_ns();
	for (struct mount *m = ns ? ns->mounts : 0; m; m = m->next)
		if (m->root && m->root->kind == VK_CFS && chan_handed_over(cn(m->root)->chan, note))
			return m->root;
	return 0;
}

int cfs_vfs_adopt(struct cfs *fs, struct vnode *root)
{
	int r = 0;
	if (!bounce && !(bounce = lo_alloc(BOUNCE)))
		return -ENOMEM;
	vol = fs;
	owner = libos_pid();
	server = cn(root)->chan;
	server_root = root;
	vec_enter();
	for (struct cnode *c = cn(root); c && r == 0; c = c->all_next) {
		r = know(c);
		if (c->v.nlink)
			enlist(c);
		if (c->fh >= 0)
			c->fh = cfs_open(vol, c->path, 0, 0);
	}
	vec_leave();
	if (r == 0)
		r = chan_adopt(server, serve);
	if (r)
		vol = 0;
	return r;
}

void cfs_vfs_abandon(struct vnode *root)
{
	chan_close(cn(root)->chan);
}

/* The channel v's volume is served on (a CryptoFS node), or NULL. */
struct chan *cfs_vfs_channel(struct vnode *v)
{
	return v && v->kind == VK_CFS ? cn(v)->chan : 0;
}

/* sync(2): commits the CryptoFS volume (the only file system here whose
 * data is not memory), through its server from another process.  Always
 * 0, as sync cannot fail. */
LO_CALL(sys_sync)
{
	UNUSED_ARGS;
	struct vfs_ns *ns = vfs_ns();
	for (struct mount *m = ns ? ns->mounts : 0; m; m = m->next)
		if (m->root && m->root->kind == VK_CFS)
			vops(m->root)->fsync(m->root);
	return 0;
}
