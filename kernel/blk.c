/*
 * Block capabilities.  A cap covers sectors [first, first + count) of a
 * disk; deriving narrows the range (a partition) and gives the child its
 * own port.  Requests move data by DMA straight between the disk and the
 * caller's frames, which are pinned until the request completes.
 */
#include "kernel/ring.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"

#define BLK_MAX_BYTES (64u << 10)

static struct blk_dev *disks[RING_MAX_DEVICES];
static struct ring_port *roots[RING_MAX_DEVICES];
static int ndisks;

static int blk_drain(void *dev);
static int hw_interrupts(void *d, int on);
static void blk_kill(void *dev);

int blk_register(struct blk_dev *d)
{
	if (ndisks == RING_MAX_DEVICES)
		return -EXO_ENOSPC;
	d->hw = (struct ring_hw){ .model = d->model, .drain = blk_drain, .bounded = 1,
				  .interrupts = hw_interrupts, .kill = blk_kill };
	struct ring_port *p = ring_port_new(EXO_CAP_BLOCK, d);
	if (!p)
		return -EXO_ENOMEM;
	roots[ndisks] = p;
	disks[ndisks++] = d;
	return 0;
}

int ring_blk_count(void) { return ndisks; }
struct ring_port *ring_blk_root(int i) { return roots[i]; }

static void req_finish(struct blk_dev *d, struct ring_req *r, int32_t status)
{
	if (r->port) {
		ring_complete(r->port, r->cookie, r->op, status ? 0 : r->len, status, 0);
		r->port->inflight--;
	}
	d->inflight--;
	ring_req_free(r);
}

/* Takes every finished request; how many. */
static int blk_drain(void *dev)
{
	struct blk_dev *d = dev;
	int n = 0, id, status;

	if (d->hw.dead)
		return 0;
	while ((id = d->ops->done(d, &status)) >= 0) {
		if (id < RING_INFLIGHT && d->req[id].in_device)
			req_finish(d, &d->req[id], status);
		n++;
	}
	return n;
}

static int hw_interrupts(void *d, int on)
{
	return ((struct blk_dev *)d)->ops->interrupts(d, on);
}

static void blk_kill(void *dev)
{
	struct blk_dev *d = dev;
	d->ops->reset(d);
	d->hw.dead = 1;
	for (int i = 0; i < RING_INFLIGHT; i++)
		if (d->req[i].in_device)
			req_finish(d, &d->req[i], -EXO_EIO);
}

void blk_interrupt(struct blk_dev *d)
{
	ring_hw_interrupt(&d->hw, d);
}

int64_t blk_info(struct cap *c, uint64_t uptr)
{
	struct ring_port *p = c->obj;
	struct blk_dev *d = p->dev;
	struct exo_blk_info info = { .sectors = c->count, .first = c->first,
				     .disk_sectors = d->sectors, .sector_size = d->sector_size,
				     .queue = d->queue, .write_cache = d->write_cache,
				     .flush = d->flush, .discard = d->discard,
				     .read_only = d->read_only };
	ring_model(info.model, d->model);
	return copy_to_user(uptr, &info, sizeof info);
}

/* One request of a SUBMIT batch, checked against the cap's range and
 * rights and the frames it names. */
static int blk_check(struct env *e, struct cap *c, struct blk_dev *d,
		     const struct exo_blk_req *q, uint64_t *pa, struct cap **frame)
{
	uint32_t need = q->op == EXO_BLK_READ ? EXO_R_READ : EXO_R_WRITE;

	if (q->reserved || q->op < EXO_BLK_READ || q->op > EXO_BLK_DISCARD)
		return -EXO_EINVAL;
	if (!(c->rights & need))
		return -EXO_EACCES;
	if ((q->op == EXO_BLK_FLUSH && !d->flush) || (q->op == EXO_BLK_DISCARD && !d->discard) ||
	    (q->op != EXO_BLK_READ && d->read_only))
		return -EXO_EINVAL;
	*frame = NULL;
	*pa = 0;
	if (q->op == EXO_BLK_FLUSH)
		return q->length ? -EXO_EINVAL : 0;
	uint64_t secs = q->length / d->sector_size;
	if (q->length == 0 || q->length % d->sector_size || q->length > BLK_MAX_BYTES ||
	    q->sector >= c->count || secs > c->count - q->sector)
		return -EXO_ERANGE;
	if (q->op == EXO_BLK_DISCARD)
		return 0;
	/* reading from the disk writes the frames, and the other way round */
	return ring_buffer_check(e, q->frame_slot, q->op == EXO_BLK_READ ? EXO_R_WRITE : EXO_R_READ,
				 q->offset, q->length, pa, frame);
}

int64_t blk_submit(struct env *e, struct cap *c, uint64_t uptr, uint64_t n)
{
	struct exo_blk_req reqs[EXO_RING_BATCH];
	uint64_t pa[EXO_RING_BATCH];
	struct cap *frame[EXO_RING_BATCH];
	struct ring_port *p = c->obj;
	struct blk_dev *d = p->dev;
	uint32_t id;

	if (n == 0 || n > EXO_RING_BATCH)
		return -EXO_EINVAL;
	if (copy_from_user(reqs, uptr, n * sizeof reqs[0]))
		return -EXO_EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		int err = blk_check(e, c, d, &reqs[i], &pa[i], &frame[i]);
		if (err)
			return err;
	}
	if (d->hw.dead)
		return -EXO_EIO;
	blk_drain(d);
	if (d->inflight + n > d->queue || !ring_room(p, p->inflight, (uint32_t)n))
		return -EXO_EAGAIN;
	for (uint64_t i = 0; i < n; i++) {
		const struct exo_blk_req *q = &reqs[i];
		if (d->ops->submit(d, q->op, c->first + q->sector, pa[i], q->length, &id) ||
		    id >= RING_INFLIGHT)
			panic("blk: %s refused a request it had room for", d->model);
		struct ring_req *r = &d->req[id];
		r->releasing = 0;
		if (frame[i])
			ring_pin(r, frame[i], pa[i], q->length);
		r->len = q->length;
		r->port = p;
		r->cookie = q->cookie;
		r->op = q->op;
		r->in_device = 1;
		d->inflight++;
		p->inflight++;
	}
	d->ops->kick(d);		/* one doorbell for the batch */
	return (int64_t)n;
}
