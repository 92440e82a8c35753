/* PCI enumeration; see pci.h.  The buses probed are those the firmware
 * numbered: bus 0, the bus of each function of a multi-function host
 * bridge at 00:00, and the secondary bus of each bridge found, so an empty
 * machine costs 32 probes, not the 8,192 of trying every bus number.
 * Multi-function devices are detected by header bit 7. */
#include "drivers/pci.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/trap.h"
#include "kernel/vm.h"

#define VECTOR_FIRST 0xa0		/* device interrupt vectors */
#define VECTOR_LAST 0xbf

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

/* Marks bus for probing unless it was already probed or marked. */
static void bus_mark(uint64_t *pending, const uint64_t *done, uint32_t bus)
{
	if (!(done[bus / 64] >> (bus % 64) & 1))
		pending[bus / 64] |= 1ull << (bus % 64);
}

/* The lowest bus marked for probing, or -1 when none is. */
static int bus_next(const uint64_t *pending)
{
	for (int w = 0; w < 4; w++)
		if (pending[w])
			return w * 64 + __builtin_ctzll(pending[w]);
	return -1;
}

/* Adds the function and, when it is a bridge (header type 1 PCI-to-PCI
 * or 2 CardBus), marks the bus behind it for probing. */
static void probe_function(uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id,
			   uint64_t *pending, const uint64_t *done)
{
	add_function(bus, dev, fn, id);
	uint8_t type = (uint8_t)(pci_read32(bus, dev, fn, 0x0c) >> 16) & 0x7f;
	if (type == 1 || type == 2) {
		uint8_t secondary = (uint8_t)(pci_read32(bus, dev, fn, 0x18) >> 8);
		if (secondary)
			bus_mark(pending, done, secondary);
	}
}

/* Probes the 32 devices of one bus and their functions. */
static void probe_bus(uint8_t bus, uint64_t *pending, const uint64_t *done)
{
	for (uint8_t dev = 0; dev < 32; dev++) {
		uint32_t id = pci_read32(bus, dev, 0, 0);
		if ((id & 0xffff) == 0xffff)
			continue;
		probe_function(bus, dev, 0, id, pending, done);
		if (!(pci_read32(bus, dev, 0, 0x0c) & (0x80u << 16)))
			continue;
		for (uint8_t fn = 1; fn < 8; fn++) {
			id = pci_read32(bus, dev, fn, 0);
			if ((id & 0xffff) != 0xffff)
				probe_function(bus, dev, fn, id, pending, done);
		}
	}
}

void pci_enumerate(void)
{
	uint64_t pending[4] = { 1 }, done[4] = { 0 };

	/* a multi-function host bridge at 00:00: function n is the host
	 * bridge of root bus n (the PCI firmware specification) */
	if ((pci_read32(0, 0, 0, 0x0c) & (0x80u << 16)) &&
	    (pci_read32(0, 0, 0, 0x08) >> 16) == 0x0600)
		for (uint8_t fn = 1; fn < 8; fn++)
			if ((pci_read32(0, 0, fn, 0) & 0xffff) != 0xffff)
				bus_mark(pending, done, fn);
	for (int bus; (bus = bus_next(pending)) >= 0;) {
		pending[bus / 64] &= ~(1ull << (bus % 64));
		done[bus / 64] |= 1ull << (bus % 64);
		probe_bus((uint8_t)bus, pending, done);
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

static uint32_t cfg_read(const struct pci_device *d, uint8_t off)
{
	return pci_read32(d->bus, d->dev, d->fn, off);
}

uint64_t pci_bar_base(const struct pci_device *d, int n)
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

volatile uint8_t *pci_map_bar(const struct pci_device *d, int bar, uint32_t off, uint32_t len)
{
	uint64_t base = pci_bar_base(d, bar);
	if (!base || !len)
		return NULL;
	return vm_map_mmio(base + off, len);
}

void pci_enable_master(const struct pci_device *d)
{
	uint32_t cmd = cfg_read(d, 0x04) & 0xffff;
	pci_write32(d->bus, d->dev, d->fn, 0x04, cmd | (1u << 1) | (1u << 2) | (1u << 10));
}

uint8_t pci_find_cap(const struct pci_device *d, uint8_t id, uint8_t after)
{
	if (!(cfg_read(d, 0x04) & (1u << 20)))
		return 0;			/* no capability list */
	uint8_t cap = after ? (uint8_t)(cfg_read(d, after) >> 8) & 0xfc : (uint8_t)(cfg_read(d, 0x34) & 0xfc);
	for (int guard = 0; cap && guard < 48; guard++) {
		uint32_t h = cfg_read(d, cap);
		if ((uint8_t)h == id)
			return cap;
		cap = (uint8_t)(h >> 8) & 0xfc;
	}
	return 0;
}

void pci_msix_setup(struct pci_msix *m, const struct pci_device *d, uint8_t cap)
{
	uint32_t ctl = cfg_read(d, cap);
	uint32_t table = cfg_read(d, (uint8_t)(cap + 4));
	uint16_t entries = (uint16_t)(((ctl >> 16) & 0x7ff) + 1);

	m->table = (volatile uint32_t *)pci_map_bar(d, (int)(table & 7), table & ~7u, entries * 16u);
	if (!m->table)
		return;
	m->entries = entries;
	for (uint16_t i = 0; i < entries; i++)
		m->table[i * 4 + 3] = 1;		/* masked until used */
	/* enable, function mask off */
	pci_write32(d->bus, d->dev, d->fn, cap, (ctl & ~(1u << 30)) | (1u << 31));
}

int pci_msix_route(struct pci_msix *m, int entry, int cpu_vector)
{
	if (!m->table || entry < 0 || entry >= m->entries || !cpu_vector || !apic_mode)
		return -1;
	uint32_t apic_id = lapic_read(LAPIC_ID) >> 24;
	volatile uint32_t *e = m->table + entry * 4;
	e[0] = 0xfee00000u | apic_id << 12;
	e[1] = 0;
	e[2] = (uint32_t)cpu_vector;		/* fixed delivery, edge */
	e[3] = 0;
	return entry;
}

void pci_msix_mask(struct pci_msix *m, int entry, int masked)
{
	if (m->table && entry >= 0 && entry < m->entries)
		m->table[entry * 4 + 3] = masked ? 1 : 0;
}

int pci_alloc_vector(void)
{
	static int next = VECTOR_FIRST;
	return next <= VECTOR_LAST ? next++ : 0;
}

static struct { void (*fn)(void *); void *arg; } vectors[VECTOR_LAST - VECTOR_FIRST + 1];

static void device_irq(struct trapframe *tf)
{
	int i = (int)tf->vector - VECTOR_FIRST;
	if (i >= 0 && i <= VECTOR_LAST - VECTOR_FIRST && vectors[i].fn)
		vectors[i].fn(vectors[i].arg);
	apic_eoi();
}

void pci_bind_vector(int vector, void (*fn)(void *), void *arg)
{
	if (vector < VECTOR_FIRST || vector > VECTOR_LAST)
		return;
	vectors[vector - VECTOR_FIRST].fn = fn;
	vectors[vector - VECTOR_FIRST].arg = arg;
	trap_set_handler(vector, device_irq);
}
