/* The kernel model test's machine (tests/host/kmodel/kshim.c). */
#ifndef EXO_TESTS_KMODEL_KSHIM_H
#define EXO_TESTS_KMODEL_KSHIM_H

#include <stdint.h>

/* Fresh "physical memory" of phys_bytes (usable from 1 MiB up), with the
 * frame allocator over it, a kernel PML4 and the kernel info page. */
void kmodel_boot(uint64_t phys_bytes);
uint64_t kmodel_kinfo_pa(void);
/* How many CPUs kmodel_boot starts (each a host thread; default 1), and
 * which one the calling host thread is. */
void kmodel_set_cpus(int n);
void kmodel_enter_cpu(int id);
/* IPIs sent between CPUs: [0] requests (flush, leave, ports), [1] reschedules. */
extern unsigned long kmodel_ipis[2];
/* Moves the model's clock (each time_ns() call also adds 1 us). */
void kmodel_time_advance(uint64_t ns);

#endif
