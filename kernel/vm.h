/* Kernel virtual memory: the direct map, the kernel image's page
 * permissions, kernel stacks with guard pages, and MMIO mappings. */
#ifndef EXO_KERNEL_VM_H
#define EXO_KERNEL_VM_H

#include <stdint.h>

#include "kernel/layout.h"
#include "kernel/bootinfo.h"
#include "kernel/frame.h"

#include "kernel/pte.h"

extern struct frames kframes;

static inline void *phys_to_virt(uint64_t pa) { return (void *)(DIRECT_BASE + pa); }
static inline uint64_t virt_to_phys(const void *va) { return (uint64_t)va - DIRECT_BASE; }
static inline uint64_t kernel_virt_to_phys(const void *va) { return (uint64_t)va - KERNEL_VMA; }

/* Sets up the frame allocator from the boot memory map; returns the usable
 * bytes.  Runs on the boot page tables. */
uint64_t mm_init(const struct boot_info *bi, uint64_t info_phys);

/* Builds and loads the kernel's own page tables. */
void vm_init(const struct boot_info *bi);

/* A page that must stay unmapped (below a stack); call before vm_init. */
void vm_register_guard(uintptr_t va);

/* Maps device memory uncached at DIRECT_BASE + pa and returns that address. */
void *vm_map_mmio(uint64_t pa, uint64_t size);

/* A new kernel stack in the stack region, with an unmapped guard page
 * below it; returns its top, or 0 when out of memory. */
uintptr_t kstack_alloc(void);

/* The leaf entry that maps va (or 0), and the page size it maps. */
uint64_t vm_lookup(uintptr_t va, uint64_t *page_size);

/* Physical address of the kernel's own PML4 (no user mappings). */
uint64_t vm_kernel_pml4(void);
/* Gives a stack from kstack_alloc back, to be handed out again whole. */
void kstack_free(uintptr_t top);

/* A zeroed frame, or 0 when memory is exhausted. */
uint64_t page_alloc_zeroed(void);

#endif
