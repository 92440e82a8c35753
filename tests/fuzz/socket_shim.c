/*
 * The library OS around net/lwip/socket.c on the host, for the socket
 * fuzzer: a descriptor table, the program's memory as one arena (any
 * pointer outside it is -EFAULT, as a bad pointer in the guest), and the
 * network stack's start, poll and wait over the netif harness, whose clock
 * a wait moves forward.  A wait that never ends is a bug: it aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>	/* before lwIP's headers rename the routines */

#include "tests/fuzz/socket_shim.h"
#include "tests/fuzz/netif_harness.h"

#include "libos/sockcalls.h"
#include "libos/vfs.h"
#include "net/lwip/netstack.h"
#include "net/lwip/sockshare.h"

#include "lwip/netif.h"
#include "lwip/timeouts.h"

#undef memcpy
#undef memset

uint8_t shim_user[SHIM_USER_SIZE];
static struct file *fds[SHIM_FDS];
static unsigned waits;

static int in_user(const void *p, size_t n)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)shim_user;
	return a >= b && a - b <= SHIM_USER_SIZE && n <= SHIM_USER_SIZE - (a - b);
}

int64_t lo_copy_in(void *dst, const void *user_src, size_t n)
{
	if (!in_user(user_src, n))
		return -EFAULT;
	memcpy(dst, user_src, n);
	return 0;
}

int64_t lo_copy_out(void *user_dst, const void *src, size_t n)
{
	if (!in_user(user_dst, n))
		return -EFAULT;
	memcpy(user_dst, src, n);
	return 0;
}

const struct file_ops *const file_kinds[FK_COUNT] = { [FK_SOCKET] = &sock_fops };

struct file *file_new(uint32_t kind, uint32_t flags)
{
	struct file *f = malloc(sizeof *f);
	if (f)
		*f = (struct file){ .kind = kind, .flags = flags, .refs = 1 };
	return f;
}

void file_release(struct file *f)
{
	f->refs = 0;
	if (fops(f)->release)
		fops(f)->release(f);
	free(f);
}

/* The harness has one process and no execve: nothing outlives a call. */
void file_hold(struct file *f)
{
	file_ref(f);
}

void file_let_go(struct file *f)
{
	file_put(f);
}

struct file *fd_get(int fd)
{
	return fd >= 0 && fd < SHIM_FDS ? fds[fd] : 0;
}

int fd_available(void)
{
	for (int i = 0; i < SHIM_FDS; i++)
		if (!fds[i])
			return 0;
	return -EMFILE;
}

int fd_install(struct file *f, int min, int cloexec)
{
	(void)cloexec;
	for (int i = min < 0 ? 0 : min; i < SHIM_FDS; i++)
		if (!fds[i]) {
			fds[i] = f;
			f->refs++;
			return i;
		}
	return -EMFILE;
}

int shim_close(int fd)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	fds[fd] = 0;
	file_put(f);
	return 0;
}

int anon_stat(struct file *f, struct lx_stat *st, uint32_t mode)
{
	memset(st, 0, sizeof *st);
	st->mode = mode;
	st->ino = (uint64_t)(uintptr_t)f->priv >> 4;
	st->nlink = 1;
	return 0;
}

/* One process: every socket is the caller's own, so the calls that serve
 * another process's socket (net/lwip/sockshare.c) are never reached. */
struct ref_here {
	struct sockref r;		/* first: the record is the whole's address */
	void *sock;
};

struct sockref *sockref_new(void *sock)
{
	struct ref_here *h = calloc(1, sizeof *h);
	if (!h)
		return 0;
	h->sock = sock;
	return &h->r;
}

void sockref_free(struct sockref *r)
{
	free(r);
}

void *sockref_sock(const struct sockref *r)
{
	return ((const struct ref_here *)r)->sock;
}

int sockref_remote(const struct sockref *r)
{
	(void)r;
	return 0;
}

static _Noreturn void not_shared(void)
{
	fprintf(stderr, "socket_shim: a socket of another process in a one-process harness\n");
	abort();
}

int64_t sockshare_call(uint32_t op, struct file *f, uint64_t a1, uint64_t a2, uint64_t a3,
		       uint64_t a4, uint64_t a5)
{
	(void)op, (void)f, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
	not_shared();
}

int64_t sockshare_read(struct file *f, void *ubuf, uint64_t len) { (void)f, (void)ubuf, (void)len; not_shared(); }
int64_t sockshare_write(struct file *f, const void *ubuf, uint64_t len) { (void)f, (void)ubuf, (void)len; not_shared(); }
int sockshare_poll(struct file *f) { (void)f; not_shared(); }
int64_t sockshare_ioctl(struct file *f, uint64_t cmd, uint64_t arg) { (void)f, (void)cmd, (void)arg; not_shared(); }
void sockshare_release(struct sockref *r) { (void)r; not_shared(); }
void sockshare_note(struct sockref *r) { (void)r; not_shared(); }
/* One process: no machine's service to make sockets in (net/lwip/sockkeep.c). */
int sockkeep_remote(void) { return 0; }
int64_t sockkeep_socket(uint64_t domain, uint64_t type, uint64_t protocol)
{
	(void)domain, (void)type, (void)protocol;
	not_shared();
}

uint64_t time_now_ns(void)
{
	return (uint64_t)harness_now() * 1000000u;
}

int netstack_start(void)
{
	harness_init();
	return 0;
}

void netstack_poll(void)
{
	harness_advance(0);
	netif_poll_all();
}

/* The harness's device takes frames at once: a send polls as a wait does. */
void netstack_sent(void)
{
	netstack_poll();
}

/* The harness has no signals: the interruptible wait is the plain one. */
int netstack_wait_intr(uint64_t deadline_ns)
{
	netstack_wait(deadline_ns);
	return 0;
}

/* Moves the clock to the deadline, or 100 ms on; every call's waits are
 * counted from shim_call_begin. */
void netstack_wait(uint64_t deadline_ns)
{
	if (++waits > SHIM_MAX_WAITS) {
		fprintf(stderr, "socket call still waiting after %u waits (%u s): a wait without an end\n",
			waits - 1, (waits - 1) / 10);
		abort();
	}
	uint64_t now = time_now_ns(), step = 100000000u;
	if (deadline_ns > now && deadline_ns - now < step)
		step = deadline_ns - now;
	harness_advance((uint32_t)((step + 999999u) / 1000000u));
	netif_poll_all();
}

uint64_t netstack_deadline(uint64_t timeout_ns)
{
	uint64_t now = time_now_ns();
	return timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}

void shim_call_begin(void)
{
	waits = 0;
}
