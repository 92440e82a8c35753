/* Starts a driver for every PCI function one exists for; what starts is
 * registered with the ring layer (kernel/ring.h) for the first program. */
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "kernel/ring.h"

int virtio_net_probe(const struct pci_device *pd);
int virtio_blk_probe(const struct pci_device *pd);
int e1000_probe(const struct pci_device *pd);

#define INTEL_VENDOR 0x8086

void ring_probe_devices(void)
{
	for (int i = 0; i < pci_count; i++) {
		const struct pci_device *d = &pci_devices[i];
		/* 82540EM (QEMU's e1000) and 82545EM: the same registers */
		if (d->vendor == INTEL_VENDOR && (d->device == 0x100e || d->device == 0x100f))
			e1000_probe(d);
		if (d->vendor != VIRTIO_VENDOR)
			continue;
		/* modern ids (0x1040 + type) and transitional ones */
		if (d->device == 0x1041 || d->device == 0x1000)
			virtio_net_probe(d);
		else if (d->device == 0x1042 || d->device == 0x1001)
			virtio_blk_probe(d);
	}
}
