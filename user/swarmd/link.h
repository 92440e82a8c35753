/*
 * swarmd's link: the swarm's packets over UDP with the POSIX socket API.
 * A node sends everything from its unicast socket (so its source address
 * names it); broadcasts go to a multicast group on the local link, which
 * every node joins with a second socket, or, in relay mode, to swarm-hub
 * inside an envelope (hubwire.h).  The swarm core names link addresses by
 * 32-bit handles; this layer maps them to IPv4 socket addresses.
 */
#ifndef EXO_SWARMD_LINK_H
#define EXO_SWARMD_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

enum { LINK_PEERS = 1024, LINK_MAX_PACKET = 1500 };

struct link_config {
	struct sockaddr_in bind;       /* unicast address and port */
	struct sockaddr_in group;      /* multicast group and port */
	struct sockaddr_in hub;        /* relay mode when sin_port != 0 */
};

struct link_peer {
	uint32_t ip;                   /* host byte order; 0: free */
	uint16_t port;
	uint64_t used_ms;
};

struct link {
	struct link_config c;
	int ufd, mfd;                  /* unicast; multicast (-1 in relay mode) */
	uint32_t self_ip;
	uint16_t self_port;
	struct link_peer peers[LINK_PEERS];
	uint64_t tx_packets, rx_packets, tx_bytes, rx_bytes, tx_errors;
};

/* Open and bind the sockets, join the group; 0 or -errno. */
int link_open(struct link *l, const struct link_config *c);
void link_close(struct link *l);

/* Send a packet to a handle or to SWARM_BROADCAST; 0 or -errno. */
int link_send(struct link *l, uint32_t dst, const uint8_t *pkt, size_t len, uint64_t now_ms);

/*
 * Receive one packet from fd without blocking: its length, with *src the
 * sender's handle; -EAGAIN when nothing is waiting, -EPROTO for a packet
 * to ignore (our own multicast echo, a bad envelope).
 */
int link_recv(struct link *l, int fd, uint8_t *buf, size_t cap, uint32_t *src, uint64_t now_ms);

/* The socket address of a handle: 0 or -ENOENT. */
int link_peer_addr(const struct link *l, uint32_t handle, uint32_t *ip, uint16_t *port);

/* Parse "a.b.c.d:port" (or ":port", "port" with dflt_ip) into sa. */
int link_parse_addr(const char *s, uint32_t dflt_ip, struct sockaddr_in *sa);

#endif
