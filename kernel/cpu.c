/* CPU identification and protection features; see cpu.h. */
#include "kernel/cpu.h"
#include "kernel/string.h"

struct cpu_info cpu;

void cpu_detect(void)
{
	uint32_t r[4], max, maxext;

	cpuid(0, 0, r);
	max = r[0];
	memcpy(cpu.vendor, &r[1], 4);
	memcpy(cpu.vendor + 4, &r[3], 4);
	memcpy(cpu.vendor + 8, &r[2], 4);
	cpuid(1, 0, r);
	cpu.apic = (r[3] >> 9) & 1;
	cpu.x2apic = (r[2] >> 21) & 1;
	cpu.tsc_deadline = (r[2] >> 24) & 1;
	cpu.rdrand = (r[2] >> 30) & 1;
	cpu.xsave = (r[2] >> 26) & 1;
	if (max >= 7) {
		cpuid(7, 0, r);
		cpu.fsgsbase = r[1] & 1;
		cpu.smep = (r[1] >> 7) & 1;
		cpu.rdseed = (r[1] >> 18) & 1;
		cpu.smap = (r[1] >> 20) & 1;
		cpu.umip = (r[2] >> 2) & 1;
	}
	cpuid(0x80000000, 0, r);
	maxext = r[0];
	if (maxext >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		cpu.nx = (r[3] >> 20) & 1;
		cpu.pdpe1gb = (r[3] >> 26) & 1;
		cpu.rdtscp = (r[3] >> 27) & 1;
	}
	if (maxext >= 0x80000004) {
		for (uint32_t i = 0; i < 3; i++) {
			cpuid(0x80000002 + i, 0, r);
			memcpy(cpu.model + 16 * i, r, 16);
		}
		/* trim the padding some CPUs put around the name */
		char *s = cpu.model;
		while (*s == ' ')
			s++;
		memmove(cpu.model, s, strlen(s) + 1);
		for (size_t n = strlen(cpu.model); n && cpu.model[n - 1] == ' '; n--)
			cpu.model[n - 1] = 0;
	} else {
		memcpy(cpu.model, "unknown", 8);
	}
	if (maxext >= 0x80000007) {
		cpuid(0x80000007, 0, r);
		cpu.invariant_tsc = (r[3] >> 8) & 1;
	}
	cpu.phys_bits = 36;
	if (maxext >= 0x80000008) {
		cpuid(0x80000008, 0, r);
		if ((r[0] & 0xff) >= 32 && (r[0] & 0xff) <= 52)
			cpu.phys_bits = (int)(r[0] & 0xff);
	}
}

void cpu_enable_protections(void)
{
	uint64_t cr4 = read_cr4() | CR4_PGE;

	if (cpu.nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	write_cr0(read_cr0() | CR0_WP);
	if (cpu.smep)
		cr4 |= CR4_SMEP;
	if (cpu.smap)
		cr4 |= CR4_SMAP;
	if (cpu.umip)
		cr4 |= CR4_UMIP;
	write_cr4(cr4);
}
