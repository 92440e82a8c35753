/*
 * virtio-blk (modern, virtio 1.0): one request queue; each request is a
 * header and a status byte in kernel pages (by head descriptor id) around
 * the caller's buffer, which kernel/blk.c has checked and pinned.
 */
#include "drivers/virtio.h"
#include "include/exo/abi.h"
#include "kernel/console.h"
#include "kernel/heap.h"
#include "kernel/ring.h"
#include "kernel/string.h"
#include "kernel/vm.h"

#define BLK_F_RO (1ull << 5)
#define BLK_F_BLK_SIZE (1ull << 6)
#define BLK_F_FLUSH (1ull << 9)
#define BLK_F_CONFIG_WCE (1ull << 11)
#define BLK_F_DISCARD (1ull << 13)

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_DISCARD 11

struct req_hdr {
	uint32_t type, reserved;
	uint64_t sector;		/* in 512-byte units, whatever the block size */
};
struct discard_seg {
	uint64_t sector;
	uint32_t sectors, flags;
};
_Static_assert(sizeof(struct req_hdr) == 16 && sizeof(struct discard_seg) == 16, "virtio-blk");

struct vblk {
	struct blk_dev blk;
	struct virtio_dev v;
	struct virtq q;
	uint64_t features;
	uint32_t units;			/* 512-byte units per sector */
	uint64_t hdr_pa, seg_pa, status_pa;	/* one entry per descriptor id */
};

static struct vblk *priv(struct blk_dev *d) { return d->priv; }

static int vblk_submit(struct blk_dev *d, uint32_t op, uint64_t sector, uint64_t pa,
		       uint32_t len, uint32_t *id)
{
	struct vblk *b = priv(d);
	uint16_t head = b->q.free_head;
	struct req_hdr *h = (struct req_hdr *)phys_to_virt(b->hdr_pa) + head;
	struct discard_seg *g = (struct discard_seg *)phys_to_virt(b->seg_pa) + head;
	uint8_t *status = (uint8_t *)phys_to_virt(b->status_pa) + head;
	struct virtq_seg s[3];
	int n = 0;

	*h = (struct req_hdr){ .sector = sector * b->units };
	s[n++] = (struct virtq_seg){ b->hdr_pa + head * sizeof *h, sizeof *h, 0 };
	switch (op) {
	case EXO_BLK_READ:
		h->type = T_IN;
		s[n++] = (struct virtq_seg){ pa, len, 1 };
		break;
	case EXO_BLK_WRITE:
		h->type = T_OUT;
		s[n++] = (struct virtq_seg){ pa, len, 0 };
		break;
	case EXO_BLK_FLUSH:
		h->type = T_FLUSH;
		h->sector = 0;
		break;
	default:
		h->type = T_DISCARD;
		h->sector = 0;
		*g = (struct discard_seg){ .sector = sector * b->units,
					   .sectors = len / d->sector_size * b->units };
		s[n++] = (struct virtq_seg){ b->seg_pa + head * sizeof *g, sizeof *g, 0 };
		break;
	}
	*status = 0xff;
	s[n++] = (struct virtq_seg){ b->status_pa + head, 1, 1 };
	int got = virtq_add(&b->q, s, n);
	if (got < 0)
		return got;
	*id = (uint32_t)got;
	return 0;
}

static void vblk_kick(struct blk_dev *d) { virtq_kick(&priv(d)->q); }

static int vblk_done(struct blk_dev *d, int *status)
{
	struct vblk *b = priv(d);
	uint32_t len;
	int id = virtq_next_used(&b->q, &len);
	if (id >= 0)
		*status = ((uint8_t *)phys_to_virt(b->status_pa))[id] ? -EXO_EIO : 0;
	return id;
}

static int vblk_interrupts(struct blk_dev *d, int on)
{
	virtq_interrupts(&priv(d)->q, on);
	return virtq_has_used(&priv(d)->q);
}

static void vblk_reset(struct blk_dev *d) { virtio_reset(&priv(d)->v); }

static const struct blk_ops vblk_ops = {
	.submit = vblk_submit, .kick = vblk_kick, .done = vblk_done,
	.interrupts = vblk_interrupts, .reset = vblk_reset,
};

static void vblk_irq(void *arg)
{
	blk_interrupt((struct blk_dev *)arg);
}

/* Reads the geometry and what the disk supports from its configuration. */
static void vblk_config(struct vblk *b)
{
	uint32_t ss = 512;
	if (b->features & BLK_F_BLK_SIZE) {
		ss = virtio_cfg32(&b->v, 20);
		if (ss < 512 || ss > 4096 || (ss & (ss - 1)))
			ss = 512;
	}
	b->units = ss / 512;
	b->blk = (struct blk_dev){
		.ops = &vblk_ops, .priv = b, .model = "virtio-blk",
		.sectors = virtio_cfg64(&b->v, 0) / b->units, .sector_size = ss,
		.queue = (uint16_t)(b->q.size / 3),
		.flush = (b->features & BLK_F_FLUSH) != 0,
		.discard = (b->features & BLK_F_DISCARD) != 0,
		.read_only = (b->features & BLK_F_RO) != 0,
		/* without CONFIG_WCE a device offering FLUSH may cache writes */
		.write_cache = b->features & BLK_F_CONFIG_WCE ? virtio_cfg8(&b->v, 32) != 0
							      : (b->features & BLK_F_FLUSH) != 0,
	};
}

int virtio_blk_probe(const struct pci_device *pd)
{
	struct vblk *b = kzalloc(sizeof *b);
	int err, vector = pci_alloc_vector();

	if (!b)
		return -EXO_ENOMEM;
	if ((err = virtio_probe(&b->v, pd)) ||
	    (err = virtio_negotiate(&b->v, BLK_F_RO | BLK_F_BLK_SIZE | BLK_F_FLUSH |
				    BLK_F_CONFIG_WCE | BLK_F_DISCARD, &b->features)) ||
	    (err = virtq_setup(&b->v, &b->q, 0, VIRTQ_MAX, 0, vector)))
		goto fail;
	b->hdr_pa = page_alloc_zeroed();
	b->seg_pa = page_alloc_zeroed();
	b->status_pa = page_alloc_zeroed();
	err = b->hdr_pa && b->seg_pa && b->status_pa ? 0 : -EXO_ENOMEM;
	if (err)
		goto fail;
	vblk_config(b);
	if ((err = blk_register(&b->blk)))
		goto fail;
	if (vector)
		pci_bind_vector(vector, vblk_irq, &b->blk);
	virtio_ready(&b->v);
	klog(LOG_INFO, "virtio-blk %02x:%02x.%x: %lu sectors of %u bytes, queue %u%s%s%s, %s\n",
	     pd->bus, pd->dev, pd->fn, b->blk.sectors, b->blk.sector_size, b->q.size,
	     b->blk.flush ? ", flush" : "", b->blk.discard ? ", discard" : "",
	     b->blk.read_only ? ", read-only" : "", vector && b->v.msix.table ? "MSI-X" : "polled");
	return 0;
fail:
	klog(LOG_WARN, "virtio-blk %02x:%02x.%x: not started (%d)\n", pd->bus, pd->dev, pd->fn, err);
	if (b->v.common)
		virtio_reset(&b->v);
	kfree(b);
	return err;
}
