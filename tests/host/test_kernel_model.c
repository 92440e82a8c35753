/*
 * The kernel's capability and memory rules, checked against a reference
 * model.  kernel/cap.c, env.c, sched.c, syscall.c, heap.c and frame.c are
 * built for the host (tests/host/kmodel/ stands in for the CPU and the rest
 * of the machine) and driven through the real system-call handlers with
 * long random sequences of *related* calls: derive, grant, delete and
 * revoke of caps the sequence made, mapping them, copying from them into
 * new frames (MEM_ALLOC_COPY), protecting and unmapping
 * pages, making, killing and cross-linking envs, threads, notifications.
 * A small model (plain arrays, the rules of docs/ABI.md written again as
 * simply as possible) predicts each result; after every step the kernel's
 * state is compared with the model's and the invariants of docs/ABI.md are
 * checked on the kernel's own structures.  The issue-9 exploit runs first
 * as a script.
 *
 *   kernel_model [steps per seed] [seeds] [first seed] [check every N steps] [CPUs]
 *
 * Every step's result is always checked; with N > 1 (the long runs) the
 * whole-state comparison runs every N steps and at the end of each seed.
 */
#include "include/exo/abi.h"
#include "kernel/cap.h"
#include "kernel/cpu.h"
#include "kernel/env.h"
#include "kernel/futex.h"
#include "kernel/heap.h"
#include "kernel/percpu.h"
#include "kernel/smp.h"
#include "kernel/trap.h"
#include "kernel/vm.h"
#include "tests/host/kmodel/kshim.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int64_t syscall_native(struct trapframe *tf);
int loader_map_kinfo(struct env *e);

#define PHYS_BYTES (24ull << 20)
#define MAX_ENVS 16
#define MAX_OBJS 4096
#define NVAS 80			/* more than one page of mapping records */
#define VA_BASE 0x0000100000000000ull
#define NONE (-1)
#define KEY(e, s) ((e) * CAP_SLOTS + (s))
#define KEY_ENV(k) ((k) / CAP_SLOTS)
#define KEY_SLOT(k) ((k) % CAP_SLOTS)

/* ------------------------------------------------------------ the model */

struct mcap {
	int type;		/* EXO_CAP_NONE: empty */
	uint32_t rights;
	uint64_t first, count;
	int parent;		/* KEY of the parent, or NONE */
	int counted;
	int obj;		/* ENV: model env; THREAD, NOTIFY: object id */
};

struct mmap_entry {
	int used;
	int holder;		/* KEY of the cap it was mapped through; NONE: kinfo */
	uint64_t pfn;
	uint32_t prot;
};

struct menv {
	int exists;		/* not freed */
	int alive;
	struct env *k;
	uint64_t quota;
	int qsrc;		/* KEY of the MEMORY cap refunded at free, or NONE */
	uint64_t threads_charged, notifies_charged;
	uint64_t threads_ended;		/* by THREAD_END: their stacks' charge came back */
	unsigned gen;			/* which env has used this record (adopt_env) */
	struct mmap_entry maps[NVAS + 1];	/* NVAS: the kinfo page */
};

/* A thread blocked in FUTEX_WAIT, as the model predicts it. */
struct mwaiter {
	int used;
	struct thread *t;
	int env, vi;		/* the page it waits through */
	uint64_t pa;		/* the word */
	int timed;		/* a finite timeout: the next clock jump ends it */
	unsigned long seq;	/* FIFO order */
};
#define MAX_WAITERS 512

static struct mwaiter waiters[MAX_WAITERS];
static unsigned long wait_seq;
static unsigned long n_blocked, n_woken[3];	/* by a wake, the clock, an unmap */
static void futex_settle(void);
static struct mcap caps[MAX_ENVS * CAP_SLOTS];
static struct menv envs[MAX_ENVS];
static uint32_t *refs;			/* per frame, as the model counts them */
static void *objs[MAX_OBJS];		/* model object id -> kernel object */
static int nobjs;
/* Threads: the env (model index and generation) each belongs to, and
 * whether it lives; thread_env NONE for other objects. */
static int thread_env[MAX_OBJS], thread_alive[MAX_OBJS];
static unsigned thread_gen[MAX_OBJS], env_gen;
static uint64_t budget_total;		/* pages in existence for user budgets */
static uint64_t nframes;

static uint64_t seed_state;
static uint64_t rnd(void)
{
	seed_state ^= seed_state << 13;
	seed_state ^= seed_state >> 7;
	seed_state ^= seed_state << 17;
	return seed_state;
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(int percent) { return (int)below(100) < percent; }

static unsigned long step_no;
static const char *step_desc = "";

static _Noreturn void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  step %lu (%s): ", step_no, step_desc);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	_exit(1);
}

static uint64_t va_of(int i) { return i == NVAS ? EXO_KINFO_VA : VA_BASE + (uint64_t)i * PAGE_SIZE; }

static struct mcap *mc(int key) { return &caps[key]; }

static int first_free_slot(int e)
{
	for (int s = EXO_SLOT_FIRST_FREE; s < CAP_SLOTS; s++)
		if (caps[KEY(e, s)].type == EXO_CAP_NONE)
			return s;
	for (int s = 0; s < EXO_SLOT_FIRST_FREE; s++)
		if (caps[KEY(e, s)].type == EXO_CAP_NONE)
			return s;
	return NONE;
}

static int memory_ancestor(int key)
{
	int p = caps[key].parent;
	while (p != NONE && caps[p].type != EXO_CAP_MEMORY)
		p = caps[p].parent;
	return p;
}

/* The MEMORY cap whose pages key spends: key, or for a cap that draws on
 * its parent (EXO_MEM_DRAW) the nearest ancestor that does not. */
static int msource(int key)
{
	while (caps[key].first == EXO_MEM_DRAW && caps[key].parent != NONE &&
	       caps[caps[key].parent].type == EXO_CAP_MEMORY)
		key = caps[key].parent;
	return key;
}

static int model_env_of(const struct env *k)
{
	for (int i = 0; i < MAX_ENVS; i++)
		if (envs[i].exists && envs[i].k == k)
			return i;
	return NONE;
}

/* Removes every mapping made through cap key, in any env. */
static void unmap_through(int key)
{
	for (int e = 0; e < MAX_ENVS; e++)
		for (int v = 0; v <= NVAS; v++)
			if (envs[e].maps[v].used && envs[e].maps[v].holder == key)
				envs[e].maps[v].used = 0;
}

/* A counted FRAME cap that counts references: its parent is no counted
 * FRAME cap (a copy of one is kept by it instead). */
static int holder(int key)
{
	const struct mcap *c = mc(key);
	return c->type == EXO_CAP_FRAME && c->counted &&
	       !(c->parent != NONE && caps[c->parent].type == EXO_CAP_FRAME && caps[c->parent].counted);
}

static void count_refs(const struct mcap *c)
{
	for (uint64_t f = c->first; f < c->first + c->count; f++)
		refs[f]++;
}

static void release(int key)
{
	struct mcap *c = mc(key);

	if (c->type == EXO_CAP_FRAME) {
		unmap_through(key);
		if (holder(key)) {
			uint64_t freed = 0;
			for (uint64_t f = c->first; f < c->first + c->count; f++)
				if (--refs[f] == 0)
					freed++;
			int m = memory_ancestor(key);
			if (m != NONE)
				caps[msource(m)].count += freed;	/* else lost with that MEMORY cap */
		}
	} else if (c->type == EXO_CAP_MEMORY) {
		int p = c->parent != NONE && caps[c->parent].type == EXO_CAP_MEMORY ? c->parent : NONE;
		if (p != NONE)
			caps[msource(p)].count += c->count;
		else
			budget_total -= c->count;
		for (int e = 0; e < MAX_ENVS; e++)
			if (envs[e].exists && envs[e].qsrc == key) {
				envs[e].qsrc = p;
				if (p == NONE)
					budget_total -= envs[e].quota;
			}
	}
	/* children were moved away or released first */
	memset(c, 0, sizeof *c);
	c->parent = NONE;
}

/* Frames held through caps whose nearest MEMORY ancestor is key: lost
 * to every budget when key goes with no MEMORY parent. */
static uint64_t frames_paid_by(int key)
{
	static uint8_t *seen;
	uint64_t n = 0;
	if (!seen)
		seen = calloc(nframes, 1);
	memset(seen, 0, nframes);
	for (int k = 0; k < MAX_ENVS * CAP_SLOTS; k++)
		if (caps[k].type == EXO_CAP_FRAME && caps[k].counted && memory_ancestor(k) == key)
			for (uint64_t f = caps[k].first; f < caps[k].first + caps[k].count; f++)
				if (!seen[f]++)
					n++;
	return n;
}

static void model_delete(int key)
{
	if (caps[key].type == EXO_CAP_MEMORY &&
	    (caps[key].parent == NONE || caps[caps[key].parent].type != EXO_CAP_MEMORY))
		budget_total -= frames_paid_by(key);
	int held = holder(key);
	for (int k = 0; k < MAX_ENVS * CAP_SLOTS; k++)
		if (caps[k].type != EXO_CAP_NONE && caps[k].parent == key) {
			caps[k].parent = caps[key].parent;
			if (held && caps[k].type == EXO_CAP_FRAME && caps[k].counted)
				count_refs(&caps[k]);	/* a holder from now on */
		}
	release(key);
}

static int is_descendant(int k, int of)
{
	for (int p = caps[k].parent; p != NONE; p = caps[p].parent)
		if (p == of)
			return 1;
	return 0;
}

static void model_revoke(int key)
{
	int again = 1;
	while (again) {		/* leaves first */
		again = 0;
		for (int k = 0; k < MAX_ENVS * CAP_SLOTS; k++) {
			if (caps[k].type == EXO_CAP_NONE || !is_descendant(k, key))
				continue;
			int leaf = 1;
			for (int j = 0; j < MAX_ENVS * CAP_SLOTS && leaf; j++)
				if (caps[j].type != EXO_CAP_NONE && caps[j].parent == k)
					leaf = 0;
			if (leaf) {
				release(k);
				again = 1;
			}
		}
	}
}

static void model_kill(int e)
{
	if (!envs[e].alive)
		return;
	envs[e].alive = 0;
	for (int o = 0; o < nobjs; o++)
		if (thread_env[o] == e && thread_gen[o] == envs[e].gen)
			thread_alive[o] = 0;
	for (int s = 0; s < CAP_SLOTS; s++)
		if (caps[KEY(e, s)].type != EXO_CAP_NONE)
			model_delete(KEY(e, s));
	for (int v = 0; v <= NVAS; v++)
		envs[e].maps[v].used = 0;
}

/* Kills what env caps from the root no longer reach, then frees dead envs
 * nothing names, refunding their quotas.  One pass over the caps of live
 * envs per round: dead envs hold no caps. */
static void model_reap(void)
{
	int named[MAX_ENVS];
	for (;;) {
		int reach[MAX_ENVS] = { 0 }, work[MAX_ENVS], n = 0, victim = NONE;
		if (envs[0].alive) {
			reach[0] = 1;
			work[n++] = 0;
		}
		while (n) {
			int e = work[--n];
			for (int s = 0; s < CAP_SLOTS; s++) {
				struct mcap *c = mc(KEY(e, s));
				if (c->type == EXO_CAP_ENV && !reach[c->obj]) {
					reach[c->obj] = 1;
					work[n++] = c->obj;
				}
			}
		}
		for (int e = 1; e < MAX_ENVS && victim == NONE; e++)
			if (envs[e].alive && !reach[e])
				victim = e;
		if (victim == NONE)
			break;
		model_kill(victim);
	}
	int dead = 0;
	for (int e = 1; e < MAX_ENVS; e++)
		dead |= envs[e].exists && !envs[e].alive;
	if (!dead)
		return;
	memset(named, 0, sizeof named);
	for (int e = 0; e < MAX_ENVS; e++)
		for (int s = 0; envs[e].alive && s < CAP_SLOTS; s++) {
			struct mcap *c = mc(KEY(e, s));
			if (c->type == EXO_CAP_ENV && c->obj != e)
				named[c->obj]++;
		}
	for (int e = 1; e < MAX_ENVS; e++)
		if (envs[e].exists && !envs[e].alive && !named[e]) {
			if (envs[e].qsrc != NONE)
				caps[msource(envs[e].qsrc)].count += envs[e].quota;
			envs[e].exists = 0;
			envs[e].k = NULL;
		}
}

/* ---------------------------------------------------- driving the kernel */

/* The thread env e's calls are made from: its first runnable one. */
/* A thread of e that can make a call on this CPU: runnable, and not
 * running on another CPU (with several CPUs, user code of a thread another
 * CPU runs is out of this one's reach). */
static struct thread *caller(int e)
{
	struct thread *t = envs[e].k->threads;
	while (t && (t->state != T_RUNNABLE || (t->on_cpu >= 0 && t->on_cpu != this_cpu()->id)))
		t = t->env_next;
	return t;
}

/* Makes a call as e's caller thread would: it becomes the running thread
 * (as on a CPU: off the run queue), then the handler runs.  A call that
 * blocks returns at once here, leaving the thread blocked (kshim.c). */
static int64_t kcall6(int e, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		      uint64_t a3, uint64_t a4, uint64_t a5)
{
	struct thread *t = caller(e);
	if (!t)
		fail("env %d has no runnable thread to call from", e);
	if (!current)
		current = &this_cpu()->idle;	/* as after boot: nothing runs yet */
	if (t != current)
		sched_yield_to(t);
	if (current != t)
		fail("could not switch to env %d's thread", e);
	kmodel_cr3 = envs[e].k->pml4_pa;
	struct trapframe tf;
	memset(&tf, 0, sizeof tf);
	tf.rax = nr;
	tf.rdi = a0, tf.rsi = a1, tf.rdx = a2, tf.r10 = a3, tf.r8 = a4, tf.r9 = a5;
	int64_t r = syscall_native(&tf);
	env_reap_orphans();
	sched_reap_dead();
	need_resched = 0;
	return r;
}

static int64_t kcall(int e, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		     uint64_t a3, uint64_t a4)
{
	return kcall6(e, nr, a0, a1, a2, a3, a4, 0);
}

/* The model's view of a new env the kernel made (slot 0 cap, kinfo page). */
static int adopt_env(struct env *k, uint64_t quota, int qsrc)
{
	int e = NONE;
	for (int i = 0; i < MAX_ENVS && e == NONE; i++)
		if (!envs[i].exists)
			e = i;
	if (e == NONE)
		fail("model out of env records");
	memset(&envs[e], 0, sizeof envs[e]);
	envs[e].exists = envs[e].alive = 1;
	envs[e].k = k;
	envs[e].quota = quota;
	envs[e].qsrc = qsrc;
	envs[e].gen = ++env_gen;
	for (int s = 0; s < CAP_SLOTS; s++) {
		memset(mc(KEY(e, s)), 0, sizeof(struct mcap));
		mc(KEY(e, s))->parent = NONE;
	}
	*mc(KEY(e, 0)) = (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = e };
	envs[e].maps[NVAS] = (struct mmap_entry){ 1, NONE, kmodel_kinfo_pa() / PAGE_SIZE, EXO_PROT_READ };
	return e;
}

static int new_obj(void *p)
{
	if (nobjs == MAX_OBJS)
		fail("model out of object records");
	objs[nobjs] = p;
	thread_env[nobjs] = NONE;
	return nobjs++;
}

/* A new, started thread of model env e. */
static int new_thread_obj(void *p, int e)
{
	int o = new_obj(p);
	thread_env[o] = e;
	thread_gen[o] = envs[e].gen;
	thread_alive[o] = 1;
	return o;
}

/* The root env, as the loader makes it: self, a thread, all memory. */
static void boot_root(void)
{
	int err = 0;
	kmodel_boot(PHYS_BYTES);
	nframes = kframes.nframes;
	free(refs);
	refs = calloc(nframes, sizeof *refs);
	for (int i = 0; i < MAX_ENVS; i++)
		envs[i].exists = 0;
	struct env *k = env_create(NULL, 256, &err);
	if (!k)
		fail("no root env");
	uint64_t budget = kframes.nfree - 600;	/* the rest for kernel objects */
	cap_install(k, EXO_SLOT_SELF_ENV, NULL, EXO_CAP_ENV, EXO_R_ALL, 0, 0, k);
	cap_install(k, EXO_SLOT_MEMORY, NULL, EXO_CAP_MEMORY, EXO_R_ALL, 0, budget, NULL);
	struct thread *t = thread_create(k, &err);
	cap_install(k, EXO_SLOT_SELF_THREAD, NULL, EXO_CAP_THREAD, EXO_R_ALL, 0, 0, t);
	thread_start(t);
	loader_map_kinfo(k);
	int e = adopt_env(k, 256, NONE);
	envs[e].threads_charged = 1;
	*mc(KEY(e, EXO_SLOT_MEMORY)) = (struct mcap){ .type = EXO_CAP_MEMORY, .rights = EXO_R_ALL,
						    .count = budget, .parent = NONE };
	*mc(KEY(e, EXO_SLOT_SELF_THREAD)) = (struct mcap){ .type = EXO_CAP_THREAD, .rights = EXO_R_ALL,
							 .parent = NONE, .obj = new_thread_obj(t, e) };
	budget_total = budget;
}

/* ------------------------------------------------ comparing and checking */

static int key_of_kcap(const struct cap *c)
{
	if (!c)
		return NONE;
	int e = model_env_of(c->owner);
	if (e == NONE)
		fail("a cap's owner env %p is unknown to the model", (void *)c->owner);
	return KEY(e, (int)(c - c->owner->caps));
}

static void heap_use(const void *p, size_t size, uint64_t *use);

/* The model page at va, or NONE. */
static int model_page_of(uint64_t va)
{
	if (va == EXO_KINFO_VA)
		return NVAS;
	if (va < VA_BASE || va >= VA_BASE + NVAS * PAGE_SIZE)
		return NONE;
	return (int)((va - VA_BASE) / PAGE_SIZE);
}

/* Whether record m is on the list of the cap it names. */
static int on_cap_list(const struct mapping *m)
{
	for (const struct mapping *x = m->cap->maps; x; x = x->cap_next)
		if (x == m)
			return 1;
	return 0;
}

/*
 * The records of k, checked on their own: each is a run within one leaf
 * table whose every page is present, numbered in its PTEs, maps frames in
 * a row, and lies within a live FRAME cap on whose list it is and whose
 * rights allow each PTE's permissions (a kernel page: read-only kinfo).
 * Adds 1 to covered[v] for each model page a record covers; returns the
 * records' pages, and the count of records in *n.
 */
static uint64_t check_records(int e, struct env *k, int *covered, uint64_t *n, uint64_t *use)
{
	uint64_t pages = 0;
	*n = 0;
	for (int b = 0; b < MAP_BUCKETS; b++)
		for (struct mapping *m = k->maps[b]; m; m = m->hash_next) {
			++*n;
			heap_use(m, sizeof *m, use);
			uint64_t first = env_pte(k, m->va) & PTE_ADDR;
			if (m->env != k || ((m->va >> 12) ^ (m->va >> 21)) % MAP_BUCKETS != (uint64_t)b || !m->pages ||
			    (m->va >> 21) != ((m->va + m->pages * PAGE_SIZE - 1) >> 21))
				fail("env %d: record at %#lx (%lu pages) misplaced", e, (unsigned long)m->va,
				     (unsigned long)m->pages);
			if (m->cap && (m->cap->type != EXO_CAP_FRAME || !on_cap_list(m)))
				fail("env %d: record at %#lx through a cap that is no live FRAME cap listing it", e,
				     (unsigned long)m->va);
			for (uint64_t i = 0; i < m->pages; i++) {
				uint64_t va = m->va + i * PAGE_SIZE, pte = env_pte(k, va), pfn = (pte & PTE_ADDR) / PAGE_SIZE;
				int v = model_page_of(va);
				if (v == NONE)
					fail("env %d: a record maps %#lx, outside the model's pages", e, (unsigned long)va);
				covered[v]++;
				if (!(pte & PTE_P) || !(pte & PTE_U) || (pte & PTE_ADDR) != first + i * PAGE_SIZE ||
				    (((pte >> 52) & 0x7f) | (((pte >> 9) & 3) << 7)) != i)
					fail("env %d va %#lx: page %lu of a record, pte %#lx", e, (unsigned long)va,
					     (unsigned long)i, (unsigned long)pte);
				if (env_mapping_at(k, va) != m)
					fail("env %d va %#lx: the lookup finds another record", e, (unsigned long)va);
				struct cap *c = m->cap;
				if (c ? pfn < c->first || pfn >= c->first + c->count || !(c->rights & EXO_R_READ) ||
					    ((pte & PTE_W) && !(c->rights & EXO_R_WRITE)) ||
					    (!(pte & PTE_NX) && !(c->rights & EXO_R_EXEC))
				      : pfn != kmodel_kinfo_pa() / PAGE_SIZE || (pte & PTE_W))
					fail("env %d va %#lx: its record's cap does not allow pte %#lx", e,
					     (unsigned long)va, (unsigned long)pte);
			}
			pages += m->pages;
		}
	return pages;
}

/* Counts the user page-table pages below e's PML4 (not the PML4). */
static uint64_t table_pages(struct env *k, uint64_t *use)
{
	uint64_t n = 0, *l4 = phys_to_virt(k->pml4_pa);
	use[k->pml4_pa / PAGE_SIZE]++;
	for (int i = 0; i < 256; i++) {
		if (!(l4[i] & PTE_P))
			continue;
		n++, use[(l4[i] & PTE_ADDR) / PAGE_SIZE]++;
		uint64_t *l3 = phys_to_virt(l4[i] & PTE_ADDR);
		for (int j = 0; j < 512; j++) {
			if (!(l3[j] & PTE_P))
				continue;
			n++, use[(l3[j] & PTE_ADDR) / PAGE_SIZE]++;
			uint64_t *l2 = phys_to_virt(l3[j] & PTE_ADDR);
			for (int m = 0; m < 512; m++)
				if (l2[m] & PTE_P)
					n++, use[(l2[m] & PTE_ADDR) / PAGE_SIZE]++;
		}
	}
	return n;
}

/* The frames the heap block at p takes, read from its header (kernel/heap.c:
 * a large block records its page count; a small one shares a page). */
static uint64_t block_pages(const void *p)
{
	const struct { uint64_t magic; uint32_t cls, pages; } *h = (const void *)((const uint8_t *)p - 16);
	return h->cls == 8 ? h->pages : 1;
}

/* The frames a heap block of size bytes at p takes. */
static void heap_use(const void *p, size_t size, uint64_t *use)
{
	uint64_t pages = kheap_pages(size);
	uint64_t first = virt_to_phys((const uint8_t *)p - 16) / PAGE_SIZE;
	for (uint64_t i = 0; i < pages; i++)
		use[first + i]++;
}

static uint64_t count_user_ptes(struct env *k)
{
	uint64_t n = 0, *l4 = phys_to_virt(k->pml4_pa);
	for (int i = 0; i < 256; i++) {
		if (!(l4[i] & PTE_P))
			continue;
		uint64_t *l3 = phys_to_virt(l4[i] & PTE_ADDR);
		for (int j = 0; j < 512; j++) {
			if (!(l3[j] & PTE_P))
				continue;
			uint64_t *l2 = phys_to_virt(l3[j] & PTE_ADDR);
			for (int m = 0; m < 512; m++) {
				if (!(l2[m] & PTE_P))
					continue;
				uint64_t *l1 = phys_to_virt(l2[m] & PTE_ADDR);
				for (int x = 0; x < 512; x++)
					n += (l1[x] & PTE_P) != 0;
			}
		}
	}
	return n;
}

/* Futex records: the kernel queues exactly the model's waiters, each
 * blocked on its word, and each still maps that word's frame at the page it
 * waits through (so no record names a frame that could be freed). */
static void check_futex_waiters(void)
{
	uint64_t n = 0;
	for (int i = 0; i < MAX_WAITERS; i++) {
		struct mwaiter *w = &waiters[i];
		if (!w->used)
			continue;
		n++;
		struct thread *t = w->t;
		if (t->state != T_BLOCKED || !t->futex_waiting || t->futex_pa != w->pa)
			fail("futex waiter in env %d: state %d, queued %d on %#lx, model %#lx", w->env, t->state,
			     t->futex_waiting, (unsigned long)t->futex_pa, (unsigned long)w->pa);
		uint64_t pte = env_pte(t->env, t->futex_page);
		if (!(pte & PTE_P) || !(pte & PTE_U) || (pte & PTE_ADDR) != (w->pa & PTE_ADDR))
			fail("futex waiter in env %d: its page no longer maps the word's frame", w->env);
	}
	if (futex_waiting_count() != n)
		fail("the kernel has %lu futex waiters, the model %lu", (unsigned long)futex_waiting_count(),
		     (unsigned long)n);
}

static void compare_and_check(void)
{
	static uint64_t *use;
	static uint32_t *kref, *cover;
	uint64_t kenvs = 0, menvs = 0, ksum = 0;

	if (!use) {
		use = calloc(nframes, sizeof *use);
		kref = calloc(nframes, sizeof *kref);
		cover = calloc(nframes, sizeof *cover);
	}
	memset(use, 0, nframes * sizeof *use);
	memset(kref, 0, nframes * sizeof *kref);
	memset(cover, 0, nframes * sizeof *cover);
	use[kmodel_kinfo_pa() / PAGE_SIZE]++;
	use[vm_kernel_pml4() / PAGE_SIZE]++;

	for (struct env *k = env_list(); k; k = k->next_all) {
		kenvs++;
		if (model_env_of(k) == NONE)
			fail("kernel env %lu is not in the model (leaked or not freed)", (unsigned long)k->id);
	}
	for (int e = 0; e < MAX_ENVS; e++) {
		if (!envs[e].exists)
			continue;
		menvs++;
		struct menv *me = &envs[e];
		struct env *k = me->k;
		if ((k->state != ENV_DEAD) != me->alive)
			fail("env %d: kernel says %s, model %s", e, k->state == ENV_DEAD ? "dead" : "alive",
			     me->alive ? "alive" : "dead");
		if (k->quota_source && key_of_kcap(k->quota_source) != me->qsrc)
			fail("env %d: quota source differs", e);
		if (!k->quota_source && me->qsrc != NONE)
			fail("env %d: quota source lost", e);
		if (me->qsrc != NONE)
			ksum += me->quota;
		/* caps */
		for (int s = 0; s < CAP_SLOTS; s++) {
			struct cap *c = &k->caps[s];
			struct mcap *m = mc(KEY(e, s));
			if (c->type != m->type || (m->type && (c->rights != m->rights || c->first != m->first ||
							       c->count != m->count || c->counted != m->counted)))
				fail("env %d slot %d: kernel type %d rights %#x [%#lx+%lu]%s, model type %d rights %#x [%#lx+%lu]%s",
				     e, s, c->type, c->rights, (unsigned long)c->first, (unsigned long)c->count,
				     c->counted ? " counted" : "", m->type, m->rights, (unsigned long)m->first,
				     (unsigned long)m->count, m->counted ? " counted" : "");
			if (!m->type)
				continue;
			if (c->owner != k)
				fail("env %d slot %d: owner pointer wrong", e, s);
			if (key_of_kcap(c->parent) != m->parent)
				fail("env %d slot %d: parent differs (kernel %d, model %d)", e, s,
				     key_of_kcap(c->parent), m->parent);
			/* the tree's links are consistent */
			if (c->parent) {
				struct cap *x = c->parent->child;
				while (x && x != c)
					x = x->next;
				if (!x)
					fail("env %d slot %d: not on its parent's child list", e, s);
				if (c->parent->type == c->type && (c->rights & ~c->parent->rights))
					fail("env %d slot %d: more rights than its parent", e, s);
				if (c->type == EXO_CAP_FRAME && c->parent->type == EXO_CAP_FRAME && c->counted &&
				    (c->first < c->parent->first ||
				     c->first + c->count > c->parent->first + c->parent->count))
					fail("env %d slot %d: range outside its parent's", e, s);
			}
			for (struct cap *x = c->child; x; x = x->next)
				if (x->parent != c)
					fail("env %d slot %d: a child does not point back", e, s);
			if (c->type == EXO_CAP_ENV && c->obj != envs[m->obj].k)
				fail("env %d slot %d: names the wrong env", e, s);
			if ((c->type == EXO_CAP_THREAD || c->type == EXO_CAP_NOTIFY) && c->obj != objs[m->obj])
				fail("env %d slot %d: names the wrong object", e, s);
			if (c->type == EXO_CAP_MEMORY)
				ksum += c->count;
			/* invariant 4: a cap that draws on its parent holds no pages */
			if (c->type == EXO_CAP_MEMORY && c->first == EXO_MEM_DRAW && c->count && c->parent &&
			    c->parent->type == EXO_CAP_MEMORY)
				fail("env %d slot %d: draws on its parent but holds %lu pages", e, s,
				     (unsigned long)c->count);
			/* invariant 3: holders count; a copy lies within its parent */
			int copy = c->parent && c->parent->type == EXO_CAP_FRAME && c->parent->counted;
			if (c->type == EXO_CAP_FRAME && c->counted && !copy)
				for (uint64_t f = c->first; f < c->first + c->count; f++)
					kref[f]++;
			if (c->type == EXO_CAP_FRAME && c->counted)
				for (uint64_t f = c->first; f < c->first + c->count; f++)
					cover[f]++;
			if (c->type == EXO_CAP_FRAME && c->counted && copy &&
			    (c->first < c->parent->first || c->first + c->count > c->parent->first + c->parent->count))
				fail("env %d slot %d: a copy outside its holder's range", e, s);
			if (c->type == EXO_CAP_THREAD) {
				struct thread *t = c->obj;
				if (t->state != T_DEAD && t->env->state == ENV_DEAD)
					fail("env %d slot %d: a thread of a dead env lives", e, s);
			}
			if (c->type == EXO_CAP_NOTIFY)
				heap_use(c->obj, sizeof(struct notify), use);
		}
		/* every slot from the high-water mark on was never used: all
		 * zero, in a table new or taken back from a freed env */
		if (k->cap_top < 0 || k->cap_top > CAP_SLOTS)
			fail("env %d: cap_top %d", e, k->cap_top);
		for (int s = k->cap_top; s < CAP_SLOTS; s++) {
			static const struct cap zero;
			if (memcmp(&k->caps[s], &zero, sizeof zero))
				fail("env %d slot %d: above cap_top %d but not zero", e, s, k->cap_top);
		}
		heap_use(k, sizeof *k, use);
		heap_use(k->caps, CAP_SLOTS * sizeof(struct cap), use);
		heap_use(k->maps, MAP_BUCKETS * sizeof(struct mapping *), use);
		/* mappings: model, records and page tables agree; every present
		 * user PTE has exactly one record covering it */
		int covered[NVAS + 1] = { 0 };
		uint64_t nmodel = 0, nrec, rpages = check_records(e, k, covered, &nrec, use);
		for (int v = 0; v <= NVAS; v++) {
			struct mmap_entry *mm = &me->maps[v];
			struct mapping *rec = env_mapping_at(k, va_of(v));
			uint64_t pte = env_pte(k, va_of(v));
			if (!mm->used) {
				if (rec || (pte & PTE_P) || covered[v])
					fail("env %d va %#lx: mapped in the kernel, not in the model", e,
					     (unsigned long)va_of(v));
				continue;
			}
			nmodel++;
			if (!rec || !(pte & PTE_P) || covered[v] != 1)
				fail("env %d va %#lx: mapped in the model, %d records in the kernel", e,
				     (unsigned long)va_of(v), covered[v]);
			if ((pte & PTE_ADDR) / PAGE_SIZE != mm->pfn || !!(pte & PTE_W) != !!(mm->prot & EXO_PROT_WRITE) ||
			    !(pte & PTE_NX) != !!(mm->prot & EXO_PROT_EXEC) || !(pte & PTE_U))
				fail("env %d va %#lx: pte %#lx, model frame %#lx prot %u", e, (unsigned long)va_of(v),
				     (unsigned long)pte, (unsigned long)mm->pfn, mm->prot);
			if (key_of_kcap(rec->cap) != mm->holder)
				fail("env %d va %#lx: mapped through another cap", e, (unsigned long)va_of(v));
		}
		if (k->nmappings != nrec || rpages != nmodel || count_user_ptes(k) != nmodel)
			fail("env %d: %lu mapping records (%lu hashed) of %lu pages, %lu user ptes, model %lu", e,
			     (unsigned long)k->nmappings, (unsigned long)nrec, (unsigned long)rpages,
			     (unsigned long)count_user_ptes(k), (unsigned long)nmodel);
		if (k->map_charged != (k->nmappings + 63) / 64)
			fail("env %d: %lu pages charged for %lu records", e, (unsigned long)k->map_charged,
			     (unsigned long)k->nmappings);
		/* invariant 4: the env's charge is what its objects take */
		uint64_t tables = table_pages(k, use);
		/* the list its teardown frees the tables from, without a walk */
		if (me->alive && (uint64_t)k->ntables != tables)
			fail("env %d: %d page-table pages listed, %lu made", e, k->ntables, (unsigned long)tables);
		for (int i = 0; me->alive && i < k->ntables && i < ENV_TABLES_LISTED; i++)
			if (use[k->tables[i] / PAGE_SIZE] != 1)
				fail("env %d: listed table page %#lx is no table of its own", e,
				     (unsigned long)k->tables[i]);
		/* a dead env's thread list may name freed threads: only the
		 * kernel's env_kill walks it, and only while the env lives */
		for (struct thread *t = me->alive ? k->threads : NULL; t; t = t->env_next) {
			heap_use(t, sizeof *t, use);
			if (t->xsave)
				use[virt_to_phys(t->xsave) / PAGE_SIZE]++;
			if (t->kstack_top)
				for (uint64_t i = 0; i < KSTACK_SIZE / PAGE_SIZE; i++)
					use[virt_to_phys((void *)(t->kstack_top - KSTACK_SIZE)) / PAGE_SIZE + i]++;
		}
		if (me->alive) {
			uint64_t fixed = block_pages(k) + block_pages(k->caps) + block_pages(k->maps) + 1;
			uint64_t want = fixed + tables +
					(k->nmappings + 63) / 64 + me->threads_charged * (2 + KSTACK_SIZE / PAGE_SIZE) -
					me->threads_ended * (1 + KSTACK_SIZE / PAGE_SIZE) +
					me->notifies_charged;
			if (k->used_pages != want)
				fail("env %d: charged %lu pages, its objects take %lu", e,
				     (unsigned long)k->used_pages, (unsigned long)want);
			if (k->used_pages > k->quota_pages)
				fail("env %d: over quota", e);
		}
	}
	if (kenvs != menvs)
		fail("%lu envs in the kernel, %lu in the model", (unsigned long)kenvs, (unsigned long)menvs);
	/* invariants 1 and 3: frames */
	for (uint64_t f = 0; f < nframes; f++) {
		if (kref[f] != frame_refs(&kframes, f) || kref[f] != refs[f])
			fail("frame %#lx: %u holders cover it, kernel count %u, model %u", (unsigned long)f, kref[f],
			     frame_refs(&kframes, f), refs[f]);
		if (cover[f] && !kref[f])
			fail("frame %#lx: %u counted caps cover it, no holder", (unsigned long)f, cover[f]);
		if (frame_is_free(&kframes, f * PAGE_SIZE) && (cover[f] || use[f]))
			fail("frame %#lx is free but %s", (unsigned long)f, cover[f] ? "a cap covers it" : "in use");
		if (cover[f] && use[f])
			fail("frame %#lx is both a user frame and a kernel object", (unsigned long)f);
	}
	check_futex_waiters();
	/* invariant 4: budgets add up (the caps covering a frame share their
	 * nearest MEMORY ancestor, so any one of them tells) */
	memset(kref, 0, nframes * sizeof *kref);
	for (int e = 0; e < MAX_ENVS; e++)
		for (int s = 0; envs[e].exists && s < CAP_SLOTS; s++) {
			struct cap *c = &envs[e].k->caps[s];
			if (c->type != EXO_CAP_FRAME || !c->counted)
				continue;
			struct cap *m = c->parent;
			while (m && m->type != EXO_CAP_MEMORY)
				m = m->parent;
			for (uint64_t f = c->first; m && f < c->first + c->count; f++)
				if (!kref[f]++)
					ksum++;
		}
	if (ksum != budget_total)
		fail("budgets add up to %lu pages, the model expects %lu", (unsigned long)ksum,
		     (unsigned long)budget_total);
}

/* ------------------------------------------------------------ operations */

#define NOPS 28
static unsigned long n_ok, n_err, n_oom;
static unsigned long hist[NOPS][40];	/* KMODEL_STATS: results by operation */
static int op_no;

static int expect(int64_t got, int64_t want, int may_run_out)
{
	if (got == want) {
		hist[op_no][got >= 0 ? 0 : (-got < 40 ? -got : 39)]++;
		if (got >= 0)
			n_ok++;
		else
			n_err++;
		return got >= 0;
	}
	if (want >= 0 && got == -EXO_ENOMEM && may_run_out) {
		n_oom++;
		return 0;
	}
	/* else: kernel memory or quota ran out, and nothing may change */
	fail("returned %ld, the model expects %ld", (long)got, (long)want);
}

static int has_thread(int e)
{
	return caller(e) != NULL;
}

/* An env to call from; NONE when none has a thread this CPU can take
 * (with several CPUs, the others may be running every one). */
static int pick_env(void)
{
	for (int tries = 0; tries < 1000; tries++) {
		int e = chance(30) ? 0 : (int)below(MAX_ENVS);
		if (envs[e].alive && has_thread(e))
			return e;
	}
	return NONE;
}

/* The caps made most recently: sequences of calls mostly work on these,
 * as an attacker chains derive, grant, map and delete on what it made. */
#define RECENT 16
static int recent[RECENT], nrecent;

static void remember(int key)
{
	recent[nrecent++ % RECENT] = key;
}

/* A slot of e: mostly one holding a cap (of type t when t != 0), often one
 * of the caps made last. */
static int pick_slot(int e, int t)
{
	int s = (int)below(CAP_SLOTS);
	if (chance(8))
		return chance(50) ? (int)below(CAP_SLOTS + 4) : s;
	if (chance(60) && nrecent) {
		int k = recent[below(nrecent < RECENT ? (uint64_t)nrecent : RECENT)];
		if (KEY_ENV(k) == e && caps[k].type && (!t || caps[k].type == t))
			return KEY_SLOT(k);
	}
	for (int tries = 0; tries < CAP_SLOTS; tries++, s = (s + 1) % CAP_SLOTS) {
		struct mcap *c = mc(KEY(e, s));
		if (c->type && (!t || c->type == t))
			return s;
	}
	return s;
}

/* Mostly a slot naming a live env (self included); sometimes any. */
static int pick_env_slot(int e, int self_percent)
{
	if (chance(self_percent) && mc(KEY(e, EXO_SLOT_SELF_ENV))->type == EXO_CAP_ENV)
		return EXO_SLOT_SELF_ENV;
	if (chance(80))
		for (int tries = 0; tries < 8; tries++) {
			int s = pick_slot(e, EXO_CAP_ENV);
			if (s < CAP_SLOTS && mc(KEY(e, s))->type == EXO_CAP_ENV && envs[mc(KEY(e, s))->obj].alive)
				return s;
		}
	return pick_slot(e, EXO_CAP_ENV);
}

/* Mostly the MEMORY cap of e with the most pages left. */
static int pick_memory(int e)
{
	int best = NONE;
	if (chance(75))
		for (int s = 0; s < CAP_SLOTS; s++) {
			struct mcap *c = mc(KEY(e, s));
			if (c->type == EXO_CAP_MEMORY &&
			    (best == NONE || mc(msource(KEY(e, s)))->count > mc(msource(KEY(e, best)))->count))
				best = s;
		}
	return best != NONE ? best : pick_slot(e, EXO_CAP_MEMORY);
}

static uint32_t pick_rights(uint32_t of)
{
	uint32_t r = of & (uint32_t)rnd();
	if (chance(5))
		r |= 1u << below(8);
	return r;
}

/* The error a lookup of slot as type with rights gives, or 0. */
static int64_t lookup(int e, uint64_t slot, int type, uint32_t rights)
{
	if (slot >= CAP_SLOTS || !mc(KEY(e, (int)slot))->type)
		return -EXO_EBADF;
	struct mcap *c = mc(KEY(e, (int)slot));
	if (type && c->type != type)
		return -EXO_EINVAL;
	return (c->rights & rights) != rights ? -EXO_EACCES : 0;
}

/* An env argument: the model env, or NONE with *err. */
static int env_arg(int e, uint64_t slot, uint32_t rights, int64_t *err)
{
	*err = lookup(e, slot, EXO_CAP_ENV, rights);
	if (*err)
		return NONE;
	int t = mc(KEY(e, (int)slot))->obj;
	if (!envs[t].alive) {
		*err = -EXO_ESRCH;
		return NONE;
	}
	return t;
}

static void install(int key, struct mcap c)
{
	*mc(key) = c;
	remember(key);
	if (holder(key))
		count_refs(&c);
}

static void op_derive(int e)
{
	int s = pick_slot(e, 0);
	struct mcap *c = s < CAP_SLOTS ? mc(KEY(e, s)) : NULL;
	uint32_t rights = pick_rights(c && c->type ? c->rights : EXO_R_ALL);
	uint64_t first = c ? c->first + below(c->count + 2) - (chance(10) ? 1 : 0) : rnd();
	uint64_t count = c ? below(c->count + 2) : rnd();
	if (c && c->type == EXO_CAP_MEMORY) {
		uint64_t left = mc(msource(KEY(e, s)))->count;
		count = chance(90) ? below(left / 8 + 2) : below(left + 2);
		first = chance(40) ? EXO_MEM_DRAW : chance(95) ? 0 : below(4);
		if (first == EXO_MEM_DRAW && chance(90))
			count = 0;
	}
	step_desc = "derive";
	int64_t want = lookup(e, (uint64_t)s, 0, 0);
	if (!want && !(c->rights & EXO_R_DERIVE))
		want = -EXO_EACCES;
	if (!want && (rights > EXO_R_ALL || (rights & ~c->rights)))
		want = -EXO_EACCES;
	uint64_t mfirst = first, mcount = count;
	if (!want) {
		if (c->type == EXO_CAP_FRAME || c->type == EXO_CAP_IOPORT) {
			if (count == 0 || first < c->first || first - c->first > c->count ||
			    count > c->count - (first - c->first))
				want = -EXO_EINVAL;
		} else if (c->type == EXO_CAP_MEMORY) {
			if (first > EXO_MEM_DRAW || (first == EXO_MEM_DRAW && count))
				want = -EXO_EINVAL;
			else if (count > mc(msource(KEY(e, s)))->count)
				want = -EXO_ENOMEM;
		} else {
			mfirst = c->first, mcount = c->count;
		}
	}
	int ns = want ? NONE : first_free_slot(e);
	if (!want && ns == NONE)
		want = -EXO_ENOSPC;
	if (!want)
		want = ns;
	if (!expect(kcall(e, EXO_SYS_CAP_DERIVE, (uint64_t)s, rights, first, count, 0), want, 0))
		return;
	if (c->type == EXO_CAP_MEMORY)
		mc(msource(KEY(e, s)))->count -= count;
	install(KEY(e, ns), (struct mcap){ .type = c->type, .rights = rights, .first = mfirst, .count = mcount,
					  .parent = KEY(e, s), .counted = c->counted, .obj = c->obj });
}

static void op_grant(int e)
{
	int s = pick_slot(e, chance(30) ? EXO_CAP_ENV : 0), es = pick_env_slot(e, 10);
	struct mcap *c = s < CAP_SLOTS ? mc(KEY(e, s)) : NULL;
	uint32_t rights = pick_rights(c && c->type ? c->rights : EXO_R_ALL);
	uint64_t dest = chance(70) ? 0 : below(CAP_SLOTS + 3);
	int64_t err;
	step_desc = "grant";
	int64_t want = lookup(e, (uint64_t)s, 0, EXO_R_GRANT);
	int to = NONE;
	if (!want) {
		to = env_arg(e, (uint64_t)es, EXO_R_CONTROL, &err);
		want = err;
	}
	if (!want && (rights > EXO_R_ALL || (rights & ~c->rights)))
		want = -EXO_EACCES;
	int ns = NONE;
	if (!want && dest) {
		if (dest > CAP_SLOTS)
			want = -EXO_EINVAL;
		else if (mc(KEY(to, (int)dest - 1))->type)
			want = -EXO_EEXIST;
		else
			ns = (int)dest - 1;
	} else if (!want) {
		ns = first_free_slot(to);
		if (ns == NONE)
			want = -EXO_ENOSPC;
	}
	if (!want)
		want = ns;
	if (!expect(kcall(e, EXO_SYS_CAP_GRANT, (uint64_t)s, (uint64_t)es, rights, dest, 0), want, 0))
		return;
	uint64_t count = c->count;
	if (c->type == EXO_CAP_MEMORY && c->first == EXO_MEM_DRAW)
		count = 0;	/* the copy draws on c */
	else if (c->type == EXO_CAP_MEMORY)
		c->count = 0;
	install(KEY(to, ns), (struct mcap){ .type = c->type, .rights = rights, .first = c->first, .count = count,
					   .parent = KEY(e, s), .counted = c->counted, .obj = c->obj });
}

/* CAP_GRANT_RANGE: all or none.  Ranges that run past the table or wrap
 * (a huge n), a destination past the table, a source slot empty, a
 * budget or without GRANT or the rights asked, a destination slot taken:
 * each must leave every table as it was, which the comparison after the
 * step checks.  A grant takes no kernel memory, so no quota can run out
 * in its middle. */
static void op_grant_range(int e)
{
	int s = pick_slot(e, 0), es = pick_env_slot(e, 10);
	uint64_t first = (uint64_t)s, n = chance(80) ? 1 + below(6) : below(CAP_SLOTS + 2);
	if (chance(3))
		n = chance(50) ? UINT64_MAX - below(4) : (uint64_t)CAP_SLOTS - first + 1 + below(2);
	if (chance(30) && first >= 3 && first < CAP_SLOTS)
		first -= below(3);	/* a run that starts before a cap we hold */
	struct mcap *c = first < CAP_SLOTS ? mc(KEY(e, (int)first)) : NULL;
	uint32_t rights = pick_rights(c && c->type ? c->rights : EXO_R_ALL);
	if (chance(60) && first < CAP_SLOTS && n <= CAP_SLOTS - first) {
		uint32_t all = EXO_R_ALL;	/* what every cap of the run grants */
		for (uint64_t i = 0; i < n; i++)
			all &= mc(KEY(e, (int)(first + i)))->rights;
		rights = all & (uint32_t)rnd();
	}
	uint64_t dest = chance(10) ? below(CAP_SLOTS + 3) : CAP_SLOTS - below(64) - (n < 64 ? n : 0);
	if (chance(5))
		dest = UINT64_MAX - below(2);
	int64_t err, want = 0;
	int to = NONE;
	step_desc = "grant_range";
	if (n == 0 || n > CAP_SLOTS || first >= CAP_SLOTS || n > CAP_SLOTS - first)
		want = -EXO_EINVAL;
	if (!want) {
		to = env_arg(e, (uint64_t)es, EXO_R_CONTROL, &err);
		want = err;
	}
	if (!want && rights > EXO_R_ALL)
		want = -EXO_EACCES;
	if (!want && (dest == 0 || dest > CAP_SLOTS || n > CAP_SLOTS - (dest - 1)))
		want = -EXO_EINVAL;
	for (uint64_t i = 0; !want && i < n; i++) {
		struct mcap *k = mc(KEY(e, (int)(first + i)));
		if (!k->type)
			want = -EXO_EBADF;
		else if (k->type == EXO_CAP_MEMORY)
			want = -EXO_EINVAL;
		else if (!(k->rights & EXO_R_GRANT) || (rights & ~k->rights))
			want = -EXO_EACCES;
	}
	for (uint64_t i = 0; !want && i < n; i++)
		if (mc(KEY(to, (int)(dest - 1 + i)))->type)
			want = -EXO_EEXIST;
	if (!expect(kcall(e, EXO_SYS_CAP_GRANT_RANGE, first, (uint64_t)es, rights, dest, n), want, 0))
		return;
	for (uint64_t i = 0; i < n; i++) {
		int from = KEY(e, (int)(first + i));
		struct mcap *k = mc(from);
		install(KEY(to, (int)(dest - 1 + i)), (struct mcap){ .type = k->type, .rights = rights, .first = k->first,
			.count = k->count, .parent = from, .counted = k->counted, .obj = k->obj });
	}
}

static void op_delete_or_revoke(int e, int revoke)
{
	int s = pick_slot(e, 0);
	if (s < CAP_SLOTS && mc(KEY(e, s))->type == EXO_CAP_ENV && chance(s == EXO_SLOT_SELF_ENV ? 95 : 70))
		s = pick_slot(e, 0);	/* envs should live a while, and keep their own cap */
	/* the root's own cap and its budget go rarely: the run would end there */
	if (e == 0 && (s == EXO_SLOT_SELF_ENV || s == EXO_SLOT_MEMORY) && !chance(1))
		return;
	step_desc = revoke ? "revoke" : "delete";
	int64_t want = lookup(e, (uint64_t)s, 0, 0);
	if (!expect(kcall(e, revoke ? EXO_SYS_CAP_REVOKE : EXO_SYS_CAP_DELETE, (uint64_t)s, 0, 0, 0, 0), want, 0))
		return;
	if (revoke)
		model_revoke(KEY(e, s));
	else
		model_delete(KEY(e, s));
}

/* MEM_ALLOC's checks (MEM_ALLOC_COPY's first ones) as the model makes
 * them: 0 and the slot the cap goes to in *ns, or the error. */
static int64_t alloc_want(int e, int s, uint64_t pages, int *ns)
{
	int64_t want = lookup(e, (uint64_t)s, EXO_CAP_MEMORY, 0);
	if (!want && (pages == 0 || pages > 512))
		want = -EXO_EINVAL;
	if (!want && pages > mc(msource(KEY(e, s)))->count)	/* the budget it spends */
		want = -EXO_ENOMEM;
	*ns = want ? NONE : first_free_slot(e);
	if (!want && *ns == NONE)
		want = -EXO_ENOSPC;
	return want;
}

/* The model's side of the FRAME cap a MEM_ALLOC(_COPY) made in slot ns,
 * after checking its frames were free of every cap. */
static void alloc_done(int e, int s, int ns, uint64_t pages)
{
	struct cap *k = &envs[e].k->caps[ns];
	for (uint64_t f = k->first; f < k->first + pages; f++)
		if (refs[f])
			fail("%s handed out frame %#lx that caps still cover", step_desc, (unsigned long)f);
	mc(msource(KEY(e, s)))->count -= pages;
	install(KEY(e, ns), (struct mcap){ .type = EXO_CAP_FRAME,
		.rights = mc(KEY(e, s))->rights | EXO_R_READ | EXO_R_WRITE | EXO_R_EXEC | EXO_R_GRANT | EXO_R_DERIVE,
		.first = k->first, .count = pages, .parent = KEY(e, s), .counted = 1 });
}

static void op_mem_alloc(int e)
{
	int s = pick_memory(e), ns;
	uint64_t pages = chance(80) ? 1 + below(16) : below(600);
	step_desc = "mem_alloc";
	int64_t want = alloc_want(e, s, pages, &ns);
	if (expect(kcall(e, EXO_SYS_MEM_ALLOC, (uint64_t)s, pages, 0, 0, 0), want ? want : ns, 1))
		alloc_done(e, s, ns, pages);
}

static uint32_t prot_rights(uint64_t prot)
{
	return EXO_R_READ | (prot & EXO_PROT_WRITE ? EXO_R_WRITE : 0) | (prot & EXO_PROT_EXEC ? EXO_R_EXEC : 0);
}

static uint64_t pick_va(int *vi)
{
	*vi = chance(10) ? NVAS : (int)below(NVAS + 1);
	if (chance(3)) {
		*vi = NONE;
		uint64_t odd[] = { EXO_USER_MAP_END, EXO_USER_TOP - PAGE_SIZE, EXO_USER_TOP, VA_BASE + 1, rnd() };
		return odd[below(5)];
	}
	return va_of(*vi);
}

/* Mostly a va that env t has mapped. */
static uint64_t pick_mapped_va(int t, int *vi)
{
	uint64_t va = pick_va(vi);
	if (t == NONE || !chance(70))
		return va;
	for (int tries = 0; tries < 16; tries++) {
		int v = (int)below(NVAS + 1);
		if (envs[t].maps[v].used) {
			*vi = v;
			return va_of(v);
		}
	}
	return va;
}

static int env_named(int e, int slot)
{
	return slot < CAP_SLOTS && mc(KEY(e, slot))->type == EXO_CAP_ENV ? mc(KEY(e, slot))->obj : NONE;
}

/* How many pages a PAGE_MAP at model page vi names (its last argument; 0
 * means 1): mostly a run that stays among the model's pages, sometimes
 * one past them, past the range limit or the user half. */
static uint64_t pick_run(int vi)
{
	if (chance(40))
		return below(2);
	if (chance(5))
		return chance(50) ? EXO_PAGE_RANGE_MAX + 1 : ~0ull / PAGE_SIZE;
	if (vi == NONE || vi == NVAS)
		return 1 + below(4);
	return 1 + below((uint64_t)(NVAS - vi));
}

static void op_page_map(int e)
{
	int es = pick_env_slot(e, 80), vi;
	uint64_t va = pick_va(&vi);
	uint64_t prot = EXO_PROT_READ | (chance(50) ? EXO_PROT_WRITE : 0) | (chance(20) ? EXO_PROT_EXEC : 0);
	if (chance(5))
		prot = below(16);
	uint64_t run = pick_run(vi), pages = run ? run : 1;
	int64_t err;
	step_desc = "page_map";
	int t = env_arg(e, (uint64_t)es, EXO_R_MAP, &err);
	int64_t want = err;
	int holder = prot & EXO_MAP_TARGET_CAP ? t : e;
	int fs = pick_slot(holder == NONE ? e : holder, EXO_CAP_FRAME);
	struct mcap *f = fs < CAP_SLOTS && holder != NONE ? mc(KEY(holder, fs)) : NULL;
	uint64_t index = f && f->type ? below(f->count + 1) : below(4);
	uint64_t p = prot & ~(uint64_t)EXO_MAP_TARGET_CAP;
	if (!want && (va % PAGE_SIZE || va >= EXO_USER_MAP_END || p > 7 || !(p & EXO_PROT_READ) ||
		      ((p & EXO_PROT_WRITE) && (p & EXO_PROT_EXEC)) || pages > EXO_PAGE_RANGE_MAX ||
		      pages > (EXO_USER_MAP_END - va) / PAGE_SIZE))
		want = -EXO_EINVAL;
	if (!want)
		want = lookup(holder, (uint64_t)fs, EXO_CAP_FRAME, prot_rights(p));
	if (!want && (index >= f->count || pages > f->count - index))
		want = -EXO_EINVAL;
	/* a run the model cannot follow (past its pages, over the start
	 * page after kinfo) is only tried where it must be refused */
	if (!want && pages > 1 && (vi == NONE || vi == NVAS || vi + (int)pages > NVAS))
		return;
	if (!expect(kcall6(e, EXO_SYS_PAGE_MAP, (uint64_t)es, va, (uint64_t)fs, index, prot, run), want, 1))
		return;
	for (uint64_t i = 0; i < pages; i++)
		envs[t].maps[vi + (int)i] = (struct mmap_entry){ 1, KEY(holder, fs), f->first + index + i, (uint32_t)p };
}

/* MEM_ALLOC_COPY's pieces as the model checks them, in the kernel's order
 * of checks: 0 or the error. */
static int64_t model_pieces(int e, const struct exo_mem_copy *p, uint64_t n, uint64_t bytes)
{
	uint64_t end = 0;
	for (uint64_t i = 0; i < n; i++) {
		int64_t err = lookup(e, p[i].slot, EXO_CAP_FRAME, EXO_R_READ);
		if (err)
			return err;
		uint64_t size = mc(KEY(e, (int)p[i].slot))->count * PAGE_SIZE;
		if (p[i].length == 0 || p[i].offset > size || p[i].length > size - p[i].offset ||
		    p[i].dest < end || p[i].dest > bytes || p[i].length > bytes - p[i].dest)
			return -EXO_EINVAL;
		end = p[i].dest + p[i].length;
	}
	return 0;
}

/* Checks the frames from pfn on hold exactly the pieces' bytes (src: the
 * sources as they were before the call) and zeros elsewhere. */
static void check_filled(uint64_t pfn, uint64_t bytes, const struct exo_mem_copy *p, uint64_t n,
			 uint8_t *const *src)
{
	const uint8_t *d = phys_to_virt(pfn * PAGE_SIZE);
	uint64_t at = 0;
	for (uint64_t i = 0; i <= n; i++) {
		uint64_t to = i < n ? p[i].dest : bytes;
		for (; at < to; at++)
			if (d[at])
				fail("MEM_ALLOC_COPY left byte %#lx %#x, not zero", (unsigned long)at, d[at]);
		if (i < n && memcmp(d + p[i].dest, src[i], p[i].length))
			fail("MEM_ALLOC_COPY: piece %lu's bytes differ from its source", (unsigned long)i);
		at = i < n ? p[i].dest + p[i].length : at;
	}
}

/* A piece's source bytes as they are now (the model's copy). */
static uint8_t *source_bytes(int e, const struct exo_mem_copy *p)
{
	const struct mcap *f = mc(KEY(e, (int)p->slot));
	uint8_t *b = malloc(p->length);
	if (!b)
		fail("out of host memory");
	memcpy(b, (uint8_t *)phys_to_virt(f->first * PAGE_SIZE) + p->offset, p->length);
	return b;
}

#define COPY_PIECES 4

/* MEM_ALLOC_COPY, pieces written in a page e maps (or at a bad address):
 * mostly pieces of e's frame caps in order, sometimes past a cap's end or
 * the new frames', out of order, of a cap without READ, or no cap. */
static void op_mem_alloc_copy(int e)
{
	int s = pick_memory(e), vi, ns;
	uint64_t pages = chance(80) ? 1 + below(8) : below(600);
	uint64_t n = chance(90) ? below(COPY_PIECES + 1) : chance(50) ? EXO_MEM_COPY_MAX + 1 : rnd();
	uint64_t va = pick_mapped_va(e, &vi);
	if (vi == NONE || vi == NVAS) {		/* never the kernel's info page: the model has not its bytes */
		vi = NONE;
		va = chance(50) ? EXO_USER_TOP - 8 : 0xffff800000001000ull;
	}
	struct exo_mem_copy p[COPY_PIECES];
	uint64_t dest = 0;
	for (int i = 0; i < COPY_PIECES; i++) {
		int fs = pick_slot(e, EXO_CAP_FRAME);
		uint64_t size = fs < CAP_SLOTS ? mc(KEY(e, fs))->count * PAGE_SIZE : PAGE_SIZE;
		uint64_t off = chance(95) ? below(size + 1) : rnd();
		uint64_t len = chance(95) ? below(size - (off < size ? off : size) + 2) : rnd();
		dest = chance(95) ? dest + below(PAGE_SIZE) : rnd();
		p[i] = (struct exo_mem_copy){ (uint64_t)fs, off, len, dest };
		dest += chance(95) ? len : 0;
	}
	int in_page = vi != NONE && envs[e].maps[vi].used;
	if (in_page)
		memcpy(phys_to_virt(envs[e].maps[vi].pfn * PAGE_SIZE), p, sizeof p);
	step_desc = "mem_alloc_copy";
	int64_t want = alloc_want(e, s, pages, &ns);
	if (!want && n > EXO_MEM_COPY_MAX)
		want = -EXO_EINVAL;
	if (!want && n && !in_page)
		want = -EXO_EFAULT;
	if (!want)
		want = model_pieces(e, p, n, pages * PAGE_SIZE);
	uint8_t *src[COPY_PIECES] = { 0 };
	for (uint64_t i = 0; !want && i < n; i++)
		src[i] = source_bytes(e, &p[i]);
	int64_t got = kcall(e, EXO_SYS_MEM_ALLOC_COPY, (uint64_t)s, pages, va, n, 0);
	if (expect(got, want ? want : ns, 1)) {
		check_filled(envs[e].k->caps[ns].first, pages * PAGE_SIZE, p, n, src);
		alloc_done(e, s, ns, pages);
	}
	for (int i = 0; i < COPY_PIECES; i++)
		free(src[i]);
}

/* Whether unmapping [va, va + pages pages) of t splits one of the
 * kernel's records in two (it maps pages on both sides of the range):
 * only then may the unmap run out of quota. */
static int splits_record(int t, uint64_t va, uint64_t pages)
{
	struct mapping *m = t == NONE ? NULL : env_mapping_at(envs[t].k, va);
	return m && m->va < va && m->va + m->pages * PAGE_SIZE > va + pages * PAGE_SIZE;
}

static unsigned long n_splits;

/* A page of t strictly inside one of the kernel's records (so unmapping
 * it splits the record), or NONE. */
static int pick_inside_record(int t)
{
	int start = (int)below(NVAS);
	for (int i = 0; t != NONE && envs[t].exists && i < NVAS; i++) {
		int v = (start + i) % NVAS;
		if (splits_record(t, va_of(v), 1))
			return v;
	}
	return NONE;
}

/* PAGE_UNMAP of one page or a run of the model's pages: inside a run
 * mapped by one PAGE_MAP it splits the kernel's record. */
static void op_page_unmap(int e)
{
	int es = pick_env_slot(e, 85), vi;
	uint64_t va = pick_mapped_va(env_named(e, es), &vi);
	int inside = chance(30) ? pick_inside_record(env_named(e, es)) : NONE;
	if (inside != NONE)
		va = va_of(vi = inside);
	uint64_t run = chance(50) ? 0 : pick_run(vi), pages = run ? run : 1;
	if (pages > 1 && pages <= EXO_PAGE_RANGE_MAX && (vi == NONE || vi == NVAS || vi + (int)pages > NVAS))
		run = 0, pages = 1;	/* a run the model cannot follow */
	int64_t err;
	step_desc = "page_unmap";
	int t = env_arg(e, (uint64_t)es, EXO_R_MAP, &err);
	int64_t want = err;
	if (!want && (va % PAGE_SIZE || va >= EXO_USER_TOP || pages > EXO_PAGE_RANGE_MAX ||
		      pages > (EXO_USER_TOP - va) / PAGE_SIZE))
		want = -EXO_EINVAL;
	int any = 0;
	for (uint64_t i = 0; !want && vi != NONE && i < pages; i++)
		any |= envs[t].maps[vi + (int)i].used;
	if (!want && !any)
		want = -EXO_ENOENT;
	int split = !want && splits_record(t, va, pages);
	uint64_t before = t == NONE ? 0 : envs[t].k->nmappings;
	if (!expect(kcall(e, EXO_SYS_PAGE_UNMAP, (uint64_t)es, va, run, 0, 0), want, split))
		return;
	if (split && envs[t].k->nmappings != before + 1)
		fail("a split left %lu records of %lu", (unsigned long)envs[t].k->nmappings, (unsigned long)before);
	n_splits += split;
	for (uint64_t i = 0; i < pages; i++)
		envs[t].maps[vi + (int)i].used = 0;
}

static void op_page_protect(int e)
{
	int es = pick_env_slot(e, 85), vi;
	uint64_t va = pick_mapped_va(env_named(e, es), &vi);
	uint64_t prot = chance(90) ? EXO_PROT_READ | (chance(50) ? EXO_PROT_WRITE : 0) | (chance(20) ? EXO_PROT_EXEC : 0)
				   : below(9);
	int64_t err;
	step_desc = "page_protect";
	int t = env_arg(e, (uint64_t)es, EXO_R_MAP, &err);
	int64_t want = err;
	if (!want && (prot > 7 || !(prot & EXO_PROT_READ)))
		want = -EXO_EINVAL;
	if (!want && (va % PAGE_SIZE || va >= EXO_USER_TOP ||
		      ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC))))
		want = -EXO_EINVAL;
	struct mmap_entry *mm = !want && vi != NONE ? &envs[t].maps[vi] : NULL;
	if (!want && (!mm || !mm->used))
		want = -EXO_ENOENT;
	if (!want && mm->holder == NONE && prot != EXO_PROT_READ)
		want = -EXO_EACCES;
	if (!want && mm->holder != NONE && (mc(mm->holder)->rights & prot_rights(prot)) != prot_rights(prot))
		want = -EXO_EACCES;
	if (!expect(kcall(e, EXO_SYS_PAGE_PROTECT, (uint64_t)es, va, prot, 0, 0), want, 0))
		return;
	mm->prot = (uint32_t)prot;
}

static void op_env_create(int e)
{
	int s = pick_memory(e);
	uint64_t quota = chance(90) ? 28 + below(60) : below(64);
	step_desc = "env_create";
	int64_t want = lookup(e, (uint64_t)s, EXO_CAP_MEMORY, 0);
	int free_env = 0;
	for (int i = 0; i < MAX_ENVS; i++)
		free_env |= !envs[i].exists;
	if (!want && !free_env)
		return;		/* the model's table is full: try something else */
	int ns = want ? NONE : first_free_slot(e);
	if (!want && ns == NONE)
		want = -EXO_ENOSPC;
	if (!want && quota < env_fixed_pages() + 8)
		want = -EXO_EINVAL;
	if (!want && mc(msource(KEY(e, s)))->count < quota)
		want = -EXO_ENOMEM;
	if (!want)
		want = ns;
	if (!expect(kcall(e, EXO_SYS_ENV_CREATE, (uint64_t)s, quota, 0, 0, 0), want, 1))
		return;
	int src = msource(KEY(e, s));
	mc(src)->count -= quota;
	int n = adopt_env(envs[e].k->caps[ns].obj, quota, src);
	install(KEY(e, ns), (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = n });
}

/* A new env needs a thread to make calls from: the creator makes one and
 * starts it (its registers are never used: calls are made on its behalf). */
static void op_thread_create(int e)
{
	int es = pick_env_slot(e, 50);
	int64_t err;
	step_desc = "thread_create";
	int t = env_arg(e, (uint64_t)es, EXO_R_CONTROL, &err);
	int64_t want = err;
	int ns = want ? NONE : first_free_slot(e);
	if (!want && ns == NONE)
		want = -EXO_ENOSPC;
	if (!want)
		want = ns;
	if (!expect(kcall(e, EXO_SYS_THREAD_CREATE, (uint64_t)es, 0, 0, 0, 0), want, 1))
		return;
	envs[t].threads_charged++;
	struct thread *th = envs[e].k->caps[ns].obj;
	thread_start(th);
	install(KEY(e, ns), (struct mcap){ .type = EXO_CAP_THREAD, .rights = EXO_R_ALL, .parent = NONE,
					  .obj = new_thread_obj(th, t) });
}

static void op_notify_create(int e)
{
	step_desc = "notify_create";
	int ns = first_free_slot(e);
	int64_t want = ns == NONE ? -EXO_ENOSPC : ns;
	if (!expect(kcall(e, EXO_SYS_NOTIFY_CREATE, 0, 0, 0, 0, 0), want, 1))
		return;
	envs[e].notifies_charged++;
	install(KEY(e, ns), (struct mcap){ .type = EXO_CAP_NOTIFY,
		.rights = EXO_R_READ | EXO_R_WRITE | EXO_R_GRANT | EXO_R_DERIVE, .parent = NONE,
		.obj = new_obj(envs[e].k->caps[ns].obj) });
}

static void op_env_kill(int e)
{
	int es = pick_env_slot(e, 10);
	int64_t err;
	step_desc = "env_kill";
	int t = env_arg(e, (uint64_t)es, EXO_R_CONTROL, &err);
	if (t == 0 && !err)
		return;		/* the root's death ends the machine */
	if (!expect(kcall(e, EXO_SYS_ENV_KILL, (uint64_t)es, 9, 0, 0, 0), err, 0))
		return;
	model_kill(t);
}

/* Two envs e names get caps to each other; then e often drops its own
 * caps to them, leaving a cycle nothing else reaches. */
static void op_cross_link(int e)
{
	int cand[CAP_SLOTS], n = 0;
	const uint32_t need = EXO_R_GRANT | EXO_R_CONTROL;
	for (int s = 0; s < CAP_SLOTS; s++) {
		struct mcap *c = mc(KEY(e, s));
		if (c->type == EXO_CAP_ENV && c->obj != e && envs[c->obj].alive && (c->rights & need) == need)
			cand[n++] = s;
	}
	if (n < 2)
		return;
	int a = cand[below((uint64_t)n)], b = cand[below((uint64_t)n)];
	int ea = env_named(e, a), eb = env_named(e, b);
	if (ea == eb)
		return;
	step_desc = "cross-link";
	int sa = first_free_slot(eb), sb = first_free_slot(ea);
	if (sa == NONE || sb == NONE)
		return;
	uint32_t r = EXO_R_CONTROL | EXO_R_MAP | EXO_R_GRANT;
	if (!expect(kcall(e, EXO_SYS_CAP_GRANT, (uint64_t)a, (uint64_t)b, r & mc(KEY(e, a))->rights, 0, 0), sa, 0))
		return;
	install(KEY(eb, sa), (struct mcap){ .type = EXO_CAP_ENV, .rights = r & mc(KEY(e, a))->rights,
					   .parent = KEY(e, a), .obj = ea });
	if (!(mc(KEY(e, b))->rights & EXO_R_GRANT))
		return;
	if (!expect(kcall(e, EXO_SYS_CAP_GRANT, (uint64_t)b, (uint64_t)a, r & mc(KEY(e, b))->rights, 0, 0), sb, 0))
		return;
	install(KEY(ea, sb), (struct mcap){ .type = EXO_CAP_ENV, .rights = r & mc(KEY(e, b))->rights,
					   .parent = KEY(e, b), .obj = eb });
	if (chance(50)) {
		expect(kcall(e, EXO_SYS_CAP_DELETE, (uint64_t)a, 0, 0, 0, 0), 0, 0);
		model_delete(KEY(e, a));
		model_reap();
		futex_settle();
		compare_and_check();
		if (mc(KEY(e, b))->type == EXO_CAP_ENV) {
			expect(kcall(e, EXO_SYS_CAP_DELETE, (uint64_t)b, 0, 0, 0, 0), 0, 0);
			model_delete(KEY(e, b));
		}
	}
}

/* The threads of model env e that live (CAP_INSPECT's count for an env). */
static uint64_t threads_alive(int e)
{
	uint64_t n = 0;
	for (int o = 0; o < nobjs; o++)
		n += thread_env[o] == e && thread_gen[o] == envs[e].gen && thread_alive[o];
	return n;
}

/* Whether anything but FRAME cap k reaches one of its frames, found by
 * brute force: another FRAME cap, in any env, over one of the same frames,
 * or a page mapped through k in another env. */
static int frames_shared(int k)
{
	const struct mcap *c = mc(k);
	for (int o = 0; o < MAX_ENVS * CAP_SLOTS; o++)
		if (o != k && caps[o].type == EXO_CAP_FRAME && caps[o].first < c->first + c->count &&
		    c->first < caps[o].first + caps[o].count)
			return 1;
	for (int e = 0; e < MAX_ENVS; e++)
		for (int vi = 0; e != KEY_ENV(k) && envs[e].exists && vi <= NVAS; vi++)	/* NVAS: kinfo's place */
			if (envs[e].maps[vi].used && envs[e].maps[vi].holder == k)
				return 1;
	return 0;
}

/* CAP_INSPECT into a page of the caller: the kernel writes user memory
 * only through a writable mapping, and what it writes is the cap. */
static void op_inspect(int e)
{
	int s = pick_slot(e, 0), vi;
	uint64_t va = pick_mapped_va(e, &vi);
	if (vi == NONE)
		vi = 0, va = va_of(0);
	va += chance(80) ? 64 : PAGE_SIZE - 16;
	if (chance(4))
		va = EXO_USER_TOP - 8, vi = NONE;
	step_desc = "cap_inspect";
	int64_t want = lookup(e, (uint64_t)s, 0, 0);
	struct mmap_entry *mm = vi != NONE ? &envs[e].maps[vi] : NULL;
	int whole = va % PAGE_SIZE == 64;
	if (!want && (!mm || !mm->used || !(mm->prot & EXO_PROT_WRITE) || !whole))
		want = -EXO_EFAULT;
	if (want == -EXO_EFAULT && mm && mm->used && (mm->prot & EXO_PROT_WRITE) && !whole && vi + 1 < NVAS &&
	    envs[e].maps[vi + 1].used && (envs[e].maps[vi + 1].prot & EXO_PROT_WRITE))
		want = 0;	/* straddles two writable pages */
	if (!expect(kcall(e, EXO_SYS_CAP_INSPECT, (uint64_t)s, va, 0, 0, 0), want, 0))
		return;
	struct exo_cap_info info;
	uint8_t *p = (uint8_t *)phys_to_virt(mm->pfn * PAGE_SIZE) + va % PAGE_SIZE;
	if (!whole)
		return;
	memcpy(&info, p, sizeof info);
	struct mcap *c = mc(KEY(e, s));
	uint64_t count = c->type == EXO_CAP_MEMORY ? mc(msource(KEY(e, s)))->count : c->count;
	if (c->type == EXO_CAP_ENV)
		count = threads_alive(c->obj);
	if (info.type != (uint32_t)c->type || info.rights != c->rights || info.first != c->first || info.count != count)
		fail("CAP_INSPECT wrote something else than the cap");
	if (c->type == EXO_CAP_FRAME && info.object != (uint64_t)frames_shared(KEY(e, s)))
		fail("CAP_INSPECT says the frames of slot %d are %sshared", s, info.object ? "" : "not ");
}


/* ------------------------------------------------------------- futexes */

/* The model's page index of va (NONE outside the pages it tracks). */
static int vi_of(uint64_t va)
{
	if (va >= EXO_KINFO_VA && va < EXO_KINFO_VA + PAGE_SIZE)
		return NVAS;
	if (va >= VA_BASE && va < VA_BASE + (uint64_t)NVAS * PAGE_SIZE)
		return (int)((va - VA_BASE) / PAGE_SIZE);
	return NONE;
}

/* The error FUTEX_WAIT or WAKE gives for va in e before looking at the
 * word, or 0 with the word's physical address in *pa. */
static int64_t futex_arg(int e, uint64_t va, uint64_t *pa)
{
	int vi = vi_of(va);
	if (va % 4)
		return -EXO_EINVAL;
	if (va >= EXO_USER_TOP || vi == NONE || !envs[e].maps[vi].used)
		return -EXO_EFAULT;
	*pa = envs[e].maps[vi].pfn * PAGE_SIZE + va % PAGE_SIZE;
	return 0;
}

/* A word address for a futex call: mostly in a page e maps, sometimes
 * one another env waits on, sometimes unaligned or anywhere. */
static uint64_t pick_futex_va(int e)
{
	if (chance(50))
		for (int tries = 0; tries < 8; tries++) {
			struct mwaiter *w = &waiters[below(MAX_WAITERS)];
			if (!w->used)
				continue;
			for (int v = 0; v <= NVAS; v++)
				if (envs[e].maps[v].used && envs[e].maps[v].pfn == w->pa / PAGE_SIZE)
					return va_of(v) + w->pa % PAGE_SIZE;
		}
	int vi;
	uint64_t va = pick_mapped_va(e, &vi) + 4 * below(8);
	return chance(5) ? va + 1 + below(3) : va;
}

/* Checks the kernel woke waiter w with result r, and forgets it. */
static void waiter_woken(struct mwaiter *w, int64_t r)
{
	n_woken[r == 0 ? 0 : r == -EXO_ETIMEDOUT ? 1 : 2]++;
	if (w->t->state != T_RUNNABLE || w->t->wait_result != (uint64_t)r)
		fail("futex waiter in env %d: state %d result %ld, the model expects it woken with %ld", w->env,
		     w->t->state, (long)w->t->wait_result, (long)r);
	w->used = 0;
}

static int runnable_threads(int e)
{
	int n = 0;
	for (struct thread *t = envs[e].k->threads; t; t = t->env_next)
		n += t->state == T_RUNNABLE;
	return n;
}

static void op_futex_wait(int e)
{
	uint64_t va = pick_futex_va(e), pa = 0;
	uint64_t timeout = chance(20) ? 0 : chance(50) ? 1000 + below(1000000) : EXO_FOREVER;
	step_desc = "futex_wait";
	int64_t want = futex_arg(e, va, &pa);
	uint32_t *word = want ? NULL : (uint32_t *)phys_to_virt(pa);
	/* the word as another thread left it (never in the kernel's page) */
	if (word && chance(20) && vi_of(va) != NVAS)
		*word = (uint32_t)rnd();
	uint64_t expected = word && chance(80) ? *word : (uint32_t)rnd();
	if (chance(3))
		expected |= 1ull << (32 + below(32));
	if (e == 0 && runnable_threads(0) < 2)
		timeout = 0;		/* the root keeps a thread to call from */
	if (expected > UINT32_MAX)
		want = -EXO_EINVAL;
	else if (!want && *word != expected)
		want = -EXO_EAGAIN;
	else if (!want && timeout == 0)
		want = -EXO_ETIMEDOUT;
	struct thread *t = caller(e);
	int64_t got = kcall(e, EXO_SYS_FUTEX_WAIT, va, expected, timeout, 0, 0);
	if (want) {
		expect(got, want, 0);
		return;
	}
	/* it blocked: the call comes back only when the thread is woken */
	int i = 0;
	while (i < MAX_WAITERS && waiters[i].used)
		i++;
	if (i == MAX_WAITERS)
		fail("model out of waiter records");
	waiters[i] = (struct mwaiter){ 1, t, e, vi_of(va), pa, timeout != EXO_FOREVER, ++wait_seq };
	if (t->state != T_BLOCKED)
		fail("FUTEX_WAIT on a matching word did not block (returned %ld)", (long)got);
	hist[op_no][0]++;
	n_ok++;
	n_blocked++;
}

static void op_futex_wake(int e)
{
	uint64_t va = pick_futex_va(e), pa = 0;
	uint64_t n = chance(80) ? below(4) : rnd();
	step_desc = "futex_wake";
	int64_t want = futex_arg(e, va, &pa);
	struct mwaiter *order[MAX_WAITERS];
	int64_t nw = 0;
	for (int i = 0; !want && i < MAX_WAITERS; i++)
		if (waiters[i].used && waiters[i].pa == pa)
			order[nw++] = &waiters[i];
	for (int64_t i = 1; i < nw; i++)	/* oldest first */
		for (int64_t j = i; j > 0 && order[j]->seq < order[j - 1]->seq; j--) {
			struct mwaiter *x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	if (!want)
		want = (uint64_t)nw < n ? nw : (int64_t)n;
	if (!expect(kcall(e, EXO_SYS_FUTEX_WAKE, va, n, 0, 0, 0), want, 0))
		return;
	for (int64_t i = 0; i < want; i++)
		waiter_woken(order[i], 0);
	if (want < nw && order[want]->t->state != T_BLOCKED)
		fail("FUTEX_WAKE woke more than it was asked to");
}

/* Time passes beyond every finite timeout: those waits end. */
static void op_time_passes(void)
{
	step_desc = "time passes";
	kmodel_time_advance(2000000000ull);
	sched_tick();
	need_resched = 0;
	for (int i = 0; i < MAX_WAITERS; i++)
		if (waiters[i].used && waiters[i].timed)
			waiter_woken(&waiters[i], -EXO_ETIMEDOUT);
}

/* After each step: waiters of envs that died are gone with their threads;
 * a waiter whose page left its env or now maps another frame woke with
 * -EFAULT. */
static void futex_settle(void)
{
	for (int i = 0; i < MAX_WAITERS; i++) {
		struct mwaiter *w = &waiters[i];
		if (!w->used)
			continue;
		if (!envs[w->env].alive) {
			w->used = 0;
			continue;
		}
		struct mmap_entry *mm = &envs[w->env].maps[w->vi];
		if (!mm->used || mm->pfn != w->pa / PAGE_SIZE)
			waiter_woken(w, -EXO_EFAULT);
	}
}

/* ------------------------------------------------ teardown calls (execve) */

/* THREAD_END: only a thread of the caller's own env, never the caller;
 * a waiter it ends leaves no futex record, and its stack's charge goes
 * back to its env. */
static void op_thread_end(int e)
{
	int s = pick_slot(e, EXO_CAP_THREAD);
	step_desc = "thread_end";
	int64_t want = lookup(e, (uint64_t)s, EXO_CAP_THREAD, EXO_R_CONTROL);
	struct thread *self_t = caller(e);
	int o = want ? NONE : mc(KEY(e, s))->obj;
	if (!want && (thread_env[o] != e || thread_gen[o] != envs[e].gen))
		want = -EXO_EPERM;
	else if (!want && objs[o] == self_t)
		want = -EXO_EINVAL;
	else if (!want && !thread_alive[o])
		want = -EXO_ESRCH;
	if (!expect(kcall(e, EXO_SYS_THREAD_END, (uint64_t)s, 0, 0, 0, 0), want, 0))
		return;
	struct thread *t = objs[o];
	if (t->state != T_DEAD)
		fail("THREAD_END left the thread %d", t->state);
	thread_alive[o] = 0;
	envs[e].threads_ended++;
	for (int i = 0; i < MAX_WAITERS; i++)
		if (waiters[i].used && waiters[i].t == t)
			waiters[i].used = 0;	/* gone with it: no record, no wake */
}

/* A user address for n bytes the kernel writes (or reads): mostly inside
 * one page e maps, sometimes across the end of one, or outside the user
 * half; *vi is the page (NONE: none of the model's). */
static uint64_t pick_buffer(int e, uint64_t n, int *vi)
{
	uint64_t va = pick_mapped_va(e, vi);
	if (*vi == NONE)
		*vi = 0, va = va_of(0);
	if (chance(4)) {
		*vi = NONE;
		return EXO_USER_TOP - 8;
	}
	return va + (chance(80) ? 64 : PAGE_SIZE - n / 2);
}

/* Whether the model lets the kernel write (or read) [va, va + n) of e. */
static int buffer_ok(int e, uint64_t va, uint64_t n, int vi, int write)
{
	if (vi == NONE)
		return 0;
	for (uint64_t a = va & ~(uint64_t)(PAGE_SIZE - 1); a < va + n; a += PAGE_SIZE) {
		int v = vi_of(a);
		if (v == NONE || !envs[e].maps[v].used ||
		    (write && !(envs[e].maps[v].prot & EXO_PROT_WRITE)))
			return 0;
	}
	return 1;
}

/* Copies [va, va + n) of e to or from host memory through the model's
 * frames (the buffer is known to be mapped). */
static void user_bytes(int e, uint64_t va, void *buf, uint64_t n, int to_user)
{
	for (uint64_t done = 0; done < n;) {
		uint64_t a = va + done, chunk = PAGE_SIZE - a % PAGE_SIZE;
		if (chunk > n - done)
			chunk = n - done;
		uint8_t *p = (uint8_t *)phys_to_virt(envs[e].maps[vi_of(a)].pfn * PAGE_SIZE) + a % PAGE_SIZE;
		if (to_user)
			memcpy(p, (uint8_t *)buf + done, chunk);
		else
			memcpy((uint8_t *)buf + done, p, chunk);
		done += chunk;
	}
}

/* CAP_LIST: the bitmap of e's own used slots, written only through a
 * writable mapping of e; nothing about any other table. */
static void op_cap_list(int e)
{
	uint64_t used[CAP_SLOTS / 64] = { 0 }, got[CAP_SLOTS / 64];
	int vi, n = 0;
	uint64_t va = pick_buffer(e, sizeof used, &vi);
	step_desc = "cap_list";
	for (int s = 0; s < CAP_SLOTS; s++)
		if (mc(KEY(e, s))->type) {
			used[s / 64] |= 1ull << (s % 64);
			n++;
		}
	int64_t want = buffer_ok(e, va, sizeof used, vi, 1) ? n : -EXO_EFAULT;
	if (!expect(kcall(e, EXO_SYS_CAP_LIST, va, 0, 0, 0, 0), want, 0))
		return;
	user_bytes(e, va, got, sizeof got, 0);
	if (memcmp(got, used, sizeof used))
		fail("CAP_LIST wrote another table than the caller's");
}

/* CAP_DELETE_LIST: a list of e's slots, mostly used ones, sometimes one
 * empty, out of range or named twice; any such refuses the whole list
 * before a cap goes. */
static void op_cap_delete_list(int e)
{
	uint64_t slots[8];
	uint64_t n = below(6);
	for (uint64_t i = 0; i < n; i++) {
		int s = pick_slot(e, 0);
		if (s < CAP_SLOTS && mc(KEY(e, s))->type == EXO_CAP_ENV && chance(90))
			s = pick_slot(e, 0);	/* envs should live a while */
		slots[i] = (uint64_t)s;
		if (i && chance(5))
			slots[i] = slots[below(i)];
	}
	int vi;
	uint64_t va = pick_buffer(e, n * 8, &vi);
	if (vi == NVAS)		/* readable, but the list cannot be put there */
		vi = NONE, va = EXO_USER_TOP - 8;
	uint64_t count = chance(3) ? CAP_SLOTS + 1 + below(4) : n;
	step_desc = "cap_delete_list";
	int64_t want = 0;
	if (count > CAP_SLOTS)
		want = -EXO_EINVAL;
	else if (n && !buffer_ok(e, va, n * 8, vi, 0))
		want = -EXO_EFAULT;
	if (!want && n)
		user_bytes(e, va, slots, n * 8, 1);
	uint64_t seen[CAP_SLOTS / 64] = { 0 };
	for (uint64_t i = 0; !want && i < n; i++) {
		if (slots[i] >= CAP_SLOTS || !mc(KEY(e, (int)slots[i]))->type)
			want = -EXO_EBADF;
		else if (seen[slots[i] / 64] >> (slots[i] % 64) & 1)
			want = -EXO_EINVAL;
		else
			seen[slots[i] / 64] |= 1ull << (slots[i] % 64);
	}
	if (!expect(kcall(e, EXO_SYS_CAP_DELETE_LIST, va, count, 0, 0, 0), want, 0))
		return;
	for (uint64_t i = 0; i < n; i++)
		model_delete(KEY(e, (int)slots[i]));
}

/* ------------------------------------------------------------- scripts */

/* Gives child c (ENV cap in the root's slot env) a budget of its own of
 * pages, derived from the root's and granted whole: its slot in c. */
static int64_t give_budget(int c, int64_t env, uint64_t pages)
{
	int64_t budget = kcall(0, EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, pages, 0);
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= pages;
	install(KEY(0, (int)budget), (struct mcap){ .type = EXO_CAP_MEMORY, .rights = EXO_R_ALL, .count = pages,
						   .parent = KEY(0, EXO_SLOT_MEMORY) });
	int64_t mem = kcall(0, EXO_SYS_CAP_GRANT, (uint64_t)budget, (uint64_t)env, EXO_R_ALL, 0, 0);
	install(KEY(c, (int)mem), (struct mcap){ .type = EXO_CAP_MEMORY, .rights = EXO_R_ALL, .count = pages,
						.parent = KEY(0, (int)budget) });
	mc(KEY(0, (int)budget))->count = 0;
	return mem;
}

/* The issue-9 exploit, step by step, against the model: a child env with a
 * 64-page budget, two copies of a fresh frame cap, one mapped, the
 * allocating cap and the other copy deleted, then kernel allocations. */
static void exploit_script(void)
{
	seed_state = 1;
	boot_root();
	step_desc = "exploit";
	int64_t env = kcall(0, EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, 200, 0, 0, 0);
	int c = adopt_env(envs[0].k->caps[env].obj, 200, KEY(0, EXO_SLOT_MEMORY));
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= 200;
	*mc(KEY(0, (int)env)) = (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = c };
	int64_t th = kcall(0, EXO_SYS_THREAD_CREATE, (uint64_t)env, 0, 0, 0, 0);
	thread_start(envs[0].k->caps[th].obj);
	envs[c].threads_charged = 1;
	*mc(KEY(0, (int)th)) = (struct mcap){ .type = EXO_CAP_THREAD, .rights = EXO_R_ALL, .parent = NONE,
					      .obj = new_thread_obj(envs[0].k->caps[th].obj, c) };
	int64_t mem = give_budget(c, env, 64);
	compare_and_check();

	int64_t f = kcall(c, EXO_SYS_MEM_ALLOC, (uint64_t)mem, 64, 0, 0, 0);
	struct cap *kf = &envs[c].k->caps[f];
	install(KEY(c, (int)f), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_ALL, .first = kf->first,
					       .count = 64, .parent = KEY(c, (int)mem), .counted = 1 });
	mc(KEY(c, (int)mem))->count -= 64;
	uint64_t first = kf->first;
	int64_t b = kcall(c, EXO_SYS_CAP_DERIVE, (uint64_t)f, EXO_R_ALL, first, 64, 0);
	install(KEY(c, (int)b), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_ALL, .first = first,
					       .count = 64, .parent = KEY(c, (int)f), .counted = 1 });
	int64_t d = kcall(c, EXO_SYS_CAP_DERIVE, (uint64_t)f, EXO_R_ALL, first, 64, 0);
	install(KEY(c, (int)d), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_ALL, .first = first,
					       .count = 64, .parent = KEY(c, (int)f), .counted = 1 });
	if (kcall(c, EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va_of(0), (uint64_t)b, 0, EXO_PROT_READ | EXO_PROT_WRITE))
		fail("exploit: map failed");
	envs[c].maps[0] = (struct mmap_entry){ 1, KEY(c, (int)b), first, EXO_PROT_READ | EXO_PROT_WRITE };
	compare_and_check();
	kcall(c, EXO_SYS_CAP_DELETE, (uint64_t)f, 0, 0, 0, 0);
	model_delete(KEY(c, (int)f));
	compare_and_check();
	kcall(c, EXO_SYS_CAP_DELETE, (uint64_t)d, 0, 0, 0, 0);
	model_delete(KEY(c, (int)d));
	compare_and_check();
	if (frame_is_free(&kframes, first * PAGE_SIZE))
		fail("exploit: the mapped frame was freed");
	for (int i = 0; i < 8; i++) {
		int64_t t = kcall(c, EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV, 0, 0, 0, 0);
		if (t < 0)
			break;
		envs[c].threads_charged++;
		install(KEY(c, (int)t), (struct mcap){ .type = EXO_CAP_THREAD, .rights = EXO_R_ALL, .parent = NONE,
						       .obj = new_thread_obj(envs[c].k->caps[t].obj, c) });
		compare_and_check();
	}
	kcall(c, EXO_SYS_CAP_DELETE, (uint64_t)b, 0, 0, 0, 0);
	model_delete(KEY(c, (int)b));
	compare_and_check();
	if (mc(KEY(c, (int)mem))->count != 64)
		fail("exploit: the budget did not come back whole");
}

/* Expects PAGE_MAP of a run (its last argument, pages) from env e to be
 * refused with want, mapping nothing. */
static void run_refused(int e, uint64_t es, uint64_t fs, uint64_t index, uint64_t prot, uint64_t pages,
			int64_t want, const char *what)
{
	int64_t got = kcall6(e, EXO_SYS_PAGE_MAP, es, va_of(0), fs, index, prot, pages);
	if (got != want)
		fail("map run: %s returned %ld, not %ld", what, (long)got, (long)want);
	compare_and_check();
}

/*
 * PAGE_MAP of a run, as an attacker would use it: past the end of its
 * cap (into frames it holds only through another cap, or into nobody's),
 * with an index and count that wrap, with more rights than the cap has,
 * into an env it may not map in, and into an env whose quota runs out
 * half way.  Each is refused whole; the run the cap allows maps exactly
 * its frames.
 */
static void spend_quota(int t, uint64_t es, uint64_t fs, uint64_t leave);

static void map_run_script(void)
{
	seed_state = 3;
	boot_root();
	step_desc = "map run";
	int64_t f = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 8, 0, 0, 0);
	struct cap *kf = &envs[0].k->caps[f];
	uint64_t first = kf->first;
	install(KEY(0, (int)f), (struct mcap){ .type = EXO_CAP_FRAME, .rights = kf->rights, .first = first,
					       .count = 8, .parent = KEY(0, EXO_SLOT_MEMORY), .counted = 1 });
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= 8;
	uint32_t ro_rights = EXO_R_READ | EXO_R_GRANT | EXO_R_DERIVE;
	int64_t ro = kcall(0, EXO_SYS_CAP_DERIVE, (uint64_t)f, ro_rights, first, 4, 0);
	install(KEY(0, (int)ro), (struct mcap){ .type = EXO_CAP_FRAME, .rights = ro_rights, .first = first,
						.count = 4, .parent = KEY(0, (int)f), .counted = 1 });
	compare_and_check();

	run_refused(0, EXO_SLOT_SELF_ENV, (uint64_t)ro, 2, EXO_PROT_READ, 4, -EXO_EINVAL, "past the cap's end");
	run_refused(0, EXO_SLOT_SELF_ENV, (uint64_t)ro, 0, EXO_PROT_READ, 5, -EXO_EINVAL, "one past the cap");
	run_refused(0, EXO_SLOT_SELF_ENV, (uint64_t)ro, 1, EXO_PROT_READ, ~0ull, -EXO_EINVAL, "a wrapping count");
	run_refused(0, EXO_SLOT_SELF_ENV, (uint64_t)ro, 3, EXO_PROT_READ, ~0ull - 2, -EXO_EINVAL, "index + count wraps");
	run_refused(0, EXO_SLOT_SELF_ENV, (uint64_t)ro, 0, EXO_PROT_READ | EXO_PROT_WRITE, 4, -EXO_EACCES,
		    "write through a read-only cap");
	run_refused(0, EXO_SLOT_SELF_ENV, (uint64_t)ro, 0, EXO_PROT_READ | EXO_PROT_EXEC, 4, -EXO_EACCES,
		    "execute through a read-only cap");

	/* a child env, and a copy of its cap without MAP */
	int64_t env = kcall(0, EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, env_fixed_pages() + 8, 0, 0, 0);
	int c = adopt_env(envs[0].k->caps[env].obj, env_fixed_pages() + 8, KEY(0, EXO_SLOT_MEMORY));
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= env_fixed_pages() + 8;
	*mc(KEY(0, (int)env)) = (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = c };
	uint32_t nomap = EXO_R_ALL & ~EXO_R_MAP;
	int64_t weak = kcall(0, EXO_SYS_CAP_DERIVE, (uint64_t)env, nomap, 0, 0, 0);
	install(KEY(0, (int)weak), (struct mcap){ .type = EXO_CAP_ENV, .rights = nomap, .parent = KEY(0, (int)env),
						  .obj = c });
	compare_and_check();
	run_refused(0, (uint64_t)weak, (uint64_t)f, 0, EXO_PROT_READ, 8, -EXO_EACCES, "into an env without MAP");

	/* what the caps allow maps exactly their frames */
	if (kcall6(0, EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va_of(0), (uint64_t)ro, 0, EXO_PROT_READ, 4))
		fail("map run: the allowed run was refused");
	for (int i = 0; i < 4; i++)
		envs[0].maps[i] = (struct mmap_entry){ 1, KEY(0, (int)ro), first + (uint64_t)i, EXO_PROT_READ };
	if (kcall6(0, EXO_SYS_PAGE_MAP, (uint64_t)env, va_of(0), (uint64_t)f, 0, EXO_PROT_READ | EXO_PROT_WRITE, 8))
		fail("map run: the allowed run into the child was refused");
	for (int i = 0; i < 8; i++)
		envs[c].maps[i] = (struct mmap_entry){ 1, KEY(0, (int)f), first + (uint64_t)i,
						       EXO_PROT_READ | EXO_PROT_WRITE };
	compare_and_check();

	/* with the child's quota spent, a run of 512 that needs a page
	 * table more is refused and maps none of its pages */
	int64_t big = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 512, 0, 0, 0);
	install(KEY(0, (int)big), (struct mcap){ .type = EXO_CAP_FRAME, .rights = envs[0].k->caps[big].rights,
						 .first = envs[0].k->caps[big].first, .count = 512,
						 .parent = KEY(0, EXO_SLOT_MEMORY), .counted = 1 });
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= 512;
	spend_quota(c, (uint64_t)env, (uint64_t)f, 0);
	int64_t got = kcall6(0, EXO_SYS_PAGE_MAP, (uint64_t)env, VA_BASE + (2ull << 20), (uint64_t)big, 0,
			     EXO_PROT_READ, 512);
	if (got != -EXO_ENOMEM)
		fail("map run: past the target's quota returned %ld", (long)got);
	compare_and_check();
}

/* Maps pages frames of root's frame cap fs (index on) at model pages vi
 * on of model env t (named by root's slot es), as the model expects. */
static void root_maps(uint64_t es, int t, int vi, uint64_t fs, uint64_t index, uint64_t pages)
{
	uint32_t prot = EXO_PROT_READ | EXO_PROT_WRITE;
	int64_t got = kcall6(0, EXO_SYS_PAGE_MAP, es, va_of(vi), fs, index, prot, pages);
	if (got)
		fail("%s: mapping %lu pages at page %d returned %ld", step_desc, (unsigned long)pages, vi, (long)got);
	for (uint64_t i = 0; i < pages; i++)
		envs[t].maps[vi + (int)i] = (struct mmap_entry){ 1, KEY(0, (int)fs), mc(KEY(0, (int)fs))->first + index + i,
								  prot };
}

/* Unmaps pages model pages from vi of model env t (root's slot es),
 * expecting want; the model follows a success. */
static void root_unmaps(uint64_t es, int t, int vi, uint64_t pages, int64_t want)
{
	int64_t got = kcall(0, EXO_SYS_PAGE_UNMAP, es, va_of(vi), pages, 0, 0);
	if (got != want)
		fail("%s: unmapping %lu pages at page %d returned %ld, not %ld", step_desc, (unsigned long)pages, vi,
		     (long)got, (long)want);
	for (uint64_t i = 0; !got && i < pages; i++)
		envs[t].maps[vi + (int)i].used = 0;
	compare_and_check();
}

/*
 * Spends model env t's kernel-memory quota (root's slot es names it)
 * down to leave pages, honestly: root maps a page of frame cap fs at a
 * new 2 MiB span far from the model's pages (a page table more each)
 * and unmaps it again, so only the page tables stay charged.
 */
static void spend_quota(int t, uint64_t es, uint64_t fs, uint64_t leave)
{
	struct env *k = envs[t].k;
	for (uint64_t n = 0; k->quota_pages - k->used_pages > leave; n++) {
		uint64_t va = 0x0000200000000000ull + (n << 21);
		if (n > 1000)
			fail("%s: the quota would not run down", step_desc);
		if (!kcall6(0, EXO_SYS_PAGE_MAP, es, va, fs, 0, EXO_PROT_READ, 1) &&
		    kcall(0, EXO_SYS_PAGE_UNMAP, es, va, 1, 0, 0))
			fail("%s: unmapping a page just mapped failed", step_desc);
	}
	compare_and_check();
}

/* Root's new env (its slot, the model env in *t) of quota extra pages
 * above what every env takes. */
static int64_t root_env(uint64_t extra, int *t)
{
	uint64_t quota = env_fixed_pages() + extra;
	int64_t env = kcall(0, EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, quota, 0, 0, 0);
	if (env < 0)
		fail("%s: ENV_CREATE returned %ld", step_desc, (long)env);
	*t = adopt_env(envs[0].k->caps[env].obj, quota, KEY(0, EXO_SLOT_MEMORY));
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= quota;
	*mc(KEY(0, (int)env)) = (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = *t };
	return env;
}

/* Root's new frame cap of pages frames. */
static int64_t root_frames(uint64_t pages)
{
	int64_t f = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, pages, 0, 0, 0);
	if (f < 0)
		fail("%s: MEM_ALLOC returned %ld", step_desc, (long)f);
	struct cap *kf = &envs[0].k->caps[f];
	install(KEY(0, (int)f), (struct mcap){ .type = EXO_CAP_FRAME, .rights = kf->rights, .first = kf->first,
					       .count = pages, .parent = KEY(0, EXO_SLOT_MEMORY), .counted = 1 });
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= pages;
	return f;
}

/*
 * Splitting a mapping record where its env's quota has no room for one
 * more: a child holds a run of 8 pages and 63 other records, its quota
 * spent to the last page of records.  Unmapping one page or four inside
 * the run, or mapping another frame over its middle, needs a record
 * more, so each is refused with -ENOMEM and changes nothing; unmapping at
 * either edge of the run (it shrinks) and across two runs (one shrinks,
 * two go) needs none; once records went, the split in the middle works
 * and leaves two records on each side of the hole.
 */
static void split_quota_script(void)
{
	seed_state = 5;
	boot_root();
	step_desc = "split at quota";
	int64_t f = root_frames(80);
	int t;
	int64_t env = root_env(24, &t);
	struct env *k = envs[t].k;
	root_maps((uint64_t)env, t, 0, (uint64_t)f, 0, 8);
	for (int v = 8; v < 69; v++)
		root_maps((uint64_t)env, t, v, (uint64_t)f, (uint64_t)v, 1);
	if (k->nmappings != 63)
		fail("split at quota: %lu records before the last", (unsigned long)k->nmappings);
	spend_quota(t, (uint64_t)env, (uint64_t)f, 0);
	root_maps((uint64_t)env, t, 69, (uint64_t)f, 69, 1);
	compare_and_check();
	if (k->nmappings != 64 || k->used_pages != k->quota_pages)
		fail("split at quota: %lu records, %lu of %lu pages charged", (unsigned long)k->nmappings,
		     (unsigned long)k->used_pages, (unsigned long)k->quota_pages);
	root_unmaps((uint64_t)env, t, 3, 1, -EXO_ENOMEM);
	root_unmaps((uint64_t)env, t, 2, 4, -EXO_ENOMEM);
	int64_t got = kcall6(0, EXO_SYS_PAGE_MAP, (uint64_t)env, va_of(4), (uint64_t)f, 70, EXO_PROT_READ, 1);
	if (got != -EXO_ENOMEM)
		fail("split at quota: mapping over the run's middle returned %ld", (long)got);
	compare_and_check();
	root_unmaps((uint64_t)env, t, 0, 1, 0);		/* the first edge */
	root_unmaps((uint64_t)env, t, 7, 1, 0);		/* the last edge */
	root_unmaps((uint64_t)env, t, 6, 4, 0);		/* across the run's end and two more */
	if (k->nmappings != 62)
		fail("split at quota: %lu records after the edges", (unsigned long)k->nmappings);
	root_unmaps((uint64_t)env, t, 3, 1, 0);
	struct mapping *lo = env_mapping_at(k, va_of(1)), *hi = env_mapping_at(k, va_of(4));
	if (k->nmappings != 63 || !lo || !hi || lo == hi || lo->va != va_of(1) || lo->pages != 2 ||
	    hi->va != va_of(4) || hi->pages != 2)
		fail("split at quota: the split left %lu records", (unsigned long)k->nmappings);
}

/* Checks that va of root is page i of a record of pages pages at start. */
static void check_piece(uint64_t va, uint64_t start, uint64_t pages)
{
	struct mapping *m = env_mapping_at(envs[0].k, va);
	if (!m || m->va != start || m->pages != pages)
		fail("%s: %#lx in a record at %#lx of %lu pages, not %#lx of %lu", step_desc, (unsigned long)va,
		     m ? (unsigned long)m->va : 0ul, m ? (unsigned long)m->pages : 0ul, (unsigned long)start,
		     (unsigned long)pages);
}

/*
 * A run across a 2 MiB boundary (two leaf tables) makes a record in each;
 * unmapping across the boundary cuts both; deleting the cap clears the
 * rest.  Away from the model's pages, so checked here directly, then the
 * whole state once nothing is left there.
 */
static void span_run_script(void)
{
	seed_state = 7;
	boot_root();
	step_desc = "run across a span";
	int64_t f = root_frames(8);
	uint64_t first = mc(KEY(0, (int)f))->first, va = VA_BASE + (4ull << 20) - 3 * PAGE_SIZE, n0 = envs[0].k->nmappings;
	if (kcall6(0, EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, (uint64_t)f, 0, EXO_PROT_READ, 8))
		fail("run across a span: the map was refused");
	check_piece(va + 2 * PAGE_SIZE, va, 3);
	check_piece(va + 3 * PAGE_SIZE, va + 3 * PAGE_SIZE, 5);
	for (uint64_t i = 0; i < 8; i++)
		if ((env_pte(envs[0].k, va + i * PAGE_SIZE) & PTE_ADDR) != (first + i) * PAGE_SIZE)
			fail("run across a span: page %lu maps the wrong frame", (unsigned long)i);
	if (kcall(0, EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, va + 2 * PAGE_SIZE, 3, 0, 0))
		fail("run across a span: the unmap across the boundary failed");
	check_piece(va + PAGE_SIZE, va, 2);
	check_piece(va + 5 * PAGE_SIZE, va + 5 * PAGE_SIZE, 3);
	for (uint64_t i = 2; i < 5; i++)
		if (env_pte(envs[0].k, va + i * PAGE_SIZE) || env_mapping_at(envs[0].k, va + i * PAGE_SIZE))
			fail("run across a span: page %lu still mapped", (unsigned long)i);
	if (envs[0].k->nmappings != n0 + 2)
		fail("run across a span: %lu records", (unsigned long)envs[0].k->nmappings);
	if (kcall(0, EXO_SYS_CAP_DELETE, (uint64_t)f, 0, 0, 0, 0))
		fail("run across a span: CAP_DELETE failed");
	model_delete(KEY(0, (int)f));
	compare_and_check();
}

/*
 * A cap revoked while runs of its frames are mapped in two envs, one of
 * them cut in the middle by a run through another cap: every page
 * mapped through the revoked caps goes from both envs, in one record
 * each, and the pages mapped through the surviving cap stay.
 */
static void revoke_run_script(void)
{
	seed_state = 6;
	boot_root();
	step_desc = "revoke mid-run";
	int64_t f = root_frames(16);
	uint64_t first = mc(KEY(0, (int)f))->first;
	uint32_t rights = EXO_R_READ | EXO_R_WRITE | EXO_R_GRANT | EXO_R_DERIVE;
	int64_t r = kcall(0, EXO_SYS_CAP_DERIVE, (uint64_t)f, rights, first + 4, 8, 0);
	if (r < 0)
		fail("revoke mid-run: CAP_DERIVE returned %ld", (long)r);
	install(KEY(0, (int)r), (struct mcap){ .type = EXO_CAP_FRAME, .rights = rights, .first = first + 4,
					       .count = 8, .parent = KEY(0, (int)f), .counted = 1 });
	int t;
	int64_t env = root_env(24, &t);
	root_maps(EXO_SLOT_SELF_ENV, 0, 0, (uint64_t)r, 0, 8);
	root_maps((uint64_t)env, t, 10, (uint64_t)r, 0, 8);
	root_maps((uint64_t)env, t, 20, (uint64_t)f, 0, 4);
	root_maps(EXO_SLOT_SELF_ENV, 0, 20, (uint64_t)f, 0, 4);
	root_maps((uint64_t)env, t, 12, (uint64_t)f, 12, 2);	/* over the run's middle */
	compare_and_check();
	if (envs[t].k->nmappings != 5)	/* kinfo, f's run, r's two pieces and f's middle */
		fail("revoke mid-run: %lu records in the child", (unsigned long)envs[t].k->nmappings);
	if (kcall(0, EXO_SYS_CAP_REVOKE, (uint64_t)f, 0, 0, 0, 0))
		fail("revoke mid-run: CAP_REVOKE failed");
	model_revoke(KEY(0, (int)f));
	compare_and_check();
	for (int v = 10; v < 18; v++)
		if ((v < 12 || v > 13) && env_pte(envs[t].k, va_of(v)))
			fail("revoke mid-run: page %d still mapped after the revoke", v);
	if (!env_pte(envs[t].k, va_of(12)) || envs[t].k->nmappings != 3)
		fail("revoke mid-run: the other cap's pages went too, or records stayed");
}

/* Root's copy of frame cap f in slot s of its own table, with rights. */
static void self_grant(int64_t f, int s, uint32_t rights)
{
	if (kcall(0, EXO_SYS_CAP_GRANT, (uint64_t)f, EXO_SLOT_SELF_ENV, rights, (uint64_t)s + 1, 0) != s)
		fail("%s: CAP_GRANT to slot %d failed", step_desc, s);
	struct mcap *k = mc(KEY(0, (int)f));
	install(KEY(0, s), (struct mcap){ .type = EXO_CAP_FRAME, .rights = rights, .first = k->first,
					  .count = k->count, .parent = KEY(0, (int)f), .counted = k->counted });
}

/* CAP_GRANT_RANGE's attacks, each refused whole: a run through a cap
 * without GRANT, through an empty slot, through the budget, past the
 * table or wrapping, onto a taken slot; then the run granted whole, each
 * copy a child of its own source. */
static void grant_range_script(void)
{
	seed_state = 7;
	boot_root();
	step_desc = "grant range";
	const uint32_t rw = EXO_R_READ | EXO_R_WRITE | EXO_R_GRANT | EXO_R_DERIVE;
	int64_t f = root_frames(4);
	int t;
	int64_t env = root_env(24, &t);
	self_grant(f, 400, rw);
	self_grant(f, 401, EXO_R_READ);		/* no GRANT */
	self_grant(f, 402, rw);
	compare_and_check();
	struct { uint64_t first, rights, dest, n; int64_t want; const char *what; } refused[] = {
		{ 400, EXO_R_READ, 301, 3, -EXO_EACCES, "a cap without GRANT" },
		{ 402, EXO_R_READ, 301, 2, -EXO_EBADF, "an empty slot" },
		{ EXO_SLOT_MEMORY, EXO_R_READ, 301, 1, -EXO_EINVAL, "the budget" },
		{ 400, EXO_R_READ, 301, UINT64_MAX, -EXO_EINVAL, "a wrapping count" },
		{ 400, EXO_R_READ, 301, CAP_SLOTS - 400 + 1, -EXO_EINVAL, "a run past the table" },
		{ 402, EXO_R_READ, CAP_SLOTS, 2, -EXO_EINVAL, "a destination past the table" },
		{ 402, EXO_R_READ, UINT64_MAX, 1, -EXO_EINVAL, "a wrapping destination" },
		{ 402, EXO_R_READ, 0, 1, -EXO_EINVAL, "no destination" },
		{ 402, EXO_R_ALL, 301, 1, -EXO_EACCES, "rights the cap lacks" },
	};
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		int64_t r = kcall(0, EXO_SYS_CAP_GRANT_RANGE, refused[i].first, (uint64_t)env, refused[i].rights,
				  refused[i].dest, refused[i].n);
		if (r != refused[i].want)
			fail("grant range: %s gave %ld, not %ld", refused[i].what, (long)r, (long)refused[i].want);
		compare_and_check();	/* nothing moved, in either table */
	}
	/* 401 grantable now; the child's middle slot of the run taken */
	model_delete(KEY(0, 401));
	kcall(0, EXO_SYS_CAP_DELETE, 401, 0, 0, 0, 0);
	self_grant(f, 401, rw);
	if (kcall(0, EXO_SYS_CAP_GRANT, 402, (uint64_t)env, EXO_R_READ, 302, 0) != 301)
		fail("grant range: CAP_GRANT into the child failed");
	install(KEY(t, 301), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_READ, .first = mc(KEY(0, 402))->first,
					    .count = 4, .parent = KEY(0, 402), .counted = 1 });
	if (kcall(0, EXO_SYS_CAP_GRANT_RANGE, 400, (uint64_t)env, EXO_R_READ, 301, 3) != -EXO_EEXIST)
		fail("grant range: a taken destination was not refused");
	compare_and_check();
	if (kcall(0, EXO_SYS_CAP_GRANT_RANGE, 400, (uint64_t)env, EXO_R_READ | EXO_R_WRITE, 201, 3) != 0)
		fail("grant range: the whole run was refused");
	for (int i = 0; i < 3; i++) {
		install(KEY(t, 200 + i), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_READ | EXO_R_WRITE,
			.first = mc(KEY(0, 400 + i))->first, .count = 4, .parent = KEY(0, 400 + i), .counted = 1 });
		if (envs[t].k->caps[200 + i].parent != &envs[0].k->caps[400 + i])
			fail("grant range: copy %d is not a child of its own source", i);
	}
	compare_and_check();
}

/* A deep grant chain, revoked from its root: linear, and complete. */
static void deep_chain_script(void)
{
	seed_state = 2;
	boot_root();
	step_desc = "deep chain";
	int64_t f = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1, 0, 0, 0);
	int64_t s = f;
	for (int i = 0; i < 400; i++)
		s = kcall(0, EXO_SYS_CAP_DERIVE, (uint64_t)s, EXO_R_ALL, envs[0].k->caps[f].first, 1, 0);
	/* the copies are kept by the allocating cap and count nothing */
	if (s < 0 || frame_refs(&kframes, envs[0].k->caps[f].first) != 1)
		fail("deep chain: %ld, %u refs", (long)s, frame_refs(&kframes, envs[0].k->caps[f].first));
	kcall(0, EXO_SYS_CAP_REVOKE, (uint64_t)f, 0, 0, 0, 0);
	int left = 0;
	for (int i = 0; i < CAP_SLOTS; i++)
		left += envs[0].k->caps[i].type == EXO_CAP_FRAME;
	if (left != 1 || frame_refs(&kframes, envs[0].k->caps[f].first) != 1)
		fail("deep chain: %d frame caps left after revoke", left);
}

/* Expects the frames [first, first + n) to have want references each and
 * be allocated (want > 0) or free (want 0). */
static void refs_are(uint64_t first, uint64_t n, uint32_t want, const char *what)
{
	for (uint64_t f = first; f < first + n; f++)
		if (frame_refs(&kframes, f) != want || frame_is_free(&kframes, f * PAGE_SIZE) != !want)
			fail("copy refs: %s: frame %#lx has %u references%s, not %u", what, (unsigned long)f,
			     frame_refs(&kframes, f), frame_is_free(&kframes, f * PAGE_SIZE) ? " and is free" : "",
			     want);
}

/* A FRAME cap derived or granted in the script, installed in the model
 * as a copy of parent (key). */
static int64_t copy_cap(int e, int64_t got, int parent, uint64_t first, uint64_t count)
{
	if (got < 0)
		fail("copy refs: a copy was refused (%ld)", (long)got);
	install(KEY(e, (int)got), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_ALL, .first = first,
						 .count = count, .parent = parent, .counted = 1 });
	compare_and_check();
	return got;
}

/* A child of the root with room for 64 pages of records and tables and
 * a started thread: its model env, its ENV cap's slot in *env. */
static int child_with_thread(int64_t *env)
{
	*env = kcall(0, EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, env_fixed_pages() + 64, 0, 0, 0);
	int c = adopt_env(envs[0].k->caps[*env].obj, env_fixed_pages() + 64, KEY(0, EXO_SLOT_MEMORY));
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= env_fixed_pages() + 64;
	*mc(KEY(0, (int)*env)) = (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = c };
	int64_t th = kcall(0, EXO_SYS_THREAD_CREATE, (uint64_t)*env, 0, 0, 0, 0);
	thread_start(envs[0].k->caps[th].obj);
	envs[c].threads_charged = 1;
	*mc(KEY(0, (int)th)) = (struct mcap){ .type = EXO_CAP_THREAD, .rights = EXO_R_ALL, .parent = NONE,
					      .obj = new_thread_obj(envs[0].k->caps[th].obj, c) };
	return c;
}

/*
 * Copies count no references; the holder above them keeps their frames
 * (docs/ABI.md, "Reference counts").  An attacker's ways to a freed frame
 * still mapped: delete the holder while copies live (in another env, of a
 * part of the range, a copy of a copy), then allocate; delete a copy in
 * the middle of a chain; revoke.  No frame a cap covers is ever free or
 * handed out again, and the budget comes back whole at the end.
 */
static void copy_refs_script(void)
{
	seed_state = 4;
	boot_root();
	step_desc = "copy refs";
	int64_t env;
	int c = child_with_thread(&env);
	compare_and_check();
	uint64_t budget = mc(KEY(0, EXO_SLOT_MEMORY))->count;

	int64_t f = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 512, 0, 0, 0);
	uint64_t first = envs[0].k->caps[f].first;
	install(KEY(0, (int)f), (struct mcap){ .type = EXO_CAP_FRAME, .rights = envs[0].k->caps[f].rights,
					       .first = first, .count = 512, .parent = KEY(0, EXO_SLOT_MEMORY),
					       .counted = 1 });
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= 512;
	memset(phys_to_virt(first * PAGE_SIZE), 0x5a, PAGE_SIZE);	/* a secret */
	/* a part of it here, the whole in the child, a copy of that copy */
	int64_t part = copy_cap(0, kcall(0, EXO_SYS_CAP_DERIVE, (uint64_t)f, EXO_R_ALL, first + 100, 100, 0),
				KEY(0, (int)f), first + 100, 100);
	int64_t g = copy_cap(c, kcall(0, EXO_SYS_CAP_GRANT, (uint64_t)f, (uint64_t)env, EXO_R_ALL, 0, 0),
			     KEY(0, (int)f), first, 512);
	int64_t gg = copy_cap(c, kcall(c, EXO_SYS_CAP_DERIVE, (uint64_t)g, EXO_R_ALL, first, 1, 0), KEY(c, (int)g),
			      first, 1);
	refs_are(first, 512, 1, "copies made");
	if (kcall6(c, EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va_of(0), (uint64_t)gg, 0, EXO_PROT_READ, 1))
		fail("copy refs: the child could not map its copy");
	envs[c].maps[0] = (struct mmap_entry){ 1, KEY(c, (int)gg), first, EXO_PROT_READ };
	compare_and_check();

	/* the holder goes: its children hold the frames now */
	kcall(0, EXO_SYS_CAP_DELETE, (uint64_t)f, 0, 0, 0, 0);
	model_delete(KEY(0, (int)f));
	compare_and_check();
	refs_are(first, 100, 1, "holder deleted");
	refs_are(first + 100, 100, 2, "holder deleted");
	refs_are(first + 200, 312, 1, "holder deleted");
	/* allocating cannot get them back while the child maps one */
	for (int i = 0; i < 4; i++) {
		int64_t a = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 128, 0, 0, 0);
		if (a < 0)
			break;
		struct cap *ka = &envs[0].k->caps[a];
		if (ka->first < first + 512 && ka->first + 128 > first)
			fail("copy refs: MEM_ALLOC handed out frames a copy still covers");
		install(KEY(0, (int)a), (struct mcap){ .type = EXO_CAP_FRAME, .rights = ka->rights, .first = ka->first,
						       .count = 128, .parent = KEY(0, EXO_SLOT_MEMORY), .counted = 1 });
		mc(KEY(0, EXO_SLOT_MEMORY))->count -= 128;
		compare_and_check();
		kcall(0, EXO_SYS_CAP_DELETE, (uint64_t)a, 0, 0, 0, 0);
		model_delete(KEY(0, (int)a));
		compare_and_check();
	}
	if (*(volatile uint8_t *)phys_to_virt(first * PAGE_SIZE) != 0x5a)
		fail("copy refs: the mapped frame changed under the child");

	/* a copy in the middle of a chain goes: its child stays a copy */
	int64_t g3 = copy_cap(c, kcall(c, EXO_SYS_CAP_DERIVE, (uint64_t)gg, EXO_R_ALL, first, 1, 0), KEY(c, (int)gg),
			      first, 1);
	kcall(c, EXO_SYS_CAP_DELETE, (uint64_t)gg, 0, 0, 0, 0);
	model_delete(KEY(c, (int)gg));
	compare_and_check();
	refs_are(first, 1, 1, "middle copy deleted");
	/* revoking the child's holder takes the copy under it too */
	kcall(c, EXO_SYS_CAP_REVOKE, (uint64_t)g, 0, 0, 0, 0);
	model_revoke(KEY(c, (int)g));
	compare_and_check();
	if (mc(KEY(c, (int)g3))->type != EXO_CAP_NONE)
		fail("copy refs: revoke left a copy");
	kcall(c, EXO_SYS_CAP_DELETE, (uint64_t)g, 0, 0, 0, 0);
	model_delete(KEY(c, (int)g));
	compare_and_check();
	refs_are(first, 100, 0, "child's holder deleted");
	refs_are(first + 100, 100, 1, "child's holder deleted");
	refs_are(first + 200, 312, 0, "child's holder deleted");
	kcall(0, EXO_SYS_CAP_DELETE, (uint64_t)part, 0, 0, 0, 0);
	model_delete(KEY(0, (int)part));
	compare_and_check();
	refs_are(first, 512, 0, "every cap deleted");
	if (mc(KEY(0, EXO_SLOT_MEMORY))->count != budget)
		fail("copy refs: the budget did not come back whole");
}


/* Makes a started thread in model env c (its cap in the root's table)
 * and returns the root's slot for it. */
static int64_t script_thread(int c, int64_t env_slot)
{
	int64_t th = kcall(0, EXO_SYS_THREAD_CREATE, (uint64_t)env_slot, 0, 0, 0, 0);
	if (th < 0)
		fail("thread end: no thread");
	thread_start(envs[0].k->caps[th].obj);
	envs[c].threads_charged++;
	install(KEY(0, (int)th), (struct mcap){ .type = EXO_CAP_THREAD, .rights = EXO_R_ALL, .parent = NONE,
						.obj = new_thread_obj(envs[0].k->caps[th].obj, c) });
	return th;
}

/* Grants the root's cap in slot to model env c: its slot there. */
static int64_t script_grant(int c, int64_t env_slot, int64_t slot, uint32_t rights)
{
	int64_t g = kcall(0, EXO_SYS_CAP_GRANT, (uint64_t)slot, (uint64_t)env_slot, rights, 0, 0);
	if (g < 0)
		fail("thread end: grant failed");
	struct mcap m = *mc(KEY(0, (int)slot));
	m.rights = rights;
	m.parent = KEY(0, (int)slot);
	install(KEY(c, (int)g), m);
	return g;
}

/*
 * The calls execve's teardown uses, attacked: THREAD_END on another env's
 * thread (with a cap to it, all rights) and on the caller; a thread ended
 * in a futex wait leaves no record; CAP_LIST into a read-only page or the
 * kernel's; CAP_DELETE_LIST with a bad slot after good ones deletes none.
 */
static void thread_end_script(void)
{
	seed_state = 5;
	boot_root();
	step_desc = "thread end";
	uint64_t quota = env_fixed_pages() + 64;
	int64_t env = kcall(0, EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, quota, 0, 0, 0);
	int c = adopt_env(envs[0].k->caps[env].obj, quota, KEY(0, EXO_SLOT_MEMORY));
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= quota;
	*mc(KEY(0, (int)env)) = (struct mcap){ .type = EXO_CAP_ENV, .rights = EXO_R_ALL, .parent = NONE, .obj = c };
	int64_t t1 = script_thread(c, env), t2 = script_thread(c, env);
	struct thread *k1 = envs[0].k->caps[t1].obj, *k2 = envs[0].k->caps[t2].obj;
	compare_and_check();
	/* the root holds caps to the child's threads: they are not its own */
	if (kcall(0, EXO_SYS_THREAD_END, (uint64_t)t1, 0, 0, 0, 0) != -EXO_EPERM || k1->state == T_DEAD)
		fail("thread end: ended another env's thread");
	/* the child, given caps to both of its threads and to the root's */
	int64_t c1 = script_grant(c, env, t1, EXO_R_ALL), c2 = script_grant(c, env, t2, EXO_R_ALL);
	int64_t croot = script_grant(c, env, EXO_SLOT_SELF_THREAD, EXO_R_ALL);
	if (kcall(c, EXO_SYS_THREAD_END, (uint64_t)croot, 0, 0, 0, 0) != -EXO_EPERM)
		fail("thread end: the child ended the root's thread");
	if (caller(c) != k1 && caller(c) != k2)
		fail("thread end: the child calls from neither thread");
	int64_t self_slot = caller(c) == k1 ? c1 : c2;
	if (kcall(c, EXO_SYS_THREAD_END, (uint64_t)self_slot, 0, 0, 0, 0) != -EXO_EINVAL)
		fail("thread end: the caller ended itself");
	/* the other thread waits on a futex in a page of the child's */
	int64_t mem = kcall(0, EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, 4, 0);
	install(KEY(0, (int)mem), (struct mcap){ .type = EXO_CAP_MEMORY, .rights = EXO_R_ALL, .count = 4,
						 .parent = KEY(0, EXO_SLOT_MEMORY) });
	mc(KEY(0, EXO_SLOT_MEMORY))->count -= 4;
	int64_t f = kcall(0, EXO_SYS_MEM_ALLOC, (uint64_t)mem, 1, 0, 0, 0);
	struct cap *kf = &envs[0].k->caps[f];
	install(KEY(0, (int)f), (struct mcap){ .type = EXO_CAP_FRAME, .rights = kf->rights, .first = kf->first,
					       .count = 1, .parent = KEY(0, (int)mem), .counted = 1 });
	mc(KEY(0, (int)mem))->count -= 1;
	if (kcall6(0, EXO_SYS_PAGE_MAP, (uint64_t)env, va_of(0), (uint64_t)f, 0, EXO_PROT_READ, 1))
		fail("thread end: map failed");
	envs[c].maps[0] = (struct mmap_entry){ 1, KEY(0, (int)f), kf->first, EXO_PROT_READ };
	struct thread *waiter = caller(c);
	kcall(c, EXO_SYS_FUTEX_WAIT, va_of(0), 0, EXO_FOREVER, 0, 0);
	if (waiter->state != T_BLOCKED || futex_waiting_count() != 1)
		fail("thread end: the futex wait did not block");
	int64_t other = waiter == k1 ? c1 : c2;	/* ended from the thread still running */
	if (kcall(c, EXO_SYS_THREAD_END, (uint64_t)other, 0, 0, 0, 0) != 0)
		fail("thread end: the child could not end its own other thread");
	thread_alive[mc(KEY(c, (int)other))->obj] = 0;
	envs[c].threads_ended++;
	if (waiter->state != T_DEAD || futex_waiting_count() != 0)
		fail("thread end: the ended waiter left a record");
	compare_and_check();
	if (kcall(c, EXO_SYS_THREAD_END, (uint64_t)other, 0, 0, 0, 0) != -EXO_ESRCH)
		fail("thread end: a dead thread ended twice");
	/* unmapping the page wakes nobody: the record went with the thread */
	kcall(0, EXO_SYS_PAGE_UNMAP, (uint64_t)env, va_of(0), 1, 0, 0);
	envs[c].maps[0].used = 0;
	compare_and_check();

	/* CAP_LIST writes only through a writable mapping of the caller */
	int64_t g = kcall(0, EXO_SYS_MEM_ALLOC, (uint64_t)mem, 1, 0, 0, 0);
	struct cap *kg = &envs[0].k->caps[g];
	install(KEY(0, (int)g), (struct mcap){ .type = EXO_CAP_FRAME, .rights = kg->rights, .first = kg->first,
					       .count = 1, .parent = KEY(0, (int)mem), .counted = 1 });
	mc(KEY(0, (int)mem))->count -= 1;
	memset(phys_to_virt(kg->first * PAGE_SIZE), 0x77, PAGE_SIZE);
	if (kcall6(0, EXO_SYS_PAGE_MAP, (uint64_t)env, va_of(1), (uint64_t)g, 0, EXO_PROT_READ, 1))
		fail("thread end: map failed");
	envs[c].maps[1] = (struct mmap_entry){ 1, KEY(0, (int)g), kg->first, EXO_PROT_READ };
	if (kcall(c, EXO_SYS_CAP_LIST, va_of(1), 0, 0, 0, 0) != -EXO_EFAULT ||
	    *(uint8_t *)phys_to_virt(kg->first * PAGE_SIZE) != 0x77)
		fail("thread end: CAP_LIST wrote a read-only page");
	if (kcall(c, EXO_SYS_CAP_LIST, EXO_KINFO_VA, 0, 0, 0, 0) != -EXO_EFAULT)
		fail("thread end: CAP_LIST wrote the kernel's info page");
	compare_and_check();

	/* CAP_DELETE_LIST: decode every slot first */
	uint64_t *list = phys_to_virt(kg->first * PAGE_SIZE);
	list[0] = (uint64_t)c1;
	list[1] = (uint64_t)c2;
	list[2] = CAP_SLOTS;	/* out of range, after two good ones */
	if (kcall(c, EXO_SYS_CAP_DELETE_LIST, va_of(1), 3, 0, 0, 0) != -EXO_EBADF ||
	    mc(KEY(c, (int)c1))->type != EXO_CAP_THREAD || envs[c].k->caps[c1].type != EXO_CAP_THREAD)
		fail("thread end: a refused list deleted a cap");
	list[2] = (uint64_t)c1;	/* named twice */
	if (kcall(c, EXO_SYS_CAP_DELETE_LIST, va_of(1), 3, 0, 0, 0) != -EXO_EINVAL ||
	    envs[c].k->caps[c2].type != EXO_CAP_THREAD)
		fail("thread end: a list naming a slot twice deleted a cap");
	if (kcall(c, EXO_SYS_CAP_DELETE_LIST, va_of(1), CAP_SLOTS + 1, 0, 0, 0) != -EXO_EINVAL)
		fail("thread end: a list longer than the table was taken");
	if (kcall(c, EXO_SYS_CAP_DELETE_LIST, va_of(1), 2, 0, 0, 0) != 0)
		fail("thread end: the child could not delete its caps");
	model_delete(KEY(c, (int)c1));
	model_delete(KEY(c, (int)c2));
	compare_and_check();
	/* the root's thread lives on */
	if (((struct thread *)envs[0].k->caps[EXO_SLOT_SELF_THREAD].obj)->state == T_DEAD)
		fail("thread end: the root's thread died");
	kcall(0, EXO_SYS_ENV_KILL, (uint64_t)env, 9, 0, 0, 0);
	model_kill(c);
	model_reap();
	compare_and_check();
}

/* MEM_ALLOC_COPY from env c with the pieces at va_of(0) (which c maps):
 * the result, after checking the state against the model. */
static int64_t copy_call(int c, int64_t mem, uint64_t pages, const struct exo_mem_copy *p, uint64_t n,
			 uint64_t at)
{
	memcpy(phys_to_virt(envs[c].maps[0].pfn * PAGE_SIZE), p, (n <= 3 ? n : 1) * sizeof *p);
	int64_t got = kcall(c, EXO_SYS_MEM_ALLOC_COPY, (uint64_t)mem, pages, at, n, 0);
	if (got < 0)
		compare_and_check();
	return got;
}

/* Expects MEM_ALLOC_COPY to be refused with want, changing nothing. */
static void copy_refused(int c, int64_t mem, uint64_t pages, const struct exo_mem_copy *p, uint64_t n,
			 int64_t want, const char *what)
{
	uint64_t left = mc(msource(KEY(c, (int)mem)))->count;
	int64_t got = copy_call(c, mem, pages, p, n, va_of(0));
	if (got != want)
		fail("alloc copy: %s returned %ld, not %ld", what, (long)got, (long)want);
	if (envs[c].k->caps[mem].count != left)
		fail("alloc copy: %s spent budget", what);
}

/*
 * MEM_ALLOC_COPY as an attacker would use it, from a child env holding a
 * read-only copy of two pages of the root's frames, a write-only copy,
 * and its own budget: read past the copy's end (into frames only the root
 * holds), with offsets and lengths that wrap, through the write-only cap,
 * an ENV cap, an empty or out-of-range slot, write past the new frames or
 * over an earlier piece, pieces at a bad address; each is refused whole.
 * Then, with every free frame of the machine filled with another env's
 * secret, the pieces it may read come back exactly and every other byte
 * is zero; the copy is new frames (writing it leaves the source alone),
 * and the read-only cap still maps nothing writable.
 */
static void alloc_copy_script(void)
{
	seed_state = 5;
	boot_root();
	step_desc = "alloc copy";
	int64_t env;
	int c = child_with_thread(&env);
	int64_t mem = give_budget(c, env, 32);
	/* the root's 4 frames, a secret in each byte; the child's copies */
	int64_t f = kcall(0, EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 4, 0, 0, 0);
	uint64_t first = envs[0].k->caps[f].first;
	alloc_done(0, EXO_SLOT_MEMORY, (int)f, 4);
	uint8_t *root = phys_to_virt(first * PAGE_SIZE);
	for (int i = 0; i < 4 * PAGE_SIZE; i++)
		root[i] = (uint8_t)(i * 7 + 1);
	int64_t ro = kcall(0, EXO_SYS_CAP_DERIVE, (uint64_t)f, EXO_R_READ | EXO_R_GRANT, first + 1, 2, 0);
	install(KEY(0, (int)ro), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_READ | EXO_R_GRANT,
						.first = first + 1, .count = 2, .parent = KEY(0, (int)f), .counted = 1 });
	int64_t cro = kcall(0, EXO_SYS_CAP_GRANT, (uint64_t)ro, (uint64_t)env, EXO_R_READ, 0, 0);
	install(KEY(c, (int)cro), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_READ, .first = first + 1,
						 .count = 2, .parent = KEY(0, (int)ro), .counted = 1 });
	int64_t cwo = kcall(0, EXO_SYS_CAP_GRANT, (uint64_t)f, (uint64_t)env, EXO_R_WRITE, 0, 0);
	install(KEY(c, (int)cwo), (struct mcap){ .type = EXO_CAP_FRAME, .rights = EXO_R_WRITE, .first = first,
						 .count = 4, .parent = KEY(0, (int)f), .counted = 1 });
	/* the child's page for the pieces, at va_of(0) */
	int64_t pg = kcall(c, EXO_SYS_MEM_ALLOC, (uint64_t)mem, 1, 0, 0, 0);
	alloc_done(c, (int)mem, (int)pg, 1);
	if (kcall(c, EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va_of(0), (uint64_t)pg, 0, EXO_PROT_READ | EXO_PROT_WRITE))
		fail("alloc copy: the child could not map its page");
	envs[c].maps[0] = (struct mmap_entry){ 1, KEY(c, (int)pg), envs[c].k->caps[pg].first,
					       EXO_PROT_READ | EXO_PROT_WRITE };
	compare_and_check();

	const uint64_t P = PAGE_SIZE, R = (uint64_t)cro;
	struct exo_mem_copy bad[][2] = {
		{ { R, 0, 2 * P + 1, 0 } },		/* one byte past the copy: the root's third frame */
		{ { R, P, P + 1, 0 } },
		{ { R, 2 * P + 1, 1, 0 } },		/* starts past it */
		{ { R, ~0ull, 2, 0 } },			/* offset + length wraps */
		{ { R, 8, ~0ull - 4, 0 } },
		{ { R, 0, 0, 0 } },			/* nothing */
		{ { R, 0, 16, 4 * P - 8 } },		/* past the new frames */
		{ { R, 0, 16, ~0ull - 8 } },		/* dest + length wraps */
		{ { R, 0, 64, 0 }, { R, 0, 64, 32 } },	/* over the piece before */
		{ { R, 0, 64, 128 }, { R, 0, 64, 0 } },	/* out of order */
	};
	for (uint64_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		copy_refused(c, mem, 4, bad[i], bad[i][1].length ? 2 : 1, -EXO_EINVAL, "a piece out of range");
	struct exo_mem_copy wo = { (uint64_t)cwo, 0, 16, 0 }, envcap = { EXO_SLOT_SELF_ENV, 0, 16, 0 };
	struct exo_mem_copy empty = { 200, 0, 16, 0 }, far = { CAP_SLOTS + 3, 0, 16, 0 }, huge = { ~0ull, 0, 16, 0 };
	copy_refused(c, mem, 4, &wo, 1, -EXO_EACCES, "through a cap without READ");
	copy_refused(c, mem, 4, &envcap, 1, -EXO_EINVAL, "through an ENV cap");
	copy_refused(c, mem, 4, &empty, 1, -EXO_EBADF, "through an empty slot");
	copy_refused(c, mem, 4, &far, 1, -EXO_EBADF, "through a slot past the table");
	copy_refused(c, mem, 4, &huge, 1, -EXO_EBADF, "through slot ~0");
	copy_refused(c, mem, 4, bad[0], EXO_MEM_COPY_MAX + 1, -EXO_EINVAL, "too many pieces");
	copy_refused(c, mem, 33, bad[0], 1, -EXO_ENOMEM, "past the budget");
	copy_refused(c, mem, 0, bad[0], 1, -EXO_EINVAL, "no pages");
	struct exo_mem_copy one = { R, 0, 16, 0 };
	uint64_t left = mc(KEY(c, (int)mem))->count;
	memcpy(phys_to_virt(envs[c].maps[0].pfn * PAGE_SIZE), &one, sizeof one);
	uint64_t bad_at[] = { va_of(1), va_of(0) + P - 8, 0xffff800000001000ull, EXO_USER_TOP - 8 };
	for (int i = 0; i < 4; i++)
		if (kcall(c, EXO_SYS_MEM_ALLOC_COPY, (uint64_t)mem, 1, bad_at[i], 1, 0) != -EXO_EFAULT ||
		    mc(KEY(c, (int)mem))->count != left)
			fail("alloc copy: pieces at %#lx were read", (unsigned long)bad_at[i]);
	compare_and_check();

	/* another env's secret in every free frame: none of it may show */
	for (uint64_t fr = 256; fr < nframes; fr++)
		if (frame_is_free(&kframes, fr * PAGE_SIZE))
			memset(phys_to_virt(fr * PAGE_SIZE), 0xa5, PAGE_SIZE);
	struct exo_mem_copy ok[] = { { R, 5, 100, 3 }, { R, P - 7, P + 7, P + 200 }, { R, 2 * P - 1, 1, 3 * P + 9 } };
	int64_t got = copy_call(c, mem, 4, ok, 3, va_of(0));
	if (got < 0)
		fail("alloc copy: the allowed pieces were refused (%ld)", (long)got);
	uint8_t *src[3];
	for (int i = 0; i < 3; i++) {
		src[i] = malloc(ok[i].length);
		memcpy(src[i], root + P + ok[i].offset, ok[i].length);
	}
	check_filled(envs[c].k->caps[got].first, 4 * P, ok, 3, src);
	alloc_done(c, (int)mem, (int)got, 4);
	compare_and_check();
	uint64_t cf = envs[c].k->caps[got].first;
	if (cf < first + 4 && first < cf + 4)
		fail("alloc copy: the copy's frames are the source's");
	memset(phys_to_virt(cf * PAGE_SIZE), 0x77, 4 * P);
	for (int i = 0; i < 3; i++)
		if (memcmp(root + P + ok[i].offset, src[i], ok[i].length))
			fail("alloc copy: writing the copy changed the source");
	for (int i = 0; i < 3; i++)
		free(src[i]);
	if (kcall6(c, EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va_of(2), R, 0, EXO_PROT_READ | EXO_PROT_WRITE, 1) !=
	    -EXO_EACCES)
		fail("alloc copy: the read-only cap mapped writable");
	compare_and_check();
}

/* ------------------------------------------------------------ the run */

static unsigned long check_every = 1;
static uint64_t live_sum;

/* One random operation called from env e, then the model's bookkeeping
 * and (every check_every steps) the whole comparison. */
static void one_step(int e, unsigned long steps)
{
	op_no = (int)below(NOPS);
	switch (op_no) {
	case 0: case 1: case 2: op_derive(e); break;
	case 3: case 4: op_grant(e); break;
	case 5: case 6: op_delete_or_revoke(e, 0); break;
	case 7: op_delete_or_revoke(e, 1); break;
	case 8: case 9: op_mem_alloc(e); break;
	case 10: case 11: case 12: op_page_map(e); break;
	case 13: op_page_unmap(e); break;
	case 14: op_page_protect(e); break;
	case 15: op_env_create(e); break;
	case 16: op_thread_create(e); break;
	case 17: op_notify_create(e); break;
	case 18: if (chance(30)) op_env_kill(e); else if (chance(30)) op_cross_link(e); else op_inspect(e); break;
	case 19: op_inspect(e); break;
	case 20: op_futex_wait(e); break;
	case 21: op_futex_wake(e); break;
	case 22: op_mem_alloc_copy(e); break;
	case 23: op_thread_end(e); break;
	case 24: op_cap_list(e); break;
	case 25: op_cap_delete_list(e); break;
	case 26: op_grant_range(e); break;
	default: if (chance(25)) op_time_passes(); else op_futex_wake(e); break;
	}
	model_reap();
	futex_settle();
	if (step_no % check_every == 0 || step_no == steps)
		compare_and_check();
	for (int x = 0; x < MAX_ENVS; x++)
		live_sum += envs[x].alive;
}

static void seed_start(uint64_t seed)
{
	seed_state = seed * 0x9e3779b97f4a7c15ull + 1;
	live_sum = 0;
	nobjs = 0;
	nrecent = 0;
	memset(waiters, 0, sizeof waiters);
	n_blocked = n_woken[0] = n_woken[1] = n_woken[2] = 0;
	n_ok = n_err = n_oom = n_splits = 0;
	boot_root();
	compare_and_check();
}

static void seed_report(uint64_t seed, unsigned long steps)
{
	if (getenv("KMODEL_STATS"))
		for (int o = 0; o < NOPS; o++) {
			printf("op %2d:", o);
			for (int r = 0; r < 40; r++)
				if (hist[o][r])
					printf(" %s%d=%lu", r ? "-" : "ok", r, hist[o][r]);
			printf("\n");
		}
	printf("info seed %lu: %lu calls succeeded, %lu failed as predicted, %lu ran out of kernel memory; %.1f envs alive on average; "
	       "%lu futex waits blocked, woken %lu by a wake, %lu by the clock, %lu by an unmap; %lu records split\n",
	       (unsigned long)seed, n_ok, n_err, n_oom, (double)live_sum / (double)steps, n_blocked, n_woken[0],
	       n_woken[1], n_woken[2], n_splits);
	if (steps >= 2000 && !n_splits)
		fail("no unmap split a record: the run did not test splits");
}

static void run_seed(uint64_t seed, unsigned long steps)
{
	seed_start(seed);
	for (step_no = 1; step_no <= steps; step_no++) {
		int e = pick_env();
		if (e == NONE)
			fail("no env has a thread to call from");
		one_step(e, steps);
	}
	seed_report(seed, steps);
}

/*
 * Several CPUs at once: each host thread is a CPU (its own struct percpu,
 * control registers and current thread) and makes the random calls of
 * one shared sequence, each as a kernel entry does: under the kernel lock
 * (kernel/smp.h's own bkl_lock, whose contended path serves requests from
 * other CPUs while it spins).  Kernel objects are by design touched only
 * under that lock, so the model's bookkeeping and checks run inside it
 * too; between its calls a CPU is "in user mode" and serves requests as
 * its IPI handler would (kernel/smp.c, unlocked).  Built with TSan
 * (kernel_model_tsan), this checks that every access the kernel makes
 * from several CPUs is ordered by the lock or by the request handshake.
 */
static unsigned long mt_steps, mt_steps_on[MAX_CPUS];

static void *cpu_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	kmodel_enter_cpu(id);
	for (;;) {
		smp_serve_request(0);
		bkl_lock();
		if (step_no > mt_steps) {
			bkl_unlock();
			return NULL;
		}
		int e = pick_env();
		if (e != NONE) {
			one_step(e, mt_steps);
			step_no++;
			mt_steps_on[id]++;
		}
		bkl_unlock();
		sched_yield();		/* user mode for a while: the others get the lock */
	}
}

static int mt_cpus = 1;

static void run_seed_mt(uint64_t seed, unsigned long steps)
{
	pthread_t th[MAX_CPUS];

	kmodel_set_cpus(mt_cpus);
	seed_start(seed);
	mt_steps = steps;
	step_no = 1;
	for (int i = 0; i < mt_cpus; i++)
		if (pthread_create(&th[i], NULL, cpu_thread, (void *)(intptr_t)i))
			fail("pthread_create");
	for (int i = 0; i < mt_cpus; i++)
		pthread_join(th[i], NULL);
	step_no = steps;
	compare_and_check();
	seed_report(seed, steps);
	printf("info seed %lu on %d CPUs: %lu requests between CPUs served (TLB, leave, ports), %lu reschedule IPIs; steps by CPU:",
	       (unsigned long)seed, mt_cpus, kmodel_ipis[0], kmodel_ipis[1]);
	for (int i = 0; i < mt_cpus; i++)
		printf(" %lu", mt_steps_on[i]);
	printf("\n");
	if (!kmodel_ipis[0])
		fail("no CPU ever asked another for anything: the run did not test the requests");
	for (int i = 0; i < mt_cpus; i++)
		if (!mt_steps_on[i])
			fail("CPU %d made no call: the run was not concurrent", i);
}

/* Each seed runs in a child process: the kernel's globals start fresh. */
static int in_child(void (*fn)(uint64_t, unsigned long), uint64_t seed, unsigned long steps)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		fn(seed, steps);
		fflush(stdout);
		_exit(0);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void script_exploit(uint64_t a, unsigned long b) { (void)a; (void)b; exploit_script(); }
static void script_chain(uint64_t a, unsigned long b) { (void)a; (void)b; deep_chain_script(); }
static void script_map_run(uint64_t a, unsigned long b) { (void)a; (void)b; map_run_script(); }
static void script_copy_refs(uint64_t a, unsigned long b) { (void)a; (void)b; copy_refs_script(); }
static void script_thread_end(uint64_t a, unsigned long b) { (void)a; (void)b; thread_end_script(); }
static void script_alloc_copy(uint64_t a, unsigned long b) { (void)a; (void)b; alloc_copy_script(); }
static void script_split_quota(uint64_t a, unsigned long b) { (void)a; (void)b; split_quota_script(); }
static void script_revoke_run(uint64_t a, unsigned long b) { (void)a; (void)b; revoke_run_script(); }
static void script_span_run(uint64_t a, unsigned long b) { (void)a; (void)b; span_run_script(); }
static void script_grant_range(uint64_t a, unsigned long b) { (void)a; (void)b; grant_range_script(); }

int main(int argc, char **argv)
{
	unsigned long steps = argc > 1 ? strtoul(argv[1], NULL, 0) : 20000;
	unsigned long seeds = argc > 2 ? strtoul(argv[2], NULL, 0) : 8;
	unsigned long first = argc > 3 ? strtoul(argv[3], NULL, 0) : 1;
	check_every = argc > 4 ? strtoul(argv[4], NULL, 0) : 1;
	if (!check_every)
		check_every = 1;
	mt_cpus = argc > 5 ? atoi(argv[5]) : 1;
	if (mt_cpus < 1 || mt_cpus > MAX_CPUS)
		mt_cpus = 1;
	int passed = 0, failed = 0;
	if (mt_cpus > 1) {
		for (unsigned long s = first; s < first + seeds; s++) {
			if (in_child(run_seed_mt, s, steps))
				passed++;
			else
				printf("FAIL model-smp-seed-%lu (%lu steps on %d CPUs)\n", s, steps, mt_cpus), failed++;
		}
		if (!failed)
			printf("PASS model-smp-random-sequences: %lu seeds x %lu steps on %d CPUs at once, state compared every %lu\n",
			       seeds, steps, mt_cpus, check_every);
		return failed != 0;
	}

	/* the attack scripts, each a short deliberate sequence in a child */
	static const struct { const char *name; void (*fn)(uint64_t, unsigned long); } scripts[] = {
		{ "model-exploit-script", script_exploit },
		{ "model-deep-revoke-chain", script_chain },
		{ "model-map-run-script", script_map_run },
		{ "model-copy-refs-script", script_copy_refs },
		{ "model-thread-end-script", script_thread_end },
		{ "model-grant-range-script", script_grant_range },
		{ "model-alloc-copy-script", script_alloc_copy },
		{ "model-split-at-quota-script", script_split_quota },
		{ "model-revoke-mid-run-script", script_revoke_run },
		{ "model-run-across-a-span-script", script_span_run },
	};
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		int ok = in_child(scripts[i].fn, 0, 0);
		printf("%s %s\n", ok ? "PASS" : "FAIL", scripts[i].name);
		if (ok)
			passed++;
		else
			failed++;
	}
	for (unsigned long s = first; s < first + seeds; s++) {
		if (in_child(run_seed, s, steps))
			passed++;
		else
			printf("FAIL model-seed-%lu (%lu steps)\n", s, steps), failed++;
	}
	if (!failed)
		printf("PASS model-random-sequences: %lu seeds x %lu steps, state compared every %lu\n",
		       seeds, steps, check_every);
	printf("model: %d runs passed, %d failed\n", passed, failed);
	return failed != 0;
}
