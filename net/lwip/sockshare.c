/*
 * Sockets shared between processes (net/lwip/sockshare.h).  The owner of
 * a socket (the process whose lwIP made it) serves the calls of every
 * other holder on a channel of its own, one thread, started by the first
 * fork that hands a socket on.  The server performs each call as the
 * owner would, on a descriptor it holds for the length of the call, with
 * O_NONBLOCK forced: it never waits, so one slow holder does not stop the
 * others, and a holder that dies mid-call does not wedge it.  The holder
 * copies its buffers into the message and out of the reply (the message's
 * data is in the shared segment, at the same address in both processes,
 * so the server's handlers read and write it as a program's memory), and
 * where its call would block it waits on the socket's change word, which
 * the server moves when the socket's readiness changes, and tries again.
 */
#include "net/lwip/sockshare.h"
#include "net/lwip/sockkeep.h"
#include "net/lwip/lxnet.h"
#include "net/lwip/netstack.h"

#include "libos/chan.h"
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/shared.h"
#include "libos/sockcalls.h"
#include "libos/vfs.h"

#define CHUNK 65536u			/* bytes per message, at least a datagram */
#define ADDR_MAX 128u			/* a socket address, as Linux's sockaddr_storage */
#define OPT_MAX 256u			/* an option's value */
#define SLICE_NS 20000000ull		/* a waiting holder tries again this often */
#define TICK_NS 10000000ull		/* the server looks at its sockets this often */
#define BUSY_NS 1000000000ull		/* ... while a holder called within this */
#define FIONREAD 0x541bu		/* the one ioctl served: bytes to read */

static struct chan *service;		/* this process's, once shared */
static uint64_t last_call_ns;

/* The owner's table of its sockets, in its own memory: what a record or a
 * message names by index is checked here, so nothing in the shared segment
 * leads the owner to memory of its own it did not choose. */
struct slot {
	void *sock;			/* the socket (socket.c's struct sock) */
	struct sockref *ref;		/* the record made for it */
	struct file *file;		/* its description, once shared */
	uint32_t gen;			/* moved each time the entry is freed */
	uint8_t used, listed;		/* listed: shared, served, looked at */
	int32_t last_ev;		/* readiness when last looked at */
};
static struct slot *slots;
static uint32_t nslots;
static int32_t slots_pid;		/* whose: a forked child's copy is its parent's */
static uint32_t slots_gen;

/* The table, emptied when it is a copy fork left of the parent's. */
static struct slot *table(void)
{
	if (slots_pid != (int32_t)libos_pid() || slots_gen != proc_self()->gen) {
		lo_free(slots);
		slots = 0;
		nslots = 0;
		slots_pid = (int32_t)libos_pid();
		slots_gen = proc_self()->gen;
	}
	return slots;
}

/* A free entry of the table (grown when full): its index, or -ENOMEM. */
static int64_t slot_new(void)
{
	table();
	for (uint32_t i = 0; i < nslots; i++)
		if (!slots[i].used)
			return i;
	uint32_t first = nslots, n = nslots ? 2 * nslots : 16;
	struct slot *t = lo_realloc(slots, n * sizeof *t);
	if (!t)
		return -ENOMEM;
	lo_memset(t + first, 0, (n - first) * sizeof *t);
	slots = t;
	nslots = n;
	return first;
}

/* The entry a message names (index, generation << 32), or NULL. */
static struct slot *slot_at(uint64_t handle)
{
	uint32_t i = (uint32_t)handle, gen = (uint32_t)(handle >> 32);
	struct slot *t = table();
	return i < nslots && t[i].used && t[i].gen == gen ? &t[i] : 0;
}

/* What a message names r's socket by. */
static uint64_t handle_of(const struct sockref *r)
{
	return r->slot | (uint64_t)r->slot_gen << 32;
}

/* r's entry, if r is a record the owner made and lies in the segment. */
static struct slot *slot_of(const struct sockref *r)
{
	if (!chan_in_segment(r, sizeof *r))
		return 0;
	struct slot *s = slot_at(handle_of(r));
	return s && s->ref == r ? s : 0;
}

struct sockref *sockref_new(void *sock)
{
	int64_t i = slot_new();
	struct sockref *r = i < 0 ? 0 : sh_alloc(sizeof *r);
	if (r) {
		r->owner_pid = (int32_t)libos_pid();
		r->owner_gen = proc_self()->gen;
		r->slot = (uint32_t)i;
		r->slot_gen = slots[i].gen;
		slots[i] = (struct slot){ .sock = sock, .ref = r, .gen = slots[i].gen, .used = 1 };
	}
	return r;
}

void sockref_free(struct sockref *r)
{
	struct slot *s = sockref_remote(r) ? 0 : slot_of(r);
	if (s)
		*s = (struct slot){ .gen = s->gen + 1 };
	sh_free(r);
}

void *sockref_sock(const struct sockref *r)
{
	struct slot *s = slot_of(r);
	return s ? s->sock : 0;
}

int sockref_remote(const struct sockref *r)
{
	if (!chan_in_segment(r, sizeof *r))
		return 0;
	return r->owner_pid != (int32_t)libos_pid() || r->owner_gen != proc_self()->gen;
}

/* ------------------------------------------------------------- server */

void sockshare_note(struct sockref *r)
{
	r->changes++;
	sh_wake(&r->changes);
}

/* Every shared socket's readiness, told to its waiters where it changed. */
static void look_all(void)
{
	struct slot *t = table();
	for (uint32_t i = 0; i < nslots; i++) {
		if (!t[i].listed)
			continue;
		int ev = sock_events(t[i].ref);
		if (ev != t[i].last_ev) {
			t[i].last_ev = ev;
			sockshare_note(t[i].ref);
		}
	}
}

/* Between messages: while holders are busy, frames and lwIP's timers are
 * taken even when the owner itself makes no network call, and waiters
 * hear of what they brought.  0 once they are not (no call for a second;
 * a waiting holder calls again every SLICE_NS): the server then sleeps
 * until the next message. */
static int tick(void)
{
	if (time_now_ns() - last_call_ns > BUSY_NS)
		return 0;
	netstack_poll();
	look_all();
	return 1;
}

/* SK_ACCEPT's new connection (SK_SOCKET's new socket): the descriptor the
 * handler installed becomes a description handed to the holder (arg[1]). */
int64_t sockshare_hand_fd(struct chan_msg *m, int64_t fd)
{
	if (fd < 0)
		return fd;
	struct file *nf = fd_get((int)fd);
	file_ref(nf);
	fd_close((int)fd);
	int r = sockshare_share(nf);
	if (r) {
		file_put(nf);
		return r;
	}
	m->arg[1] = (uint64_t)nf;
	return 0;
}

/* The start of SK_RECV's data: the name and what the owner's recvmsg
 * said of it; the bytes follow. */
struct recv_layout {
	struct lx_msghdr h;		/* the server's answer: namelen, flags */
	uint8_t name[ADDR_MAX];
};

/* SK_RECV: into the message's data after the layout, a[2] bytes (which
 * must fit), through a header the server builds itself, in its own memory
 * (the one in the data is never followed); the name's length and the
 * flags go back in the data's header. */
static int64_t serve_recv(struct chan_msg *m, int fd)
{
	struct recv_layout *l = (struct recv_layout *)m->data;
	uint64_t len = m->arg[2];
	if (!chan_msg_room(m, sizeof *l) || len > m->len - sizeof *l)
		return -EINVAL;
	struct lx_iovec iov = { (uint64_t)(l + 1), len };
	struct lx_msghdr h = { .name = m->arg[3] ? (uint64_t)l->name : 0, .namelen = ADDR_MAX,
			       .iov = (uint64_t)&iov, .iovlen = 1 };
	int64_t r = sys_recvmsg((uint64_t)fd, (uint64_t)&h, m->arg[1] | LX_MSG_DONTWAIT, 0, 0, 0);
	l->h.namelen = h.namelen;
	l->h.flags = h.flags;
	return r;
}

/* A call giving a value back through a length word (accept, the names,
 * getsockopt): the word at data is the server's own copy, which must fit
 * the data after byte 8, where the value goes. */
static int64_t serve_value(struct chan_msg *m, int fd, struct slot *s)
{
	uint8_t *d = m->data;
	uint64_t *a = m->arg;
	uint32_t len = 0;
	if (m->op != SK_ACCEPT || a[2]) {
		if (!chan_msg_room(m, 8))
			return -EINVAL;
		lo_memcpy(&len, d, sizeof len);
		if (len > m->len - 8)
			return -EINVAL;
	}
	uint64_t v = (uint64_t)(d + 8), l = (uint64_t)&len;
	int64_t r;
	switch (m->op) {
	case SK_ACCEPT:
		a[7] = sock_timeout(s->sock, 0);
		r = sockshare_hand_fd(m, sys_accept4((uint64_t)fd, a[2] ? v : 0, a[2] ? l : 0, a[1], 0, 0));
		break;
	case SK_NAME:
		r = a[1] ? sys_getpeername((uint64_t)fd, v, l, 0, 0, 0) : sys_getsockname((uint64_t)fd, v, l, 0, 0, 0);
		break;
	default: r = sys_getsockopt((uint64_t)fd, a[1], a[2], v, l, 0);
	}
	if (m->op != SK_ACCEPT || a[2])
		lo_memcpy(d, &len, sizeof len);
	return r;
}

/* One call on descriptor fd (the socket's description, installed here).
 * Every length is bounded by the message's data. */
static int64_t serve_op(struct chan_msg *m, int fd, struct slot *s)
{
	uint8_t *d = m->data;
	uint64_t *a = m->arg;
	switch (m->op) {
	case SK_BIND:
	case SK_CONNECT:
		if (!chan_msg_room(m, a[1]))
			return -EINVAL;
		return (m->op == SK_BIND ? sys_bind : sys_connect)((uint64_t)fd, (uint64_t)d, a[1], 0, 0, 0);
	case SK_LISTEN: return sys_listen((uint64_t)fd, a[1], 0, 0, 0, 0);
	case SK_SHUTDOWN: return sys_shutdown((uint64_t)fd, a[1], 0, 0, 0, 0);
	case SK_ACCEPT:
	case SK_NAME:
	case SK_GETOPT: return serve_value(m, fd, s);
	case SK_SEND:
		if (a[1] > CHUNK || !chan_msg_room(m, ADDR_MAX + a[1]) || a[3] > ADDR_MAX)
			return -EINVAL;
		a[7] = sock_timeout(s->sock, 1);
		return sys_sendto((uint64_t)fd, (uint64_t)(d + ADDR_MAX), a[1], a[2] | LX_MSG_DONTWAIT,
				  a[3] ? (uint64_t)d : 0, a[3]);
	case SK_RECV:
		a[7] = sock_timeout(s->sock, 0);
		return serve_recv(m, fd);
	case SK_SETOPT:
		if (!chan_msg_room(m, a[3]))
			return -EINVAL;
		return sys_setsockopt((uint64_t)fd, a[1], a[2], (uint64_t)d, a[3], 0);
	case SK_POLL: netstack_poll(); return sock_events(s->ref);
	case SK_IOCTL:
		if (a[1] != FIONREAD)
			return -ENOTTY;		/* the only one a holder sends */
		if (!chan_msg_room(m, sizeof(int32_t)))
			return -EINVAL;
		return fops(s->file)->ioctl(s->file, a[1], (uint64_t)d);
	default: return -EINVAL;
	}
}

/* The server: a call of a holder still running, on the socket the message
 * names (arg[0]: an entry of the table and its generation).  Nothing in
 * the message is trusted: the entry must be in use and shared, its
 * description still the socket's, and one the sender has a descriptor of
 * (EBADF); a close must come from its last holder (the description's
 * references gone: EBUSY); lengths must lie in the data (EINVAL). */
/* SK_CLOSE: the last descriptor of a shared socket went in the sender.
 * A sender still running waits for the reply, its description still the
 * socket's; one ending by a fatal signal of its own posted it and may have
 * freed its description since (the owner only reads that segment memory):
 * served once the description the owner recorded is no longer open. */
static int64_t serve_close(struct chan_msg *m, int running)
{
	struct slot *s = slot_at(m->arg[0]);
	if (!s || !s->listed)
		return -EBADF;
	const struct file *f = s->file;
	int same = f->kind == FK_SOCKET && f->priv == s->ref;
	if (!same && running)
		return -EBADF;
	if (!chan_msg_room(m, 0))
		return -EINVAL;
	if (same && f->refs)
		return -EBUSY;
	sock_drop(s->ref);
	return 0;
}

static int64_t serve(struct chan_msg *m)
{
	struct sh_proc *p = proc_by_pid(m->client_pid);
	int running = p && p->state == PROC_RUNNING && p->gen == m->client_gen;
	if (m->op == SK_CLOSE)
		return serve_close(m, running);
	if (!running)
		return -EIO;			/* its description may be gone */
	last_call_ns = time_now_ns();
	if (m->op == SK_SOCKET)
		return sockkeep_serve_socket(m);	/* names no socket yet */
	struct slot *s = slot_at(m->arg[0]);
	if (!s || !s->listed || s->file->kind != FK_SOCKET || s->file->priv != s->ref)
		return -EBADF;
	if (!chan_msg_room(m, 0))
		return -EINVAL;
	struct file *f = s->file;
	if (!fd_table_holds(&p->files, f))
		return -EBADF;			/* a socket the sender has no descriptor of */
	int fd = fd_install(f, 0, 0);
	if (fd < 0)
		return fd;
	uint32_t nonblock = f->flags & LX_O_NONBLOCK;
	f->flags |= LX_O_NONBLOCK;
	int64_t res = serve_op(m, fd, s);
	f->flags = (f->flags & ~(uint32_t)LX_O_NONBLOCK) | nonblock;
	fd_close(fd);
	look_all();
	netstack_kick();		/* the owner's own waits may be over too */
	return res;
}

struct chan *sockshare_serve(int *err)
{
	if (chan_is_server(service))
		return service;
	struct chan *ch = chan_new();
	if (!ch) {
		*err = -ENOMEM;
		return 0;
	}
	int e = chan_serve_thread_tick(ch, serve, tick, TICK_NS);
	if (e) {
		chan_close(ch);
		*err = e;
		return 0;
	}
	service = ch;
	return ch;
}

int sockshare_share(struct file *f)
{
	struct sockref *r = f->priv;
	if (sockref_remote(r))
		return r->owner_pid ? 0 : -ENXIO;
	struct slot *s = slot_of(r);
	if (!s)
		return -EBADF;
	int e = 0;
	if (!sockshare_serve(&e))
		return e;
	r->ch = service;
	if (!s->listed) {
		s->listed = 1;
		s->file = f;
		s->last_ev = sock_events(r);
		r->listed = 1;
	}
	return 0;
}

int sockshare_keeps_on_exec(struct file *f)
{
	return sockref_remote(f->priv);
}

void sockshare_at_exec(void)
{
	if (!chan_is_server(service))
		return;
	struct slot *t = table();
	for (uint32_t i = 0; i < nslots; i++)
		if (t[i].listed) {
			t[i].ref->owner_pid = 0;
			sockshare_note(t[i].ref);
		}
	chan_close(service);
	service = 0;
}

/* ------------------------------------------------------------- holder */

/* The channel f's owner serves it on. */
static struct chan *chan_of(const struct file *f)
{
	return ((const struct sockref *)f->priv)->ch;
}

/* Sends m about f and waits for the reply; f is held meanwhile, so a
 * close by another thread cannot free it under the server. */
static int64_t call(struct file *f, struct chan_msg *m)
{
	struct sockref *r = f->priv;
	if (!r->owner_pid)
		return -ENXIO;
	m->arg[0] = handle_of(r);
	file_hold(f);
	int64_t res = chan_call(r->ch, m);
	if (res == -EIO && !r->owner_pid)
		res = -ENXIO;		/* the owner execve'd while we called (sockshare_at_exec) */
	file_let_go(f);
	return res;
}

/* call, tried again while it would block: the owner never waits, the
 * holder does, on the socket's change word (and every SLICE_NS, since a
 * change the server did not see, such as a send buffer draining, moves
 * nothing), until the socket's timeout (arg[7] of the reply) passes.
 * nonblock: no waiting.  -EINTR when a signal comes. */
static int64_t call_blocking(struct file *f, struct chan_msg *m, int nonblock)
{
	struct sockref *r = f->priv;
	uint64_t start = time_now_ns();
	for (;;) {
		uint32_t seen = r->changes;
		int64_t res = call(f, m);
		if (res != -EAGAIN || nonblock)
			return res;
		uint64_t now = time_now_ns(), timeout = m->arg[7];
		if (timeout && now - start >= timeout)
			return -EAGAIN;
		uint64_t until = now + SLICE_NS;
		if (timeout && until > start + timeout)
			until = start + timeout;
		if (sh_wait(&r->changes, seen, until) == -EINTR)
			return -EINTR;
	}
}

static int nonblocking(const struct file *f, uint64_t flags)
{
	return (f->flags & LX_O_NONBLOCK) || (flags & LX_MSG_DONTWAIT);
}

/* A message with the program's len bytes at uaddr copied to data + off. */
static struct chan_msg *msg_with(struct chan *ch, uint32_t op, uint64_t size, uint64_t off, uint64_t uaddr, uint64_t len)
{
	struct chan_msg *m = chan_msg_new(ch, op, size);
	if (m && len && lo_copy_in(m->data + off, (const void *)uaddr, len)) {
		chan_msg_free(ch, m);
		return 0;
	}
	return m;
}

/* A call taking an address or a value in (bind, connect, setsockopt). */
static int64_t call_in(uint32_t op, struct file *f, uint64_t uaddr, uint64_t len, uint64_t a1,
		       uint64_t a2)
{
	if (len > OPT_MAX)
		return -EINVAL;
	struct chan_msg *m = msg_with(chan_of(f), op, OPT_MAX, 0, uaddr, len);
	if (!m)
		return -EFAULT;
	m->arg[1] = op == SK_SETOPT ? a1 : len;
	m->arg[2] = a2;
	m->arg[3] = len;
	int64_t r = call(f, m);
	chan_msg_free(chan_of(f), m);
	return r;
}

/* A call giving an address or value back through a length word (accept,
 * getsockname, getpeername, getsockopt): the reply's data holds the
 * 32-bit length at 0 and the bytes at 8; ulen is the program's word. */
static int64_t copy_back(struct chan_msg *m, uint64_t uval, uint64_t ulen, uint32_t asked)
{
	uint32_t got;
	lo_memcpy(&got, m->data, sizeof got);
	uint32_t n = got < asked ? got : asked;
	if (lo_copy_out((void *)uval, m->data + 8, n) || lo_copy_out((void *)ulen, &got, sizeof got))
		return -EFAULT;
	return 0;
}

/* The length word a call giving a value back starts from. */
static int64_t asked_len(struct chan *ch, uint64_t ulen, uint32_t max, struct chan_msg **out, uint32_t op)
{
	int32_t asked;
	if (lo_copy_in(&asked, (const void *)ulen, sizeof asked))
		return -EFAULT;
	if (asked < 0)
		return -EINVAL;
	struct chan_msg *m = chan_msg_new(ch, op, 8 + max);
	if (!m)
		return -ENOMEM;
	uint32_t len = (uint32_t)asked < max ? (uint32_t)asked : max;
	lo_memcpy(m->data, &len, sizeof len);
	*out = m;
	return (int64_t)(uint32_t)asked;
}

static int64_t remote_accept(struct file *f, uint64_t uaddr, uint64_t ulen, uint64_t flags)
{
	if (flags & ~(uint64_t)(LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC))
		return -EINVAL;
	int64_t r = fd_available();
	if (r)
		return r;
	struct chan_msg *m = 0;
	int64_t asked = 0;
	if (uaddr && (asked = asked_len(chan_of(f), ulen, ADDR_MAX, &m, SK_ACCEPT)) < 0)
		return asked;
	if (!m && !(m = chan_msg_new(chan_of(f), SK_ACCEPT, 8 + ADDR_MAX)))
		return -ENOMEM;
	m->arg[1] = flags & LX_SOCK_NONBLOCK;
	m->arg[2] = uaddr != 0;
	r = call_blocking(f, m, nonblocking(f, 0));
	if (r == 0) {
		struct file *nf = (struct file *)m->arg[1];
		r = uaddr ? copy_back(m, uaddr, ulen, (uint32_t)asked) : 0;
		if (r == 0)
			r = fd_install(nf, 0, (flags & LX_SOCK_CLOEXEC) != 0);
		file_put(nf);		/* the descriptor holds it now, or it goes */
	}
	chan_msg_free(chan_of(f), m);
	return r;
}

static int64_t remote_value(uint32_t op, struct file *f, uint64_t a1, uint64_t a2, uint64_t uval,
			    uint64_t ulen)
{
	struct chan_msg *m;
	int64_t asked = asked_len(chan_of(f), ulen, op == SK_GETOPT ? OPT_MAX : ADDR_MAX, &m, op);
	if (asked < 0)
		return asked;
	m->arg[1] = a1;
	m->arg[2] = a2;
	int64_t r = call(f, m);
	if (r == 0)
		r = copy_back(m, uval, ulen, (uint32_t)asked);
	chan_msg_free(chan_of(f), m);
	return r;
}

/* Gathers (out = 0) or scatters (1) len bytes from byte skip of the
 * program's iovecs to or from buf: 0 or -EFAULT. */
static int iov_move(const struct lx_iovec *iov, uint64_t n, uint64_t skip, uint8_t *buf, uint64_t len,
		    int out)
{
	for (uint64_t i = 0; i < n && len; i++) {
		if (skip >= iov[i].len) {
			skip -= iov[i].len;
			continue;
		}
		uint64_t part = iov[i].len - skip < len ? iov[i].len - skip : len;
		void *user = (void *)(iov[i].base + skip);
		if (out ? lo_copy_out(user, buf, part) : lo_copy_in(buf, user, part))
			return -EFAULT;
		buf += part;
		len -= part;
		skip = 0;
	}
	return 0;
}

/* send, sendto, sendmsg and write: in chunks; a blocking stream socket
 * sends everything, as the owner's own send does. */
static int64_t remote_send(struct file *f, const struct lx_iovec *iov, uint64_t n, uint64_t flags,
			   uint64_t uaddr, uint64_t alen)
{
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (iov[i].len > 0x7ffff000u - total)
			return -EINVAL;
		total += iov[i].len;
	}
	if (alen > ADDR_MAX)
		return -EINVAL;
	struct chan_msg *m = msg_with(chan_of(f), SK_SEND, ADDR_MAX + (total < CHUNK ? total : CHUNK), 0,
				      uaddr, uaddr ? alen : 0);
	if (!m)
		return -EFAULT;
	uint64_t sent = 0;
	int64_t r = 0;
	do {
		uint64_t len = total - sent < CHUNK ? total - sent : CHUNK;
		if (iov_move(iov, n, sent, m->data + ADDR_MAX, len, 0)) {
			r = -EFAULT;
			break;
		}
		m->arg[1] = len;
		m->arg[2] = flags;
		m->arg[3] = uaddr ? alen : 0;
		r = call_blocking(f, m, nonblocking(f, flags));
		if (r <= 0)
			break;
		sent += (uint64_t)r;
	} while (sent < total && !nonblocking(f, flags));
	chan_msg_free(chan_of(f), m);
	return sent ? (int64_t)sent : r;
}

/* recv, recvfrom, recvmsg and read: one chunk (MSG_WAITALL: until full). */
static int64_t remote_recv(struct file *f, const struct lx_iovec *iov, uint64_t n, uint64_t flags,
			   uint64_t uname, uint64_t unamelen, int32_t *msg_flags)
{
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (iov[i].len > 0x7ffff000u - total)
			return -EINVAL;
		total += iov[i].len;
	}
	int32_t asked = 0;
	if (uname && lo_copy_in(&asked, (const void *)unamelen, sizeof asked))
		return -EFAULT;
	uint64_t chunk = total < CHUNK ? total : CHUNK;
	struct chan_msg *m = chan_msg_new(chan_of(f), SK_RECV, sizeof(struct recv_layout) + chunk);
	if (!m)
		return -ENOMEM;
	struct recv_layout *l = (struct recv_layout *)m->data;
	uint64_t got = 0;
	int64_t r;
	for (;;) {
		uint64_t len = total - got < CHUNK ? total - got : CHUNK;
		m->arg[1] = flags & ~(uint64_t)LX_MSG_DONTWAIT;
		m->arg[2] = len;
		m->arg[3] = uname != 0;
		r = call_blocking(f, m, nonblocking(f, flags));
		if (r <= 0)
			break;
		uint64_t copy = (uint64_t)r < len ? (uint64_t)r : len;
		if (iov_move(iov, n, got, (uint8_t *)(l + 1), copy, 1)) {
			r = -EFAULT;
			break;
		}
		got += copy;
		*msg_flags = l->h.flags;
		if (!(flags & LX_MSG_WAITALL) || got >= total || (flags & LX_MSG_PEEK))
			break;
	}
	if (r >= 0 || got) {
		/* MSG_TRUNC: a datagram's whole length */
		r = (flags & LX_MSG_TRUNC) && r > (int64_t)got ? r : (int64_t)got;
		uint32_t nl = l->h.namelen, cp = (uint32_t)asked < nl ? (uint32_t)asked : nl;
		if (uname && (lo_copy_out((void *)uname, l->name, cp) ||
			      lo_copy_out((void *)unamelen, &nl, sizeof nl)))
			r = -EFAULT;
	}
	chan_msg_free(chan_of(f), m);
	return r;
}

/* sendmsg and recvmsg: the program's header and iovecs, copied in. */
static int64_t remote_msg(struct file *f, uint64_t umsg, uint64_t flags, int out)
{
	struct lx_msghdr h;
	if (lo_copy_in(&h, (const void *)umsg, sizeof h))
		return -EFAULT;
	if (h.iovlen > 1024)
		return -EMSGSIZE;
	struct lx_iovec *iov = lo_alloc((h.iovlen ? h.iovlen : 1) * sizeof *iov);
	if (!iov)
		return -ENOMEM;
	int64_t r = -EFAULT;
	if (!h.iovlen || !lo_copy_in(iov, (const void *)h.iov, h.iovlen * sizeof *iov)) {
		if (out) {
			r = remote_send(f, iov, h.iovlen, flags, h.name, h.namelen);
		} else {
			int32_t mf = 0;
			uint64_t zero = 0;
			r = remote_recv(f, iov, h.iovlen, flags, h.name,
					umsg + offsetof(struct lx_msghdr, namelen), &mf);
			if (r >= 0 && (lo_copy_out((void *)(umsg + offsetof(struct lx_msghdr, flags)), &mf, sizeof mf) ||
				       lo_copy_out((void *)(umsg + offsetof(struct lx_msghdr, controllen)), &zero, sizeof zero)))
				r = -EFAULT;
		}
	}
	lo_free(iov);
	return r;
}

/* connect: the owner starts it; a blocking holder waits for the outcome. */
static int64_t remote_connect(struct file *f, uint64_t uaddr, uint64_t len)
{
	int64_t r = call_in(SK_CONNECT, f, uaddr, len, 0, 0);
	if (r != -EINPROGRESS || (f->flags & LX_O_NONBLOCK))
		return r;
	while (!(sockshare_poll(f) & (LX_POLLOUT | LX_POLLERR | LX_POLLHUP))) {
		struct sockref *s = f->priv;
		if (sh_wait(&s->changes, s->changes, time_now_ns() + SLICE_NS) == -EINTR)
			return -EINTR;
	}
	int32_t err = 0;
	uint32_t elen = sizeof err;
	struct chan_msg *m = chan_msg_new(chan_of(f), SK_GETOPT, 8 + OPT_MAX);
	if (!m)
		return -ENOMEM;
	lo_memcpy(m->data, &elen, sizeof elen);
	m->arg[1] = LX_SOL_SOCKET;
	m->arg[2] = LX_SO_ERROR;
	r = call(f, m);
	lo_memcpy(&err, m->data + 8, sizeof err);
	chan_msg_free(chan_of(f), m);
	return r ? r : -err;
}

int64_t sockshare_call(uint32_t op, struct file *f, uint64_t a1, uint64_t a2, uint64_t a3,
		       uint64_t a4, uint64_t a5)
{
	struct lx_iovec one = { a1, a2 };
	int32_t mf = 0;
	switch (op) {
	case SK_BIND: return call_in(op, f, a1, a2, 0, 0);
	case SK_CONNECT: return remote_connect(f, a1, a2);
	case SK_LISTEN: case SK_SHUTDOWN: {
		struct chan_msg *m = chan_msg_new(chan_of(f), op, 0);
		if (!m)
			return -ENOMEM;
		m->arg[1] = a1;
		int64_t r = call(f, m);
		chan_msg_free(chan_of(f), m);
		return r;
	}
	case SK_ACCEPT: return remote_accept(f, a1, a2, a3);
	case SK_SEND: return remote_send(f, &one, 1, a3, a4, a5);
	case SK_RECV: return remote_recv(f, &one, 1, a3, a4, a5, &mf);
	case SK_SENDMSG: return remote_msg(f, a1, a2, 1);
	case SK_RECVMSG: return remote_msg(f, a1, a2, 0);
	case SK_NAME: return remote_value(op, f, a3, 0, a1, a2);
	case SK_SETOPT: return call_in(op, f, a3, a4, a1, a2);
	case SK_GETOPT: return remote_value(op, f, a1, a2, a3, a4);
	default: return -EINVAL;
	}
}

int64_t sockshare_read(struct file *f, void *ubuf, uint64_t len)
{
	struct lx_iovec one = { (uint64_t)ubuf, len };
	int32_t mf = 0;
	return len ? remote_recv(f, &one, 1, 0, 0, 0, &mf) : 0;
}

int64_t sockshare_write(struct file *f, const void *ubuf, uint64_t len)
{
	struct lx_iovec one = { (uint64_t)ubuf, len };
	return len ? remote_send(f, &one, 1, 0, 0, 0) : 0;
}

int sockshare_poll(struct file *f)
{
	struct chan_msg *m = chan_msg_new(chan_of(f), SK_POLL, 0);
	if (!m)
		return LX_POLLERR;
	int64_t r = call(f, m);
	chan_msg_free(chan_of(f), m);
	return r < 0 ? LX_POLLERR | LX_POLLHUP : (int)r;
}

int64_t sockshare_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	if (cmd != FIONREAD)
		return -ENOTTY;
	struct chan_msg *m = chan_msg_new(chan_of(f), SK_IOCTL, 8);
	if (!m)
		return -ENOMEM;
	m->arg[1] = cmd;
	int64_t r = call(f, m);
	if (r == 0 && lo_copy_out((void *)arg, m->data, sizeof(int32_t)))
		r = -EFAULT;
	chan_msg_free(chan_of(f), m);
	return r;
}

/* A process ending by a fatal signal of its own (a fault) releases its
 * files after it is marked ended: it cannot wait for a reply (the server
 * frees an ended sender's message), so it posts the close, and the owner
 * closes the socket and frees r when it serves it. */
void sockshare_release(struct sockref *r)
{
	struct chan *ch = r->ch;
	struct chan_msg *m = r->owner_pid ? chan_msg_new(ch, SK_CLOSE, 0) : 0;
	if (m) {
		m->arg[0] = handle_of(r);
		if (proc_self()->state != PROC_RUNNING && chan_post(ch, m) == 0)
			return;
		if (proc_self()->state == PROC_RUNNING && chan_call(ch, m) == 0)
			r = 0;			/* the owner freed it */
		chan_msg_free(ch, m);
	}
	if (r)
		sh_free(r);			/* its owner is gone */
}
