/* The kernel heap for small objects: power-of-two size classes from 16 to
 * 2048 bytes carved from frames, larger requests as contiguous frames. */
#ifndef EXO_KERNEL_HEAP_H
#define EXO_KERNEL_HEAP_H

#include <stddef.h>
#include <stdint.h>

void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(void *p);
size_t kheap_in_use(void);
/* Frames a kmalloc of size takes at most (a small block counts as one). */
uint64_t kheap_pages(size_t size);

#endif
