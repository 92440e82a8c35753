/*
 * Memory for the program: brk and anonymous mmap, demand-zero.  A call only
 * records a region; the first touch of a page faults, and the fault handler
 * takes a frame from the pool and maps it.  The pool holds frame ranges
 * allocated from the memory capability (up to 512 pages each); a page given
 * back by munmap is zeroed before it is used again.
 *
 * The region and resident tables are sized from the memory budget
 * (tables_init); the pool has at most 256 chunks (512 MiB).  Limits are
 * documented in docs/LIBOS.md.
 */
#include "libos/libos.h"
#include "libos/exec.h"
#include "libos/thread.h"
#include "libos/shared.h"
#include "libos/proc.h"
#include "libos/vfs.h"
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

#define LIBOS_VA 0x00007d0000000000ull		/* above: the library OS's own, but the stack */
#define LIBOS_HEAP_END 0x00007f0000000000ull	/* the end of its heap (libos/alloc.c) */
#define RLIMIT_AS 9

/* The index of the first region that ends above va (nregions if none). */
static uint32_t region_index(uint64_t va)
{
	uint32_t lo = 0, hi = lp.nregions;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (lp.regions[mid].end <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct region *region_of(uint64_t va)
{
	uint32_t i = region_index(va);
	return i < lp.nregions && lp.regions[i].start <= va ? &lp.regions[i] : 0;
}

int mm_prot_at(uint64_t va)
{
	struct region *r = region_of(va);
	return r ? r->prot : -1;
}

uint32_t mm_region_count(void)
{
	return lp.nregions;
}

/* Removes the n regions at index i (n > 0) or opens a gap of -n there. */
static void region_shift(uint32_t i, int64_t n)
{
	struct region *g = lp.regions;
	if (n > 0) {
		for (uint32_t k = i; k + (uint32_t)n < lp.nregions; k++)
			g[k] = g[k + (uint32_t)n];
		lp.nregions -= (uint32_t)n;
	} else {
		for (uint32_t k = lp.nregions; k > i; k--)
			g[k - 1 + (uint32_t)-n] = g[k - 1];
		lp.nregions += (uint32_t)-n;
	}
}

/* A region of a tmpfs file came (d = 1) or went (-1): the file counts
 * the regions that map it in every process (tmpfs_map_ref). */
static void file_count(const struct region *r, int d)
{
	if (r->file)
		tmpfs_map_ref(r->file, d);
}

/* Moves r's start to va, keeping what it maps at each address. */
static void region_move_start(struct region *r, uint64_t va)
{
	if (r->shoff)
		r->shoff += va - r->start;
	if (r->file)
		r->foff += va - r->start;
	r->start = va;
}

static int regions_room(uint32_t n);

/* Whether [start, end) lies strictly inside one region, so taking it out
 * leaves two pieces of that region: a region more. */
static int region_splits(uint64_t start, uint64_t end)
{
	uint32_t i = region_index(start);
	return i < lp.nregions && lp.regions[i].start < start && lp.regions[i].end > end;
}

/* Removes [start, end) from every region, splitting where needed.  A file
 * region's pages are unmapped by the callers first (release_range). */
static int region_cut(uint64_t start, uint64_t end)
{
	struct region *g = lp.regions;
	uint32_t i = region_index(start);
	if (region_splits(start, end)) {
		if (regions_room(lp.nregions + 1))
			return -LX_ENOMEM;
		region_shift(i + 1, -1);
		g[i + 1] = g[i];
		region_move_start(&g[i + 1], end);
		g[i].end = start;
		file_count(&g[i + 1], 1);
		return 0;
	}
	if (i < lp.nregions && g[i].start < start)
		g[i++].end = start;
	uint32_t j = i;
	while (j < lp.nregions && g[j].end <= end)
		file_count(&g[j++], -1);
	if (j < lp.nregions && g[j].start < end)
		region_move_start(&g[j], end);
	if (j > i)
		region_shift(i, j - i);
	return 0;
}

/* Records [start, end) with prot, replacing what was there; joins a
 * neighbour with the same protection, as Linux merges mappings, so a
 * growing break stays one region.  -ENOMEM beyond the table's size. */
static int region_add_full(const struct region *nr)
{
	uint64_t start = nr->start, end = nr->end, shoff = nr->shoff;
	int prot = nr->prot;
	/* the region itself, and the piece past it when it splits one: so at
	 * the table's end a split is refused where a new mapping was not, as
	 * Linux refuses splits at vm.max_map_count */
	if (regions_room(lp.nregions + 1 + region_splits(start, end)))
		return -LX_ENOMEM;
	file_count(nr, 1);		/* first: the cut may drop the last count */
	if (region_cut(start, end)) {
		file_count(nr, -1);
		return -LX_ENOMEM;
	}
	struct region *g = lp.regions;
	uint32_t i = region_index(start);
	int plain = !shoff && !nr->file;
	int join_prev = plain && i > 0 && g[i - 1].end == start && g[i - 1].prot == prot &&
			!g[i - 1].shoff && !g[i - 1].file && g[i - 1].bss == nr->bss;
	int join_next = plain && i < lp.nregions && g[i].start == end && g[i].prot == prot &&
			!g[i].shoff && !g[i].file && g[i].bss == nr->bss;
	if (join_prev && join_next) {
		g[i - 1].end = g[i].end;
		region_shift(i, 1);
	} else if (join_prev) {
		g[i - 1].end = end;
	} else if (join_next) {
		g[i].start = start;
	} else {
		region_shift(i, -1);
		g[i] = *nr;
	}
	return 0;
}

static int region_add_at(uint64_t start, uint64_t end, int prot, uint64_t shoff)
{
	struct region r = { .start = start, .end = end, .prot = prot, .shoff = shoff };
	return region_add_full(&r);
}

static int region_add(uint64_t start, uint64_t end, int prot)
{
	return region_add_at(start, end, prot, 0);
}

static int page_take_kind_at(uint64_t va, uint16_t *ci, uint16_t *pi, int *dirty, int tables);

/*
 * The memory tables' three parts, each at its own place in the tables'
 * window and mapped from its start as far as it is used: the regions
 * (65,530 at most: 3 MiB), the radix tree's inner nodes, its leaves.
 */
enum { PART_REGIONS, PART_NODES, PART_LEAVES };
static const uint64_t part_base[3] = { MM_TABLES_VA, MM_TABLES_VA + (4ull << 20), MM_TABLES_VA + (512ull << 20) };
static const uint64_t part_max[3] = { 1024, (508ull << 20) / PAGE, (3584ull << 20) / PAGE };
_Static_assert(65530 * sizeof(struct region) <= 1024 * PAGE, "the regions fit their part");
_Static_assert((3584ull << 20) + (512ull << 20) == 1ull << 32, "the parts fill the tables' 4 GiB");

#define LEAF_RECORDS 256	/* a leaf: the records of 1 MiB, one page */
#define NODE_REFS 1024		/* an inner node: 1 GiB or 1 TiB, one page */
_Static_assert(LEAF_RECORDS * sizeof(struct resident) == PAGE, "a leaf is a page");

/* Maps the first pages pages of part k (zeroed), with pages from the pool:
 * the tables grow as they are used.  0 or -ENOMEM. */
static int part_room(int k, uint64_t pages)
{
	struct mm_part *p = &lp.tparts[k];
	if (pages > part_max[k])
		return -LX_ENOMEM;
	while (p->mapped < pages) {
		uint16_t ci, pi;
		int dirty;
		uint64_t va = part_base[k] + p->mapped * PAGE;
		if (page_take_kind_at(va, &ci, &pi, &dirty, 1))
			return -LX_ENOMEM;
		if (dirty)
			lo_memset((void *)va, 0, PAGE);
		p->mapped++;
	}
	return 0;
}

/* Room for n regions: 0, or -ENOMEM past the budget's limit or memory. */
static int regions_room(uint32_t n)
{
	if (n > lp.max_regions)
		return -LX_ENOMEM;
	return part_room(PART_REGIONS, ((uint64_t)n * sizeof(struct region) + PAGE - 1) / PAGE);
}

/* Node or leaf ref (its number + 1) of part k. */
static void *tnode(int k, uint32_t ref)
{
	return (void *)(part_base[k] + (uint64_t)(ref - 1) * PAGE);
}

/*
 * The resident record for va: a radix tree over the page number (512 GiB
 * in the root, 1 GiB in a node, 1 MiB in a leaf), so it costs what is
 * used and a walk of the leaves meets the records in address order.  With
 * for_insert the record's place (made if needed; its va tells whether it
 * is in use), NULL without memory; else the record, NULL when va has none.
 */
static struct resident *resident_find(uint64_t va, int for_insert)
{
	uint32_t *ref = &lp.res_root[(va >> 40) & 127];
	for (int level = 0;; level++) {
		if (!*ref) {
			int k = level < 2 ? PART_NODES : PART_LEAVES;
			if (!for_insert || part_room(k, lp.tparts[k].used + 1))
				return 0;
			*ref = (uint32_t)++lp.tparts[k].used;	/* a fresh page: zeroed */
		}
		if (level == 2)
			break;
		ref = (uint32_t *)tnode(PART_NODES, *ref) + ((va >> (level ? 20 : 30)) & (NODE_REFS - 1));
	}
	struct resident *r = (struct resident *)tnode(PART_LEAVES, *ref) + ((va >> 12) & (LEAF_RECORDS - 1));
	return for_insert || r->va == va ? r : 0;
}

/* The i-th leaf's records (i < lp.tparts[PART_LEAVES].used). */
static struct resident *leaf_at(uint64_t i)
{
	return tnode(PART_LEAVES, (uint32_t)i + 1);
}

/* n new resident records from va on, within one leaf (fault: each a page
 * fault served).  The counts are kept as records come and go, so procfs's
 * memory figures need no walk of the records. */
static void resident_counted(uint64_t va, uint64_t n, int fault)
{
	lp.resident_now += n;
	if (lp.resident_now > lp.resident_peak)
		lp.resident_peak = lp.resident_now;
	lp.resident_libos += va >= LIBOS_VA ? n : 0;
	lp.minflt += fault ? n : 0;
}

static void resident_delete(struct resident *r)
{
	lp.resident_libos -= r->va >= LIBOS_VA;
	*r = (struct resident){ 0, 0, 0, 0 };
	lp.resident_now--;
}

/* A free page from the pool: chunk and index, growing the pool if needed.
 * The memory tables' pages (tables set) come from chunks of their own:
 * the tables only grow, and a table page in a chunk of the program's
 * pages would keep that whole chunk from going back to the budget
 * (pool_trim) after the program frees its memory. */
/*
 * Pages shared at a fork are the frames of a chunk whose cap the child got
 * a copy of. While anyone else may reach them (the kernel tells:
 * CAP_INSPECT's object for a FRAME cap, docs/ABI.md), a page we let go
 * (written, so copied; unmapped) stays allocated, stranded (used and
 * dirty); once nobody else can (the child exec'd or ended, with every
 * copy made from it), the chunk is ours alone: its stranded pages go back
 * to the pool and its copy-on-write pages are written in place. Without
 * this each fork leaked the pages the parent wrote after it.
 */
static int chunk_still_shared(uint16_t ci, int ask_copy)
{
	struct chunk *ch = &lp.chunks[ci];
	struct exo_cap_info info;
	if (ch->shared == CHUNK_OWN)
		return 0;
	if ((ch->shared == CHUNK_COPY && !ask_copy) || ch->asked == (uint8_t)lp.share_epoch)
		return 1;	/* still, as far as we know: no child of ours was reaped since */
	if (lo_cap_inspect(ch->slot, &info) || info.object) {
		ch->asked = (uint8_t)lp.share_epoch;
		return 1;
	}
	for (uint32_t w = 0; !ch->fixed && w * 64 < ch->pages; w++)
		ch->used[w] &= ~ch->dirty[w];	/* the stranded go back, to be zeroed */
	ch->shared = CHUNK_OWN;
	return 0;
}

/* Every chunk shared until now that is ours alone again, back in the pool
 * with its stranded pages: 1 when a page came back. */
static int chunks_reclaim(void)
{
	int freed = 0;
	for (uint16_t c = 0; c < MAX_CHUNKS; c++) {
		struct chunk *ch = &lp.chunks[c];
		if (!ch->slot || ch->fixed || ch->tables || ch->shared == CHUNK_OWN)
			continue;
		uint64_t stranded = 0;
		for (uint32_t w = 0; w * 64 < ch->pages; w++)
			stranded |= ch->used[w] & ch->dirty[w];
		if (stranded && !chunk_still_shared(c, 1))	/* one without frees nothing */
			freed = 1;
	}
	return freed;
}

static int page_take_kind(uint16_t *ci, uint16_t *pi, int *dirty, int tables)
{
	for (int c = 0; c < MAX_CHUNKS; c++) {
		struct chunk *ch = &lp.chunks[c];
		if (!ch->slot || ch->fixed || ch->tables != tables)
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
			ch->dirty[w] &= ~(1ull << b);	/* in use: not stranded */
			*ci = (uint16_t)c;
			*pi = (uint16_t)(w * 64 + b);
			return 0;
		}
	}
	if (!tables && chunks_reclaim())
		return page_take_kind(ci, pi, dirty, tables);
	uint32_t *next = tables ? &lp.next_table_pages : &lp.next_chunk_pages;
	if (!*next)
		*next = 1;
	for (int c = 0; c < MAX_CHUNKS; c++) {
		if (lp.chunks[c].slot)
			continue;
		int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, *next);
		if (slot < 0 && *next > 1)
			slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
		if (slot < 0)
			return -LX_ENOMEM;
		lp.chunks[c] = (struct chunk){ .slot = slot, .pages = *next, .tables = (uint8_t)tables };
		struct exo_cap_info info;
		if (lo_cap_inspect(slot, &info) == 0)
			lp.chunks[c].pages = (uint32_t)info.count;
		if (*next < 512)
			*next *= 2;
		return page_take_kind(ci, pi, dirty, tables);
	}
	return -LX_ENOMEM;
}

int64_t mm_pool_grow(void)
{
	for (int c = 0; c < MAX_CHUNKS; c++) {
		if (lp.chunks[c].slot)
			continue;
		int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 16);
		if (slot < 0)
			return -LX_ENOMEM;
		lp.chunks[c] = (struct chunk){ .slot = slot, .pages = 16 };
		return 0;
	}
	return -LX_ENOMEM;
}

int64_t mm_pool_check(void)
{
	for (int c = 0; c < MAX_CHUNKS; c++) {
		struct exo_cap_info info;
		if (lp.chunks[c].slot && (lo_cap_inspect(lp.chunks[c].slot, &info) ||
					  info.type != EXO_CAP_FRAME || info.count < lp.chunks[c].pages))
			return -5;	/* EIO */
	}
	/* the running counts /proc shows (resident_counted, resident_delete)
	 * against a walk of every record */
	uint64_t all = 0, libos = 0;
	for (uint64_t n = 0; n < lp.tparts[PART_LEAVES].used; n++) {
		const struct resident *leaf = leaf_at(n);
		for (int i = 0; i < LEAF_RECORDS; i++)
			if (leaf[i].va) {
				all++;
				libos += leaf[i].va >= LIBOS_VA;
			}
	}
	return all == lp.resident_now && libos == lp.resident_libos ? 0 : -5;
}

static int page_take(uint16_t *ci, uint16_t *pi, int *dirty)
{
	return page_take_kind(ci, pi, dirty, 0);
}

/* Returns a page to the pool, unless it belongs to a fixed range (image,
 * stack); one shared at a fork stays allocated, stranded, while its chunk
 * may still be (chunk_still_shared gives it back once it is not). */
static void page_give(uint16_t ci, uint16_t pi, uint8_t flags)
{
	if (lp.chunks[ci].fixed)
		return;
	lp.chunks[ci].dirty[pi / 64] |= 1ull << (pi % 64);
	if (!(flags & RES_SHARED) || lp.chunks[ci].shared == CHUNK_OWN)
		lp.chunks[ci].used[pi / 64] &= ~(1ull << (pi % 64));
}

/* Free pages the pool keeps for the next faults (hysteresis): it gives
 * wholly free ranges back to the budget only above POOL_HIGH, down to about
 * POOL_LOW, so a malloc/free loop does not allocate and free frames over
 * and over, and memory a process frees goes to its siblings. */
#define POOL_HIGH 1024ull			/* 4 MiB */
#define POOL_LOW 256ull			/* 1 MiB */

/* The pool's free pages in c (0 for a fixed range, the tables' or an empty slot). */
static uint64_t chunk_free(const struct chunk *c)
{
	if (!c->slot || c->fixed || c->tables)
		return 0;
	uint64_t used = 0;
	for (uint32_t w = 0; w * 64 < c->pages; w++) {
		uint64_t bits = c->used[w];	/* a forked child marks whole words */
		if (c->pages - w * 64 < 64)
			bits &= (1ull << (c->pages - w * 64)) - 1;
		used += (uint64_t)__builtin_popcountll(bits);
	}
	return c->pages - used;
}

/* Deletes the caps of wholly free ranges, newest first, while the pool
 * holds more than POOL_HIGH free pages and keeps at least POOL_LOW; the
 * kernel refunds their frames to the budget we draw on (or, for frames a
 * forked child still holds, when it lets them go). */
static void pool_trim(void)
{
	uint64_t free = 0;
	for (int c = 0; c < MAX_CHUNKS; c++)
		free += chunk_free(&lp.chunks[c]);
	if (free <= POOL_HIGH)
		return;
	for (int c = MAX_CHUNKS - 1; c >= 0 && free > POOL_LOW; c--) {
		struct chunk *ch = &lp.chunks[c];
		uint64_t n = chunk_free(ch);
		if (!n || n != ch->pages || free - n < POOL_LOW)
			continue;
		exo_call(EXO_SYS_CAP_DELETE, ch->slot);
		*ch = (struct chunk){ 0 };
		free -= n;
	}
}

/* A free page from the pool (a tables' chunk if tables), mapped writable
 * at va (ours). */
static int page_take_kind_at(uint64_t va, uint16_t *ci, uint16_t *pi, int *dirty, int tables)
{
	if (page_take_kind(ci, pi, dirty, tables))
		return -LX_ENOMEM;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, lp.chunks[*ci].slot, *pi,
		     EXO_PROT_READ | EXO_PROT_WRITE)) {
		page_give(*ci, *pi, 0);
		return -LX_ENOMEM;
	}
	return 0;
}

static int page_take_at(uint64_t va, uint16_t *ci, uint16_t *pi, int *dirty)
{
	return page_take_kind_at(va, ci, pi, dirty, 0);
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

/* Maps a resident page's own frame at va again, with its region's
 * protection (read-only while copy-on-write). */
static uint32_t resident_prot(const struct resident *res, int prot)
{
	return res->flags & RES_COW ? EXO_PROT_READ | (exo_prot(prot) & EXO_PROT_EXEC) : exo_prot(prot);
}

static int resident_remap(uint64_t va, const struct resident *res, int prot)
{
	return exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, lp.chunks[res->chunk].slot, res->index,
			resident_prot(res, prot)) ? -LX_EACCES : 0;
}

static void unmap_sure(uint64_t va, uint64_t pages);

/* mprotect's change to a resident page that stays accessible: its mapping
 * changed in place (PAGE_PROTECT takes no kernel memory, so the quota
 * cannot refuse it, where a PAGE_MAP over the old page could); a page not
 * mapped (PROT_NONE until now) is mapped again, or left to its next fault
 * if that is refused; one the kernel will not protect so is unmapped: no
 * page keeps its old protection. */
static void resident_reprotect(uint64_t va, const struct resident *res, int prot)
{
	int64_t r = exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, va, resident_prot(res, prot), 1);
	if (r == -EXO_ENOENT)
		resident_remap(va, res, prot);
	else if (r)
		unmap_sure(va, 1);
}

/*
 * A fault on a page that is not there: demand-zero, or a page of the
 * shared segment.  A page already resident was made so by another
 * thread's fault while this one waited for the lock: it is mapped again
 * as it is (at worst a no-op) and the write retried, instead of ending
 * the program.
 */
int mm_fault_in(uint64_t va)
{
	va &= ~(PAGE - 1);
	struct region *r = region_of(va);
	if (!r || !(r->prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC)))
		return -LX_EACCES;
	if (r->shoff || r->file) {	/* the shared segment's page: no record, never copied */
		int64_t i = r->file ? tmpfs_map_page(r->file, (r->foff + (va - r->start)) / PAGE)
				    : (int64_t)((r->shoff - 1 + (va - r->start)) / PAGE);
		if (i < 0)
			return (int)i;
		if ((uint64_t)i >= lp.shared_pages)
			return -LX_EACCES;
		return exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, SH_SLOT0 + i / SH_CHUNK_PAGES,
				i % SH_CHUNK_PAGES, exo_prot(r->prot)) ? -LX_EACCES : 0;
	}
	struct resident *slot = resident_find(va, 0);
	if (slot)
		return resident_remap(va, slot, r->prot);
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
	resident_counted(va, 1, 1);
	return 0;
}

static void fork_hint_note(uint64_t va);

/*
 * A write to a copy-on-write page: the contents go to a page of our own,
 * which replaces the shared one at va.  The shared frame is never given
 * back to the pool (the other env may still map it).  A page of a
 * writable region that is no longer copy-on-write was copied by another
 * thread's fault while this one waited for the lock: mapped again as it
 * is, and the write retried.
 */
int mm_cow_fault(uint64_t va)
{
	va &= ~(PAGE - 1);
	struct region *r = region_of(va);
	struct resident *res = resident_find(va, 0);
	if (!r || !res || !(r->prot & LX_PROT_WRITE))
		return -LX_EACCES;
	if ((res->flags & RES_COW) && !chunk_still_shared(res->chunk, 0))
		res->flags = 0;		/* ours alone again: written in place */
	if (!(res->flags & RES_COW))
		return resident_remap(va, res, r->prot);
	uint16_t ci, pi;
	int dirty;
	if (page_take_at(MM_SCRATCH_VA, &ci, &pi, &dirty))
		return -LX_ENOMEM;
	lo_memcpy((void *)MM_SCRATCH_VA, (const void *)va, PAGE);
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, MM_SCRATCH_VA);
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, lp.chunks[ci].slot, pi, exo_prot(r->prot))) {
		page_give(ci, pi, 0);
		return -LX_ENOMEM;
	}
	page_give(res->chunk, res->index, res->flags);	/* stranded while shared */
	*res = (struct resident){ va, ci, pi, 0 };
	lp.minflt++;
	fork_hint_note(va);
	return 0;
}

void mm_own_page(uint64_t va)
{
	struct resident *res = resident_find(va & ~(PAGE - 1), 0);
	if (res && (res->flags & RES_COW))
		mm_cow_fault(va);
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
		/* with fault recovery: a page past the end of a mapped file
		 * (SIGBUS for the program) is EFAULT for a call, as on Linux */
		if (lo_touch_write((void *)(va < addr ? addr : va)))
			return -14;
	}
	return 0;
}

int64_t lo_cap_inspect(int64_t slot, struct exo_cap_info *info)
{
	int err = mm_prepare_write((uint64_t)info, sizeof *info);
	return err ? err : exo_call(EXO_SYS_CAP_INSPECT, slot, info);
}

/* Records pages [from, to) of chunk c, mapped from base on: a leaf's
 * records at a time (no leaf, no memory: those pages stay unrecorded). */
static void adopt_records(uint16_t c, uint64_t base, uint64_t from, uint64_t to)
{
	for (uint64_t i = from; i < to;) {
		uint64_t a = base + i * PAGE, n = LEAF_RECORDS - (a / PAGE) % LEAF_RECORDS, fresh = 0;
		struct resident *res = resident_find(a, 1);
		n = n < to - i ? n : to - i;
		for (uint64_t k = 0; res && k < n; k++) {
			fresh += res[k].va != a + k * PAGE;
			res[k] = (struct resident){ a + k * PAGE, c, (uint16_t)(i + k), 0 };
		}
		resident_counted(a, res ? fresh : 0, 0);
		i += n;
	}
}

/* Registers a frame range the kernel mapped for us (image, stack) as a
 * fixed chunk, with a resident record per page and a region per run of
 * pages with one protection. */
void mm_adopt(int64_t slot, uint64_t va, uint64_t pages, const uint8_t *prot_of_page)
{
	int c = 0;
	while (c < MAX_CHUNKS && lp.chunks[c].slot)
		c++;
	if (c == MAX_CHUNKS)
		return;
	int prot = 0;
	for (uint64_t i = 0; i < pages; i++)
		prot |= prot_of_page[i];
	/* an image run not writable may be the executable's shared copy */
	lp.chunks[c] = (struct chunk){ .slot = slot, .pages = (uint32_t)pages, .fixed = 1,
				       .grant = prot & LX_PROT_WRITE ? 0 : exec_run_rights(prot) };
	for (uint64_t run = 0, i; run < pages; run = i) {
		for (i = run + 1; i < pages && prot_of_page[i] == prot_of_page[run]; i++)
			;
		if (prot_of_page[run]) {
			adopt_records((uint16_t)c, va, run, i);
			region_add(va + run * PAGE, va + i * PAGE, prot_of_page[run]);
		}
	}
}

void mm_adopt_pool(int64_t slot, uint64_t pages, const uint64_t *va, uint64_t used)
{
	int c = 0;
	while (c < MAX_CHUNKS && lp.chunks[c].slot)
		c++;
	if (c == MAX_CHUNKS || pages > 512 || used > pages)
		return;
	lp.chunks[c] = (struct chunk){ .slot = slot, .pages = (uint32_t)pages };
	struct resident *res = 0;
	for (uint64_t i = 0; i < used; i++) {
		/* the boot handler maps runs: the next page's record is most
		 * often the next in the leaf */
		int next = res && va[i] == va[i - 1] + PAGE && va[i] % (LEAF_RECORDS * PAGE);
		res = next ? res + 1 : resident_find(va[i], 1);
		lp.chunks[c].used[i / 64] |= 1ull << (i % 64);
		if (!res)
			continue;
		if (res->va != va[i])
			resident_counted(va[i], 1, 1);
		*res = (struct resident){ va[i], (uint16_t)c, (uint16_t)i, 0 };
	}
}

/* Unmaps pages that must not stay mapped: what is given back to the pool
 * or to a file's count could otherwise be reached through the old address
 * once it is someone else's.  The kernel refuses an unmap only when it
 * would split a run's record and the env's kernel-memory quota is spent
 * (docs/ABI.md, PAGE_UNMAP); the process then ends, as a fault out of
 * memory does, rather than go on with the page still mapped. */
static void unmap_sure(uint64_t va, uint64_t pages)
{
	if (exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, va, pages) != -EXO_ENOMEM)
		return;
	lo_report("exoswarm: program: out of kernel memory to unmap %p\n", va);
	proc_end_self(EXO_STATUS_SIGNALED(9));
}

/* Unmaps every resident page in [start, end) and returns it to the pool;
 * pages of the shared segment there are only unmapped. */
static void release_range(uint64_t start, uint64_t end)
{
	for (uint32_t i = region_index(start); i < lp.nregions && lp.regions[i].start < end; i++) {
		if (!lp.regions[i].shoff && !lp.regions[i].file)
			continue;
		uint64_t lo = lp.regions[i].start > start ? lp.regions[i].start : start;
		uint64_t hi = lp.regions[i].end < end ? lp.regions[i].end : end;
		for (uint64_t va = lo; va < hi; va += PAGE)
			unmap_sure(va, 1);
	}
	for (uint64_t va = start; va < end; va += PAGE) {
		struct resident *r = resident_find(va, 0);
		if (!r)
			continue;
		unmap_sure(va, 1);
		page_give(r->chunk, r->index, r->flags);
		resident_delete(r);
	}
	pool_trim();
}

/* Maps pages fresh frames at va in env (ours: EXO_SLOT_SELF_ENV), up to
 * 512 per frame cap and one PAGE_MAP call each, copying what is at src
 * when src is not 0 (through the copy window, unmapped when our cap is
 * deleted).  For another env the caps are granted to it first, in free
 * slots of its own (it maps them by those), and our handles deleted.  0 or
 * -ENOMEM. */
static int frames_map(int64_t env, uint64_t va, uint64_t pages, const uint8_t *src)
{
	for (uint64_t done = 0; done < pages; ) {
		uint64_t n = pages - done < 512 ? pages - done : 512;
		int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, n);
		if (slot < 0)
			return -LX_ENOMEM;
		int64_t err = 0, there = slot;
		if (env != EXO_SLOT_SELF_ENV) {	/* mapped there by its slot there */
			there = exo_call(EXO_SYS_CAP_GRANT, slot, env, EXO_R_ALL, 0);
			err = there < 0;
		}
		if (src && !err) {	/* the window's mappings go with our cap */
			err = exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, MM_COPY_VA, slot, 0,
				       EXO_PROT_READ | EXO_PROT_WRITE, n);
			if (!err)
				lo_memcpy((void *)MM_COPY_VA, src + done * PAGE, n * PAGE);
		}
		if (!err)
			err = exo_call(EXO_SYS_PAGE_MAP, env, va + done * PAGE, there, 0, EXO_PROT_READ | EXO_PROT_WRITE |
				       (env == EXO_SLOT_SELF_ENV ? 0 : EXO_MAP_TARGET_CAP), n);
		if (err || env != EXO_SLOT_SELF_ENV)
			exo_call(EXO_SYS_CAP_DELETE, slot);
		if (err)
			return -LX_ENOMEM;
		done += n;
	}
	return 0;
}

/*
 * The memory tables start empty: the region table's limit comes from the
 * memory budget the program starts with (a region per 8 pages, 32 KiB, at
 * least 1,024 and at most Linux's default of 65,530 mappings); every part
 * is mapped as it grows (part_room), in frames of its own, never
 * demand-zero, because the fault handler writes them.  fork copies what is
 * mapped (mm_tables_fork).
 */
static void tables_init(void)
{
	static struct exo_cap_info mem;	/* resident: no region is known yet */
	uint64_t budget = exo_call(EXO_SYS_CAP_INSPECT, EXO_SLOT_MEMORY, &mem) == 0 ? mem.count : 0;
	uint64_t regions = budget / 8 < 1024 ? 1024 : budget / 8 > 65530 ? 65530 : budget / 8;
	lp.regions = (struct region *)MM_TABLES_VA;
	lp.nregions = 0;
	lp.max_regions = (uint32_t)regions;
	lo_memset(lp.tparts, 0, sizeof lp.tparts);
	lo_memset(lp.res_root, 0, sizeof lp.res_root);
}

/* Gives env a copy of the tables at the same address: in the frames of
 * priv from index first on (a cap env holds in the same slot, mapped here
 * at FORK_PRIVATE_VA with the child's private block) when they fit its
 * room pages, a PAGE_MAP for each part, else in frames of their own (the
 * tables grew during the fork). */
int mm_tables_fork(int64_t env, int64_t priv, uint64_t first, uint64_t room)
{
	uint64_t at = first;
	for (int k = 0; k < 3; k++) {
		uint64_t n = lp.tparts[k].mapped;
		if (!n)
			continue;
		if (mm_tables_pages() > room) {
			if (frames_map(env, part_base[k], n, (const uint8_t *)part_base[k]))
				return -LX_ENOMEM;
			continue;
		}
		lo_memcpy((void *)(FORK_PRIVATE_VA + at * PAGE), (const void *)part_base[k], n * PAGE);
		if (exo_call(EXO_SYS_PAGE_MAP, env, part_base[k], priv, at,
			     EXO_PROT_READ | EXO_PROT_WRITE | EXO_MAP_TARGET_CAP, n))
			return -LX_ENOMEM;
		at += n;
	}
	return 0;
}

uint64_t mm_tables_pages(void)
{
	return lp.tparts[0].mapped + lp.tparts[1].mapped + lp.tparts[2].mapped;
}

/* What the forking thread is sure to write at once, in both processes:
 * its block, the part of its handler stack in use (only the first
 * thread's: another's stays ours, lo_thread_page_kept) and the top of its
 * program stack, the 1 KiB below the stack pointer at the call. */
struct fork_hot {
	uint64_t lo[3], hi[3];
};

static void fork_hot_now(struct fork_hot *h)
{
	struct lo_thread *t = lo_thread_self();
	uint64_t sp = (uint64_t)__builtin_frame_address(0);
	h->lo[0] = (uint64_t)t;
	h->hi[0] = (uint64_t)(t + 1);
	h->lo[1] = t == &lo_thread0 ? sp : 0;
	h->hi[1] = t == &lo_thread0 ? t->stack_top : 0;
	h->lo[2] = t->at_call.rsp - 1024;
	h->hi[2] = t->at_call.rsp;
}

/*
 * Fork hints: a page that takes a copy-on-write fault after a fork, in
 * the parent or in the child before its execve, is likely to take one
 * after the next forks too (the child's path to execve writes the same
 * library OS and libc variables each time; the parent the same ones of
 * its loop), where a copy at the fork costs a piece of the kernel call
 * that makes the child's copies instead of a fault (a few thousand
 * instructions).  So the fault names the page in the forker's entry in
 * the process table, and its forks copy the pages named (the newest
 * FORK_HINTS; a stale name costs a page's copy, or nothing if the page
 * is gone; execve forgets them).
 */
static void fork_hint_note(uint64_t va)
{
	if (!lp.shared_pages || lp.hint_index >= MAX_PROCS)
		return;
	struct sh_proc *p = &sh_seg()->procs[lp.hint_index];
	if (p->pid != lp.hint_pid)
		return;
	for (uint32_t i = 0; i < p->nfork_hints && i < FORK_HINTS; i++)
		if (p->fork_hint[i] == va)
			return;
	if (p->nfork_hints < FORK_HINTS)
		p->fork_hint[p->nfork_hints++] = va;
	else
		p->fork_hint[p->fork_hint_next++ % FORK_HINTS] = va;
}

/* Marks the records of the pages the forking thread is sure to write (h)
 * and of those our entry's hints name (RES_HINTED, cleared again as
 * mm_fork_mark passes them), so its walk asks a record's flags, not the
 * ranges (no more than FORK_COPY_MAX pages of a range: no more are
 * copied).  The hints stay: a page copied at this fork takes no fault to
 * name it again, and without it the next fork would share it again (a
 * fault every other fork). */
static void fork_hints_take(const struct fork_hot *h)
{
	for (int k = 0; k < 3; k++) {
		uint64_t va = h->lo[k] & ~(PAGE - 1);
		for (int i = 0; i < FORK_COPY_MAX && va < h->hi[k]; i++, va += PAGE) {
			struct resident *r = resident_find(va, 0);
			if (r)
				r->flags |= RES_HINTED;
		}
	}
	struct sh_proc *me = lp.shared_pages ? proc_self() : 0;
	if (!me)
		return;
	for (uint32_t i = 0; i < me->nfork_hints && i < FORK_HINTS; i++) {
		struct resident *r = resident_find(me->fork_hint[i], 0);
		if (r)
			r->flags |= RES_HINTED;
	}
}

/* 1 when a thread other than the first runs: only then can a page be
 * kept writable at a fork (lo_thread_page_kept). */
static int fork_pages_kept(void)
{
	const struct lo_thread *t = lo_threads();
	return t && (t != &lo_thread0 || t->next);
}

/*
 * A page fork copies for the child instead of sharing it, in a writable
 * region and not another thread's block or handler stack (those the
 * child never uses, and only with kept set can there be any): one the
 * forking thread is sure to write or one a copy-on-write fault hinted
 * since our last fork (both RES_HINTED: fork_hints_take), or one we wrote
 * since our last fork (no RES_SHARED: a fresh page or a copy-on-write
 * copy), likely written again by both of us, unless it was copied at the
 * last fork (RES_CLEAN: we cannot tell whether it was written since, so
 * it is shared this time; our next write shows it).
 */
static int fork_copies(const struct resident *r, int kept)
{
	if (!(r->flags & RES_HINTED) && (r->flags & (RES_SHARED | RES_CLEAN)))
		return 0;
	int prot = mm_prot_at(r->va);
	return prot > 0 && (prot & LX_PROT_WRITE) && !(kept && lo_thread_page_kept(r->va));
}

/* The protection of the region holding va (-1: none), for a walk of one
 * leaf's records, which come in address order: *i is where the walk's
 * last look-up ended (UINT32_MAX at the leaf's first record), so a leaf
 * costs one search and a step per region, not a search per page. */
static int prot_walk(uint32_t *i, uint64_t va)
{
	if (*i == UINT32_MAX)
		*i = region_index(va);
	while (*i < lp.nregions && lp.regions[*i].end <= va)
		++*i;
	return *i < lp.nregions && lp.regions[*i].start <= va ? lp.regions[*i].prot : -1;
}

/* The frames of the pages fork copies (n pieces), and FORK_COPY_SPARE
 * free ones for the child's first faults, in one cap granted to env in
 * the same slot: the slot, or -ENOMEM when the budget has no room. */
static int64_t fork_copy_cap(int64_t env, const struct exo_mem_copy *piece, uint32_t n)
{
	int64_t slot = exo_call(EXO_SYS_MEM_ALLOC_COPY, EXO_SLOT_MEMORY, n + FORK_COPY_SPARE, piece, n);
	if (slot < 0)
		return -LX_ENOMEM;
	if (exo_call(EXO_SYS_CAP_GRANT, slot, env, EXO_R_ALL, slot + 1) < 0) {
		exo_call(EXO_SYS_CAP_DELETE, slot);
		return -LX_ENOMEM;
	}
	return slot;
}

/*
 * Marks every resident page for the fork but the private block's: shared
 * copy-on-write in both (RES_FRESH when it was writable here until now,
 * so mm_fork_share makes it read-only here too; one still copy-on-write
 * from an earlier fork is read-only already), or, for the first
 * FORK_COPY_MAX pages written since our last fork (fork_copies), copied
 * for the child at once (RES_COPIED): a copy is one piece of a kernel
 * call, where sharing costs a protect here and a fault in each of us.
 * Without the memory for the copies, or with may_copy 0 (no room in the
 * child's chunk table), those pages are shared too.  The copies' addresses
 * go to our lp.copied_va (only a forked child reads them, from its copy
 * of this block: mm_fork_private copies it after the marks).
 */
int64_t mm_fork_mark(int64_t env, int may_copy)
{
	_Static_assert(FORK_COPY_MAX <= 64, "the copies' used bits fit one word");
	uint64_t lo = (uint64_t)&lp, hi = lo + sizeof lp;
	struct exo_mem_copy piece[FORK_COPY_MAX];
	struct fork_hot hot;
	uint32_t n = 0;
	int kept = fork_pages_kept();
	fork_hot_now(&hot);
	fork_hints_take(&hot);
	lp.share_epoch++;
	for (int c = 0; c < MAX_CHUNKS; c++)	/* the child gets a copy of each */
		if (lp.chunks[c].slot && !lp.chunks[c].tables && lp.chunks[c].shared == CHUNK_OWN)
			lp.chunks[c].shared = CHUNK_FORKED;
	for (uint64_t l = 0; l < lp.tparts[PART_LEAVES].used; l++) {
		struct resident *leaf = leaf_at(l);
		for (int i = 0; i < LEAF_RECORDS; i++) {
			struct resident *r = &leaf[i];
			if (!r->va)
				continue;
			if (r->va >= lo && r->va < hi) {
				r->flags &= (uint8_t)~RES_HINTED;
				continue;
			}
			int copy = may_copy && n < FORK_COPY_MAX && fork_copies(r, kept);
			r->flags &= (uint8_t)~RES_HINTED;
			if (copy) {
				piece[n] = (struct exo_mem_copy){ (uint64_t)lp.chunks[r->chunk].slot,
								   r->index * PAGE, PAGE, n * PAGE };
				lp.copied_va[n++] = r->va;
				r->flags |= RES_COPIED;
				continue;
			}
			r->flags = RES_COW | RES_SHARED | (r->flags & RES_COW ? 0 : RES_FRESH);
		}
	}
	lp.ncopied = n;
	int64_t copies = n ? fork_copy_cap(env, piece, n) : 0;
	if (copies >= 0)
		return copies;
	for (uint32_t k = 0; k < n; k++) {	/* no room: shared after all */
		struct resident *r = resident_find(lp.copied_va[k], 0);
		r->flags = RES_COW | RES_SHARED | RES_FRESH;
	}
	lp.ncopied = 0;
	return 0;
}

/*
 * The child's private block, a copy of ours made by the kernel from our
 * block's frames (one piece per run of them), so its frames are neither
 * zeroed first nor copied through a mapping here; room more pages after
 * it come zeroed (the tables' copy, mm_tables_fork).  A page of the block
 * without a record (none is known) comes zeroed as well, its bit set in
 * *missing for the caller to copy.  The frame slot, or -ENOMEM.
 */
int64_t mm_fork_private(uint64_t room, uint64_t *missing)
{
	_Static_assert(sizeof lp / PAGE <= 64, "the block's pages fit the missing mask");
	uint64_t lo = (uint64_t)&lp, pages = sizeof lp / PAGE;
	struct exo_mem_copy piece[sizeof lp / PAGE];
	uint32_t n = 0;
	*missing = 0;
	for (uint64_t i = 0; i < pages; i++) {
		const struct resident *r = resident_find(lo + i * PAGE, 0);
		if (!r) {
			*missing |= 1ull << i;
			continue;
		}
		uint64_t slot = (uint64_t)lp.chunks[r->chunk].slot, from = r->index * PAGE;
		struct exo_mem_copy *last = n ? &piece[n - 1] : 0;
		if (last && last->slot == slot && last->offset + last->length == from &&
		    last->dest + last->length == i * PAGE) {
			last->length += PAGE;
			continue;
		}
		piece[n++] = (struct exo_mem_copy){ slot, from, PAGE, i * PAGE };
	}
	int64_t priv = exo_call(EXO_SYS_MEM_ALLOC_COPY, EXO_SLOT_MEMORY, pages + room, piece, n);
	return priv < 0 ? -LX_ENOMEM : priv;
}

/* Pages in a row that fork maps in the child with one call: frames in a
 * row of one cap, with one protection. */
struct share_run {
	uint64_t va, pages, index;
	int64_t slot;
	uint32_t prot;		/* EXO_PROT_*, and EXO_MAP_TARGET_CAP */
	int ours_too;		/* ours was writable: made read-only as well */
};

static int share_flush(int64_t env, struct share_run *r)
{
	if (r->pages && exo_call(EXO_SYS_PAGE_MAP, env, r->va, r->slot, r->index, r->prot, r->pages))
		return -LX_ENOMEM;
	if (r->pages && r->ours_too)
		exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, r->va, r->prot & 7, r->pages);
	r->pages = 0;
	return 0;
}

/* Adds page p to run r, or maps r and starts a new run with p. */
static int share_page(int64_t env, struct share_run *r, const struct share_run *p)
{
	if (r->pages && p->va == r->va + r->pages * PAGE && p->slot == r->slot &&
	    p->index == r->index + r->pages && p->prot == r->prot && p->ours_too == r->ours_too) {
		r->pages++;
		return 0;
	}
	int err = share_flush(env, r);
	*r = *p;
	return err;
}

int mm_fork_share(int64_t env, int64_t priv, int64_t copies)
{
	uint64_t lo = (uint64_t)&lp, hi = lo + sizeof lp;
	struct share_run run = { 0 };
	uint64_t copied = 0;
	int kept = fork_pages_kept();
	for (uint64_t n = 0; n < lp.tparts[PART_LEAVES].used; n++) {
		struct resident *leaf = leaf_at(n);
		uint32_t ri = UINT32_MAX;
		for (int i = 0; i < LEAF_RECORDS; i++) {
			struct resident *r = &leaf[i];
			if (!r->va)
				continue;
			struct share_run p = { r->va, 1, 0, priv, EXO_PROT_READ | EXO_PROT_WRITE | EXO_MAP_TARGET_CAP, 0 };
			if (r->va >= lo && r->va < hi) {
				p.index = (r->va - lo) / PAGE;
			} else if (r->flags & RES_COPIED) {	/* the child's own copy; ours stays as it is */
				r->flags = (uint8_t)((r->flags & ~RES_COPIED) | RES_CLEAN);
				p.index = copied++;
				p.slot = copies;
			} else {
				int prot = prot_walk(&ri, r->va);
				if (prot <= 0 || !(prot & 7))
					continue;
				p.index = r->index;
				p.slot = lp.chunks[r->chunk].slot;
				p.prot = EXO_PROT_READ | (prot & 4 ? EXO_PROT_EXEC : 0) | EXO_MAP_TARGET_CAP;
				p.ours_too = (prot & 2) && (r->flags & RES_FRESH);
				r->flags &= ~RES_FRESH;
				if ((prot & 2) && kept && lo_thread_page_kept(r->va)) {
					/* a thread's block and handler stack stay
					 * writable here: another thread's fault during
					 * the fork is framed there; the child never
					 * reads them */
					p.ours_too = 0;
					r->flags &= ~RES_COW;
				}
			}
			if (share_page(env, &run, &p))
				return -LX_ENOMEM;
		}
	}
	return share_flush(env, &run);
}

/* Takes a failed fork's marks back.  A page it marked but had not made
 * read-only here yet must not pass for copy-on-write (the next fork
 * would then leave it writable here), so every page still marked fresh
 * is ours alone again; a write to one that was made read-only maps it
 * writable again (mm_cow_fault).  Each stays marked shared: the frame may
 * have been mapped in the child, so it never goes back to the pool. */
void mm_fork_unmark(void)
{
	for (uint64_t n = 0; n < lp.tparts[PART_LEAVES].used; n++) {
		struct resident *leaf = leaf_at(n);
		for (int i = 0; i < LEAF_RECORDS; i++) {
			if (leaf[i].flags & RES_FRESH)
				leaf[i].flags &= (uint8_t)~(RES_COW | RES_FRESH);
			leaf[i].flags &= (uint8_t)~(RES_COPIED | RES_CLEAN);
		}
	}
}

void mm_adopt_private(uint32_t c)
{
	uint64_t lo = (uint64_t)&lp;
	for (uint64_t i = 0; i < sizeof lp / PAGE; i++) {
		struct resident *r = resident_find(lo + i * PAGE, 0);
		if (r)
			*r = (struct resident){ lo + i * PAGE, (uint16_t)c, (uint16_t)i, 0 };
	}
	for (uint32_t k = 0; k < lp.ncopied; k++) {
		struct resident *r = resident_find(lp.copied_va[k], 0);
		if (r)
			*r = (struct resident){ lp.copied_va[k], (uint16_t)lp.copied_chunk, (uint16_t)k, 0 };
	}
	lp.ncopied = 0;
}

void mm_init(uint64_t image_end)
{
	lp.next_chunk_pages = 64;
	lp.next_table_pages = 8;	/* the tables' first pages come from the pool */
	tables_init();
	lp.start_ns = time_now_ns();
	lp.resident_now = lp.resident_peak = lp.resident_libos = lp.minflt = 0;
	lp.mmap_next = MMAP_BASE;
	lp.heap_start = lp.heap_end = (image_end + PAGE - 1) & ~(PAGE - 1);
	uint64_t mapped = EXO_STACK_TOP - EXO_STACK_PAGES * PAGE;
	region_add(EXO_STACK_TOP - STACK_RESERVE, mapped, LX_PROT_READ | LX_PROT_WRITE);
}

/*
 * RLIMIT_AS: whether the program's mappings, with [start, end) mapped
 * anew, stay within the soft limit.  The library OS's own regions (its
 * heap, above LIBOS_VA) do not count; the stack does.  The sum is taken
 * only while a limit is set.
 */
static int as_allows(uint64_t start, uint64_t end)
{
	uint64_t lim = rlimit_cur(RLIMIT_AS), total = end - start;
	if (lim == ~0ull)
		return 1;
	for (uint32_t i = 0; i < lp.nregions; i++) {
		const struct region *r = &lp.regions[i];
		if (r->start >= LIBOS_VA && r->start < EXO_STACK_TOP - STACK_RESERVE)
			continue;
		uint64_t lo = r->start > start ? r->start : start, hi = r->end < end ? r->end : end;
		total += r->end - r->start - (lo < hi ? hi - lo : 0);
	}
	return total <= lim;
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
		if (!as_allows(old_top, new_top) || region_add(old_top, new_top, LX_PROT_READ | LX_PROT_WRITE))
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
	if ((prot & LX_PROT_WRITE) && (prot & LX_PROT_EXEC))
		return -LX_EACCES;		/* W^X */
	if (!(flags & LX_MAP_ANONYMOUS))
		return fmap_mmap(addr, len, prot, flags, fd, off);	/* libos/fmap.c */
	if ((flags & 0xf) == 1 || (flags & 0xf) == 3)
		return fmap_shared_anon(addr, len, prot, flags);	/* MAP_SHARED */
	len = (len + PAGE - 1) & ~(PAGE - 1);
	if (flags & LX_MAP_FIXED) {
		if (addr % PAGE || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
			return -LX_EINVAL;
		if (!as_allows(addr, addr + len))
			return -LX_ENOMEM;
		release_range(addr, addr + len);
		if (region_cut(addr, addr + len))
			return -LX_ENOMEM;
	} else {
		if (!as_allows(lp.mmap_next, lp.mmap_next + len))
			return -LX_ENOMEM;
		addr = lp.mmap_next;
		lp.mmap_next += len + PAGE;	/* a guard page between mappings */
	}
	if (region_add(addr, addr + len, prot))
		return -LX_ENOMEM;
	return (int64_t)addr;
}

/*
 * 1 when [addr, addr+len) (page-aligned addr) overlaps memory the library
 * OS runs on: the program image, where its code, data and .bss are linked
 * in among the program's (ld-exo's image, under a foreign program); the
 * shared segment and the library OS's heap (thread blocks, handler
 * stacks); its fixed windows (libos/layout.h).
 * The program's own munmap, mprotect, MAP_FIXED mmap, discarding madvise
 * and shmat there are refused, as Linux refuses them on a sealed mapping:
 * unmapping the code that serves its faults would end it inside the
 * library OS, or worse, in the middle of a change to shared state.
 */
int mm_sealed(uint64_t addr, uint64_t len)
{
	extern const char __executable_start[], _end[];
	const uint64_t ranges[3][2] = {
		{ (uint64_t)__executable_start & ~(PAGE - 1), ((uint64_t)_end + PAGE - 1) & ~(PAGE - 1) },
		{ LIBOS_VA, LIBOS_HEAP_END },
		{ NIC_BUF_VA, EXO_STACK_TOP - STACK_RESERVE },
	};
	if (addr % PAGE || len == 0)
		return 0;
	uint64_t end = addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr ? EXO_KINFO_VA : addr + len;
	for (int i = 0; i < 3; i++)
		if (addr < ranges[i][1] && end > ranges[i][0])
			return 1;
	return 0;
}

int64_t mm_munmap(uint64_t addr, uint64_t len)
{
	if (addr % PAGE || len == 0 || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -LX_EINVAL;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	uint64_t end = addr + len;
	/* every refusal before anything changes, as on Linux: no room in the
	 * region table for the piece past the hole, or no kernel quota for
	 * the second record of a run the hole splits (a range inside one run,
	 * so shorter than a run's 512 pages: unmapped here first, the pages'
	 * unmaps in release_range then find nothing) */
	if (region_splits(addr, end) && regions_room(lp.nregions + 1))
		return -LX_ENOMEM;
	if (len / PAGE < 512 && exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, addr, len / PAGE) == -EXO_ENOMEM)
		return -LX_ENOMEM;
	release_range(addr, end);
	return region_cut(addr, end);
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
	/* region by region, so a shared one keeps its place in the segment
	 * (its pages are unmapped and come back with the new protection) */
	for (uint64_t va = addr, end; va < addr + len; va = end) {
		struct region *r = region_of(va);
		end = r->end < addr + len ? r->end : addr + len;
		struct region piece = *r;
		region_move_start(&piece, va);
		piece.end = end;
		piece.prot = prot;
		if (piece.shoff || piece.file)
			release_range(va, end);
		if (region_add_full(&piece))
			return -LX_ENOMEM;
	}
	/* resident pages keep their frames: PROT_NONE unmaps them, a later
	 * mprotect maps the same frame again */
	for (uint64_t va = addr; va < addr + len; va += PAGE) {
		struct resident *r = resident_find(va, 0);
		if (!r)
			continue;
		if (!(prot & (LX_PROT_READ | LX_PROT_WRITE | LX_PROT_EXEC)))
			unmap_sure(va, 1);
		else
			resident_reprotect(va, r, prot);
	}
	return 0;
}

/* Records r (a shared region: System V memory or a file; start and end
 * relative to 0) at addr, or anywhere when addr is 0: the address. */
static int64_t map_segment_region(uint64_t addr, struct region *r)
{
	uint64_t len = (r->end + PAGE - 1) & ~(PAGE - 1);
	if (addr % PAGE || !len)
		return -LX_EINVAL;
	if (addr && (addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr))
		return -LX_EINVAL;
	uint64_t at = addr ? addr : lp.mmap_next;
	if (!as_allows(at, at + len))
		return -LX_ENOMEM;
	if (addr)
		release_range(addr, addr + len);
	r->start = at;
	r->end = at + len;
	if (region_add_full(r))
		return -LX_ENOMEM;
	if (!addr)
		lp.mmap_next += len + PAGE;
	return (int64_t)at;
}

int64_t mm_map_shared(uint64_t addr, uint64_t len, int prot, uint64_t off)
{
	struct region r = { .end = len, .prot = prot, .shoff = off + 1 };
	return off % PAGE ? -LX_EINVAL : map_segment_region(addr, &r);
}

/* A file mapping is at most the shared segment's size (its pages are the
 * segment's): unmapping one walks its pages, so its length stays bounded. */
int64_t mm_map_file(uint64_t addr, uint64_t len, int prot, void *v, uint64_t off)
{
	struct region r = { .end = len, .prot = prot, .file = v, .foff = off };
	if (off % PAGE || len > (1ull << 40))
		return -LX_EINVAL;
	return len > lp.shared_pages * PAGE ? -LX_ENOMEM : map_segment_region(addr, &r);
}

void mm_file_truncated(void *v, uint64_t size)
{
	uint64_t cut = (size + PAGE - 1) & ~(PAGE - 1);
	for (uint32_t i = 0; i < lp.nregions; i++) {
		const struct region *r = &lp.regions[i];
		if (r->file != v || r->foff + (r->end - r->start) <= cut)
			continue;
		uint64_t va = r->foff >= cut ? r->start : r->start + (cut - r->foff);
		for (; va < r->end; va += PAGE)
			unmap_sure(va, 1);
	}
}

void mm_files_fork(void)
{
	for (uint32_t i = 0; i < lp.nregions; i++)
		file_count(&lp.regions[i], 1);
}

void mm_files_detach(void)
{
	for (uint32_t i = 0; i < lp.nregions; i++) {
		struct region *r = &lp.regions[i];
		if (!r->shoff && !r->file)
			continue;
		/* unmapped before the count goes: at zero the pages may be freed */
		for (uint64_t va = r->start; va < r->end; va += PAGE)
			unmap_sure(va, 1);
		file_count(r, -1);
		r->file = 0;
	}
}

uint64_t mm_shared_word(uint64_t uaddr)
{
	const struct region *r = region_of(uaddr);
	if (!r || !lp.shared_pages)
		return 0;
	if (r->shoff)
		return SH_VA + r->shoff - 1 + (uaddr - r->start);
	if (!r->file)
		return 0;
	int64_t i = tmpfs_map_page(r->file, (r->foff + (uaddr - r->start)) / PAGE);
	return i < 0 ? 0 : SH_VA + (uint64_t)i * PAGE + uaddr % PAGE;
}

int mm_range_mapped(uint64_t addr, uint64_t len)
{
	uint64_t end = (addr + len + PAGE - 1) & ~(PAGE - 1);
	for (uint64_t va = addr & ~(PAGE - 1); va < end; ) {
		const struct region *r = region_of(va);
		if (!r)
			return -LX_ENOMEM;
		va = r->end;
	}
	return 0;
}

int64_t mm_mincore(uint64_t addr, uint64_t len, uint8_t *uvec)
{
	if (addr % PAGE)
		return -LX_EINVAL;
	if (addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -LX_ENOMEM;
	uint64_t end = (addr + len + PAGE - 1) & ~(PAGE - 1);
	for (uint64_t va = addr; va < end; va += PAGE) {
		const struct region *r = region_of(va);
		if (!r)
			return -LX_ENOMEM;
		/* a file's page is in memory while it is inside the file */
		uint8_t in = r->file ? r->foff + (va - r->start) < ((struct vnode *)r->file)->size
				     : r->shoff || resident_find(va, 0);
		if (lo_copy_out(uvec + (va - addr) / PAGE, &in, 1))
			return -14;
	}
	return 0;
}

int64_t mm_shared_at(uint64_t addr, uint64_t max, uint64_t *len)
{
	struct region *r = region_of(addr);
	if (!r || !r->shoff || r->start != addr)
		return -LX_EINVAL;
	/* an mprotect inside the attachment split it into several regions:
	 * the ones that go on where the last ended, in the segment too */
	const struct region *end = lp.regions + lp.nregions, *k = r;
	while (k + 1 < end && k[1].start == k->end && k[1].shoff == k->shoff + (k->end - k->start) &&
	       k[1].end - addr <= max)
		k++;
	*len = k->end - addr;
	return (int64_t)(r->shoff - 1);
}

/* Reserves [addr, addr+len) as an anonymous region for the library OS's
 * own allocator, without looking for pages to release there first. */
int mm_reserve(uint64_t addr, uint64_t len, int prot)
{
	if (addr % PAGE || len % PAGE || addr >= EXO_KINFO_VA || len > EXO_KINFO_VA - addr)
		return -LX_EINVAL;
	return region_add(addr, addr + len, prot);
}

int mm_add_bss(uint64_t addr, uint64_t len, int prot)
{
	struct region r = { .start = addr, .end = addr + len, .prot = prot, .bss = 1 };
	return region_add_full(&r);
}

/* Gives the resident pages of [addr, addr+len) back to the pool; the
 * region stays, so a later touch finds a fresh zeroed page. */
void mm_discard(uint64_t addr, uint64_t len)
{
	release_range(addr & ~(PAGE - 1), (addr + len + PAGE - 1) & ~(PAGE - 1));
}
