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
 */
#include "libos/libos.h"
#include "libos/shared.h"
#include "libos/thread.h"
#include "libos/vfs.h"

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
	volatile uint32_t changes;	/* bumped and woken at every change */
};

/* Copies n bytes between the ring at offset at and the program's buffer. */
static int ring_copy(struct pipe *p, uint32_t at, uint8_t *ubuf, uint32_t n, int to_user)
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

/* Tells the other end, and poll in every process, that p changed. */
static void changed(struct pipe *p)
{
	p->changes++;
	sh_wake(&p->changes);
	vfs_changed(p->ns);
}

/* Waits for the next change of f's pipe, holding a reference so that a
 * close by another thread meanwhile does not free it: 0, -EINTR for a
 * signal, or -EBADF when that close was the last. */
static int64_t wait_change(struct file *f)
{
	struct pipe *p = f->priv;
	file_ref(f);
	int64_t r = sh_wait(&p->changes, p->changes, 0);
	if (f->refs == 1) {
		file_put(f);
		return -EBADF;
	}
	f->refs--;
	return r == -EINTR ? -EINTR : 0;
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
	if (f->kind == FK_PIPE_READ)
		return (p->count ? LX_POLLIN : 0) | (p->writers ? 0 : LX_POLLHUP);
	return (p->count < PIPE_CAP ? LX_POLLOUT : 0) | (p->readers ? 0 : LX_POLLERR);
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
	if (f->kind == FK_PIPE_READ)
		p->readers--;
	else
		p->writers--;
	changed(p);
	if (p->readers || p->writers)
		return;
	for (int i = 0; i < PIPE_PAGES; i++)
		if (p->pages[i])
			sh_free(p->pages[i]);
	sh_free(p);
}

const struct file_ops pipe_read_fops = {
	.read = pipe_read, .stat = pipe_stat, .poll = pipe_poll, .ioctl = pipe_ioctl,
	.release = pipe_release,
};
const struct file_ops pipe_write_fops = {
	.write = pipe_write, .stat = pipe_stat, .poll = pipe_poll, .ioctl = pipe_ioctl,
	.release = pipe_release,
};

int pipe_create(struct file **rd, struct file **wr, uint32_t flags)
{
	struct pipe *p = sh_alloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	p->ns = vfs_ns();
	p->ino = p->ns->next_pipe_ino++;
	*rd = file_new(FK_PIPE_READ, LX_O_RDONLY | flags);
	*wr = file_new(FK_PIPE_WRITE, LX_O_WRONLY | flags);
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
