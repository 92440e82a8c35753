/*
 * poll, ppoll, select and pselect6 over the descriptor table: each file's
 * poll op says what is ready now; when nothing is, the call sleeps.  When
 * only files of shared kinds are watched (pipes, nodes, devices), it
 * sleeps on the file system's change word (libos/vfs.h, struct vfs_ns),
 * which every pipe moves and wakes, in any process; a signal ends that
 * wait with EINTR.  When a process-local file (socket, eventfd, epoll) is
 * watched, it sleeps in the network stack's wait (the NIC ring's
 * notification, lwIP's next timer), at most 10 ms at a time so a pipe's
 * change in another process is seen too.  The signal masks of ppoll and
 * pselect6 are taken and ignored.  When a terminal is among the files,
 * its input wakes the wait too (libos/tty.c), and the other files are
 * looked at again every 20 ms.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/shared.h"
#include "libos/vfs.h"
#include "libos/sockcalls.h"
#include "libos/tty.h"
#include "net/lwip/netstack.h"

#define POLLPRI 0x002
#define POLLNVAL 0x020
#define POLLRDNORM 0x040
#define POLLWRNORM 0x100
#define NS 1000000000ull
#define POLL_SLICE_NS 10000000ull

struct lx_pollfd {
	int32_t fd;
	int16_t events, revents;
};

int poll_file(struct file *f)
{
	int ev = fops(f)->poll ? fops(f)->poll(f) : LX_POLLIN | LX_POLLOUT;
	if (ev & LX_POLLIN)
		ev |= POLLRDNORM;
	if (ev & LX_POLLOUT)
		ev |= POLLWRNORM;
	return ev;
}

int poll_sleep(uint32_t seen, int local, uint64_t deadline)
{
	int64_t w = tty_wait_ready(deadline, 1);	/* 1: the terminal was not polled */
	if (w != 1)
		return w == -EINTR ? -EINTR : 0;
	if (!local) {
		int64_t r = sh_wait(&vfs_ns()->changes, seen, deadline == UINT64_MAX ? 0 : deadline);
		return r == -EINTR ? -EINTR : 0;
	}
	uint64_t slice = netstack_deadline(POLL_SLICE_NS);
	netstack_wait(slice < deadline ? slice : deadline);
	return 0;
}

/* A Linux timespec as a timeout in ns (UINT64_MAX: none): 0 or -errno. */
static int timeout_of(uint64_t uts, uint64_t *ns)
{
	struct lx_timespec ts;
	*ns = UINT64_MAX;
	if (!uts)
		return 0;
	if (lo_copy_in(&ts, (const void *)uts, sizeof ts))
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= (int64_t)NS)
		return -EINVAL;
	*ns = (uint64_t)ts.sec > UINT64_MAX / NS - 1 ? UINT64_MAX - 1 : (uint64_t)ts.sec * NS + (uint64_t)ts.nsec;
	return 0;
}

static int64_t do_poll(uint64_t ufds, uint64_t n, uint64_t timeout_ns)
{
	if (n > fd_limit())
		return -EINVAL;
	struct lx_pollfd *fds = lo_alloc(n ? n * sizeof *fds : 1);
	if (!fds)
		return -ENOMEM;
	int64_t count = 0;
	if (n && lo_copy_in(fds, (const void *)ufds, n * sizeof *fds)) {
		lo_free(fds);
		return -EFAULT;
	}
	uint64_t deadline = netstack_deadline(timeout_ns);
	int64_t r = 0;
	for (;;) {
		netstack_poll();
		uint32_t seen = vfs_ns()->changes;
		int local = 0;
		tty_poll_round();
		count = 0;
		for (uint64_t i = 0; i < n; i++) {
			struct file *f = fds[i].fd < 0 ? 0 : fd_get(fds[i].fd);
			int ev = fds[i].fd < 0 ? 0 : !f ? POLLNVAL :
				 poll_file(f) & ((uint16_t)fds[i].events | LX_POLLERR | LX_POLLHUP);
			fds[i].revents = (int16_t)ev;
			count += ev != 0;
			local |= f && file_kind_local(f->kind);
		}
		if (count || time_now_ns() >= deadline)
			break;
		if ((r = poll_sleep(seen, local, deadline)))
			break;
	}
	if (!r)
		r = n && lo_copy_out((void *)ufds, fds, n * sizeof *fds) ? -EFAULT : count;
	lo_free(fds);
	return r;
}

LO_CALL(sys_poll)
{
	UNUSED_ARGS;
	int64_t ms = (int32_t)a2;
	return do_poll(a0, a1, ms < 0 ? UINT64_MAX : (uint64_t)ms * 1000000ull);
}

LO_CALL(sys_ppoll)
{
	UNUSED_ARGS;
	uint64_t ns;
	int r = timeout_of(a2, &ns);
	return r ? r : do_poll(a0, a1, ns);
}

#define SET_WORDS(n) (((n) + 63) / 64)

/* select's three sets: each bit is checked, ready bits kept. */
static int64_t do_select(int n, uint64_t urd, uint64_t uwr, uint64_t uex, uint64_t timeout_ns)
{
	if (n < 0 || (uint64_t)n > fd_limit())
		return -EINVAL;
	uint64_t words = SET_WORDS((uint64_t)n), *in[3], *out[3];
	uint64_t usets[3] = { urd, uwr, uex };
	uint64_t *mem = lo_alloc((words ? words : 1) * 6 * sizeof(uint64_t));
	if (!mem)
		return -ENOMEM;
	int64_t r = 0;
	for (int k = 0; k < 3; k++) {
		in[k] = mem + words * (uint64_t)k;
		out[k] = mem + words * (uint64_t)(3 + k);
		if (usets[k] && words && lo_copy_in(in[k], (const void *)usets[k], words * 8))
			r = -EFAULT;
	}
	static const int want[3] = { LX_POLLIN | LX_POLLHUP | LX_POLLERR, LX_POLLOUT | LX_POLLERR, POLLPRI };
	uint64_t deadline = netstack_deadline(timeout_ns);
	while (!r) {
		netstack_poll();
		uint32_t seen = vfs_ns()->changes;
		int local = 0;
		tty_poll_round();
		for (int fd = 0; fd < n && r >= 0; fd++) {
			uint64_t bit = 1ull << (fd % 64);
			int asked = 0;
			for (int k = 0; k < 3; k++)
				asked |= usets[k] && (in[k][fd / 64] & bit);
			if (!asked)
				continue;
			struct file *f = fd_get(fd);
			if (!f) {
				r = -EBADF;
				break;
			}
			int ev = poll_file(f);
			local |= file_kind_local(f->kind);
			for (int k = 0; k < 3; k++)
				if (usets[k] && (in[k][fd / 64] & bit) && (ev & want[k])) {
					out[k][fd / 64] |= bit;
					r++;
				}
		}
		if (r || time_now_ns() >= deadline)
			break;
		r = poll_sleep(seen, local, deadline);
	}
	for (int k = 0; k < 3 && r >= 0; k++)
		if (usets[k] && words && lo_copy_out((void *)usets[k], out[k], words * 8))
			r = -EFAULT;
	lo_free(mem);
	return r;
}

LO_CALL(sys_select)
{
	UNUSED_ARGS;
	uint64_t ns = UINT64_MAX;
	struct { int64_t sec, usec; } tv;
	if (a4) {
		if (lo_copy_in(&tv, (const void *)a4, sizeof tv))
			return -EFAULT;
		if (tv.sec < 0 || tv.usec < 0 || tv.usec >= 1000000)
			return -EINVAL;
		ns = (uint64_t)tv.sec * NS + (uint64_t)tv.usec * 1000u;
	}
	uint64_t start = time_now_ns();
	int64_t r = do_select((int)a0, a1, a2, a3, ns);
	if (a4 && r >= 0) {		/* Linux leaves the time not slept */
		uint64_t spent = time_now_ns() - start, left = spent < ns ? ns - spent : 0;
		tv.sec = (int64_t)(left / NS);
		tv.usec = (int64_t)(left % NS / 1000u);
		lo_copy_out((void *)a4, &tv, sizeof tv);
	}
	return r;
}

LO_CALL(sys_pselect6)
{
	UNUSED_ARGS;
	uint64_t ns;
	int r = timeout_of(a4, &ns);
	return r ? r : do_select((int)a0, a1, a2, a3, ns);
}
