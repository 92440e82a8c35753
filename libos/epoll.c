/*
 * epoll as a kind of file: an interest list of (descriptor, file, events,
 * data).  epoll_wait asks each file's poll op, as poll does, and sleeps
 * as poll does (poll_sleep: pipes, the network, the terminal) when
 * nothing is ready.  EPOLLONESHOT disarms an
 * entry once reported; EPOLLET reports an event only when it was not
 * ready at the previous look.  An entry is keyed by (descriptor, file) and
 * lasts as long as the file (the open file description) is open in this
 * process, as on Linux (epoll(7)): a dup keeps it after the registered
 * number closes, and once the last descriptor closes it is dropped when
 * next looked at, never reported for a new file given the old number.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/shared.h"
#include "libos/tty.h"
#include "libos/vfs.h"
#include "libos/sockcalls.h"
#include "net/lwip/netstack.h"

#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EPOLLEXCLUSIVE (1u << 28)
#define EPOLLWAKEUP (1u << 29)
#define EPOLLONESHOT (1u << 30)
#define EPOLLET (1u << 31)
#define EPOLL_MAXEVENTS (0x7fffffff / 12)

struct lx_epoll_event {
	uint32_t events;
	uint64_t data;
} __attribute__((packed));
_Static_assert(sizeof(struct lx_epoll_event) == 12, "x86_64 struct epoll_event");

struct epitem {
	int fd;
	struct file *f;		/* followed only while a descriptor of ours names it */
	uint64_t serial;	/* f's: a new description in f's memory has another */
	uint32_t events;
	uint64_t data;
	int last, armed;
};

struct epoll {
	struct epitem *items;
	uint32_t n, cap;
};


/* The entry's file while this process still has a descriptor of it (the
 * registered number, else a dup of it), or NULL once its last one closed. */
static struct file *item_file(const struct epitem *it)
{
	struct file *f = fd_get(it->fd);
	if (f != it->f && !fd_table_holds(proc_files(), it->f))
		return 0;
	return it->f->serial == it->serial ? it->f : 0;
}

/* Ready events of one entry, or 0 (dropping it when its file went:
 * UINT32_MAX, and item i is another one now). */
static uint32_t item_ready(struct epoll *ep, uint32_t i)
{
	struct epitem *it = &ep->items[i];
	if (!item_file(it)) {
		ep->items[i] = ep->items[--ep->n];
		return UINT32_MAX;
	}
	if (!it->armed)
		return 0;
	struct file *f = it->f;
	uint32_t events = it->events;
	int ev = poll_file(f);			/* another process's socket: the lock is let go */
	if (i >= ep->n || ep->items[i].f != f)
		return 0;			/* another thread's epoll_ctl moved the entries */
	it = &ep->items[i];
	uint32_t r = (uint32_t)ev & (events | LX_POLLERR | LX_POLLHUP);
	if (it->events & EPOLLET) {
		uint32_t fresh = r & ~(uint32_t)it->last;
		it->last = (int)r;
		r = fresh;
	}
	return r;
}

static int ep_poll(struct file *f)
{
	struct epoll *ep = f->priv;
	for (uint32_t i = 0; i < ep->n; i++) {
		struct epitem it = ep->items[i];
		if (it.armed && item_file(&it) && (poll_file(it.f) & (int)(it.events | LX_POLLERR | LX_POLLHUP)))
			return LX_POLLIN;
	}
	return 0;
}

static int ep_stat(struct file *f, struct lx_stat *st)
{
	return anon_stat(f, st, 0600);
}

static void ep_release(struct file *f)
{
	struct epoll *ep = f->priv;
	lo_free(ep->items);
	lo_free(ep);
}

const struct file_ops epoll_fops = {
	.poll = ep_poll,
	.stat = ep_stat,
	.release = ep_release,
};

static int64_t make_epoll(uint64_t flags)
{
	if (flags & ~(uint64_t)LX_O_CLOEXEC)
		return -EINVAL;
	int r = fd_available();
	if (r)
		return r;
	struct epoll *ep = lo_alloc(sizeof *ep);
	struct file *f = ep ? file_new(FK_EPOLL, LX_O_RDWR) : 0;
	if (!f) {
		lo_free(ep);
		return -ENOMEM;
	}
	f->priv = ep;
	r = fd_install(f, 0, (flags & LX_O_CLOEXEC) != 0);
	file_put(f);
	return r;
}

LO_CALL(sys_epoll_create) { UNUSED_ARGS; return (int64_t)a0 <= 0 ? -EINVAL : make_epoll(0); }
LO_CALL(sys_epoll_create1) { UNUSED_ARGS; return make_epoll(a0); }

static struct epoll *epoll_of(uint64_t fd)
{
	struct file *f = fd_get((int)fd);
	return f && f->kind == FK_EPOLL ? f->priv : 0;
}

LO_CALL(sys_epoll_ctl)
{
	UNUSED_ARGS;
	struct lx_epoll_event ev = { 0, 0 };
	if (a1 != EPOLL_CTL_DEL && lo_copy_in(&ev, (const void *)a3, sizeof ev))
		return -EFAULT;			/* first, as Linux does */
	struct file *ef = fd_get((int)a0), *f = fd_get((int)a2);
	if (!ef || !f)
		return -EBADF;
	struct epoll *ep = epoll_of(a0);
	if (ef->kind == FK_STALE)
		return -ENXIO;			/* another process's epoll */
	if (!ep || a0 == a2 || f->kind == FK_EPOLL)	/* no nesting yet */
		return -EINVAL;
	if (f->vn && (LX_S_ISREG(f->vn->mode) || LX_S_ISDIR(f->vn->mode)))
		return -EPERM;
	uint32_t i = 0;
	while (i < ep->n && (ep->items[i].fd != (int)a2 || ep->items[i].f != f ||
			     ep->items[i].serial != f->serial))
		i++;
	int found = i < ep->n;
	switch (a1) {
	case EPOLL_CTL_ADD:
		if (found)
			return -EEXIST;
		if (ep->n == ep->cap) {
			uint32_t cap = ep->cap ? ep->cap * 2 : 8;
			struct epitem *items = lo_realloc(ep->items, cap * sizeof *items);
			if (!items)
				return -ENOMEM;
			ep->items = items;
			ep->cap = cap;
		}
		ep->items[ep->n++] = (struct epitem){ (int)a2, f, f->serial, ev.events, ev.data, 0, 1 };
		return 0;
	case EPOLL_CTL_MOD:
		if (!found)
			return -ENOENT;
		if (ev.events & EPOLLEXCLUSIVE)
			return -EINVAL;
		ep->items[i] = (struct epitem){ (int)a2, f, f->serial, ev.events, ev.data, 0, 1 };
		return 0;
	case EPOLL_CTL_DEL:
		if (!found)
			return -ENOENT;
		ep->items[i] = ep->items[--ep->n];
		return 0;
	default:
		return -EINVAL;
	}
}

/* epoll_wait on ep until an event or timeout_ms. */
static int64_t wait_events(struct epoll *ep, uint64_t uevents, int64_t max, int64_t timeout_ms)
{
	uint64_t deadline = netstack_deadline(timeout_ms < 0 ? UINT64_MAX : (uint64_t)timeout_ms * 1000000ull);
	for (;;) {
		netstack_poll();
		uint32_t seen = vfs_ns()->changes;
		int local = 0;
		for (uint32_t i = 0; i < ep->n; i++) {
			struct file *f = item_file(&ep->items[i]);
			local |= f && file_kind_local(f->kind);
		}
		tty_poll_round();
		int64_t got = 0;
		for (uint32_t i = 0; i < ep->n && got < max;) {
			uint32_t r = item_ready(ep, i);
			if (r == UINT32_MAX)
				continue;		/* dropped: item i is another one now */
			if (r) {
				struct lx_epoll_event out = { r, ep->items[i].data };
				if (lo_copy_out((struct lx_epoll_event *)uevents + got, &out, sizeof out))
					return got ? got : -EFAULT;
				if (ep->items[i].events & EPOLLONESHOT)
					ep->items[i].armed = 0;
				got++;
			}
			i++;
		}
		if (got || time_now_ns() >= deadline)
			return got;
		int64_t r = poll_sleep(seen, local, deadline);
		if (r)
			return r;
	}
}

/* The instance is held for the whole wait, as Linux holds the file: a
 * close by another thread meanwhile no longer frees it under the waiter
 * (the threaded fuzzer's batches died reading the freed entries). */
static int64_t do_epoll_wait(uint64_t epfd, uint64_t uevents, int64_t max, int64_t timeout_ms)
{
	struct file *ef = fd_get((int)epfd);
	if (!ef)
		return -EBADF;
	struct epoll *ep = epoll_of(epfd);
	if (ef->kind == FK_STALE)
		return -ENXIO;
	if (!ep || max <= 0 || max > EPOLL_MAXEVENTS)
		return -EINVAL;
	file_hold(ef);
	int64_t r = wait_events(ep, uevents, max, timeout_ms);
	file_let_go(ef);
	return r;
}

LO_CALL(sys_epoll_wait) { UNUSED_ARGS; return do_epoll_wait(a0, a1, (int32_t)a2, (int32_t)a3); }
LO_CALL(sys_epoll_pwait) { UNUSED_ARGS; return do_epoll_wait(a0, a1, (int32_t)a2, (int32_t)a3); }
