/*
 * procfs: a read-only file system on /proc whose files are written from
 * the machine's real state each time they are read, in the formats
 * Linux's proc(5) gives (BusyBox's ps, top, free, df and mount parse
 * them).  docs/LIBOS.md "The procfs" says what each file shows.
 *
 * Nodes are made on lookup and kept in one list in the shared segment,
 * keyed by (what, pid, fd), so a path names the same node each time; a
 * node whose process or descriptor is gone is freed by the next lookup in
 * /proc once nothing holds it.  What a process is (its argv, environment,
 * executable, start time, memory) lives in its own image, so every image
 * publishes it at start-up (procfs_note_start) into a table beside the
 * process table, and refreshes its memory figures when it reads /proc.
 */
#include "libos/libos.h"
#include "libos/proc.h"
#include "libos/shared.h"
#include "libos/vfs.h"

#define PROC_MAGIC 0x9fa0		/* PROC_SUPER_MAGIC */
#define PAGE 4096ull
#define HZ 100				/* AT_CLKTCK: clock ticks per second */
#define ARGS_MAX 4096			/* bytes of argv and of envp kept */
#define LIBOS_VA 0x00007d0000000000ull	/* the shared segment and above: the library OS's */

/* What a node is: a file of /proc, of /proc/PID, /proc/PID/fd/N, or of
 * /proc/PID/task/TID (fd holds the tid there). */
enum ptype {
	P_ROOT, P_SELF, P_MEMINFO, P_CPUINFO, P_UPTIME, P_LOADAVG, P_STAT, P_MOUNTS,
	P_FILESYSTEMS, P_VERSION,
	P_PID, P_PSTAT, P_STATUS, P_CMDLINE, P_COMM, P_ENVIRON, P_MAPS, P_PMOUNTS, P_EXE,
	P_CWD, P_FDDIR, P_TASKDIR, P_FD, P_TASK, P_TSTAT, P_TSTATUS, P_TCOMM, P_COUNT
};

struct pentry {
	const char *name;
	uint32_t mode;
};

static const struct pentry entries[P_COUNT] = {
	[P_ROOT] = { "", LX_S_IFDIR | 0555 }, [P_SELF] = { "self", LX_S_IFLNK | 0777 },
	[P_MEMINFO] = { "meminfo", LX_S_IFREG | 0444 }, [P_CPUINFO] = { "cpuinfo", LX_S_IFREG | 0444 },
	[P_UPTIME] = { "uptime", LX_S_IFREG | 0444 }, [P_LOADAVG] = { "loadavg", LX_S_IFREG | 0444 },
	[P_STAT] = { "stat", LX_S_IFREG | 0444 }, [P_MOUNTS] = { "mounts", LX_S_IFREG | 0444 },
	[P_FILESYSTEMS] = { "filesystems", LX_S_IFREG | 0444 },
	[P_VERSION] = { "version", LX_S_IFREG | 0444 },
	[P_PID] = { "", LX_S_IFDIR | 0555 }, [P_PSTAT] = { "stat", LX_S_IFREG | 0444 },
	[P_STATUS] = { "status", LX_S_IFREG | 0444 }, [P_CMDLINE] = { "cmdline", LX_S_IFREG | 0444 },
	[P_COMM] = { "comm", LX_S_IFREG | 0644 }, [P_ENVIRON] = { "environ", LX_S_IFREG | 0400 },
	[P_MAPS] = { "maps", LX_S_IFREG | 0444 }, [P_PMOUNTS] = { "mounts", LX_S_IFREG | 0444 },
	[P_EXE] = { "exe", LX_S_IFLNK | 0777 }, [P_CWD] = { "cwd", LX_S_IFLNK | 0777 },
	[P_FDDIR] = { "fd", LX_S_IFDIR | 0500 }, [P_TASKDIR] = { "task", LX_S_IFDIR | 0555 },
	[P_FD] = { "", LX_S_IFLNK | 0700 }, [P_TASK] = { "", LX_S_IFDIR | 0555 },
	[P_TSTAT] = { "stat", LX_S_IFREG | 0444 }, [P_TSTATUS] = { "status", LX_S_IFREG | 0444 },
	[P_TCOMM] = { "comm", LX_S_IFREG | 0644 },
};

/* What one process published of itself (indexed like the process table). */
struct pinfo {
	int32_t pid;
	uint32_t gen;			/* the process entry's, when published */
	uint64_t start_ns;
	uint64_t vsz, rss_pages;	/* refreshed when it reads /proc */
	uint32_t args_len, env_len;
	char comm[16];
	char exe[256];
	char *args, *env;		/* argv and envp, NUL-separated (shared segment) */
};

struct pnode {
	struct vnode v;
	uint32_t type;			/* enum ptype */
	int32_t pid;			/* P_SELF: the reader's */
	int32_t fd;
	char *target;			/* symlinks: the last readlink's answer */
	uint32_t held;			/* sweep: it or a node below it is open */
	struct pnode *next;		/* every node of the procfs */
};

/* The procfs's own state (shared segment), behind its root node. */
struct proot {
	struct pnode root;
	struct pnode *nodes;
	uint64_t total_pages;		/* the machine's memory at boot */
	struct pinfo info[MAX_PROCS];
};

/* ------------------------------------------------------------- text out */

/* A growing text buffer in the library OS's heap. */
struct pbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put_mem(struct pbuf *b, const char *s, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		char *p = lo_realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	lo_memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void put_s(struct pbuf *b, const char *s)
{
	put_mem(b, s, lo_strlen(s));
}

static void put_ch(struct pbuf *b, char c)
{
	put_mem(b, &c, 1);
}

/* An unsigned number in base 10 or 16, at least width digits, padded with
 * pad (' ' or '0'). */
static void put_num(struct pbuf *b, uint64_t v, unsigned base, int width, char pad)
{
	char d[24];
	int n = 0;
	do {
		d[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (width-- > n)
		put_ch(b, pad);
	while (n)
		put_ch(b, d[--n]);
}

static void put_u(struct pbuf *b, uint64_t v)
{
	put_num(b, v, 10, 0, ' ');
}

static void put_i(struct pbuf *b, int64_t v)
{
	if (v < 0)
		put_ch(b, '-');
	put_u(b, v < 0 ? (uint64_t)-v : (uint64_t)v);
}

/* "12.34": hundredths as a decimal. */
static void put_centi(struct pbuf *b, uint64_t centi)
{
	put_u(b, centi / 100);
	put_ch(b, '.');
	put_num(b, centi % 100, 10, 2, '0');
}

/* A meminfo line: the name and colon in 16 columns, kB in 8. */
static void put_kb(struct pbuf *b, const char *name, uint64_t kb)
{
	size_t n = lo_strlen(name);
	put_s(b, name);
	put_ch(b, ':');
	for (size_t i = n + 1; i < 16; i++)
		put_ch(b, ' ');
	put_num(b, kb, 10, 8, ' ');
	put_s(b, " kB\n");
}

/* --------------------------------------------------------------- state */

static struct proot *proot_of(struct vnode *v)
{
	return (struct proot *)v->mnt->root;
}

/* The procfs of the caller's file system, or NULL. */
static struct proot *proot_find(void)
{
	struct vfs_ns *ns = vfs_ns();
	for (struct mount *m = ns ? ns->mounts : 0; m; m = m->next)
		if (m->root->kind == VK_PROC)
			return (struct proot *)m->root;
	return 0;
}

static struct sh_proc *proc_entry(int32_t pid)
{
	struct sh_proc *p = lp.shared_pages ? proc_by_pid(pid) : 0;
	return p && p->state != PROC_FREE ? p : 0;
}

/* A copy of len bytes of src in the shared segment (len 0 if none). */
static char *sh_dup(const char *src, uint32_t *len)
{
	char *d = *len ? sh_alloc(*len) : 0;
	if (d)
		lo_memcpy(d, src, *len);
	else
		*len = 0;
	return d;
}

/* Forgets a record, an ended process's or one about to be replaced. */
static void info_clear(struct pinfo *in)
{
	sh_free(in->args);
	sh_free(in->env);
	lo_memset(in, 0, sizeof *in);
}

/* p's published record; a forked child that has not run execve yet
 * takes its parent's (a copy, so it stays when the parent moves on). */
static struct pinfo *info_of(struct proot *r, struct sh_proc *p)
{
	struct sh_header *h = sh_seg();
	struct pinfo *in = &r->info[p - h->procs];
	if (in->pid == p->pid && in->gen == p->gen)
		return in;
	struct sh_proc *q = proc_entry(p->ppid);
	for (int depth = 0; q && depth < MAX_PROCS; depth++) {
		struct pinfo *qi = &r->info[q - h->procs];
		if (qi->pid == q->pid && qi->gen == q->gen) {
			info_clear(in);
			lo_memcpy(in, qi, sizeof *in);
			in->pid = p->pid;
			in->gen = p->gen;
			in->args = sh_dup(qi->args, &in->args_len);
			in->env = sh_dup(qi->env, &in->env_len);
			return in;
		}
		q = proc_entry(q->ppid);
	}
	return 0;
}

/* This image's memory: the pages it has mapped (rss: the memory tables'
 * running counts) and its address space, the library OS's reservations
 * (its heap: 1 TiB of address space) counted by their mapped pages only. */
static void refresh_self(struct proot *r)
{
	struct pinfo *in = info_of(r, proc_self());
	if (!in)
		return;
	uint64_t vsz = 0;
	for (uint32_t i = 0; i < lp.nregions; i++)
		if (lp.regions[i].start < LIBOS_VA)
			vsz += lp.regions[i].end - lp.regions[i].start;
	in->rss_pages = lp.resident_now;
	in->vsz = vsz + lp.resident_libos * PAGE;
}

static uint64_t stack_top_seen;		/* this image's initial stack */

/* n NUL-terminated strings as one NUL-separated run in the shared segment
 * (at most ARGS_MAX bytes; NULL with *len 0 when there is none). */
static char *pack_strings(const char *const *s, uint32_t n, uint32_t *len)
{
	uint32_t total = 0, i;
	for (i = 0; i < n && total + lo_strlen(s[i]) + 1 <= ARGS_MAX; i++)
		total += (uint32_t)lo_strlen(s[i]) + 1;
	char *d = total ? sh_alloc(total) : 0;
	*len = d ? total : 0;
	for (uint32_t j = 0, at = 0; d && j < i; j++) {
		size_t l = lo_strlen(s[j]) + 1;
		lo_memcpy(d + at, s[j], l);
		at += (uint32_t)l;
	}
	return d;
}

/* ---------------------------------------------------------------- paths */

/* Prepends "/name" to the path being built backwards in buf[*at..]. */
static int prepend(char *buf, size_t *at, const char *name, size_t len)
{
	if (*at < len + 1)
		return -ENAMETOOLONG;
	*at -= len;
	lo_memcpy(buf + *at, name, len);
	buf[--*at] = '/';
	return 0;
}

/* The name dir gives child (a lookup of each entry finds it). */
static int name_in(struct vnode *dir, struct vnode *child, struct vfs_dirent *d)
{
	uint64_t cookie = 0;
	while (vops(dir)->readdir(dir, &cookie, d)) {
		struct vnode *c;
		if (vops(dir)->lookup(dir, d->name, d->len, &c) == 0 && c == child)
			return 0;
	}
	return -ENOENT;
}

/*
 * The absolute path of v into out (LX_PATH_MAX bytes): up the parents of
 * a directory, or of a node that names its parent (procfs's); a file
 * without one (tmpfs) is searched for from the root (depth-first, /proc
 * left out).
 */
static int path_of(struct vnode *v, char *out);

static int up_path(struct vnode *v, char *out)
{
	char buf[LX_PATH_MAX];
	size_t at = sizeof buf - 1;
	buf[at] = 0;
	struct vnode *root = vfs_root();
	while (v != root) {
		if (v->mnt->root == v) {
			if (!v->mnt->covered)
				return -ENOENT;
			v = v->mnt->covered;
			continue;
		}
		struct vfs_dirent d;
		int r;
		if (!v->parent || (r = name_in(v->parent, v, &d)) || (r = prepend(buf, &at, d.name, d.len)))
			return v->parent ? r : -ENOENT;
		v = v->parent;
	}
	if (!buf[at])
		buf[--at] = '/';
	lo_memcpy(out, buf + at, sizeof buf - at);
	return 0;
}

#define SEARCH_DEPTH 32

static int search_path(struct vnode *target, char *out)
{
	struct { struct vnode *dir; uint64_t cookie; size_t len; } st[SEARCH_DEPTH];
	int depth = 0;
	st[0].dir = vfs_root();
	st[0].cookie = 0;
	st[0].len = 0;
	out[0] = 0;
	while (depth >= 0) {
		struct vfs_dirent d;
		struct vnode *dir = st[depth].dir, *c;
		if (!vops(dir)->readdir(dir, &st[depth].cookie, &d)) {
			depth--;
			continue;
		}
		if (vops(dir)->lookup(dir, d.name, d.len, &c))
			continue;
		while (c->mounted)
			c = c->mounted;
		size_t len = st[depth].len;
		if (len + 1 + d.len >= LX_PATH_MAX)
			continue;
		out[len] = '/';
		lo_memcpy(out + len + 1, d.name, d.len);
		out[len + 1 + d.len] = 0;
		if (c == target)
			return 0;
		if (LX_S_ISDIR(c->mode) && c->kind != VK_PROC && depth + 1 < SEARCH_DEPTH) {
			depth++;
			st[depth].dir = c;
			st[depth].cookie = 0;
			st[depth].len = len + 1 + d.len;
		}
	}
	return -ENOENT;
}

static int path_of(struct vnode *v, char *out)
{
	if (LX_S_ISDIR(v->mode))
		return up_path(v, out);
	if (v->parent) {
		struct vfs_dirent d;
		int r = up_path(v->parent, out);
		if (r || (r = name_in(v->parent, v, &d)))
			return r;
		size_t n = lo_strlen(out);
		if (n > 1)
			out[n++] = '/';
		if (n + d.len >= LX_PATH_MAX)
			return -ENAMETOOLONG;
		lo_memcpy(out + n, d.name, d.len);
		out[n + d.len] = 0;
		return 0;
	}
	return search_path(v, out);
}

/* What /proc/PID/fd/N points at, as Linux writes it. */
static void fd_target(struct file *f, int self, char *out)
{
	struct pbuf b = { 0 };
	const char *anon = f->kind == FK_EVENTFD ? "anon_inode:[eventfd]" :
			   f->kind == FK_EPOLL ? "anon_inode:[eventpoll]" :
			   f->kind == FK_STALE ? "anon_inode:[stale]" : 0;
	struct lx_stat st;
	if (anon) {
		put_s(&b, anon);
	} else if (f->vn && path_of(f->vn, out) == 0) {
		return;
	} else if (f->kind == FK_PIPE || (f->kind == FK_SOCKET && self)) {
		fops(f)->stat(f, &st);
		put_s(&b, f->kind == FK_PIPE ? "pipe:[" : "socket:[");
		put_u(&b, st.ino);
		put_ch(&b, ']');
	} else {
		put_s(&b, f->kind == FK_SOCKET ? "socket:[0]" : "(deleted)");
	}
	size_t n = b.oom ? 0 : b.len < LX_PATH_MAX - 1 ? b.len : LX_PATH_MAX - 1;
	if (n)
		lo_memcpy(out, b.p, n);
	out[n] = 0;
	lo_free(b.p);
}

/* ---------------------------------------------------------------- nodes */

static uint64_t ino_of(uint32_t type, int32_t pid, int32_t fd)
{
	if (type == P_ROOT)
		return 1;
	return ((uint64_t)(uint32_t)pid << 32) | ((uint64_t)(uint32_t)(fd + 1) << 8) | type;
}

/* The node for (type, pid, fd) under parent: the same one each time. */
static struct pnode *node_get(struct proot *r, struct pnode *parent, uint32_t type, int32_t pid, int32_t fd)
{
	for (struct pnode *n = r->nodes; n; n = n->next)
		if (n->type == type && n->pid == pid && n->fd == fd)
			return n;
	struct pnode *n = sh_alloc(sizeof *n);
	if (!n)
		return 0;
	n->v.kind = VK_PROC;
	n->v.mnt = r->root.v.mnt;
	n->v.parent = &parent->v;
	n->v.mode = entries[type].mode;
	n->v.nlink = LX_S_ISDIR(n->v.mode) ? 2 : 1;
	n->v.ino = ino_of(type, pid, fd);
	n->v.atime = n->v.mtime = n->v.ctime = vfs_now();
	n->type = type;
	n->pid = pid;
	n->fd = fd;
	n->next = r->nodes;
	r->nodes = n;
	return n;
}

/* Whether tid is a thread of p (its first thread's tid is the pid; a
 * zombie keeps that one). */
static int task_alive(const struct sh_proc *p, int32_t tid)
{
	if (tid == p->pid)
		return 1;
	for (const struct sh_waker *w = p->wakers; w; w = w->next)
		if (w->tid == tid)
			return 1;
	return 0;
}

/* The thread of p at or after place *pos of its list (the pid first): its
 * tid, or 0 at the end; *pos moves past it. */
static int32_t task_next(const struct sh_proc *p, uint64_t *pos)
{
	uint64_t i = 1;
	if (*pos == 0) {
		*pos = 1;
		return p->pid;
	}
	for (const struct sh_waker *w = p->wakers; w; w = w->next) {
		if (!w->tid || w->tid == p->pid)
			continue;
		if (i++ >= *pos) {
			*pos = i;
			return w->tid;
		}
	}
	return 0;
}

/* Whether n names something gone: its process, or its descriptor. */
static int node_stale(const struct pnode *n)
{
	struct sh_proc *p;
	struct file *f;
	if (n->type == P_ROOT || (n->type > P_SELF && n->type < P_PID))
		return 0;
	if (!(p = proc_entry(n->pid)))
		return 1;
	if (n->type >= P_TASK)
		return !task_alive(p, n->fd);
	return n->type == P_FD && fd_next_open(&p->files, n->fd, &f) != n->fd;
}

/* Frees the nodes that are stale and unused, keeping those above a node
 * still open (its ".." and path lead through them).  Only from a lookup in
 * the root: a path walk never holds such a node (its lookup fails). */
static void sweep(struct proot *r)
{
	for (struct pnode *n = r->nodes; n; n = n->next)
		n->held = 0;
	for (struct pnode *n = r->nodes; n; n = n->next)
		for (struct pnode *a = n->v.refs ? n : 0; a && a->type != P_ROOT && !a->held;
		     a = (struct pnode *)a->v.parent)
			a->held = 1;
	for (struct pnode **pp = &r->nodes, *n; (n = *pp);) {
		if (!n->v.refs && !n->held && node_stale(n)) {
			*pp = n->next;
			sh_free(n->target);
			sh_free(n);
		} else {
			pp = &n->next;
		}
	}
}

static struct pnode *pn(struct vnode *v)
{
	return (struct pnode *)v;
}

/* A decimal number naming a pid or descriptor: it, or -1. */
static int64_t parse_num(const char *s, size_t len)
{
	int64_t v = 0;
	if (!len || len > 9 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* The entry of entries[first..last] named name. */
static int find_entry(uint32_t first, uint32_t last, const char *name, size_t len)
{
	for (uint32_t t = first; t <= last; t++)
		if (lo_strlen(entries[t].name) == len && lo_memcmp(entries[t].name, name, len) == 0)
			return (int)t;
	return -1;
}

static int p_lookup(struct vnode *dir, const char *name, size_t len, struct vnode **out)
{
	struct proot *r = proot_of(dir);
	struct pnode *d = pn(dir), *n = 0;
	struct sh_proc *p;
	int64_t num = parse_num(name, len);
	int t;
	if (d->type == P_ROOT) {
		sweep(r);
		if ((t = find_entry(P_SELF, P_VERSION, name, len)) >= 0)
			n = node_get(r, d, (uint32_t)t, t == P_SELF ? (int32_t)libos_pid() : 0, -1);
		else if (num > 0 && proc_entry((int32_t)num))
			n = node_get(r, d, P_PID, (int32_t)num, -1);
		else
			return -ENOENT;
	} else if (!(p = proc_entry(d->pid))) {
		return -ENOENT;
	} else if (d->type == P_PID) {
		if ((t = find_entry(P_PSTAT, P_TASKDIR, name, len)) < 0)
			return -ENOENT;
		n = node_get(r, d, (uint32_t)t, d->pid, -1);
	} else if (d->type == P_TASKDIR) {
		if (num <= 0 || !task_alive(p, (int32_t)num))
			return -ENOENT;
		n = node_get(r, d, P_TASK, d->pid, (int32_t)num);
	} else if (d->type == P_TASK) {
		if ((t = find_entry(P_TSTAT, P_TCOMM, name, len)) < 0)
			return -ENOENT;
		n = node_get(r, d, (uint32_t)t, d->pid, d->fd);
	} else {
		struct file *f;
		if (num < 0 || fd_next_open(&p->files, (int)num, &f) != num)
			return -ENOENT;
		n = node_get(r, d, P_FD, d->pid, (int32_t)num);
	}
	if (!n)
		return -ENOMEM;
	*out = &n->v;
	return 0;
}

static int p_readdir(struct vnode *dir, uint64_t *pos, struct vfs_dirent *out)
{
	static char num[16];
	struct pnode *d = pn(dir);
	struct sh_proc *p;
	struct file *f;
	if (d->type == P_ROOT) {
		uint64_t nstatic = P_VERSION - P_SELF + 1;
		if (*pos < nstatic) {
			uint32_t t = P_SELF + (uint32_t)*pos;
			*out = (struct vfs_dirent){ ino_of(t, 0, -1), (uint8_t)(entries[t].mode >> 12),
						    entries[t].name, lo_strlen(entries[t].name) };
			++*pos;
			return 1;
		}
		for (uint64_t i = *pos - nstatic; lp.shared_pages && i < MAX_PROCS; i++) {
			p = &sh_seg()->procs[i];
			if (p->state == PROC_FREE)
				continue;
			struct pbuf b = { num, 0, sizeof num, 0 };
			put_u(&b, (uint64_t)p->pid);
			*out = (struct vfs_dirent){ ino_of(P_PID, p->pid, -1), 4, num, b.len };
			*pos = nstatic + i + 1;
			return 1;
		}
		return 0;
	}
	if (!(p = proc_entry(d->pid)))
		return 0;
	if (d->type == P_PID || d->type == P_TASK) {
		uint32_t first = d->type == P_PID ? P_PSTAT : P_TSTAT, t = first + (uint32_t)*pos;
		if (t > (d->type == P_PID ? P_TASKDIR : P_TCOMM))
			return 0;
		*out = (struct vfs_dirent){ ino_of(t, d->pid, d->fd), (uint8_t)(entries[t].mode >> 12),
					    entries[t].name, lo_strlen(entries[t].name) };
		++*pos;
		return 1;
	}
	if (d->type == P_TASKDIR) {
		int32_t tid = task_next(p, pos);
		if (!tid)
			return 0;
		struct pbuf b = { num, 0, sizeof num, 0 };
		put_u(&b, (uint64_t)tid);
		*out = (struct vfs_dirent){ ino_of(P_TASK, d->pid, tid), 4, num, b.len };
		return 1;
	}
	int fd = fd_next_open(&p->files, (int)*pos, &f);
	if (fd < 0)
		return 0;
	struct pbuf b = { num, 0, sizeof num, 0 };
	put_u(&b, (uint64_t)fd);
	*out = (struct vfs_dirent){ ino_of(P_FD, d->pid, fd), 10, num, b.len };
	*pos = (uint64_t)fd + 1;
	return 1;
}

static int p_readlink(struct vnode *v, const char **target, size_t *len)
{
	static char path[LX_PATH_MAX];
	struct pnode *n = pn(v);
	struct proot *r = proot_of(v);
	struct sh_proc *p = proc_entry(n->pid);
	struct pinfo *in;
	struct file *f;
	if (!LX_S_ISLNK(v->mode))
		return -EINVAL;
	if (!p)
		return -ENOENT;
	if (n->type == P_SELF) {
		struct pbuf b = { path, 0, sizeof path, 0 };
		put_u(&b, (uint64_t)n->pid);
		path[b.len] = 0;
	} else if (n->type == P_EXE) {
		if (!(in = info_of(r, p)) || !in->exe[0])
			return -ENOENT;
		lo_memcpy(path, in->exe, sizeof in->exe);
	} else if (n->type == P_CWD) {
		if (!p->files.cwd || path_of(p->files.cwd, path))
			return -ENOENT;
	} else {
		if (fd_next_open(&p->files, n->fd, &f) != n->fd)
			return -ENOENT;
		fd_target(f, n->pid == libos_pid(), path);
	}
	size_t l = lo_strlen(path);
	char *t = sh_alloc(l + 1);
	if (!t)
		return -ENOMEM;
	lo_memcpy(t, path, l + 1);
	sh_free(n->target);
	n->target = t;
	*target = t;
	*len = l;
	return 0;
}

/* ------------------------------------------------------------ contents */

static uint64_t machine_free_pages(void)
{
	struct exo_cap_info mem;
	uint64_t free_bytes, heap_bytes;
	sh_usage(&free_bytes, &heap_bytes);
	return (lo_cap_inspect(EXO_SLOT_MEMORY, &mem) == 0 ? mem.count : 0) + free_bytes / PAGE;
}

static void gen_meminfo(struct proot *r, struct pbuf *b)
{
	uint64_t free_bytes, heap_bytes;
	sh_usage(&free_bytes, &heap_bytes);
	/* execve's copies of executables count as cache, not Shmem, as
	 * Linux counts the page cache its programs run from */
	uint64_t used = heap_bytes - free_bytes, images = tmpfs_image_bytes();
	uint64_t free_kb = machine_free_pages() * 4, shmem_kb = (used - (images < used ? images : used)) / 1024;
	put_kb(b, "MemTotal", r->total_pages * 4);
	put_kb(b, "MemFree", free_kb);
	put_kb(b, "MemAvailable", free_kb);
	put_kb(b, "Buffers", 0);
	put_kb(b, "Cached", used / 1024);
	put_kb(b, "SwapCached", 0);
	put_kb(b, "SwapTotal", 0);
	put_kb(b, "SwapFree", 0);
	put_kb(b, "Shmem", shmem_kb);
	put_kb(b, "Mlocked", 0);
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* CPUID feature bits by their Linux names: leaf 1 edx, leaf 1 ecx. */
static const struct { uint8_t reg, bit; const char *name; } cpu_flags[] = {
	{ 3, 0, "fpu" }, { 3, 4, "tsc" }, { 3, 5, "msr" }, { 3, 6, "pae" }, { 3, 8, "cx8" },
	{ 3, 9, "apic" }, { 3, 15, "cmov" }, { 3, 19, "clflush" }, { 3, 23, "mmx" },
	{ 3, 24, "fxsr" }, { 3, 25, "sse" }, { 3, 26, "sse2" }, { 2, 0, "pni" },
	{ 2, 1, "pclmulqdq" }, { 2, 9, "ssse3" }, { 2, 12, "fma" }, { 2, 13, "cx16" },
	{ 2, 19, "sse4_1" }, { 2, 20, "sse4_2" }, { 2, 22, "movbe" }, { 2, 23, "popcnt" },
	{ 2, 25, "aes" }, { 2, 26, "xsave" }, { 2, 28, "avx" }, { 2, 29, "f16c" }, { 2, 30, "rdrand" },
};

/* One processor: the kernel does not tell user space how many it started. */
static void gen_cpuinfo(struct pbuf *b)
{
	uint32_t r[4], brand[12], max;
	char vendor[13];
	cpuid(0, 0, r);
	lo_memcpy(vendor, &r[1], 4);
	lo_memcpy(vendor + 4, &r[3], 4);
	lo_memcpy(vendor + 8, &r[2], 4);
	vendor[12] = 0;
	uint32_t sig[4];
	cpuid(1, 0, sig);
	uint32_t family = (sig[0] >> 8) & 15, model = (sig[0] >> 4) & 15;
	if (family == 15)
		family += (sig[0] >> 20) & 0xff;
	if (family >= 6)
		model |= ((sig[0] >> 16) & 15) << 4;
	cpuid(0x80000000u, 0, r);
	max = r[0];
	lo_memset(brand, 0, sizeof brand);
	for (uint32_t i = 0; i < 3 && max >= 0x80000004u; i++)
		cpuid(0x80000002u + i, 0, &brand[i * 4]);
	char *name = (char *)brand;
	name[47] = 0;
	while (*name == ' ')
		name++;
	put_s(b, "processor\t: 0\nvendor_id\t: ");
	put_s(b, vendor);
	put_s(b, "\ncpu family\t: ");
	put_u(b, family);
	put_s(b, "\nmodel\t\t: ");
	put_u(b, model);
	put_s(b, "\nmodel name\t: ");
	put_s(b, *name ? name : "unknown");
	put_s(b, "\nstepping\t: ");
	put_u(b, sig[0] & 15);
	put_s(b, "\ncpu MHz\t\t: ");
	put_u(b, libos_kinfo->tsc_hz / 1000000);
	put_s(b, ".000\nfpu\t\t: yes\nflags\t\t:");
	for (size_t i = 0; i < sizeof cpu_flags / sizeof cpu_flags[0]; i++)
		if (sig[cpu_flags[i].reg] >> cpu_flags[i].bit & 1) {
			put_ch(b, ' ');
			put_s(b, cpu_flags[i].name);
		}
	put_s(b, "\nbogomips\t: ");
	put_u(b, libos_kinfo->tsc_hz / 500000);
	put_s(b, ".00\nclflush size\t: 64\ncache_alignment\t: 64\naddress sizes\t: 48 bits physical, 48 bits virtual\n\n");
}

static uint64_t uptime_centi(void)
{
	return time_now_ns() / 10000000ull;
}

/* Idle time is not counted by the library OS: 0. */
static void gen_uptime(struct pbuf *b)
{
	put_centi(b, uptime_centi());
	put_s(b, " 0.00\n");
}

static uint32_t threads_of(const struct sh_proc *p)
{
	uint32_t n = 0;
	for (const struct sh_waker *w = p->wakers; w; w = w->next)
		n += w->tid != 0;
	return n ? n : 1;
}

/* No load is measured (0.00), then running/threads and the last pid. */
static void gen_loadavg(struct pbuf *b)
{
	uint32_t threads = 0;
	int32_t last = 0;
	for (int i = 0; lp.shared_pages && i < MAX_PROCS; i++) {
		struct sh_proc *p = &sh_seg()->procs[i];
		if (p->state == PROC_RUNNING)
			threads += threads_of(p);
		if (p->state != PROC_FREE && p->pid > last)
			last = p->pid;
	}
	put_s(b, "0.00 0.00 0.00 1/");
	put_u(b, threads);
	put_ch(b, ' ');
	put_u(b, (uint64_t)last);
	put_ch(b, '\n');
}

/* CPU time is not counted by the library OS: all of it shows as idle. */
static void gen_stat(struct pbuf *b)
{
	uint64_t ticks = uptime_centi() * HZ / 100;
	uint32_t procs = lp.shared_pages ? sh_seg()->nprocs : 1;
	for (int cpu = -1; cpu < 1; cpu++) {
		put_s(b, cpu < 0 ? "cpu  0 0 0 " : "cpu0 0 0 0 ");
		put_u(b, ticks);
		put_s(b, " 0 0 0 0 0 0\n");
	}
	put_s(b, "intr 0\nctxt 0\nbtime ");
	put_u(b, libos_kinfo->realtime_base_ns / 1000000000ull);
	put_s(b, "\nprocesses ");
	put_u(b, procs);
	put_s(b, "\nprocs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n");
}

static void gen_mounts(struct pbuf *b)
{
	static char path[LX_PATH_MAX];
	struct mount *ms[64];
	int n = 0;
	for (struct mount *m = vfs_ns()->mounts; m && n < 64; m = m->next)
		ms[n++] = m;
	while (n--) {			/* the oldest first, as Linux lists them */
		struct mount *m = ms[n];
		if (m->covered && path_of(m->covered, path))
			continue;
		put_s(b, m->type);
		put_ch(b, ' ');
		put_s(b, m->covered ? path : "/");
		put_ch(b, ' ');
		put_s(b, m->type);
		put_s(b, m->root->kind == VK_PROC ? " ro,nosuid,nodev,noexec 0 0\n" : " rw 0 0\n");
	}
}

static void gen_filesystems(struct pbuf *b)
{
	put_s(b, "nodev\trootfs\nnodev\ttmpfs\nnodev\tdevtmpfs\nnodev\tproc\n\tcryptofs\n");
}

static void gen_version(struct pbuf *b)
{
	char v[17];
	lo_memcpy(v, (const char *)libos_kinfo->version, 16);
	v[16] = 0;
	put_s(b, "ExoSwarm version ");
	put_s(b, v);
	put_s(b, " (exoswarm) #1 SMP\n");
}

static char state_of(const struct sh_proc *p)
{
	return p->state == PROC_ZOMBIE ? 'Z' : p->pid == libos_pid() ? 'R' : 'S';
}

/* The console's device, ttyS0 (4, 64), as stat's tty_nr encodes it. */
static uint32_t tty_nr(void)
{
	return console_is_kernel() ? (4u << 8) | 64u : 0;
}

static void gen_pid_stat(struct sh_proc *p, struct pinfo *in, int32_t tid, struct pbuf *b)
{
	int zombie = p->state == PROC_ZOMBIE;
	put_i(b, tid);
	put_s(b, " (");
	put_s(b, in ? in->comm : "?");
	put_s(b, ") ");
	put_ch(b, state_of(p));
	const int64_t head[] = { p->ppid, p->pgid, p->sid, tty_nr(), tty_nr() ? p->pgid : -1,
				 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, threads_of(p), 0 };
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
		put_ch(b, ' ');
		put_i(b, head[i]);
	}
	put_ch(b, ' ');				/* starttime, vsize, rss, rsslim */
	put_u(b, in ? in->start_ns / (1000000000ull / HZ) : 0);
	put_ch(b, ' ');
	put_u(b, in && !zombie ? in->vsz : 0);
	put_ch(b, ' ');
	put_u(b, in && !zombie ? in->rss_pages : 0);
	put_s(b, " 18446744073709551615 0 0 0 0 0 ");
	const uint64_t sigs[] = { p->sigpending, p->sigblocked, p->sigignored, p->sigcaught };
	for (size_t i = 0; i < 4; i++) {
		put_u(b, sigs[i]);
		put_ch(b, ' ');
	}
	put_s(b, "0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 ");
	put_i(b, zombie ? p->status : 0);
	put_ch(b, '\n');
}

static void put_field(struct pbuf *b, const char *name, int64_t v)
{
	put_s(b, name);
	put_s(b, ":\t");
	put_i(b, v);
	put_ch(b, '\n');
}

static void put_sigset(struct pbuf *b, const char *name, uint64_t set)
{
	put_s(b, name);
	put_s(b, ":\t");
	put_num(b, set, 16, 16, '0');
	put_ch(b, '\n');
}

static void gen_status(struct sh_proc *p, struct pinfo *in, int32_t tid, struct pbuf *b)
{
	static const char *const states[] = { "R (running)", "S (sleeping)", "Z (zombie)" };
	char st = state_of(p);
	uint64_t fdsize = 0;
	struct file *f;
	for (int fd = 0; (fd = fd_next_open(&p->files, fd, &f)) >= 0; fd++)
		fdsize = (uint64_t)fd + 1;
	put_s(b, "Name:\t");
	put_s(b, in ? in->comm : "?");
	put_s(b, "\nUmask:\t");
	put_num(b, p->files.umask, 8, 4, '0');
	put_s(b, "\nState:\t");
	put_s(b, states[st == 'R' ? 0 : st == 'S' ? 1 : 2]);
	put_ch(b, '\n');
	put_field(b, "Tgid", p->pid);
	put_field(b, "Ngid", 0);
	put_field(b, "Pid", tid);
	put_field(b, "PPid", p->ppid);
	put_field(b, "TracerPid", 0);
	put_s(b, "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
	put_field(b, "FDSize", (int64_t)(fdsize < 64 ? 64 : (fdsize + 63) / 64 * 64));
	put_s(b, "Groups:\t\n");
	put_field(b, "NStgid", p->pid);
	put_field(b, "NSpid", tid);
	put_field(b, "NSpgid", p->pgid);
	put_field(b, "NSsid", p->sid);
	if (in && p->state != PROC_ZOMBIE) {
		put_s(b, "VmSize:\t");
		put_num(b, in->vsz / 1024, 10, 8, ' ');
		put_s(b, " kB\nVmRSS:\t");
		put_num(b, in->rss_pages * 4, 10, 8, ' ');
		put_s(b, " kB\n");
	}
	put_field(b, "Threads", threads_of(p));
	put_sigset(b, "SigPnd", 0);
	put_sigset(b, "ShdPnd", p->sigpending);
	put_sigset(b, "SigBlk", p->sigblocked);
	put_sigset(b, "SigIgn", p->sigignored);
	put_sigset(b, "SigCgt", p->sigcaught);
}

/* The region of this image that holds va, or NULL. */
static const struct region *region_at(uint64_t va)
{
	for (uint32_t i = 0; i < lp.nregions; i++)
		if (va >= lp.regions[i].start && va < lp.regions[i].end)
			return &lp.regions[i];
	return 0;
}

/* The calling process's mappings in address order (another process's
 * are in its own image: empty). */
static void gen_maps(struct pinfo *in, struct pbuf *b)
{
	const struct region *stack = region_at(stack_top_seen - 1), *heap = region_at(lp.heap_start);
	uint64_t from = 0;
	for (;;) {
		const struct region *r = 0;	/* the table is sorted by start */
		for (uint32_t i = 0; i < lp.nregions && !r; i++)
			if (lp.regions[i].start >= from)
				r = &lp.regions[i];
		if (!r)
			return;
		from = r->end;
		size_t start = b->len;
		put_num(b, r->start, 16, 8, '0');
		put_ch(b, '-');
		put_num(b, r->end, 16, 8, '0');
		put_ch(b, ' ');
		put_ch(b, r->prot & 1 ? 'r' : '-');
		put_ch(b, r->prot & 2 ? 'w' : '-');
		put_ch(b, r->prot & 4 ? 'x' : '-');
		put_ch(b, r->shoff || r->file ? 's' : 'p');
		put_ch(b, ' ');
		put_num(b, r->file ? r->foff : 0, 16, 8, '0');
		put_s(b, " 00:00 0");
		static char fpath[LX_PATH_MAX];	/* a shared file's path, when it has one */
		const char *name = r == stack ? "[stack]" : r == heap && lp.heap_end > lp.heap_start ? "[heap]" :
				   r->file && path_of(r->file, fpath) == 0 ? fpath :
				   r->end <= lp.heap_start && in && !r->bss ? in->exe : 0;
		if (name && *name) {
			while (b->len - start < 73 && !b->oom)
				put_ch(b, ' ');
			put_s(b, name);
		}
		put_ch(b, '\n');
	}
}

/* Writes node n's file into b: 0 or -errno. */
static int generate(struct proot *r, struct pnode *n, struct pbuf *b)
{
	switch (n->type) {
	case P_MEMINFO: gen_meminfo(r, b); return 0;
	case P_CPUINFO: gen_cpuinfo(b); return 0;
	case P_UPTIME: gen_uptime(b); return 0;
	case P_LOADAVG: gen_loadavg(b); return 0;
	case P_STAT: gen_stat(b); return 0;
	case P_MOUNTS: case P_PMOUNTS: gen_mounts(b); return 0;
	case P_FILESYSTEMS: gen_filesystems(b); return 0;
	case P_VERSION: gen_version(b); return 0;
	default: break;
	}
	struct sh_proc *p = proc_entry(n->pid);
	if (!p)
		return -ESRCH;
	struct pinfo *in = info_of(r, p);
	int zombie = p->state == PROC_ZOMBIE;
	switch (n->type) {
	case P_PSTAT: gen_pid_stat(p, in, p->pid, b); return 0;
	case P_STATUS: gen_status(p, in, p->pid, b); return 0;
	case P_TSTAT: gen_pid_stat(p, in, n->fd, b); return 0;
	case P_TSTATUS: gen_status(p, in, n->fd, b); return 0;
	case P_CMDLINE:
		if (in && !zombie)
			put_mem(b, in->args, in->args_len);
		return 0;
	case P_ENVIRON:
		if (in && !zombie)
			put_mem(b, in->env, in->env_len);
		return 0;
	case P_COMM:
	case P_TCOMM:
		put_s(b, in ? in->comm : "?");
		put_ch(b, '\n');
		return 0;
	case P_MAPS:
		if (p == proc_self())
			gen_maps(in, b);
		return 0;
	default:
		return -EINVAL;
	}
}

/* Each read writes the whole file afresh and hands out [off, off + len). */
static int64_t p_read(struct vnode *v, void *ubuf, uint64_t len, uint64_t off)
{
	static struct pbuf b;
	struct proot *r = proot_of(v);
	b.len = 0;
	b.oom = 0;
	refresh_self(r);
	int e = generate(r, pn(v), &b);
	if (e)
		return e;
	if (b.oom)
		return -ENOMEM;
	if (off >= b.len)
		return 0;
	uint64_t n = b.len - off < len ? b.len - off : len;
	return lo_copy_out(ubuf, b.p + off, n) ? -EFAULT : (int64_t)n;
}

/* Files are read-only, as on Linux for these (EACCES). */
static int p_open(struct vnode *v, struct file *f)
{
	if (!LX_S_ISDIR(v->mode) && (f->flags & LX_O_ACCMODE) != LX_O_RDONLY)
		return -EACCES;
	if (pn(v)->type >= P_PID && !proc_entry(pn(v)->pid))
		return -ENOENT;
	return 0;
}

#define EROFS 30

static int p_create(struct vnode *dir, const char *name, size_t len, uint32_t mode, uint64_t rdev,
		    const char *target, size_t tlen, struct vnode **out)
{
	(void)dir, (void)name, (void)len, (void)mode, (void)rdev, (void)target, (void)tlen, (void)out;
	return -EROFS;
}

static int p_link(struct vnode *dir, const char *name, size_t len, struct vnode *v)
{
	(void)dir, (void)name, (void)len, (void)v;
	return -EROFS;
}

static int p_unlink(struct vnode *dir, const char *name, size_t len)
{
	(void)dir, (void)name, (void)len;
	return -EROFS;
}

static int p_rename(struct vnode *odir, const char *oname, size_t olen,
		    struct vnode *ndir, const char *nname, size_t nlen)
{
	(void)odir, (void)oname, (void)olen, (void)ndir, (void)nname, (void)nlen;
	return -EROFS;
}

static int p_statfs(struct vnode *v, struct lx_statfs *out)
{
	lo_memset(out, 0, sizeof *out);
	out->type = PROC_MAGIC;
	out->bsize = out->frsize = PAGE;
	out->fsid[0] = (int32_t)v->mnt->dev;
	out->namelen = LX_NAME_MAX;
	out->flags = 1;			/* ST_RDONLY */
	return 0;
}

const struct vnode_ops procfs_vnode_ops = {
	.lookup = p_lookup, .create = p_create, .link = p_link, .unlink = p_unlink,
	.rename = p_rename, .readdir = p_readdir, .read = p_read, .readlink = p_readlink,
	.open = p_open, .statfs = p_statfs,
};

int procfs_mount(const char *path)
{
	struct vnode *v;
	struct exo_cap_info mem;
	struct proot *r = sh_alloc(sizeof *r);
	if (!r)
		return -ENOMEM;
	r->root.v.kind = VK_PROC;
	r->root.v.mode = entries[P_ROOT].mode;
	r->root.v.nlink = 2;
	r->root.v.atime = r->root.v.mtime = r->root.v.ctime = vfs_now();
	r->root.type = P_ROOT;
	r->total_pages = (lo_cap_inspect(EXO_SLOT_MEMORY, &mem) == 0 ? mem.count : 0) +
			 lp.shared_pages;
	for (int i = 0; i < MAX_CHUNKS; i++)	/* and the pages it has taken */
		r->total_pages += lp.chunks[i].slot ? lp.chunks[i].pages : 0;
	vfs_make_k(path, LX_S_IFDIR | 0555, 0, 0, 0, &v);
	int e = vfs_mount(path, &r->root.v, "proc", PROC_MAGIC);
	if (e)
		return e;
	if (vfs_lookup_k(vfs_root(), "/etc", 1, &v) == 0)
		vfs_make_k("/etc/mtab", LX_S_IFLNK | 0777, 0, "../proc/self/mounts", 19, &v);
	return 0;
}

void procfs_note_start(int argc, const char *const *argv, const char *const *envp, uint32_t envc,
		       const char *execfn, uint64_t stack_top)
{
	static char path[LX_PATH_MAX];
	stack_top_seen = stack_top;
	struct proot *r = proot_find();
	if (!r || !lp.shared_pages)
		return;
	struct sh_proc *me = proc_self();
	struct pinfo *in = &r->info[me - sh_seg()->procs];
	info_clear(in);
	in->pid = me->pid;
	in->gen = me->gen;
	in->start_ns = time_now_ns();
	in->args = pack_strings(argv, (uint32_t)argc, &in->args_len);
	in->env = pack_strings(envp, envc, &in->env_len);
	const char *given = execfn ? execfn : argv[0], *exe = given, *base = given;
	for (const char *s = given; *s; s++)	/* comm: the name as given, as Linux */
		if (*s == '/')
			base = s + 1;
	size_t n = lo_strlen(base);
	lo_memcpy(in->comm, base, n < 15 ? n : 15);
	struct vnode *v;
	if (vfs_lookup_k(vfs_cwd(), given, 1, &v) == 0 && path_of(v, path) == 0) {
		exe = path;			/* absolute, links resolved */
	} else if (given[0] != '/' && up_path(vfs_cwd(), path) == 0) {
		/* no such file here: still absolute, as glibc's start-up asserts */
		size_t c = lo_strlen(path), g = lo_strlen(given);
		c = c == 1 ? 0 : c;
		if (c + 1 + g < sizeof path) {
			path[c] = '/';
			lo_memcpy(path + c + 1, given, g + 1);
			exe = path;
		}
	}
	n = lo_strlen(exe);
	lo_memcpy(in->exe, exe, n < sizeof in->exe ? n : sizeof in->exe - 1);
	refresh_self(r);
}
