/*
 * Memory for the program: brk and anonymous mmap, demand-zero.  A call only
 * records a region; the first touch of a page faults, and the fault handler
 * takes a frame from the pool and maps it.  The pool holds frame ranges
 * allocated from the memory capability (up to 512 pages each); a page given
 * back by munmap is zeroed before it is used again.
 *
 * Limits (documented in docs/LIBOS.md): 256 regions, 256 pool chunks,
 * 65536 resident pages (256 MiB) per program.
 */
#include "libos/libos.h"
#include "include/exo/native.h"

#define PAGE 4096ull
#define HEAP_MAX (1ull << 30)
#define MMAP_BASE 0x0000100000000000ull
#define STACK_RESERVE (8ull << 20)

#define LX_PROT_READ 1
#define LX_PROT_WRITE 2
#define LX_PROT_EXEC 4
#define LX_MAP_FIXED 0x10
#define LX_MAP_ANONYMOUS 0x20
#define LX_ENOMEM 12
#define LX_EINVAL 22
#define LX_EACCES 13
#define LX_ENODEV 19

#define SCRATCH_VA 0x00007ffd00000000ull	/* a window for copying pages: nothing else may live here */

static struct region *region_of(uint64_t va)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		if (lp.regions[i].end && va >= lp.regions[i].start && va < lp.regions[i].end)
			return &lp.regions[i];
	return 0;
}

static int region_add(uint64_t start, uint64_t end, int prot)
{
	for (int i = 0; i < MAX_REGIONS; i++)
		if (!lp.regions[i].end) {
			lp.regions[i] = (struct region){ start, end, prot };
			return 0;
		}
	return -LX_ENOMEM;
}

/* Removes [start, end) from every region, splitting where needed. */
static int region_cut(uint64_t start, uint64_t end)
{
	for (int i = 0; i < MAX_REGIONS; i++) {
		struct region r = lp.regions[i];
		if (!r.end || r.end <= start || r.start >= end)
			continue;
		lp.regions[i].end = 0;
		if (r.start < start && region_add(r.start, start, r.prot))
			return -LX_ENOMEM;
		if (r.end > end && region_add(end, r.end, r.prot))
			return -LX_ENOMEM;
	}
	return 0;
}

static uint64_t hash(uint64_t va) { return (va >> 12) * 0x9e3779b97f4a7c15ull >> 48; }

static struct resident *resident_find(uint64_t va, int for_insert)
{
	struct resident *tomb = 0;
	for (uint64_t i = hash(va), n = 0; n < RESIDENT_SLOTS; i = (i + 1) & (RESIDENT_SLOTS - 1), n++) {
		struct resident *r = &lp.resident[i];
		if (r->va == va)
			return r;
		if (r->va == 1 && !tomb)
			tomb = r;
		if (r->va == 0)
			return for_insert ? (tomb ? tomb : r) : 0;
	}
	return for_insert ? tomb : 0;
}

/* A free page from the pool: chunk and index, growing the pool if needed. */
static int page_take(uint16_t *ci, uint16_t *pi, int *dirty)
{
	for (int c = 0; c < MAX_CHUNKS; c++) {
		struct chunk *ch = &lp.chunks[c];
		if (!ch->slot || ch->fixed)
			continue;
		for (uint32_t w = 0; w * 64 < ch->pages; w++) {
			uint64_t freebits = ~ch->used[w];
			if (ch->pages - w * 64 < 64)
				freebits &= (1ull << (ch->pages - w * 64)) - 1;
			if (!freebits)
				continue;
			uint32_t b = (uint32_t)__builtin_ctzll(freebits);
			ch->used[w] |= 1ull << b;
			*dirty = (ch->dirty[w] >> b) & 1;
			*ci = (uint16_t)c;
			*pi = (uint16_t)(w * 64 + b);
			return 0;
		}
	}
	for (int c = 0; c < MAX_CHUNKS; c++) {
		if (lp.chunks[c].slot)
			continue;
		int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, lp.next_chunk_pages);
		if (slot < 0 && lp.next_chunk_pages > 1)
			slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
		if (slot < 0)
			return -LX_ENOMEM;
		lp.chunks[c] = (struct chunk){ .slot = slot, .pages = slot >= 0 && lp.next_chunk_pages ? lp.next_chunk_pages : 1 };
		struct exo_cap_info info;
		if (lo_cap_inspect(slot, &info) == 0)
			lp.chunks[c].pages = (uint32_t)info.count;
		if (lp.next_chunk_pages < 512)
			lp.next_chunk_pages *= 2;
		return page_take(ci, pi, dirty);
	}
	return -LX_ENOMEM;
}

/* Returns a page to the pool, unless another env may still map it (it was
 * shared at a fork) or it belongs to a fixed range (image, stack). */
static void page_give(uint16_t ci, uint16_t pi, uint8_t flags)
{
	if (lp.chunks[ci].fixed || (flags & RES_SHARED))
		return;
	lp.chunks[ci].used[pi / 64] &= ~(1ull << (pi % 64));
	lp.chunks[ci].dirty[pi / 64] |= 1ull << (pi % 64);
}

static uint32_t exo_prot(int prot)
{
	/* write implies read; W^X is refused earlier */
	uint32_t p = EXO_PROT_READ;
	if (prot & LX_PROT_WRITE)
		p |= EXO_PROT_WRITE;
	if (prot & LX_PROT_EXEC)
		p |= EXO_PROT_EXEC;
	return p;
}

int mm_fault_in(uint64_t va)
{
	va &= ~(PAGE - 1);
	struct region *r = region_of(va);
	if (!r || !(r->prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC)))
		return -LX_EACCES;
	struct resident *slot = resident_find(va, 0);
	if (slot)
		return -LX_EACCES;	/* mapped already: a protection fault */
	slot = resident_find(va, 1);
	if (!slot)
		return -LX_ENOMEM;
	uint16_t ci, pi;
	int dirty;
	if (page_take(&ci, &pi, &dirty))
		return -LX_ENOMEM;
	uint32_t prot = exo_prot(r->prot);
	/* a recycled page is cleared through a writable mapping first */
	int64_t err = exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, lp.chunks[ci].slot, pi,
			       dirty ? (EXO_PROT_READ | EXO_PROT_WRITE) : prot);
	if (err) {
		page_give(ci, pi, 0);
		return -LX_ENOMEM;
	}
	if (dirty) {
		lo_memset((void *)va, 0, PAGE);
		if (prot != (EXO_PROT_READ | EXO_PROT_WRITE))
			exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, va, prot);
	}
	*slot = (struct resident){ va, ci, pi, 0 };
	return 0;
}

/*
 * A write to a copy-on-write page: the contents go to a page of our own,
 * which replaces the shared one at va.  The shared frame is never given
 * back to the pool (the other env may still map it).
 */
int mm_cow_fault(uint64_t va)
{
	va &= ~(PAGE - 1);
	struct region *r = region_of(va);
	struct resident *res = resident_find(va, 0);
	if (!r || !res || !(res->flags & RES_COW) || !(r->prot & LX_PROT_WRITE))
		return -LX_EACCES;
	uint16_t ci, pi;
	int dirty;
	if (page_take(&ci, &pi, &dirty))
		return -LX_ENOMEM;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, SCRATCH_VA, lp.chunks[ci].slot, pi,
		     EXO_PROT_READ | EXO_PROT_WRITE)) {
		page_give(ci, pi, 0);
		return -LX_ENOMEM;
	}
	lo_memcpy((void *)SCRATCH_VA, (const void *)va, PAGE);
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, SCRATCH_VA);
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, lp.chunks[ci].slot, pi, exo_prot(r->prot))) {
		page_give(ci, pi, 0);
		return -LX_ENOMEM;
	}
	*res = (struct resident){ va, ci, pi, 0 };
	return 0;
}

/*
 * Makes [addr, addr+len) ready for the kernel to write into: the kernel
 * does not take our page faults, so a page that is not there yet
 * (demand-zero) or still shared (copy-on-write) is touched here first, in
 * user mode, where the fault handler makes it real.  -EFAULT when a page is
 * in no writable region, as Linux answers for a bad buffer.
 */
int mm_prepare_write(uint64_t addr, uint64_t len)
{
	if (len == 0)
		return 0;
	if (addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -14;
	for (uint64_t va = addr & ~(PAGE - 1); va < addr + len; va += PAGE) {
		struct region *r = region_of(va);
		if (!r || !(r->prot & LX_PROT_WRITE))
			return -14;
		volatile uint8_t *p = (volatile uint8_t *)(va < addr ? addr : va);
		*p = *p;
	}
	return 0;
}

int64_t lo_cap_inspect(int64_t slot, struct exo_cap_info *info)
{
	int err = mm_prepare_write((uint64_t)info, sizeof *info);
	return err ? err : exo_call(EXO_SYS_CAP_INSPECT, slot, info);
}

/* Registers a frame range the kernel mapped for us (image, stack) as a
 * fixed chunk, with a resident record and region per page. */
void mm_adopt(int64_t slot, uint64_t va, uint64_t pages, const int *prot_of_page)
{
	int c = 0;
	while (c < MAX_CHUNKS && lp.chunks[c].slot)
		c++;
	if (c == MAX_CHUNKS)
		return;
	lp.chunks[c] = (struct chunk){ .slot = slot, .pages = (uint32_t)pages, .fixed = 1 };
	uint64_t run = 0;	/* pages in [run, i) have prot_of_page[run] */
	for (uint64_t i = 0; i <= pages; i++) {
		if (i < pages && prot_of_page[i]) {
			struct resident *res = resident_find(va + i * PAGE, 1);
			if (res)
				*res = (struct resident){ va + i * PAGE, (uint16_t)c, (uint16_t)i, 0 };
		}
		if (i == pages || prot_of_page[i] != prot_of_page[run]) {
			if (i > run && prot_of_page[run])
				region_add(va + run * PAGE, va + i * PAGE, prot_of_page[run]);
			run = i;
		}
	}
}

/* Unmaps every resident page in [start, end) and returns it to the pool. */
static void release_range(uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end; va += PAGE) {
		struct resident *r = resident_find(va, 0);
		if (!r)
			continue;
		exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, va);
		page_give(r->chunk, r->index, r->flags);
		r->va = 1;
	}
}

void mm_init(uint64_t image_end)
{
	lp.mmap_next = MMAP_BASE;
	lp.next_chunk_pages = 64;
	lp.heap_start = lp.heap_end = (image_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t mapped = EXO_STACK_TOP - EXO_STACK_PAGES * PAGE;
	region_add(EXO_STACK_TOP - STACK_RESERVE, mapped, LX_PROT_READ | LX_PROT_WRITE);
}

/* The break moves by adding or cutting exactly the pages between the old
 * and the new end, so mappings placed inside the heap (musl's malloc puts
 * a PROT_NONE guard page there) are left alone. */
int64_t mm_brk(uint64_t addr)
{
	if (addr == 0 || addr < lp.heap_start || addr > lp.heap_start + HEAP_MAX)
		return (int64_t)lp.heap_end;
	uint64_t old_top = (lp.heap_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t new_top = (addr + PAGE - 1) & ~(PAGE - 1);
	if (new_top > old_top) {
		if (region_add(old_top, new_top, LX_PROT_READ | LX_PROT_WRITE))
			return (int64_t)lp.heap_end;
	} else if (new_top < old_top) {
		release_range(new_top, old_top);
		if (region_cut(new_top, old_top))
			return (int64_t)lp.heap_end;
	}
	lp.heap_end = addr;
	return (int64_t)lp.heap_end;
}

int64_t mm_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off)
{
	(void)fd;
	(void)off;
	if (len == 0 || len > (1ull << 40))
		return -LX_EINVAL;
	if (!(flags & LX_MAP_ANONYMOUS))
		return -LX_ENODEV;		/* no files yet */
	if ((prot & LX_PROT_WRITE) && (prot & LX_PROT_EXEC))
		return -LX_EACCES;		/* W^X */
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if (flags & LX_MAP_FIXED) {
		if (addr % PAGE || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
			return -LX_EINVAL;
		release_range(addr, addr + len);
		if (region_cut(addr, addr + len))
			return -LX_ENOMEM;
	} else {
		addr = lp.mmap_next;
		lp.mmap_next += len + PAGE;	/* a guard page between mappings */
	}
	if (region_add(addr, addr + len, prot))
		return -LX_ENOMEM;
	return (int64_t)addr;
}

int64_t mm_munmap(uint64_t addr, uint64_t len)
{
	if (addr % PAGE || len == 0 || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -LX_EINVAL;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	release_range(addr, addr + len);
	return region_cut(addr, addr + len);
}

int64_t mm_mprotect(uint64_t addr, uint64_t len, int prot)
{
	if (addr % PAGE || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -LX_EINVAL;
	if ((prot & LX_PROT_WRITE) && (prot & LX_PROT_EXEC))
		return -LX_EACCES;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	for (uint64_t va = addr; va < addr + len; va += PAGE)
		if (!region_of(va))
			return -LX_ENOMEM;
	if (region_cut(addr, addr + len) || region_add(addr, addr + len, prot))
		return -LX_ENOMEM;
	/* resident pages keep their frames: PROT_NONE unmaps them, a later
	 * mprotect maps the same frame again */
	for (uint64_t va = addr; va < addr + len; va += PAGE) {
		struct resident *r = resident_find(va, 0);
		if (!r)
			continue;
		if (!(prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC)))
			exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, va);
		else
			exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, lp.chunks[r->chunk].slot, r->index,
				 r->flags & RES_COW ? EXO_PROT_READ | (exo_prot(prot) & EXO_PROT_EXEC)
						    : exo_prot(prot));
	}
	return 0;
}

/* Reserves [addr, addr+len) as an anonymous region for the library OS's
 * own allocator, without looking for pages to release there first. */
int mm_reserve(uint64_t addr, uint64_t len, int prot)
{
	if (addr % PAGE || len % PAGE || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -LX_EINVAL;
	return region_add(addr, addr + len, prot);
}

/* Gives the resident pages of [addr, addr+len) back to the pool; the
 * region stays, so a later touch finds a fresh zeroed page. */
void mm_discard(uint64_t addr, uint64_t len)
{
	release_range(addr & ~(PAGE - 1), (addr + len + PAGE - 1) & ~(PAGE - 1));
}
