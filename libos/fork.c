/*
 * fork with copy-on-write, on top of user-level page faults.
 *
 * The child is a new env.  It receives copies of our frame caps in the
 * same slots, so it can map them itself; the copies are children of our
 * caps in the derivation tree and keep the frames alive if we end first.
 * Every page we have resident is mapped in the child read-only and marked
 * copy-on-write in both of us, except the private block (struct
 * libos_private) and the memory tables (what the fault handler itself
 * writes), which the child gets copied at once into frames of its own,
 * and the few pages both of us are sure to write at once (mm_fork_mark),
 * which it gets copies of too.  The first write to a shared page
 * faults, and mm_cow_fault gives the writer a copy.  The child starts on
 * its exception stack in libos_fork_child, registers its entries, and
 * returns from fork with 0.  The shared segment (libos/shared.c) is not
 * copied: the child gets its caps and maps it as we do.
 *
 * Budgets: the child draws on our memory budget as it allocates, as every
 * process on Linux uses the machine's free memory (child_budget), and gets
 * a kernel quota from it; what it holds comes back as it frees or ends.
 */
#include "libos/libos.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/exec.h"
#include "libos/vfs.h"
#include "net/lwip/netshare.h"
#include "net/lwip/sockkeep.h"
#include "include/exo/native.h"
#include "include/exo/diepoint.h"

#define PAGE 4096ull
#define CHILD_QUOTA 2048			/* kernel pages: page tables, records */
#define ENOMEM 12
#define EAGAIN 11
#define ENOENT 2

void libos_fork_child(void);
void libos_fault_entry(void);
void libos_forget_caches(void);
uint64_t libos_fs_base(void);

/* Unmaps the private window and frees a cap, for the error paths. */
static int64_t fail(int64_t env, int64_t err)
{
	if (env > 0)
		exo_call(EXO_SYS_CAP_DELETE, env);
	return err;
}

/* The console cap and the UARTs' port caps, into the same slots of the
 * child (the private block it inherits names them). */
static int64_t grant_console(int64_t env)
{
	const uint32_t r = EXO_R_READ | EXO_R_WRITE | EXO_R_GRANT | EXO_R_DERIVE;

	if (exo_call(EXO_SYS_CAP_GRANT, EXO_SLOT_CONSOLE, env, r, EXO_SLOT_CONSOLE + 1) < 0)
		return -1;
	for (int fd = 1; fd <= 2; fd++)
		if (lp.uart_slot[fd] &&
		    exo_call(EXO_SYS_CAP_GRANT, lp.uart_slot[fd], env, r, lp.uart_slot[fd] + 1) < 0)
			return -1;
	return 0;
}

/* The same after the child has its entry in the process table. */
static int64_t fail_child(struct sh_proc *entry, int64_t env)
{
	proc_fork_failed(entry);
	return fail(env, -ENOMEM);
}

/* The same once the pages are marked for the child: the marks taken
 * back, our window on its private block (pages long) and our caps on its
 * frames and its copied pages' go too. */
static int64_t fail_memory(struct sh_proc *entry, int64_t env, int64_t priv, int64_t copies, uint64_t pages)
{
	mm_fork_unmark();
	lp.ncopied = 0;
	if (priv > 0) {
		exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, FORK_PRIVATE_VA, pages);
		exo_call(EXO_SYS_CAP_DELETE, priv);
	}
	if (copies)
		exo_call(EXO_SYS_CAP_DELETE, copies);
	return fail_child(entry, env);
}

/* The first free entry of a chunk table from c on (MAX_CHUNKS: none). */
static int free_chunk_from(const struct chunk *chunks, int c)
{
	while (c < MAX_CHUNKS && chunks[c].slot)
		c++;
	return c;
}

/* What differs in the child's private block cp from our copy of it:
 * its pid and entry, no children, every chunk of ours shared, its own
 * private block in chunk pc, and its copied pages (if copies) in chunk
 * cc with free pages after them. */
static void child_private(struct libos_private *cp, const struct sh_proc *entry, int64_t pid,
			  int64_t priv, int pc, int64_t copies, int cc)
{
	lo_memset(cp->children, 0, sizeof cp->children);
	cp->self_pid = pid;
	/* the ports are ours until the child enables them in its own env:
	 * a report it makes before that (a take-over of the lock from a
	 * process that died holding it) goes to the kernel's console */
	lo_memset(cp->uart_on, 0, sizeof cp->uart_on);
	cp->proc_index = (uint32_t)(entry - sh_seg()->procs);
	cp->hint_index = lp.proc_index;	/* its faults until execve hint our next fork */
	cp->hint_pid = lp.self_pid;
	cp->next_chunk_pages = FORK_CHILD_CHUNK;	/* most children exec first */
	for (int c = 0; c < MAX_CHUNKS; c++) {
		if (!cp->chunks[c].slot)
			continue;	/* a chunk is made whole when it is taken */
		for (int w = 0; w < 8; w++) {
			/* the free pages stay ours: the child's stranded ones,
			 * its own once nobody else holds the chunk (mm.c) */
			cp->chunks[c].dirty[w] |= ~cp->chunks[c].used[w];
			cp->chunks[c].used[w] = ~0ull;
		}
		cp->chunks[c].shared = CHUNK_COPY;
		cp->chunks[c].asked = (uint8_t)cp->share_epoch;	/* shared: ours holds it */
	}
	cp->chunks[pc] = (struct chunk){ .slot = priv, .pages = (uint32_t)(sizeof lp / PAGE), .fixed = 1 };
	cp->private_chunk = (uint32_t)pc;
	if (copies) {
		cp->chunks[cc] = (struct chunk){ .slot = copies, .pages = cp->ncopied + FORK_COPY_SPARE };
		cp->chunks[cc].used[0] = (1ull << cp->ncopied) - 1;	/* at most FORK_COPY_MAX, 32 */
		cp->copied_chunk = (uint32_t)cc;
	}
}

static int free_child_index(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!lp.children[i].pid)
			return i;
	return -1;
}

/* The child's memory: a cap that draws on ours (EXO_MEM_DRAW), so it
 * allocates from the same budget as we do, and our own forebears, instead
 * of a share fixed at fork.  A bound would be a plain cap of that many
 * pages to draw on; nothing sets one yet (RLIMIT_AS is the library OS's). */
static int64_t child_budget(void)
{
	return exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, EXO_MEM_DRAW, 0);
}

/* The rights the child gets on a chunk's frames: those of an image run
 * not writable are read-only (exec_run_rights). */
static uint32_t chunk_rights(const struct chunk *c)
{
	return c->grant ? c->grant : EXO_R_READ | EXO_R_WRITE | EXO_R_EXEC | EXO_R_GRANT | EXO_R_DERIVE;
}

static int64_t fork_env(void)
{
	struct exo_cap_info mem;
	int ci = free_child_index();

	if (ci < 0 || lo_cap_inspect(EXO_SLOT_MEMORY, &mem))
		return -EAGAIN;
	uint64_t private_pages = sizeof lp / PAGE;
	if (mem.count < CHILD_QUOTA + private_pages + mm_tables_pages() + 64)
		return -ENOMEM;

	int64_t env = exo_call(EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, CHILD_QUOTA);
	if (env < 0)
		return -ENOMEM;
	die_point(EXO_DIE_FORK_ENV);
	int64_t budget = child_budget();
	int64_t thread = exo_call(EXO_SYS_THREAD_CREATE, env);
	if (thread >= 0)
		affinity_inherit(thread, 0);
	if (budget < 0 || thread < 0 ||
	    exo_call(EXO_SYS_CAP_GRANT, budget, env, EXO_R_ALL, EXO_SLOT_MEMORY + 1) < 0 ||
	    grant_console(env) < 0 || exec_fork_grant(env) < 0 ||
	    exo_call(EXO_SYS_CAP_GRANT, thread, env, EXO_R_ALL, EXO_SLOT_SELF_THREAD + 1) < 0) {
		if (budget >= 0)
			exo_call(EXO_SYS_CAP_DELETE, budget);
		return fail(env, -ENOMEM);
	}
	uint64_t granted[MAX_CHUNKS / 64] = { 0 };
	for (int c = 0; c < MAX_CHUNKS; c++) {
		if (!lp.chunks[c].slot)
			continue;
		if (exo_call(EXO_SYS_CAP_GRANT, lp.chunks[c].slot, env, chunk_rights(&lp.chunks[c]),
			     lp.chunks[c].slot + 1) < 0)
			return fail(env, -ENOMEM);
		granted[c / 64] |= 1ull << (c % 64);
	}
	struct exo_cap_info info;
	if (shared_grant(env) || lo_cap_inspect(env, &info))
		return fail(env, -ENOMEM);
	int64_t nerr = netshare_fork_grant(env, (int64_t)info.object);	/* prctl EXO_PR_NET_CHILD */
	if (nerr)
		return fail(env, nerr);
	die_point(EXO_DIE_FORK_GRANTS);
	/* its entry in the process table, and the caps to end every process */
	struct sh_proc *entry = proc_fork(env, (int64_t)info.object);
	if (!entry)
		return fail(env, -EAGAIN);
	die_point(EXO_DIE_FORK_ENTRY);

	/* every resident page: shared read-only, copy-on-write in both, or
	 * for the few we wrote since our last fork, copied for the child
	 * now; the child takes its private block's and its copies' records
	 * over (mm_adopt_private).  The marks go first, and the private
	 * block and the tables are copied after them, before any page is
	 * made read-only here: a write of ours after that faults and changes
	 * our record, which the child's copy must not see. */
	int pc = free_chunk_from(lp.chunks, 0);
	int cc = pc < MAX_CHUNKS ? free_chunk_from(lp.chunks, pc + 1) : MAX_CHUNKS;
	if (pc == MAX_CHUNKS)
		return fail_child(entry, env);
	int64_t copies = mm_fork_mark(env, cc < MAX_CHUNKS);

	/* the child's private block: ours, copied by the kernel, then what
	 * differs for it; the tables' copy after it */
	uint64_t room = mm_tables_pages(), missing;
	uint64_t window = private_pages + room;
	int64_t priv = mm_fork_private(room, &missing);
	if (priv < 0)
		return fail_memory(entry, env, 0, copies, 0);
	struct libos_private *cp = (struct libos_private *)FORK_PRIVATE_VA;
	if (exo_call(EXO_SYS_CAP_GRANT, priv, env, EXO_R_ALL, priv + 1) < 0 ||
	    exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, FORK_PRIVATE_VA, priv, 0,
		     EXO_PROT_READ | EXO_PROT_WRITE, window))
		return fail_memory(entry, env, priv, copies, window);
	for (uint64_t i = 0; i < private_pages; i++)
		if (missing >> i & 1)
			lo_memcpy((uint8_t *)cp + i * PAGE, (const uint8_t *)&lp + i * PAGE, PAGE);
	lp.ncopied = 0;		/* the child's, in its copy; ours holds none */
	/* our pool may have grown since the grants (a fault of ours in
	 * proc_fork, the marks or the copy: a new chunk); the child's copy
	 * of the block names such a chunk, so it gets its cap too, in the
	 * same slot (without it, the child took the slot as free, put a cap
	 * of its own there, and later used that cap as the chunk's: a
	 * PAGE_MAP of a MEMORY cap, "out of memory" in BusyBox's suite).
	 * Its own two chunks go where its copy has room. */
	for (int c = 0; c < MAX_CHUNKS; c++)
		if (cp->chunks[c].slot && !(granted[c / 64] >> (c % 64) & 1) &&
		    exo_call(EXO_SYS_CAP_GRANT, cp->chunks[c].slot, env, chunk_rights(&cp->chunks[c]),
			     cp->chunks[c].slot + 1) < 0)
			return fail_memory(entry, env, priv, copies, window);
	pc = free_chunk_from(cp->chunks, 0);
	cc = pc < MAX_CHUNKS ? free_chunk_from(cp->chunks, pc + 1) : MAX_CHUNKS;
	if (pc == MAX_CHUNKS || (copies && cc == MAX_CHUNKS))
		return fail_memory(entry, env, priv, copies, window);
	child_private(cp, entry, (int64_t)info.object, priv, pc, copies, cc);
	if (mm_tables_fork(env, priv, private_pages, room) || mm_fork_share(env, priv, copies))
		return fail_memory(entry, env, priv, copies, window);
	die_point(EXO_DIE_FORK_MAPPINGS);
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, FORK_PRIVATE_VA, window);
	/* the frames of the child's private block and copies are the child's alone */
	exo_call(EXO_SYS_CAP_DELETE, priv);
	if (copies)
		exo_call(EXO_SYS_CAP_DELETE, copies);
	lo_threads_after_fork_parent();

	struct exo_regs regs;
	lo_memset(&regs, 0, sizeof regs);
	regs.rip = (uint64_t)libos_fork_child;
	regs.rsp = (uint64_t)(lp.exception_stack + sizeof lp.exception_stack) - 8;
	regs.rdi = (uint64_t)lo_thread_self();	/* the child's only thread */
	regs.rflags = 0x202;
	regs.fsbase = libos_fs_base();	/* no rdfsbase: not every CPU has it */
	if (exo_call(EXO_SYS_THREAD_SET_REGS, thread, &regs))
		return fail_child(entry, env);
	die_point(EXO_DIE_FORK_START);
	if (exo_call(EXO_SYS_THREAD_START, thread))
		return fail_child(entry, env);
	die_point(EXO_DIE_FORK_STARTED);
	proc_fork_started(entry);
	lp.children[ci] = (struct child){ (int64_t)info.object, env, thread, budget };
	return (int64_t)info.object;
}

/* The child's copy of the descriptor table is made before its memory is,
 * so it finds the copy there (libos/fd.c). */
int64_t libos_fork(void)
{
	if (rlimit_fork_check())
		return -EAGAIN;
	if (files_fork_prepare())
		return -ENOMEM;
	die_point(EXO_DIE_FORK_FILES);
	int64_t pid = fork_env();
	if (pid > 0)
		die_point(EXO_DIE_FORK_DONE);
	netshare_fork_done(pid);
	files_fork_done(pid > 0);
	if (pid > 0) {
		sockkeep_at_fork();
		sysv_fork_attachments();
		mm_files_fork();
	}
	return pid;
}

/* Runs first in the child (libos_fork_child), with the block of the
 * thread that forked: its own entries, then the registers that thread had
 * at fork, with rax = 0. */
struct exo_regs *libos_child_init(struct lo_thread *t)
{
	mm_adopt_private(lp.private_chunk);
	rlimit_after_fork();
	exo_call(EXO_SYS_SET_FAULT_HANDLER, libos_fault_entry,
		 lp.exception_stack + sizeof lp.exception_stack, sizeof lp.exception_stack);
	die_point_after_fork();
	/* the block, unless copied for us at the fork, is still the
	 * parent's (copy-on-write) and names the parent's thread as the
	 * lock's holder: it gets our own page and our tid before anything
	 * here can take the lock */
	for (uint64_t va = (uint64_t)t & ~(PAGE - 1); va < (uint64_t)(t + 1); va += PAGE)
		mm_own_page(va);
	t->tid = lp.self_pid;
	lo_threads_after_fork(t);
	libos_forget_caches();
	libos_start_info = 0;		/* the start page is the first program's */
	lo_timers_after_fork();
	console_init();			/* before a take-over's report */
	/* the files wait for the parent's fork to end: should the parent
	 * die in it, the lock's take-over decides first whether we live on
	 * (and take the copy made for us) or are ended (docs/LIBOS.md, "A
	 * process that dies holding the lock") */
	lo_lock();
	files_fork_child();
	lo_unlock();
	t->at_call.rax = 0;		/* fork returns 0 in the child */
	t->at_call.rip = t->reflect.rip;
	t->at_call.rflags = t->reflect.rflags;
	return &t->at_call;
}

static struct child *child_of(int64_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (lp.children[i].pid && lp.children[i].pid == pid)
			return &lp.children[i];
	return 0;
}

/* The kernel's status of a child we forked: its wait status once its env
 * ended, -EAGAIN while it runs, -ENOENT when it is not ours. */
int64_t fork_child_status(int64_t pid)
{
	struct child *c = child_of(pid);
	return c ? exo_call(EXO_SYS_ENV_STATUS, c->env) : -ENOENT;
}

/* Removes a child: its env (which ends if it has not), thread and budget,
 * which comes back to us.  0 when pid is not a child we forked. */
int fork_reap_child(int64_t pid)
{
	struct child *c = child_of(pid);
	if (!c)
		return 0;
	exo_call(EXO_SYS_CAP_DELETE, c->env);
	exo_call(EXO_SYS_CAP_DELETE, c->thread);
	exo_call(EXO_SYS_CAP_DELETE, c->budget);
	netshare_child_gone(pid);
	c->pid = 0;
	lp.share_epoch++;	/* its copies of our chunks are gone: ask again (mm.c) */
	return 1;
}
