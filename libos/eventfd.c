/*
 * eventfd: a 64-bit counter behind a descriptor.  write adds, read takes
 * the whole count (or one with EFD_SEMAPHORE); a read of zero and a write
 * that would pass the maximum wait in the network stack's wait, or fail
 * with EAGAIN under O_NONBLOCK; a signal ends the wait with EINTR (before,
 * nothing did: the fuzzer's batches stuck in read under their tick).
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/vfs.h"
#include "libos/sockcalls.h"
#include "net/lwip/netstack.h"

#define EFD_SEMAPHORE 1
#define COUNT_MAX 0xfffffffffffffffeull

struct eventfd {
	uint64_t count;
	int semaphore;
};

static int64_t efd_read(struct file *f, void *ubuf, uint64_t len)
{
	struct eventfd *e = f->priv;
	if (len < 8)
		return -EINVAL;
	while (!e->count) {
		if (f->flags & LX_O_NONBLOCK)
			return -EAGAIN;
		if (netstack_wait_intr(UINT64_MAX))
			return -EINTR;
	}
	uint64_t v = e->semaphore ? 1 : e->count;
	if (lo_copy_out(ubuf, &v, 8))
		return -EFAULT;
	e->count -= v;
	return 8;
}

static int64_t efd_write(struct file *f, const void *ubuf, uint64_t len)
{
	struct eventfd *e = f->priv;
	uint64_t v;
	if (len < 8)
		return -EINVAL;
	if (lo_copy_in(&v, ubuf, 8))
		return -EFAULT;
	if (v == UINT64_MAX)
		return -EINVAL;
	while (v > COUNT_MAX - e->count) {
		if (f->flags & LX_O_NONBLOCK)
			return -EAGAIN;
		if (netstack_wait_intr(UINT64_MAX))
			return -EINTR;
	}
	e->count += v;
	return 8;
}

static int efd_poll(struct file *f)
{
	struct eventfd *e = f->priv;
	return (e->count ? LX_POLLIN : 0) | (e->count < COUNT_MAX ? LX_POLLOUT : 0);
}

int anon_stat(struct file *f, struct lx_stat *st, uint32_t mode)
{
	lo_memset(st, 0, sizeof *st);
	st->mode = mode;
	st->ino = (uint64_t)f->priv >> 4;
	st->nlink = 1;
	st->blksize = 4096;
	return 0;
}

static int efd_stat(struct file *f, struct lx_stat *st)
{
	return anon_stat(f, st, 0600);		/* an anonymous inode, as on Linux */
}

static void efd_release(struct file *f)
{
	lo_free(f->priv);
}

const struct file_ops eventfd_fops = {
	.read = efd_read,
	.write = efd_write,
	.poll = efd_poll,
	.stat = efd_stat,
	.release = efd_release,
};

static int64_t make_eventfd(uint64_t initval, uint64_t flags)
{
	if (flags & ~(uint64_t)(EFD_SEMAPHORE | LX_O_NONBLOCK | LX_O_CLOEXEC) || initval > 0xffffffffu)
		return -EINVAL;
	int r = fd_available();
	if (r)
		return r;
	struct eventfd *e = lo_alloc(sizeof *e);
	struct file *f = e ? file_new(FK_EVENTFD, LX_O_RDWR | (uint32_t)(flags & LX_O_NONBLOCK)) : 0;
	if (!f) {
		lo_free(e);
		return -ENOMEM;
	}
	e->count = initval;
	e->semaphore = (flags & EFD_SEMAPHORE) != 0;
	f->priv = e;
	r = fd_install(f, 0, (flags & LX_O_CLOEXEC) != 0);
	file_put(f);
	return r;
}

LO_CALL(sys_eventfd) { UNUSED_ARGS; return make_eventfd(a0, 0); }
LO_CALL(sys_eventfd2) { UNUSED_ARGS; return make_eventfd(a0, a1); }
