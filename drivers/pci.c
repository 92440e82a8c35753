/* PCI enumeration; see pci.h.  Every bus number is probed, so bridges need
 * no special handling; multi-function devices are detected by header bit 7. */
#include "drivers/pci.h"
#include "kernel/console.h"
#include "kernel/cpu.h"

struct pci_device pci_devices[PCI_MAX_DEVICES];
int pci_count;

static uint32_t address(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
	return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)dev << 11 | (uint32_t)fn << 8 | (off & 0xfc);
}

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off)
{
	outl(0xcf8, address(bus, dev, fn, off));
	return inl(0xcfc);
}

void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint32_t v)
{
	outl(0xcf8, address(bus, dev, fn, off));
	outl(0xcfc, v);
}

const char *pci_class_name(uint8_t class, uint8_t subclass)
{
	switch (class) {
	case 0x00: return "unclassified";
	case 0x01:
		switch (subclass) {
		case 0x01: return "IDE controller";
		case 0x06: return "SATA controller";
		case 0x08: return "NVMe controller";
		default: return "storage controller";
		}
	case 0x02: return subclass == 0 ? "Ethernet controller" : "network controller";
	case 0x03: return "display controller";
	case 0x04: return "multimedia controller";
	case 0x05: return "memory controller";
	case 0x06:
		switch (subclass) {
		case 0x00: return "host bridge";
		case 0x01: return "ISA bridge";
		case 0x04: return "PCI bridge";
		default: return "bridge";
		}
	case 0x07: return "communication controller";
	case 0x08: return "system peripheral";
	case 0x0c: return subclass == 0x03 ? "USB controller" : subclass == 0x05 ? "SMBus controller" : "serial bus controller";
	default: return "other";
	}
}

static void add_function(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id)
{
	uint32_t cls = pci_read32(bus, dev, fn, 0x08);
	uint32_t hdr = pci_read32(bus, dev, fn, 0x0c);
	uint32_t irq = pci_read32(bus, dev, fn, 0x3c);
	struct pci_device d = {
		.bus = bus, .dev = dev, .fn = fn,
		.vendor = (uint16_t)id, .device = (uint16_t)(id >> 16),
		.class = (uint8_t)(cls >> 24), .subclass = (uint8_t)(cls >> 16),
		.progif = (uint8_t)(cls >> 8), .header = (uint8_t)(hdr >> 16),
		.irq_line = (uint8_t)irq,
	};
	klog(LOG_INFO, "pci %02x:%02x.%x %04x:%04x class %02x.%02x.%02x %s\n",
	     bus, dev, fn, d.vendor, d.device, d.class, d.subclass, d.progif,
	     pci_class_name(d.class, d.subclass));
	if (pci_count < PCI_MAX_DEVICES)
		pci_devices[pci_count++] = d;
	else
		klog(LOG_WARN, "pci: more than %d functions; %02x:%02x.%x not kept\n",
		     PCI_MAX_DEVICES, bus, dev, fn);
}

void pci_enumerate(void)
{
	for (int bus = 0; bus < 256; bus++)
		for (uint8_t dev = 0; dev < 32; dev++) {
			uint32_t id = pci_read32((uint8_t)bus, dev, 0, 0);
			if ((id & 0xffff) == 0xffff)
				continue;
			add_function((uint8_t)bus, dev, 0, id);
			if (!(pci_read32((uint8_t)bus, dev, 0, 0x0c) & (0x80u << 16)))
				continue;
			for (uint8_t fn = 1; fn < 8; fn++) {
				id = pci_read32((uint8_t)bus, dev, fn, 0);
				if ((id & 0xffff) != 0xffff)
					add_function((uint8_t)bus, dev, fn, id);
			}
		}
}

int pci_io_overlaps(uint32_t first, uint32_t count)
{
	for (int i = 0; i < pci_count; i++) {
		const struct pci_device *d = &pci_devices[i];
		int nbars = (d->header & 0x7f) == 0 ? 6 : (d->header & 0x7f) == 1 ? 2 : 0;
		for (int b = 0; b < nbars; b++) {
			uint32_t bar = pci_read32(d->bus, d->dev, d->fn, (uint8_t)(0x10 + 4 * b));
			if (!(bar & 1))
				continue;	/* memory BAR (a 64-bit one's upper half never has bit 0 alone) */
			uint32_t base = bar & ~3u;
			if (base && base < first + count && first < base + 256)
				return 1;
		}
	}
	return 0;
}
