/*
 * The library OS's own allocator: handlers never call the application's
 * malloc (it may be inside it when it traps).  Memory comes from one large
 * anonymous region of the program's address space, reserved on first use
 * and made resident page by page by the ordinary demand-zero fault path,
 * so fork shares it copy-on-write like the rest of the program.
 *
 * Page runs are powers of two in size, kept on a free list per order; a
 * freed run gives all but its first page (which holds the list link) back
 * to the frame pool.  Small blocks (up to 2 KiB) are carved from pages, per
 * power-of-two class; each carries a 16-byte header naming its class.
 * Every block is handed out zeroed, all of it, not only the size asked.
 */
#include "libos/libos.h"
#include "libos/lx.h"

#define PAGE 4096ull
#define ARENA_VA 0x00007e0000000000ull
#define ARENA_SIZE (1ull << 40)
#define MAX_ORDER 28			/* runs up to 2^28 pages */
#define SMALL_MIN 4			/* 16 bytes */
#define SMALL_MAX 11			/* 2 KiB */
#define HEADER 16

struct free_block {
	struct free_block *next;
};

static uint64_t arena_next;		/* 0: not reserved yet */
static struct free_block *free_runs[MAX_ORDER + 1];
static struct free_block *free_small[SMALL_MAX + 1];

/* The smallest k with 2^k >= n, by the highest bit of n - 1 (a loop of
 * shifts cost every small allocation some 30 instructions). */
static int order_of(uint64_t n)
{
	return n <= 1 ? 0 : 64 - __builtin_clzll(n - 1);
}

static void *run_alloc(int order)
{
	if (order > MAX_ORDER)
		return 0;
	if (free_runs[order]) {
		struct free_block *b = free_runs[order];
		free_runs[order] = b->next;
		b->next = 0;
		return b;
	}
	if (!arena_next) {
		if (mm_reserve(ARENA_VA, ARENA_SIZE, 3))	/* PROT_READ|PROT_WRITE */
			return 0;
		arena_next = ARENA_VA;
	}
	uint64_t bytes = PAGE << order;
	if (arena_next + bytes > ARENA_VA + ARENA_SIZE)
		return 0;
	void *p = (void *)arena_next;
	arena_next += bytes;
	return p;
}

static void run_free(void *p, int order)
{
	if (order > 0)
		mm_discard((uint64_t)p + PAGE, (PAGE << order) - PAGE);
	struct free_block *b = p;
	b->next = free_runs[order];
	free_runs[order] = b;
}

void *lo_page_alloc(void)
{
	void *p = run_alloc(0);
	if (p)
		lo_memset(p, 0, PAGE);
	return p;
}

void lo_page_free(void *p)
{
	if (p)
		run_free(p, 0);
}

void *lo_alloc(size_t size)
{
	if (size > (PAGE << MAX_ORDER) - HEADER)
		return 0;
	uint64_t need = size + HEADER;
	uint8_t *base;
	int cls;
	if (need <= (1u << SMALL_MAX)) {
		cls = order_of(need);
		if (cls < SMALL_MIN)
			cls = SMALL_MIN;
		if (!free_small[cls]) {
			uint8_t *page = run_alloc(0);
			if (!page)
				return 0;
			for (uint64_t off = PAGE; off > 0; off -= 1u << cls) {
				struct free_block *b = (struct free_block *)(page + off - (1u << cls));
				b->next = free_small[cls];
				free_small[cls] = b;
			}
		}
		base = (uint8_t *)free_small[cls];
		free_small[cls] = free_small[cls]->next;
	} else {
		int order = order_of((need + PAGE - 1) / PAGE);
		base = run_alloc(order);
		if (!base)
			return 0;
		cls = SMALL_MAX + 1 + order;
	}
	/* the whole block reads as zeros, so lo_realloc may copy all of it; a
	 * run's pages after the first were discarded at free or never used */
	lo_memset(base, 0, cls <= SMALL_MAX ? 1u << cls : PAGE);
	*(uint64_t *)base = (uint64_t)cls;
	return base + HEADER;
}

void lo_free(void *p)
{
	if (!p)
		return;
	uint8_t *base = (uint8_t *)p - HEADER;
	int cls = (int)*(uint64_t *)base;
	if (cls <= SMALL_MAX) {
		struct free_block *b = (struct free_block *)base;
		b->next = free_small[cls];
		free_small[cls] = b;
	} else {
		run_free(base, cls - SMALL_MAX - 1);
	}
}

/* The usable size of a block from lo_alloc. */
static size_t block_size(void *p)
{
	int cls = (int)*(uint64_t *)((uint8_t *)p - HEADER);
	return cls <= SMALL_MAX ? (1u << cls) - HEADER : (PAGE << (cls - SMALL_MAX - 1)) - HEADER;
}

void *lo_realloc(void *p, size_t size)
{
	if (!p)
		return lo_alloc(size);
	size_t old = block_size(p);
	if (size <= old)
		return p;
	void *n = lo_alloc(size);
	if (!n)
		return 0;
	lo_memcpy(n, p, old);
	lo_free(p);
	return n;
}
