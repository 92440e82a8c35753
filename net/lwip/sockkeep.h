/*
 * The machine's socket service (net/lwip/sockkeep.c, docs/NETWORK.md
 * "Sockets of processes without a stack"): the first program's stack
 * serves socket() for every process that has no stack of its own, on the
 * channel its shared sockets are served on (net/lwip/sockshare.c).
 */
#ifndef EXO_NET_LWIP_SOCKKEEP_H
#define EXO_NET_LWIP_SOCKKEEP_H

#include <stdint.h>

struct chan_msg;

/* fork in the first program: once its stack runs, its service starts and
 * is published as the machine's, so the children can make sockets (lock
 * held).  Not before: a program without the network keeps one thread. */
void sockkeep_at_fork(void);
/* Whether socket() in this process is served by the machine's service
 * (it drives no NIC of its own and is not that service's server). */
int sockkeep_remote(void);
/* socket() served by the machine's service: a descriptor, -errno, or
 * -EIO when the service has ended (the caller then uses its own stack). */
int64_t sockkeep_socket(uint64_t domain, uint64_t type, uint64_t protocol);
/* The server's side of SK_SOCKET: the socket made in this stack and
 * handed to the caller (m->arg[1]). */
int64_t sockkeep_serve_socket(struct chan_msg *m);

#endif
