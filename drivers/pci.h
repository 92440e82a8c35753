/* PCI enumeration through the legacy configuration ports 0xcf8/0xcfc. */
#ifndef EXO_DRIVERS_PCI_H
#define EXO_DRIVERS_PCI_H

#include <stdint.h>

#define PCI_MAX_DEVICES 64

struct pci_device {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t class, subclass, progif, header;
	uint8_t irq_line;
};

extern struct pci_device pci_devices[PCI_MAX_DEVICES];
extern int pci_count;

uint32_t pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off);
void pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint8_t off, uint32_t v);
/* Finds every function on every bus and lists it on the console. */
void pci_enumerate(void);
const char *pci_class_name(uint8_t class, uint8_t subclass);
/* 1 when an I/O BAR of some function found may decode a port in
 * [first, first + count) (an I/O BAR spans at most 256 ports). */
int pci_io_overlaps(uint32_t first, uint32_t count);

#endif
