/*
 * BSD sockets over lwIP's raw API, as one more kind of file behind the
 * descriptor table (libos/vfs.h): TCP (SOCK_STREAM), UDP (SOCK_DGRAM) and
 * raw (SOCK_RAW, e.g. ICMP for ping), IPv4 (AF_INET) and IPv6 (AF_INET6,
 * dual stack with v4-mapped addresses unless IPV6_V6ONLY).  lwIP's callbacks queue what
 * arrives on the socket; the calls take it from there, and a call that
 * must wait sleeps in netstack_wait (the NIC ring's notification) until
 * its condition holds, its timeout (SO_RCVTIMEO, SO_SNDTIMEO) passes, or,
 * with O_NONBLOCK or MSG_DONTWAIT, fails at once with EAGAIN.
 */
#include <stddef.h>

#include "net/lwip/netstack.h"
#include "net/lwip/lxnet.h"
#include "net/lwip/mcast.h"
#include "net/lwip/sockkeep.h"
#include "net/lwip/sockshare.h"

#include "libos/sockcalls.h"
#include "libos/vfs.h"

#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/raw.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#define BOUNCE 65536u			/* one datagram or a slice of a stream */
#define UDP_MAX 65507u
#define RCVBUF_DEFAULT (256u * 1024)
#define SNDBUF_DEFAULT (256u * 1024)
#define NS_PER_US 1000ull

enum { S_NEW, S_BOUND, S_LISTEN, S_CONNECTING, S_CONNECTED, S_CLOSED };

/* What arrived: a TCP segment's data, or one datagram and its source. */
struct rxq {
	struct rxq *next;
	struct pbuf *p;
	ip_addr_t addr;
	u16_t port;
};

struct sock {
	struct sockref *ref;		/* its description's (sockshare.h) */
	int family, type, protocol, state;
	int v6only;			/* AF_INET6: no IPv4 (IPV6_V6ONLY) */
	union {
		struct tcp_pcb *tcp;
		struct udp_pcb *udp;
		struct raw_pcb *raw;
		void *any;
	} pcb;
	int err;			/* pending error (SO_ERROR), errno value */
	int eof, shut_rd, shut_wr;
	struct rxq *rx, *rx_tail;
	uint32_t rx_off, rx_bytes;	/* consumed in the first entry; queued */
	struct sock *acc, *acc_tail;	/* listening: connections to accept */
	int backlog, nacc;
	struct sock *next;		/* in a listener's accept queue */
	uint64_t rcvtimeo, sndtimeo;	/* ns; 0: forever */
	uint32_t rcvbuf, sndbuf;
	int reuse, broadcast, keepalive, nodelay;
	struct lx_linger linger;
	/* multicast: what the socket joined, and how it sends */
	struct mcast_set groups;
	int mcast_ttl, mcast_loop;
	u8_t mcast_if;			/* interface index, 0: the route's */
	uint32_t mcast_addr;		/* IP_MULTICAST_IF's address, network order */
};

static uint8_t bounce[BOUNCE];


static int errno_of(err_t e)
{
	switch (e) {
	case ERR_OK: return 0;
	case ERR_MEM: return ENOMEM;
	case ERR_BUF: return ENOBUFS;
	case ERR_TIMEOUT: return ETIMEDOUT;
	case ERR_RTE: return ENETUNREACH;
	case ERR_INPROGRESS: return EINPROGRESS;
	case ERR_WOULDBLOCK: return EAGAIN;
	case ERR_USE: return EADDRINUSE;
	case ERR_ALREADY: return EALREADY;
	case ERR_ISCONN: return EISCONN;
	case ERR_CONN: return ENOTCONN;
	case ERR_IF: return ENETDOWN;
	case ERR_ABRT: return ECONNABORTED;
	case ERR_RST: return ECONNRESET;
	case ERR_CLSD: return ENOTCONN;
	default: return EINVAL;
	}
}

/*
 * The calls that can sleep (connect, accept, send, recv) release the lock
 * while they wait, and another thread may close the descriptor meanwhile.
 * Each holds a reference on the description for its whole length, so the
 * socket is released only once the call has returned, as on Linux, where
 * the file stays open under a call blocked on it.  (Before, the close
 * freed the socket under the sleeping call, which then read and wrote
 * freed memory: found by the threaded Linux-call fuzzer.)
 */
static struct file *hold(int fd)
{
	struct file *f = fd_get(fd);
	if (f)
		file_hold(f);
	return f;
}

static int64_t let_go(struct file *held, int64_t r)
{
	if (held)
		file_let_go(held);
	return r;
}

static struct sock *sock_of(int fd, int *err)
{
	struct file *f = fd_get(fd);
	if (!f) {
		*err = -EBADF;
		return 0;
	}
	if (f->kind == FK_STALE) {
		*err = -ENXIO;		/* a socket of another process (libos/vfs.h) */
		return 0;
	}
	if (f->kind != FK_SOCKET) {
		*err = -ENOTSOCK;
		return 0;
	}
	if (sockref_remote(f->priv)) {
		*err = -ENXIO;		/* its owner's stack is gone (sockshare.h) */
		return 0;
	}
	struct sock *s = sockref_sock(f->priv);
	if (!s)
		*err = -EBADF;		/* a record naming no socket of ours */
	return s;
}

/* The description of fd when its socket lives in another process's stack:
 * the call goes there (sockshare.c).  Else NULL. */
static struct file *remote_file(uint64_t fd)
{
	struct file *f = fd_get((int)fd);
	return f && f->kind == FK_SOCKET && sockref_remote(f->priv) && ((struct sockref *)f->priv)->owner_pid
	       ? f : 0;
}

/* The owner's socket behind a description; NULL when its record names
 * none of ours (sockshare.h). */
static struct sock *sock_here(struct file *f)
{
	return sockref_sock(f->priv);
}

/* ---------------------------------------------------------------- queues */

/* What arrived changed the socket: its holders in other processes look again. */
static void sock_changed(struct sock *s)
{
	if (s && s->ref && s->ref->listed)
		sockshare_note(s->ref);
}

static void rx_push(struct sock *s, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	struct rxq *q = lo_alloc(sizeof *q);
	if (!q) {
		pbuf_free(p);
		return;
	}
	q->p = p;
	if (addr)
		ip_addr_copy(q->addr, *addr);
	q->port = port;
	if (s->rx_tail)
		s->rx_tail->next = q;
	else
		s->rx = q;
	s->rx_tail = q;
	s->rx_bytes += p->tot_len;
	sock_changed(s);
}

static void rx_pop(struct sock *s)
{
	struct rxq *q = s->rx;
	s->rx = q->next;
	if (!s->rx)
		s->rx_tail = 0;
	s->rx_bytes -= q->p->tot_len - s->rx_off;
	s->rx_off = 0;
	pbuf_free(q->p);
	lo_free(q);
}

static void rx_clear(struct sock *s)
{
	while (s->rx)
		rx_pop(s);
}

/* ------------------------------------------------------- lwIP callbacks */

static void tcp_attach(struct sock *s, struct tcp_pcb *pcb);

static err_t on_tcp_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct sock *s = arg;
	(void)pcb;
	if (!s) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (!p || err != ERR_OK) {
		s->eof = 1;
		if (p)
			pbuf_free(p);
		sock_changed(s);
		return ERR_OK;
	}
	rx_push(s, p, 0, 0);
	return ERR_OK;
}

/* The pcb is gone (reset, aborted, timed out). */
static void on_tcp_err(void *arg, err_t err)
{
	struct sock *s = arg;
	if (!s)
		return;
	s->err = s->state == S_CONNECTING && err == ERR_RST ? ECONNREFUSED : errno_of(err);
	s->pcb.tcp = 0;
	s->state = S_CLOSED;
	s->eof = 1;
	sock_changed(s);
}

static err_t on_tcp_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct sock *s = arg;
	(void)pcb;
	if (s && err == ERR_OK)
		s->state = S_CONNECTED;
	sock_changed(s);
	return ERR_OK;
}

static err_t on_tcp_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct sock *l = arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	struct sock *s = l && l->nacc < l->backlog ? lo_alloc(sizeof *s) : 0;
	if (!s) {
		tcp_abort(pcb);
		return ERR_ABRT;
	}
	s->family = l->family;
	s->v6only = l->v6only;
	s->type = LX_SOCK_STREAM;
	s->protocol = LX_IPPROTO_TCP;
	s->state = S_CONNECTED;
	s->rcvbuf = l->rcvbuf;
	s->sndbuf = l->sndbuf;
	s->nodelay = l->nodelay;
	tcp_attach(s, pcb);
	if (s->nodelay)
		tcp_nagle_disable(pcb);
	if (l->acc_tail)
		l->acc_tail->next = s;
	else
		l->acc = s;
	l->acc_tail = s;
	l->nacc++;
	sock_changed(l);
	return ERR_OK;
}

static void tcp_attach(struct sock *s, struct tcp_pcb *pcb)
{
	s->pcb.tcp = pcb;
	tcp_arg(pcb, s);
	tcp_recv(pcb, on_tcp_recv);
	tcp_err(pcb, on_tcp_err);
}

static void on_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	struct sock *s = arg;
	(void)pcb;
	if (s->rx_bytes + p->tot_len > s->rcvbuf || s->shut_rd) {
		pbuf_free(p);		/* a full queue drops, as Linux does */
		return;
	}
	rx_push(s, p, addr, port);
}

/* Raw sockets get a copy of every packet of their protocol, IP header
 * included; lwIP goes on with the original (ICMP echo still answered). */
static u8_t on_raw_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
	struct sock *s = arg;
	(void)pcb;
	if (s->rx_bytes + p->tot_len <= s->rcvbuf && !s->shut_rd) {
		struct pbuf *c = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
		/* IPv6 raw sockets get no IP header, as on Linux */
		if (c && s->family == LX_AF_INET6)
			pbuf_remove_header(c, ip_current_header_tot_len());
		if (c)
			rx_push(s, c, addr, 0);
	}
	return 0;
}

/* ------------------------------------------------------------- waiting */

/* Waits until ready(s) holds: 0; -EAGAIN when nonblocking or timed out;
 * -EINTR when a signal came (before, a blocked socket call of the
 * process's own stack saw no signal: the fuzzer's batches stuck in read
 * and recvfrom under their 5 ms tick). */
static int sock_wait(struct sock *s, int (*ready)(struct sock *), int nonblock, uint64_t timeout)
{
	netstack_poll();
	if (ready(s))
		return 0;
	if (nonblock)
		return -EAGAIN;
	uint64_t deadline = timeout ? netstack_deadline(timeout) : UINT64_MAX;
	while (!ready(s)) {
		if (time_now_ns() >= deadline)
			return -EAGAIN;
		if (netstack_wait_intr(deadline))
			return -EINTR;
	}
	return 0;
}

static int can_read(struct sock *s)
{
	return s->rx || s->eof || s->err || s->shut_rd || s->acc;
}

static int can_write_tcp(struct sock *s)
{
	return !s->pcb.tcp || s->state != S_CONNECTED ||
	       (tcp_sndbuf(s->pcb.tcp) > 0 && tcp_sndqueuelen(s->pcb.tcp) < TCP_SND_QUEUELEN - 8);
}

static int not_connecting(struct sock *s)
{
	return s->state != S_CONNECTING;
}

static int take_err(struct sock *s)
{
	int e = s->err;
	s->err = 0;
	return e;
}

/* ----------------------------------------------------------- addresses */

static int addr_in4(const void *uaddr, uint64_t len, ip_addr_t *ip, u16_t *port)
{
	struct lx_sockaddr_in sa;
	if (len < sizeof sa || len > 128)
		return -EINVAL;
	if (lo_copy_in(&sa, uaddr, sizeof sa))
		return -EFAULT;
	if (sa.family != LX_AF_INET)
		return -EAFNOSUPPORT;
	ip_addr_set_ip4_u32(ip, sa.addr);
	*port = lwip_ntohs(sa.port);
	return 0;
}

/* A socket address from the program: sockaddr_in for an AF_INET socket;
 * for AF_INET6 a sockaddr_in6 (a v4-mapped ::ffff:a.b.c.d is that IPv4
 * address, :: both families unless IPV6_V6ONLY), or, except to bind, a
 * sockaddr_in, as Linux takes it. */
static int addr_in(const struct sock *s, const void *uaddr, uint64_t len, ip_addr_t *ip, u16_t *port, int bind)
{
	if (s->family == LX_AF_INET)
		return addr_in4(uaddr, len, ip, port);
	uint16_t family = 0;
	if (len >= 2 && lo_copy_in(&family, uaddr, 2))
		return -EFAULT;
	if (family == LX_AF_INET && !bind) {
		int r = addr_in4(uaddr, len, ip, port);
		return r ? r : s->v6only ? -ENETUNREACH : 0;
	}
	struct lx_sockaddr_in6 sa = { 0 };
	if (len < 24 || len > 128)
		return -EINVAL;
	if (lo_copy_in(&sa, uaddr, len < sizeof sa ? 24 : sizeof sa))
		return -EFAULT;
	if (sa.family != LX_AF_INET6)
		return bind ? -EAFNOSUPPORT : -EINVAL;
	*port = lwip_ntohs(sa.port);
	uint32_t w[4];
	lo_memcpy(w, sa.addr, 16);
	if (!w[0] && !w[1] && w[2] == PP_HTONL(0xffffu)) {
		if (s->v6only)
			return bind ? -EINVAL : -ENETUNREACH;
		ip_addr_set_ip4_u32(ip, w[3]);
		return 0;
	}
	if (!w[0] && !w[1] && !w[2] && !w[3] && !s->v6only) {
		ip_addr_copy(*ip, *IP_ANY_TYPE);
		return 0;
	}
	IP_ADDR6(ip, w[0], w[1], w[2], w[3]);
	if (ip6_addr_islinklocal(ip_2_ip6(ip)) || ip6_addr_ismulticast_linklocal(ip_2_ip6(ip))) {
		uint32_t zone = sa.scope_id ? sa.scope_id : netif_default ? netif_get_index(netif_default) : 0;
		if (zone > 255 || !netif_get_by_index((u8_t)zone))
			return -ENODEV;
		ip6_addr_set_zone(ip_2_ip6(ip), (u8_t)zone);
	}
	return 0;
}

/* The socket address of (ip, port) for the program, in the socket's family
 * (an IPv4 address on an AF_INET6 socket as ::ffff:a.b.c.d). */
static int addr_out(const struct sock *s, void *uaddr, void *ulen, const ip_addr_t *ip, u16_t port)
{
	if (!uaddr)
		return 0;
	uint32_t len;
	if (lo_copy_in(&len, ulen, sizeof len))
		return -EFAULT;
	if ((int32_t)len < 0)
		return -EINVAL;
	union { struct lx_sockaddr_in v4; struct lx_sockaddr_in6 v6; } sa = { 0 };
	uint32_t size = sizeof sa.v4;
	if (s->family == LX_AF_INET) {
		sa.v4 = (struct lx_sockaddr_in){ .family = LX_AF_INET, .port = lwip_htons(port),
						 .addr = ip && IP_IS_V4(ip) ? ip4_addr_get_u32(ip_2_ip4(ip)) : 0 };
	} else {
		size = sizeof sa.v6;
		sa.v6.family = LX_AF_INET6;
		sa.v6.port = lwip_htons(port);
		uint32_t w[4] = { 0 };
		if (ip && IP_IS_V6(ip)) {
			lo_memcpy(w, ip_2_ip6(ip)->addr, 16);
			if (ip6_addr_has_zone(ip_2_ip6(ip)))
				sa.v6.scope_id = ip6_addr_zone(ip_2_ip6(ip));
		} else if (ip && IP_IS_V4(ip) && !ip4_addr_isany(ip_2_ip4(ip))) {
			w[2] = PP_HTONL(0xffffu);
			w[3] = ip4_addr_get_u32(ip_2_ip4(ip));
		}
		lo_memcpy(sa.v6.addr, w, 16);
	}
	uint32_t n = len < size ? len : size;
	if (lo_copy_out(uaddr, &sa, n) || lo_copy_out(ulen, &size, sizeof size))
		return -EFAULT;
	return 0;
}

/* Whether sending to dst needs SO_BROADCAST: the limited broadcast (and
 * 0.0.0.0, as lwIP counts it), or the NIC's subnet broadcast.  Without a
 * NIC there is no default interface for lwIP's test to look at. */
static int is_broadcast(const ip_addr_t *dst)
{
	if (IP_IS_V6(dst))
		return 0;
	u32_t a = ip4_addr_get_u32(ip_2_ip4(dst));
	if (a == IPADDR_BROADCAST || a == IPADDR_ANY)
		return 1;
	return netif_default && ip4_addr_isbroadcast_u32(a, netif_default);
}

/* Whether ip is one of ours (or any), as bind needs. */
static int local_addr(const ip_addr_t *ip)
{
	if (ip_addr_isany(ip))
		return 1;
	struct netif *n;
	if (IP_IS_V6(ip)) {
		if (ip6_addr_isloopback(ip_2_ip6(ip)))
			return 1;
		NETIF_FOREACH(n)
			if (netif_get_ip6_addr_match(n, ip_2_ip6(ip)) >= 0)
				return 1;
		return 0;
	}
	if (ip4_addr_isloopback(ip_2_ip4(ip)))
		return 1;
	NETIF_FOREACH(n)
		if (ip4_addr_cmp(netif_ip4_addr(n), ip_2_ip4(ip)))
			return 1;
	return 0;
}

static void apply_options(struct sock *s)
{
	struct ip_pcb *ip = s->pcb.any;
	if (!ip)
		return;
	ip->so_options = (u8_t)((ip->so_options & ~(SOF_REUSEADDR | SOF_BROADCAST | SOF_KEEPALIVE)) |
				(s->reuse ? SOF_REUSEADDR : 0) | (s->broadcast ? SOF_BROADCAST : 0) |
				(s->keepalive ? SOF_KEEPALIVE : 0));
}

/* The socket's multicast sending options into its UDP or raw pcb. */
static void apply_multicast(struct sock *s)
{
	if (s->type == LX_SOCK_DGRAM && s->pcb.udp) {
		struct udp_pcb *u = s->pcb.udp;
		udp_set_multicast_ttl(u, (u8_t)s->mcast_ttl);
		udp_set_multicast_netif_index(u, s->mcast_if);
		u->flags = (u8_t)((u->flags & ~UDP_FLAGS_MULTICAST_LOOP) | (s->mcast_loop ? UDP_FLAGS_MULTICAST_LOOP : 0));
	} else if (s->type == LX_SOCK_RAW && s->pcb.raw) {
		struct raw_pcb *r = s->pcb.raw;
		raw_set_multicast_ttl(r, (u8_t)s->mcast_ttl);
		raw_set_multicast_netif_index(r, s->mcast_if);
		r->flags = (u8_t)((r->flags & ~RAW_FLAGS_MULTICAST_LOOP) | (s->mcast_loop ? RAW_FLAGS_MULTICAST_LOOP : 0));
	}
}

/* -------------------------------------------------------------- create */

static int sock_install(struct sock *s, uint32_t flags)
{
	struct sockref *r = sockref_new(s);
	struct file *f = r ? file_new(FK_SOCKET, LX_O_RDWR | (flags & LX_SOCK_NONBLOCK ? LX_O_NONBLOCK : 0)) : 0;
	if (!f) {
		if (r)
			sockref_free(r);
		return -ENOMEM;
	}
	f->priv = r;
	s->ref = r;
	int fd = fd_install(f, 0, (flags & LX_SOCK_CLOEXEC) != 0);
	file_put(f);		/* the descriptor holds it now, or it goes */
	return fd;
}

static struct sock *sock_new(int type, int protocol)
{
	struct sock *s = lo_alloc(sizeof *s);
	if (!s)
		return 0;
	s->type = type;
	s->protocol = protocol;
	s->rcvbuf = RCVBUF_DEFAULT;
	s->sndbuf = SNDBUF_DEFAULT;
	s->mcast_ttl = 1;		/* Linux's defaults */
	s->mcast_loop = 1;
	return s;
}

LO_CALL(sys_socket)
{
	UNUSED_ARGS;
	int type = (int)(a1 & 0xf), protocol = (int)a2;
	if (a1 & ~(uint64_t)(0xf | LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC))
		return -EINVAL;
	if (a0 != LX_AF_INET && a0 != LX_AF_INET6)
		return -EAFNOSUPPORT;
	if (type == LX_SOCK_STREAM ? protocol && protocol != LX_IPPROTO_TCP :
	    type == LX_SOCK_DGRAM ? protocol && protocol != LX_IPPROTO_UDP :
	    type == LX_SOCK_RAW ? protocol <= 0 || protocol > 255 || protocol == LX_IPPROTO_TCP : 1)
		return type == LX_SOCK_STREAM || type == LX_SOCK_DGRAM || type == LX_SOCK_RAW
		       ? -EPROTONOSUPPORT : -ESOCKTNOSUPPORT;
	int r = fd_available();
	if (r)
		return r;
	if (sockkeep_remote() && (r = (int)sockkeep_socket(a0, a1, a2)) != -EIO)
		return r;		/* served by the machine's stack (sockkeep.c) */
	if ((r = netstack_start()))
		return r;
	struct sock *s = sock_new(type, type == LX_SOCK_STREAM ? LX_IPPROTO_TCP :
				  type == LX_SOCK_DGRAM ? LX_IPPROTO_UDP : protocol);
	if (!s)
		return -ENOMEM;
	s->family = (int)a0;
	/* an AF_INET6 socket serves both families until IPV6_V6ONLY */
	u8_t ipt = a0 == LX_AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY;
	if (type == LX_SOCK_STREAM) {
		struct tcp_pcb *pcb = tcp_new_ip_type(ipt);
		if (pcb)
			tcp_attach(s, pcb);
	} else if (type == LX_SOCK_DGRAM) {
		s->pcb.udp = udp_new_ip_type(ipt);
		if (s->pcb.udp)
			udp_recv(s->pcb.udp, on_udp_recv, s);
	} else {
		s->pcb.raw = raw_new_ip_type(a0 == LX_AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_V6, (u8_t)protocol);
		if (s->pcb.raw) {
			raw_recv(s->pcb.raw, on_raw_recv, s);
			if (protocol == LX_IPPROTO_ICMPV6)
				s->pcb.raw->chksum_reqd = 1, s->pcb.raw->chksum_offset = 2;	/* as Linux */
		}
	}
	if (!s->pcb.any) {
		lo_free(s);
		return -ENOBUFS;
	}
	apply_multicast(s);
	return sock_install(s, (uint32_t)a1);
}

/* Closes the pcb and forgets what was queued (the last descriptor went). */
static void sock_close(struct sock *s)
{
	rx_clear(s);
	mcast_leave_all(&s->groups);
	if (s->type == LX_SOCK_STREAM) {
		while (s->acc) {
			struct sock *a = s->acc;
			s->acc = a->next;
			sock_close(a);
			lo_free(a);
		}
		struct tcp_pcb *pcb = s->pcb.tcp;
		if (pcb) {
			tcp_arg(pcb, 0);
			if (s->state == S_LISTEN) {
				tcp_accept(pcb, 0);
			} else {
				tcp_err(pcb, 0);
				tcp_recv(pcb, 0);
			}
			if ((s->linger.onoff && !s->linger.linger) || tcp_close(pcb) != ERR_OK)
				tcp_abort(pcb);
		}
	} else if (s->type == LX_SOCK_DGRAM && s->pcb.udp) {
		udp_remove(s->pcb.udp);
	} else if (s->pcb.raw) {
		raw_remove(s->pcb.raw);
	}
	s->pcb.any = 0;
}

void sock_drop(struct sockref *r)
{
	struct sock *s = sockref_sock(r);
	if (!s)
		return;			/* not a record of ours: nothing to close */
	if (netstack_start() == 0)		/* a forked child leaves the pcbs alone */
		sock_close(s);
	netstack_poll();
	lo_free(s);
	sockref_free(r);
}

static void sock_release(struct file *f)
{
	if (sockref_remote(f->priv))
		sockshare_release(f->priv);
	else
		sock_drop(f->priv);
}

uint64_t sock_timeout(void *sock, int send)
{
	struct sock *s = sock;
	return send ? s->sndtimeo : s->rcvtimeo;
}

/* ---------------------------------------------------- bind and connect */

LO_CALL(sys_bind)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_BIND, rf, a1, a2, a3, a4, a5);
	int r = 0;
	struct sock *s = sock_of((int)a0, &r);
	if (!s)
		return r;
	ip_addr_t ip;
	u16_t port;
	if ((r = addr_in(s, (const void *)a1, a2, &ip, &port, 1)))
		return r;
	/* a datagram socket may bind a group's address, to get only its traffic */
	if (!local_addr(&ip) && (s->type == LX_SOCK_STREAM || !ip_addr_ismulticast(&ip)))
		return -EADDRNOTAVAIL;
	if (s->state != S_NEW || !s->pcb.any)
		return -EINVAL;
	apply_options(s);
	err_t e = s->type == LX_SOCK_STREAM ? tcp_bind(s->pcb.tcp, &ip, port) :
		  s->type == LX_SOCK_DGRAM ? udp_bind(s->pcb.udp, &ip, port) :
		  raw_bind(s->pcb.raw, &ip);
	if (e != ERR_OK)
		return -errno_of(e);
	s->state = S_BOUND;
	return 0;
}

LO_CALL(sys_listen)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_LISTEN, rf, a1, a2, a3, a4, a5);
	int r = 0;
	struct sock *s = sock_of((int)a0, &r);
	if (!s)
		return r;
	if (s->type != LX_SOCK_STREAM)
		return -EOPNOTSUPP;
	int backlog = (int)a1 < 1 ? 1 : (int)a1 > 4096 ? 4096 : (int)a1;
	if (s->state == S_LISTEN) {
		s->backlog = backlog;
		return 0;
	}
	if ((s->state != S_NEW && s->state != S_BOUND) || !s->pcb.tcp)
		return -EINVAL;
	apply_options(s);
	const ip_addr_t *any = s->family == LX_AF_INET ? IP4_ADDR_ANY : s->v6only ? IP6_ADDR_ANY : IP_ANY_TYPE;
	if (s->state == S_NEW && tcp_bind(s->pcb.tcp, any, 0) != ERR_OK)
		return -EADDRINUSE;
	struct tcp_pcb *l = tcp_listen_with_backlog(s->pcb.tcp, 255);
	if (!l)
		return -ENOBUFS;
	s->pcb.tcp = l;		/* a listening pcb: no flags, mss or callbacks but accept */
	tcp_arg(l, s);
	tcp_accept(l, on_tcp_accept);
	s->state = S_LISTEN;
	s->backlog = backlog;
	return 0;
}

static int64_t tcp_connect_to(struct file *f, struct sock *s, const ip_addr_t *ip, u16_t port)
{
	if (s->state == S_CONNECTING)
		return -EALREADY;
	if (s->state == S_CONNECTED)
		return -EISCONN;
	if (s->state == S_LISTEN || !s->pcb.tcp)
		return s->state == S_CLOSED && s->err ? -take_err(s) : -EINVAL;
	apply_options(s);
	err_t e = tcp_connect(s->pcb.tcp, ip, port, on_tcp_connected);
	if (e != ERR_OK)
		return -errno_of(e);
	s->state = S_CONNECTING;
	int r = sock_wait(s, not_connecting, (f->flags & LX_O_NONBLOCK) != 0, s->sndtimeo);
	if (r == -EAGAIN)
		return f->flags & LX_O_NONBLOCK ? -EINPROGRESS : -ETIMEDOUT;
	return s->state == S_CONNECTED ? 0 : -(s->err ? take_err(s) : ECONNREFUSED);
}

static int64_t connect_held(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_CONNECT, rf, a1, a2, a3, a4, a5);
	int r = 0;
	struct sock *s = sock_of((int)a0, &r);
	if (!s)
		return r;
	struct file *f = fd_get((int)a0);
	uint16_t family = 0;
	if (a2 >= 2 && lo_copy_in(&family, (const void *)a1, 2))
		return -EFAULT;
	if (s->type != LX_SOCK_STREAM && family == LX_AF_UNSPEC && a2 >= 2) {
		if (s->type == LX_SOCK_DGRAM && s->pcb.udp)
			udp_disconnect(s->pcb.udp);
		else if (s->pcb.raw)
			raw_disconnect(s->pcb.raw);
		return 0;
	}
	ip_addr_t ip;
	u16_t port;
	if ((r = addr_in(s, (const void *)a1, a2, &ip, &port, 0)))
		return r;
	if (s->type == LX_SOCK_STREAM)
		return tcp_connect_to(f, s, &ip, port);
	err_t e = s->type == LX_SOCK_DGRAM ? udp_connect(s->pcb.udp, &ip, port) :
		  raw_connect(s->pcb.raw, &ip);
	return e == ERR_OK ? 0 : -errno_of(e);
}

static int can_accept(struct sock *s)
{
	return s->acc || s->state != S_LISTEN;
}

LO_CALL(sys_connect)
{
	struct file *f = hold((int)a0);
	return let_go(f, connect_held(a0, a1, a2, a3, a4, a5));
}

static int64_t accept_held(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t flags)
{
	struct file *rf = remote_file(fd);
	if (rf)
		return sockshare_call(SK_ACCEPT, rf, uaddr, ulen, flags, 0, 0);
	int r = 0;
	struct sock *l = sock_of((int)fd, &r);
	if (!l)
		return r;
	if (flags & ~(uint64_t)(LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC))
		return -EINVAL;
	if (l->state != S_LISTEN)
		return -EINVAL;
	if ((r = fd_available()))
		return r;
	struct file *f = fd_get((int)fd);
	if ((r = sock_wait(l, can_accept, (f->flags & LX_O_NONBLOCK) != 0, l->rcvtimeo)))
		return r;
	if (!l->acc)
		return -EINVAL;
	struct sock *s = l->acc;
	l->acc = s->next;
	if (!l->acc)
		l->acc_tail = 0;
	l->nacc--;
	s->next = 0;
	if (s->pcb.tcp)
		tcp_backlog_accepted(s->pcb.tcp);
	const ip_addr_t *peer = s->pcb.tcp ? &s->pcb.tcp->remote_ip : 0;
	u16_t port = s->pcb.tcp ? s->pcb.tcp->remote_port : 0;
	if ((r = addr_out(s, (void *)uaddr, (void *)ulen, peer, port))) {
		sock_close(s);
		lo_free(s);
		return r;
	}
	int nfd = sock_install(s, (uint32_t)flags);
	if (nfd < 0) {
		sock_close(s);
		lo_free(s);
	}
	return nfd;
}

static int64_t do_accept(uint64_t fd, uint64_t uaddr, uint64_t ulen, uint64_t flags)
{
	struct file *f = hold((int)fd);
	return let_go(f, accept_held(fd, uaddr, ulen, flags));
}

LO_CALL(sys_accept) { UNUSED_ARGS; return do_accept(a0, a1, a2, 0); }
LO_CALL(sys_accept4) { UNUSED_ARGS; return do_accept(a0, a1, a2, a3); }

/* ------------------------------------------------------------- sending */

/* Copies between the bounce buffer and the program's iovec array, from
 * byte skip of the iovecs on, at most len bytes: the count, or -EFAULT. */
static int64_t iov_copy(const struct lx_iovec *iov, uint64_t n, uint64_t skip, uint64_t len, int out)
{
	uint64_t done = 0;
	for (uint64_t i = 0; i < n && done < len; i++) {
		uint64_t l = iov[i].len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		uint64_t part = l - skip < len - done ? l - skip : len - done;
		void *user = (void *)(iov[i].base + skip);
		if (out ? lo_copy_out(user, bounce + done, part) : lo_copy_in(bounce + done, user, part))
			return -EFAULT;
		done += part;
		skip = 0;
	}
	return (int64_t)done;
}

static int64_t send_tcp(struct file *f, struct sock *s, const struct lx_iovec *iov, uint64_t n,
			uint64_t total, int flags)
{
	if (s->shut_wr)
		return -EPIPE;
	if (s->state != S_CONNECTED || !s->pcb.tcp)
		return s->err ? -take_err(s) : s->state == S_CLOSED ? -EPIPE : -ENOTCONN;
	int nonblock = (f->flags & LX_O_NONBLOCK) || (flags & LX_MSG_DONTWAIT);
	uint64_t sent = 0;
	while (sent < total) {
		int r = sock_wait(s, can_write_tcp, nonblock, s->sndtimeo);
		if (r || !s->pcb.tcp || s->state != S_CONNECTED) {
			if (sent)
				break;
			return r ? r : s->err ? -take_err(s) : -EPIPE;
		}
		uint64_t room = tcp_sndbuf(s->pcb.tcp);
		uint64_t chunk = total - sent < room ? total - sent : room;
		if (chunk > BOUNCE)
			chunk = BOUNCE;
		int64_t got = iov_copy(iov, n, sent, chunk, 0);
		if (got < 0)
			return sent ? (int64_t)sent : got;
		u8_t wf = TCP_WRITE_FLAG_COPY | (sent + (uint64_t)got < total || (flags & LX_MSG_MORE)
						 ? TCP_WRITE_FLAG_MORE : 0);
		err_t e = tcp_write(s->pcb.tcp, bounce, (u16_t)got, wf);
		if (e == ERR_MEM) {
			tcp_output(s->pcb.tcp);
			if (nonblock)
				break;
			netstack_wait(netstack_deadline(1000000));
			continue;
		}
		if (e != ERR_OK)
			return sent ? (int64_t)sent : -errno_of(e);
		sent += (uint64_t)got;
		if (nonblock && !can_write_tcp(s))
			break;
	}
	if (s->pcb.tcp)
		tcp_output(s->pcb.tcp);
	netstack_poll();
	return sent ? (int64_t)sent : -EAGAIN;
}

static int64_t send_dgram(struct sock *s, const struct lx_iovec *iov, uint64_t n, uint64_t total,
			  const void *uaddr, uint64_t alen)
{
	ip_addr_t ip;
	u16_t port = 0;
	int have = 0;
	if (uaddr) {
		int r = addr_in(s, uaddr, alen, &ip, &port, 0);
		if (r)
			return r;
		have = 1;
	}
	if (s->shut_wr)
		return -EPIPE;
	if (!s->pcb.any)
		return -EBADF;
	uint64_t max = s->type == LX_SOCK_DGRAM ? UDP_MAX : UDP_MAX + 8;
	if (total > max)
		return -EMSGSIZE;
	if (!have) {
		int connected = s->type == LX_SOCK_DGRAM ? (s->pcb.udp->flags & UDP_FLAGS_CONNECTED) != 0
							 : (s->pcb.raw->flags & RAW_FLAGS_CONNECTED) != 0;
		if (!connected)
			return -EDESTADDRREQ;
	}
	const ip_addr_t *dst = have ? &ip : s->type == LX_SOCK_DGRAM ? &s->pcb.udp->remote_ip
								      : &s->pcb.raw->remote_ip;
	if (is_broadcast(dst) && !s->broadcast)
		return -EACCES;
	int64_t got = iov_copy(iov, n, 0, total, 0);
	if (got < 0)
		return got;
	struct pbuf *p = pbuf_alloc(s->type == LX_SOCK_DGRAM ? PBUF_TRANSPORT : PBUF_IP, (u16_t)got, PBUF_RAM);
	if (!p)
		return -ENOBUFS;
	pbuf_take(p, bounce, (u16_t)got);
	apply_options(s);
	err_t e;
	if (s->type == LX_SOCK_DGRAM)
		e = have ? udp_sendto(s->pcb.udp, p, &ip, port) : udp_send(s->pcb.udp, p);
	else
		e = have ? raw_sendto(s->pcb.raw, p, &ip) : raw_send(s->pcb.raw, p);
	pbuf_free(p);
	netstack_sent();
	if (e == ERR_RTE)
		return -ENETUNREACH;
	if (e == ERR_MEM)
		return -ENOBUFS;	/* no transmit slot came free: not sent (nicring.h) */
	return e == ERR_OK || e == ERR_BUF ? got : -errno_of(e);
}

static int64_t send_held(int fd, const struct lx_iovec *iov, uint64_t n, int flags, const void *uaddr,
			 uint64_t alen)
{
	int r = 0;
	struct sock *s = sock_of(fd, &r);
	if (!s)
		return r;
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (iov[i].len > 0x7ffff000u - total)
			return -EINVAL;
		total += iov[i].len;
	}
	if (s->type == LX_SOCK_STREAM) {
		if (total == 0)
			return s->state == S_CONNECTED ? 0 : -ENOTCONN;
		return send_tcp(fd_get(fd), s, iov, n, total, flags);
	}
	return send_dgram(s, iov, n, total, uaddr, alen);
}

/* Copies a msghdr and its iovec array into libOS memory. */
static int64_t msg_in(uint64_t umsg, struct lx_msghdr *m, struct lx_iovec **out)
{
	if (lo_copy_in(m, (const void *)umsg, sizeof *m))
		return -EFAULT;
	if (m->iovlen > 1024)
		return -EMSGSIZE;
	struct lx_iovec *iov = lo_alloc((m->iovlen ? m->iovlen : 1) * sizeof *iov);
	if (!iov)
		return -ENOMEM;
	if (m->iovlen && lo_copy_in(iov, (const void *)m->iov, m->iovlen * sizeof *iov)) {
		lo_free(iov);
		return -EFAULT;
	}
	*out = iov;
	return 0;
}

static int64_t do_send(int fd, const struct lx_iovec *iov, uint64_t n, int flags, const void *uaddr,
		       uint64_t alen)
{
	struct file *f = hold(fd);
	return let_go(f, send_held(fd, iov, n, flags, uaddr, alen));
}

LO_CALL(sys_sendto)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_SEND, rf, a1, a2, a3, a4, a5);
	struct lx_iovec iov = { a1, a2 };
	return do_send((int)a0, &iov, 1, (int)a3, (const void *)a4, a5);
}

LO_CALL(sys_sendmsg)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_SENDMSG, rf, a1, a2, a3, a4, a5);
	struct lx_msghdr m;
	struct lx_iovec *iov;
	int64_t r = msg_in(a1, &m, &iov);
	if (r)
		return r;
	r = do_send((int)a0, iov, m.iovlen, (int)a2, (const void *)m.name, m.namelen);
	lo_free(iov);
	return r;
}

/* ----------------------------------------------------------- receiving */

static int64_t recv_tcp(struct file *f, struct sock *s, const struct lx_iovec *iov, uint64_t n,
			uint64_t total, int flags)
{
	if (s->state == S_LISTEN || (s->state != S_CONNECTED && s->state != S_CLOSED && !s->rx))
		return -ENOTCONN;
	int nonblock = (f->flags & LX_O_NONBLOCK) || (flags & LX_MSG_DONTWAIT);
	uint64_t got = 0;
	while (got < total) {
		int r = sock_wait(s, can_read, nonblock || (got && !(flags & LX_MSG_WAITALL)), s->rcvtimeo);
		if (r)
			return got ? (int64_t)got : r;
		if (!s->rx) {
			if (got || s->eof || s->shut_rd)
				break;
			return -take_err(s);
		}
		/* one slice: from the queued segments into the bounce buffer */
		uint64_t want = total - got < BOUNCE ? total - got : BOUNCE, slice = 0;
		struct rxq *q = s->rx;
		uint32_t off = s->rx_off;
		while (q && slice < want) {
			uint64_t avail = q->p->tot_len - off;
			uint64_t take = avail < want - slice ? avail : want - slice;
			pbuf_copy_partial(q->p, bounce + slice, (u16_t)take, (u16_t)off);
			slice += take;
			if (flags & LX_MSG_PEEK) {
				q = q->next;
				off = 0;
				continue;
			}
			s->rx_off += (uint32_t)take;
			s->rx_bytes -= (uint32_t)take;
			if (s->rx_off == q->p->tot_len) {
				q = q->next;
				rx_pop(s);
			}
			off = s->rx_off;
		}
		if (iov_copy(iov, n, got, slice, 1) < 0)
			return got ? (int64_t)got : -EFAULT;
		got += slice;
		if (flags & LX_MSG_PEEK)
			break;
		if (s->pcb.tcp)
			for (uint64_t left = slice; left;) {
				u16_t part = left > 0xffff ? 0xffff : (u16_t)left;
				tcp_recved(s->pcb.tcp, part);
				left -= part;
			}
	}
	return (int64_t)got;
}

/* Copies the first len bytes of p's chain straight into the program's
 * iovecs (len fits them): a datagram needs no bounce through our buffer,
 * one copy per piece instead of two.  0 or -EFAULT. */
static int dgram_copy_out(const struct pbuf *p, const struct lx_iovec *iov, uint64_t n, uint64_t len)
{
	uint64_t i = 0, at = 0;		/* the iovec, and the bytes written into it */
	for (; p && len; p = p->next) {
		const uint8_t *src = p->payload;
		uint64_t left = p->len < len ? p->len : len;
		len -= left;
		while (left) {
			for (; i < n && at == iov[i].len; i++)
				at = 0;
			if (i == n)
				return 0;
			uint64_t part = iov[i].len - at < left ? iov[i].len - at : left;
			if (lo_copy_out((void *)(iov[i].base + at), src, part))
				return -EFAULT;
			src += part;
			at += part;
			left -= part;
		}
	}
	return 0;
}

static int64_t recv_dgram(struct file *f, struct sock *s, const struct lx_iovec *iov, uint64_t n,
			  uint64_t total, int flags, void *uaddr, void *ulen, int *msg_flags)
{
	int nonblock = (f->flags & LX_O_NONBLOCK) || (flags & LX_MSG_DONTWAIT);
	/* what the socket holds is returned without polling the NIC first,
	 * as Linux returns its queue: the poll is for an empty socket */
	int r = s->rx ? 0 : sock_wait(s, can_read, nonblock, s->rcvtimeo);
	if (r)
		return r;
	if (!s->rx)
		return s->err ? -take_err(s) : 0;
	struct rxq *q = s->rx;
	uint64_t len = q->p->tot_len, copy = len < total ? len : total;
	if (dgram_copy_out(q->p, iov, n, copy))
		return -EFAULT;
	if ((r = addr_out(s, uaddr, ulen, &q->addr, q->port)))
		return r;
	if (len > total)
		*msg_flags |= LX_MSG_TRUNC;
	if (!(flags & LX_MSG_PEEK))
		rx_pop(s);
	return (int64_t)(flags & LX_MSG_TRUNC ? len : copy);
}

static int64_t recv_held(int fd, const struct lx_iovec *iov, uint64_t n, int flags, void *uaddr,
			 void *ulen, int *msg_flags)
{
	int r = 0;
	struct sock *s = sock_of(fd, &r);
	if (!s)
		return r;
	if (flags & LX_MSG_OOB)
		return -EINVAL;
	uint64_t total = 0;
	for (uint64_t i = 0; i < n; i++) {
		if (iov[i].len > 0x7ffff000u - total)
			return -EINVAL;
		total += iov[i].len;
	}
	struct file *f = fd_get(fd);
	if (s->type == LX_SOCK_STREAM) {
		int64_t got = total ? recv_tcp(f, s, iov, n, total, flags) : 0;
		if (got >= 0 && uaddr && s->pcb.tcp)
			r = addr_out(s, uaddr, ulen, &s->pcb.tcp->remote_ip, s->pcb.tcp->remote_port);
		return r < 0 && got >= 0 ? r : got;
	}
	return recv_dgram(f, s, iov, n, total, flags, uaddr, ulen, msg_flags);
}

static int64_t do_recv(int fd, const struct lx_iovec *iov, uint64_t n, int flags, void *uaddr,
		       void *ulen, int *msg_flags)
{
	struct file *f = hold(fd);
	return let_go(f, recv_held(fd, iov, n, flags, uaddr, ulen, msg_flags));
}

LO_CALL(sys_recvfrom)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_RECV, rf, a1, a2, a3, a4, a5);
	struct lx_iovec iov = { a1, a2 };
	int mf = 0;
	return do_recv((int)a0, &iov, 1, (int)a3, (void *)a4, (void *)a5, &mf);
}

/* A field of the program's message header, which may be unaligned (a
 * struct pointer to it would be undefined behaviour). */
static void *umsg_field(uint64_t umsg, size_t off)
{
	return (void *)(umsg + off);
}

LO_CALL(sys_recvmsg)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_RECVMSG, rf, a1, a2, a3, a4, a5);
	struct lx_msghdr m;
	struct lx_iovec *iov;
	int64_t r = msg_in(a1, &m, &iov);
	if (r)
		return r;
	int mf = 0;
	r = do_recv((int)a0, iov, m.iovlen, (int)a2, m.name ? (void *)m.name : 0,
		    umsg_field(a1, offsetof(struct lx_msghdr, namelen)), &mf);
	lo_free(iov);
	if (r >= 0) {
		uint64_t zero = 0;
		if (lo_copy_out(umsg_field(a1, offsetof(struct lx_msghdr, flags)), &mf, sizeof mf) ||
		    lo_copy_out(umsg_field(a1, offsetof(struct lx_msghdr, controllen)), &zero, sizeof zero))
			return -EFAULT;
	}
	return r;
}

static int64_t sock_read(struct file *f, void *ubuf, uint64_t len)
{
	if (sockref_remote(f->priv))
		return sockshare_read(f, ubuf, len);
	struct lx_iovec iov = { (uint64_t)ubuf, len };
	int mf = 0;
	struct sock *s = sock_here(f);
	if (!s)
		return -EBADF;
	if (s->type == LX_SOCK_STREAM)
		return len ? recv_tcp(f, s, &iov, 1, len, 0) : 0;
	return recv_dgram(f, s, &iov, 1, len, 0, 0, 0, &mf);
}

static int64_t sock_write(struct file *f, const void *ubuf, uint64_t len)
{
	if (sockref_remote(f->priv))
		return sockshare_write(f, ubuf, len);
	struct lx_iovec iov = { (uint64_t)ubuf, len };
	struct sock *s = sock_here(f);
	if (!s)
		return -EBADF;
	if (s->type == LX_SOCK_STREAM)
		return len ? send_tcp(f, s, &iov, 1, len, 0) : 0;
	return send_dgram(s, &iov, 1, len, 0, 0);
}

/* ---------------------------------------------------------------- misc */

LO_CALL(sys_shutdown)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_SHUTDOWN, rf, a1, a2, a3, a4, a5);
	int r = 0;
	struct sock *s = sock_of((int)a0, &r);
	if (!s)
		return r;
	if (a1 > LX_SHUT_RDWR)
		return -EINVAL;
	if (s->type == LX_SOCK_STREAM && s->state != S_CONNECTED && s->state != S_LISTEN)
		return -ENOTCONN;
	int rd = a1 != LX_SHUT_WR, wr = a1 != LX_SHUT_RD;
	if (rd)
		s->shut_rd = 1;
	if (wr)
		s->shut_wr = 1;
	if (s->type == LX_SOCK_STREAM && s->pcb.tcp && s->state == S_CONNECTED && wr) {
		err_t e = tcp_shutdown(s->pcb.tcp, 0, 1);
		if (e != ERR_OK)
			return -errno_of(e);
		netstack_poll();
	}
	return 0;
}

static int64_t sock_name(uint64_t fd, uint64_t uaddr, uint64_t ulen, int peer)
{
	struct file *rf = remote_file(fd);
	if (rf)
		return sockshare_call(SK_NAME, rf, uaddr, ulen, (uint64_t)peer, 0, 0);
	int r = 0;
	struct sock *s = sock_of((int)fd, &r);
	if (!s)
		return r;
	const ip_addr_t *ip = 0;
	u16_t port = 0;
	if (s->type == LX_SOCK_STREAM && s->pcb.tcp) {
		if (peer && s->state != S_CONNECTED)
			return -ENOTCONN;
		ip = peer ? &s->pcb.tcp->remote_ip : &s->pcb.tcp->local_ip;
		port = peer ? s->pcb.tcp->remote_port : s->pcb.tcp->local_port;
	} else if (s->type == LX_SOCK_DGRAM && s->pcb.udp) {
		if (peer && !(s->pcb.udp->flags & UDP_FLAGS_CONNECTED))
			return -ENOTCONN;
		ip = peer ? &s->pcb.udp->remote_ip : &s->pcb.udp->local_ip;
		port = peer ? s->pcb.udp->remote_port : s->pcb.udp->local_port;
		/* a connected socket reports the source address the route gives */
		if (!peer && ip_addr_isany(ip) && (s->pcb.udp->flags & UDP_FLAGS_CONNECTED)) {
			const ip_addr_t *rem = &s->pcb.udp->remote_ip;
			struct netif *n = ip_route(&s->pcb.udp->local_ip, rem);
			if (n)
				ip = IP_IS_V6(rem) ? ip_netif_get_local_ip(n, rem) : &n->ip_addr;
		}
	} else if (s->pcb.raw) {
		if (peer && !(s->pcb.raw->flags & RAW_FLAGS_CONNECTED))
			return -ENOTCONN;
		ip = peer ? &s->pcb.raw->remote_ip : &s->pcb.raw->local_ip;
	} else if (peer) {
		return -ENOTCONN;
	}
	return addr_out(s, (void *)uaddr, (void *)ulen, ip, port);
}

LO_CALL(sys_getsockname) { UNUSED_ARGS; return sock_name(a0, a1, a2, 0); }
LO_CALL(sys_getpeername) { UNUSED_ARGS; return sock_name(a0, a1, a2, 1); }

static uint64_t timeval_ns(const struct lx_timeval *tv)
{
	return (uint64_t)tv->sec * 1000000000ull + (uint64_t)tv->usec * NS_PER_US;
}

/* Our interface with IPv4 address addr (network order), or NULL. */
static struct netif *netif_with_ip4(uint32_t addr)
{
	struct netif *n;
	NETIF_FOREACH(n)
		if (ip4_addr_get_u32(netif_ip4_addr(n)) == addr)
			return n;
	return 0;
}

/* The interface an ip_mreqn names: by index, else by address, else the
 * one the route to the group leaves by. */
static struct netif *mreq_netif(const struct lx_ip_mreqn *m)
{
	if (m->ifindex)
		return m->ifindex > 0 && m->ifindex < 256 ? netif_get_by_index((u8_t)m->ifindex) : 0;
	if (m->address)
		return netif_with_ip4(m->address);
	ip4_addr_t g;
	ip4_addr_set_u32(&g, m->multiaddr);
	return ip4_route(&g);
}

/* IP_MULTICAST_TTL, _LOOP (an int or one byte), _IF (an address, ip_mreq or
 * ip_mreqn), IP_ADD_MEMBERSHIP and IP_DROP_MEMBERSHIP (ip_mreq or
 * ip_mreqn), with Linux's lengths and errors. */
static int set_ip_multicast(struct sock *s, int name, const void *uval, uint64_t len)
{
	int byte = name == LX_IP_MULTICAST_TTL || name == LX_IP_MULTICAST_LOOP;
	if (len < (byte ? 1u : name == LX_IP_MULTICAST_IF ? 4u : 8u))
		return -EINVAL;
	if (s->type == LX_SOCK_STREAM && name != LX_IP_MULTICAST_LOOP)
		return -EINVAL;
	if (byte) {
		int32_t v = 0;
		uint8_t c = 0;
		if (len >= sizeof v ? lo_copy_in(&v, uval, sizeof v) : lo_copy_in(&c, uval, 1))
			return -EFAULT;
		if (len < sizeof v)
			v = c;
		if (name == LX_IP_MULTICAST_TTL && v == -1)
			v = 1;
		if (name == LX_IP_MULTICAST_TTL && (v < 0 || v > 255))
			return -EINVAL;
		*(name == LX_IP_MULTICAST_TTL ? &s->mcast_ttl : &s->mcast_loop) = name == LX_IP_MULTICAST_TTL ? v : v != 0;
		apply_multicast(s);
		return 0;
	}
	struct lx_ip_mreqn m = { 0 };
	uint64_t n = len >= sizeof m ? sizeof m : len >= 8 ? 8 : 4;
	if (lo_copy_in(n == 4 ? (void *)&m.address : (void *)&m, uval, n))
		return -EFAULT;
	if (name == LX_IP_MULTICAST_IF) {
		struct netif *nif = m.ifindex || m.address ? mreq_netif(&m) : 0;
		if ((m.ifindex || m.address) && !nif)
			return -EADDRNOTAVAIL;
		s->mcast_if = nif ? netif_get_index(nif) : 0;
		s->mcast_addr = m.address;
		apply_multicast(s);
		return 0;
	}
	ip_addr_t group;
	ip_addr_set_ip4_u32_val(group, m.multiaddr);
	if (name == LX_IP_ADD_MEMBERSHIP)
		return mcast_join(&s->groups, &group, mreq_netif(&m));
	struct netif *nif = m.ifindex || m.address ? mreq_netif(&m) : 0;
	if ((m.ifindex || m.address) && !nif)
		return -ENODEV;
	return mcast_leave(&s->groups, &group, nif ? netif_get_index(nif) : 0);
}

/* The group and interface of an ipv6_mreq: 0 or -errno. */
static int ipv6_mreq_in(const void *uval, uint64_t len, ip_addr_t *group, struct netif **n)
{
	struct lx_ipv6_mreq m;
	if (len < sizeof m)
		return -EINVAL;
	if (lo_copy_in(&m, uval, sizeof m))
		return -EFAULT;
	uint32_t w[4];
	lo_memcpy(w, m.multiaddr, 16);
	IP_ADDR6(group, w[0], w[1], w[2], w[3]);
	*n = m.ifindex ? (m.ifindex > 0 && m.ifindex < 256 ? netif_get_by_index((u8_t)m.ifindex) : 0) : netif_default;
	if (m.ifindex && !*n)
		return -ENODEV;
	if (*n && ip6_addr_ismulticast_linklocal(ip_2_ip6(group)))
		ip6_addr_set_zone(ip_2_ip6(group), netif_get_index(*n));
	return 0;
}

/* IPPROTO_IPV6 options of an AF_INET6 socket, with Linux's lengths and
 * errors: IPV6_V6ONLY (before bind), IPV6_UNICAST_HOPS, the multicast
 * hops, loop and interface, IPV6_JOIN_GROUP and IPV6_LEAVE_GROUP (MLD). */
static int set_ipv6_option(struct sock *s, int name, const void *uval, uint64_t len)
{
	if (s->family != LX_AF_INET6)
		return -ENOPROTOOPT;
	if (name == LX_IPV6_JOIN_GROUP || name == LX_IPV6_LEAVE_GROUP) {
		if (s->type == LX_SOCK_STREAM)
			return -EPROTO;
		ip_addr_t group;
		struct netif *n;
		int r = ipv6_mreq_in(uval, len, &group, &n);
		if (r)
			return r;
		if (name == LX_IPV6_JOIN_GROUP)
			return mcast_join(&s->groups, &group, n);
		return mcast_leave(&s->groups, &group, n ? netif_get_index(n) : 0);
	}
	int32_t v = 0;
	if (len < sizeof v)
		return -EINVAL;
	if (lo_copy_in(&v, uval, sizeof v))
		return -EFAULT;
	struct ip_pcb *ip = s->pcb.any;
	switch (name) {
	case LX_IPV6_V6ONLY:
		if (s->state != S_NEW || !ip)
			return -EINVAL;
		s->v6only = v != 0;
		if (s->type != LX_SOCK_RAW) {	/* a raw pcb is IPv6 only anyway */
			IP_SET_TYPE_VAL(ip->local_ip, s->v6only ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
			IP_SET_TYPE_VAL(ip->remote_ip, s->v6only ? IPADDR_TYPE_V6 : IPADDR_TYPE_ANY);
		}
		return 0;
	case LX_IPV6_UNICAST_HOPS:
		if (v < -1 || v > 255)
			return -EINVAL;
		if (ip)
			ip->ttl = (u8_t)(v == -1 ? 64 : v);
		return 0;
	case LX_IPV6_MULTICAST_HOPS:
	case LX_IPV6_MULTICAST_LOOP:
	case LX_IPV6_MULTICAST_IF:
		if (s->type == LX_SOCK_STREAM)
			return -ENOPROTOOPT;
		if (name == LX_IPV6_MULTICAST_HOPS && (v < -1 || v > 255))
			return -EINVAL;
		if (name == LX_IPV6_MULTICAST_LOOP && v != 0 && v != 1)
			return -EINVAL;
		if (name == LX_IPV6_MULTICAST_IF && v && (v < 0 || v > 255 || !netif_get_by_index((u8_t)v)))
			return -ENODEV;
		if (name == LX_IPV6_MULTICAST_HOPS)
			s->mcast_ttl = v == -1 ? 1 : v;
		else if (name == LX_IPV6_MULTICAST_LOOP)
			s->mcast_loop = v;
		else
			s->mcast_if = (u8_t)v;
		apply_multicast(s);
		return 0;
	default:
		return -ENOPROTOOPT;
	}
}

LO_CALL(sys_setsockopt)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_SETOPT, rf, a1, a2, a3, a4, a5);
	int r = 0;
	struct sock *s = sock_of((int)a0, &r);
	if (!s)
		return r;
	int level = (int)a1, name = (int)a2;
	uint64_t len = a4;
	union { int32_t i; struct lx_timeval tv; struct lx_linger lg; } v = { 0 };
	if (len > sizeof v)
		len = sizeof v;
	if ((int64_t)a4 < 0)
		return -EINVAL;
	if (level == LX_IPPROTO_IP && name >= LX_IP_MULTICAST_IF && name <= LX_IP_DROP_MEMBERSHIP)
		return set_ip_multicast(s, name, (const void *)a3, a4);
	if (level == LX_IPPROTO_IPV6)
		return set_ipv6_option(s, name, (const void *)a3, a4);
	if (a4 < sizeof(int32_t))
		return -EINVAL;
	if (lo_copy_in(&v, (const void *)a3, len))
		return -EFAULT;
	if (level == LX_SOL_SOCKET) {
		switch (name) {
		case LX_SO_REUSEADDR: case LX_SO_REUSEPORT: s->reuse = v.i != 0; break;
		case LX_SO_BROADCAST: s->broadcast = v.i != 0; break;
		case LX_SO_KEEPALIVE: s->keepalive = v.i != 0; break;
		case LX_SO_RCVBUF: s->rcvbuf = v.i < 1024 ? 2048 : (uint32_t)v.i * 2; break;
		case LX_SO_SNDBUF: s->sndbuf = v.i < 1024 ? 2048 : (uint32_t)v.i * 2; break;
		case LX_SO_RCVTIMEO: case LX_SO_SNDTIMEO:
			if (a4 < sizeof v.tv)
				return -EINVAL;
			if (v.tv.usec < 0 || v.tv.usec >= 1000000)
				return -EDOM;
			if (v.tv.sec < 0)
				v.tv.sec = v.tv.usec = 0;
			*(name == LX_SO_RCVTIMEO ? &s->rcvtimeo : &s->sndtimeo) = timeval_ns(&v.tv);
			break;
		case LX_SO_LINGER:
			if (a4 < sizeof v.lg)
				return -EINVAL;
			s->linger = v.lg;
			break;
		case LX_SO_RCVLOWAT: break;
		default: return -ENOPROTOOPT;
		}
		apply_options(s);
		return 0;
	}
	if (level == LX_IPPROTO_TCP && s->type == LX_SOCK_STREAM) {
		if (name == LX_TCP_NODELAY) {
			s->nodelay = v.i != 0;
			if (s->pcb.tcp && s->state != S_LISTEN) {
				if (v.i)
					tcp_nagle_disable(s->pcb.tcp);
				else
					tcp_nagle_enable(s->pcb.tcp);
			}
			return 0;
		}
		if (name == LX_TCP_MAXSEG || name == LX_TCP_KEEPIDLE || name == LX_TCP_KEEPINTVL ||
		    name == LX_TCP_KEEPCNT)
			return v.i > 0 ? 0 : -EINVAL;
		return -ENOPROTOOPT;
	}
	if (level == LX_IPPROTO_IP) {
		struct ip_pcb *ip = s->pcb.any;
		if (name == LX_IP_TTL && ip && v.i >= 1 && v.i <= 255)
			ip->ttl = (u8_t)v.i;
		else if (name == LX_IP_TOS && ip)
			ip->tos = (u8_t)v.i;
		else
			return name == LX_IP_TTL ? -EINVAL : -ENOPROTOOPT;
		return 0;
	}
	return -ENOPROTOOPT;
}

LO_CALL(sys_getsockopt)
{
	UNUSED_ARGS;
	struct file *rf = remote_file(a0);
	if (rf)
		return sockshare_call(SK_GETOPT, rf, a1, a2, a3, a4, a5);
	int r = 0;
	struct sock *s = sock_of((int)a0, &r);
	if (!s)
		return r;
	int level = (int)a1, name = (int)a2;
	uint32_t ulen;
	if (lo_copy_in(&ulen, (const void *)a4, sizeof ulen))
		return -EFAULT;
	if ((int32_t)ulen < 0)
		return -EINVAL;
	union { int32_t i; struct lx_timeval tv; struct lx_linger lg; } v = { 0 };
	uint32_t size = sizeof v.i;
	if (level == LX_SOL_SOCKET) {
		switch (name) {
		case LX_SO_REUSEADDR: case LX_SO_REUSEPORT: v.i = s->reuse; break;
		case LX_SO_BROADCAST: v.i = s->broadcast; break;
		case LX_SO_KEEPALIVE: v.i = s->keepalive; break;
		case LX_SO_RCVBUF: v.i = (int32_t)s->rcvbuf; break;
		case LX_SO_SNDBUF: v.i = (int32_t)s->sndbuf; break;
		case LX_SO_ERROR: v.i = take_err(s); break;
		case LX_SO_TYPE: v.i = s->type; break;
		case LX_SO_PROTOCOL: v.i = s->protocol; break;
		case LX_SO_DOMAIN: v.i = s->family; break;
		case LX_SO_ACCEPTCONN: v.i = s->state == S_LISTEN; break;
		case LX_SO_RCVLOWAT: v.i = 1; break;
		case LX_SO_RCVTIMEO: case LX_SO_SNDTIMEO: {
			uint64_t ns = name == LX_SO_RCVTIMEO ? s->rcvtimeo : s->sndtimeo;
			v.tv.sec = (int64_t)(ns / 1000000000ull);
			v.tv.usec = (int64_t)(ns % 1000000000ull / NS_PER_US);
			size = sizeof v.tv;
			break;
		}
		case LX_SO_LINGER: v.lg = s->linger; size = sizeof v.lg; break;
		default: return -ENOPROTOOPT;
		}
	} else if (level == LX_IPPROTO_TCP && s->type == LX_SOCK_STREAM) {
		if (name == LX_TCP_NODELAY)
			v.i = s->nodelay;
		else if (name == LX_TCP_MAXSEG)
			v.i = s->pcb.tcp && s->state != S_LISTEN ? tcp_mss(s->pcb.tcp) : TCP_MSS;
		else
			return -ENOPROTOOPT;
	} else if (level == LX_IPPROTO_IPV6 && s->family == LX_AF_INET6 &&
		   (name == LX_IPV6_V6ONLY || name == LX_IPV6_UNICAST_HOPS || name == LX_IPV6_MULTICAST_HOPS ||
		    name == LX_IPV6_MULTICAST_LOOP || name == LX_IPV6_MULTICAST_IF)) {
		struct ip_pcb *ip = s->pcb.any;
		v.i = name == LX_IPV6_V6ONLY ? s->v6only : name == LX_IPV6_UNICAST_HOPS ? (ip ? ip->ttl : 64) :
		      name == LX_IPV6_MULTICAST_HOPS ? s->mcast_ttl : name == LX_IPV6_MULTICAST_LOOP ? s->mcast_loop :
		      s->mcast_if;
	} else if (level == LX_IPPROTO_IP && name == LX_IP_MULTICAST_TTL) {
		v.i = s->mcast_ttl;
	} else if (level == LX_IPPROTO_IP && name == LX_IP_MULTICAST_LOOP) {
		v.i = s->mcast_loop;
	} else if (level == LX_IPPROTO_IP && name == LX_IP_MULTICAST_IF) {
		v.i = (int32_t)s->mcast_addr;
	} else if (level == LX_IPPROTO_IP && (name == LX_IP_TTL || name == LX_IP_TOS)) {
		struct ip_pcb *ip = s->pcb.any;
		v.i = !ip ? 64 : name == LX_IP_TTL ? ip->ttl : ip->tos;
	} else {
		return -ENOPROTOOPT;
	}
	uint32_t n = ulen < size ? ulen : size;
	if (lo_copy_out((void *)a3, &v, n) || lo_copy_out((void *)a4, &n, sizeof n))
		return -EFAULT;
	return 0;
}

LO_CALL(sys_socketpair)
{
	UNUSED_ARGS;
	return a0 == LX_AF_INET || a0 == LX_AF_INET6 ? -EOPNOTSUPP : -EAFNOSUPPORT;	/* no AF_UNIX yet */
}

/* Readiness for poll, select and epoll. */
static int sock_poll(struct file *f)
{
	return sockref_remote(f->priv) ? sockshare_poll(f) : sock_events(f->priv);
}

int sock_events(struct sockref *r)
{
	struct sock *s = sockref_sock(r);
	int ev = 0;
	if (!s)
		return LX_POLLERR | LX_POLLHUP;
	if (s->err)
		ev |= LX_POLLERR;
	if (s->type == LX_SOCK_STREAM) {
		if (s->state == S_LISTEN)
			return ev | (s->acc ? LX_POLLIN : 0);
		if (s->rx || s->eof || s->shut_rd)
			ev |= LX_POLLIN;
		if (s->eof || s->shut_rd)
			ev |= LX_POLLRDHUP;
		if (s->state == S_CONNECTED && can_write_tcp(s) && !s->shut_wr)
			ev |= LX_POLLOUT;
		if (s->state == S_CLOSED || (s->eof && s->shut_wr) || s->state == S_NEW || s->state == S_BOUND)
			ev |= LX_POLLHUP | (s->state == S_CLOSED ? LX_POLLOUT : 0);
		return ev;
	}
	if (s->rx)
		ev |= LX_POLLIN;
	if (!s->shut_wr)
		ev |= LX_POLLOUT;
	return ev;
}

static int64_t sock_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	if (sockref_remote(f->priv))
		return sockshare_ioctl(f, cmd, arg);
	struct sock *s = sock_here(f);
	if (!s)
		return -EBADF;
	if (cmd == 0x541b) {				/* FIONREAD */
		netstack_poll();
		int32_t n = (int32_t)(s->type == LX_SOCK_STREAM || !s->rx ? s->rx_bytes : s->rx->p->tot_len);
		return lo_copy_out((void *)arg, &n, sizeof n) ? -EFAULT : 0;
	}
	return -ENOTTY;
}

static int sock_stat(struct file *f, struct lx_stat *st)
{
	return anon_stat(f, st, LX_S_IFSOCK | 0777);
}

const struct file_ops sock_fops = {
	.read = sock_read,
	.write = sock_write,
	.ioctl = sock_ioctl,
	.stat = sock_stat,
	.poll = sock_poll,
	.release = sock_release,
};
