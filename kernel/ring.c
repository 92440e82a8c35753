/*
 * What NIC and block capabilities share: ports (an endpoint with its own
 * completion queue and notification), buffer checks against FRAME caps,
 * pins that keep a buffer's frames while a device may use them, and the
 * BIND and REAP calls.  See ring.h; nic.c and blk.c hold the rest.
 */
#include "kernel/ring.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/heap.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"

#define QUIESCE_NS 1000000000ull	/* a device gets 1 s to let go of a buffer */

void ring_hw_poll(struct ring_hw *h, void *dev)
{
	if (h->dead)
		return;
	if (h->bounded)
		h->interrupts(dev, 0);	/* the holder is reaping: no interrupts meanwhile */
	h->drain(dev);
	if (h->busy || h->bounded) {
		h->busy = 0;
		while (h->interrupts(dev, 1) && h->drain(dev))
			;
	}
}

void ring_hw_interrupt(struct ring_hw *h, void *dev)
{
	h->interrupts(dev, 0);
	for (int round = 0; !h->dead; round++) {
		h->drain(dev);
		if (!h->interrupts(dev, 1))
			return;		/* quiet, interrupts on */
		h->interrupts(dev, 0);
		if (round >= 3 && !h->bounded)
			break;
	}
	if (!h->dead)
		h->busy = 1;
}

void ring_hw_wait(struct ring_hw *h, void *dev, const uint32_t *count)
{
	uint64_t deadline = time_ns() + QUIESCE_NS;

	while (*count && !h->dead && time_ns() < deadline)
		h->drain(dev);
	if (*count && !h->dead) {
		klog(LOG_WARN, "ring: %s did not let go of a buffer within 1 s; reset and disabled\n",
		     h->model);
		h->kill(dev);
	}
}

/* The device behind a port. */
static struct ring_hw *port_hw(struct ring_port *p)
{
	return p->type == EXO_CAP_NIC ? &((struct nic_dev *)p->dev)->hw : &((struct blk_dev *)p->dev)->hw;
}

struct ring_port *ring_port_new(int type, void *dev)
{
	struct ring_port *p = kzalloc(sizeof *p);
	if (!p)
		return NULL;
	p->type = type;
	p->dev = dev;
	return p;
}

void ring_port_get(struct ring_port *p)
{
	p->refs++;
}

void ring_port_put(struct ring_port *p)
{
	if (--p->refs > 0)
		return;
	if (p->type == EXO_CAP_NIC)
		nic_port_gone(p);	/* drops its receive buffers */
	ring_hw_wait(port_hw(p), p->dev, &p->inflight);	/* its requests leave the device */
	if (p->notify)
		notify_put(p->notify);
	kfree(p);
}

/* The port behind a pin's request. */
static struct ring_port *pin_port(struct cap *pin)
{
	struct ring_req *r = pin->obj;
	return r ? r->port : NULL;
}

void ring_pin_release(struct cap *pin)
{
	struct ring_req *r = pin->obj;
	struct ring_port *p = pin_port(pin);

	if (!r || r->releasing)
		return;
	r->releasing = 1;
	if (r->in_device && p)
		ring_hw_wait(port_hw(p), p->dev, &r->in_device);
	if (!r->in_device && p && p->type == EXO_CAP_NIC && r >= p->rx && r < p->rx + NIC_RX_POSTED)
		r->op = 0;	/* a posted receive buffer: the NIC code skips it */
}

int ring_buffer_check(struct env *e, uint32_t slot, uint32_t rights, uint64_t offset,
		      uint64_t len, uint64_t *pa, struct cap **frame)
{
	struct cap *f = cap_get(e, slot, EXO_CAP_NONE, 0);

	if (!f)
		return -EXO_EBADF;
	if (f->type != EXO_CAP_FRAME)
		return -EXO_EINVAL;
	if ((f->rights & rights) != rights)
		return -EXO_EACCES;
	uint64_t bytes = f->count * PAGE_SIZE;
	if (len == 0 || offset >= bytes || len > bytes - offset)
		return -EXO_EINVAL;
	*pa = f->first * PAGE_SIZE + offset;
	*frame = f;
	return 0;
}

void ring_pin(struct ring_req *r, struct cap *frame, uint64_t pa, uint32_t len)
{
	uint64_t first = pa / PAGE_SIZE, last = (pa + len - 1) / PAGE_SIZE;

	cap_pin(&r->pin, frame, first, last - first + 1, r);
	r->pa = pa;
	r->len = len;
	r->releasing = 0;
	r->in_device = 0;
}

void ring_req_free(struct ring_req *r)
{
	int drop = r->pin.type && !r->releasing;

	r->in_device = 0;		/* done: nothing to stop when the pin goes */
	r->releasing = 1;
	if (drop)
		cap_delete(&r->pin);
	r->op = 0;
	r->port = NULL;
}

void ring_model(char out[16], const char *model)
{
	size_t n = strlen(model);
	memcpy(out, model, n < 15 ? n : 15);
}

int ring_room(const struct ring_port *p, uint32_t promised, uint32_t n)
{
	return p->ndone + promised + n <= RING_DONE_MAX;
}

void ring_complete(struct ring_port *p, uint64_t cookie, uint32_t op, uint32_t len,
		   int32_t status, uint32_t flags)
{
	if (p->ndone >= RING_DONE_MAX)
		return;		/* not reached: posting reserves room */
	p->done[(p->done_head + p->ndone++) % RING_DONE_MAX] =
		(struct exo_ring_done){ .cookie = cookie, .length = len, .status = status,
					.op = op, .flags = flags };
	if (p->notify && !p->signalled) {
		p->signalled = 1;	/* once until the holder reaps */
		notify_signal(p->notify, p->badge);
	}
}

int64_t ring_bind(struct cap *c, struct notify *n, uint64_t badge)
{
	struct ring_port *p = c->obj;

	if (badge == 0 || badge >> 63)
		return -EXO_EINVAL;
	n->refs++;
	if (p->notify)
		notify_put(p->notify);
	p->notify = n;
	p->badge = badge;
	p->signalled = 0;
	if (p->ndone) {
		p->signalled = 1;
		notify_signal(n, badge);
	}
	return 0;
}

int64_t ring_reap(struct cap *c, uint64_t uptr, uint64_t max)
{
	struct ring_port *p = c->obj;

	if (max > RING_DONE_MAX)
		max = RING_DONE_MAX;
	if (!user_range_ok(uptr, max * sizeof(struct exo_ring_done)))
		return -EXO_EFAULT;
	ring_hw_poll(port_hw(p), p->dev);
	uint64_t n = 0;
	while (n < max && p->ndone) {
		if (copy_to_user(uptr + n * sizeof(struct exo_ring_done), &p->done[p->done_head],
				 sizeof(struct exo_ring_done)))
			return n ? (int64_t)n : -EXO_EFAULT;
		p->done_head = (p->done_head + 1) % RING_DONE_MAX;
		p->ndone--;
		n++;
	}
	if (!p->ndone)
		p->signalled = 0;	/* the next completion notifies again */
	return (int64_t)n;
}

/* A NIC filter: each field 0 or a supported value; a port implies an IP
 * protocol with ports, a protocol an IP EtherType. */
static int filter_ok(uint64_t f)
{
	uint16_t et = EXO_NIC_FILTER_ETHERTYPE(f), port = EXO_NIC_FILTER_DPORT(f);
	uint8_t proto = EXO_NIC_FILTER_IPPROTO(f);

	if (f >> 40)
		return 0;
	if (port && proto != 6 && proto != 17)
		return 0;
	return !proto || et == 0x0800 || et == 0x86dd;
}

/* child narrows parent: every field parent sets, child sets the same. */
static int filter_narrows(uint64_t child, uint64_t parent)
{
	uint64_t masks[3] = { 0xffff, 0xff0000, 0xffff000000ull };
	for (int i = 0; i < 3; i++)
		if ((parent & masks[i]) && (parent & masks[i]) != (child & masks[i]))
			return 0;
	return 1;
}

int ring_derive_check(const struct cap *c, uint64_t first, uint64_t count)
{
	struct ring_port *p = c->obj;

	if (c->type == EXO_CAP_BLOCK) {
		if (count == 0 || first < c->first || first - c->first > c->count ||
		    count > c->count - (first - c->first))
			return -EXO_EINVAL;
		return 0;
	}
	if (first == 0)
		return 0;		/* a copy on the same port */
	if (!filter_ok(first) || !filter_narrows(first, p->filter))
		return -EXO_EINVAL;
	struct nic_dev *d = p->dev;
	for (struct ring_port *q = d->ports; q; q = q->next)
		if (q->filter == first)
			return -EXO_EBUSY;	/* another port has this filter */
	return 0;
}

struct ring_port *ring_derive(struct env *e, const struct cap *c, uint64_t first,
			      uint64_t count, int *err)
{
	struct ring_port *parent = c->obj;
	(void)count;

	if (c->type == EXO_CAP_NIC && first == 0)
		return parent;
	uint64_t pages = kheap_pages(sizeof(struct ring_port));
	if (env_charge(e, pages)) {
		*err = -EXO_ENOMEM;
		return NULL;
	}
	struct ring_port *p = ring_port_new(c->type, parent->dev);
	if (!p) {
		env_uncharge(e, pages);
		*err = -EXO_ENOMEM;
		return NULL;
	}
	/* like a notification's, the charge stays with e until it ends */
	if (c->type == EXO_CAP_NIC) {
		struct nic_dev *d = parent->dev;
		p->filter = first;
		p->next = d->ports;
		d->ports = p;
	}
	return p;
}
