/*
 * Pipes within one process: a 64 KiB ring of pages allocated as they are
 * first needed, a read end and a write end.  A pipe does not cross a fork
 * yet (each process continues with its own copy, as with all libOS state,
 * until processes share memory), so nothing could ever fill an empty pipe
 * or drain a full one while the caller waited: where Linux would block
 * forever, the call fails with EAGAIN instead (docs/LIBOS.md).
 */
#include "libos/libos.h"
#include "libos/vfs.h"

#define PIPE_PAGES 16
#define PIPE_CAP (PIPE_PAGES * 4096u)
#define PIPE_BUF 4096u

struct pipe {
	uint8_t *pages[PIPE_PAGES];
	uint32_t head, count;		/* first unread byte, bytes held */
	uint32_t readers, writers;
	uint64_t ino;
};

static uint64_t next_ino = 1;

/* Copies n bytes between the ring at offset at and the program's buffer. */
static int ring_copy(struct pipe *p, uint32_t at, uint8_t *ubuf, uint32_t n, int to_user)
{
	while (n) {
		uint32_t pi = at / 4096 % PIPE_PAGES, in = at % 4096, k = 4096 - in;
		if (k > n)
			k = n;
		if (!p->pages[pi] && !(p->pages[pi] = lo_page_alloc()))
			return -ENOMEM;
		if (to_user ? lo_copy_out(ubuf, p->pages[pi] + in, k) : lo_copy_in(p->pages[pi] + in, ubuf, k))
			return -EFAULT;
		ubuf += k;
		at += k;
		n -= k;
	}
	return 0;
}

static int64_t pipe_read(struct file *f, void *ubuf, uint64_t len)
{
	struct pipe *p = f->priv;
	if (len == 0)
		return 0;
	if (p->count == 0)
		return p->writers ? -EAGAIN : 0;
	uint32_t n = len < p->count ? (uint32_t)len : p->count;
	int r = ring_copy(p, p->head, ubuf, n, 1);
	if (r)
		return r;
	p->head = (p->head + n) % PIPE_CAP;
	p->count -= n;
	return n;
}

static int64_t pipe_write(struct file *f, const void *ubuf, uint64_t len)
{
	struct pipe *p = f->priv;
	if (!p->readers)
		return -EPIPE;
	if (len == 0)
		return 0;
	uint32_t room = PIPE_CAP - p->count;
	if (room == 0 || (len <= PIPE_BUF && room < len))
		return -EAGAIN;			/* writes up to PIPE_BUF are atomic */
	uint32_t n = len < room ? (uint32_t)len : room;
	int r = ring_copy(p, (p->head + p->count) % PIPE_CAP, (uint8_t *)ubuf, n, 0);
	if (r)
		return r;
	p->count += n;
	return n;
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
	if ((f->flags & LX_O_ACCMODE) == LX_O_RDONLY)
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

static void pipe_release(struct file *f)
{
	struct pipe *p = f->priv;
	if ((f->flags & LX_O_ACCMODE) == LX_O_RDONLY)
		p->readers--;
	else
		p->writers--;
	if (p->readers || p->writers)
		return;
	for (int i = 0; i < PIPE_PAGES; i++)
		lo_page_free(p->pages[i]);
	lo_free(p);
}

static const struct file_ops read_end = {
	.read = pipe_read, .stat = pipe_stat, .poll = pipe_poll, .ioctl = pipe_ioctl,
	.release = pipe_release,
};
static const struct file_ops write_end = {
	.write = pipe_write, .stat = pipe_stat, .poll = pipe_poll, .ioctl = pipe_ioctl,
	.release = pipe_release,
};

int pipe_create(struct file **rd, struct file **wr, uint32_t flags)
{
	struct pipe *p = lo_alloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	p->ino = next_ino++;
	*rd = file_new(&read_end, LX_O_RDONLY | flags);
	*wr = file_new(&write_end, LX_O_WRONLY | flags);
	if (!*rd || !*wr) {
		lo_free(*rd);
		lo_free(*wr);
		lo_free(p);
		return -ENOMEM;
	}
	(*rd)->priv = (*wr)->priv = p;
	p->readers = p->writers = 1;
	return 0;
}
