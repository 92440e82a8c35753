/* ACPI: from the RSDP the boot loader passed, through the RSDT or XSDT, to
 * the MADT (local APIC, IOAPICs, interrupt overrides) and the HPET table. */
#ifndef EXO_KERNEL_ACPI_H
#define EXO_KERNEL_ACPI_H

#include <stdint.h>

#include "kernel/bootinfo.h"

#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_CPUS 64

struct acpi_ioapic {
	uint8_t id;
	uint32_t addr, gsi_base;
};

struct acpi_info {
	int have_madt;
	char oem[7];
	int revision;
	uint64_t lapic_addr;
	int pcat_compat;		/* a legacy 8259 PIC is present too */
	int ncpus;
	uint8_t cpu_apic_ids[ACPI_MAX_CPUS];
	int nioapics;
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	uint32_t irq_gsi[16];		/* legacy IRQ -> GSI, after overrides */
	uint16_t irq_flags[16];		/* MPS INTI flags: polarity, trigger */
	uint64_t hpet_addr;		/* 0 when there is no HPET table */
	uint8_t rtc_century;		/* FADT: CMOS register of the century, or 0 */
};

extern struct acpi_info acpi;

/* Parses what it can; returns 0, or a negative errno when there is no
 * valid RSDP or MADT (the kernel then falls back to the legacy PIC). */
int acpi_init(const struct boot_info *bi);

#endif
