/* LAPIC, IOAPIC and 8259 PIC; see apic.h. */
#include "kernel/apic.h"
#include "kernel/acpi.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/trap.h"
#include "kernel/vm.h"

int apic_mode;
static volatile uint32_t *lapic;

uint32_t lapic_read(uint32_t reg) { return lapic[reg / 4]; }
void lapic_write(uint32_t reg, uint32_t v) { lapic[reg / 4] = v; }

static uint32_t ioapic_read(volatile uint32_t *io, uint32_t reg)
{
	io[0] = reg;
	return io[4];
}

static void ioapic_write(volatile uint32_t *io, uint32_t reg, uint32_t v)
{
	io[0] = reg;
	io[4] = v;
}

/* Moves the PIC's vectors to IRQ_BASE.. (away from the exceptions), then
 * masks every line or leaves them to irq_route. */
static void pic_remap_and_mask(void)
{
	outb(0x20, 0x11); outb(0xa0, 0x11);		/* ICW1: init, ICW4 follows */
	outb(0x21, IRQ_BASE); outb(0xa1, IRQ_BASE + 8);
	outb(0x21, 4); outb(0xa1, 2);			/* cascade on IRQ2 */
	outb(0x21, 1); outb(0xa1, 1);			/* 8086 mode */
	outb(0x21, 0xff); outb(0xa1, 0xff);
}

void apic_init(void)
{
	pic_remap_and_mask();
	if (!cpu.apic || !acpi.have_madt || !acpi.lapic_addr) {
		apic_mode = 0;
		outb(0x21, 0xfb);	/* only the cascade line open */
		klog(LOG_INFO, "irq: legacy 8259 PIC (%s)\n",
		     cpu.apic ? "no MADT in ACPI" : "CPU has no local APIC");
		return;
	}
	apic_mode = 1;
	lapic = vm_map_mmio(acpi.lapic_addr, 4096);
	lapic_init_cpu();
	for (int i = 0; i < acpi.nioapics; i++) {
		volatile uint32_t *io = vm_map_mmio(acpi.ioapics[i].addr, 4096);
		uint32_t n = ((ioapic_read(io, 1) >> 16) & 0xff) + 1;
		for (uint32_t j = 0; j < n; j++) {
			ioapic_write(io, 0x10 + 2 * j, 1u << 16);	/* masked */
			ioapic_write(io, 0x11 + 2 * j, 0);
		}
		klog(LOG_INFO, "irq: ioapic %u at %#x, gsi %u-%u\n", acpi.ioapics[i].id,
		     acpi.ioapics[i].addr, acpi.ioapics[i].gsi_base, acpi.ioapics[i].gsi_base + n - 1);
	}
	klog(LOG_INFO, "irq: local apic id %u at %#lx, %d cpu(s) listed\n",
	     lapic_read(LAPIC_ID) >> 24, acpi.lapic_addr, acpi.ncpus);
}

void lapic_init_cpu(void)
{
	wrmsr(0x1b, rdmsr(0x1b) | (1u << 11));		/* APIC global enable */
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);		/* masked */
	lapic_write(0x80, 0);				/* TPR: take every vector */
}

void apic_eoi(void)
{
	if (apic_mode)
		lapic_write(LAPIC_EOI, 0);
}

/* PIC EOI for a legacy IRQ: both chips for lines 8..15. */
static void pic_eoi(int irq)
{
	if (irq >= 8)
		outb(0xa0, 0x20);
	outb(0x20, 0x20);
}

void irq_route(int irq, int vector)
{
	if (!apic_mode) {
		uint16_t port = irq < 8 ? 0x21 : 0xa1;
		outb(port, inb(port) & ~(1u << (irq % 8)));
		return;
	}
	uint32_t gsi = acpi.irq_gsi[irq];
	uint16_t f = acpi.irq_flags[irq];
	uint32_t lo = (uint32_t)vector;
	if ((f & 3) == 3)
		lo |= 1u << 13;		/* active low */
	if (((f >> 2) & 3) == 3)
		lo |= 1u << 15;		/* level triggered */
	for (int i = 0; i < acpi.nioapics; i++) {
		volatile uint32_t *io = vm_map_mmio(acpi.ioapics[i].addr, 4096);
		uint32_t n = ((ioapic_read(io, 1) >> 16) & 0xff) + 1;
		uint32_t base = acpi.ioapics[i].gsi_base;
		if (gsi >= base && gsi < base + n) {
			ioapic_write(io, 0x11 + 2 * (gsi - base), (lapic_read(LAPIC_ID) >> 24) << 24);
			ioapic_write(io, 0x10 + 2 * (gsi - base), lo);
			return;
		}
	}
	klog(LOG_WARN, "irq: no IOAPIC serves GSI %u (IRQ %d)\n", gsi, irq);
}

/* Sets or clears the mask bit of legacy IRQ irq (IOAPIC entry or PIC). */
static void irq_set_mask(int irq, int masked)
{
	if (!apic_mode) {
		uint16_t port = irq < 8 ? 0x21 : 0xa1;
		uint8_t bit = (uint8_t)(1u << (irq % 8));
		outb(port, masked ? inb(port) | bit : inb(port) & ~bit);
		return;
	}
	uint32_t gsi = acpi.irq_gsi[irq];
	for (int i = 0; i < acpi.nioapics; i++) {
		volatile uint32_t *io = vm_map_mmio(acpi.ioapics[i].addr, 4096);
		uint32_t n = ((ioapic_read(io, 1) >> 16) & 0xff) + 1;
		uint32_t base = acpi.ioapics[i].gsi_base;
		if (gsi >= base && gsi < base + n) {
			uint32_t reg = 0x10 + 2 * (gsi - base);
			uint32_t lo = ioapic_read(io, reg);
			ioapic_write(io, reg, masked ? lo | (1u << 16) : lo & ~(1u << 16));
			return;
		}
	}
}

void irq_mask(int irq) { irq_set_mask(irq, 1); }
void irq_unmask(int irq) { irq_set_mask(irq, 0); }

/* EOI for interrupts that arrived through the PIC (used by time.c). */
void irq_eoi(int irq)
{
	if (apic_mode)
		apic_eoi();
	else
		pic_eoi(irq);
}
