/*
 * Modern virtio over PCI (virtio 1.0, section 4.1): the device is found
 * through vendor capabilities in its configuration space, never through
 * the legacy I/O BAR, so it works with QEMU's disable-legacy=on.  Queue
 * memory comes from kernel frames that no capability covers.
 */
#include "drivers/virtio.h"
#include "include/exo/abi.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/vm.h"

/* vendor capability types */
#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

/* common configuration registers */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX_CONFIG 0x10
#define C_NUM_QUEUES 0x12
#define C_STATUS 0x14
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOTIFY_OFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30

#define S_ACKNOWLEDGE 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define NO_VECTOR 0xffff

#define VECTOR_FIRST 0xa0
#define VECTOR_LAST 0xbf

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void fence(void) { __asm__ volatile("mfence" ::: "memory"); }

static uint8_t r8(volatile uint8_t *b, uint32_t o) { return *(volatile uint8_t *)(b + o); }
static uint16_t r16(volatile uint8_t *b, uint32_t o) { return *(volatile uint16_t *)(b + o); }
static uint32_t r32(volatile uint8_t *b, uint32_t o) { return *(volatile uint32_t *)(b + o); }
static void w8(volatile uint8_t *b, uint32_t o, uint8_t v) { *(volatile uint8_t *)(b + o) = v; }
static void w16(volatile uint8_t *b, uint32_t o, uint16_t v) { *(volatile uint16_t *)(b + o) = v; }
static void w32(volatile uint8_t *b, uint32_t o, uint32_t v) { *(volatile uint32_t *)(b + o) = v; }
static void w64(volatile uint8_t *b, uint32_t o, uint64_t v)
{
	w32(b, o, (uint32_t)v);
	w32(b, o + 4, (uint32_t)(v >> 32));
}

static uint32_t cfg_read(const struct pci_device *d, uint8_t off)
{
	return pci_read32(d->bus, d->dev, d->fn, off);
}

/* The physical base of memory BAR n (0 when it is not one). */
static uint64_t bar_base(const struct pci_device *d, int n)
{
	if (n < 0 || n > 5)
		return 0;
	uint32_t lo = cfg_read(d, (uint8_t)(0x10 + 4 * n));
	if (lo & 1)
		return 0;
	uint64_t base = lo & ~0xfu;
	if (((lo >> 1) & 3) == 2 && n < 5)
		base |= (uint64_t)cfg_read(d, (uint8_t)(0x14 + 4 * n)) << 32;
	return base;
}

static volatile uint8_t *map_region(const struct pci_device *d, int bar, uint32_t off, uint32_t len)
{
	uint64_t base = bar_base(d, bar);
	if (!base || !len)
		return NULL;
	return vm_map_mmio(base + off, len);
}

static void msix_setup(struct virtio_dev *v, uint8_t cap)
{
	const struct pci_device *d = v->pci;
	uint32_t ctl = cfg_read(d, cap);
	uint32_t table = cfg_read(d, (uint8_t)(cap + 4));
	uint16_t entries = (uint16_t)(((ctl >> 16) & 0x7ff) + 1);

	v->msix = (volatile uint32_t *)map_region(d, (int)(table & 7), table & ~7u, entries * 16u);
	if (!v->msix)
		return;
	v->msix_entries = entries;
	for (uint16_t i = 0; i < entries; i++)
		v->msix[i * 4 + 3] = 1;			/* masked until used */
	/* enable, function mask off */
	pci_write32(d->bus, d->dev, d->fn, cap, (ctl & ~(1u << 30)) | (1u << 31));
}

int virtio_probe(struct virtio_dev *v, const struct pci_device *d)
{
	*v = (struct virtio_dev){ .pci = d };
	if (!(cfg_read(d, 0x04) & (1u << 20)))
		return -EXO_ENOENT;			/* no capability list */
	uint8_t cap = (uint8_t)(cfg_read(d, 0x34) & 0xfc);
	for (int guard = 0; cap && guard < 48; guard++) {
		uint32_t h = cfg_read(d, cap);
		uint8_t id = (uint8_t)h, next = (uint8_t)(h >> 8) & 0xfc, type = (uint8_t)(h >> 24);
		if (id == PCI_CAP_VENDOR) {
			int bar = (int)(cfg_read(d, (uint8_t)(cap + 4)) & 0xff);
			uint32_t off = cfg_read(d, (uint8_t)(cap + 8)), len = cfg_read(d, (uint8_t)(cap + 12));
			if (type == CAP_COMMON && !v->common)
				v->common = map_region(d, bar, off, len);
			else if (type == CAP_ISR && !v->isr)
				v->isr = map_region(d, bar, off, len);
			else if (type == CAP_DEVICE && !v->device)
				v->device = map_region(d, bar, off, len);
			else if (type == CAP_NOTIFY && !v->notify_base) {
				v->notify_base = map_region(d, bar, off, len);
				v->notify_mult = cfg_read(d, (uint8_t)(cap + 16));
			}
		} else if (id == PCI_CAP_MSIX && !v->msix) {
			msix_setup(v, cap);
		}
		cap = next;
	}
	if (!v->common || !v->notify_base || !v->isr)
		return -EXO_ENOENT;			/* a legacy-only device */
	/* memory decoding and bus mastering on, legacy INTx off */
	uint32_t cmd = cfg_read(d, 0x04) & 0xffff;
	pci_write32(d->bus, d->dev, d->fn, 0x04, cmd | (1u << 1) | (1u << 2) | (1u << 10));
	virtio_reset(v);
	w8(v->common, C_STATUS, S_ACKNOWLEDGE);
	w8(v->common, C_STATUS, S_ACKNOWLEDGE | S_DRIVER);
	w16(v->common, C_MSIX_CONFIG, NO_VECTOR);
	return 0;
}

void virtio_reset(struct virtio_dev *v)
{
	w8(v->common, C_STATUS, 0);
	for (int i = 0; i < 1000000 && r8(v->common, C_STATUS) != 0; i++)
		cpu_relax();
}

int virtio_negotiate(struct virtio_dev *v, uint64_t wanted, uint64_t *got)
{
	uint64_t have;

	w32(v->common, C_DFSELECT, 0);
	have = r32(v->common, C_DF);
	w32(v->common, C_DFSELECT, 1);
	have |= (uint64_t)r32(v->common, C_DF) << 32;
	uint64_t take = have & (wanted | VIRTIO_F_VERSION_1);
	if (!(take & VIRTIO_F_VERSION_1))
		return -EXO_EIO;
	w32(v->common, C_GFSELECT, 0);
	w32(v->common, C_GF, (uint32_t)take);
	w32(v->common, C_GFSELECT, 1);
	w32(v->common, C_GF, (uint32_t)(take >> 32));
	w8(v->common, C_STATUS, r8(v->common, C_STATUS) | S_FEATURES_OK);
	if (!(r8(v->common, C_STATUS) & S_FEATURES_OK))
		return -EXO_EIO;
	*got = take;
	return 0;
}

static int msix_route(struct virtio_dev *v, int entry, int cpu_vector)
{
	if (!v->msix || entry < 0 || entry >= v->msix_entries || !cpu_vector || !apic_mode)
		return -1;
	uint32_t apic_id = lapic_read(LAPIC_ID) >> 24;
	volatile uint32_t *e = v->msix + entry * 4;
	e[0] = 0xfee00000u | apic_id << 12;
	e[1] = 0;
	e[2] = (uint32_t)cpu_vector;		/* fixed delivery, edge */
	e[3] = 0;
	return entry;
}

int virtq_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max,
		int msix_entry, int cpu_vector)
{
	w16(v->common, C_Q_SELECT, index);
	uint16_t size = r16(v->common, C_Q_SIZE);
	if (size == 0)
		return -EXO_ENOENT;
	while (size > max || (size & (size - 1)))
		size = (uint16_t)(size & (size - 1) ? size & (size - 1) : size / 2);
	uint64_t d = page_alloc_zeroed(), a = page_alloc_zeroed(), u = page_alloc_zeroed();
	if (!d || !a || !u)
		return -EXO_ENOMEM;
	*q = (struct virtq){ .index = index, .size = size, .desc = phys_to_virt(d),
			     .avail = phys_to_virt(a), .used = phys_to_virt(u), .nfree = size };
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	w16(v->common, C_Q_SIZE, size);
	w64(v->common, C_Q_DESC, d);
	w64(v->common, C_Q_DRIVER, a);
	w64(v->common, C_Q_DEVICE, u);
	int e = msix_route(v, msix_entry, cpu_vector);
	w16(v->common, C_Q_MSIX, e < 0 ? NO_VECTOR : (uint16_t)e);
	if (e >= 0 && r16(v->common, C_Q_MSIX) != e)
		klog(LOG_WARN, "virtio: queue %u refused its MSI-X vector\n", index);
	if (e < 0)
		q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	q->notify = (volatile uint16_t *)(v->notify_base +
					  (uint32_t)r16(v->common, C_Q_NOTIFY_OFF) * v->notify_mult);
	w16(v->common, C_Q_ENABLE, 1);
	return 0;
}

void virtio_ready(struct virtio_dev *v)
{
	w8(v->common, C_STATUS, r8(v->common, C_STATUS) | S_DRIVER_OK);
}

int virtq_add(struct virtq *q, const struct virtq_seg *segs, int n)
{
	if (n <= 0 || n > q->nfree)
		return -EXO_ENOSPC;
	uint16_t head = q->free_head, i = head;
	for (int k = 0; k < n; k++) {
		struct virtq_desc *d = &q->desc[i];
		d->addr = segs[k].pa;
		d->len = segs[k].len;
		d->flags = (uint16_t)((segs[k].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
				      (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		if (k + 1 < n)
			i = d->next;
	}
	q->free_head = q->desc[i].next;
	q->nfree = (uint16_t)(q->nfree - n);
	q->avail->ring[q->avail_shadow % q->size] = head;
	q->avail_shadow++;
	return head;
}

void virtq_kick(struct virtq *q)
{
	if (q->avail->idx == q->avail_shadow)
		return;
	barrier();				/* descriptors and ring before the index */
	q->avail->idx = q->avail_shadow;
	fence();				/* the index before reading the device's hint */
	if (!(q->used->flags & VIRTQ_USED_F_NO_NOTIFY))
		*q->notify = q->index;
}

int virtq_has_used(const struct virtq *q)
{
	return q->used->idx != q->last_used;
}

int virtq_next_used(struct virtq *q, uint32_t *len)
{
	if (!virtq_has_used(q))
		return -1;
	barrier();				/* the index before the entry */
	const volatile struct virtq_used_elem *e = &q->used->ring[q->last_used % q->size];
	uint32_t id = e->id;
	*len = e->len;
	q->last_used++;
	if (id >= q->size)
		panic("virtio: queue %u: device returned descriptor %u", q->index, id);
	uint16_t i = (uint16_t)id, n = 1;
	while (q->desc[i].flags & VIRTQ_DESC_F_NEXT) {
		i = q->desc[i].next;
		n++;
	}
	q->desc[i].next = q->free_head;
	q->free_head = (uint16_t)id;
	q->nfree = (uint16_t)(q->nfree + n);
	return (int)id;
}

void virtq_interrupts(struct virtq *q, int on)
{
	q->avail->flags = on ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT;
	fence();
}

uint8_t virtio_cfg8(struct virtio_dev *v, uint32_t off) { return r8(v->device, off); }
uint16_t virtio_cfg16(struct virtio_dev *v, uint32_t off) { return r16(v->device, off); }
uint32_t virtio_cfg32(struct virtio_dev *v, uint32_t off) { return r32(v->device, off); }
uint64_t virtio_cfg64(struct virtio_dev *v, uint32_t off)
{
	return r32(v->device, off) | (uint64_t)r32(v->device, off + 4) << 32;
}

int virtio_alloc_vector(void)
{
	static int next = VECTOR_FIRST;
	return next <= VECTOR_LAST ? next++ : 0;
}

static struct { void (*fn)(void *); void *arg; } vectors[VECTOR_LAST - VECTOR_FIRST + 1];

static void virtio_irq(struct trapframe *tf)
{
	int i = (int)tf->vector - VECTOR_FIRST;
	if (i >= 0 && i <= VECTOR_LAST - VECTOR_FIRST && vectors[i].fn)
		vectors[i].fn(vectors[i].arg);
	apic_eoi();
}

void virtio_bind_vector(int vector, void (*fn)(void *), void *arg)
{
	if (vector < VECTOR_FIRST || vector > VECTOR_LAST)
		return;
	vectors[vector - VECTOR_FIRST].fn = fn;
	vectors[vector - VECTOR_FIRST].arg = arg;
	trap_set_handler(vector, virtio_irq);
}
