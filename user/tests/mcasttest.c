/*
 * Multicast sockets of the library OS (docs/NETWORK.md), seen by an
 * ordinary socket program.  tests/suites/29-network-multicast.sh runs it:
 *   local                  in-guest checks: options, Linux's errors, and
 *                          datagrams to a group looped back within the guest
 *   peer ROLE GROUP PORT   one of two guests on one link: joins GROUP (IPv4,
 *                          or IPv6 by MLD), sends to it and hears the other
 *                          guest's datagrams
 */
#include "check.h"
#include "netutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GROUP "239.1.2.3"
#define PORT 7200

static struct ip_mreq mreq_of(const char *group)
{
	struct ip_mreq m = { .imr_interface.s_addr = htonl(INADDR_ANY) };
	inet_pton(AF_INET, group, &m.imr_multiaddr);
	return m;
}

/* A UDP socket bound to port on any address, SO_REUSEADDR set. */
static int udp_bound(int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(s, (void *)&a, sizeof a))
		perror("bind");
	return s;
}

/* Whether s receives the datagram want within ms milliseconds. */
static int hears(int s, const char *want, int ms)
{
	char buf[128];
	uint64_t end = now_ms() + (uint64_t)ms;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = { s, POLLIN, 0 };
		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return 0;
		ssize_t n = recv(s, buf, sizeof buf - 1, MSG_DONTWAIT);
		if (n >= 0 && (size_t)n == strlen(want) && !memcmp(buf, want, (size_t)n))
			return 1;
	}
}

static void send_to_group(int s, const char *msg)
{
	struct sockaddr_in g = sin_of(GROUP, PORT);
	sendto(s, msg, strlen(msg), 0, (void *)&g, sizeof g);
}

static void check_options(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), t = socket(AF_INET, SOCK_STREAM, 0), v = 0;
	socklen_t l = sizeof v;
	EXPECT("ttl-default-1", getsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &v, &l) == 0 && v == 1);
	l = sizeof v;
	EXPECT("loop-default-on", getsockopt(u, IPPROTO_IP, IP_MULTICAST_LOOP, &v, &l) == 0 && v == 1);
	unsigned char c = 5;
	l = sizeof v;
	EXPECT("ttl-one-byte", setsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &c, 1) == 0 &&
	       getsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &v, &l) == 0 && v == 5);
	v = 256;
	EXPECT("ttl-256-einval", setsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v) < 0 && errno == EINVAL);
	v = -1;
	l = sizeof v;
	EXPECT("ttl-minus-1-is-1", setsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v) == 0 &&
	       getsockopt(u, IPPROTO_IP, IP_MULTICAST_TTL, &v, &l) == 0 && v == 1);
	EXPECT("loop-empty-einval", setsockopt(u, IPPROTO_IP, IP_MULTICAST_LOOP, &v, 0) < 0 && errno == EINVAL);
	struct ip_mreq m = mreq_of(GROUP);
	EXPECT("join-short-einval", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, 4) < 0 && errno == EINVAL);
	struct ip_mreq uni = mreq_of("10.0.2.2");
	EXPECT("join-unicast-einval", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &uni, sizeof uni) < 0 &&
	       errno == EINVAL);
	EXPECT("drop-not-joined-eaddrnotavail",
	       setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m) < 0 && errno == EADDRNOTAVAIL);
	EXPECT("join", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0);
	EXPECT("join-twice-eaddrinuse", setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0 &&
	       errno == EADDRINUSE);
	EXPECT("drop", setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m) == 0);
	EXPECT("drop-again-eaddrnotavail",
	       setsockopt(u, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m) < 0 && errno == EADDRNOTAVAIL);
	EXPECT("tcp-join-einval", setsockopt(t, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0 && errno == EINVAL);
	EXPECT("tcp-ttl-einval", setsockopt(t, IPPROTO_IP, IP_MULTICAST_TTL, &v, sizeof v) < 0 && errno == EINVAL);
	struct in_addr foreign = { htonl(0x0a090909) };
	EXPECT("if-foreign-eaddrnotavail", setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &foreign, sizeof foreign) < 0 &&
	       errno == EADDRNOTAVAIL);
	/* our own address, as the route to the gateway gives it */
	int c2 = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in gw = sin_of("10.0.2.2", 9), me;
	socklen_t ml = sizeof me;
	connect(c2, (void *)&gw, sizeof gw);
	getsockname(c2, (void *)&me, &ml);
	struct in_addr got = { 0 };
	l = sizeof got;
	EXPECT("if-own-address", setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &me.sin_addr, sizeof me.sin_addr) == 0 &&
	       getsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &got, &l) == 0 && got.s_addr == me.sin_addr.s_addr);
	struct ip_mreqn byindex = { .imr_ifindex = 200 };
	EXPECT("if-bad-index-eaddrnotavail", setsockopt(u, IPPROTO_IP, IP_MULTICAST_IF, &byindex, sizeof byindex) < 0 &&
	       errno == EADDRNOTAVAIL);
	close(c2);
	close(u);
	close(t);
	/* 20 groups a socket, as Linux's igmp_max_memberships */
	u = socket(AF_INET, SOCK_DGRAM, 0);
	int joined = 0;
	for (int i = 1; i <= 20; i++) {
		char g[32];
		snprintf(g, sizeof g, "239.2.0.%d", i);
		m = mreq_of(g);
		joined += setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0;
	}
	m = mreq_of("239.2.0.21");
	EXPECT("twenty-groups-then-enobufs", joined == 20 &&
	       setsockopt(u, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0 && errno == ENOBUFS);
	close(u);
}

/* Datagrams to a group come back within the guest (IP_MULTICAST_LOOP) to
 * every socket on the port while a socket is in the group, and no longer
 * once every socket left it. */
static void check_loopback(void)
{
	int r1 = udp_bound(PORT), r2 = udp_bound(PORT), s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ip_mreq m = mreq_of(GROUP);
	struct ip_mreqn mn = { .imr_multiaddr = m.imr_multiaddr, .imr_ifindex = 2 };	/* lo is 1, the NIC 2 */
	EXPECT("join-ip-mreq", setsockopt(r1, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0);
	EXPECT("join-ip-mreqn-by-index", setsockopt(r2, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mn, sizeof mn) == 0);
	send_to_group(s, "to-group-1");
	EXPECT("loop-first-socket-hears", hears(r1, "to-group-1", 3000));
	EXPECT("loop-second-socket-hears", hears(r2, "to-group-1", 3000));
	int bg = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ga = sin_of(GROUP, PORT + 1);
	EXPECT("bind-group-address", bind(bg, (void *)&ga, sizeof ga) == 0);
	close(bg);
	int off = 0;
	setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof off);
	send_to_group(s, "to-group-2");
	EXPECT("loop-off-not-heard", !hears(r1, "to-group-2", 1000));
	int on = 1;
	setsockopt(s, IPPROTO_IP, IP_MULTICAST_LOOP, &on, sizeof on);
	EXPECT("drop-first", setsockopt(r1, IPPROTO_IP, IP_DROP_MEMBERSHIP, &m, sizeof m) == 0);
	send_to_group(s, "to-group-3");
	EXPECT("still-heard-while-one-socket-is-in", hears(r2, "to-group-3", 3000));
	EXPECT("drop-second-by-index", setsockopt(r2, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mn, sizeof mn) == 0);
	send_to_group(s, "to-group-4");
	EXPECT("group-left-not-heard", !hears(r2, "to-group-4", 1000));
	close(r1);
	close(r2);
	close(s);
}

/* Two guests on one link: each sends "ROLE SEQ HEARD" to the group every
 * 200 ms and counts what the other sends; done when it heard 5 of the
 * other's and the other heard 5 of its own, then sends 2 s more so the
 * other finishes too. */
static int peer(const char *role, const char *group, int port)
{
	/* an IPv6 group (MLD) over the link-local addresses, else IPv4 (IGMP) */
	int v6 = strchr(group, ':') != 0, one = 1;
	int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	union { struct sockaddr_in v4; struct sockaddr_in6 v6; } g = { 0 }, any = { 0 };
	if (v6) {
		g.v6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
		inet_pton(AF_INET6, group, &g.v6.sin6_addr);
		any.v6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
		struct ipv6_mreq m = { .ipv6mr_multiaddr = g.v6.sin6_addr };
		EXPECT("peer-join", bind(s, (void *)&any, sizeof any.v6) == 0 &&
		       setsockopt(s, IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m) == 0);
	} else {
		g.v4 = sin_of(group, port);
		any.v4 = sin_of("0.0.0.0", port);
		struct ip_mreq m = mreq_of(group);
		EXPECT("peer-join", bind(s, (void *)&any, sizeof any.v4) == 0 &&
		       setsockopt(s, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) == 0);
	}
	socklen_t glen = v6 ? sizeof g.v6 : sizeof g.v4;
	int heard = 0, their_heard = 0, seq = 0;
	uint64_t start = now_ms(), done_at = 0, next = 0;
	while (now_ms() - start < 90000) {
		uint64_t now = now_ms();
		if (now >= next) {
			char msg[64];
			int n = snprintf(msg, sizeof msg, "%s %d %d", role, seq++, heard);
			sendto(s, msg, (size_t)n, 0, (void *)&g, glen);
			next = now + 200;
		}
		if (done_at && now >= done_at)
			break;
		struct pollfd p = { s, POLLIN, 0 };
		if (poll(&p, 1, (int)(next - now)) <= 0)
			continue;
		char buf[64] = { 0 }, who[16];
		int sq, h;
		if (recv(s, buf, sizeof buf - 1, 0) > 0 &&
		    sscanf(buf, "%15s %d %d", who, &sq, &h) == 3 && strcmp(who, role)) {
			heard++;
			their_heard = h > their_heard ? h : their_heard;
		}
		if (!done_at && heard >= 5 && their_heard >= 5)
			done_at = now_ms() + 2000;
	}
	EXPECT("peer-heard-the-other-guest", heard >= 5);
	EXPECT("peer-was-heard-by-the-other-guest", their_heard >= 5);
	printf("info peer %s heard %d datagrams, the other heard %d, in %llu ms\n", role, heard, their_heard,
	       (unsigned long long)(now_ms() - start));
	return failures != 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "peer"))
		return peer(argv[2], argv[3], atoi(argv[4]));
	check_options();
	check_loopback();
	printf(failures ? "some checks failed\n" : "all checks passed\n");
	return failures ? 1 : 0;
}
