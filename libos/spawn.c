/*
 * vfork without a fork: clone(CLONE_VM|CLONE_VFORK) as musl's
 * posix_spawn makes it, and vfork(), when the caller has no other thread.
 *
 * The child is a process of its own from its first instruction: a fresh
 * env (its pid), its entry in the process table, a copy of the descriptor
 * table (the descriptions' references taken as fork takes them), its own
 * signal mask, dispositions and resource limits.  It runs on the calling
 * thread and on the parent's memory, as Linux runs it: the library OS
 * swaps the process it serves (lp.self_pid, lp.proc_index, the thread's
 * tid and waker, the per-process state above) and returns 0 on the
 * child's stack.  The parent's registers at the call are kept here.  When
 * the child calls execve, the new image is built into the child's env,
 * which never held a copy of the parent, and starts there (libos/exec.c
 * builds it, spawn_child_exec hands it over); when it ends first, its
 * entry becomes a zombie.  Either way the parent's state comes back and
 * its call returns the child's pid.  docs/LIBOS.md, "vfork and
 * posix_spawn", has the limits.
 */
#include "libos/libos.h"
#include "libos/proc.h"
#include "libos/spawn.h"
#include "libos/thread.h"
#include "libos/vfs.h"
#include "net/lwip/netshare.h"
#include "net/lwip/sockkeep.h"
#include "include/exo/native.h"
#include "include/exo/diepoint.h"

#define CHILD_QUOTA 2048		/* kernel pages, as fork gives */
#define EAGAIN 11
#define ENOMEM 12

_Noreturn void libos_resume(struct exo_regs *r);

/* The parent while its child runs on its thread. */
static struct {
	int active;
	int ci;				/* the child's index in lp.children */
	struct child child;		/* pid, env, thread, budget */
	int64_t pid;			/* the parent's */
	uint32_t index;
	struct sh_waker *waker;
	struct exo_regs regs;		/* to resume at, rax aside */
	uint64_t sigmask, sigpending, waitset, saved_mask;
	int mask_saved;
	struct lo_rlimit rlim[LO_RLIMITS];
	struct child children[MAX_CHILDREN];
	int16_t lent[MAX_PROCS];	/* our env caps the child uses meanwhile */
} host;

int spawn_child_active(void)
{
	return host.active;
}

int spawn_can_share(void)
{
	if (!lp.shared_pages || host.active)
		return 0;
	sockkeep_at_fork();		/* may start the machine's socket service */
	struct lo_thread *self = lo_thread_self();
	for (struct lo_thread *t = lo_threads(); t; t = t->next)
		if (t != self && t->state != LT_PARKED)
			return 0;
	return 1;
}

/* Deletes the caps of a child env that never ran. */
static void env_drop(const struct child *c)
{
	if (c->thread > 0)
		exo_call(EXO_SYS_CAP_DELETE, c->thread);
	if (c->budget > 0)
		exo_call(EXO_SYS_CAP_DELETE, c->budget);
	if (c->env > 0)
		exo_call(EXO_SYS_CAP_DELETE, c->env);
}

/* The child's env, empty: its thread (not started), a memory cap drawing
 * on ours, the console, the UARTs, the initramfs and the shared segment,
 * each in the slot a library OS looks for it.  0 or -errno. */
static int env_make(struct child *c)
{
	const uint32_t rights = EXO_R_READ | EXO_R_WRITE | EXO_R_GRANT | EXO_R_DERIVE;
	struct exo_cap_info info;
	*c = (struct child){ 0, 0, 0, 0 };
	c->env = exo_call(EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, CHILD_QUOTA);
	if (c->env < 0)
		return -ENOMEM;
	c->budget = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, EXO_MEM_DRAW, 0);
	c->thread = exo_call(EXO_SYS_THREAD_CREATE, c->env);
	if (c->thread >= 0)
		affinity_inherit(c->thread, 0);
	int bad = c->budget < 0 || c->thread < 0 ||
		  exo_call(EXO_SYS_CAP_GRANT, c->budget, c->env, EXO_R_ALL, EXO_SLOT_MEMORY + 1) < 0 ||
		  exo_call(EXO_SYS_CAP_GRANT, c->thread, c->env, EXO_R_ALL, EXO_SLOT_SELF_THREAD + 1) < 0 ||
		  exo_call(EXO_SYS_CAP_GRANT, EXO_SLOT_CONSOLE, c->env, rights, EXO_SLOT_CONSOLE + 1) < 0;
	for (int fd = 1; fd <= 2 && !bad; fd++)
		bad = lp.uart_slot[fd] &&
		      exo_call(EXO_SYS_CAP_GRANT, lp.uart_slot[fd], c->env, rights, lp.uart_slot[fd] + 1) < 0;
	if (bad || exec_fork_grant(c->env) || shared_grant(c->env) || lo_cap_inspect(c->env, &info)) {
		env_drop(c);
		return -ENOMEM;
	}
	c->pid = (int64_t)info.object;
	return 0;
}

/* The child's entry names the env caps we hold (its own, in its env, come
 * at execve), so what it sends and tidies uses our slots meanwhile. */
static void caps_lend(struct sh_proc *me, struct sh_proc *c)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		int mine = &sh_seg()->procs[i] == me || &sh_seg()->procs[i] == c;
		host.lent[i] = mine ? 0 : me->env_slot[i];
		c->env_slot[i] = host.lent[i];
		c->env_gen[i] = me->env_gen[i];
	}
}

/* Back from the child: a cap its tidying deleted is gone for us too. */
static void caps_back(struct sh_proc *me, struct sh_proc *c)
{
	for (int i = 0; i < MAX_PROCS; i++) {
		if (c->env_slot[i] != host.lent[i] && me->env_slot[i] == host.lent[i])
			me->env_slot[i] = c->env_slot[i];
		c->env_slot[i] = 0;
		c->env_gen[i] = 0;
	}
}

/* The calling thread serves the child from now on. */
static void become_child(struct lo_thread *self, struct sh_proc *c, uint64_t stack)
{
	struct sh_proc *me = proc_self();
	host.pid = lp.self_pid;
	host.index = lp.proc_index;
	host.waker = self->waker;
	host.regs = self->at_call;
	host.regs.rip = host.regs.rcx = self->reflect.rip;
	host.regs.rflags = host.regs.r11 = self->reflect.rflags;
	host.sigmask = self->sigmask;
	host.sigpending = self->sigpending;
	host.waitset = self->waitset;
	host.saved_mask = self->saved_mask;
	host.mask_saved = self->mask_saved;
	lo_signal_vfork_save();
	rlimit_exec_state(host.rlim);
	lo_memcpy(host.children, lp.children, sizeof lp.children);
	lo_memset(lp.children, 0, sizeof lp.children);
	caps_lend(me, c);
	lo_lock_hand_over((uint64_t)host.child.pid);
	self->tid = host.child.pid;
	self->waker = c->wakers;
	self->sigpending = 0;
	self->waitset = 0;
	self->mask_saved = 0;
	lp.self_pid = host.child.pid;
	lp.proc_index = (uint32_t)(c - sh_seg()->procs);
	c->vfork_host = (int32_t)host.pid;
	if (stack)
		self->at_call.rsp = stack;
	host.active = 1;
}

/* The parent's state again, the child among its children, and its call
 * set to return the child's pid.  The lock is the caller's business. */
static void parent_back(struct lo_thread *self)
{
	lp.self_pid = host.pid;
	lp.proc_index = host.index;
	self->tid = host.pid;
	self->waker = host.waker;
	self->sigmask = host.sigmask;
	self->sigpending = host.sigpending;
	self->waitset = host.waitset;
	self->saved_mask = host.saved_mask;
	self->mask_saved = host.mask_saved;
	lo_signal_vfork_restore();
	lo_memcpy(lp.rlim, host.rlim, sizeof lp.rlim);
	lo_memcpy(lp.children, host.children, sizeof lp.children);
	lp.children[host.ci] = host.child;
	self->at_call = host.regs;
	self->at_call.rax = (uint64_t)host.child.pid;
	self->regs_replaced = 1;
	host.active = 0;
}

static int free_child_index(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!lp.children[i].pid)
			return i;
	return -1;
}

int64_t spawn_vfork(uint64_t stack)
{
	if (rlimit_fork_check() || (host.ci = free_child_index()) < 0)
		return -EAGAIN;
	int r = env_make(&host.child);
	if (r)
		return r;
	die_point(EXO_DIE_VFORK_ENV);
	if (files_fork_prepare()) {
		env_drop(&host.child);
		return -ENOMEM;
	}
	die_point(EXO_DIE_VFORK_FILES);
	int64_t pid = host.child.pid;
	int64_t nerr = netshare_fork_grant(host.child.env, pid);	/* prctl EXO_PR_NET_CHILD */
	struct sh_proc *c = nerr ? 0 : proc_entry_new(host.child.env, pid);
	netshare_fork_done(c ? pid : -1);
	if (!c) {
		files_fork_done(0);
		env_drop(&host.child);
		return nerr ? nerr : -EAGAIN;
	}
	die_point(EXO_DIE_VFORK_ENTRY);
	become_child(lo_thread_self(), c, stack);
	files_fork_child();		/* the copy is the child's table */
	/* its entry names the copy now: the parent's record of it must not,
	 * or a parent dying with the lock would drop it a second time */
	sh_seg()->procs[host.index].forking = (struct lo_proc_files){ 0 };
	die_point(EXO_DIE_VFORK_CHILD);
	return 0;
}

_Noreturn void spawn_child_exit(int32_t status)
{
	struct lo_thread *self = lo_thread_self();
	struct sh_proc *c = proc_self();
	files_exit();
	caps_back(&sh_seg()->procs[host.index], c);
	proc_mark_dead(c, status);		/* SIGCHLD to the parent */
	exo_call(EXO_SYS_ENV_KILL, host.child.env, status);
	die_point(EXO_DIE_VFORK_EXIT);
	/* it runs on our env until the lock is ours again (a take-over
	 * from a holder that dies here asks our env: lock.c) */
	lo_lock_hand_over((uint64_t)host.pid);
	c->vfork_host = 0;
	parent_back(self);
	self->regs_replaced = 0;	/* resumed here, not by a call's return */
	lo_signal_publish();
	lo_unlock_all();
	libos_resume(&self->at_call);
}

/* The image's frames and its record, granted to the child's env and
 * mapped there through its own caps: 0 or -ENOMEM.  `ours` gets the
 * slots the caller still holds them in. */
static int image_to_child(struct exec_handover *h, int64_t rslot, uint64_t pages, uint64_t *ours)
{
	int64_t env = host.child.env;
	for (uint64_t i = 0; i < h->plan.nrun; i++) {
		struct exec_run *run = &h->plan.run[i];
		int64_t s = exo_call(EXO_SYS_CAP_GRANT, run->slot, env, exec_run_rights(run->prot), 0);
		if (s < 0 || exo_call(EXO_SYS_PAGE_MAP, env, run->va, s, 0,
				      (uint64_t)run->prot | EXO_MAP_TARGET_CAP, run->pages))
			return -ENOMEM;
		ours[i] = run->slot;
		run->slot = (uint64_t)s;
	}
	int64_t zs = exo_call(EXO_SYS_CAP_GRANT, h->plan.reserve_slot, env, EXO_R_ALL, 0);
	if (zs < 0)			/* the frames of its first demand-zero touches */
		return -ENOMEM;
	h->plan.reserve_slot = (uint64_t)zs;
	int64_t rs = exo_call(EXO_SYS_CAP_GRANT, rslot, env, EXO_R_ALL, 0);
	if (rs < 0 || exo_call(EXO_SYS_PAGE_MAP, env, EXEC_RECORD_VA, rs, 0,
			       EXO_PROT_READ | EXO_PROT_WRITE | EXO_MAP_TARGET_CAP, pages))
		return -ENOMEM;
	h->record_slot = (uint64_t)rs;
	return 0;
}

int spawn_child_exec(struct exec_handover *h, int64_t rslot, uint64_t pages)
{
	static uint64_t ours[EXEC_MAX_RUNS];
	struct lo_thread *self = lo_thread_self();
	struct sh_proc *c = proc_self(), *me = &sh_seg()->procs[host.index];
	uint64_t saved[EXEC_MAX_RUNS], reserve = h->plan.reserve_slot;
	for (uint64_t i = 0; i < h->plan.nrun; i++)
		saved[i] = h->plan.run[i].slot;
	if (image_to_child(h, rslot, pages, ours)) {
		for (uint64_t i = 0; i < h->plan.nrun; i++)
			h->plan.run[i].slot = saved[i];	/* the caller gives ours back */
		h->plan.reserve_slot = reserve;
		return -ENOMEM;
	}
	die_point(EXO_DIE_VFORK_IMAGE);
	/* the record as the new image reads it in its env: no stub, one
	 * thread, no devices (a fresh env holds none) */
	h->stub_slot = 0;
	h->thread_slot = EXO_SLOT_SELF_THREAD;
	h->start.irq_count = h->start.pci_count = h->start.ioport_count = 0;
	h->start.nic_count = h->start.blk_count = 0;
	struct exo_regs regs;
	lo_memset(&regs, 0, sizeof regs);
	regs.rip = h->plan.entry;
	regs.rsp = h->plan.rsp;
	regs.rdi = h->plan.record;
	regs.rflags = 0x202;
	uint64_t nrun = h->plan.nrun;
	fd_close_on_exec();
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, EXEC_RECORD_VA, pages);
	exo_call(EXO_SYS_CAP_DELETE, rslot);
	for (uint64_t i = 0; i < nrun; i++)
		exo_call(EXO_SYS_CAP_DELETE, ours[i]);	/* the child's copies own the frames */
	exo_call(EXO_SYS_CAP_DELETE, reserve);

	/* the child's caps on every process and theirs on it, given as the
	 * parent, then the new image starts holding the lock we hold; the
	 * lock's holder runs on our env until that image starts */
	caps_back(me, c);
	lp.self_pid = host.pid;
	lp.proc_index = host.index;
	proc_give_env_caps(c, host.child.env);
	uint32_t depth = sh_seg()->lock.depth;
	die_point(EXO_DIE_VFORK_CAPS);
	if (exo_call(EXO_SYS_THREAD_SET_REGS, host.child.thread, &regs) ||
	    exo_call(EXO_SYS_THREAD_START, host.child.thread)) {
		proc_mark_dead(c, EXO_STATUS_SIGNALED(9));
		exo_call(EXO_SYS_ENV_KILL, host.child.env, EXO_STATUS_SIGNALED(9));
		lo_lock_hand_over((uint64_t)host.pid);
		c->vfork_host = 0;
		parent_back(self);
		return 0;
	}
	c->vfork_host = 0;
	die_point(EXO_DIE_VFORK_STARTED);
	c->half_made = 0;		/* it runs on its own: a dying parent leaves it be */
	parent_back(self);
	lo_relock(depth);		/* once the new image's start-up gives it up */
	return 0;
}
