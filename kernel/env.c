/*
 * Environments: an address space (its own PML4, whose upper half is the
 * kernel's), a capability table, and a quota of kernel memory.  Every page a
 * user maps is recorded twice: in the env's hash of mappings (to find it by
 * address) and on the frame cap it was mapped through (so deleting or
 * revoking that cap unmaps it everywhere at once).
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
	struct env *e = kzalloc(sizeof *e);
	struct cap *caps = kzalloc(CAP_SLOTS * sizeof(struct cap));
	struct mapping **maps = kzalloc(MAP_BUCKETS * sizeof(void *));
	uint64_t pml4 = page_alloc_zeroed();
	if (!e || !caps || !maps || !pml4) {
		kfree(e); kfree(caps); kfree(maps);
		if (pml4)
			frame_free(&kframes, pml4);
		*err = -EXO_ENOMEM;
		return NULL;
	}
	if (src)
		src->count -= quota_pages;
	e->id = next_env_id++;
	e->refs = 1;
	e->caps = caps;
	e->maps = maps;
	e->pml4_pa = pml4;
	e->quota_pages = quota_pages;
	e->used_pages = e->peak_pages = fixed;
	e->quota_source = src;
	/* share the kernel half */
	uint64_t *k = phys_to_virt(read_cr3() & PTE_ADDR), *u = phys_to_virt(pml4);
	for (int i = 256; i < 512; i++)
		u[i] = k[i];
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

static struct mapping **bucket(struct env *e, uint64_t va)
{
	return &e->maps[(va >> 12) % MAP_BUCKETS];
}

static struct mapping *find_mapping(struct env *e, uint64_t va)
{
	for (struct mapping *m = *bucket(e, va); m; m = m->hash_next)
		if (m->va == va)
			return m;
	return NULL;
}

/* Drops va of e from every CPU's TLB. */
static void flush(struct env *e, uint64_t va)
{
	smp_flush(e, va);
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

/* Points mapping m (at va, its pte at pte) at frame pa through cap. */
static void remap(struct env *e, struct mapping *m, uint64_t *pte, uint64_t pa, uint32_t prot,
		  struct cap *cap)
{
	if ((*pte & PTE_ADDR) != pa)
		futex_unmapped(e, m->va, *pte & PTE_ADDR);
	cap_maps_unlink(m);
	cap_maps_link(m, cap);
	*pte = pa | prot_to_pte(prot);
}

/* Hangs the new record m for va (its pte at pte) on e. */
static void link_new(struct env *e, struct mapping *m, uint64_t va, uint64_t *pte, uint64_t pa,
		     uint32_t prot, struct cap *cap)
{
	e->nmappings++;
	*m = (struct mapping){ .env = e, .va = va };
	m->hash_next = *bucket(e, va);
	*bucket(e, va) = m;
	cap_maps_link(m, cap);
	*pte = pa | prot_to_pte(prot);
}

int env_map(struct env *e, uint64_t va, uint64_t pa, uint32_t prot, struct cap *cap)
{
	if (va % PAGE_SIZE || va >= EXO_USER_MAP_END || prot & ~7u ||
	    ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC)))
		return -EXO_EINVAL;
	struct mapping *m = find_mapping(e, va);
	if (m) {
		/* replacing a page: the record and page tables are already paid */
		remap(e, m, pte_slot(e, va, 0), pa, prot, cap);
		flush(e, va);
		return 0;
	}
	/* records are charged a page per MAPS_PER_PAGE */
	int new_page = e->nmappings % MAPS_PER_PAGE == 0;
	if (new_page && env_charge(e, 1))
		return -EXO_ENOMEM;
	m = kzalloc(sizeof *m);
	uint64_t *pte = m ? pte_slot(e, va, 1) : NULL;
	if (!pte) {
		kfree(m);
		if (new_page)
			env_uncharge(e, 1);
		return -EXO_ENOMEM;
	}
	link_new(e, m, va, pte, pa, prot, cap);
	flush(e, va);
	return 0;
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

/* Adds page va of e to the batch (flushing it first when it holds another env's). */
static void batch_add(struct flush_batch *b, struct env *e, uint64_t va)
{
	if (b->hi && b->e != e)
		batch_flush(b);
	if (!b->hi) {
		*b = (struct flush_batch){ e, va, va + PAGE_SIZE };
		return;
	}
	if (va < b->lo)
		b->lo = va;
	if (va + PAGE_SIZE > b->hi)
		b->hi = va + PAGE_SIZE;
}

/* Drops mapping m; its page's flush is left in batch b, or done at once
 * without one. */
static void unmap_batched(struct mapping *m, struct flush_batch *b)
{
	struct env *e = m->env;
	uint64_t *pte = pte_slot(e, m->va, 0);

	if (pte) {
		futex_unmapped(e, m->va, *pte & PTE_ADDR);
		*pte = 0;
		if (b)
			batch_add(b, e, m->va);
		else
			flush(e, m->va);
	}
	for (struct mapping **pp = bucket(e, m->va); *pp; pp = &(*pp)->hash_next)
		if (*pp == m) {
			*pp = m->hash_next;
			break;
		}
	cap_maps_unlink(m);
	kfree(m);
	if (--e->nmappings % MAPS_PER_PAGE == 0)
		env_uncharge(e, 1);
}

void env_unmap_mapping(struct mapping *m)
{
	unmap_batched(m, NULL);
}

void env_unmap_cap(struct cap *c)
{
	struct flush_batch b = { 0 };

	while (c->maps)
		unmap_batched(c->maps, &b);
	batch_flush(&b);
}

/* Pages that records per page of quota take for n records. */
static uint64_t record_pages(uint64_t n)
{
	return (n + MAPS_PER_PAGE - 1) / MAPS_PER_PAGE;
}

/*
 * Maps pages frames from pa on at va on, all through cap.  Whatever can
 * run out (the records' quota, kernel memory for records and page tables)
 * is taken for the whole run before any page changes, so -ENOMEM leaves
 * every page of the range as it was (page tables made stay, as for one
 * page); then the pages are mapped and flushed in one round.
 */
int env_map_run(struct env *e, uint64_t va, uint64_t pa, uint64_t pages, uint32_t prot, struct cap *cap)
{
	if (pages == 1)
		return env_map(e, va, pa, prot, cap);
	if (va % PAGE_SIZE || va >= EXO_USER_MAP_END || pages == 0 ||
	    pages > (EXO_USER_MAP_END - va) / PAGE_SIZE || prot & ~7u ||
	    ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC)))
		return -EXO_EINVAL;
	uint64_t fresh = 0;
	for (uint64_t i = 0; i < pages; i++)
		fresh += find_mapping(e, va + i * PAGE_SIZE) == NULL;
	uint64_t charge = record_pages(e->nmappings + fresh) - record_pages(e->nmappings);
	if (charge && env_charge(e, charge))
		return -EXO_ENOMEM;
	struct mapping *spare = NULL;	/* a record for each fresh page, chained */
	int ok = 1;
	for (uint64_t i = 0; i < pages && ok; i++) {
		if (find_mapping(e, va + i * PAGE_SIZE))
			continue;
		struct mapping *m = kzalloc(sizeof *m);
		ok = m && pte_slot(e, va + i * PAGE_SIZE, 1);
		if (m) {
			m->hash_next = spare;
			spare = m;
		}
	}
	if (!ok) {
		while (spare) {
			struct mapping *m = spare;
			spare = m->hash_next;
			kfree(m);
		}
		if (charge)
			env_uncharge(e, charge);
		return -EXO_ENOMEM;
	}
	struct flush_batch b = { 0 };
	for (uint64_t i = 0; i < pages; i++) {
		uint64_t at = va + i * PAGE_SIZE, *pte = pte_slot(e, at, 0);
		struct mapping *m = find_mapping(e, at);
		if (m) {
			remap(e, m, pte, pa + i * PAGE_SIZE, prot, cap);
		} else {
			m = spare;
			spare = m->hash_next;
			link_new(e, m, at, pte, pa + i * PAGE_SIZE, prot, cap);
		}
		batch_add(&b, e, at);
	}
	batch_flush(&b);
	return 0;
}

/* Whether [va, va + pages pages) is a valid range of user pages to change. */
static int range_ok(uint64_t va, uint64_t pages)
{
	return va % PAGE_SIZE == 0 && va < EXO_USER_TOP && pages >= 1 &&
	       pages <= EXO_PAGE_RANGE_MAX && pages <= (EXO_USER_TOP - va) / PAGE_SIZE;
}

int env_unmap(struct env *e, uint64_t va, uint64_t pages)
{
	struct flush_batch b = { 0 };
	int found = 0;

	if (!range_ok(va, pages))
		return -EXO_EINVAL;
	if (pages == 1) {	/* the common case, without the batch's cost */
		struct mapping *m = find_mapping(e, va);
		if (!m)
			return -EXO_ENOENT;
		env_unmap_mapping(m);
		return 0;
	}
	for (uint64_t i = 0; i < pages; i++) {
		struct mapping *m = find_mapping(e, va + i * PAGE_SIZE);
		if (m) {
			unmap_batched(m, &b);
			found = 1;
		}
	}
	batch_flush(&b);
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

int env_protect(struct env *e, uint64_t va, uint32_t prot, uint64_t pages)
{
	struct flush_batch b = { 0 };
	int found = 0;

	if (!range_ok(va, pages) || prot & ~7u || ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC)))
		return -EXO_EINVAL;
	/* decode every page first: a refusal leaves the whole range as it was */
	for (uint64_t i = 0; i < pages; i++) {
		struct mapping *m = find_mapping(e, va + i * PAGE_SIZE);
		if (m && pte_slot(e, m->va, 0)) {
			if (!protect_allowed(m, prot))
				return -EXO_EACCES;
			found = 1;
		}
	}
	if (!found)
		return -EXO_ENOENT;
	for (uint64_t i = 0; i < pages; i++) {
		struct mapping *m = find_mapping(e, va + i * PAGE_SIZE);
		uint64_t *pte = m ? pte_slot(e, m->va, 0) : NULL;
		if (pte) {
			*pte = (*pte & PTE_ADDR) | prot_to_pte(prot);
			batch_add(&b, e, m->va);
		}
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

/* Frees the user page tables below level's table (no recursion: the three
 * lower levels are walked with nested loops). */
static void free_user_tables(struct env *e)
{
	uint64_t *pml4 = phys_to_virt(e->pml4_pa);

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
 * flushed page by page, and the records are taken off their caps' lists
 * before those caps are deleted (each delete then finds only other envs'
 * pages to unmap).  Before, each page cost a table walk, a hash-chain
 * search and a flush.
 */
static void drop_all_mappings(struct env *e)
{
	for (int b = 0; b < MAP_BUCKETS; b++) {
		struct mapping *m = e->maps[b];
		e->maps[b] = NULL;
		while (m) {
			struct mapping *next = m->hash_next;
			cap_maps_unlink(m);
			kfree(m);
			m = next;
		}
	}
	env_uncharge(e, record_pages(e->nmappings));
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
	for (int i = 0; i < CAP_SLOTS; i++)
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
	frame_free(&kframes, e->pml4_pa);
	kfree(e->caps);
	kfree(e->maps);
	kfree(e);
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
		for (int i = 0; i < CAP_SLOTS; i++) {
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
