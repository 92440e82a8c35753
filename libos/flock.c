/*
 * Advisory locks, kept on the node in the shared segment so every process
 * sees them: fcntl's record locks (F_GETLK, F_SETLK, F_SETLKW), owned by a
 * process, on byte ranges, and released when that process closes any
 * descriptor of the file (or ends), as POSIX says; and flock's whole-file
 * locks, owned by an open file description, released with its last
 * descriptor.  The two kinds do not see each other, as on Linux.  A lock
 * that must wait sleeps on the node's change word (sh_wait, woken by
 * whoever unlocks, in any process) and ends with EINTR on a signal.
 */
#include "libos/libos.h"
#include "libos/shared.h"
#include "libos/vfs.h"

#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8
#define ENOLCK 37
#define TO_EOF UINT64_MAX

struct lock_rec {
	struct lock_rec *next;
	uint64_t start, end;		/* [start, end); end TO_EOF: to the end of file */
	int64_t owner;			/* record locks: the pid; flock: the description */
	uint32_t type;			/* F_RDLCK or F_WRLCK */
	uint32_t whole;			/* 1: a flock lock */
};

struct lx_flock {
	int16_t type, whence;
	int64_t start, len;
	int32_t pid, pad;
};
_Static_assert(sizeof(struct lx_flock) == 32, "x86_64 struct flock");

/* Whether a and the request (start, end, owner, type, whole) conflict. */
static int conflicts(const struct lock_rec *a, uint64_t start, uint64_t end, int64_t owner,
		     uint32_t type, uint32_t whole)
{
	return a->whole == whole && a->owner != owner && a->start < end && start < a->end &&
	       (a->type == F_WRLCK || type == F_WRLCK);
}

static struct lock_rec *first_conflict(struct vnode *v, uint64_t start, uint64_t end, int64_t owner,
				       uint32_t type, uint32_t whole)
{
	for (struct lock_rec *l = v->locks; l; l = l->next)
		if (conflicts(l, start, end, owner, type, whole))
			return l;
	return 0;
}

static void wake(struct vnode *v)
{
	v->lock_changes++;
	sh_wake(&v->lock_changes);
}

/* Removes owner's locks of the kind whole from [start, end), cutting the
 * ones that stick out: 0, or -ENOLCK when a cut needs memory. */
static int unlock_range(struct vnode *v, uint64_t start, uint64_t end, int64_t owner, uint32_t whole)
{
	for (struct lock_rec **pp = &v->locks; *pp;) {
		struct lock_rec *l = *pp;
		if (l->owner != owner || l->whole != whole || l->end <= start || end <= l->start) {
			pp = &l->next;
			continue;
		}
		if (l->start < start && l->end > end) {		/* the range is inside: split */
			struct lock_rec *tail = sh_alloc(sizeof *tail);
			if (!tail)
				return -ENOLCK;
			*tail = *l;
			tail->start = end;
			l->end = start;
			l->next = tail;
			pp = &tail->next;
		} else if (l->start < start) {
			l->end = start;
			pp = &l->next;
		} else if (l->end > end) {
			l->start = end;
			pp = &l->next;
		} else {
			*pp = l->next;
			sh_free(l);
		}
	}
	return 0;
}

/* Takes [start, end) for owner, merging with its touching locks of the
 * same type, as Linux does. */
static int lock_range(struct vnode *v, uint64_t start, uint64_t end, int64_t owner, uint32_t type,
		      uint32_t whole)
{
	int r = unlock_range(v, start, end, owner, whole);
	if (r)
		return r;
	for (struct lock_rec **pp = &v->locks; *pp;) {
		struct lock_rec *l = *pp;
		if (l->owner == owner && l->whole == whole && l->type == type &&
		    (l->end == start || (end != TO_EOF && l->start == end))) {
			start = l->start < start ? l->start : start;
			end = l->end > end ? l->end : end;
			*pp = l->next;
			sh_free(l);
			continue;
		}
		pp = &l->next;
	}
	struct lock_rec *l = sh_alloc(sizeof *l), **at = &v->locks;
	if (!l)
		return -ENOLCK;
	while (*at && (*at)->start <= start)
		at = &(*at)->next;		/* by start: F_GETLK names the first */
	*l = (struct lock_rec){ *at, start, end, owner, type, whole };
	*at = l;
	return 0;
}

/* Sets or clears a lock, waiting for conflicting ones to go when wait. */
static int set_lock(struct file *f, uint64_t start, uint64_t end, int64_t owner, uint32_t type,
		    uint32_t whole, int wait)
{
	struct vnode *v = f->vn;
	int r;
	if (type == F_UNLCK) {
		r = unlock_range(v, start, end, owner, whole);
		wake(v);
		return r;
	}
	while (first_conflict(v, start, end, owner, type, whole)) {
		if (!wait)
			return -EAGAIN;
		file_hold(f);			/* a close meanwhile must not free v */
		int64_t w = sh_wait(&v->lock_changes, v->lock_changes, 0);
		file_unhold(f);
		if (f->refs == 1) {		/* it did: the lock is moot */
			file_put(f);
			return -EBADF;
		}
		f->refs--;
		if (w == -EINTR)
			return -EINTR;
	}
	r = lock_range(v, start, end, owner, type, whole);
	wake(v);
	return r;
}

/* The byte range a struct flock names for f: 0 or -EINVAL. */
static int range_of(struct file *f, const struct lx_flock *fl, uint64_t *start, uint64_t *end)
{
	int64_t base = fl->whence == LX_SEEK_SET ? 0 : fl->whence == LX_SEEK_CUR ? (int64_t)f->pos :
		       fl->whence == LX_SEEK_END ? (int64_t)f->vn->size : -1;
	if (base < 0 || (fl->start > 0 && base > INT64_MAX - fl->start))
		return -EINVAL;
	int64_t s = base + fl->start;
	if (fl->len < 0) {
		if (s + fl->len < 0)
			return -EINVAL;
		*start = (uint64_t)(s + fl->len);
		*end = (uint64_t)s;
		return s < 0 ? -EINVAL : 0;
	}
	if (s < 0)
		return -EINVAL;
	*start = (uint64_t)s;
	*end = fl->len == 0 || fl->len > INT64_MAX - s ? TO_EOF : (uint64_t)(s + fl->len);
	return 0;
}

int64_t flock_fcntl(struct file *f, int cmd, uint64_t uarg)
{
	struct lx_flock fl;
	uint64_t start, end;
	if (lo_copy_in(&fl, (const void *)uarg, sizeof fl))
		return -EFAULT;
	if (!f->vn || fl.type < F_RDLCK || fl.type > F_UNLCK)
		return -EINVAL;
	int r = range_of(f, &fl, &start, &end);
	if (r)
		return r;
	int64_t me = libos_pid();
	if (cmd == LX_F_GETLK) {
		if (fl.type == F_UNLCK)
			return -EINVAL;
		struct lock_rec *l = first_conflict(f->vn, start, end, me, (uint32_t)fl.type, 0);
		if (!l) {
			fl.type = F_UNLCK;
		} else {
			fl.type = (int16_t)l->type;
			fl.whence = LX_SEEK_SET;
			fl.start = (int64_t)l->start;
			fl.len = l->end == TO_EOF ? 0 : (int64_t)(l->end - l->start);
			fl.pid = (int32_t)l->owner;
		}
		return lo_copy_out((void *)uarg, &fl, sizeof fl);
	}
	uint32_t acc = f->flags & LX_O_ACCMODE;
	if ((fl.type == F_RDLCK && acc == LX_O_WRONLY) || (fl.type == F_WRLCK && acc == LX_O_RDONLY))
		return -EBADF;
	return set_lock(f, start, end, me, (uint32_t)fl.type, 0, cmd == LX_F_SETLKW);
}

LO_CALL(sys_flock)
{
	UNUSED_ARGS;
	struct file *f = (int64_t)a0 >= 0 && a0 <= INT32_MAX ? fd_get((int)a0) : 0;
	if (!f || (f->flags & LX_O_PATH))
		return -EBADF;
	uint64_t op = a1 & ~(uint64_t)LOCK_NB;
	uint32_t type = op == LOCK_SH ? F_RDLCK : op == LOCK_EX ? F_WRLCK : op == LOCK_UN ? F_UNLCK : 9;
	if (type == 9)
		return -EINVAL;
	if (!f->vn)
		return -EINVAL;			/* pipes, sockets: no node to lock */
	return set_lock(f, 0, TO_EOF, (int64_t)(uintptr_t)f, type, 1, !(a1 & LOCK_NB));
}

/* A process closed a descriptor of v: its record locks on v go. */
void flock_close(struct vnode *v, int64_t pid)
{
	if (!v->locks)
		return;
	unlock_range(v, 0, TO_EOF, pid, 0);
	wake(v);
}

/* The last descriptor of f closed: its flock lock goes. */
void flock_release(struct file *f)
{
	if (!f->vn || !f->vn->locks)
		return;
	unlock_range(f->vn, 0, TO_EOF, (int64_t)(uintptr_t)f, 1);
	wake(f->vn);
}
