/* Host stand-in for kernel/this_cpu.h: the model has one CPU. */
#ifndef EXO_KERNEL_THIS_CPU_H
#define EXO_KERNEL_THIS_CPU_H

static inline struct percpu *this_cpu(void)
{
	return &percpus[0];
}

static inline struct thread *this_cpu_cur(void) { return percpus[0].cur; }
static inline int this_cpu_resched(void) { return percpus[0].resched; }

#endif
