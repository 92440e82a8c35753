/*
 * The Linux network ABI (x86_64) the socket layer serves: error numbers
 * beyond libos/lx.h, address families, socket types and options, and the
 * structures the calls copy in and out.  Written from the Linux ABI.
 */
#ifndef EXO_NET_LWIP_LXNET_H
#define EXO_NET_LWIP_LXNET_H

#include <stdint.h>

#include "libos/lx.h"

enum {
	EDOM = 33, ENOTSOCK = 88, EDESTADDRREQ = 89, EMSGSIZE = 90, EPROTOTYPE = 91, ENOPROTOOPT = 92,
	EPROTONOSUPPORT = 93, ESOCKTNOSUPPORT = 94, EAFNOSUPPORT = 97, EADDRINUSE = 98,
	EADDRNOTAVAIL = 99, ENETDOWN = 100, ENETUNREACH = 101, ECONNABORTED = 103,
	ECONNRESET = 104, ENOBUFS = 105, EISCONN = 106, ENOTCONN = 107, ESHUTDOWN = 108,
	ETIMEDOUT = 110, ECONNREFUSED = 111, EHOSTUNREACH = 113, EALREADY = 114,
	EINPROGRESS = 115, EPROTO = 71,
};

#define LX_AF_UNSPEC 0
#define LX_AF_INET 2
#define LX_AF_INET6 10
#define LX_SOCK_STREAM 1
#define LX_SOCK_DGRAM 2
#define LX_SOCK_RAW 3
#define LX_SOCK_NONBLOCK 04000
#define LX_SOCK_CLOEXEC 02000000
#define LX_IPPROTO_IP 0
#define LX_IPPROTO_ICMP 1
#define LX_IPPROTO_TCP 6
#define LX_IPPROTO_UDP 17
#define LX_IPPROTO_IPV6 41
#define LX_IPPROTO_ICMPV6 58
#define LX_IPV6_UNICAST_HOPS 16
#define LX_IPV6_MULTICAST_IF 17
#define LX_IPV6_MULTICAST_HOPS 18
#define LX_IPV6_MULTICAST_LOOP 19
#define LX_IPV6_JOIN_GROUP 20		/* IPV6_ADD_MEMBERSHIP */
#define LX_IPV6_LEAVE_GROUP 21		/* IPV6_DROP_MEMBERSHIP */
#define LX_IPV6_V6ONLY 26

#define LX_SOL_SOCKET 1
#define LX_SO_REUSEADDR 2
#define LX_SO_TYPE 3
#define LX_SO_ERROR 4
#define LX_SO_BROADCAST 6
#define LX_SO_SNDBUF 7
#define LX_SO_RCVBUF 8
#define LX_SO_KEEPALIVE 9
#define LX_SO_LINGER 13
#define LX_SO_REUSEPORT 15
#define LX_SO_RCVLOWAT 18
#define LX_SO_RCVTIMEO 20
#define LX_SO_SNDTIMEO 21
#define LX_SO_ACCEPTCONN 30
#define LX_SO_PROTOCOL 38
#define LX_SO_DOMAIN 39
#define LX_TCP_NODELAY 1
#define LX_TCP_MAXSEG 2
#define LX_TCP_KEEPIDLE 4
#define LX_TCP_KEEPINTVL 5
#define LX_TCP_KEEPCNT 6
#define LX_IP_TOS 1
#define LX_IP_TTL 2
#define LX_IP_MULTICAST_IF 32
#define LX_IP_MULTICAST_TTL 33
#define LX_IP_MULTICAST_LOOP 34
#define LX_IP_ADD_MEMBERSHIP 35
#define LX_IP_DROP_MEMBERSHIP 36

#define LX_MSG_OOB 0x1
#define LX_MSG_PEEK 0x2
#define LX_MSG_DONTROUTE 0x4
#define LX_MSG_TRUNC 0x20
#define LX_MSG_DONTWAIT 0x40
#define LX_MSG_EOR 0x80
#define LX_MSG_WAITALL 0x100
#define LX_MSG_NOSIGNAL 0x4000
#define LX_MSG_MORE 0x8000

#define LX_SHUT_RD 0
#define LX_SHUT_WR 1
#define LX_SHUT_RDWR 2

#define LX_POLLPRI 0x002
#define LX_POLLNVAL 0x020
#define LX_POLLRDNORM 0x040
#define LX_POLLWRNORM 0x100
#define LX_POLLRDHUP 0x2000

struct lx_sockaddr_in {
	uint16_t family;
	uint16_t port;		/* network order */
	uint32_t addr;		/* network order */
	uint8_t zero[8];
};
_Static_assert(sizeof(struct lx_sockaddr_in) == 16, "struct sockaddr_in");

/* struct ip_mreqn; struct ip_mreq is its first 8 bytes (the interface
 * address in place of address) */
struct lx_ip_mreqn {
	uint32_t multiaddr, address;	/* network order */
	int32_t ifindex;
};
_Static_assert(sizeof(struct lx_ip_mreqn) == 12, "struct ip_mreqn");

struct lx_sockaddr_in6 {
	uint16_t family;
	uint16_t port;		/* network order */
	uint32_t flowinfo;
	uint8_t addr[16];
	uint32_t scope_id;
};
_Static_assert(sizeof(struct lx_sockaddr_in6) == 28, "struct sockaddr_in6");

struct lx_ipv6_mreq {
	uint8_t multiaddr[16];
	int32_t ifindex;
};
_Static_assert(sizeof(struct lx_ipv6_mreq) == 20, "struct ipv6_mreq");

struct lx_msghdr {
	uint64_t name;
	uint32_t namelen, pad0;
	uint64_t iov, iovlen;
	uint64_t control, controllen;
	int32_t flags, pad1;
};
_Static_assert(sizeof(struct lx_msghdr) == 56, "struct msghdr");

struct lx_mmsghdr {
	struct lx_msghdr hdr;
	uint32_t len, pad;
};
_Static_assert(sizeof(struct lx_mmsghdr) == 64, "struct mmsghdr");

struct lx_timeval {
	int64_t sec, usec;
};

struct lx_linger {
	int32_t onoff, linger;
};

#endif
