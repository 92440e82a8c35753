/*
 * Threads: clone with CLONE_THREAD on the kernel's threads, exit of one
 * thread against exit_group, set_tid_address, gettid, set_robust_list.
 *
 * Every thread has a block (struct lo_thread) that its GS base points at:
 * the kernel's reflection slot for it (SET_PERSONALITY is per thread), the
 * registers at its last call, a handler stack of its own (so a thread that
 * unmapped its own stack, as musl's detached threads do before exiting,
 * can still make its exit call) and its waker in the shared segment, on
 * which every blocking wait sleeps (lo_wait_word, the kernel's futex).
 * A thread that exits parks in the library OS and is reused by the next
 * clone, so kernel threads and their quota are not used up by programs
 * that start threads in a loop.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/exec.h"
#include "libos/spawn.h"
#include "libos/tty.h"
#include "include/exo/native.h"

#define HANDLER_STACK (64 * 1024)
#define LX_CLONE_VM 0x100
#define LX_CLONE_SIGHAND 0x800
#define LX_CLONE_VFORK 0x4000
#define LX_CLONE_THREAD 0x10000
#define LX_CLONE_SETTLS 0x80000
#define LX_CLONE_PARENT_SETTID 0x100000
#define LX_CLONE_CHILD_CLEARTID 0x200000
#define LX_CLONE_CHILD_SETTID 0x1000000
#define LX_CLONE_FORK_TIDS (LX_CLONE_PARENT_SETTID | LX_CLONE_CHILD_CLEARTID | LX_CLONE_CHILD_SETTID)

static struct sh_waker early_waker;	/* until the shared segment exists */
struct lo_thread lo_thread0 = { .waker = &early_waker };
uint8_t lo_gsbase;
static uint8_t stack0[HANDLER_STACK] __attribute__((aligned(16)));
static struct lo_thread *threads = &lo_thread0;
static int live = 1;			/* threads not exited */
static uint64_t fork_child_settid, fork_child_cleartid;	/* glibc's fork: set in the child */

void libos_syscall_entry(void);
void lo_thread_entry(void);
void libos_fault_entry(void);
_Noreturn void libos_resume(struct exo_regs *r);

static void set_gsbase(struct lo_thread *t)
{
	if (lo_gsbase)
		__asm__ volatile("wrgsbase %0" : : "r"((uint64_t)t) : "memory");
}

/* The first thread's block; threads need FSGSBASE (CPUID 7, EBX bit 0),
 * which the kernel turns on where the CPU has it. */
void lo_threads_init(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0), "c"(0));
	if (a >= 7) {
		__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
		lo_gsbase = b & 1;
	}
	lo_thread0.stack_top = (uint64_t)(stack0 + sizeof stack0);
	lo_thread0.slot = EXO_SLOT_SELF_THREAD;
	set_gsbase(&lo_thread0);
	exo_call(EXO_SYS_SET_PERSONALITY, libos_syscall_entry, &lo_thread0.reflect);
}

int64_t lo_thread_tid(struct lo_thread *t)
{
	if (!t->tid)
		t->tid = libos_pid();	/* the first thread's tid is the pid */
	return t->tid;
}

/* A forked child: the forking thread's block (copy-on-write) becomes its
 * only thread, on its own kernel thread, with its own notification. */
void lo_threads_after_fork(struct lo_thread *t)
{
	set_gsbase(t);
	mm_prepare_write((uint64_t)t, sizeof *t);	/* the kernel writes t->reflect */
	t->slot = EXO_SLOT_SELF_THREAD;
	t->notify = 0;
	t->next = 0;
	t->futex_queued = 0;
	t->sigpending = 0;
	t->waker = proc_self()->wakers;		/* proc_fork made it */
	threads = t;
	live = 1;
	exo_call(EXO_SYS_SET_PERSONALITY, libos_syscall_entry, &t->reflect);
	t->clear_tid = fork_child_cleartid;
	struct exo_cap_info info;
	if (fork_child_settid && lo_cap_inspect(EXO_SLOT_SELF_ENV, &info) == 0) {
		uint32_t tid = (uint32_t)info.object;	/* the child's pid */
		lo_copy_out((void *)fork_child_settid, &tid, 4);
	}
}

/* The parent after a fork made its pages copy-on-write: the kernel writes
 * the forking thread's reflection slot and fault frames (on its handler
 * stack) and the first thread's reflection slot, so those get pages of
 * their own again; the other threads' never were (lo_thread_page_kept). */
void lo_threads_after_fork_parent(void)
{
	for (struct lo_thread *t = threads; t; t = t->next)
		mm_prepare_write((uint64_t)t, t == &lo_thread0 ? sizeof *t : t->stack_top - (uint64_t)t);
}

/* 1 when the page at va holds the block or handler stack of a thread
 * other than the first and the caller.  A fork leaves those pages
 * writable in the parent: their threads run on while it forks, and the
 * kernel writes their fault frames and reflection slots there; on a
 * copy-on-write page it could not, and it ended the whole process, with
 * the forking thread holding the lock.  The child never uses them: its
 * only thread is the forking one.  The caller's handler stack above the
 * pages of its block is kept too when it is not the first thread: the
 * fork is served on it and the kernel frames its faults there (the
 * first thread's go to the private block's stack), and the child only
 * starts new frames on it; its block stays copy-on-write, for the child
 * starts from what it holds at the fork. */
int lo_thread_page_kept(uint64_t va)
{
	struct lo_thread *self = lo_thread_self();
	for (struct lo_thread *t = threads; t; t = t->next) {
		uint64_t from = t != self ? (uint64_t)t : ((uint64_t)(t + 1) + 4095) & ~4095ull;
		if (t != &lo_thread0 && va + 4096 > from && va < t->stack_top)
			return 1;
	}
	return 0;
}

struct lo_thread *lo_threads(void)
{
	return threads;
}

struct lo_thread *lo_thread_by_tid(int64_t tid)
{
	for (struct lo_thread *t = threads; t; t = t->next)
		if (t->state != LT_PARKED && lo_thread_tid(t) == tid)
			return t;
	return 0;
}

#define NR_RT_SIGRETURN 15

/* The C half of libos_syscall_entry: serves the call under the libOS lock
 * and returns the registers to resume with.  Timers whose deadline passed
 * fire at any call but rt_sigreturn: a timer of a tiny interval would
 * otherwise fire again at each handler's return, and the program would
 * never run another instruction of its own (Linux's timers fire by
 * interrupt, so it makes progress there: 6,517 calls in 3 s beside a
 * 1 ns timer). */
struct exo_regs *libos_syscall(struct lo_thread *t)
{
	struct exo_regs *r = &t->at_call;
	uint64_t nr = r->rax;
	lo_lock();
	proc_tidy();
	if (nr != NR_RT_SIGRETURN)
		lo_timers_run();
	int64_t ret = libos_dispatch(nr, r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9);
	if (t->regs_replaced) {		/* rt_sigreturn: exactly what was saved */
		t->regs_replaced = 0;
	} else {
		r->rax = (uint64_t)ret;
		r->rip = r->rcx = t->reflect.rip;
		r->rflags = r->r11 = t->reflect.rflags;
	}
	lo_signal_deliver(t, (int64_t)nr);
	lo_signal_publish();
	lo_unlock();
	if (t->hand_to) {		/* a thread our call signalled (libos/signal.c) */
		int64_t slot = t->hand_to->slot;
		t->hand_to = 0;
		exo_call(EXO_SYS_YIELD_TO, slot);
	}
	return r;
}

static int64_t notify_of(struct lo_thread *t)
{
	if (!t->notify)
		t->notify = exo_call0(EXO_SYS_NOTIFY_CREATE);
	return t->notify;
}

/* The waker records the word and that we sleep before the lock goes, so
 * whoever changes our state afterwards (holding the lock) bumps the word we
 * wait on and the kernel either finds us queued or fails our wait. */
int64_t lo_wait_word(const volatile uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
	struct lo_thread *t = lo_thread_self();
	struct sh_waker *w = t->waker;
	lo_timers_run();
	if (lo_signal_pending(t))
		return -EINTR;
	uint64_t until = deadline_ns, timer = lo_timer_next();
	if (timer && (!until || timer < until))
		until = timer;			/* a timer fires then: we wake for it */
	proc_waker_sleep(w, word);
	w->sleeping = 1;
	uint32_t depth = lo_unlock_all();
	if (!until) {
		exo_call(EXO_SYS_FUTEX_WAIT, word, expected, EXO_FOREVER);	/* no clock read */
	} else {
		uint64_t now = time_now_ns();
		if (until > now)
			exo_call(EXO_SYS_FUTEX_WAIT, word, expected, until - now);
	}
	/* the waker is touched again only under the lock, which a thread of a
	 * process that ended meanwhile never gets back (lo_lock): its parent
	 * may have freed the entry and its wakers by now, and a write here
	 * went into whatever the segment gave that memory to next */
	if (!depth)
		w->sleeping = 0;
	lo_relock(depth);
	w->sleeping = 0;
	proc_waker_awake(w);
	proc_tidy();			/* a process may have been freed meanwhile */
	lo_timers_run();
	if (lo_signal_pending(t))
		return -EINTR;
	return deadline_ns && time_now_ns() >= deadline_ns ? -EXO_ETIMEDOUT : 0;
}

int64_t lo_thread_wait(struct lo_thread *t, uint64_t deadline_ns)
{
	return lo_wait_word(&t->waker->word, t->waker->word, deadline_ns);
}

void lo_thread_wake(struct lo_thread *t)
{
	proc_waker_wake(t->waker);
}

/* A sleeper also passes on the terminal's signal characters (a shell
 * running sleep in its own process is the foreground job then). */
int64_t lo_sleep_until(uint64_t deadline_ns)
{
	struct lo_thread *t = lo_thread_self();
	while (time_now_ns() < deadline_ns) {
		uint64_t until = tty_watch_deadline();
		if (lo_thread_wait(t, until && until < deadline_ns ? until : deadline_ns) == -EINTR)
			return -EINTR;
		tty_watch();
	}
	return 0;
}

/* A block for a new thread: a parked one, or a fresh one with a kernel
 * thread, a handler stack and a notification. */
static struct lo_thread *thread_get(int *fresh)
{
	for (struct lo_thread *t = threads; t; t = t->next)
		if (t->state == LT_PARKED) {
			*fresh = 0;
			return t;
		}
	/* the block at the foot of its handler stack, in pages of their own
	 * (lo_thread_page_kept) */
	uint8_t *run = lo_alloc(HANDLER_STACK);
	struct lo_thread *t = (struct lo_thread *)run;
	int64_t slot = exo_call(EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV);
	if (!run || slot < 0 || mm_prepare_write((uint64_t)run, HANDLER_STACK) < 0 || notify_of(t) < 0 ||
	    !(t->waker = proc_waker_new())) {
		if (slot >= 0)
			exo_call(EXO_SYS_CAP_DELETE, slot);
		if (run && t->notify > 0)
			exo_call(EXO_SYS_CAP_DELETE, t->notify);
		lo_free(run);
		return 0;
	}
	t->slot = slot;
	t->stack_top = ((uint64_t)run + HANDLER_STACK - 16) & ~15ull;
	t->state = LT_PARKED;
	t->next = threads;
	threads = t;
	*fresh = 1;
	return t;
}

/* Where a fresh kernel thread starts (lo_thread_entry, on its handler
 * stack, GS base already set): its personality entry, then the program. */
struct exo_regs *lo_thread_begin(struct lo_thread *t)
{
	exo_call(EXO_SYS_SET_PERSONALITY, libos_syscall_entry, &t->reflect);
	/* faults of this thread are framed on its own handler stack: two
	 * threads faulting at once on two CPUs must not share one */
	exo_call(EXO_SYS_SET_FAULT_HANDLER, libos_fault_entry, t->stack_top, t->stack_top - (uint64_t)(t + 1));
	exo_call(EXO_SYS_SET_FSBASE, t->start.fsbase);
	t->state = LT_RUNNING;
	return &t->start;
}

/* Sets t going at t->start: a fresh kernel thread through
 * lo_thread_entry, a parked one by its notification.  0, or -EAGAIN (t is
 * then unusable and never picked again). */
static int thread_launch(struct lo_thread *t, int fresh)
{
	t->state = LT_STARTING;
	if (!fresh) {
		exo_call(EXO_SYS_NOTIFY_SIGNAL, t->notify, 1);
		return 0;
	}
	struct exo_regs r;
	lo_memset(&r, 0, sizeof r);
	r.rip = (uint64_t)lo_thread_entry;
	r.rsp = t->stack_top;
	r.rdi = (uint64_t)t;
	r.rflags = 0x202;
	r.fsbase = t->fs_base;
	if (exo_call(EXO_SYS_THREAD_SET_REGS, t->slot, &r) || exo_call(EXO_SYS_THREAD_START, t->slot)) {
		t->state = LT_RUNNING;
		t->tid = -1;
		return -EAGAIN;
	}
	return 0;
}

/* A thread of the library OS itself (a server loop, libos/chan.c): it
 * runs fn(arg) on its own stack, never returns to the program, blocks every
 * signal and is not counted among the program's threads, so the program's
 * last thread still ends the process.  Its tid, or -EAGAIN. */
int64_t lo_thread_spawn(void (*fn)(void *), void *arg, uint64_t stack_size)
{
	struct lo_thread *self = lo_thread_self(), *t;
	int fresh;
	uint8_t *stack;
	if (!lo_gsbase || !(stack = lo_alloc(stack_size)) || mm_prepare_write((uint64_t)stack, stack_size))
		return -EAGAIN;
	if (!(t = thread_get(&fresh)))
		return -EAGAIN;
	lo_memset(&t->start, 0, sizeof t->start);
	t->start.rip = t->start.rcx = (uint64_t)fn;
	t->start.rdi = (uint64_t)arg;
	t->start.rsp = (((uint64_t)stack + stack_size) & ~15ull) - 8;	/* as after a call */
	t->start.rflags = t->start.r11 = 0x202;
	t->start.fsbase = t->fs_base = self->fs_base;
	t->tid = (int64_t)__atomic_fetch_add(&sh_seg()->next_tid, 1, __ATOMIC_RELAXED);
	t->sigmask = ~0ull;
	t->sigpending = t->waitset = 0;
	t->mask_saved = 0;
	t->ss_sp = t->ss_size = 0;
	t->waker->tid = (int32_t)t->tid;
	t->robust_list = t->clear_tid = 0;
	return thread_launch(t, fresh) ? -EAGAIN : t->tid;
}

/* fork as glibc asks for it: clone with the child's tid stored in the
 * child (CLONE_CHILD_SETTID) and/or the parent (CLONE_PARENT_SETTID), and
 * cleared at the child's exit (CLONE_CHILD_CLEARTID). */
static int64_t fork_with_tids(uint64_t flags, uint64_t ptid, uint64_t ctid)
{
	if (spawn_child_active())
		return -EAGAIN;		/* a vfork child on our memory (libos/spawn.c) */
	fork_child_settid = flags & LX_CLONE_CHILD_SETTID ? ctid : 0;
	fork_child_cleartid = flags & LX_CLONE_CHILD_CLEARTID ? ctid : 0;
	int64_t pid = libos_fork();
	fork_child_settid = fork_child_cleartid = 0;
	uint32_t v = (uint32_t)pid;
	if (pid > 0 && (flags & LX_CLONE_PARENT_SETTID))
		lo_copy_out((void *)ptid, &v, 4);
	return pid;
}

/* clone: threads (CLONE_THREAD, as pthread_create asks), without any
 * sharing flag fork, with CLONE_VFORK (and CLONE_VM) vfork; other kinds
 * fail with ENOSYS. */
LO_CALL(sys_clone)
{
	UNUSED_ARGS;
	uint64_t flags = a0;
	if (!(flags & LX_CLONE_THREAD)) {
		if ((flags & ~(0xffull | LX_CLONE_FORK_TIDS)) == 0 && a1 == 0)
			return fork_with_tids(flags, a2, a3);
		if ((flags & ~(0xffull | LX_CLONE_VM)) == LX_CLONE_VFORK)
			return libos_vfork(a1);		/* posix_spawn's (libos/exec.c) */
		return -ENOSYS;
	}
	if (!(flags & LX_CLONE_SIGHAND) || !(flags & LX_CLONE_VM) || (flags & LX_CLONE_VFORK) || !a1)
		return -EINVAL;
	if (!lo_gsbase) {
		lo_report("exoswarm: threads need a CPU with FSGSBASE; clone fails with ENOSYS\n");
		return -ENOSYS;
	}
	struct lo_thread *self = lo_thread_self(), *t;
	int fresh;
	if (!(t = thread_get(&fresh)))
		return -EAGAIN;
	t->cpu_mask = affinity_inherit(t->slot, t->cpu_mask);
	t->start = self->at_call;
	t->start.rax = 0;
	t->start.rsp = a1;
	t->start.rip = t->start.rcx = self->reflect.rip;
	t->start.rflags = t->start.r11 = self->reflect.rflags;
	t->start.fsbase = t->fs_base = flags & LX_CLONE_SETTLS ? a4 : self->fs_base;
	t->tid = (int64_t)__atomic_fetch_add(&sh_seg()->next_tid, 1, __ATOMIC_RELAXED);
	t->sigmask = self->sigmask;
	t->sigpending = 0;
	t->waitset = 0;
	t->mask_saved = 0;
	t->ss_sp = t->ss_size = 0;	/* no alternate stack, as Linux */
	t->waker->tid = (int32_t)t->tid;
	t->robust_list = 0;
	t->clear_tid = flags & LX_CLONE_CHILD_CLEARTID ? a3 : 0;
	uint32_t tid = (uint32_t)t->tid;
	if (((flags & LX_CLONE_PARENT_SETTID) && lo_copy_out((void *)a2, &tid, 4)) ||
	    ((flags & LX_CLONE_CHILD_SETTID) && lo_copy_out((void *)a3, &tid, 4)))
		return -EFAULT;		/* the block stays parked for the next clone */
	/* the top of the new stack is made resident now, here, rather than by
	 * faults in the new thread (docs/LIBOS.md: Threads, limits) */
	mm_prepare_write((a1 - 16384) & ~4095ull, 16384);
	live++;
	if (thread_launch(t, fresh)) {
		live--;
		return -EAGAIN;
	}
	return (int64_t)tid;
}

/* exit of one thread: the CLONE_CHILD_CLEARTID word is cleared and its
 * futex woken, as Linux does (musl's pthread_join and thread list lock rely
 * on it); the last thread's exit ends the process.  The thread then parks
 * until a clone reuses it. */
LO_CALL(sys_thread_exit)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	if (live == 1)
		libos_exit(a0);
	if (t->clear_tid) {
		uint32_t zero = 0;
		if (lo_copy_out((void *)t->clear_tid, &zero, 4) == 0)
			lo_futex_wake(t->clear_tid, 1, ~0u);
	}
	live--;
	t->state = LT_PARKED;	/* its tid names the lock's holder until then */
	t->waker->tid = 0;
	lo_unlock_all();
	while (t->state != LT_STARTING)
		exo_call(EXO_SYS_NOTIFY_WAIT, notify_of(t), EXO_FOREVER);
	lo_lock();
	lo_thread_begin(t);
	lo_unlock_all();
	libos_resume(&t->start);
}

LO_CALL(sys_set_tid_address)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	t->clear_tid = a0;
	return lo_thread_tid(t);
}

LO_CALL(sys_gettid)
{
	UNUSED_ARGS;
	return lo_thread_tid(lo_thread_self());
}

/* The list is kept for get_robust_list; the library OS does not walk it at
 * thread exit yet (docs/LIBOS.md). */
LO_CALL(sys_set_robust_list)
{
	UNUSED_ARGS;
	if (a1 != 24)
		return -EINVAL;
	lo_thread_self()->robust_list = a0;
	return 0;
}

/* get_robust_list(tid, head, len): a thread of this process (0: the
 * caller); musl asks it before it allows robust mutexes. */
LO_CALL(sys_get_robust_list)
{
	UNUSED_ARGS;
	struct lo_thread *t = a0 ? lo_thread_by_tid((int64_t)a0) : lo_thread_self();
	uint64_t len = 24;
	if (!t)
		return -ESRCH;
	if (lo_copy_out((void *)a1, &t->robust_list, 8) || lo_copy_out((void *)a2, &len, 8))
		return -EFAULT;
	return 0;
}

LO_CALL(sys_sched_yield)
{
	UNUSED_ARGS;
	uint32_t depth = lo_unlock_all();
	exo_call0(EXO_SYS_YIELD);
	lo_relock(depth);
	return 0;
}
