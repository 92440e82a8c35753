/* ACPI table discovery; see acpi.h.  Every table's length and checksum are
 * checked before anything in it is used. */
#include "kernel/acpi.h"
#include "kernel/console.h"
#include "kernel/string.h"
#include "kernel/vm.h"

#include <errno.h>

struct acpi_info acpi;

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct sdt_header) == 36, "SDT header");

static int checksum_ok(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (uint32_t i = 0; i < len; i++)
		sum += b[i];
	return sum == 0;
}

/* Maps and validates the table at pa; NULL when it is broken. */
static const struct sdt_header *table_at(uint64_t pa)
{
	const struct sdt_header *h = vm_map_mmio(pa, sizeof *h);

	if (h->length < sizeof *h || h->length > (16u << 20))
		return NULL;
	h = vm_map_mmio(pa, h->length);
	return checksum_ok(h, h->length) ? h : NULL;
}

static void parse_madt(const struct sdt_header *h)
{
	const uint8_t *p = (const uint8_t *)h;
	uint32_t lapic32, flags;

	if (h->length < 44)
		return;
	memcpy(&lapic32, p + 36, 4);
	memcpy(&flags, p + 40, 4);
	acpi.have_madt = 1;
	acpi.lapic_addr = lapic32;
	acpi.pcat_compat = flags & 1;
	for (uint32_t off = 44; off + 2 <= h->length;) {
		uint8_t type = p[off], len = p[off + 1];
		const uint8_t *e = p + off;
		if (len < 2 || off + len > h->length)
			break;
		if (type == 0 && len >= 8) {		/* processor local APIC */
			uint32_t f;
			memcpy(&f, e + 4, 4);
			if ((f & 3) && acpi.ncpus < ACPI_MAX_CPUS)
				acpi.cpu_apic_ids[acpi.ncpus++] = e[3];
		} else if (type == 1 && len >= 12 && acpi.nioapics < ACPI_MAX_IOAPICS) {
			struct acpi_ioapic *io = &acpi.ioapics[acpi.nioapics++];
			io->id = e[2];
			memcpy(&io->addr, e + 4, 4);
			memcpy(&io->gsi_base, e + 8, 4);
		} else if (type == 2 && len >= 10) {	/* interrupt source override */
			uint8_t src = e[3];
			if (src < 16) {
				memcpy(&acpi.irq_gsi[src], e + 4, 4);
				memcpy(&acpi.irq_flags[src], e + 8, 2);
			}
		} else if (type == 5 && len >= 12) {	/* 64-bit LAPIC address */
			memcpy(&acpi.lapic_addr, e + 4, 8);
		}
		off += len;
	}
}

static void parse_table(const struct sdt_header *h)
{
	if (memcmp(h->signature, "APIC", 4) == 0)
		parse_madt(h);
	else if (memcmp(h->signature, "HPET", 4) == 0 && h->length >= 56)
		memcpy(&acpi.hpet_addr, (const uint8_t *)h + 44, 8);
	else if (memcmp(h->signature, "FACP", 4) == 0 && h->length >= 109)
		acpi.rtc_century = ((const uint8_t *)h)[108];	/* FADT "CENTURY" */
}

int acpi_init(const struct boot_info *bi)
{
	const uint8_t *rsdp = bi->rsdp;

	for (int i = 0; i < 16; i++)
		acpi.irq_gsi[i] = (uint32_t)i;
	if (!rsdp || bi->rsdp_len < 20 || memcmp(rsdp, "RSD PTR ", 8) || !checksum_ok(rsdp, 20))
		return -ENOENT;
	memcpy(acpi.oem, rsdp + 9, 6);
	acpi.revision = rsdp[15];

	uint64_t xsdt = 0;
	uint32_t rsdt;
	memcpy(&rsdt, rsdp + 16, 4);
	if (acpi.revision >= 2 && bi->rsdp_len >= 36 && checksum_ok(rsdp, 36))
		memcpy(&xsdt, rsdp + 24, 8);

	const struct sdt_header *root = xsdt ? table_at(xsdt) : NULL;
	int entry_size = 8;
	if (!root || memcmp(root->signature, "XSDT", 4)) {
		root = rsdt ? table_at(rsdt) : NULL;
		entry_size = 4;
		if (!root || memcmp(root->signature, "RSDT", 4))
			return -EINVAL;
	}
	uint32_t n = (root->length - sizeof *root) / (uint32_t)entry_size;
	const uint8_t *entries = (const uint8_t *)(root + 1);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t pa = 0;
		memcpy(&pa, entries + (size_t)i * entry_size, (size_t)entry_size);
		const struct sdt_header *t = pa ? table_at(pa) : NULL;
		if (t)
			parse_table(t);
		else
			klog(LOG_WARN, "acpi: table %u at %#lx is damaged; skipped\n", i, pa);
	}
	return acpi.have_madt ? 0 : -ENOENT;
}
