/*
 * The shared segment (libos/shared.h, libos/proc.h): one region at SH_VA,
 * mapped read-write at the same address in every process of the machine,
 * never copy-on-write.  The first process allocates its frames at start-up
 * (a quarter of its memory budget, at least 8 MiB, at most 256 MiB, or
 * EXO_SHARED_MB from its environment) as chunks of 512 frames kept in cap
 * slots SH_SLOT0 and up; fork grants the child the same caps in the same
 * slots.  Pages are mapped lazily by the fault handler from those caps
 * (page i is frame i % 512 of cap SH_SLOT0 + i / 512), without the lock and
 * without asking anyone.  The segment starts with a header (magic,
 * version, size), the machine's libOS lock and the process table; the rest
 * is sh_alloc's heap.
 */
#include "libos/libos.h"
#include "libos/exec.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "include/exo/native.h"

#define PAGE 4096ull
#define MIN_PAGES 2048ull			/* 8 MiB */
#define MAX_PAGES (SH_MAX_CHUNKS * SH_CHUNK_PAGES)
#define SH_RIGHTS (EXO_R_READ | EXO_R_WRITE | EXO_R_EXEC | EXO_R_GRANT | EXO_R_DERIVE)
#define SH_AROUND 16ull				/* pages mapped per fault (shared_fault) */
_Static_assert(SH_CHUNK_PAGES % SH_AROUND == 0, "a group of pages never spans two chunks");

/* EXO_SHARED_MB=N in the environment, in pages; 0 when absent. */
static uint64_t pages_from_env(const char *const *envp, uint32_t envc)
{
	static const char key[] = "EXO_SHARED_MB=";
	for (uint32_t i = 0; i < envc; i++) {
		if (lo_memcmp(envp[i], key, sizeof key - 1))
			continue;
		uint64_t mb = 0;
		for (const char *p = envp[i] + sizeof key - 1; *p >= '0' && *p <= '9' && mb < 1000000; p++)
			mb = mb * 10 + (uint64_t)(*p - '0');
		return mb * 256;
	}
	return 0;
}

/* Allocates chunk c's frames and moves the cap to its slot: 0 or -1. */
static int chunk_alloc(uint64_t c)
{
	int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, SH_CHUNK_PAGES);
	if (slot < 0)
		return -1;
	int64_t r = exo_call(EXO_SYS_CAP_GRANT, slot, EXO_SLOT_SELF_ENV, SH_RIGHTS, SH_SLOT0 + c + 1);
	exo_call(EXO_SYS_CAP_DELETE, slot);	/* the frames pass on to the copy */
	return r < 0 ? -1 : 0;
}

struct sh_block {
	uint64_t size;		/* bytes with this header; bit 0: in use */
	uint64_t prev_size;	/* the block before (0: first) */
	struct sh_block *next_free, *prev_free;	/* free blocks only */
};
#define HDR 16ull
#define MIN_BLOCK 64ull
#define USED 1ull

static void free_insert(struct sh_header *h, struct sh_block *b)
{
	b->prev_free = 0;
	b->next_free = (struct sh_block *)h->free_list;
	if (b->next_free)
		b->next_free->prev_free = b;
	h->free_list = (uint64_t)b;
}

static void free_remove(struct sh_header *h, struct sh_block *b)
{
	if (b->prev_free)
		b->prev_free->next_free = b->next_free;
	else
		h->free_list = (uint64_t)b->next_free;
	if (b->next_free)
		b->next_free->prev_free = b->prev_free;
}

static struct sh_block *block_after(struct sh_header *h, struct sh_block *b)
{
	uint64_t n = (uint64_t)b + (b->size & ~USED);
	return n < h->heap_end ? (struct sh_block *)n : 0;
}

int shared_init(const char *const *envp, uint32_t envc)
{
	struct exo_cap_info mem;
	if (lo_cap_inspect(EXO_SLOT_MEMORY, &mem))
		return -ENOMEM;
	uint64_t want = pages_from_env(envp, envc);
	if (!want) {
		want = mem.count / 4;
		want = want < MIN_PAGES ? MIN_PAGES : want;
	}
	want = want > MAX_PAGES ? MAX_PAGES : want;
	uint64_t chunks = (want + SH_CHUNK_PAGES - 1) / SH_CHUNK_PAGES, c = 0;
	while (c < chunks && chunk_alloc(c) == 0)
		c++;
	if (c == 0)
		return -ENOMEM;
	lp.shared_pages = c * SH_CHUNK_PAGES;
	lp.self_pid = libos_pid();
	lp.proc_index = 0;
	lp.hint_index = 0;
	lp.hint_pid = lp.self_pid;
	lo_thread0.tid = lp.self_pid;

	struct sh_header *h = sh_seg();
	h->magic = SH_MAGIC;
	h->version = SH_VERSION;
	h->header_size = sizeof *h;
	h->layout_size = lp.shared_pages * PAGE;
	h->next_tid = 0x100000;
	h->init_pid = (int32_t)lp.self_pid;
	h->nprocs = 1;
	h->procs_top = 1;
	h->heap_first = (SH_VA + sizeof *h + PAGE - 1) & ~(PAGE - 1);
	h->heap_end = SH_VA + h->layout_size;
	struct sh_block *b = (struct sh_block *)h->heap_first;
	b->size = h->heap_end - h->heap_first;
	free_insert(h, b);
	struct sh_proc *p = &h->procs[0];
	p->pid = p->pgid = p->sid = (int32_t)lp.self_pid;
	p->state = PROC_RUNNING;
	p->gen = 1;
	p->files.umask = 022;
	p->wakers = sh_alloc(sizeof *p->wakers);
	if (!p->wakers)
		return -ENOMEM;
	p->wakers->tid = p->pid;
	lo_thread0.waker = p->wakers;
	return 0;
}

/* An exec'd image: the segment is still in slots SH_SLOT0 and up (execve
 * keeps them; the handover record says how many, checked with one
 * CAP_INSPECT of the last), its header says how big it is, and our entry is the one with our pid.
 * execve handed the lock to our pid (lo_lock_hand_over), so once our tid
 * is the pid we hold it. */
int shared_adopt(void)
{
	struct exo_cap_info info;
	const struct exec_handover *rec = exec_handover();
	uint64_t c = rec ? rec->shared_chunks : 0;
	/* the record says how many caps: one look at the last, not one each */
	if (c == 0 || c > SH_MAX_CHUNKS || lo_cap_inspect((int64_t)(SH_SLOT0 + c - 1), &info))
		for (c = 0; c < SH_MAX_CHUNKS && lo_cap_inspect((int64_t)(SH_SLOT0 + c), &info) == 0;)
			c++;
	if (c == 0)
		return -ENOMEM;
	lp.self_pid = libos_pid();
	lo_thread0.tid = lp.self_pid;
	lp.shared_pages = c * SH_CHUNK_PAGES;
	struct sh_header *h = sh_seg();
	if (h->magic != SH_MAGIC || h->version != SH_VERSION || h->layout_size > lp.shared_pages * PAGE)
		return -EINVAL;
	lp.shared_pages = h->layout_size / PAGE;
	struct sh_proc *me = proc_by_pid(lp.self_pid);
	if (!me)
		return -ESRCH;
	lp.proc_index = (uint32_t)(me - h->procs);
	me->image_gen++;		/* the old image's channel messages are no one's now */
	me->nfork_hints = me->fork_hint_next = 0;	/* they named the old image's pages */
	lp.hint_index = lp.proc_index;
	lp.hint_pid = lp.self_pid;
	me->cpu_mask = lo_thread0.cpu_mask;	/* execve's caller is our main thread now */
	/* the old image's threads are gone: the first waker is ours */
	struct sh_waker *w = me->wakers;
	if (!w && !(w = me->wakers = sh_alloc(sizeof *w)))
		return -ENOMEM;
	for (struct sh_waker *o = w->next, *n; o; o = n) {
		n = o->next;
		proc_waker_awake(o);	/* ended in its sleep by execve */
		sh_free(o);
	}
	w->next = 0;
	proc_waker_awake(w);
	w->sleeping = 0;
	w->tid = (int32_t)lp.self_pid;
	lo_thread0.waker = w;
	return 0;
}

/* Maps the aligned group of SH_AROUND pages around the faulting one with
 * one call, as Linux maps a file's pages around a fault: a process that
 * reads a file of tmpfs (execve does, from a fresh child) or walks the
 * process table takes a sixteenth of the faults.  When the kernel's quota
 * for the records runs short, the page alone. */
int shared_fault(uint64_t va)
{
	if (va < SH_VA || va >= SH_VA + lp.shared_pages * PAGE)
		return 0;
	uint64_t i = (va - SH_VA) / PAGE, first = i & ~(SH_AROUND - 1);
	uint64_t n = lp.shared_pages - first < SH_AROUND ? lp.shared_pages - first : SH_AROUND;
	/* another thread may have mapped them meanwhile: the same frames are
	 * mapped again, or this fails and the access is simply retried */
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, SH_VA + first * PAGE, SH_SLOT0 + first / SH_CHUNK_PAGES,
		     first % SH_CHUNK_PAGES, EXO_PROT_READ | EXO_PROT_WRITE, n))
		exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, SH_VA + i * PAGE, SH_SLOT0 + i / SH_CHUNK_PAGES,
			 i % SH_CHUNK_PAGES, EXO_PROT_READ | EXO_PROT_WRITE);
	return 1;
}

/* The segment's chunks into the same slots of a forked child, with one
 * CAP_GRANT_RANGE (all or none) instead of a CAP_GRANT per chunk. */
int shared_grant(int64_t env)
{
	uint64_t chunks = lp.shared_pages / SH_CHUNK_PAGES;
	return chunks && exo_call(EXO_SYS_CAP_GRANT_RANGE, SH_SLOT0, env, SH_RIGHTS, SH_SLOT0 + 1, chunks) ? -1 : 0;
}

/* First fit over one free list, with boundary tags so a freed block
 * merges with free neighbours at once. */
void *sh_alloc(size_t size)
{
	struct sh_header *h = sh_seg();
	if (!lp.shared_pages || size > h->layout_size)
		return 0;
	uint64_t need = ((uint64_t)size + HDR + 15) & ~15ull;
	need = need < MIN_BLOCK ? MIN_BLOCK : need;
	struct sh_block *b = (struct sh_block *)h->free_list;
	while (b && b->size < need)
		b = b->next_free;
	if (!b)
		return 0;
	free_remove(h, b);
	if (b->size - need >= MIN_BLOCK) {
		struct sh_block *rest = (struct sh_block *)((uint64_t)b + need);
		rest->size = b->size - need;
		rest->prev_size = need;
		struct sh_block *after = block_after(h, rest);
		if (after)
			after->prev_size = rest->size;
		free_insert(h, rest);
		b->size = need;
	}
	b->size |= USED;
	lo_memset((uint8_t *)b + HDR, 0, (b->size & ~USED) - HDR);
	return (uint8_t *)b + HDR;
}

void sh_free(void *p)
{
	if (!p)
		return;
	struct sh_header *h = sh_seg();
	struct sh_block *b = (struct sh_block *)((uint8_t *)p - HDR);
	b->size &= ~USED;
	struct sh_block *n = block_after(h, b);
	if (n && !(n->size & USED)) {
		free_remove(h, n);
		b->size += n->size;
	}
	if (b->prev_size) {
		struct sh_block *prev = (struct sh_block *)((uint64_t)b - b->prev_size);
		if (!(prev->size & USED)) {
			free_remove(h, prev);
			prev->size += b->size;
			b = prev;
		}
	}
	n = block_after(h, b);
	if (n)
		n->prev_size = b->size;
	free_insert(h, b);
}

void *sh_realloc(void *p, size_t size)
{
	if (!p)
		return sh_alloc(size);
	struct sh_block *b = (struct sh_block *)((uint8_t *)p - HDR);
	uint64_t old = (b->size & ~USED) - HDR;
	if (size <= old)
		return p;
	void *n = sh_alloc(size);
	if (!n)
		return 0;
	lo_memcpy(n, p, old);
	sh_free(p);
	return n;
}

/* The kernel's futex on the word (the segment's frames are the same in
 * every process, so is the physical word); lo_wait_word records it in our
 * waker, so a signal from any process bumps it and wakes us. */
int64_t sh_wait(const volatile uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
	if (*word != expected)
		return 0;
	return lo_wait_word(word, expected, deadline_ns);
}

/* A kernel call only when some thread of the machine sleeps on it. */
void sh_wake(const volatile uint32_t *word)
{
	if (proc_sleeper_on(word))
		exo_call(EXO_SYS_FUTEX_WAKE, word, 0x7fffffff);
}

struct lo_proc_files *proc_files(void)
{
	static struct lo_proc_files early = { .umask = 022 };
	return lp.shared_pages ? &proc_self()->files : &early;
}

struct lo_proc_files *proc_forking_files(void)
{
	return lp.shared_pages ? &proc_self()->forking : 0;
}

/* Bytes of the heap free now and in all, for statfs and /proc/meminfo. */
void sh_usage(uint64_t *free_bytes, uint64_t *heap_bytes)
{
	struct sh_header *h = sh_seg();
	uint64_t n = 0;
	*free_bytes = *heap_bytes = 0;
	if (!lp.shared_pages)
		return;
	for (const struct sh_block *b = (const struct sh_block *)h->free_list; b; b = b->next_free)
		n += b->size & ~USED;
	*free_bytes = n;
	*heap_bytes = h->heap_end - h->heap_first;
}
