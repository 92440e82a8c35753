/*
 * One NERT session over a UDP socket (POSIX sockets only): the operator's
 * channel between swarm-ctl (initiator) and a swarmd (responder, which
 * accepts only the operator's static key).  Delivered messages are copied
 * out one at a time; the owner polls nl->fd and calls nl_readable and
 * nl_tick.
 */
#ifndef EXO_SWARMD_NERTLINK_H
#define EXO_SWARMD_NERTLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "net/nert.h"

enum { NL_MSG_MAX = 65536 };

struct nlink {
	int fd;
	struct sockaddr_in peer, cur;  /* where to send; source of the packet being read */
	bool have_peer, in_rx;
	bool initiator;
	uint8_t sk[CX_DH_BYTES], peer_pk[CX_DH_BYTES];
	struct nert_endpoint ep;       /* outlives sessions: INIT replay memory */
	struct nert_session s;
	uint8_t rx[NL_MSG_MAX];
	uint8_t msg[NL_MSG_MAX];
	size_t msg_len;
	bool msg_ready;                /* a delivered message waits in msg */
	bool closed;
	int reason;                    /* why it closed: 0 clean */
	uint64_t tx_bytes, rx_bytes;
};

/* Bind a UDP socket (port 0: any) and keep the keys; 0 or -errno. */
int nl_open(struct nlink *nl, const struct sockaddr_in *bind, const uint8_t sk[CX_DH_BYTES],
	    const uint8_t peer_pk[CX_DH_BYTES]);

/* (Re)start the session; an initiator connects to peer. */
int nl_start(struct nlink *nl, bool initiator, const struct sockaddr_in *peer, uint64_t now_ms);

/* Feed every waiting datagram to the session. */
void nl_readable(struct nlink *nl, uint64_t now_ms);

/* Run the session's timers when due. */
void nl_tick(struct nlink *nl, uint64_t now_ms);

/* Wall-clock milliseconds: NERT's INIT timestamps must grow across runs. */
uint64_t nl_wall_ms(void);

void nl_close(struct nlink *nl);

/* 64 random bits from the system CSPRNG (swarm_env.random). */
uint64_t nl_random64(void *ctx);

#endif
