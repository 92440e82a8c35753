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
/* Finds every function on bus 0 and on every bus behind a bridge (or
 * another root bus of the host bridge), and lists it on the console. */
void pci_enumerate(void);
const char *pci_class_name(uint8_t class, uint8_t subclass);
/* 1 when an I/O BAR of some function found may decode a port in
 * [first, first + count) (an I/O BAR spans at most 256 ports). */
int pci_io_overlaps(uint32_t first, uint32_t count);

/* ---- what bus-mastering drivers (virtio, NVMe) share */
/* The physical base of memory BAR n (0 when it is not one). */
uint64_t pci_bar_base(const struct pci_device *d, int n);
/* Maps [off, off + len) of memory BAR n uncached; NULL when it is none. */
volatile uint8_t *pci_map_bar(const struct pci_device *d, int bar, uint32_t off, uint32_t len);
/* Memory decoding and bus mastering on, legacy INTx off. */
void pci_enable_master(const struct pci_device *d);
/* The offset of the first capability with this id after the one at
 * offset `after` (0: from the list's head); 0 when none. */
uint8_t pci_find_cap(const struct pci_device *d, uint8_t id, uint8_t after);

/* An MSI-X table: every entry masked until routed. */
struct pci_msix {
	volatile uint32_t *table;	/* NULL without MSI-X */
	uint16_t entries;
};
/* Maps the table of the MSI-X capability at cap, masks every entry and
 * enables MSI-X on the function. */
void pci_msix_setup(struct pci_msix *m, const struct pci_device *d, uint8_t cap);
/* Entry `entry` sends cpu_vector to this CPU (fixed, edge), unmasked;
 * the entry, or -1 when there is no table, entry or APIC. */
int pci_msix_route(struct pci_msix *m, int entry, int cpu_vector);
/* Masks or unmasks one routed entry; a message raised while masked is
 * kept pending and sent at the unmask (PCI MSI-X rules). */
void pci_msix_mask(struct pci_msix *m, int entry, int masked);
/* A free CPU interrupt vector for a device (0 when none left). */
int pci_alloc_vector(void);
/* Interrupts on vector call fn(arg) (then the LAPIC EOI). */
void pci_bind_vector(int vector, void (*fn)(void *), void *arg);

#endif
