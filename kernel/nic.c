/*
 * NIC capabilities.  The device receives into kernel buffers only; each
 * frame goes to the port whose receive filter matches it most closely
 * (EtherType, IP protocol, UDP/TCP destination port), or to the root
 * port when none does, and is copied into that port's oldest posted
 * receive buffer.  Frames to send are handed to the device where they lie,
 * in the caller's frames, pinned until the device is done with them.
 */
#include "kernel/ring.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"

static struct nic_dev *nics[RING_MAX_DEVICES];
static int nnics;

static int nic_drain(void *dev);
static int hw_interrupts(void *d, int on);
static void nic_kill(void *dev);
static void mcast_update(struct nic_dev *d);

int nic_register(struct nic_dev *d)
{
	if (nnics == RING_MAX_DEVICES)
		return -EXO_ENOSPC;
	d->hw = (struct ring_hw){ .model = d->model, .drain = nic_drain,
				  .interrupts = hw_interrupts, .kill = nic_kill };
	d->root = ring_port_new(EXO_CAP_NIC, d);
	if (!d->root)
		return -EXO_ENOMEM;
	nics[nnics++] = d;
	return 0;
}

int ring_nic_count(void) { return nnics; }
struct ring_port *ring_nic_root(int i) { return nics[i]->root; }

/* The filter fields a frame has: EtherType, and for IPv4 (unfragmented)
 * and IPv6 the protocol and, for UDP and TCP, the destination port. */
static uint64_t frame_key(const uint8_t *f, uint32_t len)
{
	if (len < 14)
		return 0;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	uint32_t l4 = 0;
	uint8_t proto = 0;
	if (et == 0x0800 && len >= 34 && (f[14] >> 4) == 4) {
		proto = f[23];
		l4 = 14 + (uint32_t)(f[14] & 15) * 4;
		if ((f[20] & 0x1f) || f[21])
			l4 = 0;		/* a later fragment has no ports */
	} else if (et == 0x86dd && len >= 54) {
		proto = f[20];
		l4 = 54;
	}
	uint16_t port = 0;
	if ((proto == 6 || proto == 17) && l4 && l4 + 4 <= len)
		port = (uint16_t)(f[l4 + 2] << 8 | f[l4 + 3]);
	return EXO_NIC_FILTER(et, proto, port);
}

/* How closely filter f matches key (-1: not at all). */
static int filter_score(uint64_t f, uint64_t key)
{
	uint64_t masks[3] = { 0xffff, 0xff0000, 0xffff000000ull };
	int score = 0;
	for (int i = 0; i < 3; i++) {
		if (!(f & masks[i]))
			continue;
		if ((f & masks[i]) != (key & masks[i]))
			return -1;
		score += 1 << i;
	}
	return score;
}

static struct ring_port *demux(struct nic_dev *d, const uint8_t *f, uint32_t len)
{
	uint64_t key = frame_key(f, len);
	struct ring_port *best = d->root;
	int best_score = 0;
	for (struct ring_port *p = d->ports; p; p = p->next) {
		int s = filter_score(p->filter, key);
		if (s > best_score) {
			best = p;
			best_score = s;
		}
	}
	return best;
}

/* Copies a received frame into p's oldest live receive buffer. */
static void deliver(struct ring_port *p, const uint8_t *f, uint32_t len)
{
	while (p->nrx && !p->rx[p->rx_head].pin.type) {	/* revoked meanwhile */
		ring_req_free(&p->rx[p->rx_head]);
		p->rx_head = (p->rx_head + 1) % NIC_RX_POSTED;
		p->nrx--;
	}
	if (!p->nrx) {
		p->rx_dropped++;
		return;
	}
	struct ring_req *r = &p->rx[p->rx_head];
	uint32_t n = len < r->len ? len : r->len;
	memcpy(phys_to_virt(r->pa), f, n);
	ring_complete(p, r->cookie, EXO_NIC_RX, n, 0, n < len ? EXO_DONE_TRUNCATED : 0);
	ring_req_free(r);
	p->rx_head = (p->rx_head + 1) % NIC_RX_POSTED;
	p->nrx--;
}

static void tx_finish(struct nic_dev *d, struct ring_req *r, int32_t status)
{
	if (r->port) {
		ring_complete(r->port, r->cookie, EXO_NIC_TX, r->len, status, 0);
		r->port->inflight--;
	}
	d->tx_inflight--;
	ring_req_free(r);
}

/* Takes every finished transmit and received frame; how many. */
static int nic_drain(void *dev)
{
	struct nic_dev *d = dev;
	int n = 0, id;
	uint32_t len;
	const uint8_t *f;

	if (d->hw.dead)
		return 0;
	while ((id = d->ops->tx_done(d)) >= 0) {
		if (id < RING_INFLIGHT && d->tx[id].in_device)
			tx_finish(d, &d->tx[id], 0);
		n++;
	}
	while ((f = d->ops->rx(d, &len))) {
		struct ring_port *p = demux(d, f, len);
		if (p)			/* NULL: the unfiltered port is going away */
			deliver(p, f, len);
		d->ops->rx_recycle(d);
		n++;
	}
	if (n)
		d->ops->kick(d);	/* the recycled receive buffers */
	return n;
}

static int hw_interrupts(void *d, int on)
{
	return ((struct nic_dev *)d)->ops->interrupts(d, on);
}

/* The device did not let go of a buffer: stop all of its DMA for good and
 * fail everything it held. */
static void nic_kill(void *dev)
{
	struct nic_dev *d = dev;
	d->ops->reset(d);
	d->hw.dead = 1;
	for (int i = 0; i < RING_INFLIGHT; i++)
		if (d->tx[i].in_device)
			tx_finish(d, &d->tx[i], -EXO_EIO);
}

void nic_interrupt(struct nic_dev *d)
{
	ring_hw_interrupt(&d->hw, d);
}

void nic_port_gone(struct ring_port *p)
{
	struct nic_dev *d = p->dev;

	for (struct ring_port **pp = &d->ports; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (d->root == p)
		d->root = NULL;
	if (p->ngroups) {
		p->ngroups = 0;
		mcast_update(d);
	}
	for (; p->nrx; p->nrx--, p->rx_head = (p->rx_head + 1) % NIC_RX_POSTED)
		ring_req_free(&p->rx[p->rx_head]);
}

int64_t nic_info(struct cap *c, uint64_t uptr)
{
	struct ring_port *p = c->obj;
	struct nic_dev *d = p->dev;
	struct exo_nic_info info = { .link_up = (uint16_t)(!d->hw.dead && d->ops->link_up(d)),
				     .rx_queue = d->rxq, .tx_queue = d->txq,
				     .rx_posted_max = NIC_RX_POSTED, .mtu = 1500,
				     .filter = p->filter, .rx_dropped = p->rx_dropped };
	memcpy(info.mac, d->mac, 6);
	ring_model(info.model, d->model);
	return copy_to_user(uptr, &info, sizeof info);
}

/* Programs the device's multicast filter with every group its ports
 * joined (all multicast when there are more than it keeps). */
static void mcast_update(struct nic_dev *d)
{
	uint8_t macs[NIC_MCAST_MAX][6];
	int n = 0;

	if (!d->ops->multicast || d->hw.dead)
		return;
	for (struct ring_port *p = d->root ? d->root : d->ports; p && n >= 0;
	     p = p == d->root ? d->ports : p->next)
		for (uint32_t g = 0; g < p->ngroups; g++) {
			int seen = 0;
			for (int i = 0; i < n && !seen; i++)
				seen = EXO_NIC_MAC(macs[i]) == p->groups[g];
			if (seen)
				continue;
			if (n == NIC_MCAST_MAX) {
				n = -1;
				break;
			}
			for (int b = 0; b < 6; b++)
				macs[n][b] = (uint8_t)(p->groups[g] >> (40 - 8 * b));
			n++;
		}
	d->ops->multicast(d, (const uint8_t (*)[6])macs, n);
}

/* Joins (or leaves) group mac on p; 1 when p's set changed. */
static int mcast_apply(struct ring_port *p, uint32_t op, uint64_t mac)
{
	for (uint32_t g = 0; g < p->ngroups; g++)
		if (p->groups[g] == mac) {
			if (op == EXO_NIC_LEAVE)
				p->groups[g] = p->groups[--p->ngroups];
			return op == EXO_NIC_LEAVE;
		}
	if (op == EXO_NIC_LEAVE || p->ngroups == NIC_GROUPS)
		return 0;		/* not joined; room was checked */
	p->groups[p->ngroups++] = mac;
	return 1;
}

/* One buffer of a POST batch, checked; rx/tx counted into *nrx, *ntx,
 * joins into *njoin. */
static int nic_check(struct env *e, struct cap *c, const struct exo_nic_buf *b,
		     uint64_t *pa, struct cap **frame, uint32_t *nrx, uint32_t *ntx, uint32_t *njoin)
{
	if (b->reserved)
		return -EXO_EINVAL;
	if (b->op == EXO_NIC_JOIN || b->op == EXO_NIC_LEAVE) {
		if (!(c->rights & EXO_R_READ))
			return -EXO_EACCES;
		if (b->frame_slot || b->offset || b->length || b->cookie >> 48 || !(b->cookie >> 40 & 1))
			return -EXO_EINVAL;	/* a group MAC has the multicast bit */
		*njoin += b->op == EXO_NIC_JOIN;
		return 0;
	}
	if (b->op == EXO_NIC_RX) {
		if (!(c->rights & EXO_R_READ))
			return -EXO_EACCES;
		if (b->length < 60)
			return -EXO_EINVAL;
		(*nrx)++;
		return ring_buffer_check(e, b->frame_slot, EXO_R_WRITE, b->offset, b->length, pa, frame);
	}
	if (b->op == EXO_NIC_TX) {
		if (!(c->rights & EXO_R_WRITE))
			return -EXO_EACCES;
		if (b->length < 14 || b->length > EXO_NIC_MAX_FRAME)
			return -EXO_EINVAL;
		(*ntx)++;
		return ring_buffer_check(e, b->frame_slot, EXO_R_READ, b->offset, b->length, pa, frame);
	}
	return -EXO_EINVAL;
}

int64_t nic_post(struct env *e, struct cap *c, uint64_t uptr, uint64_t n)
{
	struct exo_nic_buf bufs[EXO_RING_BATCH];
	uint64_t pa[EXO_RING_BATCH];
	struct cap *frame[EXO_RING_BATCH];
	struct ring_port *p = c->obj;
	struct nic_dev *d = p->dev;
	uint32_t nrx = 0, ntx = 0, njoin = 0, id;
	int groups_changed = 0;

	if (n == 0 || n > EXO_RING_BATCH)
		return -EXO_EINVAL;
	if (copy_from_user(bufs, uptr, n * sizeof bufs[0]))
		return -EXO_EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		int err = nic_check(e, c, &bufs[i], &pa[i], &frame[i], &nrx, &ntx, &njoin);
		if (err)
			return err;
	}
	if (d->hw.dead)
		return -EXO_EIO;
	nic_drain(d);				/* frees room where it can */
	if (p->nrx + nrx > NIC_RX_POSTED || d->tx_inflight + ntx > d->txq ||
	    !ring_room(p, p->nrx + p->inflight, nrx + ntx))
		return -EXO_EAGAIN;
	if (p->ngroups + njoin > NIC_GROUPS)
		return -EXO_ENOSPC;
	for (uint64_t i = 0; i < n; i++) {
		struct ring_req *r;
		if (bufs[i].op == EXO_NIC_JOIN || bufs[i].op == EXO_NIC_LEAVE) {
			groups_changed |= mcast_apply(p, bufs[i].op, bufs[i].cookie);
			continue;
		}
		if (bufs[i].op == EXO_NIC_RX) {
			r = &p->rx[(p->rx_head + p->nrx++) % NIC_RX_POSTED];
		} else {
			if (d->ops->tx(d, pa[i], bufs[i].length, &id) || id >= RING_INFLIGHT)
				panic("nic: %s refused a frame it had room for", d->model);
			r = &d->tx[id];
			d->tx_inflight++;
			p->inflight++;
		}
		ring_pin(r, frame[i], pa[i], bufs[i].length);
		r->port = p;
		r->cookie = bufs[i].cookie;
		r->op = bufs[i].op;
		r->in_device = bufs[i].op == EXO_NIC_TX;
	}
	if (ntx)
		d->ops->kick(d);		/* one doorbell for the batch */
	if (groups_changed)
		mcast_update(d);
	return (int64_t)n;
}
