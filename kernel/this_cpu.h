/* The running CPU's struct percpu, from the GS base (kernel/percpu.h). */
#ifndef EXO_KERNEL_THIS_CPU_H
#define EXO_KERNEL_THIS_CPU_H

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

#endif
