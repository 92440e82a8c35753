/* Traps and interrupts: the saved state, the IDT, and handler registration. */
#ifndef EXO_KERNEL_TRAP_H
#define EXO_KERNEL_TRAP_H

#include <stdint.h>

/* Pushed by kernel/trapentry.S; the layout is fixed by the assembly. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
_Static_assert(sizeof(struct trapframe) == 22 * 8, "trapframe layout");

#define T_DIVIDE 0
#define T_NMI 2
#define T_DOUBLE 8
#define T_GPF 13
#define T_PAGE 14
#define T_MCHECK 18
#define IRQ_BASE 32		/* legacy IRQs 0..15 (PIC or IOAPIC) */
#define VEC_TIMER 64		/* LAPIC timer */
#define VEC_SPURIOUS 255

typedef void (*irq_handler)(struct trapframe *tf);

struct percpu;
/* The boot CPU's GDT and TSS; another CPU's IST stacks (on the boot CPU,
 * 0 or -1), then its GDT and TSS loaded on it. */
void gdt_init(void);
int gdt_prepare_ap(struct percpu *c);
void gdt_load(struct percpu *c);
void idt_init(void);
/* Loads the IDT idt_init built (other CPUs). */
void idt_load(void);
void trap_set_handler(int vector, irq_handler h);
void trap_dispatch(struct trapframe *tf);
/* Prints the frame-pointer chain starting at rbp, with symbol names. */
void backtrace_print(uint64_t rip, uint64_t rbp, uint64_t stack_hint);

/* Symbol lookup in the table linked into the kernel: the name of the
 * function containing addr and the offset into it, or NULL. */
const char *ksym_lookup(uint64_t addr, uint64_t *offset);

#endif
