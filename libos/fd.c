/*
 * The file-descriptor table: descriptor numbers to open file descriptions
 * (struct file), with the close-on-exec bit per descriptor.  One table per
 * process, in the shared segment, named by the process's entry
 * (proc_files(), libos/shared.h), so it outlives execve; the threads of a
 * process share it.  It grows by doubling up to RLIMIT_NOFILE (1024 by
 * default, as on Linux; at most 1 << 20).  fork gives the child a copy:
 * the same descriptions, their references raised.
 */
#include "libos/libos.h"
#include "libos/shared.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/vfs.h"
#include "libos/hold.h"
#include "net/lwip/sockshare.h"
#include "libos/chan.h"

#define NOFILE_SOFT 1024
#define NOFILE_HARD 4096
#define NOFILE_CEILING (1u << 20)

struct fd_slot {
	struct file *f;
	uint32_t cloexec;
};

struct fdtab {
	struct vfs_ns *ns;		/* the file system the process sees */
	int64_t pid;			/* whose: its record locks go at each close */
	struct fd_slot *slots;
	uint64_t len;
	uint64_t soft_limit, hard_limit;
};

/* Every image indexes its own copy of the kinds' ops by the same numbers. */
const struct file_ops *const file_kinds[FK_COUNT] = {
	[FK_STALE] = &stale_fops,
	[FK_NODE] = &vfs_node_fops,
	[FK_DEV_NULL] = &devfs_fops[0], [FK_DEV_ZERO] = &devfs_fops[1], [FK_DEV_FULL] = &devfs_fops[2],
	[FK_DEV_RANDOM] = &devfs_fops[3], [FK_DEV_CONSOLE] = &devfs_fops[4],
	[FK_PIPE] = &pipe_fops,
	[FK_SOCKET] = &sock_fops, [FK_EVENTFD] = &eventfd_fops, [FK_EPOLL] = &epoll_fops,
};

static struct fdtab *tab(void)
{
	return proc_files()->fdtab;
}

struct vfs_ns *vfs_ns(void)
{
	struct fdtab *t = tab();
	return t ? t->ns : 0;
}

struct file *file_new(uint32_t kind, uint32_t flags)
{
	struct file *f = sh_alloc(sizeof *f);
	if (!f)
		return 0;
	f->kind = kind;
	f->flags = flags;
	f->refs = 1;
	struct vfs_ns *ns = vfs_ns();
	f->serial = ns ? ++ns->next_file_serial : 0;
	return f;
}

/* Drops the last reference: releases the kind's state and the node. */
void file_release(struct file *f)
{
	f->refs = 0;
	if (f->vn)
		flock_release(f);
	if (fops(f)->release)
		fops(f)->release(f);
	if (f->vn)
		vfs_put(f->vn);
	sh_free(f);
}

void file_hold(struct file *f)
{
	file_ref(f);
	hold_note(hold_waker(), f);
}

void file_unhold(struct file *f)
{
	(void)f;
	hold_unnote(hold_waker());
}

void file_let_go(struct file *f)
{
	file_unhold(f);
	file_put(f);
}

/* A descriptor of t's process closed: its record locks on the file go. */
static void closed(struct fdtab *t, struct file *f)
{
	if (f->vn)
		flock_close(f->vn, t->pid);
}

/* The same for a description of a dead process (files_release): its
 * process-local state went with its image. */
static void file_put_foreign(struct file *f)
{
	if (!file_kind_local(f->kind) || f->kind == FK_SOCKET) {	/* its owner may live */
		file_put(f);
		return;
	}
	if (--f->refs == 0)
		sh_free(f);
}

/* A process-local kind in another process: every call but close fails. */
static int64_t stale_io(struct file *f, void *ubuf, uint64_t len)
{
	(void)f, (void)ubuf, (void)len;
	return -ENXIO;
}

static int64_t stale_write(struct file *f, const void *ubuf, uint64_t len)
{
	(void)f, (void)ubuf, (void)len;
	return -ENXIO;
}

static int64_t stale_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	(void)f, (void)cmd, (void)arg;
	return -ENXIO;
}

static int stale_stat(struct file *f, struct lx_stat *st)
{
	(void)f, (void)st;
	return -ENXIO;
}

static int stale_poll(struct file *f)
{
	(void)f;
	return LX_POLLERR;
}

const struct file_ops stale_fops = {
	.read = stale_io, .write = stale_write,
	.ioctl = stale_ioctl, .stat = stale_stat, .poll = stale_poll,
};

/* The description another process gets in place of f. */
static struct file *for_other_process(struct file *f)
{
	if (!file_kind_local(f->kind) || (f->kind == FK_SOCKET && sockshare_share(f) == 0)) {
		file_ref(f);
		return f;
	}
	return file_new(FK_STALE, f->flags);
}

struct file *fd_get(int fd)
{
	struct fdtab *t = tab();
	if (!t || fd < 0 || (uint64_t)fd >= t->len)
		return 0;
	return t->slots[fd].f;
}

/* Makes the table at least n slots long. */
static int grow(struct fdtab *t, uint64_t n)
{
	if (n <= t->len)
		return 0;
	uint64_t len = t->len ? t->len : 64;
	while (len < n)
		len *= 2;
	struct fd_slot *s = sh_realloc(t->slots, len * sizeof *s);
	if (!s)
		return -ENOMEM;
	lo_memset(s + t->len, 0, (len - t->len) * sizeof *s);
	t->slots = s;
	t->len = len;
	return 0;
}

int fd_install(struct file *f, int min, int cloexec)
{
	struct fdtab *t = tab();
	if (min < 0)
		return -EINVAL;
	for (uint64_t fd = (uint64_t)min; fd < t->soft_limit; fd++) {
		if (fd >= t->len && grow(t, fd + 1))
			return -ENOMEM;
		if (!t->slots[fd].f) {
			file_ref(f);
			t->slots[fd] = (struct fd_slot){ f, cloexec ? 1u : 0u };
			return (int)fd;
		}
	}
	return -EMFILE;
}

int fd_available(void)
{
	struct fdtab *t = tab();
	for (uint64_t fd = 0; fd < t->soft_limit; fd++)
		if (fd >= t->len || !t->slots[fd].f)
			return 0;
	return -EMFILE;
}

int fd_install_at(struct file *f, int fd, int cloexec)
{
	struct fdtab *t = tab();
	if (fd < 0 || (uint64_t)fd >= t->soft_limit)
		return -EBADF;
	if (grow(t, (uint64_t)fd + 1))
		return -ENOMEM;
	file_ref(f);
	struct file *old = t->slots[fd].f;
	t->slots[fd] = (struct fd_slot){ f, cloexec ? 1u : 0u };
	if (old) {
		closed(t, old);
		file_put(old);
	}
	return fd;
}

int fd_close(int fd)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	tab()->slots[fd].f = 0;
	closed(tab(), f);
	file_put(f);
	return 0;
}

int fd_get_cloexec(int fd)
{
	return fd_get(fd) ? (int)tab()->slots[fd].cloexec : 0;
}

void fd_set_cloexec(int fd, int on)
{
	if (fd_get(fd))
		tab()->slots[fd].cloexec = on ? 1u : 0u;
}

uint64_t fd_limit(void)
{
	return tab()->soft_limit;
}

uint64_t fd_hard_limit(void)
{
	return tab()->hard_limit;
}

/* RLIMIT_NOFILE: only root may raise the hard limit, and we are root. */
int fd_set_limit(uint64_t soft, uint64_t hard)
{
	if (soft > hard || hard > NOFILE_CEILING)
		return hard > NOFILE_CEILING ? -EPERM : -EINVAL;
	tab()->soft_limit = soft;
	tab()->hard_limit = hard;
	return 0;
}

int fd_table_init(struct vfs_ns *ns)
{
	struct fdtab *t = sh_alloc(sizeof *t);
	if (!t)
		return -ENOMEM;
	t->ns = ns;
	t->pid = libos_pid();
	t->soft_limit = NOFILE_SOFT;
	t->hard_limit = NOFILE_HARD;
	proc_files()->fdtab = t;
	return 0;
}

void fd_close_on_exec(void)
{
	struct fdtab *t = tab();
	sockshare_at_exec();
	for (uint64_t fd = 0; t && fd < t->len; fd++) {
		struct file *f = t->slots[fd].f;
		if (!f)
			continue;
		if (t->slots[fd].cloexec) {
			fd_close((int)fd);
		} else if (file_kind_local(f->kind) && !(f->kind == FK_SOCKET && sockshare_keeps_on_exec(f))) {
			struct file *stale = file_new(FK_STALE, f->flags);
			if (stale) {
				fd_install_at(stale, (int)fd, 0);
				file_put(stale);
			} else {
				fd_close((int)fd);
			}
		}
	}
}

/* A table's descriptors dropped and the table freed; foreign: it belongs
 * to a dead process. */
static void table_free(struct fdtab *t, int foreign)
{
	for (uint64_t fd = 0; fd < t->len; fd++) {
		struct file *f = t->slots[fd].f;
		t->slots[fd].f = 0;
		if (!f)
			continue;
		closed(t, f);
		foreign ? file_put_foreign(f) : file_put(f);
	}
	sh_free(t->slots);
	sh_free(t);
}

/* A copy of t for a new process: 0 when memory is short. */
static struct fdtab *table_copy(const struct fdtab *t)
{
	struct fdtab *c = sh_alloc(sizeof *c);
	if (!c)
		return 0;
	*c = *t;
	c->pid = 0;			/* the child's, once it runs: dropping the copy
					 * must not drop our record locks */
	c->slots = t->len ? sh_alloc(t->len * sizeof *c->slots) : 0;
	if (t->len && !c->slots) {
		sh_free(c);
		return 0;
	}
	for (uint64_t fd = 0; fd < t->len; fd++) {
		struct file *f = t->slots[fd].f;
		if (!f)
			continue;
		c->slots[fd] = (struct fd_slot){ for_other_process(f), t->slots[fd].cloexec };
		if (!c->slots[fd].f) {
			table_free(c, 0);
			return 0;
		}
	}
	return c;
}

/* What fork hands the child: made by the parent before the child's memory
 * is copied, so the child finds it here in its copy. */
static struct {
	struct fdtab *table;
	struct vnode *cwd;
	uint32_t umask;
} forked;

/* The single-process stand-in for the shared segment (libos/shared.c)
 * defines this: there, parent and child each hold a private copy of every
 * file, so each drops the references the other's table took. */
extern const int sh_single_process __attribute__((weak));

static int memory_is_private(void)
{
	return &sh_single_process != 0;
}

int files_fork_prepare(void)
{
	struct lo_proc_files *pf = proc_files();
	forked.table = pf->fdtab ? table_copy(pf->fdtab) : 0;
	if (pf->fdtab && !forked.table)
		return -ENOMEM;
	forked.cwd = pf->cwd;
	forked.umask = pf->umask;
	if (forked.cwd)
		vfs_ref(forked.cwd);
	struct lo_proc_files *rec = proc_forking_files();
	if (rec)			/* undone by proc_mark_dead if we die forking */
		*rec = (struct lo_proc_files){ forked.table, forked.cwd, forked.umask };
	return 0;
}

/* Drops what files_fork_prepare took. */
static void drop_forked(void)
{
	if (forked.table)
		table_free(forked.table, 0);
	if (forked.cwd)
		vfs_put(forked.cwd);
	forked.table = 0;
	forked.cwd = 0;
}

void files_fork_done(int ok)
{
	struct lo_proc_files *rec = proc_forking_files();
	if (rec)
		*rec = (struct lo_proc_files){ 0 };
	if (!ok || memory_is_private())
		drop_forked();
	forked.table = 0;
	forked.cwd = 0;
}

void files_fork_child(void)
{
	struct lo_proc_files *pf = proc_files();
	if (memory_is_private() && pf->fdtab)
		files_release(pf);		/* the parent's, copied with our memory */
	pf->fdtab = forked.table;
	if (forked.table)
		forked.table->pid = libos_pid();
	pf->cwd = forked.cwd;
	pf->umask = forked.umask;
	forked.table = 0;
	forked.cwd = 0;
}

void files_release(struct lo_proc_files *pf)
{
	struct fdtab *t = pf->fdtab;
	struct vnode *cwd = pf->cwd;
	pf->fdtab = 0;
	pf->cwd = 0;
	if (t)
		table_free(t, pf != proc_files());
	if (cwd)
		vfs_put(cwd);
}

void files_exit(void)
{
	files_release(proc_files());
}

/* The process layer's hook (libos/proc.c): a process ended, by its own
 * exit or killed by another. */
void lo_proc_files_exit(struct lo_proc_files *files)
{
	files_release(files);
}

void lo_waker_holds_drop(struct sh_waker *w, int foreign)
{
	for (int i = 0; i < SH_WAKER_HELD; i++) {
		struct file *f = w->held[i];
		w->held[i] = 0;
		if (f)
			foreign ? file_put_foreign(f) : file_put(f);
	}
	w->nheld = 0;
}

int fd_table_holds(const struct lo_proc_files *pf, const struct file *f)
{
	const struct fdtab *t = pf->fdtab;
	if (!chan_in_segment(t, sizeof *t))
		return 0;
	struct fd_slot *slots = t->slots;
	uint64_t len = t->len;		/* read once: the table could be rewritten meanwhile */
	if (len > NOFILE_CEILING || !chan_in_segment(slots, len * sizeof *slots))
		return 0;
	for (uint64_t i = 0; i < len; i++)
		if (slots[i].f == f)
			return 1;
	return 0;
}

/* For the procfs: another process's descriptors, read in place. */
int fd_next_open(const struct lo_proc_files *pf, int fd, struct file **f)
{
	const struct fdtab *t = pf->fdtab;
	for (uint64_t i = fd < 0 ? 0 : (uint64_t)fd; t && i < t->len; i++)
		if (t->slots[i].f) {
			*f = t->slots[i].f;
			return (int)i;
		}
	return -1;
}
