/* Control-register and MSR bits the kernel sets, and the CPU features it
 * detected (kernel/cpu.c). */
#ifndef EXO_KERNEL_CPUINFO_H
#define EXO_KERNEL_CPUINFO_H

#define MSR_EFER 0xc0000080
#define MSR_TSC_AUX 0xc0000103	/* what RDTSCP and RDPID return: the CPU's index */
#define EFER_NXE (1u << 11)
#define CR0_WP   (1u << 16)
#define CR4_PGE  (1u << 7)
#define CR4_UMIP (1u << 11)
#define CR4_FSGSBASE (1u << 16)
#define CR4_SMEP (1u << 20)
#define CR4_SMAP (1u << 21)

/* CPU identity and the security-relevant features, filled by cpu_detect(). */
struct cpu_info {
	char vendor[13];
	char model[49];
	int nx, smep, smap, umip, rdrand, rdseed, fsgsbase;
	int apic, x2apic, invariant_tsc, pdpe1gb, xsave, tsc_deadline, rdtscp;
	int phys_bits;		/* physical address width (36 when not stated) */
};
extern struct cpu_info cpu;

#endif
