/*
 * NVMe (NVM Express 1.4, PCI class 01:08:02): the admin queue, identify,
 * and one I/O queue pair whose completions interrupt through MSI-X entry
 * 0.  Each request's command id is its kernel/blk.c id; its data buffer
 * (checked and pinned there, physically contiguous) is described by PRPs
 * in kernel pages, one small PRP list per command id.  Namespace 1 is the
 * disk.  Queue memory comes from kernel frames that no capability covers.
 */
#include "drivers/pci.h"
#include "include/exo/abi.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/heap.h"
#include "kernel/ring.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vm.h"

/* controller registers */
#define R_CAP 0x00
#define R_VS 0x08
#define R_CC 0x14
#define R_CSTS 0x1c
#define R_AQA 0x24
#define R_ASQ 0x28
#define R_ACQ 0x30
#define DOORBELLS 0x1000

#define CC_EN 1u
#define CC_IOSQES (6u << 16)		/* 64-byte submission entries */
#define CC_IOCQES (4u << 20)		/* 16-byte completion entries */
#define CSTS_RDY 1u
#define CSTS_CFS 2u

/* admin and NVM opcodes */
#define A_CREATE_SQ 0x01
#define A_CREATE_CQ 0x05
#define A_IDENTIFY 0x06
#define A_SET_FEATURES 0x09
#define N_FLUSH 0x00
#define N_WRITE 0x01
#define N_READ 0x02
#define N_DSM 0x09

#define ADMIN_ENTRIES 16
#define IO_ENTRIES 128			/* submission queue: two pages */
#define NSID 1
#define PRP_LIST_BYTES 128		/* 16 entries: 64 KiB at any offset */
#define MSIX_ENTRY 0
#define ADMIN_TIMEOUT_NS 2000000000ull

struct nvme_sqe {
	uint8_t opcode, flags;
	uint16_t cid;
	uint32_t nsid;
	uint64_t reserved, mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
struct nvme_cqe {
	uint32_t dw0, dw1;
	uint16_t sq_head, sq_id;
	uint16_t cid, status;		/* status bit 0: the phase tag */
};
struct nvme_dsm_range {
	uint32_t attributes, blocks;
	uint64_t lba;
};
_Static_assert(sizeof(struct nvme_sqe) == 64 && sizeof(struct nvme_cqe) == 16 &&
	       sizeof(struct nvme_dsm_range) == 16, "nvme");

struct nvme_queue {
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	uint64_t sq_pa, cq_pa;
	uint16_t entries, sq_tail, cq_head, phase;
	uint16_t kicked;		/* the tail the device was last told */
	volatile uint32_t *sq_db, *cq_db;
};

struct nvme {
	struct blk_dev blk;
	const struct pci_device *pci;
	volatile uint8_t *regs;
	struct pci_msix msix;
	uint64_t cap;
	uint32_t timeout_ms;
	struct nvme_queue admin, io;
	uint64_t busy[(IO_ENTRIES + 63) / 64];	/* command ids in the device */
	uint64_t prp_pa, range_pa;	/* per command id: PRP list, DSM range */
	uint64_t ident_pa;		/* identify data */
};

static uint32_t r32(struct nvme *n, uint32_t o) { return *(volatile uint32_t *)(n->regs + o); }
static void w32(struct nvme *n, uint32_t o, uint32_t v) { *(volatile uint32_t *)(n->regs + o) = v; }
static void w64(struct nvme *n, uint32_t o, uint64_t v)
{
	w32(n, o, (uint32_t)v);
	w32(n, o + 4, (uint32_t)(v >> 32));
}
static inline void fence(void) { __asm__ volatile("mfence" ::: "memory"); }

static struct nvme *priv(struct blk_dev *d) { return d->priv; }

/* Waits up to the controller's own timeout (CAP.TO) for CSTS.RDY == want. */
static int wait_ready(struct nvme *n, uint32_t want)
{
	uint64_t deadline = time_ns() + (uint64_t)n->timeout_ms * 1000000ull;
	while ((r32(n, R_CSTS) & CSTS_RDY) != want) {
		if (time_ns() > deadline || r32(n, R_CSTS) == 0xffffffffu)
			return -EXO_EIO;
		cpu_relax();
	}
	return 0;
}

/* Queue memory for queue y (0: admin) of the given size: zeroed pages. */
static int queue_alloc(struct nvme *n, struct nvme_queue *q, int y, uint16_t entries)
{
	uint32_t stride = 4u << ((n->cap >> 32) & 0xf);
	uint64_t sq_pages = (entries * sizeof(struct nvme_sqe) + PAGE_SIZE - 1) / PAGE_SIZE;

	*q = (struct nvme_queue){ .entries = entries, .phase = 1 };
	q->sq_pa = frame_alloc_contig(&kframes, sq_pages, ~0ull);
	q->cq_pa = page_alloc_zeroed();
	if (!q->sq_pa || !q->cq_pa)
		return -EXO_ENOMEM;
	memset(phys_to_virt(q->sq_pa), 0, sq_pages * PAGE_SIZE);
	q->sq = phys_to_virt(q->sq_pa);
	q->cq = phys_to_virt(q->cq_pa);
	volatile uint8_t *db = pci_map_bar(n->pci, 0, DOORBELLS + 2u * (uint32_t)y * stride, 2 * stride);
	if (!db)
		return -EXO_EIO;
	q->sq_db = (volatile uint32_t *)db;
	q->cq_db = (volatile uint32_t *)(db + stride);
	return 0;
}

/* Puts cmd at the tail of q (the doorbell is rung by queue_kick). */
static void queue_put(struct nvme_queue *q, const struct nvme_sqe *cmd)
{
	q->sq[q->sq_tail] = *cmd;
	q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->entries);
}

static void queue_kick(struct nvme_queue *q)
{
	if (q->kicked == q->sq_tail)
		return;
	fence();			/* the entries before the doorbell */
	*q->sq_db = q->sq_tail;
	q->kicked = q->sq_tail;
}

static int queue_has_done(const struct nvme_queue *q)
{
	return (q->cq[q->cq_head].status & 1) == q->phase;
}

/* Takes the next completion of q into *out: 1, or 0 when none. */
static int queue_take(struct nvme_queue *q, struct nvme_cqe *out)
{
	if (!queue_has_done(q))
		return 0;
	__asm__ volatile("" ::: "memory");	/* the phase before the entry */
	*out = *(const struct nvme_cqe *)&q->cq[q->cq_head];
	if (++q->cq_head == q->entries) {
		q->cq_head = 0;
		q->phase ^= 1;
	}
	*q->cq_db = q->cq_head;
	return 1;
}

/* One admin command, polled (only at start-up): 0, or -EIO when the
 * controller failed it or did not answer. */
static int admin(struct nvme *n, struct nvme_sqe cmd, uint32_t *dw0)
{
	struct nvme_cqe c;
	uint64_t deadline = time_ns() + ADMIN_TIMEOUT_NS;

	cmd.cid = n->admin.sq_tail;
	queue_put(&n->admin, &cmd);
	queue_kick(&n->admin);
	while (!queue_take(&n->admin, &c)) {
		if (time_ns() > deadline)
			return -EXO_EIO;
		cpu_relax();
	}
	if (dw0)
		*dw0 = c.dw0;
	return c.status >> 1 ? -EXO_EIO : 0;
}

static int identify(struct nvme *n, uint32_t cns, uint32_t nsid)
{
	memset(phys_to_virt(n->ident_pa), 0, PAGE_SIZE);
	return admin(n, (struct nvme_sqe){ .opcode = A_IDENTIFY, .nsid = nsid,
					   .prp1 = n->ident_pa, .cdw10 = cns }, NULL);
}

/* A free command id (kept until its completion), or -1. */
static int cid_alloc(struct nvme *n)
{
	for (int i = 0; i < n->blk.queue; i++)
		if (!(n->busy[i / 64] >> (i % 64) & 1)) {
			n->busy[i / 64] |= 1ull << (i % 64);
			return i;
		}
	return -1;
}

/* PRP1 and PRP2 for len bytes at the physically contiguous pa: the
 * second page, or the command's list of every page after the first. */
static void prps(struct nvme *n, int cid, uint64_t pa, uint32_t len, struct nvme_sqe *c)
{
	uint64_t first = pa & ~(PAGE_SIZE - 1), last = (pa + len - 1) & ~(PAGE_SIZE - 1);

	c->prp1 = pa;
	if (last == first)
		return;
	if (last == first + PAGE_SIZE) {
		c->prp2 = last;
		return;
	}
	uint64_t list_pa = n->prp_pa + (uint64_t)cid * PRP_LIST_BYTES;
	uint64_t *list = phys_to_virt(list_pa);
	for (uint64_t p = first + PAGE_SIZE, i = 0; p <= last; p += PAGE_SIZE)
		list[i++] = p;
	c->prp2 = list_pa;
}

static int nvme_submit(struct blk_dev *d, uint32_t op, uint64_t sector, uint64_t pa,
		       uint32_t len, uint32_t *id)
{
	struct nvme *n = priv(d);
	int cid = cid_alloc(n);
	struct nvme_sqe c = { .nsid = NSID };
	uint32_t blocks = len / d->sector_size;

	if (cid < 0)
		return -EXO_ENOSPC;
	c.cid = (uint16_t)cid;
	switch (op) {
	case EXO_BLK_READ:
	case EXO_BLK_WRITE:
		c.opcode = op == EXO_BLK_READ ? N_READ : N_WRITE;
		prps(n, cid, pa, len, &c);
		c.cdw10 = (uint32_t)sector;
		c.cdw11 = (uint32_t)(sector >> 32);
		c.cdw12 = blocks - 1;		/* 0-based */
		break;
	case EXO_BLK_FLUSH:
		c.opcode = N_FLUSH;
		break;
	default: {
		uint64_t range_pa = n->range_pa + (uint64_t)cid * sizeof(struct nvme_dsm_range);
		*(struct nvme_dsm_range *)phys_to_virt(range_pa) =
			(struct nvme_dsm_range){ .blocks = blocks, .lba = sector };
		c.opcode = N_DSM;
		c.prp1 = range_pa;
		c.cdw10 = 0;			/* one range */
		c.cdw11 = 1u << 2;		/* deallocate */
	}
	}
	queue_put(&n->io, &c);
	*id = (uint32_t)cid;
	return 0;
}

static void nvme_kick(struct blk_dev *d) { queue_kick(&priv(d)->io); }

static int nvme_done(struct blk_dev *d, int *status)
{
	struct nvme *n = priv(d);
	struct nvme_cqe c;

	if (!queue_take(&n->io, &c))
		return -1;
	int id = c.cid;
	if (id < d->queue && (n->busy[id / 64] >> (id % 64) & 1))
		n->busy[id / 64] &= ~(1ull << (id % 64));
	else
		klog(LOG_WARN, "nvme: completion for command id %d not in the device\n", id);
	*status = c.status >> 1 ? -EXO_EIO : 0;
	return id;
}

/* MSI-X masking is the only way to hold NVMe's interrupts off (INTMS is
 * not for MSI-X); a completion posted meanwhile stays pending in the
 * entry and arrives at the unmask. */
static int nvme_interrupts(struct blk_dev *d, int on)
{
	struct nvme *n = priv(d);
	pci_msix_mask(&n->msix, MSIX_ENTRY, !on);
	fence();
	return queue_has_done(&n->io);
}

static void nvme_reset(struct blk_dev *d)
{
	struct nvme *n = priv(d);
	w32(n, R_CC, 0);
	wait_ready(n, 0);
}

static const struct blk_ops nvme_ops = {
	.submit = nvme_submit, .kick = nvme_kick, .done = nvme_done,
	.interrupts = nvme_interrupts, .reset = nvme_reset,
};

static void nvme_irq(void *arg)
{
	blk_interrupt((struct blk_dev *)arg);
}

/* Resets the controller and brings it up with the admin queue. */
static int controller_start(struct nvme *n)
{
	int err;

	n->cap = r32(n, R_CAP) | (uint64_t)r32(n, R_CAP + 4) << 32;
	n->timeout_ms = (uint32_t)((n->cap >> 24) & 0xff) * 500 + 500;
	if (!(n->cap >> 37 & 1) || (n->cap >> 48 & 0xf) != 0)
		return -EXO_ENOENT;		/* no NVM command set, or no 4 KiB pages */
	w32(n, R_CC, 0);
	if ((err = wait_ready(n, 0)) ||
	    (err = queue_alloc(n, &n->admin, 0, ADMIN_ENTRIES)))
		return err;
	w32(n, R_AQA, (ADMIN_ENTRIES - 1u) << 16 | (ADMIN_ENTRIES - 1u));
	w64(n, R_ASQ, n->admin.sq_pa);
	w64(n, R_ACQ, n->admin.cq_pa);
	w32(n, R_CC, CC_EN | CC_IOSQES | CC_IOCQES);
	if ((err = wait_ready(n, CSTS_RDY)))
		return err;
	return r32(n, R_CSTS) & CSTS_CFS ? -EXO_EIO : 0;
}

/* Identify: the namespace's size and block size, the cache, what the
 * controller supports.  -ENOTSUP for a format this driver cannot use. */
static int nvme_config(struct nvme *n, char model[41])
{
	const uint8_t *id = phys_to_virt(n->ident_pa);
	int err;

	if ((err = identify(n, 1, 0)))
		return err;
	uint8_t mdts = id[77], vwc = id[525];
	uint16_t oncs = (uint16_t)(id[520] | id[521] << 8);
	memcpy(model, id + 24, 40);
	model[40] = 0;
	for (int i = 39; i >= 0 && model[i] == ' '; i--)
		model[i] = 0;
	if (mdts && ((uint64_t)PAGE_SIZE << mdts) < (64u << 10))
		return -EXO_EINVAL;		/* a request is up to 64 KiB */
	if ((err = identify(n, 0, NSID)))
		return err;
	uint64_t nsze;
	memcpy(&nsze, id, 8);
	uint32_t lbaf;
	memcpy(&lbaf, id + 128 + 4 * (id[26] & 0xf), 4);
	uint32_t lbads = lbaf >> 16 & 0xff;
	if ((lbaf & 0xffff) || lbads < 9 || lbads > 12 || nsze == 0)
		return -EXO_EINVAL;		/* metadata, or a block size outside 512..4096 */
	n->blk = (struct blk_dev){
		.ops = &nvme_ops, .priv = n, .model = "nvme",
		.sectors = nsze, .sector_size = 1u << lbads,
		.queue = IO_ENTRIES - 1,	/* a full queue keeps one entry empty */
		.write_cache = vwc & 1, .flush = 1,
		.discard = (oncs >> 2) & 1,
		.read_only = id[99] & 1,	/* write protected */
	};
	return 0;
}

/* One I/O queue pair, its completions on MSI-X entry 0. */
static int io_queues(struct nvme *n)
{
	uint16_t entries = IO_ENTRIES;
	int err;

	if ((n->cap & 0xffff) + 1 < entries)
		return -EXO_EINVAL;
	if ((err = admin(n, (struct nvme_sqe){ .opcode = A_SET_FEATURES, .cdw10 = 0x07 }, NULL)) ||
	    (err = queue_alloc(n, &n->io, 1, entries)))
		return err;
	uint32_t size = (uint32_t)(entries - 1) << 16 | 1;
	if ((err = admin(n, (struct nvme_sqe){ .opcode = A_CREATE_CQ, .prp1 = n->io.cq_pa,
					      .cdw10 = size, .cdw11 = MSIX_ENTRY << 16 | 3 }, NULL)))
		return err;
	return admin(n, (struct nvme_sqe){ .opcode = A_CREATE_SQ, .prp1 = n->io.sq_pa,
					   .cdw10 = size, .cdw11 = 1u << 16 | 1 }, NULL);
}

int nvme_probe(const struct pci_device *pd)
{
	struct nvme *n = kzalloc(sizeof *n);
	int err, vector = pci_alloc_vector();
	char model[41] = "";

	if (!n)
		return -EXO_ENOMEM;
	n->pci = pd;
	n->regs = pci_map_bar(pd, 0, 0, DOORBELLS);
	n->prp_pa = frame_alloc_contig(&kframes, IO_ENTRIES * PRP_LIST_BYTES / PAGE_SIZE, ~0ull);
	n->range_pa = page_alloc_zeroed();
	n->ident_pa = page_alloc_zeroed();
	if (!n->regs || !n->prp_pa || !n->range_pa || !n->ident_pa) {
		err = n->regs ? -EXO_ENOMEM : -EXO_ENOENT;
		goto fail;
	}
	uint8_t msix = pci_find_cap(pd, 0x11, 0);
	if (msix)
		pci_msix_setup(&n->msix, pd, msix);
	pci_enable_master(pd);
	if ((err = controller_start(n)) || (err = nvme_config(n, model)) || (err = io_queues(n)))
		goto fail;
	if ((err = blk_register(&n->blk)))
		goto fail;
	int routed = pci_msix_route(&n->msix, MSIX_ENTRY, vector) >= 0;
	if (routed)
		pci_bind_vector(vector, nvme_irq, &n->blk);
	klog(LOG_INFO, "nvme %02x:%02x.%x: %s, version %x, %lu sectors of %u bytes, queue %u%s%s%s, %s\n",
	     pd->bus, pd->dev, pd->fn, model, r32(n, R_VS), n->blk.sectors, n->blk.sector_size,
	     n->io.entries, n->blk.write_cache ? ", write cache" : "", n->blk.discard ? ", discard" : "",
	     n->blk.read_only ? ", read-only" : "", routed ? "MSI-X" : "polled");
	return 0;
fail:
	klog(LOG_WARN, "nvme %02x:%02x.%x: not started (%d)\n", pd->bus, pd->dev, pd->fn, err);
	if (n->regs)
		w32(n, R_CC, 0);		/* stops the controller, and its DMA */
	kfree(n);
	return err;
}
