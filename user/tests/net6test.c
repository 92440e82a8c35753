/*
 * IPv6 in the library OS (docs/NETWORK.md), seen by an ordinary socket
 * program.  tests/suites/29-network-ipv6.sh runs it:
 *   local                  in-guest checks: the SLAAC address, AF_INET6 TCP
 *                          and UDP over ::1, v4-mapped addresses and
 *                          IPV6_V6ONLY, MLD groups, ICMPv6 echo answered
 *   tcp-client IP6 PORT B  B bytes to an echo server and back, checked
 *   udp-client IP6 PORT    datagrams to an echo server and back
 *   resolve NAME           getaddrinfo AF_INET6, prints the address
 */
#include "check.h"
#include "netutil.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/icmp6.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in6 sin6_of(const char *ip, int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return a;
}

static const char *text6(const struct sockaddr_in6 *a)
{
	static char buf[64];
	return inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
}

/* Our global address: the source the route to fec0::2 gives (waits up to
 * 10 s for SLAAC). */
static int own_address(struct sockaddr_in6 *me)
{
	for (uint64_t end = now_ms() + 10000; now_ms() < end; usleep(200000)) {
		int s = socket(AF_INET6, SOCK_DGRAM, 0);
		struct sockaddr_in6 gw = sin6_of("fec0::2", 9);
		socklen_t l = sizeof *me;
		int ok = connect(s, (void *)&gw, sizeof gw) == 0 && getsockname(s, (void *)me, &l) == 0 &&
			 l == sizeof *me && !IN6_IS_ADDR_UNSPECIFIED(&me->sin6_addr);
		close(s);
		if (ok)
			return 0;
	}
	return -1;
}

static int hears(int s, const char *want, int ms)
{
	char buf[128];
	struct pollfd p = { s, POLLIN, 0 };
	for (uint64_t end = now_ms() + (uint64_t)ms; now_ms() < end;) {
		if (poll(&p, 1, (int)(end - now_ms())) <= 0)
			return 0;
		ssize_t n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
		if (n == (ssize_t)strlen(want) && !memcmp(buf, want, (size_t)n))
			return 1;
	}
	return 0;
}

static void check_address(void)
{
	struct sockaddr_in6 me;
	EXPECT("slaac-address", own_address(&me) == 0);
	EXPECT("slaac-address-in-fec0-64", me.sin6_addr.s6_addr[0] == 0xfe && me.sin6_addr.s6_addr[1] == 0xc0 &&
	       !memcmp(me.sin6_addr.s6_addr + 2, "\0\0\0\0\0\0", 6));
	printf("address6 %s\n", text6(&me));
}

static void check_tcp(void)
{
	int l = socket(AF_INET6, SOCK_STREAM, 0), one = 1, v = -1;
	socklen_t vl = sizeof v;
	EXPECT("v6only-default-off", getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl) == 0 && v == 0);
	struct sockaddr_in6 any = sin6_of("::", 7400), me;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	EXPECT("tcp6-bind-any", bind(l, (void *)&any, sizeof any) == 0);
	EXPECT("v6only-after-bind-einval", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 &&
	       errno == EINVAL);
	EXPECT("tcp6-listen", listen(l, 4) == 0);
	socklen_t ml = sizeof me;
	EXPECT("tcp6-getsockname", getsockname(l, (void *)&me, &ml) == 0 && ml == sizeof me &&
	       me.sin6_family == AF_INET6 && ntohs(me.sin6_port) == 7400);
	/* over ::1 */
	int c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 lo = sin6_of("::1", 7400), peer;
	EXPECT("tcp6-connect-loopback", connect(c, (void *)&lo, sizeof lo) == 0);
	socklen_t pl = sizeof peer;
	int a = accept(l, (void *)&peer, &pl);
	EXPECT("tcp6-accept-peer", a >= 0 && pl == sizeof peer && IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr));
	pl = sizeof peer;
	EXPECT("tcp6-getpeername", getpeername(c, (void *)&peer, &pl) == 0 && IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr) &&
	       ntohs(peer.sin6_port) == 7400);
	char buf[16] = { 0 };
	EXPECT("tcp6-data", write(c, "hello6", 6) == 6 && read(a, buf, sizeof buf) == 6 && !memcmp(buf, "hello6", 6));
	close(a);
	close(c);
	/* an IPv4 client reaches the dual-stack listener: ::ffff:127.0.0.1 */
	c = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in lo4 = sin_of("127.0.0.1", 7400);
	EXPECT("tcp4-to-dual-listener", connect(c, (void *)&lo4, sizeof lo4) == 0);
	pl = sizeof peer;
	a = accept(l, (void *)&peer, &pl);
	EXPECT("tcp4-peer-v4-mapped", a >= 0 && IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr) &&
	       !strcmp(text6(&peer), "::ffff:127.0.0.1"));
	close(a);
	close(c);
	/* a v6 socket connecting to a v4-mapped address */
	c = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 mapped = sin6_of("::ffff:127.0.0.1", 7400);
	EXPECT("tcp6-connect-v4-mapped", connect(c, (void *)&mapped, sizeof mapped) == 0);
	a = accept(l, 0, 0);
	close(a);
	close(c);
	close(l);
	/* IPV6_V6ONLY: IPv4 refused */
	l = socket(AF_INET6, SOCK_STREAM, 0);
	EXPECT("v6only-set", setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0);
	any = sin6_of("::", 7401);
	bind(l, (void *)&any, sizeof any);
	listen(l, 4);
	c = socket(AF_INET, SOCK_STREAM, 0);
	lo4 = sin_of("127.0.0.1", 7401);
	EXPECT("v6only-refuses-ipv4", connect(c, (void *)&lo4, sizeof lo4) < 0 && errno == ECONNREFUSED);
	close(c);
	c = socket(AF_INET6, SOCK_STREAM, 0);
	mapped = sin6_of("::ffff:127.0.0.1", 7401);
	int c2 = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(c2, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	EXPECT("v6only-mapped-connect-enetunreach", connect(c2, (void *)&mapped, sizeof mapped) < 0 &&
	       errno == ENETUNREACH);
	close(c2);
	close(c);
	close(l);
	int u4 = socket(AF_INET, SOCK_DGRAM, 0);
	EXPECT("ipv6-option-on-ipv4-socket", setsockopt(u4, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0 &&
	       errno == ENOPROTOOPT);
	close(u4);
}

static void check_udp(void)
{
	int a = socket(AF_INET6, SOCK_DGRAM, 0), b = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 aa = sin6_of("::1", 7410), ba = sin6_of("::", 7411), from;
	EXPECT("udp6-bind", bind(a, (void *)&aa, sizeof aa) == 0 && bind(b, (void *)&ba, sizeof ba) == 0);
	struct sockaddr_in6 to = sin6_of("::1", 7411);
	EXPECT("udp6-sendto", sendto(a, "dgram6", 6, 0, (void *)&to, sizeof to) == 6);
	char buf[32];
	socklen_t fl = sizeof from;
	struct pollfd p = { b, POLLIN, 0 };
	poll(&p, 1, 2000);
	EXPECT("udp6-recvfrom", recvfrom(b, buf, sizeof buf, MSG_DONTWAIT, (void *)&from, &fl) == 6 &&
	       fl == sizeof from && from.sin6_family == AF_INET6 && ntohs(from.sin6_port) == 7410 &&
	       IN6_IS_ADDR_LOOPBACK(&from.sin6_addr));
	/* an IPv4 datagram to the dual-stack socket comes from ::ffff:127.0.0.1 */
	int c = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to4 = sin_of("127.0.0.1", 7411);
	sendto(c, "dgram4", 6, 0, (void *)&to4, sizeof to4);
	poll(&p, 1, 2000);
	fl = sizeof from;
	EXPECT("udp4-to-dual-socket-v4-mapped", recvfrom(b, buf, sizeof buf, MSG_DONTWAIT, (void *)&from, &fl) == 6 &&
	       !strcmp(text6(&from), "::ffff:127.0.0.1"));
	close(c);
	/* MLD: a group joined, looped back, left */
	struct ipv6_mreq m = { .ipv6mr_interface = 0 };
	inet_pton(AF_INET6, "ff15::1234", &m.ipv6mr_multiaddr);
	EXPECT("ipv6-leave-not-joined-eaddrnotavail", setsockopt(b, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m, sizeof m) < 0 &&
	       errno == EADDRNOTAVAIL);
	EXPECT("ipv6-join-short-einval", setsockopt(b, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, 16) < 0 && errno == EINVAL);
	EXPECT("ipv6-join-group", setsockopt(b, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) == 0);
	EXPECT("ipv6-join-twice-eaddrinuse", setsockopt(b, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) < 0 &&
	       errno == EADDRINUSE);
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 g = sin6_of("ff15::1234", 7411);
	sendto(s, "group6", 6, 0, (void *)&g, sizeof g);
	EXPECT("ipv6-group-looped-back", hears(b, "group6", 3000));
	EXPECT("ipv6-leave-group", setsockopt(b, IPPROTO_IPV6, IPV6_LEAVE_GROUP, &m, sizeof m) == 0);
	sendto(s, "group6b", 7, 0, (void *)&g, sizeof g);
	EXPECT("ipv6-group-left-not-heard", !hears(b, "group6b", 1000));
	int t = socket(AF_INET6, SOCK_STREAM, 0);
	EXPECT("ipv6-join-tcp-eproto", setsockopt(t, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) < 0 && errno == EPROTO);
	close(t);
	close(s);
	close(a);
	close(b);
}

/* An echo request to our own global address over a raw ICMPv6 socket:
 * lwIP answers it. */
static void check_ping6(void)
{
	struct sockaddr_in6 me;
	if (own_address(&me))
		return;
	me.sin6_port = 0;
	int s = socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
	struct icmp6_hdr req = { .icmp6_type = ICMP6_ECHO_REQUEST, .icmp6_id = htons(0x4242), .icmp6_seq = htons(1) };
	EXPECT("icmp6-raw-socket", s >= 0 && sendto(s, &req, sizeof req, 0, (void *)&me, sizeof me) == sizeof req);
	int answered = 0;
	struct pollfd p = { s, POLLIN, 0 };
	for (uint64_t end = now_ms() + 5000; !answered && now_ms() < end && poll(&p, 1, 500) >= 0;) {
		struct icmp6_hdr rep;
		if (recv(s, &rep, sizeof rep, MSG_DONTWAIT) == sizeof rep && rep.icmp6_type == ICMP6_ECHO_REPLY &&
		    rep.icmp6_id == htons(0x4242))
			answered = 1;
	}
	EXPECT("icmp6-echo-answered", answered);
	close(s);
}

static int tcp_client(const char *ip, int port, uint64_t bytes)
{
	int s = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = sin6_of(ip, port);
	EXPECT("tcp6-client-connect", connect(s, (void *)&a, sizeof a) == 0);
	static uint8_t out[32768], in[65536];
	uint64_t sent = 0, got = 0, h_out = 0xcbf29ce484222325ull, h_in = h_out;
	fcntl(s, F_SETFL, O_NONBLOCK);
	size_t pending = 0, off = 0;
	while (got < bytes) {
		struct pollfd p = { s, POLLIN | (sent < bytes ? POLLOUT : 0), 0 };
		if (poll(&p, 1, 10000) <= 0)
			break;
		if ((p.revents & POLLOUT) && sent < bytes) {
			if (off == pending) {
				pending = bytes - sent < sizeof out ? (size_t)(bytes - sent) : sizeof out;
				for (size_t i = 0; i < pending; i++)
					out[i] = (uint8_t)((sent + i) * 2654435761u >> 13);
				for (size_t i = 0; i < pending; i++)
					h_out = (h_out ^ out[i]) * 0x100000001b3ull;
				off = 0;
			}
			ssize_t w = write(s, out + off, pending - off);
			if (w > 0)
				off += (size_t)w, sent += (uint64_t)w;
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			ssize_t r = read(s, in, sizeof in);
			if (r == 0)
				break;
			for (ssize_t i = 0; i < r; i++)
				h_in = (h_in ^ in[i]) * 0x100000001b3ull;
			if (r > 0)
				got += (uint64_t)r;
		}
	}
	close(s);
	EXPECT("tcp6-client-all-bytes-back", sent == bytes && got == bytes);
	EXPECT("tcp6-client-checksum-matches", h_in == h_out);
	return failures != 0;
}

static int udp_client(const char *ip, int port)
{
	int s = socket(AF_INET6, SOCK_DGRAM, 0);
	struct sockaddr_in6 a = sin6_of(ip, port);
	struct timeval tv = { 2, 0 };
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int echoed = 0;
	for (int i = 0; i < 20; i++) {
		char msg[64], back[64];
		int n = snprintf(msg, sizeof msg, "datagram6 %d", i);
		sendto(s, msg, (size_t)n, 0, (void *)&a, sizeof a);
		if (recv(s, back, sizeof back, 0) == n && !memcmp(msg, back, (size_t)n))
			echoed++;
	}
	EXPECT("udp6-client-echoes", echoed >= 19);
	return failures != 0;
}

static int resolve(const char *name)
{
	struct addrinfo hints = { .ai_family = AF_INET6, .ai_socktype = SOCK_STREAM }, *res = 0;
	int r = getaddrinfo(name, "80", &hints, &res);
	if (r) {
		printf("resolve %s: %s\n", name, gai_strerror(r));
		return 1;
	}
	printf("resolved %s %s\n", name, text6((struct sockaddr_in6 *)res->ai_addr));
	freeaddrinfo(res);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	const char *mode = argc > 1 ? argv[1] : "local";
	if (!strcmp(mode, "tcp-client") && argc == 5)
		return tcp_client(argv[2], atoi(argv[3]), strtoull(argv[4], 0, 10));
	if (!strcmp(mode, "udp-client") && argc == 4)
		return udp_client(argv[2], atoi(argv[3]));
	if (!strcmp(mode, "resolve") && argc == 3)
		return resolve(argv[2]);
	check_address();
	check_tcp();
	check_udp();
	check_ping6();
	printf(failures ? "some checks failed\n" : "all checks passed\n");
	return failures ? 1 : 0;
}
