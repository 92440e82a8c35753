/* The running CPU's struct percpu, from the GS base (kernel/percpu.h). */
#ifndef EXO_KERNEL_THIS_CPU_H
#define EXO_KERNEL_THIS_CPU_H

static inline struct percpu *this_cpu(void)
{
	struct percpu *p;
	__asm__ volatile("movq %%gs:0, %0" : "=r"(p));
	return p;
}

/* The running thread and the CPU's reschedule flag, each read with one
 * %gs-relative instruction (no load of the self pointer first): every
 * kernel entry reads both (syscall_dispatch). */
static inline struct thread *this_cpu_cur(void)
{
	struct thread *t;
	__asm__ volatile("movq %%gs:%c1, %0" : "=r"(t) : "i"(__builtin_offsetof(struct percpu, cur)));
	return t;
}

static inline int this_cpu_resched(void)
{
	int r;
	__asm__ volatile("movl %%gs:%c1, %0" : "=r"(r) : "i"(__builtin_offsetof(struct percpu, resched)));
	return r;
}

#endif
