/* Host stand-in for kernel/this_cpu.h: each host thread of the model
 * test is one CPU, its struct percpu named by a thread-local pointer
 * (the kernel's GS base); a single-threaded run is CPU 0. */
#ifndef EXO_KERNEL_THIS_CPU_H
#define EXO_KERNEL_THIS_CPU_H

extern _Thread_local struct percpu *kmodel_cpu;

static inline struct percpu *this_cpu(void)
{
	return kmodel_cpu;
}

static inline struct thread *this_cpu_cur(void) { return kmodel_cpu->cur; }
static inline int this_cpu_resched(void) { return kmodel_cpu->resched; }

#endif
