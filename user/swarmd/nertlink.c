/*
 * NERT over a UDP socket (see nertlink.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "user/swarmd/nertlink.h"

/* See nertlink.h. */
uint64_t nl_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* See nertlink.h. */
uint64_t nl_random64(void *ctx)
{
	uint64_t r;

	(void)ctx;
	cx_random(&r, sizeof r);
	return r;
}

static void cb_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	cx_random(buf, len);
}

static uint64_t cb_clock(void *ctx)
{
	(void)ctx;
	return nl_wall_ms();
}

static void send_to_sa(struct nlink *nl, const struct sockaddr_in *to, const uint8_t *pkt,
		       size_t len)
{
	if (sendto(nl->fd, pkt, len, 0, (const struct sockaddr *)to, sizeof *to) >= 0)
		nl->tx_bytes += len;
}

/* Replies go to the source of the packet being read, else to the peer. */
static void cb_send(void *ctx, const uint8_t *pkt, size_t len)
{
	struct nlink *nl = ctx;

	if (nl->in_rx)
		send_to_sa(nl, &nl->cur, pkt, len);
	else if (nl->have_peer)
		send_to_sa(nl, &nl->peer, pkt, len);
}

static void cb_send_to(void *ctx, const uint8_t *addr, size_t addr_len, const uint8_t *pkt,
		       size_t len)
{
	struct sockaddr_in to;

	if (addr_len != sizeof to)
		return;
	memcpy(&to, addr, sizeof to);
	send_to_sa(ctx, &to, pkt, len);
}

static void cb_deliver(void *ctx, uint8_t cls, const uint8_t *msg, size_t len)
{
	struct nlink *nl = ctx;

	(void)cls;
	if (nl->msg_ready || len > sizeof nl->msg)
		return;                 /* one request at a time; the owner drains it */
	memcpy(nl->msg, msg, len);
	nl->msg_len = len;
	nl->msg_ready = true;
}

static void cb_closed(void *ctx, int reason)
{
	struct nlink *nl = ctx;

	nl->closed = true;
	nl->reason = reason;
}

/* See nertlink.h. */
int nl_open(struct nlink *nl, const struct sockaddr_in *bind_sa, const uint8_t sk[CX_DH_BYTES],
	    const uint8_t peer_pk[CX_DH_BYTES])
{
	memset(nl, 0, sizeof *nl);
	nl->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (nl->fd < 0)
		return -errno;
	if (fcntl(nl->fd, F_SETFL, fcntl(nl->fd, F_GETFL) | O_NONBLOCK) ||
	    fcntl(nl->fd, F_SETFD, FD_CLOEXEC) ||
	    bind(nl->fd, (const struct sockaddr *)bind_sa, sizeof *bind_sa)) {
		int err = -errno;
		close(nl->fd);
		nl->fd = -1;
		return err;
	}
	memcpy(nl->sk, sk, sizeof nl->sk);
	memcpy(nl->peer_pk, peer_pk, sizeof nl->peer_pk);
	return 0;
}

/* See nertlink.h. */
int nl_start(struct nlink *nl, bool initiator, const struct sockaddr_in *peer, uint64_t now_ms)
{
	struct nert_config cfg = {
		.endpoint = &nl->ep, .rx_buf = nl->rx, .rx_cap = sizeof nl->rx,
		.ctx = nl, .random = cb_random, .send = cb_send, .send_to = cb_send_to,
		.deliver = cb_deliver, .closed = cb_closed, .clock = cb_clock,
	};
	int err;

	memcpy(cfg.static_sk, nl->sk, sizeof cfg.static_sk);
	memcpy(cfg.peer_pk, nl->peer_pk, sizeof cfg.peer_pk);
	nl->initiator = initiator;
	nl->closed = false;
	nl->reason = 0;
	nl->msg_ready = false;
	nl->have_peer = peer != NULL;
	if (peer)
		nl->peer = *peer;
	if ((err = nert_init(&nl->s, &cfg, initiator, now_ms)))
		return err;
	return initiator ? nert_connect(&nl->s, now_ms) : 0;
}

/* See nertlink.h: a responder answers whoever completes the handshake. */
void nl_readable(struct nlink *nl, uint64_t now_ms)
{
	uint8_t pkt[NERT_MAX_PACKET + 64];

	for (int i = 0; i < 256; i++) {
		socklen_t sl = sizeof nl->cur;
		ssize_t k = recvfrom(nl->fd, pkt, sizeof pkt, 0, (struct sockaddr *)&nl->cur, &sl);
		if (k < 0)
			break;
		nl->rx_bytes += (size_t)k;
		if (nl->closed)
			continue;
		nl->in_rx = true;
		int rc = nert_receive(&nl->s, pkt, (size_t)k, &nl->cur, sizeof nl->cur, now_ms);
		nl->in_rx = false;
		if (rc == 0 && !nl->initiator) {
			nl->peer = nl->cur;
			nl->have_peer = true;
		}
	}
}

/* See nertlink.h. */
void nl_tick(struct nlink *nl, uint64_t now_ms)
{
	if (!nl->closed && nert_next_deadline(&nl->s) <= now_ms)
		nert_on_timer(&nl->s, now_ms);
}

/* See nertlink.h. */
void nl_close(struct nlink *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
	cx_wipe(nl->sk, sizeof nl->sk);
}
