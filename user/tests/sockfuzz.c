/*
 * The socket calls under random arguments, in the guest, through the real
 * library OS (musl's syscall into the personality, net/lwip/socket.c over
 * lwIP's loopback): random calls from socket to epoll_wait on the sockets
 * it made and on descriptors it did not, with addresses, lengths, option
 * names, flags and pointers that are sometimes right and sometimes not
 * (NULL, the kernel's half, unmapped, running off the end of a page).
 * Sockets are made non-blocking or get 20 ms timeouts, and waits are
 * bounded, so no call waits for a peer that never comes.
 *   sockfuzz [SECONDS]	(default 20: stops after that much elapsed time)
 * Pass: every call returns; afterwards a loopback TCP connection still
 * carries data both ways.
 */
#include "check.h"
#include "netutil.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAXS 24

static uint64_t rng = 0x2545f4914f6cdd1dull;
static int socks[MAXS], nsocks;
static uint8_t *mem;			/* two pages; the second is unmapped */
static uint8_t buf[70000];

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t pick(uint64_t n)
{
	return next() % n;
}

/* A descriptor: mostly a socket made here, sometimes another kind or none. */
static long fd(void)
{
	static const long others[] = { -1, 1000, 99999, 0x7fffffff };
	if (nsocks && pick(8))
		return socks[pick((uint64_t)nsocks)];
	return others[pick(4)];
}

/* A socket address in the page: IPv4 or IPv6 loopback on a few ports,
 * AF_UNSPEC, or random bytes. */
static void *addr(socklen_t *len)
{
	uint8_t *a = mem + pick(4) * 256;
	int k = (int)pick(5);
	if (k == 0) {
		struct sockaddr_in s = sin_of(pick(2) ? "127.0.0.1" : "0.0.0.0", 7000 + (int)pick(4));
		memcpy(a, &s, sizeof s);
		*len = sizeof s;
	} else if (k == 1) {
		struct sockaddr_in6 s = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)(7000 + pick(4))),
					  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
		if (pick(2))
			s.sin6_addr = in6addr_any;
		memcpy(a, &s, sizeof s);
		*len = sizeof s;
	} else if (k == 2) {
		memset(a, 0, 16);
		*len = (socklen_t)pick(17);
	} else {
		for (int i = 0; i < 32; i++)
			a[i] = (uint8_t)next();
		*len = (socklen_t)pick(40);
	}
	return a;
}

/* A pointer: mostly into the page, sometimes not the program's memory. */
static void *ptr(void)
{
	switch (pick(10)) {
	case 0: return NULL;
	case 1: return (void *)0xffff800000001000ull;		/* the kernel's half */
	case 2: return mem + 4096;				/* unmapped */
	case 3: return mem + 4096 - pick(16);			/* runs off the page */
	default: return mem + pick(4000);
	}
}

static size_t len(void)
{
	switch (pick(4)) {
	case 0: return pick(64);
	case 1: return pick(sizeof buf);
	case 2: return (size_t)next();
	default: return 16 + pick(2) * 12;
	}
}

static int msg_flags(void)
{
	static const int bits[] = { MSG_PEEK, MSG_WAITALL, MSG_TRUNC, MSG_MORE, MSG_NOSIGNAL, MSG_OOB, MSG_EOR };
	int f = MSG_DONTWAIT;			/* a blocking receive waits its timeout */
	for (int i = 0; i < 7; i++)
		if (pick(4) == 0)
			f |= bits[i];
	return f;
}

/* A new socket, kept non-blocking or with 20 ms timeouts. */
static void keep(long s)
{
	if (s < 0)
		return;
	if (nsocks == MAXS) {
		int i = (int)pick(MAXS);
		close(socks[i]);
		socks[i] = socks[--nsocks];
	}
	struct timeval tv = { 0, 20000 };
	setsockopt((int)s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt((int)s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	socks[nsocks++] = (int)s;
}

static void forget(long s)
{
	for (int i = 0; i < nsocks; i++)
		if (socks[i] == s) {
			socks[i] = socks[--nsocks];
			return;
		}
}

static long option_call(int get)
{
	static const int levels[] = { SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_IPV6, IPPROTO_UDP, -1 };
	int level = levels[pick(6)], name = (int)pick(pick(8) ? 64 : 0x10000);
	long s = fd();
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))
		name = SO_KEEPALIVE;		/* the timeouts stay bounded */
	if (get) {
		socklen_t *l = (socklen_t *)(mem + 3000);
		*l = (socklen_t)pick(40);
		return syscall(SYS_getsockopt, s, level, name, ptr(), pick(8) ? (void *)l : ptr());
	}
	return syscall(SYS_setsockopt, s, level, name, ptr(), pick(2) ? 4 : len());
}

static long io_call(int k)
{
	socklen_t al;
	void *a = addr(&al);
	long s = fd();
	size_t n = len() % sizeof buf;
	struct iovec iov[2] = { { buf, n / 2 }, { pick(4) ? buf + n / 2 : ptr(), n - n / 2 } };
	struct msghdr m = { .msg_name = pick(2) ? a : NULL, .msg_namelen = al, .msg_iov = iov,
			    .msg_iovlen = pick(8) ? 2 : (size_t)next() };
	switch (k) {
	case 0: return syscall(SYS_sendto, s, pick(8) ? (void *)buf : ptr(), n, msg_flags(), pick(2) ? a : NULL, al);
	case 1: return syscall(SYS_recvfrom, s, pick(8) ? (void *)buf : ptr(), n, msg_flags(),
			       pick(2) ? ptr() : NULL, pick(2) ? ptr() : NULL);
	case 2: return syscall(SYS_sendmsg, s, pick(8) ? (void *)&m : ptr(), msg_flags());
	case 3: return syscall(SYS_recvmsg, s, pick(8) ? (void *)&m : ptr(), msg_flags());
	case 4: return syscall(SYS_read, s, pick(8) ? (void *)buf : ptr(), n);
	default: return syscall(SYS_write, s, pick(8) ? (void *)buf : ptr(), n);
	}
}

static long wait_call(int k)
{
	struct pollfd p[4];
	for (int i = 0; i < 4; i++)
		p[i] = (struct pollfd){ .fd = (int)fd(), .events = (short)next() };
	switch (k) {
	case 0: return poll(p, pick(5), (int)pick(3));
	case 1: {
		fd_set r, w;
		FD_ZERO(&r);
		FD_ZERO(&w);
		for (int i = 0; i < nsocks; i++)
			if (pick(2))
				FD_SET(socks[i], pick(2) ? &r : &w);
		struct timeval tv = { 0, (long)pick(3000) };
		return select(FD_SETSIZE < 1024 ? FD_SETSIZE : 1024, &r, &w, NULL, &tv);
	}
	default: {
		int e = epoll_create1(0);
		struct epoll_event ev = { .events = (uint32_t)next() & ~EPOLLEXCLUSIVE }, out[4];
		for (int i = 0; i < 3; i++)
			epoll_ctl(e, (int)pick(4), (int)fd(), pick(8) ? &ev : ptr());
		long r = epoll_wait(e, out, (int)pick(5), (int)pick(3));
		close(e);
		return r;
	}
	}
}

static long one_call(void)
{
	socklen_t al;
	void *a;
	long s, r;
	switch (pick(20)) {
	case 0: case 1: {
		static const int fams[] = { AF_INET, AF_INET6, AF_UNIX, AF_PACKET, -1 };
		static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET, 77 };
		int t = types[pick(5)] | SOCK_NONBLOCK | (pick(2) ? SOCK_CLOEXEC : 0);
		r = syscall(SYS_socket, fams[pick(pick(4) ? 2 : 5)], t, pick(4) ? 0 : (int)pick(300));
		keep(r);
		return r;
	}
	case 2: a = addr(&al); return syscall(SYS_bind, fd(), pick(8) ? a : ptr(), al);
	case 3: return syscall(SYS_listen, fd(), (int)pick(10) - 2);
	case 4: {
		socklen_t *l = (socklen_t *)(mem + 3100);
		*l = (socklen_t)pick(40);
		r = syscall(SYS_accept4, fd(), pick(2) ? ptr() : NULL, pick(2) ? (void *)l : ptr(),
			    SOCK_NONBLOCK | (pick(4) ? 0 : (int)next() & ~SOCK_NONBLOCK));
		keep(r);
		return r;
	}
	case 5: a = addr(&al); return syscall(SYS_connect, fd(), pick(8) ? a : ptr(), al);
	case 6: case 7: case 8: case 9: case 10: case 11: return io_call((int)pick(6));
	case 12: return syscall(SYS_shutdown, fd(), (int)pick(4));
	case 13: {
		socklen_t *l = (socklen_t *)(mem + 3200);
		*l = (socklen_t)pick(40);
		return syscall(pick(2) ? SYS_getsockname : SYS_getpeername, fd(), ptr(), pick(8) ? (void *)l : ptr());
	}
	case 14: return option_call(0);
	case 15: return option_call(1);
	case 16: return ioctl((int)fd(), pick(2) ? FIONREAD : FIONBIO, pick(4) ? (void *)(mem + 3300) : ptr());
	case 17: return wait_call((int)pick(3));
	case 18: {
		int sv[2];
		return syscall(SYS_socketpair, pick(2) ? AF_UNIX : AF_INET, SOCK_STREAM, 0, pick(2) ? (void *)sv : ptr());
	}
	default:
		if (pick(4))
			return 0;
		s = fd();
		r = close((int)s);
		if (r == 0)
			forget(s);
		return r;
	}
}

/* A TCP connection over the loopback, 64 KiB each way. */
static int loopback_works(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = sin_of("127.0.0.1", 7999);
	if (bind(l, (void *)&a, sizeof a) || listen(l, 1) || connect(c, (void *)&a, sizeof a))
		return 0;
	int s = accept(l, NULL, NULL);
	if (s < 0)
		return 0;
	static uint8_t out[65536], in[65536];
	for (size_t i = 0; i < sizeof out; i++)
		out[i] = (uint8_t)(i * 7);
	size_t sent = 0, got = 0;
	while (got < sizeof in) {
		if (sent < sizeof out) {
			ssize_t n = send(c, out + sent, sizeof out - sent, MSG_DONTWAIT);
			if (n > 0)
				sent += (size_t)n;
		}
		ssize_t n = recv(s, in + got, sizeof in - got, sent < sizeof out ? MSG_DONTWAIT : 0);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return 0;
	}
	int ok = !memcmp(in, out, sizeof in) && send(s, "back", 4, 0) == 4 && recv(c, in, 4, 0) == 4;
	close(s);
	close(c);
	close(l);
	return ok && !memcmp(in, "back", 4);
}

/* A datagram to the loopback; without a NIC the broadcast check of
 * sendto used to read through lwIP's missing default interface. */
static int udp_loopback_works(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of("127.0.0.1", 7998);
	char got[8] = "";
	int ok = u >= 0 && bind(u, (void *)&a, sizeof a) == 0 &&
		 sendto(u, "dgram", 5, 0, (void *)&a, sizeof a) == 5 && recv(u, got, sizeof got, 0) == 5;
	close(u);
	return ok && !memcmp(got, "dgram", 5);
}

int main(int argc, char **argv)
{
	uint64_t seconds = argc > 1 ? strtoull(argv[1], 0, 10) : 20;
	mem = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT("arena", mem != MAP_FAILED && munmap(mem + 4096, 4096) == 0);
	EXPECT("udp-to-loopback", udp_loopback_works());
	uint64_t end = now_ms() + seconds * 1000, calls = 0, errors = 0;
	while (now_ms() < end) {
		for (int i = 0; i < 64; i++, calls++)
			if (one_call() < 0)
				errors++;
	}
	while (nsocks)
		close(socks[--nsocks]);
	printf("info %llu socket calls in %llu s, %llu answered with an error\n", (unsigned long long)calls,
	       (unsigned long long)seconds, (unsigned long long)errors);
	EXPECT("calls-made", calls > 1000 && errors < calls);
	EXPECT("loopback-still-works", loopback_works());
	return failures ? 1 : 0;
}
