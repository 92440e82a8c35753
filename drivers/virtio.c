/*
 * Modern virtio over PCI (virtio 1.0, section 4.1): the device is found
 * through vendor capabilities in its configuration space, never through
 * the legacy I/O BAR, so it works with QEMU's disable-legacy=on.  Queue
 * memory comes from kernel frames that no capability covers.
 */
#include "drivers/virtio.h"
#include "include/exo/abi.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "kernel/time.h"
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

int virtio_probe(struct virtio_dev *v, const struct pci_device *d)
{
	*v = (struct virtio_dev){ .pci = d };
	for (uint8_t cap = pci_find_cap(d, PCI_CAP_VENDOR, 0); cap;
	     cap = pci_find_cap(d, PCI_CAP_VENDOR, cap)) {
		uint8_t type = (uint8_t)(cfg_read(d, cap) >> 24);
		int bar = (int)(cfg_read(d, (uint8_t)(cap + 4)) & 0xff);
		uint32_t off = cfg_read(d, (uint8_t)(cap + 8)), len = cfg_read(d, (uint8_t)(cap + 12));
		if (type == CAP_COMMON && !v->common)
			v->common = pci_map_bar(d, bar, off, len);
		else if (type == CAP_ISR && !v->isr)
			v->isr = pci_map_bar(d, bar, off, len);
		else if (type == CAP_DEVICE && !v->device)
			v->device = pci_map_bar(d, bar, off, len);
		else if (type == CAP_NOTIFY && !v->notify_base) {
			v->notify_base = pci_map_bar(d, bar, off, len);
			v->notify_mult = cfg_read(d, (uint8_t)(cap + 16));
		}
	}
	uint8_t msix = pci_find_cap(d, PCI_CAP_MSIX, 0);
	if (msix)
		pci_msix_setup(&v->msix, d, msix);
	if (!v->common || !v->notify_base || !v->isr)
		return -EXO_ENOENT;			/* a legacy-only device */
	pci_enable_master(d);
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
	int e = pci_msix_route(&v->msix, msix_entry, cpu_vector);
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
