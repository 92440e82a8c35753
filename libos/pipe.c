/*
 * Pipes: a 64 KiB ring of pages allocated as they are first needed, a read
 * end and a write end, all in the shared segment (libos/shared.h), so a
 * pipe connects the processes that hold its ends.  A reader of an empty
 * pipe that still has writers waits, as a writer of a full one waits for
 * room: sh_wait on the pipe's change counter with the libOS lock released,
 * woken by sh_wake from the other end, in any process.  A signal ends the
 * wait with EINTR (or with the bytes moved so far); O_NONBLOCK gives
 * EAGAIN instead of waiting.  Reading gives end of file once no writer is
 * left; writing with no reader left gives EPIPE and raises SIGPIPE on the
 * writing thread.  Writes of up to PIPE_BUF bytes are atomic.
 *
 * A FIFO (a tmpfs node of type S_IFIFO, made by mknod) is a pipe found
 * through its node: the first open makes it, the last close of both ends
 * frees it.  Opening it for reading waits until a writer opens it (for
 * writing, until a reader), unless O_NONBLOCK: then a reader goes on at
 * once and a writer without a reader gets ENXIO; O_RDWR never waits.
 */
#include "libos/libos.h"
#include "libos/shared.h"
#include "libos/thread.h"
#include "libos/vfs.h"
#include "libos/hold.h"

#define PIPE_PAGES 16
#define PIPE_CAP (PIPE_PAGES * 4096u)
#define PIPE_BUF 4096u
#define SIGPIPE 13

struct pipe {
	uint8_t *pages[PIPE_PAGES];
	uint32_t head, count;		/* first unread byte, bytes held */
	uint32_t readers, writers;
	uint64_t ino;
	struct vfs_ns *ns;		/* whose poll waiters learn of changes */
	struct vnode *fifo;		/* the FIFO's node, or NULL */
	uint32_t reader_opens, writer_opens;	/* FIFO opens so far, for waiting opens */
	volatile uint32_t changes;	/* bumped and woken at every change */
};

/* Copies n bytes between the ring at offset at and the program's buffer,
 * a page at a time, allocating the ring's pages as they are first needed. */
static __attribute__((noinline)) int ring_copy_pages(struct pipe *p, uint32_t at, uint8_t *ubuf, uint32_t n,
						     int to_user)
{
	while (n) {
		uint32_t pi = at / 4096 % PIPE_PAGES, in = at % 4096, k = 4096 - in;
		if (k > n)
			k = n;
		if (!p->pages[pi] && !(p->pages[pi] = sh_alloc(4096)))
			return -ENOMEM;
		if (to_user ? lo_copy_out(ubuf, p->pages[pi] + in, k) : lo_copy_in(p->pages[pi] + in, ubuf, k))
			return -EFAULT;
		ubuf += k;
		at += k;
		n -= k;
	}
	return 0;
}

/* The same; inline for what one page already there holds, as a pipe's
 * short messages are. */
static inline int ring_copy(struct pipe *p, uint32_t at, uint8_t *ubuf, uint32_t n, int to_user)
{
	uint8_t *page = p->pages[at / 4096 % PIPE_PAGES];
	uint32_t in = at % 4096;
	if (!page || in + n > 4096)
		return ring_copy_pages(p, at, ubuf, n, to_user);
	if (to_user ? lo_copy_out(ubuf, page + in, n) : lo_copy_in(page + in, ubuf, n))
		return -EFAULT;
	return 0;
}

/* Tells the other end, and poll in every process, that p changed. */
static void changed(struct pipe *p)
{
	p->changes++;
	sh_wake(&p->changes);
	vfs_changed(p->ns);
}

/* Waits for the next change of f's pipe: 0, or -EINTR for a signal. The
 * caller holds a reference on f, noted in its thread's waker (a read's or
 * write's, io_held; a FIFO open's, fifo_wait), so a close by another
 * thread meanwhile does not free it, as on Linux, where the file stays
 * open under a call blocked on it, and the reference is dropped for the
 * thread should it never come back. */
static int64_t wait_change(struct file *f)
{
	struct pipe *p = f->priv;
	return sh_wait(&p->changes, p->changes, 0) == -EINTR ? -EINTR : 0;
}

static int64_t pipe_read(struct file *f, void *ubuf, uint64_t len)
{
	struct pipe *p = f->priv;
	if (len == 0)
		return 0;
	while (p->count == 0) {
		if (!p->writers)
			return 0;
		if (f->flags & LX_O_NONBLOCK)
			return -EAGAIN;
		int64_t r = wait_change(f);
		if (r)
			return r;
	}
	uint32_t n = len < p->count ? (uint32_t)len : p->count;
	int r = ring_copy(p, p->head, ubuf, n, 1);
	if (r)
		return r;
	p->head = (p->head + n) % PIPE_CAP;
	p->count -= n;
	changed(p);
	return n;
}

/* No reader is left: SIGPIPE for the writing thread, as Linux raises it
 * even after a partial write, and EPIPE when nothing was written. */
static int64_t broken(uint64_t done)
{
	lo_signal_thread(lo_thread_self(), SIGPIPE);
	return done ? (int64_t)done : -EPIPE;
}

static int64_t pipe_write(struct file *f, const void *ubuf, uint64_t len)
{
	struct pipe *p = f->priv;
	uint64_t done = 0;
	if (!p->readers)
		return broken(0);
	while (done < len) {
		uint32_t room = PIPE_CAP - p->count;
		if (room == 0 || (len <= PIPE_BUF && room < len)) {	/* atomic up to PIPE_BUF */
			if (f->flags & LX_O_NONBLOCK)
				return done ? (int64_t)done : -EAGAIN;
			int64_t r = wait_change(f);
			if (r)
				return done ? (int64_t)done : r;
			if (!p->readers)
				return broken(done);
			continue;
		}
		uint64_t want = len - done;
		uint32_t n = want < room ? (uint32_t)want : room;
		int r = ring_copy(p, (p->head + p->count) % PIPE_CAP, (uint8_t *)ubuf + done, n, 0);
		if (r)
			return done ? (int64_t)done : r;
		p->count += n;
		done += n;
		changed(p);
		if (f->flags & LX_O_NONBLOCK)
			break;			/* what fits now, as Linux writes */
	}
	return (int64_t)done;
}

static int pipe_stat(struct file *f, struct lx_stat *st)
{
	struct pipe *p = f->priv;
	if (f->vn) {
		vfs_fill_stat(f->vn, st);
		return 0;
	}
	lo_memset(st, 0, sizeof *st);
	st->dev = lx_makedev(0, 12);
	st->ino = p->ino;
	st->nlink = 1;
	st->mode = LX_S_IFIFO | 0600;
	st->blksize = 4096;
	return 0;
}

static int pipe_poll(struct file *f)
{
	struct pipe *p = f->priv;
	uint32_t acc = f->flags & LX_O_ACCMODE;
	int ev = 0;
	if (acc != LX_O_WRONLY)
		ev |= (p->count ? LX_POLLIN : 0) | (p->writers ? 0 : LX_POLLHUP);
	if (acc != LX_O_RDONLY)
		ev |= (p->count < PIPE_CAP ? LX_POLLOUT : 0) | (p->readers ? 0 : LX_POLLERR);
	return ev;
}

static int64_t pipe_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	struct pipe *p = f->priv;
	if (cmd != 0x541b)		/* FIONREAD */
		return -ENOTTY;
	int n = (int)p->count;
	return lo_copy_out((void *)arg, &n, sizeof n);
}

/* The last descriptor of one end closed: the other end learns it (EOF,
 * EPIPE); the last of both frees the pipe. */
static void pipe_release(struct file *f)
{
	struct pipe *p = f->priv;
	uint32_t acc = f->flags & LX_O_ACCMODE;
	if (acc != LX_O_WRONLY)
		p->readers--;
	if (acc != LX_O_RDONLY)
		p->writers--;
	changed(p);
	if (p->readers || p->writers)
		return;
	if (p->fifo)
		p->fifo->fifo = 0;
	for (int i = 0; i < PIPE_PAGES; i++)
		if (p->pages[i])
			sh_free(p->pages[i]);
	sh_free(p);
}

/* Both ends: the access mode says which a description is (the calls check
 * it before an op runs). */
const struct file_ops pipe_fops = {
	.read = pipe_read, .write = pipe_write, .stat = pipe_stat, .poll = pipe_poll,
	.ioctl = pipe_ioctl, .release = pipe_release,
};

static struct pipe *pipe_new(void)
{
	struct pipe *p = sh_alloc(sizeof *p);
	if (!p)
		return 0;
	p->ns = vfs_ns();
	p->ino = p->ns->next_pipe_ino++;
	return p;
}

/* Waits until the FIFO has an end of the other kind (others: its count),
 * or one was opened meanwhile (opens: their opens so far, as Linux counts
 * them, so an end opened and closed at once still ends the wait): 0, or
 * -EINTR. */
static int fifo_wait(struct file *f, uint32_t *others, uint32_t *opens)
{
	uint32_t seen = *opens;
	int64_t r = 0;
	struct sh_waker *w = hold_waker();
	hold_note(w, f);		/* the open's own reference */
	while (!r && !*others && *opens == seen)
		r = wait_change(f);
	hold_unnote(w);
	return (int)r;
}

int fifo_open(struct vnode *v, struct file *f)
{
	uint32_t acc = f->flags & LX_O_ACCMODE;
	int nonblock = (f->flags & LX_O_NONBLOCK) != 0;
	struct pipe *p = v->fifo;
	if (acc == LX_O_WRONLY && nonblock && (!p || !p->readers))
		return -ENXIO;
	if (!p) {
		if (!(p = pipe_new()))
			return -ENOMEM;
		p->fifo = v;
		v->fifo = p;
	}
	f->kind = FK_PIPE;
	f->priv = p;
	if (acc != LX_O_WRONLY)
		p->readers++, p->reader_opens++;
	if (acc != LX_O_RDONLY)
		p->writers++, p->writer_opens++;
	changed(p);
	if (acc == LX_O_RDWR || (acc == LX_O_RDONLY && nonblock))
		return 0;
	/* a wait ended by a signal leaves the description to the caller's
	 * file_put, which undoes the counts */
	return acc == LX_O_RDONLY ? fifo_wait(f, &p->writers, &p->writer_opens)
				  : fifo_wait(f, &p->readers, &p->reader_opens);
}

int pipe_create(struct file **rd, struct file **wr, uint32_t flags)
{
	struct pipe *p = pipe_new();
	if (!p)
		return -ENOMEM;
	*rd = file_new(FK_PIPE, LX_O_RDONLY | flags);
	*wr = file_new(FK_PIPE, LX_O_WRONLY | flags);
	if (!*rd || !*wr) {
		if (*rd)
			sh_free(*rd);
		if (*wr)
			sh_free(*wr);
		sh_free(p);
		return -ENOMEM;
	}
	(*rd)->priv = (*wr)->priv = p;
	p->readers = p->writers = 1;
	return 0;
}
