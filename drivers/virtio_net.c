/*
 * virtio-net (modern, virtio 1.0): queue 0 receives into kernel buffers,
 * queue 1 sends frames from wherever the NIC layer says (kernel/nic.c
 * has checked and pinned them).  No offloads are negotiated: every header
 * is zero on the way out and ignored on the way in.
 */
#include "drivers/virtio.h"
#include "include/exo/abi.h"
#include "kernel/console.h"
#include "kernel/heap.h"
#include "kernel/ring.h"
#include "kernel/string.h"
#include "kernel/vm.h"

#define NET_F_MAC (1ull << 5)
#define NET_F_STATUS (1ull << 16)
#define NET_HDR 12			/* struct virtio_net_hdr with num_buffers */
#define RX_BUF 2048

struct vnet {
	struct nic_dev nic;
	struct virtio_dev v;
	struct virtq rxq, txq;
	uint64_t features;
	uint64_t rx_pa[VIRTQ_MAX];	/* receive buffer by descriptor id */
	uint64_t cur_pa;		/* the frame rx() handed out */
	uint64_t hdr_pa;		/* a zero header for every frame sent */
};

static struct vnet *priv(struct nic_dev *d) { return d->priv; }

static int vnet_link_up(struct nic_dev *d)
{
	struct vnet *n = priv(d);
	return !(n->features & NET_F_STATUS) || (virtio_cfg16(&n->v, 6) & 1);
}

static int vnet_tx(struct nic_dev *d, uint64_t pa, uint32_t len, uint32_t *id)
{
	struct vnet *n = priv(d);
	struct virtq_seg s[2] = { { n->hdr_pa, NET_HDR, 0 }, { pa, len, 0 } };
	int head = virtq_add(&n->txq, s, 2);
	if (head < 0)
		return head;
	*id = (uint32_t)head;
	return 0;
}

static void vnet_kick(struct nic_dev *d)
{
	virtq_kick(&priv(d)->rxq);
	virtq_kick(&priv(d)->txq);
}

static int vnet_tx_done(struct nic_dev *d)
{
	uint32_t len;
	return virtq_next_used(&priv(d)->txq, &len);
}

static int rx_post(struct vnet *n, uint64_t pa)
{
	struct virtq_seg s = { pa, RX_BUF, 1 };
	int id = virtq_add(&n->rxq, &s, 1);
	if (id >= 0)
		n->rx_pa[id] = pa;
	return id;
}

static const uint8_t *vnet_rx(struct nic_dev *d, uint32_t *len)
{
	struct vnet *n = priv(d);
	uint32_t got;
	int id = virtq_next_used(&n->rxq, &got);
	if (id < 0)
		return NULL;
	n->cur_pa = n->rx_pa[id];
	if (got > RX_BUF)
		got = RX_BUF;
	*len = got > NET_HDR ? got - NET_HDR : 0;
	return (const uint8_t *)phys_to_virt(n->cur_pa) + NET_HDR;
}

static void vnet_rx_recycle(struct nic_dev *d)
{
	rx_post(priv(d), priv(d)->cur_pa);
}

static int vnet_interrupts(struct nic_dev *d, int on)
{
	struct vnet *n = priv(d);
	virtq_interrupts(&n->rxq, on);
	virtq_interrupts(&n->txq, on);
	return virtq_has_used(&n->rxq) || virtq_has_used(&n->txq);
}

static void vnet_reset(struct nic_dev *d)
{
	virtio_reset(&priv(d)->v);
}

static const struct nic_ops vnet_ops = {
	.link_up = vnet_link_up, .tx = vnet_tx, .kick = vnet_kick, .tx_done = vnet_tx_done,
	.rx = vnet_rx, .rx_recycle = vnet_rx_recycle, .interrupts = vnet_interrupts,
	.reset = vnet_reset,
};

static void vnet_irq(void *arg)
{
	nic_interrupt((struct nic_dev *)arg);
}

/* Fills the receive queue with kernel buffers, two to a frame. */
static int rx_fill(struct vnet *n)
{
	for (uint16_t i = 0; i < n->rxq.size; i += 2) {
		uint64_t pa = page_alloc_zeroed();
		if (!pa)
			return -EXO_ENOMEM;
		rx_post(n, pa);
		if (i + 1 < n->rxq.size)
			rx_post(n, pa + RX_BUF);
	}
	return 0;
}

int virtio_net_probe(const struct pci_device *pd)
{
	struct vnet *n = kzalloc(sizeof *n);
	int err, vector = pci_alloc_vector();

	if (!n)
		return -EXO_ENOMEM;
	if ((err = virtio_probe(&n->v, pd)) || (err = virtio_negotiate(&n->v, NET_F_MAC | NET_F_STATUS, &n->features)))
		goto fail;
	if ((err = virtq_setup(&n->v, &n->rxq, 0, VIRTQ_MAX, 0, vector)) ||
	    (err = virtq_setup(&n->v, &n->txq, 1, VIRTQ_MAX, 0, vector)))
		goto fail;
	n->hdr_pa = page_alloc_zeroed();
	err = n->hdr_pa ? rx_fill(n) : -EXO_ENOMEM;
	if (err)
		goto fail;
	n->nic = (struct nic_dev){ .ops = &vnet_ops, .priv = n, .model = "virtio-net",
				   .rxq = n->rxq.size, .txq = (uint16_t)(n->txq.size / 2) };
	for (int i = 0; i < 6; i++)
		n->nic.mac[i] = n->features & NET_F_MAC ? virtio_cfg8(&n->v, (uint32_t)i) : 0;
	if ((err = nic_register(&n->nic)))
		goto fail;
	if (vector)
		pci_bind_vector(vector, vnet_irq, &n->nic);
	virtio_ready(&n->v);
	virtq_kick(&n->rxq);
	klog(LOG_INFO, "virtio-net %02x:%02x.%x: mac %02x:%02x:%02x:%02x:%02x:%02x, queues %u/%u, %s\n",
	     pd->bus, pd->dev, pd->fn, n->nic.mac[0], n->nic.mac[1], n->nic.mac[2], n->nic.mac[3],
	     n->nic.mac[4], n->nic.mac[5], n->rxq.size, n->txq.size,
	     vector && n->v.msix.table ? "MSI-X" : "polled");
	return 0;
fail:
	klog(LOG_WARN, "virtio-net %02x:%02x.%x: not started (%d)\n", pd->bus, pd->dev, pd->fn, err);
	if (n->v.common)
		virtio_reset(&n->v);
	kfree(n);	/* its queue pages stay allocated: a failed device is rare */
	return err;
}
