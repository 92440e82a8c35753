/*
 * Host stand-in for kernel/vm.h in the kernel model test: "physical
 * memory" is one host buffer, so phys_to_virt is an offset into it, and
 * kernel stacks are frames of that memory too.
 */
#ifndef EXO_KERNEL_VM_H
#define EXO_KERNEL_VM_H

#include <stdint.h>

#include "kernel/layout.h"
#include "kernel/frame.h"

#include "kernel/pte.h"

extern struct frames kframes;
extern uint8_t *kmodel_phys;		/* physical address 0 */

static inline void *phys_to_virt(uint64_t pa) { return kmodel_phys + pa; }
static inline uint64_t kernel_virt_to_phys(const void *va) { return (uint64_t)(uintptr_t)va; }
static inline uint64_t virt_to_phys(const void *va) { return (uint64_t)((const uint8_t *)va - kmodel_phys); }

uint64_t page_alloc_zeroed(void);
uintptr_t kstack_alloc(void);
void kstack_free(uintptr_t top);
uint64_t vm_kernel_pml4(void);

#endif
