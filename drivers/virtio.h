/*
 * Modern virtio 1.0 over PCI: the vendor capabilities that place the
 * common, notify, ISR and device configuration in the BARs, feature
 * negotiation, MSI-X, and split virtqueues whose memory the kernel owns.
 * Shared by virtio-net and virtio-blk.
 */
#ifndef EXO_DRIVERS_VIRTIO_H
#define EXO_DRIVERS_VIRTIO_H

#include <stdint.h>

#include "drivers/pci.h"

#define VIRTIO_VENDOR 0x1af4
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTQ_MAX 256		/* entries per queue we use at most */

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc");
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2	/* the device writes this buffer */

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq {
	uint16_t index, size;
	struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	uint16_t free_head, nfree;
	uint16_t avail_shadow;		/* next avail index, published by kick */
	uint16_t last_used;
	volatile uint16_t *notify;
};

struct virtio_dev {
	const struct pci_device *pci;
	volatile uint8_t *common, *isr, *device;
	volatile uint8_t *notify_base;
	uint32_t notify_mult;
	struct pci_msix msix;
};

/* One buffer of a request: physical address, length, device-writable. */
struct virtq_seg {
	uint64_t pa;
	uint32_t len;
	int device_writes;
};

/* Finds the capabilities, enables memory decoding and bus mastering,
 * resets the device and acknowledges it; 0 or a negative errno. */
int virtio_probe(struct virtio_dev *v, const struct pci_device *d);
/* Offers wanted (VERSION_1 is added) of what the device has; sets
 * FEATURES_OK; the accepted set in *got.  -EIO when refused. */
int virtio_negotiate(struct virtio_dev *v, uint64_t wanted, uint64_t *got);
/* Sets up queue index with at most max entries (a power of two); its
 * interrupts go to cpu_vector through MSI-X entry msix_entry (-1: none). */
int virtq_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max,
		int msix_entry, int cpu_vector);
/* DRIVER_OK: the device may start. */
void virtio_ready(struct virtio_dev *v);
/* Stops every DMA of the device (status 0) and waits for the reset. */
void virtio_reset(struct virtio_dev *v);
/* Queues a chain of n segments without telling the device; the head
 * descriptor's id, or -ENOSPC. */
int virtq_add(struct virtq *q, const struct virtq_seg *segs, int n);
/* Publishes what virtq_add queued and rings the doorbell (once). */
void virtq_kick(struct virtq *q);
/* The next finished chain: its head id (its descriptors freed) and the
 * bytes the device wrote in *len; -1 when none. */
int virtq_next_used(struct virtq *q, uint32_t *len);
/* 1 when the device has finished chains not yet taken. */
int virtq_has_used(const struct virtq *q);
/* Interrupts from this queue on (after which pending work is rechecked
 * by the caller) or off (while it is being polled). */
void virtq_interrupts(struct virtq *q, int on);
/* Reads of the device configuration, generation-checked by the caller. */
uint8_t virtio_cfg8(struct virtio_dev *v, uint32_t off);
uint16_t virtio_cfg16(struct virtio_dev *v, uint32_t off);
uint32_t virtio_cfg32(struct virtio_dev *v, uint32_t off);
uint64_t virtio_cfg64(struct virtio_dev *v, uint32_t off);

#endif
