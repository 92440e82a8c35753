/*
 * Kernel heap.  Every block starts with a 16-byte header holding its size
 * class (or its page count for large blocks) and a magic, which kfree
 * checks, so freeing a foreign pointer or freeing twice is caught.
 */
#include "kernel/heap.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/string.h"
#include "kernel/vm.h"

#include <stdint.h>

#define NCLASSES 8		/* 16 .. 2048 bytes including the header */
#define MAGIC_USED 0x6b68656170757365ull
#define MAGIC_FREE 0x6b68656170667265ull

struct header {
	uint64_t magic;
	uint32_t cls;		/* size class, or NCLASSES for a large block */
	uint32_t pages;
};
_Static_assert(sizeof(struct header) == 16, "heap header");

struct free_block {
	struct header h;
	struct free_block *next;
};

static struct free_block *free_lists[NCLASSES];
static size_t in_use;

static size_t class_size(int cls) { return (size_t)16 << cls; }

static int refill(int cls)
{
	uint64_t pa = frame_alloc(&kframes);
	if (!pa)
		return -1;
	uint8_t *page = phys_to_virt(pa);
	size_t sz = class_size(cls);
	for (size_t off = 0; off + sz <= PAGE_SIZE; off += sz) {
		struct free_block *b = (struct free_block *)(page + off);
		b->h = (struct header){ MAGIC_FREE, (uint32_t)cls, 0 };
		b->next = free_lists[cls];
		free_lists[cls] = b;
	}
	return 0;
}

void *kmalloc(size_t size)
{
	if (size > SIZE_MAX - sizeof(struct header) - PAGE_SIZE)
		return NULL;
	size_t need = size + sizeof(struct header);
	uint64_t flags = irq_save();
	void *ret = NULL;

	if (need > class_size(NCLASSES - 1)) {
		uint64_t pages = (need + PAGE_SIZE - 1) / PAGE_SIZE;
		uint64_t pa = frame_alloc_contig(&kframes, pages, UINT64_MAX);
		if (pa) {
			struct header *h = phys_to_virt(pa);
			*h = (struct header){ MAGIC_USED, NCLASSES, (uint32_t)pages };
			in_use += pages * PAGE_SIZE;
			ret = h + 1;
		}
	} else {
		int cls = 0;
		while (class_size(cls) < need)
			cls++;
		if (free_lists[cls] || refill(cls) == 0) {
			struct free_block *b = free_lists[cls];
			free_lists[cls] = b->next;
			b->h.magic = MAGIC_USED;
			in_use += class_size(cls);
			ret = &b->h + 1;
		}
	}
	irq_restore(flags);
	return ret;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(void *p)
{
	if (!p)
		return;
	struct header *h = (struct header *)p - 1;
	if (h->magic != MAGIC_USED || h->cls > NCLASSES)
		panic("kfree: %p is not an allocated heap block (magic %lx)", p, h->magic);
	uint64_t flags = irq_save();
	if (h->cls == NCLASSES) {
		uint64_t pa = virt_to_phys(h);
		in_use -= (size_t)h->pages * PAGE_SIZE;
		h->magic = MAGIC_FREE;
		for (uint32_t i = 0; i < h->pages; i++)
			frame_free(&kframes, pa + (uint64_t)i * PAGE_SIZE);
	} else {
		struct free_block *b = (struct free_block *)h;
		b->h.magic = MAGIC_FREE;
		b->next = free_lists[h->cls];
		free_lists[h->cls] = b;
		in_use -= class_size((int)h->cls);
	}
	irq_restore(flags);
}

size_t kheap_in_use(void)
{
	return in_use;
}

uint64_t kheap_pages(size_t size)
{
	size_t need = size + sizeof(struct header);
	return need > class_size(NCLASSES - 1) ? (need + PAGE_SIZE - 1) / PAGE_SIZE : 1;
}
