/*
 * The network of the library OS (docs/NETWORK.md), seen by an ordinary
 * socket program.  tests/suites/28-network.sh runs it in several modes:
 *   local                  in-guest checks: loopback TCP and UDP, readiness
 *                          through poll, select and epoll, eventfd, socket
 *                          options, errors, timeouts, ping of the gateway
 *   addr                   prints the address the interface got
 *   tcp-server PORT N      echoes N TCP connections (reached through -p)
 *   udp-server PORT N      echoes N datagrams
 *   tcp-client IP PORT B   sends B pseudo-random bytes to an echo server and
 *                          checks that the same bytes come back (retrying
 *                          the connection for 60 s while a server boots)
 *   udp-client IP PORT     datagrams to an echo server and back
 *   resolve NAME           getaddrinfo, prints the IPv4 address
 */
#include "check.h"
#include "netutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* FNV-1a over a stream, and the stream itself: a xorshift generator. */
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void fill(uint8_t *p, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i++) {
		*state ^= *state << 13;
		*state ^= *state >> 7;
		*state ^= *state << 17;
		p[i] = (uint8_t)*state;
	}
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* ------------------------------------------------------------ servers */

static int tcp_server(int port, int conns)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	if (bind(l, (void *)&a, sizeof a) || listen(l, 8)) {
		perror("tcp-server");
		return 1;
	}
	printf("listening on %d\n", port);
	fflush(stdout);
	static uint8_t buf[65536];
	for (int c = 0; c < conns; c++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		int s = accept(l, (void *)&peer, &pl);
		if (s < 0) {
			perror("accept");
			return 1;
		}
		uint64_t total = 0;
		ssize_t n;
		while ((n = read(s, buf, sizeof buf)) > 0) {
			if (write_all(s, buf, (size_t)n))
				break;
			total += (uint64_t)n;
		}
		printf("connection %d echoed %llu bytes\n", c, (unsigned long long)total);
		fflush(stdout);
		close(s);
	}
	close(l);
	return 0;
}

static int udp_server(int port, int count)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	if (bind(s, (void *)&a, sizeof a)) {
		perror("udp-server");
		return 1;
	}
	char buf[2048];
	for (int i = 0; i < count; i++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof peer;
		ssize_t n = recvfrom(s, buf, sizeof buf, 0, (void *)&peer, &pl);
		if (n < 0)
			return 1;
		sendto(s, buf, (size_t)n, 0, (void *)&peer, pl);
	}
	printf("udp echoed %d datagrams\n", count);
	return 0;
}

/* ------------------------------------------------------------ clients */

/* Sends bytes to an echo server while reading the echo (poll decides
 * which), then compares checksums of what went and what came back. */
static int tcp_client(const char *ip, int port, uint64_t bytes)
{
	struct sockaddr_in a = sin_of(ip, port);
	uint64_t t0 = now_ms();
	/* a server in another guest may still be booting: retry for 60 s */
	int s = socket(AF_INET, SOCK_STREAM, 0), r;
	while ((r = connect(s, (void *)&a, sizeof a)) && now_ms() - t0 < 60000) {
		close(s);
		usleep(500000);
		s = socket(AF_INET, SOCK_STREAM, 0);
	}
	EXPECT("tcp-client-connect", r == 0);
	t0 = now_ms();
	fcntl(s, F_SETFL, O_NONBLOCK);
	static uint8_t out[32768], in[65536];
	uint64_t sent = 0, got = 0, state = 0x9e3779b97f4a7c15ull, h_out = 0xcbf29ce484222325ull;
	uint64_t h_in = h_out;
	size_t pending = 0, off = 0;
	while (got < bytes) {
		struct pollfd p = { s, POLLIN | (sent < bytes ? POLLOUT : 0), 0 };
		if (poll(&p, 1, 10000) <= 0)
			break;
		if ((p.revents & POLLOUT) && sent < bytes) {
			if (off == pending) {
				pending = bytes - sent < sizeof out ? (size_t)(bytes - sent) : sizeof out;
				fill(out, pending, &state);
				h_out = fnv(h_out, out, pending);
				off = 0;
			}
			ssize_t w = write(s, out + off, pending - off);
			if (w > 0) {
				off += (size_t)w;
				sent += (uint64_t)w;
			}
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(s, in, sizeof in);
			if (r == 0)
				break;
			if (r > 0) {
				h_in = fnv(h_in, in, (size_t)r);
				got += (uint64_t)r;
			}
		}
	}
	uint64_t ms = now_ms() - t0;
	close(s);
	EXPECT("tcp-client-all-bytes-back", sent == bytes && got == bytes);
	EXPECT("tcp-client-checksum-matches", h_in == h_out);
	printf("info tcp-client %llu bytes each way in %llu ms, checksum %016llx\n",
	       (unsigned long long)bytes, (unsigned long long)ms, (unsigned long long)h_in);
	return failures != 0;
}

static int udp_client(const char *ip, int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of(ip, port);
	struct timeval tv = { 2, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int echoed = 0;
	for (int i = 0; i < 20; i++) {
		char msg[64], back[64];
		int n = snprintf(msg, sizeof msg, "datagram %d", i);
		sendto(s, msg, (size_t)n, 0, (void *)&a, sizeof a);
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t r = recvfrom(s, back, sizeof back, 0, (void *)&from, &fl);
		if (r == n && !memcmp(msg, back, (size_t)n) && from.sin_port == a.sin_port)
			echoed++;
	}
	EXPECT("udp-client-echoes", echoed >= 19);
	printf("info udp-client %d of 20 echoed\n", echoed);
	return failures != 0;
}

static int resolve(const char *name)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res = 0;
	int r = getaddrinfo(name, "80", &hints, &res);
	if (r) {
		printf("resolve %s: %s\n", name, gai_strerror(r));
		return 1;
	}
	char ip[32];
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, ip, sizeof ip);
	printf("resolved %s %s\n", name, ip);
	freeaddrinfo(res);
	return 0;
}

static int print_addr(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of("10.0.2.2", 9), me;
	socklen_t ml = sizeof me;
	connect(s, (void *)&a, sizeof a);
	getsockname(s, (void *)&me, &ml);
	char ip[32];
	inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip);
	printf("address %s\n", ip);
	FILE *f = fopen("/etc/resolv.conf", "r");
	char line[128];
	while (f && fgets(line, sizeof line, f))
		printf("resolv.conf: %s", line);
	return 0;
}

/* A datagram from and to the static IPv6 address addr (EXO_IP6): bound
 * to it (EADDRNOTAVAIL unless the interface has it) and looped back. */
static int self6(const char *addr)
{
	int u = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(7997) };
	char got[8] = "";
	EXPECT("self6-address", inet_pton(AF_INET6, addr, &a.sin6_addr) == 1);
	int bound = bind(u, (void *)&a, sizeof a) == 0;
	EXPECT("self6-bind", bound);
	if (!bound)
		return 1;
	EXPECT("self6-loop", sendto(u, "six", 3, 0, (void *)&a, sizeof a) == 3 &&
			     recv(u, got, sizeof got, 0) == 3 && !memcmp(got, "six", 3));
	close(u);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------- local checks */

static void check_errors(void)
{
	errno = 0;
	EXPECT("socket-bad-family", socket(12345, SOCK_STREAM, 0) < 0 && errno == EAFNOSUPPORT);
	EXPECT("socket-ipv6", socket(AF_INET6, SOCK_STREAM, 0) >= 0);
	EXPECT("socket-bad-type", socket(AF_INET, 9, 0) < 0 && errno == ESOCKTNOSUPPORT);
	EXPECT("socket-bad-protocol", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP) < 0 && errno == EPROTONOSUPPORT);
	EXPECT("not-a-socket", send(1, "x", 1, 0) < 0 && errno == ENOTSOCK);
	EXPECT("bad-descriptor", send(999, "x", 1, 0) < 0 && errno == EBADF);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT("send-not-connected", send(s, "x", 1, 0) < 0 && errno == ENOTCONN);
	EXPECT("bind-bad-pointer", bind(s, (void *)16, 16) < 0 && errno == EFAULT);
	struct sockaddr_in a = sin_of("10.9.9.9", 5000);
	EXPECT("bind-foreign-address", bind(s, (void *)&a, sizeof a) < 0 && errno == EADDRNOTAVAIL);
	EXPECT("bind-short-length", bind(s, (void *)&a, 4) < 0 && errno == EINVAL);
	struct stat st;
	EXPECT("fstat-is-socket", fstat(s, &st) == 0 && S_ISSOCK(st.st_mode));
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	EXPECT("udp-send-no-address", send(u, "x", 1, 0) < 0 && errno == EDESTADDRREQ);
	struct sockaddr_in bc = sin_of("255.255.255.255", 9);
	EXPECT("udp-broadcast-needs-option", sendto(u, "x", 1, 0, (void *)&bc, sizeof bc) < 0 && errno == EACCES);
	int one = 1;
	setsockopt(u, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
	EXPECT("udp-broadcast-with-option", sendto(u, "x", 1, 0, (void *)&bc, sizeof bc) == 1);
	EXPECT("socketpair-unix-unsupported", socketpair(AF_UNIX, SOCK_STREAM, 0, (int[2]){ 0, 0 }) < 0);
	close(s);
	close(u);
}

static void check_options(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0), v = 0, one = 1;
	socklen_t l = sizeof v;
	EXPECT("so-type", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l) == 0 && v == SOCK_STREAM);
	EXPECT("so-reuseaddr", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
	       getsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, &l) == 0 && v == 1);
	int want = 100000;
	EXPECT("so-rcvbuf-doubled", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &want, sizeof want) == 0 &&
	       getsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, &l) == 0 && v == 200000);
	EXPECT("so-sndbuf-doubled", setsockopt(s, SOL_SOCKET, SO_SNDBUF, &want, sizeof want) == 0 &&
	       getsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, &l) == 0 && v == 200000);
	EXPECT("tcp-nodelay", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0 &&
	       getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l) == 0 && v == 1);
	struct timeval tv = { 1, 500000 }, back;
	socklen_t tl = sizeof back;
	EXPECT("so-sndtimeo", setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == 0 &&
	       getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &back, &tl) == 0 && back.tv_sec == 1 &&
	       back.tv_usec == 500000);
	tv.tv_usec = 2000000;
	EXPECT("so-rcvtimeo-bad-usec", setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 && errno == EDOM);
	EXPECT("so-error-clear", getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &l) == 0 && v == 0);
	EXPECT("unknown-option", setsockopt(s, SOL_SOCKET, 9999, &one, sizeof one) < 0 && errno == ENOPROTOOPT);
	close(s);
}

/* A loopback TCP pair: listener, client and accepted server socket. */
static void tcp_pair(int port, int *l, int *c, int *srv)
{
	*l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = sin_of("127.0.0.1", port);
	EXPECT("loop-bind-listen", bind(*l, (void *)&a, sizeof a) == 0 && listen(*l, 4) == 0);
	*c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int r = connect(*c, (void *)&a, sizeof a);
	EXPECT("loop-nonblocking-connect-in-progress", r == 0 || errno == EINPROGRESS);
	struct pollfd p = { *c, POLLOUT, 0 };
	EXPECT("loop-connect-completes", poll(&p, 1, 2000) == 1 && (p.revents & POLLOUT));
	struct sockaddr_in peer;
	socklen_t pl = sizeof peer;
	*srv = accept4(*l, (void *)&peer, &pl, SOCK_NONBLOCK);
	EXPECT("loop-accept4", *srv >= 0 && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
	       (fcntl(*srv, F_GETFL) & O_NONBLOCK));
}

static void check_loopback_tcp(void)
{
	int l, c, s;
	tcp_pair(7001, &l, &c, &s);
	struct sockaddr_in a;
	socklen_t al = sizeof a;
	struct sockaddr_in cl;
	socklen_t cll = sizeof cl;
	EXPECT("getpeername", getpeername(s, (void *)&a, &al) == 0 && getsockname(c, (void *)&cl, &cll) == 0 &&
	       a.sin_port == cl.sin_port && a.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
	al = sizeof a;
	EXPECT("getsockname-port", getsockname(s, (void *)&a, &al) == 0 && ntohs(a.sin_port) == 7001);
	char buf[64];
	EXPECT("nonblocking-read-eagain", read(s, buf, sizeof buf) < 0 && errno == EAGAIN);
	int l2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a2 = sin_of("127.0.0.1", 7002);
	bind(l2, (void *)&a2, sizeof a2);
	listen(l2, 1);
	EXPECT("nonblocking-accept-eagain", accept(l2, 0, 0) < 0 && errno == EAGAIN);
	struct sockaddr_in taken = sin_of("127.0.0.1", 7002);
	int l3 = socket(AF_INET, SOCK_STREAM, 0);
	EXPECT("bind-in-use", bind(l3, (void *)&taken, sizeof taken) < 0 && errno == EADDRINUSE);
	close(l3);
	close(l2);

	/* readiness: nothing, then data, through poll, select and epoll */
	struct pollfd p = { s, POLLIN, 0 };
	EXPECT("poll-not-readable", poll(&p, 1, 0) == 0);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0xabcdef };
	EXPECT("epoll-ctl-add", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
	EXPECT("epoll-ctl-add-twice", epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST);
	struct epoll_event got[4];
	uint64_t t0 = now_ms();
	EXPECT("epoll-wait-times-out", epoll_wait(ep, got, 4, 200) == 0 && now_ms() - t0 >= 190);
	EXPECT("send-loopback", send(c, "hello", 5, 0) == 5);
	EXPECT("poll-readable", poll(&p, 1, 1000) == 1 && (p.revents & POLLIN));
	fd_set rd;
	FD_ZERO(&rd);
	FD_SET(s, &rd);
	struct timeval tv = { 1, 0 };
	EXPECT("select-readable", select(s + 1, &rd, 0, 0, &tv) == 1 && FD_ISSET(s, &rd));
	EXPECT("epoll-wait-readable", epoll_wait(ep, got, 4, 1000) == 1 && got[0].data.u64 == 0xabcdef &&
	       (got[0].events & EPOLLIN));
	int avail = 0;
	EXPECT("fionread", ioctl(s, FIONREAD, &avail) == 0 && avail == 5);
	EXPECT("recv-peek", recv(s, buf, sizeof buf, MSG_PEEK) == 5 && !memcmp(buf, "hello", 5));
	EXPECT("recv-data", recv(s, buf, sizeof buf, 0) == 5 && !memcmp(buf, "hello", 5));
	EXPECT("poll-drained", poll(&p, 1, 0) == 0);
	/* writev/readv through the socket's file ops */
	EXPECT("write-reply", write(s, "world!", 6) == 6);
	p.fd = c;
	poll(&p, 1, 1000);
	EXPECT("read-reply", read(c, buf, sizeof buf) == 6 && !memcmp(buf, "world!", 6));
	/* shutdown: the peer reads end of file, readable and RDHUP */
	EXPECT("shutdown-write", shutdown(c, SHUT_WR) == 0);
	p = (struct pollfd){ s, POLLIN | POLLRDHUP, 0 };
	EXPECT("poll-eof", poll(&p, 1, 1000) == 1 && (p.revents & POLLRDHUP));
	EXPECT("read-eof", read(s, buf, sizeof buf) == 0);
	EXPECT("send-after-shutdown", send(c, "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE);
	EXPECT("epoll-ctl-del", epoll_ctl(ep, EPOLL_CTL_DEL, s, 0) == 0 &&
	       epoll_ctl(ep, EPOLL_CTL_DEL, s, 0) < 0 && errno == ENOENT);
	close(ep);
	close(s);
	close(c);
	close(l);

	/* a connection refused on loopback */
	int r = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in nobody = sin_of("127.0.0.1", 7999);
	EXPECT("connect-refused", connect(r, (void *)&nobody, sizeof nobody) < 0 && errno == ECONNREFUSED);
	close(r);
}

static void check_bulk_loopback(void)
{
	int l, c, s;
	tcp_pair(7003, &l, &c, &s);
	static uint8_t out[16384], in[16384];
	uint64_t state = 42, h_out = 1, h_in = 1, sent = 0, got = 0, total = 1 << 20;
	size_t pend = 0, off = 0;
	int ep = epoll_create1(0);
	struct epoll_event e1 = { .events = EPOLLOUT, .data.fd = c }, e2 = { .events = EPOLLIN, .data.fd = s };
	epoll_ctl(ep, EPOLL_CTL_ADD, c, &e1);
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &e2);
	while (got < total) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, 5000);
		if (n <= 0)
			break;
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == c && sent < total) {
				if (off == pend) {
					pend = sizeof out;
					fill(out, pend, &state);
					h_out = fnv(h_out, out, pend);
					off = 0;
				}
				ssize_t w = write(c, out + off, pend - off);
				if (w > 0) {
					off += (size_t)w;
					sent += (uint64_t)w;
				}
				if (sent == total)
					epoll_ctl(ep, EPOLL_CTL_DEL, c, 0);
			} else if (evs[i].data.fd == s) {
				ssize_t r = read(s, in, sizeof in);
				if (r > 0) {
					h_in = fnv(h_in, in, (size_t)r);
					got += (uint64_t)r;
				}
			}
		}
	}
	EXPECT("loopback-1mib-epoll", got == total && h_in == h_out);
	close(ep);
	close(c);
	close(s);
	close(l);
}

static void check_udp_loopback(void)
{
	int a = socket(AF_INET, SOCK_DGRAM, 0), b = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in aa = sin_of("127.0.0.1", 7100), ba = sin_of("127.0.0.1", 7101), from;
	bind(a, (void *)&aa, sizeof aa);
	bind(b, (void *)&ba, sizeof ba);
	char buf[32];
	EXPECT("udp-nonblocking-eagain", recv(b, buf, sizeof buf, 0) < 0 && errno == EAGAIN);
	EXPECT("udp-sendto", sendto(a, "ping-udp", 8, 0, (void *)&ba, sizeof ba) == 8);
	struct pollfd p = { b, POLLIN, 0 };
	poll(&p, 1, 1000);
	socklen_t fl = sizeof from;
	EXPECT("udp-truncated", recvfrom(b, buf, 4, MSG_TRUNC, (void *)&from, &fl) == 8 &&
	       !memcmp(buf, "ping", 4) && ntohs(from.sin_port) == 7100);
	struct iovec iov[2] = { { buf, 3 }, { buf + 3, 10 } };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = iov, .msg_iovlen = 2 };
	sendto(a, "scattered", 9, 0, (void *)&ba, sizeof ba);
	poll(&p, 1, 1000);
	EXPECT("udp-recvmsg-iov", recvmsg(b, &m, 0) == 9 && !memcmp(buf, "scattered", 9) &&
	       m.msg_namelen == sizeof from);
	struct timeval tv = { 0, 300000 };
	setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	uint64_t t0 = now_ms();
	EXPECT("so-rcvtimeo-expires", recv(a, buf, sizeof buf, 0) < 0 && errno == EAGAIN &&
	       now_ms() - t0 >= 290 && now_ms() - t0 < 2000);
	close(a);
	close(b);
}

static void check_eventfd(void)
{
	int e = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 0;
	EXPECT("eventfd-empty-eagain", read(e, &v, 8) < 0 && errno == EAGAIN);
	v = 3;
	EXPECT("eventfd-write", write(e, &v, 8) == 8 && write(e, &v, 8) == 8);
	struct pollfd p = { e, POLLIN, 0 };
	EXPECT("eventfd-poll", poll(&p, 1, 0) == 1);
	v = 0;
	EXPECT("eventfd-read-sum", read(e, &v, 8) == 8 && v == 6);
	EXPECT("eventfd-short-read", read(e, &v, 4) < 0 && errno == EINVAL);
	close(e);
	int sem = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK);
	EXPECT("eventfd-semaphore", read(sem, &v, 8) == 8 && v == 1 && read(sem, &v, 8) == 8 &&
	       read(sem, &v, 8) < 0);
	close(sem);
}

/* ICMP echo to the gateway over a raw socket. */

static void check_ping(void)
{
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	EXPECT("raw-icmp-socket", s >= 0);
	struct sockaddr_in gw = sin_of("10.0.2.2", 0);
	int replies = 0;
	for (int seq = 1; seq <= 3; seq++) {
		uint8_t pkt[64] = { 8, 0, 0, 0, 0x12, 0x34, 0, (uint8_t)seq };
		memcpy(pkt + 8, "exoswarm ping payload", 21);
		uint16_t c = inet_csum(pkt, 29);
		pkt[2] = (uint8_t)(c >> 8);
		pkt[3] = (uint8_t)c;
		sendto(s, pkt, 29, 0, (void *)&gw, sizeof gw);
		uint64_t t0 = now_ms();
		while (now_ms() - t0 < 2000) {
			uint8_t in[256];
			struct pollfd p = { s, POLLIN, 0 };
			if (poll(&p, 1, 2000) != 1)
				break;
			ssize_t n = recv(s, in, sizeof in, 0);
			int hl = (in[0] & 15) * 4;
			if (n >= hl + 8 && in[hl] == 0 && in[hl + 4] == 0x12 && in[hl + 7] == seq &&
			    !memcmp(in + hl + 8, "exoswarm ping payload", 21)) {
				replies++;
				break;
			}
		}
	}
	EXPECT("ping-gateway", replies == 3);
	close(s);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	const char *mode = argc > 1 ? argv[1] : "local";
	if (!strcmp(mode, "tcp-server") && argc == 4)
		return tcp_server(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(mode, "udp-server") && argc == 4)
		return udp_server(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(mode, "tcp-client") && argc == 5)
		return tcp_client(argv[2], atoi(argv[3]), strtoull(argv[4], 0, 10));
	if (!strcmp(mode, "udp-client") && argc == 4)
		return udp_client(argv[2], atoi(argv[3]));
	if (!strcmp(mode, "resolve") && argc == 3)
		return resolve(argv[2]);
	if (!strcmp(mode, "self6") && argc == 3)
		return self6(argv[2]);
	if (!strcmp(mode, "addr"))
		return print_addr();
	check_errors();
	check_options();
	check_loopback_tcp();
	check_bulk_loopback();
	check_udp_loopback();
	check_eventfd();
	if (argc > 2 && !strcmp(argv[2], "ping"))
		check_ping();
	printf(failures ? "some checks failed\n" : "all checks passed\n");
	return failures ? 1 : 0;
}
