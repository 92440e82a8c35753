/* Interrupt controllers: the local APIC and IOAPICs when ACPI lists them,
 * else the legacy 8259 PIC pair. */
#ifndef EXO_KERNEL_APIC_H
#define EXO_KERNEL_APIC_H

#include <stdint.h>

extern int apic_mode;		/* 1: LAPIC + IOAPIC, 0: legacy PIC */

/* Sets up the controllers with every external IRQ masked. */
void apic_init(void);
/* Enables this CPU's local APIC, its timer masked. */
void lapic_init_cpu(void);
void apic_eoi(void);
uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t v);
/* Routes legacy IRQ irq to vector (IOAPIC redirection or PIC unmask). */
void irq_route(int irq, int vector);
void irq_mask(int irq);
void irq_unmask(int irq);
/* End of interrupt for legacy IRQ irq, whichever controller delivered it. */
void irq_eoi(int irq);

#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#endif
