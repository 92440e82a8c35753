/*
 * Host stand-in for kernel/cpu.h in the kernel model test: the same names,
 * backed by plain variables (control registers, MSRs) instead of
 * instructions, so kernel/cap.c, env.c, sched.c and syscall.c build and run
 * as a host program.  Port I/O and halting must never be reached.
 */
#ifndef EXO_KERNEL_CPU_H
#define EXO_KERNEL_CPU_H

#include <stdint.h>
#include <stdlib.h>

/* per CPU, as the registers are: each host thread is a CPU */
extern _Thread_local uint64_t kmodel_cr0, kmodel_cr3, kmodel_cr4, kmodel_msr[4];

static inline uint64_t *kmodel_msr_slot(uint32_t msr)
{
	switch (msr) {
	case 0xc0000100: return &kmodel_msr[0];	/* FS base */
	case 0xc0000101: return &kmodel_msr[1];	/* GS base */
	case 0xc0000080: return &kmodel_msr[2];	/* EFER */
	default: return &kmodel_msr[3];
	}
}
static inline uint64_t rdmsr(uint32_t msr) { return *kmodel_msr_slot(msr); }
static inline void wrmsr(uint32_t msr, uint64_t v) { *kmodel_msr_slot(msr) = v; }
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	(void)leaf; (void)sub;
	r[0] = r[1] = r[2] = r[3] = 0;
}
static inline uint64_t rdtsc(void) { return 0; }
static inline uint64_t read_cr0(void) { return kmodel_cr0; }
static inline void write_cr0(uint64_t v) { kmodel_cr0 = v; }
static inline uint64_t read_cr2(void) { return 0; }
static inline uint64_t read_cr3(void) { return kmodel_cr3; }
static inline void write_cr3(uint64_t v) { kmodel_cr3 = v; }
static inline uint64_t read_cr4(void) { return kmodel_cr4; }
static inline void write_cr4(uint64_t v) { kmodel_cr4 = v; }
static inline void cpu_relax(void) {}
static inline void irq_enable(void) {}
static inline void irq_disable(void) {}
static inline void invlpg(uintptr_t va) { (void)va; }
static inline uint64_t irq_save(void) { return 0; }
static inline void irq_restore(uint64_t flags) { (void)flags; }
static inline void cpu_idle(void) { abort(); }
void cpu_enable_protections(void);
/* The model's threads share the host's FPU: nothing to switch. */
static inline void fpu_save_area(uint8_t *area, uint64_t mask) { (void)area; (void)mask; }
static inline void fpu_load_area(const uint8_t *area, uint64_t mask) { (void)area; (void)mask; }

#include "kernel/cpuinfo.h"

#endif
