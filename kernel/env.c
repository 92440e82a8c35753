/*
 * Environments: an address space (its own PML4, whose upper half is the
 * kernel's), a capability table, and a quota of kernel memory.  Every run
 * of pages a user maps is recorded twice: in the env's hash of mappings (to
 * find it by address, through the page's PTE) and on the frame cap it was
 * mapped through (so deleting or revoking that cap unmaps it everywhere at
 * once).
 */
#include "kernel/env.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/futex.h"
#include "kernel/heap.h"
#include "kernel/percpu.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/vm.h"

void loader_env_ended(struct env *e);

#define MAPS_PER_PAGE (PAGE_SIZE / 64)	/* struct mapping fits 64 bytes */
_Static_assert(sizeof(struct mapping) <= 64, "mapping record");

static uint64_t next_env_id = 1;
static struct env *all_envs;
uint8_t *tss_iobitmap(void);
void tss_set_iobitmap(int enabled);

int env_charge(struct env *e, uint64_t pages)
{
	if (e->used_pages + pages > e->quota_pages)
		return -EXO_ENOMEM;
	e->used_pages += pages;
	if (e->used_pages > e->peak_pages)
		e->peak_pages = e->used_pages;
	return 0;
}

void env_uncharge(struct env *e, uint64_t pages)
{
	e->used_pages -= pages;
}

/* A zeroed page charged to e, or 0. */
static uint64_t env_page(struct env *e)
{
	if (env_charge(e, 1))
		return 0;
	uint64_t pa = page_alloc_zeroed();
	if (!pa)
		env_uncharge(e, 1);
	return pa;
}

static void env_page_free(struct env *e, uint64_t pa)
{
	frame_free(&kframes, pa);
	env_uncharge(e, 1);
}

uint64_t env_fixed_pages(void)
{
	return kheap_pages(sizeof(struct env)) + kheap_pages(CAP_SLOTS * sizeof(struct cap)) +
	       kheap_pages(MAP_BUCKETS * sizeof(struct mapping *)) + 1;
}

/*
 * Envs whose parts are clean again, kept for the next env_create: the cap
 * table (40 KiB) and the mapping hash all zero, the PML4's user half
 * empty.  A teardown leaves them so (env_kill deletes every cap and record
 * and frees the user tables), so taking one allocates and zeroes nothing;
 * before, the cap table's contiguous allocation and zeroing were most of
 * ENV_CREATE.  Bounded: at most ENV_SPARES * env_fixed_pages() pages of
 * kernel memory wait here.
 */
#define ENV_SPARES 4
static struct env *spare_envs[ENV_SPARES];
static int nspare_envs;

static int eight_empty(const uint64_t *table, int i);

/* Whether the freed env e is clean enough to be handed out again. */
static int env_clean(const struct env *e)
{
	const uint64_t *u = phys_to_virt(e->pml4_pa);

	if (e->nmappings || e->ntables)
		return 0;
	for (int i = 0; i < e->cap_top; i++)
		if (e->caps[i].type != EXO_CAP_NONE)
			return 0;
	for (int i = 0; i < 256; i += 8)
		if (!eight_empty(u, i))
			return 0;
	return 1;
}

/* A zeroed env with its cap table, mapping hash and PML4 (user half
 * empty): a spare, or new; NULL when kernel memory ran out. */
static struct env *env_shell(void)
{
	if (nspare_envs) {
		struct env *e = spare_envs[--nspare_envs];
		*e = (struct env){ .caps = e->caps, .maps = e->maps, .pml4_pa = e->pml4_pa };
		return e;
	}
	struct env *e = kzalloc(sizeof *e);
	struct cap *caps = kzalloc(CAP_SLOTS * sizeof(struct cap));
	struct mapping **maps = kzalloc(MAP_BUCKETS * sizeof(void *));
	uint64_t pml4 = page_alloc_zeroed();
	if (!e || !caps || !maps || !pml4) {
		kfree(e); kfree(caps); kfree(maps);
		if (pml4)
			frame_free(&kframes, pml4);
		return NULL;
	}
	e->caps = caps;
	e->maps = maps;
	e->pml4_pa = pml4;
	return e;
}

/* Frees the parts of e, whose last reference went, or keeps them as a
 * spare when they are clean (checked: a teardown that left anything
 * behind frees them instead). */
static void env_shell_free(struct env *e)
{
	if (nspare_envs < ENV_SPARES && env_clean(e)) {
		spare_envs[nspare_envs++] = e;
		return;
	}
	frame_free(&kframes, e->pml4_pa);
	kfree(e->caps);
	kfree(e->maps);
	kfree(e);
}

struct env *env_create(struct cap *src, uint64_t quota_pages, int *err)
{
	/* the env struct, cap table, mapping hash and PML4 come out of the quota */
	uint64_t fixed = env_fixed_pages();
	if (quota_pages < fixed + 8) {
		*err = -EXO_EINVAL;
		return NULL;
	}
	if (src && src->count < quota_pages) {
		*err = -EXO_ENOMEM;
		return NULL;
	}
	struct env *e = env_shell();
	if (!e) {
		*err = -EXO_ENOMEM;
		return NULL;
	}
	if (src)
		src->count -= quota_pages;
	e->id = next_env_id++;
	e->refs = 1;
	e->quota_pages = quota_pages;
	e->used_pages = e->peak_pages = fixed;
	e->quota_source = src;
	/* share the kernel half */
	uint64_t *k = phys_to_virt(read_cr3() & PTE_ADDR), *u = phys_to_virt(e->pml4_pa);
	memcpy(u + 256, k + 256, 256 * sizeof *u);
	e->next_all = all_envs;
	all_envs = e;
	return e;
}

static uint64_t prot_to_pte(uint32_t prot)
{
	uint64_t f = PTE_P | PTE_U;

	if (prot & EXO_PROT_WRITE)
		f |= PTE_W;
	if (!(prot & EXO_PROT_EXEC) && cpu.nx)
		f |= PTE_NX;
	return f;
}

/* The PTE slot for va in e, creating page tables (charged to e) when
 * create is set; NULL when absent or out of quota. */
static uint64_t *pte_slot(struct env *e, uint64_t va, int create)
{
	uint64_t *table = phys_to_virt(e->pml4_pa);

	for (int level = 4; level > 1; level--) {
		uint64_t *ent = &table[(va >> (12 + 9 * (level - 1))) & 511];
		if (!(*ent & PTE_P)) {
			if (!create)
				return NULL;
			uint64_t pa = env_page(e);
			if (!pa)
				return NULL;
			*ent = pa | PTE_P | PTE_W | PTE_U;
			if (e->ntables < ENV_TABLES_LISTED)
				e->tables[e->ntables] = pa;
			e->ntables++;
		}
		table = phys_to_virt(*ent & PTE_ADDR);
	}
	return &table[(va >> 12) & 511];
}

uint64_t env_pte(struct env *e, uint64_t va)
{
	uint64_t *p = va < EXO_USER_TOP ? pte_slot(e, va, 0) : NULL;
	return p ? *p : 0;
}

/* The masks may change before CR3 does: every other reader of them holds
 * the kernel lock, or is a request the lock holder waits for.  Calls only
 * for the kernel's own tables, last: a switch between envs (every switch
 * of a ping-pong) saves no registers. */
void env_load_address_space(struct env *e)
{
	struct percpu *c = this_cpu();
	uint64_t me = 1ull << c->id;

	if (c->loaded_env)
		__atomic_fetch_and(&c->loaded_env->loaded_on, ~me, __ATOMIC_RELEASE);
	c->loaded_env = e;
	if (!e) {
		write_cr3(vm_kernel_pml4());
		return;
	}
	__atomic_fetch_or(&e->loaded_on, me, __ATOMIC_RELEASE);
	write_cr3(e->pml4_pa);
}

/*
 * Mapping records.  A record covers a run of pages in a row of one env,
 * mapped through one cap (or none: a kernel page), within one leaf page
 * table (a 2 MiB-aligned span), and every page of it is present.  Each
 * present user PTE carries, in bits the MMU ignores, its page's index in
 * its record, so the record of a page is found from its PTE: the record
 * starting index pages below is looked up in the env's hash, keyed on a
 * record's first page.  The page protection lives in the PTEs only.
 */
#define SPAN_PAGES 512ull		/* pages one leaf table maps */
#define PTE_RUN_MASK ((0x7full << 52) | (3ull << 9))
_Static_assert(SPAN_PAGES <= 512, "a record's index fits 9 PTE bits");

/* The PTE bits that say a page is index pages into its record. */
static uint64_t run_bits(uint64_t index)
{
	return ((index & 0x7f) << 52) | ((index >> 7) << 9);
}

static uint64_t run_index(uint64_t pte)
{
	return ((pte >> 52) & 0x7f) | (((pte >> 9) & 3) << 7);
}

/* The end of the leaf table's span that va lies in. */
static uint64_t span_end(uint64_t va)
{
	return (va | (SPAN_PAGES * PAGE_SIZE - 1)) + 1;
}

static uint64_t record_end(const struct mapping *m)
{
	return m->va + m->pages * PAGE_SIZE;
}

/* Records start at 2 MiB boundaries as often as not (a run is cut at
 * each leaf table), so the 2 MiB number is mixed in: on the page number
 * alone, the shared segment's 60 chunks all hashed to one chain. */
static struct mapping **bucket(struct env *e, uint64_t va)
{
	return &e->maps[((va >> 12) ^ (va >> 21)) % MAP_BUCKETS];
}

/* The record whose first page is va. */
static struct mapping *record_at(struct env *e, uint64_t va)
{
	for (struct mapping *m = *bucket(e, va); m; m = m->hash_next)
		if (m->va == va)
			return m;
	panic("vm: env %lu maps %lx without its record", e->id, va);
}

/* The record covering va, whose PTE is at pte. */
static struct mapping *record_of(struct env *e, uint64_t va, uint64_t pte)
{
	return record_at(e, va - run_index(pte) * PAGE_SIZE);
}

/* The record covering va in e, or NULL when va is not mapped. */
static struct mapping *find_mapping(struct env *e, uint64_t va)
{
	uint64_t *pte = pte_slot(e, va, 0);

	return pte && (*pte & PTE_P) ? record_of(e, va, *pte) : NULL;
}

struct mapping *env_mapping_at(struct env *e, uint64_t va)
{
	return va < EXO_USER_TOP && va % PAGE_SIZE == 0 ? find_mapping(e, va) : NULL;
}

/*
 * The next piece of [*at, end) that one record maps: *at moves to its
 * first page, *ptep to that page's PTE and *hi past its last page (within
 * the record, one leaf table and end); the record, or NULL when no page
 * is left mapped.  Absent page tables are skipped a span at a time.
 */
static struct mapping *next_piece(struct env *e, uint64_t *at, uint64_t end, uint64_t **ptep,
				  uint64_t *hi)
{
	while (*at < end) {
		uint64_t stop = span_end(*at) < end ? span_end(*at) : end;
		uint64_t *pte = pte_slot(e, *at, 0);
		for (; pte && *at < stop; *at += PAGE_SIZE, pte++) {
			if (!(*pte & PTE_P))
				continue;
			struct mapping *m = record_of(e, *at, *pte);
			*hi = record_end(m) < stop ? record_end(m) : stop;
			*ptep = pte;
			return m;
		}
		*at = stop;
	}
	return NULL;
}

/* Pages that records per page of quota take for n records. */
static uint64_t record_pages(uint64_t n)
{
	return (n + MAPS_PER_PAGE - 1) / MAPS_PER_PAGE;
}

/* Returns what e's records no longer need of their charge. */
static void records_settle(struct env *e)
{
	uint64_t want = record_pages(e->nmappings);

	if (want < e->map_charged) {
		env_uncharge(e, e->map_charged - want);
		e->map_charged = want;
	}
}

/* Frees the records left in list and settles e's charge. */
static void spares_free(struct env *e, struct mapping *list)
{
	while (list) {
		struct mapping *m = list;
		list = m->hash_next;
		kfree(m);
	}
	records_settle(e);
}

/* n new records for e, chained through hash_next, charged first (as if
 * all were added to the records e has); 0, or -ENOMEM having changed
 * nothing. */
static int spares_take(struct env *e, uint64_t n, struct mapping **list)
{
	uint64_t need = record_pages(e->nmappings + n);

	*list = NULL;
	if (need > e->map_charged) {
		if (env_charge(e, need - e->map_charged))
			return -EXO_ENOMEM;
		e->map_charged = need;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct mapping *m = kzalloc(sizeof *m);
		if (!m) {
			spares_free(e, *list);
			return -EXO_ENOMEM;
		}
		m->hash_next = *list;
		*list = m;
	}
	return 0;
}

static struct mapping *spare_pop(struct mapping **list)
{
	struct mapping *m = *list;

	*list = m->hash_next;
	return m;
}

/* Links m onto the list of the cap it was mapped through. */
static void cap_maps_link(struct mapping *m, struct cap *cap)
{
	m->cap = cap;
	m->cap_prev = NULL;
	m->cap_next = cap ? cap->maps : NULL;
	if (cap) {
		if (cap->maps)
			cap->maps->cap_prev = m;
		cap->maps = m;
	}
}

static void cap_maps_unlink(struct mapping *m)
{
	if (!m->cap)
		return;
	if (m->cap->maps == m)
		m->cap->maps = m->cap_next;
	if (m->cap_prev)
		m->cap_prev->cap_next = m->cap_next;
	if (m->cap_next)
		m->cap_next->cap_prev = m->cap_prev;
	m->cap = NULL;
}

static void hash_link(struct env *e, struct mapping *m)
{
	m->hash_next = *bucket(e, m->va);
	*bucket(e, m->va) = m;
}

static void hash_unlink(struct env *e, struct mapping *m)
{
	for (struct mapping **pp = bucket(e, m->va); *pp; pp = &(*pp)->hash_next)
		if (*pp == m) {
			*pp = m->hash_next;
			return;
		}
}

/* Makes m (taken from the spares) the record of pages pages at va of e
 * through cap; their PTEs are the caller's. */
static void record_link(struct env *e, struct mapping *m, uint64_t va, uint64_t pages, struct cap *cap)
{
	*m = (struct mapping){ .env = e, .va = va, .pages = pages };
	hash_link(e, m);
	cap_maps_link(m, cap);
	e->nmappings++;
}

/* Frees record m (its PTEs are the caller's; its charge is settled by
 * the caller). */
static void record_free(struct mapping *m)
{
	hash_unlink(m->env, m);
	cap_maps_unlink(m);
	m->env->nmappings--;
	kfree(m);
}

/* Writes each of m's PTEs its index in m. */
static void record_number(struct mapping *m)
{
	uint64_t *pte = pte_slot(m->env, m->va, 0);

	for (uint64_t i = 0; i < m->pages; i++)
		pte[i] = (pte[i] & ~PTE_RUN_MASK) | run_bits(i);
}

/*
 * Takes [lo, hi) out of record m (which covers it): m shrinks, moves up,
 * goes, or splits in two, the upper part taking a record from spares.
 * The PTEs of [lo, hi) are the caller's to clear or replace.
 */
static void record_cut(struct mapping *m, uint64_t lo, uint64_t hi, struct mapping **spares)
{
	struct env *e = m->env;
	uint64_t a = m->va, b = record_end(m);

	if (lo == a && hi == b) {
		record_free(m);
	} else if (lo == a) {
		hash_unlink(e, m);
		m->va = hi;
		m->pages = (b - hi) / PAGE_SIZE;
		hash_link(e, m);
		record_number(m);
	} else {
		m->pages = (lo - a) / PAGE_SIZE;
		if (hi < b) {
			struct mapping *up = spare_pop(spares);
			record_link(e, up, hi, (b - hi) / PAGE_SIZE, m->cap);
			record_number(up);
		}
	}
}

/* Whether changing [va, end) of e splits a record in two (one record
 * maps pages on both sides of it): at most one can. */
static int splits_record(struct env *e, uint64_t va, uint64_t end)
{
	struct mapping *m = find_mapping(e, va);

	return m && m->va < va && record_end(m) > end;
}

/*
 * Pages whose translations changed and are still to be flushed, of one env:
 * a call that changes many pages flushes them with one request per CPU
 * (one IPI round) before it returns, instead of one round per page.
 */
struct flush_batch {
	struct env *e;
	uint64_t lo, hi;		/* the span of the pages; hi == 0: none */
};

/* Flushes the batch's span on every CPU with its env loaded, and empties it. */
static void batch_flush(struct flush_batch *b)
{
	if (b->hi)
		smp_flush_range(b->e, b->lo, (b->hi - b->lo) / PAGE_SIZE);
	b->hi = 0;
}

/* Adds pages [lo, hi) of e to the batch (flushing it first when it holds
 * another env's). */
static void batch_add(struct flush_batch *b, struct env *e, uint64_t lo, uint64_t hi)
{
	if (b->hi && b->e != e)
		batch_flush(b);
	if (!b->hi) {
		*b = (struct flush_batch){ e, lo, hi };
		return;
	}
	if (lo < b->lo)
		b->lo = lo;
	if (hi > b->hi)
		b->hi = hi;
}

/* Clears the PTEs of [lo, hi) of e from pte on, waking futex waiters on
 * them, and adds them to the batch. */
static void clear_ptes(struct env *e, uint64_t *pte, uint64_t lo, uint64_t hi, struct flush_batch *b)
{
	for (uint64_t va = lo; va < hi; va += PAGE_SIZE, pte++) {
		futex_unmapped(e, va, *pte & PTE_ADDR);
		*pte = 0;
	}
	batch_add(b, e, lo, hi);
}

/* Unmaps every page mapped in [va, end) of e, one piece of a record at a
 * time, taking a record from spares for a split; 1 when one was mapped. */
static int unmap_range(struct env *e, uint64_t va, uint64_t end, struct mapping **spares,
		       struct flush_batch *b)
{
	uint64_t at = va, hi, *pte;
	struct mapping *m;
	int found = 0;

	while ((m = next_piece(e, &at, end, &pte, &hi))) {
		uint64_t lo = at;
		clear_ptes(e, pte, lo, hi, b);
		record_cut(m, lo, hi, spares);
		at = hi;
		found = 1;
	}
	return found;
}

void env_unmap_cap(struct cap *c)
{
	struct flush_batch b = { 0 };

	while (c->maps) {
		struct mapping *m = c->maps;
		struct env *e = m->env;
		clear_ptes(e, pte_slot(e, m->va, 0), m->va, record_end(m), &b);
		record_free(m);
		records_settle(e);
	}
	batch_flush(&b);
}

/* Records pages frames from pa on at [va, end) of e (within one leaf
 * table, whose PTEs are at pte) through cap, replacing whatever mapped
 * them; a page whose frame changes wakes its futex waiters. */
static void map_span(struct env *e, uint64_t va, uint64_t end, uint64_t pa, uint32_t prot,
		     struct cap *cap, struct mapping **spares)
{
	uint64_t at = va, hi, *pte;
	struct mapping *m;

	while ((m = next_piece(e, &at, end, &pte, &hi))) {
		uint64_t lo = at;
		for (; at < hi; at += PAGE_SIZE, pte++)
			if ((*pte & PTE_ADDR) != pa + (at - va))
				futex_unmapped(e, at, *pte & PTE_ADDR);
		record_cut(m, lo, hi, spares);
	}
	pte = pte_slot(e, va, 0);
	for (uint64_t i = 0; i < (end - va) / PAGE_SIZE; i++)
		pte[i] = (pa + i * PAGE_SIZE) | prot_to_pte(prot) | run_bits(i);
	record_link(e, spare_pop(spares), va, (end - va) / PAGE_SIZE, cap);
}

/*
 * Maps pages frames from pa on at va on, all through cap: one record per
 * leaf table the run touches.  Whatever can run out (the records' quota,
 * kernel memory for records and page tables) is taken for the whole run
 * before any page changes, so -ENOMEM leaves every page of the range as
 * it was (page tables made stay); then the pages are mapped, replacing
 * (and cutting) the records that mapped them, and flushed in one round.
 */
int env_map_run(struct env *e, uint64_t va, uint64_t pa, uint64_t pages, uint32_t prot, struct cap *cap)
{
	if (va % PAGE_SIZE || va >= EXO_USER_MAP_END || pages == 0 ||
	    pages > (EXO_USER_MAP_END - va) / PAGE_SIZE || prot & ~7u ||
	    ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC)))
		return -EXO_EINVAL;
	uint64_t end = va + pages * PAGE_SIZE;
	uint64_t spans = ((end - 1) >> 21) - (va >> 21) + 1;
	struct mapping *spares;
	if (spares_take(e, spans + (uint64_t)splits_record(e, va, end), &spares))
		return -EXO_ENOMEM;
	for (uint64_t at = va; at < end; at = span_end(at))
		if (!pte_slot(e, at, 1)) {
			spares_free(e, spares);
			return -EXO_ENOMEM;
		}
	struct flush_batch b = { 0 };
	for (uint64_t at = va; at < end; at = span_end(at)) {
		uint64_t stop = span_end(at) < end ? span_end(at) : end;
		map_span(e, at, stop, pa + (at - va), prot, cap, &spares);
	}
	batch_add(&b, e, va, end);
	batch_flush(&b);
	spares_free(e, spares);
	return 0;
}

int env_map(struct env *e, uint64_t va, uint64_t pa, uint32_t prot, struct cap *cap)
{
	return env_map_run(e, va, pa, 1, prot, cap);
}

/* Whether [va, va + pages pages) is a valid range of user pages to change. */
static int range_ok(uint64_t va, uint64_t pages)
{
	return va % PAGE_SIZE == 0 && va < EXO_USER_TOP && pages >= 1 &&
	       pages <= EXO_PAGE_RANGE_MAX && pages <= (EXO_USER_TOP - va) / PAGE_SIZE;
}

/* Unmapping part of a record splits it when the range lies strictly
 * inside: the new record is taken (and charged) first, so -ENOMEM leaves
 * everything as it was. */
int env_unmap(struct env *e, uint64_t va, uint64_t pages)
{
	struct flush_batch b = { 0 };
	struct mapping *spares;

	if (!range_ok(va, pages))
		return -EXO_EINVAL;
	uint64_t end = va + pages * PAGE_SIZE;
	if (spares_take(e, (uint64_t)splits_record(e, va, end), &spares))
		return -EXO_ENOMEM;
	int found = unmap_range(e, va, end, &spares, &b);
	batch_flush(&b);
	spares_free(e, spares);
	return found ? 0 : -EXO_ENOENT;
}

/* Whether mapping m may get prot: kernel pages (kinfo, start info) stay
 * read-only, since every env shares them, and no page gets more than the
 * cap it was mapped through allows. */
static int protect_allowed(const struct mapping *m, uint32_t prot)
{
	uint32_t need = (prot & EXO_PROT_READ ? EXO_R_READ : 0) |
			(prot & EXO_PROT_WRITE ? EXO_R_WRITE : 0) |
			(prot & EXO_PROT_EXEC ? EXO_R_EXEC : 0);

	if (!m->cap)
		return prot == EXO_PROT_READ;
	return (m->cap->rights & need) == need;
}

/* The protection is the PTEs', not the records': changing it for part of
 * a record changes no record and allocates nothing. */
int env_protect(struct env *e, uint64_t va, uint32_t prot, uint64_t pages)
{
	struct flush_batch b = { 0 };
	uint64_t at, hi, *pte;
	struct mapping *m;
	int found = 0;

	if (!range_ok(va, pages) || prot & ~7u || ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC)))
		return -EXO_EINVAL;
	uint64_t end = va + pages * PAGE_SIZE;
	/* decode every page first: a refusal leaves the whole range as it was */
	for (at = va; (m = next_piece(e, &at, end, &pte, &hi)); at = hi) {
		if (!protect_allowed(m, prot))
			return -EXO_EACCES;
		found = 1;
	}
	if (!found)
		return -EXO_ENOENT;
	for (at = va; next_piece(e, &at, end, &pte, &hi);) {
		uint64_t lo = at;
		for (; at < hi; at += PAGE_SIZE, pte++)
			*pte = (*pte & (PTE_ADDR | PTE_RUN_MASK)) | prot_to_pte(prot);
		batch_add(&b, e, lo, hi);
	}
	batch_flush(&b);
	return 0;
}

/* Whether the 8 entries of table from i on are all empty: a user table
 * entry is either present or 0, so absent ones are skipped 8 at a time. */
static int eight_empty(const uint64_t *table, int i)
{
	return !(table[i] | table[i + 1] | table[i + 2] | table[i + 3] | table[i + 4] | table[i + 5] |
		 table[i + 6] | table[i + 7]);
}

/* Frees the user page tables below e's PML4 and empties its user half:
 * those it listed as it made them, without a walk (which took about a
 * thousand instructions a table, most of them skipping empty entries),
 * else by a walk (no recursion: the three lower levels are walked with
 * nested loops). */
static void free_user_tables(struct env *e)
{
	uint64_t *pml4 = phys_to_virt(e->pml4_pa);

	if (e->ntables <= ENV_TABLES_LISTED) {
		for (int i = 0; i < e->ntables; i++)
			env_page_free(e, e->tables[i]);
		memset(pml4, 0, 256 * sizeof *pml4);
		e->ntables = 0;
		return;
	}
	e->ntables = 0;
	for (int i = 0; i < 256; i++) {
		if (!(pml4[i] & PTE_P))
			continue;
		uint64_t *pdpt = phys_to_virt(pml4[i] & PTE_ADDR);
		for (int j = 0; j < 512; j++) {
			if (j % 8 == 0 && eight_empty(pdpt, j)) {
				j += 7;
				continue;
			}
			if (!(pdpt[j] & PTE_P))
				continue;
			uint64_t *pd = phys_to_virt(pdpt[j] & PTE_ADDR);
			for (int k = 0; k < 512; k++) {
				if (k % 8 == 0 && eight_empty(pd, k))
					k += 7;
				else if (pd[k] & PTE_P)
					env_page_free(e, pd[k] & PTE_ADDR);
			}
			env_page_free(e, pdpt[j] & PTE_ADDR);
		}
		env_page_free(e, pml4[i] & PTE_ADDR);
		pml4[i] = 0;
	}
}

/*
 * Frees every mapping record of e, which no CPU has loaded any more and
 * whose threads are all dead (so none waits on a futex through its pages):
 * its page tables go whole right after, so no PTE is cleared and no TLB
 * flushed, and the records are taken off their caps' lists before those
 * caps are deleted (each delete then finds only other envs' pages to
 * unmap).  One record per run, not per page.
 */
static void drop_all_mappings(struct env *e)
{
	uint64_t left = e->nmappings;	/* the buckets after the last record are empty */

	for (int b = 0; left && b < MAP_BUCKETS; b++) {
		if (b % 8 == 0 && !(e->maps[b] || e->maps[b + 1] || e->maps[b + 2] || e->maps[b + 3] ||
				    e->maps[b + 4] || e->maps[b + 5] || e->maps[b + 6] || e->maps[b + 7])) {
			b += 7;		/* eight empty buckets */
			continue;
		}
		struct mapping *m = e->maps[b];
		e->maps[b] = NULL;
		for (; m; left--) {
			struct mapping *next = m->hash_next;
			cap_maps_unlink(m);
			kfree(m);
			m = next;
		}
	}
	env_uncharge(e, e->map_charged);
	e->map_charged = 0;
	e->nmappings = 0;
}

void env_kill(struct env *e, uint64_t status)
{
	if (e->state == ENV_DEAD)
		return;
	e->state = ENV_DEAD;
	e->status = status;
	for (struct thread *t = e->threads; t; t = t->env_next)
		thread_kill(t);
	/* no CPU may run on page tables that are being freed, nor keep e's
	 * ports: each leaves e now, once, and none loads it again (only the
	 * scheduler loads an env, for a live thread).  Left until after the
	 * unmapping, every page unmapped cost an IPI round trip to a CPU
	 * where one of e's threads waited for the kernel lock: killing a
	 * process on -smp 4 took minutes under TCG. */
	smp_leave(e);
	drop_all_mappings(e);
	free_user_tables(e);
	for (int i = 0; i < e->cap_top; i++)
		if (e->caps[i].type != EXO_CAP_NONE)
			cap_delete(&e->caps[i]);
	if (e->iobitmap) {
		kfree(e->iobitmap);
		e->iobitmap = NULL;
		for (int i = 0; i < ncpus; i++)
			if (percpus[i].iobitmap_loaded == e)
				percpus[i].iobitmap_loaded = NULL;
		if (current && current->env == e)
			tss_set_iobitmap(0);
	}
	if (e->watch) {
		notify_signal(e->watch, e->watch_badge);
		notify_put(e->watch);
		e->watch = NULL;
	}
	klog(LOG_DEBUG, "env %lu ended with status %#lx\n", e->id, status);
	loader_env_ended(e);
	env_put(e);
}

/* Envs nobody outside holds a cap to any more, waiting to be killed. */
static struct env *orphans;
/* An env cap went while its env still has others: maybe a cycle is left
 * that nothing outside it reaches. */
static int cycles_possible;
int env_reap_due;

void env_put(struct env *e)
{
	if (e->refs > 2 && e->state != ENV_DEAD)
		cycles_possible = env_reap_due = 1;
	if (--e->refs == 1 && e->state != ENV_DEAD && e->id != 1) {
		/* only its own life keeps it: nobody can reach it, so it ends
		 * (from env_reap_orphans: no recursion through nested kills) */
		if (!e->orphaned) {
			e->orphaned = 1;
			e->next_orphan = orphans;
			orphans = e;
			e->refs++;
			env_reap_due = 1;
		}
		return;
	}
	if (e->refs > 0)
		return;
	/* give the quota back to the memory it came from (if that cap is
	 * still the one it was: a deleted cap has type NONE) */
	if (e->quota_source)
		mem_source(e->quota_source)->count += e->quota_pages;
	for (struct env **pp = &all_envs; *pp; pp = &(*pp)->next_all)
		if (*pp == e) {
			*pp = e->next_all;
			break;
		}
	env_shell_free(e);
}

void env_quota_source_gone(struct cap *gone, struct cap *heir)
{
	for (struct env *e = all_envs; e; e = e->next_all)
		if (e->quota_source == gone)
			e->quota_source = heir;
}

/*
 * Envs that hold caps to each other but that no chain of env caps from the
 * first program reaches can never be used again: mark what the first
 * program reaches, then list the rest as orphans.  O(envs * CAP_SLOTS),
 * run only after an env cap went while its env kept others.
 */
static void collect_cycles(void)
{
	struct env *root = NULL, *work = NULL;

	cycles_possible = 0;
	for (struct env *e = all_envs; e; e = e->next_all) {
		e->marked = 0;
		if (e->id == 1 && e->state != ENV_DEAD)
			root = e;
	}
	if (!root)
		return;
	root->marked = 1;
	root->mark_next = NULL;
	work = root;
	while (work) {
		struct env *e = work;
		work = e->mark_next;
		for (int i = 0; i < e->cap_top; i++) {
			struct cap *c = &e->caps[i];
			struct env *t = c->type == EXO_CAP_ENV ? c->obj : NULL;
			if (t && !t->marked) {
				t->marked = 1;
				t->mark_next = work;
				work = t;
			}
		}
	}
	for (struct env *e = all_envs; e; e = e->next_all)
		if (!e->marked && e->state != ENV_DEAD && !e->orphaned) {
			e->orphaned = 1;
			e->refs++;		/* the list's reference */
			e->next_orphan = orphans;
			orphans = e;
		}
}

void env_reap_orphans_now(void)
{
	for (;;) {
		/* killing an orphan may strand others, in a cycle or not */
		if (!orphans && cycles_possible)
			collect_cycles();
		if (!orphans) {
			env_reap_due = 0;	/* collect_cycles cleared cycles_possible */
			return;
		}
		struct env *e = orphans;
		orphans = e->next_orphan;
		env_kill(e, EXO_STATUS_SIGNALED(9));
		env_put(e);		/* the reference taken when it was listed */
	}
}

struct env *env_list(void)
{
	return all_envs;
}

/* e's bitmap changed: every CPU reloads it before e runs there again, and
 * those running e now reload it at once. */
static void ioports_changed(struct env *e)
{
	for (int i = 0; i < ncpus; i++)
		if (percpus[i].iobitmap_loaded == e)
			percpus[i].iobitmap_loaded = NULL;
	if (current && current->env == e)
		env_load_ioports(e);
	smp_reload_ioports(e);
}

int env_ioport_enable(struct env *e, uint64_t first, uint64_t count)
{
	if (!e->iobitmap) {
		if (env_charge(e, 3))
			return -EXO_ENOMEM;
		e->iobitmap = kmalloc(8192);
		if (!e->iobitmap) {
			env_uncharge(e, 3);
			return -EXO_ENOMEM;
		}
		memset(e->iobitmap, 0xff, 8192);
	}
	for (uint64_t p = first; p < first + count; p++)
		e->iobitmap[p / 8] &= (uint8_t)~(1u << (p % 8));
	if (count) {
		uint32_t lo = (uint32_t)(first / 8), hi = (uint32_t)((first + count - 1) / 8 + 1);
		if (e->io_lo == e->io_hi || lo < e->io_lo)
			e->io_lo = lo;
		if (hi > e->io_hi)
			e->io_hi = hi;
	}
	ioports_changed(e);
	return 0;
}

void env_ioport_disable(struct env *e, uint64_t first, uint64_t count)
{
	if (!e->iobitmap)
		return;
	for (uint64_t p = first; p < first + count && p < 65536; p++)
		e->iobitmap[p / 8] |= (uint8_t)(1u << (p % 8));
	ioports_changed(e);
}

void env_load_ioports(struct env *e)
{
	struct percpu *c = this_cpu();

	if (!e->iobitmap) {
		tss_set_iobitmap(0);
		return;
	}
	if (c->iobitmap_loaded != e) {
		/* only the bytes that allow a port differ from all ones: a
		 * switch between two envs with a few ports each copies those,
		 * not 8 KiB (1,024 instructions a switch under -icount) */
		uint8_t *b = tss_iobitmap();
		memset(b + c->io_lo, 0xff, c->io_hi - c->io_lo);
		memcpy(b + e->io_lo, e->iobitmap + e->io_lo, e->io_hi - e->io_lo);
		c->io_lo = e->io_lo;
		c->io_hi = e->io_hi;
		c->iobitmap_loaded = e;
	}
	tss_set_iobitmap(1);
}
