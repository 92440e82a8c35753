/*
 * The kernel's virtual memory layout, shared by C and assembly.
 *
 *   0xffff800000000000  direct map of physical memory (and MMIO mapped on demand)
 *   0xffffff0000000000  kernel stacks, each with an unmapped guard page below
 *   0xffffffff80000000  kernel image (text, rodata, data, bss, symbols)
 */
#ifndef EXO_KERNEL_LAYOUT_H
#define EXO_KERNEL_LAYOUT_H

#define KERNEL_VMA      0xffffffff80000000
#define DIRECT_BASE     0xffff800000000000
#define KSTACK_REGION   0xffffff0000000000
#define KSTACK_REGION_SIZE 0x0000008000000000
#define PAGE_SIZE       4096
#define BOOT_STACK_SIZE 16384
#define KSTACK_SIZE     16384

#endif
