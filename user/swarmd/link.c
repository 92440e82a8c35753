/*
 * UDP link of swarmd (see link.h).  POSIX sockets only: socket, bind,
 * setsockopt, sendto, recvfrom; no Linux extensions, so it also builds
 * against the library OS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/swarm.h"
#include "user/swarmd/hubwire.h"
#include "user/swarmd/link.h"

/* A non-blocking, close-on-exec UDP socket. */
static int udp_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* The multicast socket: bound to the group's port, joined on our interface. */
static int open_group(struct link *l)
{
	struct ip_mreq mreq = { .imr_multiaddr = l->c.group.sin_addr,
				.imr_interface = l->c.bind.sin_addr };
	int fd = udp_socket(), one = 1;
	struct sockaddr_in any = l->c.group;

	if (fd < 0)
		return fd;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&any, sizeof any) ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq)) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* See link.h. */
int link_open(struct link *l, const struct link_config *c)
{
	unsigned char ttl = 1, loop = 1;
	struct sockaddr_in self;
	socklen_t sl = sizeof self;
	int err;

	memset(l, 0, sizeof *l);
	l->c = *c;
	l->mfd = -1;
	if ((l->ufd = udp_socket()) < 0)
		return l->ufd;
	if (bind(l->ufd, (const struct sockaddr *)&c->bind, sizeof c->bind) ||
	    getsockname(l->ufd, (struct sockaddr *)&self, &sl))
		goto fail;
	l->self_ip = ntohl(self.sin_addr.s_addr);
	l->self_port = ntohs(self.sin_port);
	if (c->hub.sin_port)
		return 0;
	if (setsockopt(l->ufd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) ||
	    setsockopt(l->ufd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) ||
	    setsockopt(l->ufd, IPPROTO_IP, IP_MULTICAST_IF, &c->bind.sin_addr,
		       sizeof c->bind.sin_addr))
		goto fail;
	if ((l->mfd = open_group(l)) < 0) {
		err = l->mfd;
		close(l->ufd);
		return err;
	}
	return 0;
fail:
	err = -errno;
	close(l->ufd);
	return err;
}

/* See link.h. */
void link_close(struct link *l)
{
	if (l->ufd >= 0)
		close(l->ufd);
	if (l->mfd >= 0)
		close(l->mfd);
	l->ufd = l->mfd = -1;
}

/* The handle of ip:port, adding it (replacing the least recently used). */
static uint32_t peer_handle(struct link *l, uint32_t ip, uint16_t port, uint64_t now)
{
	size_t victim = 0;

	for (size_t i = 0; i < LINK_PEERS; i++) {
		struct link_peer *p = &l->peers[i];
		if (p->ip == ip && p->port == port) {
			p->used_ms = now;
			return (uint32_t)i + 1;
		}
		if (p->used_ms < l->peers[victim].used_ms)
			victim = i;
	}
	l->peers[victim] = (struct link_peer){ ip, port, now };
	return (uint32_t)victim + 1;
}

/* See link.h. */
int link_peer_addr(const struct link *l, uint32_t handle, uint32_t *ip, uint16_t *port)
{
	if (handle == 0 || handle > LINK_PEERS || !l->peers[handle - 1].ip)
		return -ENOENT;
	*ip = l->peers[handle - 1].ip;
	*port = l->peers[handle - 1].port;
	return 0;
}

/* sendto, counted. */
static int send_raw(struct link *l, const struct sockaddr_in *to, const uint8_t *p, size_t len)
{
	if (sendto(l->ufd, p, len, 0, (const struct sockaddr *)to, sizeof *to) < 0) {
		l->tx_errors++;
		return -errno;
	}
	l->tx_packets++;
	l->tx_bytes += len;
	return 0;
}

/* See link.h. */
int link_send(struct link *l, uint32_t dst, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	uint8_t buf[LINK_MAX_PACKET];
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint32_t ip = 0;
	uint16_t port = 0;

	(void)now_ms;
	if (dst != SWARM_BROADCAST && link_peer_addr(l, dst, &ip, &port))
		return -ENOENT;
	if (l->c.hub.sin_port) {
		if (len + HUB_HDR > sizeof buf)
			return -EMSGSIZE;
		hub_put(buf, ip, port);
		memcpy(buf + HUB_HDR, pkt, len);
		return send_raw(l, &l->c.hub, buf, len + HUB_HDR);
	}
	if (dst == SWARM_BROADCAST)
		return send_raw(l, &l->c.group, pkt, len);
	to.sin_addr.s_addr = htonl(ip);
	to.sin_port = htons(port);
	return send_raw(l, &to, pkt, len);
}

/* See link.h. */
int link_recv(struct link *l, int fd, uint8_t *buf, size_t cap, uint32_t *src, uint64_t now_ms)
{
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t k = recvfrom(fd, buf, cap, 0, (struct sockaddr *)&from, &fl);
	uint32_t ip;
	uint16_t port;

	if (k < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	l->rx_packets++;
	l->rx_bytes += (size_t)k;
	ip = ntohl(from.sin_addr.s_addr);
	port = ntohs(from.sin_port);
	if (l->c.hub.sin_port) {
		if (ip != ntohl(l->c.hub.sin_addr.s_addr) || port != ntohs(l->c.hub.sin_port) ||
		    hub_get(buf, (size_t)k, &ip, &port))
			return -EPROTO;
		memmove(buf, buf + HUB_HDR, (size_t)k - HUB_HDR);
		k -= HUB_HDR;
	}
	if (ip == l->self_ip && port == l->self_port)
		return -EPROTO;
	*src = peer_handle(l, ip, port, now_ms);
	return (int)k;
}

/* See link.h. */
int link_parse_addr(const char *s, uint32_t dflt_ip, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(dflt_ip);
	if (colon) {
		size_t hl = (size_t)(colon - s);
		if (hl >= sizeof host)
			return -EINVAL;
		memcpy(host, s, hl);
		host[hl] = 0;
		if (hl && inet_pton(AF_INET, host, &sa->sin_addr) != 1)
			return -EINVAL;
		s = colon + 1;
	}
	port = strtoul(s, &end, 10);
	if (end == s || *end || port > 65535)
		return -EINVAL;
	sa->sin_port = htons((uint16_t)port);
	return 0;
}
