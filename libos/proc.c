/*
 * The process table (libos/proc.h): parents, process groups, sessions,
 * zombies and their wait statuses, signals between processes, wait4 and
 * waitid.  Entries live in the shared segment and are changed only under
 * the libOS lock, which is the machine's.
 *
 * Ending another process: every process holds a cap (with CONTROL) on the
 * env of every other running process.  fork hands them out: the child gets
 * the forker's caps and the forker's own, and every running process the
 * forker can reach gets one for the child, in a slot the kernel picks and
 * the table records (env_slot).  So a killer ends a process that runs
 * program code and never calls in with ENV_KILL, holding the lock (the
 * victim then cannot hold it), and marks its entry a zombie itself.  Caps
 * of reaped processes are deleted by each holder at its next call
 * (proc_tidy).  Since the first process holds a cap on everyone, orphans
 * stay alive (the kernel ends envs no chain of caps from env 1 reaches).
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/tty.h"
#include "libos/spawn.h"
#include "libos/vfs.h"
#include "include/exo/native.h"
#include "include/exo/diepoint.h"

#define SIGKILL 9
#define SIGCHLD 17
#define SIGSTOP 19
#define WNOHANG 1
#define WEXITED 4
#define WNOWAIT 0x01000000
#define CLD_EXITED 1
#define CLD_KILLED 2
#define CLD_STOPPED 5
#define CLD_CONTINUED 6
#define SIGCONT 18
#define WUNTRACED 2
#define WCONTINUED 8
#define STOP_SIGS (BIT(19) | BIT(20) | BIT(21) | BIT(22))	/* STOP TSTP TTIN TTOU */
#define P_ALL 0
#define P_PID 1
#define P_PGID 2
#define BIT(sig) (1ull << ((sig) - 1))
#define ENV_RIGHTS (EXO_R_CONTROL | EXO_R_GRANT)
#define RESCAN_NS 100000000ull		/* a child may end without the libOS */

/* The file layer drops the open files of an ended process (weak: nothing
 * until it keeps them in the segment). */
__attribute__((weak)) void lo_proc_files_exit(struct lo_proc_files *files)
{
	(void)files;
}

/* And the descriptions a thread's call held (weak: nothing held). */
__attribute__((weak)) void lo_waker_holds_drop(struct sh_waker *w, int foreign)
{
	(void)w, (void)foreign;
}

/* One past the highest entry ever used: the entries above it are free and
 * no process ever held a cap for them, so a scan of the table stops there.
 * A scan of all MAX_PROCS entries touches pages of the segment a new image
 * has not mapped yet, a fault for each 16 of them (shared_fault). */
static int procs_top(void)
{
	uint32_t n = sh_seg()->procs_top;	/* only grows: read without the lock too */
	return n < MAX_PROCS ? (int)n : MAX_PROCS;
}

static int index_of(const struct sh_proc *p)
{
	return (int)(p - sh_seg()->procs);
}

struct sh_proc *proc_by_pid(int64_t pid)
{
	struct sh_header *h = sh_seg();
	for (int i = 0, top = procs_top(); i < top; i++)
		if (h->procs[i].state != PROC_FREE && h->procs[i].pid == pid)
			return &h->procs[i];
	return 0;
}

int proc_multi(void)
{
	return lp.shared_pages && sh_seg()->nprocs > 1;
}

/* The slot where we hold p's env cap with CONTROL, or 0. */
static int64_t env_cap_of(const struct sh_proc *p)
{
	struct sh_proc *me = proc_self();
	int i = index_of(p);
	return me->env_slot[i] && me->env_gen[i] == p->gen ? me->env_slot[i] : 0;
}

int64_t proc_env_cap(int64_t pid)
{
	struct sh_proc *p = lp.shared_pages ? proc_by_pid(pid) : 0;
	return p ? env_cap_of(p) : 0;
}

int proc_keeps_slot(uint64_t slot)
{
	if (!lp.shared_pages)
		return 0;
	if (slot >= SH_SLOT0 && slot < SH_SLOT0 + lp.shared_pages / SH_CHUNK_PAGES +
	    (lp.shared_pages % SH_CHUNK_PAGES != 0))
		return 1;
	struct sh_proc *me = proc_self();
	for (int i = 0; i < MAX_PROCS; i++)
		if (me->env_slot[i] && (uint64_t)me->env_slot[i] == slot)
			return 1;
	return 0;
}

/* Grants cap slot `what` (ours) into the env we hold at `into`; records it
 * in holder's table as process `of`'s env cap. */
static void give_env_cap(int64_t what, int64_t into, struct sh_proc *holder, const struct sh_proc *of)
{
	int64_t s = exo_call(EXO_SYS_CAP_GRANT, what, into, ENV_RIGHTS, 0);
	if (s <= 0)
		return;			/* that holder must wait for the victim to call in */
	holder->env_slot[index_of(of)] = (int16_t)s;
	holder->env_gen[index_of(of)] = of->gen;
}

/* Some process still records an env cap for entry i. */
static int entry_still_held(int i)
{
	struct sh_header *h = sh_seg();
	for (int k = 0, top = procs_top(); k < top; k++)
		if (h->procs[k].state != PROC_FREE && h->procs[k].env_slot[i])
			return 1;
	return 0;
}

struct sh_proc *proc_entry_new(int64_t env, int64_t pid)
{
	struct sh_header *h = sh_seg();
	struct sh_proc *me = proc_self(), *c = 0;
	/* a free entry that no process still holds an env cap for: the
	 * holder drops that cap in proc_tidy, and a new process in the entry
	 * would overwrite the record of it before then */
	int top = procs_top();
	for (int i = 0; i < top && !c; i++)
		if (h->procs[i].state == PROC_FREE && !entry_still_held(i))
			c = &h->procs[i];
	if (!c && top < MAX_PROCS)
		c = &h->procs[top];		/* never used, so held by nobody */
	for (int i = 0; i < top && !c; i++)
		if (h->procs[i].state == PROC_FREE)
			c = &h->procs[i];
	if (!c)
		return 0;
	uint32_t gen = c->gen + 1;
	struct sh_waker *w = sh_alloc(sizeof *w);	/* its main thread's */
	if (!w)
		return 0;
	w->tid = (int32_t)pid;
	lo_memset(c, 0, sizeof *c);
	*c = (struct sh_proc){ .pid = (int32_t)pid, .ppid = me->pid, .pgid = me->pgid, .sid = me->sid,
			       .state = PROC_RUNNING, .gen = gen, .sigcaught = me->sigcaught,
			       .sigignored = me->sigignored, .sigblocked = me->sigblocked, .wakers = w,
			       .half_made = 1, .cpu_mask = lo_thread_self()->cpu_mask };
	h->nprocs++;
	if (index_of(c) >= top)
		h->procs_top = (uint32_t)index_of(c) + 1;
	me->env_slot[index_of(c)] = (int16_t)env;
	me->env_gen[index_of(c)] = gen;
	return c;
}

void proc_give_env_caps(struct sh_proc *c, int64_t env)
{
	struct sh_header *h = sh_seg();
	struct sh_proc *me = proc_self();
	give_env_cap(EXO_SLOT_SELF_ENV, env, c, me);
	for (int i = 0, top = procs_top(); i < top; i++) {
		struct sh_proc *o = &h->procs[i];
		int64_t slot = o != me && o != c && o->state == PROC_RUNNING ? env_cap_of(o) : 0;
		if (!slot)
			continue;
		give_env_cap(slot, env, c, o);
		give_env_cap(env, slot, o, c);
	}
}

struct sh_proc *proc_fork(int64_t env, int64_t pid)
{
	struct sh_proc *c = proc_entry_new(env, pid);
	if (c) {
		proc_give_env_caps(c, env);
		c->image = proc_self()->image;	/* the child maps it too */
		tmpfs_image_ref(c->image);
	}
	return c;
}

void proc_set_image(struct sh_proc *p, struct tmpfs_image *img)
{
	tmpfs_image_put(p->image);
	p->image = img;
}

void proc_waker_wake(struct sh_waker *w)
{
	w->word++;
	volatile uint32_t *on = w->on;
	if (on && on != &w->word)
		(*on)++;
	if (w->sleeping && on)
		exo_call(EXO_SYS_FUTEX_WAKE, on, on == &w->word ? 1 : 0x7fffffff);
}

/* One thread of p that sleeps, thread tid when it is for that one: it
 * takes the process's signals (proc_take_signals) and hands each to the
 * thread it is for, waking that one in turn.  Waking only one also keeps
 * threads that fork made copy-on-write from faulting at once. */
static void wake_process(struct sh_proc *p, int32_t tid)
{
	for (struct sh_waker *w = p->wakers; w; w = w->next)
		if (w->sleeping && (!tid || w->tid == tid)) {
			proc_waker_wake(w);
			return;
		}
}


/* Only sh_wake reads the counts, and it is never called on a waker's own
 * word (that one's wakers call proc_waker_wake), so a sleep there (a
 * futex, pause, nanosleep) is not counted. */
static int counted(const struct sh_waker *w, const volatile uint32_t *word)
{
	return word && word != &w->word && lp.shared_pages;
}

void proc_waker_sleep(struct sh_waker *w, const volatile uint32_t *word)
{
	w->on = (volatile uint32_t *)word;
	if (counted(w, word))
		(*proc_waiting_of(word))++;
}

void proc_waker_awake(struct sh_waker *w)
{
	if (counted(w, w->on))
		(*proc_waiting_of(w->on))--;
	w->on = 0;
}

struct sh_waker *proc_waker_new(void)
{
	struct sh_proc *me = proc_self();
	struct sh_waker *w = sh_alloc(sizeof *w), **pp = &me->wakers;
	while (w && *pp)
		pp = &(*pp)->next;
	if (w)
		*pp = w;
	return w;
}

static void wakers_free(struct sh_waker *w)
{
	while (w) {
		struct sh_waker *next = w->next;
		proc_waker_awake(w);	/* a thread killed in its sleep */
		sh_free(w);
		w = next;
	}
}

static void wake_process(struct sh_proc *p, int32_t tid);

/* Frees p's entry.  Other processes hold env caps on p (proc_fork hands
 * them out), which keep its env, and with it its kernel quota, until each
 * drops its cap in proc_tidy: a process blocked in a wait (init in wait4)
 * would hold it for ever, so each is woken to tidy. */
static void entry_free(struct sh_proc *p)
{
	struct sh_header *h = sh_seg();
	wakers_free(p->wakers);
	p->wakers = 0;
	p->state = PROC_FREE;
	h->nprocs--;
	h->reap_gen++;
	struct sh_proc *me = proc_self();
	for (int i = 0, top = procs_top(); i < top; i++)
		if (h->procs[i].state == PROC_RUNNING && &h->procs[i] != me)
			wake_process(&h->procs[i], 0);
}

void proc_fork_failed(struct sh_proc *c)
{
	proc_set_image(c, 0);		/* its thread never ran */
	proc_self()->env_slot[index_of(c)] = 0;
	entry_free(c);
}

void proc_fork_started(struct sh_proc *c)
{
	c->half_made = 0;
	proc_self()->forking = (struct lo_proc_files){ 0 };
}

static void reap_detached(void);

/* Drops our caps on the envs of entries freed or reused since we last
 * looked. */
static __attribute__((noinline)) void drop_freed_caps(void)
{
	struct sh_header *h = sh_seg();
	struct sh_proc *me = proc_self();
	for (int i = 0, top = procs_top(); i < top; i++) {
		struct sh_proc *o = &h->procs[i];
		if (!me->env_slot[i] || (o->state != PROC_FREE && o->gen == me->env_gen[i]))
			continue;
		exo_call(EXO_SYS_CAP_DELETE, me->env_slot[i]);
		me->env_slot[i] = 0;
	}
}

/* Every call runs this: what it finds to do is rare, so the common case
 * is two loads and compares and no register saved. */
void proc_tidy(void)
{
	static uint32_t seen;
	if (!lp.shared_pages)
		return;
	if (proc_self()->detached_children)
		reap_detached();
	uint32_t gen = sh_seg()->reap_gen;
	if (gen == seen)
		return;
	seen = gen;
	drop_freed_caps();
}

/* A signal for another process: ended at once when its default action is
 * fatal and it does not block it, else pending in its entry until it next
 * calls in (or wakes from a wait, which the wait word ends). */
static void send_other(struct sh_proc *p, int sig, const struct lo_sigsrc *src, int32_t tid)
{
	uint64_t bit = BIT(sig);
	if (sig != SIGKILL && (p->sigignored & bit))
		return;
	int64_t slot = env_cap_of(p);
	if (slot && (sig == SIGKILL || !((p->sigcaught | p->sigblocked | STOP_SIGS) & bit))) {
		exo_call(EXO_SYS_ENV_KILL, slot, EXO_STATUS_SIGNALED(sig));
		proc_mark_dead(p, EXO_STATUS_SIGNALED(sig));
		return;
	}
	p->sigpending |= bit;
	p->info[sig - 1] = *src;
	p->to_tid[sig - 1] = tid;
	wake_process(p, tid);
}

/* p's thread tid exists (0: any thread does). */
static int has_thread(const struct sh_proc *p, int32_t tid)
{
	if (!tid)
		return 1;
	for (const struct sh_waker *w = p->wakers; w; w = w->next)
		if (w->tid == tid)
			return 1;
	return 0;
}

struct sh_proc *proc_of_tid(int32_t tid)
{
	struct sh_header *h = sh_seg();
	for (int i = 0, top = procs_top(); i < top; i++)
		if (h->procs[i].state == PROC_RUNNING && has_thread(&h->procs[i], tid))
			return &h->procs[i];
	return 0;
}

int64_t proc_send_info(struct sh_proc *p, int sig, const struct lo_sigsrc *src, int32_t tid)
{
	if (p->state != PROC_RUNNING || !has_thread(p, tid))
		return -ESRCH;
	if (!sig)
		return 0;
	if (sig == SIGCONT)
		proc_continue(p);
	if (p != proc_self()) {
		send_other(p, sig, src, tid);
		return 0;
	}
	struct lo_thread *t = tid ? lo_thread_by_tid(tid) : 0;
	if (t)
		lo_signal_thread_info(t, sig, src);
	else
		lo_signal_process_info(sig, src);
	return 0;
}

int64_t proc_send(struct sh_proc *p, int sig, int code)
{
	struct lo_sigsrc src = { .code = code, .a = proc_self()->pid };
	if (sig && p->state == PROC_RUNNING)
		proc_send_info(p, sig, &src, 0);
	return 0;
}

/* A signal for one of our threads goes to it, or nowhere when it has
 * exited meanwhile. */
void proc_take_signals(void)
{
	struct sh_proc *me = proc_self();
	while (me->sigpending) {
		int sig = __builtin_ctzll(me->sigpending) + 1;
		me->sigpending &= ~BIT(sig);
		struct lo_thread *t = me->to_tid[sig - 1] ? lo_thread_by_tid(me->to_tid[sig - 1]) : 0;
		if (t)
			lo_signal_thread_info(t, sig, &me->info[sig - 1]);
		else if (!me->to_tid[sig - 1])
			lo_signal_process_info(sig, &me->info[sig - 1]);
	}
}

void proc_publish_signals(uint64_t caught, uint64_t ignored, uint64_t blocked, int nocldwait)
{
	if (!lp.shared_pages)
		return;
	struct sh_proc *me = proc_self();
	me->sigcaught = caught;
	me->sigignored = ignored;
	me->sigblocked = blocked;
	me->nocldwait = (uint32_t)nocldwait;
}

/* Tells a parent that its child p changed: SIGCHLD and its wait word. */
static void tell_parent(struct sh_proc *parent, struct sh_proc *p)
{
	int sig = p->status & 0x7f;
	struct lo_sigsrc src = { .code = sig ? CLD_KILLED : CLD_EXITED, .a = p->pid,
				 .value = (uint64_t)(sig ? sig : (p->status >> 8) & 0xff) };
	if (parent->nocldwait && !p->detached) {
		p->detached = 1;		/* reaped by the parent at its next call */
		parent->detached_children++;
	}
	proc_send_info(parent, SIGCHLD, &src, 0);
	parent->wait_word++;
	sh_wake(&parent->wait_word);
}

/* p died in the middle of a fork or vfork: its half-made child is ended
 * (it would hold its entry, env and quota for good, nobody waiting for
 * it), and the copy of the files made for it, which only p's private
 * memory named, is dropped (a pipe's writer would never close).  Unless
 * we are that child: our thread started, so the fork was whole but for
 * the parent's bookkeeping, and we live on as the first process's orphan
 * with the files made for us (libos_child_init takes them once we give
 * the lock up). */
static void undo_half_fork(struct sh_proc *p)
{
	struct sh_header *h = sh_seg();
	int ours = 0;
	for (int i = 0, top = procs_top(); i < top; i++) {
		struct sh_proc *q = &h->procs[i];
		if (q->state != PROC_RUNNING || q->ppid != p->pid || !q->half_made)
			continue;
		q->half_made = 0;
		q->ppid = h->init_pid;		/* an orphan: the first process reaps it */
		if (q == proc_self()) {
			ours = 1;
			continue;
		}
		int64_t slot = env_cap_of(q);
		if (slot)
			exo_call(EXO_SYS_ENV_KILL, slot, EXO_STATUS_SIGNALED(SIGKILL));
		proc_mark_dead(q, EXO_STATUS_SIGNALED(SIGKILL));
	}
	if (!ours)
		lo_proc_files_exit(&p->forking);
	p->forking = (struct lo_proc_files){ 0 };
}

void proc_mark_dead(struct sh_proc *p, int32_t status)
{
	struct sh_header *h = sh_seg();
	p->state = PROC_ZOMBIE;
	p->status = status;
	p->sigpending = 0;
	for (struct sh_waker *w = p->wakers; w; w = w->next)
		lo_waker_holds_drop(w, p != proc_self());	/* calls its threads slept in */
	lo_proc_files_exit(&p->files);
	for (int i = 0, top = procs_top(); i < top; i++) {	/* a vfork child on its thread dies with it */
		struct sh_proc *q = &h->procs[i];
		if (q->state == PROC_RUNNING && q->vfork_host == p->pid) {
			q->vfork_host = 0;
			proc_mark_dead(q, EXO_STATUS_SIGNALED(9));
		}
	}
	struct sh_proc *init = proc_by_pid(h->init_pid);
	for (int i = 0, top = procs_top(); i < top; i++) {
		struct sh_proc *q = &h->procs[i];
		if (q->state == PROC_FREE || q->ppid != p->pid || q == p)
			continue;
		q->ppid = h->init_pid;		/* orphans go to the first process */
		if (q->state == PROC_ZOMBIE && init && init != p)
			tell_parent(init, q);
	}
	struct sh_proc *parent = proc_by_pid(p->ppid);
	if (parent && parent->state == PROC_RUNNING)
		tell_parent(parent, p);
}

/* The process of thread tid, found without the lock (the holder may be
 * alive and changing its list of threads): a main thread by its pid, any
 * other by a walk that follows only pointers into the segment's heap and
 * stops after MAX_WALK steps, so a list changed under it cannot make it
 * fault or loop.  A zombie too: a process ending itself holds the lock
 * between marking its entry and giving the lock up. */
#define MAX_WALK 1024
static struct sh_proc *tid_proc(uint64_t tid)
{
	struct sh_header *h = sh_seg();
	for (int i = 0, top = procs_top(); i < top; i++)
		if (h->procs[i].state != PROC_FREE && (uint64_t)h->procs[i].pid == tid)
			return &h->procs[i];
	for (int i = 0, top = procs_top(); i < top; i++) {
		const struct sh_waker *w = h->procs[i].wakers;
		for (int n = 0; n < MAX_WALK && w; n++, w = w->next) {
			if ((uint64_t)w < h->heap_first || (uint64_t)(w + 1) > h->heap_end)
				break;
			if ((uint64_t)w->tid == tid)
				return h->procs[i].state != PROC_FREE ? &h->procs[i] : 0;
		}
	}
	return 0;
}

/* The process whose env the lock's holder runs in: the holder's own, but
 * for a vfork child, which runs on its parent's thread in its parent's
 * env (libos/spawn.c) until its image starts in its own or it is gone. */
static struct sh_proc *holder_proc(uint64_t tid)
{
	struct sh_proc *p = tid_proc(tid);
	struct sh_proc *host = p && p->vfork_host ? proc_by_pid(p->vfork_host) : 0;
	return host ? host : p;
}

/* The wait status of the process whose thread `tid` holds the lock, when
 * its env has ended under it (the kernel ended it, or a kill that did not
 * take the lock), else -EAGAIN: while it lives, when it is our own
 * process, or when we hold no cap of its env to ask the kernel with. */
int64_t proc_holder_ended(uint64_t tid)
{
	struct sh_proc *p = holder_proc(tid);
	int64_t slot = p && p != proc_self() ? env_cap_of(p) : 0;
	int64_t st = slot ? exo_call(EXO_SYS_ENV_STATUS, slot) : -EAGAIN;
	return st < 0 ? -EAGAIN : st;
}

/* A waiter took the lock over from `tid`, whose env ended holding it
 * (proc_holder_ended said `status`): its process is marked dead with that
 * status, so its parent reaps it and its children go to the first
 * process, a fork or vfork it was making is undone, and the console says
 * so.  Called holding the lock. */
void proc_holder_dead(uint64_t tid, int64_t status)
{
	struct sh_proc *p = holder_proc(tid);
	lo_report("libos: pid %d ended holding the libOS lock (thread %d, status %x); "
		  "pid %d took it over\n", (int64_t)(p ? p->pid : -1), (int64_t)tid,
		  (uint64_t)status, (int64_t)proc_self()->pid);
	if (p && p->state == PROC_RUNNING) {
		undo_half_fork(p);
		proc_mark_dead(p, (int32_t)status);
	}
}

_Noreturn void proc_end_self(int32_t status)
{
	lo_lock();
	if (spawn_child_active())
		spawn_child_exit(status);	/* a vfork child on our memory: the parent goes on */
	sysv_detach_all();
	mm_files_detach();
	if (lp.shared_pages)
		proc_mark_dead(proc_self(), status);
	die_point(EXO_DIE_EXIT);
	lo_unlock_all();
	if (status & 0x7f)
		exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, status);
	exo_call(EXO_SYS_EXIT, (status >> 8) & 0xff);
	for (;;)
		;
}

/* Tells p's parent that p stopped or went on: SIGCHLD with the code and
 * the signal, and its wait word (wait4's WUNTRACED and WCONTINUED). */
static void tell_parent_jc(struct sh_proc *p, int code, int sig)
{
	struct sh_proc *parent = proc_by_pid(p->ppid);
	if (!parent || parent->state != PROC_RUNNING || parent == p)
		return;
	struct lo_sigsrc src = { .code = code, .a = p->pid, .value = (uint64_t)sig };
	proc_send_info(parent, SIGCHLD, &src, 0);
	parent->wait_word++;
	sh_wake(&parent->wait_word);
}

/* The calling thread sleeps with every signal held back (they are taken
 * once the process goes on); SIGKILL and other fatal signals from another
 * process end it meanwhile (ENV_KILL).  The first process has nobody to
 * continue it, so it does not stop (Linux discards stop signals for an
 * orphaned group likewise). */
/* Whether group pgid is orphaned: no member has a parent in another
 * group of its session, which could continue it after a stop. */
static int pgrp_orphaned(int32_t pgid)
{
	struct sh_header *h = sh_seg();
	for (int i = 0, top = procs_top(); i < top; i++) {
		const struct sh_proc *p = &h->procs[i], *q;
		if (p->state == PROC_RUNNING && p->pgid == pgid && (q = proc_by_pid(p->ppid)) &&
		    q->state == PROC_RUNNING && q->pgid != pgid && q->sid == p->sid)
			return 0;
	}
	return 1;
}

/* A stop signal other than SIGSTOP is discarded in an orphaned group, as
 * on Linux: nobody would continue it (a fuzzer's batch, in a session of
 * its own, sent itself SIGTSTP and stopped for good). */
void proc_stop_self(int sig)
{
	if (!lp.shared_pages)
		return;
	struct sh_proc *me = proc_self();
	if (me->pid == sh_seg()->init_pid || (sig != SIGSTOP && pgrp_orphaned(me->pgid)))
		return;
	struct lo_thread *t = lo_thread_self();
	me->stopped = 1;
	me->jc_status = (sig << 8) | 0x7f;
	tell_parent_jc(me, CLD_STOPPED, sig);
	uint64_t mask = t->sigmask;
	t->sigmask = ~0ull;
	while (me->stopped && me->state == PROC_RUNNING)
		lo_wait_word(&me->wait_word, me->wait_word, 0);
	t->sigmask = mask;
}

void proc_continue(struct sh_proc *p)
{
	if (!p->stopped)
		return;
	p->stopped = 0;
	p->jc_status = 0xffff;
	p->sigpending &= ~STOP_SIGS;
	p->wait_word++;
	sh_wake(&p->wait_word);
	tell_parent_jc(p, CLD_CONTINUED, SIGCONT);
}

/* ---------------------------------------------------------------- ids */

LO_CALL(sys_getppid)
{
	UNUSED_ARGS;
	return lp.shared_pages ? proc_self()->ppid : 0;
}

/* pid 0 is the caller; ESRCH for no such process. */
static struct sh_proc *target(int64_t pid)
{
	return pid == 0 ? proc_self() : pid < 0 ? 0 : proc_by_pid(pid);
}

LO_CALL(sys_getpgid)
{
	UNUSED_ARGS;
	struct sh_proc *p = target((int64_t)a0);
	return p ? p->pgid : -ESRCH;
}

LO_CALL(sys_getpgrp)
{
	UNUSED_ARGS;
	return proc_self()->pgid;
}

LO_CALL(sys_getsid)
{
	UNUSED_ARGS;
	struct sh_proc *p = target((int64_t)a0);
	return p ? p->sid : -ESRCH;
}

LO_CALL(sys_setsid)
{
	UNUSED_ARGS;
	struct sh_proc *me = proc_self();
	struct sh_header *h = sh_seg();
	for (int i = 0, top = procs_top(); i < top; i++)
		if (h->procs[i].state != PROC_FREE && h->procs[i].pgid == me->pid)
			return -EPERM;		/* a group with our pid exists */
	me->sid = me->pgid = me->pid;
	return me->pid;
}

/* setpgid: the caller or a child of its session, into a group of the
 * same session or a new one named by the target's pid. */
LO_CALL(sys_setpgid)
{
	UNUSED_ARGS;
	struct sh_proc *me = proc_self();
	int64_t pgid = (int64_t)a1;
	if (pgid < 0)
		return -EINVAL;
	struct sh_proc *p = target((int64_t)a0);
	if (!p || (p != me && p->ppid != me->pid))
		return -ESRCH;
	if (p->sid != me->sid || p->sid == p->pid)
		return -EPERM;		/* another session, or a session leader */
	if (pgid == 0)
		pgid = p->pid;
	if (pgid != p->pid) {
		struct sh_header *h = sh_seg();
		int found = 0;
		for (int i = 0, top = procs_top(); i < top; i++)
			found |= h->procs[i].state != PROC_FREE && h->procs[i].pgid == pgid &&
				 h->procs[i].sid == me->sid;
		if (!found)
			return -EPERM;
	}
	p->pgid = (int32_t)pgid;
	return 0;
}

/* kill: one process, our group (0), a group (-pgrp) or everyone we can
 * reach but the first process and ourselves (-1). */
int64_t proc_kill(int64_t pid, int sig)
{
	struct sh_header *h = sh_seg();
	struct sh_proc *me = proc_self();
	if (pid > 0) {
		struct sh_proc *p = proc_by_pid(pid);
		return p ? proc_send(p, sig, 0) : -ESRCH;
	}
	int32_t group = pid == 0 ? me->pgid : (int32_t)-pid;
	int n = 0;
	for (int i = 0, top = procs_top(); i < top; i++) {
		struct sh_proc *p = &h->procs[i];
		if (p->state != PROC_RUNNING)
			continue;
		if (pid == -1 ? p->pid == h->init_pid || p == me : p->pgid != group)
			continue;
		n++;
		proc_send(p, sig, 0);
	}
	return n ? 0 : -ESRCH;
}

/* --------------------------------------------------------------- wait */

int fork_reap_child(int64_t pid);		/* fork.c: its env, thread and budget; 0: not ours */
int64_t fork_child_status(int64_t pid);		/* fork.c: ENV_STATUS, or -EAGAIN */

static int wanted(const struct sh_proc *p, int idtype, int64_t id)
{
	if (p->state == PROC_FREE || p->ppid != proc_self()->pid || p == proc_self() || p->detached)
		return 0;
	return idtype == P_ALL || (idtype == P_PID && p->pid == id) || (idtype == P_PGID && p->pgid == id);
}

/*
 * A zombie's image copy goes once nothing can run on it: a process marks
 * itself a zombie and gives the lock up before its last call, so its env
 * is ended here if it has not ended yet.  Without a cap on it the
 * reference stays: the copy is never freed, rather than reused under
 * code that may still run.
 */
static void image_release(struct sh_proc *p)
{
	int64_t slot = p->image ? env_cap_of(p) : 0;
	if (!slot)
		return;
	if (exo_call(EXO_SYS_ENV_STATUS, slot) < 0)
		exo_call(EXO_SYS_ENV_KILL, slot, EXO_STATUS_SIGNALED(SIGKILL));
	proc_set_image(p, 0);
}

/* Frees a zombie child's entry and the caps we kept for it. */
static void reap(struct sh_proc *p)
{
	struct sh_proc *me = proc_self();
	int i = index_of(p);
	image_release(p);
	if (!fork_reap_child(p->pid) && me->env_slot[i])	/* ours: it deletes the env cap too */
		exo_call(EXO_SYS_CAP_DELETE, me->env_slot[i]);
	me->env_slot[i] = 0;
	entry_free(p);
}

/* Children that ended while SIGCHLD was ignored: freed without a wait. */
static void reap_detached(void)
{
	struct sh_proc *me = proc_self();
	struct sh_header *h = sh_seg();
	if (!me->detached_children)
		return;
	me->detached_children = 0;
	for (int i = 0, top = procs_top(); i < top; i++)
		if (h->procs[i].state == PROC_ZOMBIE && h->procs[i].detached && h->procs[i].ppid == me->pid)
			reap(&h->procs[i]);
}

/* A running child that stopped (options has WUNTRACED) or went on
 * (WCONTINUED) and whose parent has not been told by a wait yet. */
static int jc_wanted(const struct sh_proc *p, int options)
{
	if (p->state != PROC_RUNNING || !p->jc_status)
		return 0;
	return p->jc_status == 0xffff ? (options & WCONTINUED) != 0 : (options & WUNTRACED) != 0;
}

/* Waits for a child that idtype/id names to end, or to stop or go on
 * (options): its entry (a zombie, or running with jc_status), or NULL with
 * *err (-ECHILD, -EINTR, or 0 for WNOHANG). */
static struct sh_proc *wait_child(int idtype, int64_t id, int options, int64_t *err)
{
	struct sh_header *h = sh_seg();
	struct sh_proc *me = proc_self();
	int interrupted = 0;
	for (;;) {
		reap_detached();
		uint32_t seen = me->wait_word;
		int any = 0;
		for (int i = 0, top = procs_top(); i < top; i++) {
			struct sh_proc *p = &h->procs[i];
			if (!wanted(p, idtype, id))
				continue;
			any = 1;
			int64_t st = p->state == PROC_RUNNING ? fork_child_status(p->pid) : -EAGAIN;
			if (st >= 0)
				proc_mark_dead(p, (int32_t)st);	/* it ended without the libOS */
			if (p->state == PROC_ZOMBIE || jc_wanted(p, options))
				return p;
		}
		*err = !any ? -ECHILD : interrupted ? -EINTR : 0;
		if (*err || (options & WNOHANG))
			return 0;
		/* a signal ends the wait, but a child that ended meanwhile
		 * is still reported first, as on Linux; ^C and ^Z typed
		 * meanwhile reach the foreground job */
		tty_watch();
		interrupted = sh_wait(&me->wait_word, seen, time_now_ns() + RESCAN_NS) == -EINTR;
	}
}

int64_t proc_wait4(int64_t pid, uint64_t status_ptr, int options, uint64_t rusage)
{
	if (options & ~(WNOHANG | 2 | 8 | 0x20000000 | 0x40000000 | 0x80000000u))
		return -EINVAL;		/* WUNTRACED, WCONTINUED; __W* are accepted */
	int idtype = pid == -1 ? P_ALL : pid > 0 ? P_PID : P_PGID;
	int64_t id = pid > 0 ? pid : pid == 0 ? proc_self()->pgid : -pid;
	int64_t err;
	struct sh_proc *p = wait_child(idtype, id, options, &err);
	if (!p)
		return err;
	int32_t st = p->state == PROC_ZOMBIE ? p->status : p->jc_status;
	static const uint8_t zero[144];
	if ((status_ptr && lo_copy_out((void *)status_ptr, &st, 4)) ||
	    (rusage && lo_copy_out((void *)rusage, zero, sizeof zero)))
		return -EFAULT;
	int64_t found = p->pid;
	if (p->state == PROC_ZOMBIE)
		reap(p);
	else
		p->jc_status = 0;	/* told */
	return found;
}

LO_CALL(sys_wait4)
{
	UNUSED_ARGS;
	return proc_wait4((int64_t)a0, a1, (int)a2, a3);
}

LO_CALL(sys_waitid)
{
	UNUSED_ARGS;
	int idtype = (int)a0, options = (int)a3;
	int64_t id = (int64_t)(int32_t)a1;
	if (idtype < P_ALL || idtype > P_PGID || !(options & (WEXITED | 2 | 8)) ||
	    (options & ~(WNOHANG | 2 | WEXITED | 8 | WNOWAIT | 0x20000000 | 0x40000000 | 0x80000000u)))
		return -EINVAL;
	if (idtype == P_PGID && id == 0)
		id = proc_self()->pgid;
	int64_t err;
	struct sh_proc *p = wait_child(idtype, id, options, &err);
	if (!p && err)
		return err;
	int32_t info[8] = { 0 };		/* signo, errno, code, pad, pid, uid, status */
	if (p) {
		int sig = p->status & 0x7f;
		info[0] = SIGCHLD;
		info[2] = sig ? CLD_KILLED : CLD_EXITED;
		info[4] = p->pid;
		info[6] = sig ? sig : (p->status >> 8) & 0xff;
		if (p->state != PROC_ZOMBIE) {
			info[2] = p->jc_status == 0xffff ? CLD_CONTINUED : CLD_STOPPED;
			info[6] = p->jc_status == 0xffff ? SIGCONT : p->jc_status >> 8;
		}
	}
	if (a2 && lo_copy_out((void *)a2, info, sizeof info))
		return -EFAULT;
	if (p && !(options & WNOWAIT) && p->state == PROC_ZOMBIE)
		reap(p);
	else if (p && !(options & WNOWAIT))
		p->jc_status = 0;
	return 0;
}
