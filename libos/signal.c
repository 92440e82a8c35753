/*
 * Signals: rt_sigaction, rt_sigprocmask (per thread), rt_sigreturn,
 * rt_sigpending, kill (to any process: libos/proc.c carries signals
 * between processes and hands ours to lo_signal_process_info), tkill and
 * tgkill (to a thread of any process), rt_sigsuspend, rt_sigtimedwait,
 * rt_sigqueueinfo, sigaltstack (SA_ONSTACK), default actions, and
 * hardware faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP)
 * delivered to the program's handler (libos_fault calls lo_signal_fault).
 *
 * A signal is delivered when its thread next leaves the library OS: at the
 * end of any system call, or at once when it is blocked in one (futex,
 * sleeps), which then ends with EINTR, or is restarted when the handler
 * has SA_RESTART.  The library OS cannot stop a thread that is running
 * program code, so a signal for a thread that makes no system call waits
 * until it makes one.  The frame is Linux's rt_sigframe: return address
 * (sa_restorer), ucontext (registers, mask), siginfo, and the FPU/SSE
 * state (fxsave) that rt_sigreturn restores.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/exec.h"
#include "libos/vfs.h"
#include "libos/tty.h"
#include "include/exo/native.h"

#define NSIG 64
#define SIG_DFL 0
#define SIG_IGN 1
#define SA_SIGINFO 4
#define SA_NOCLDWAIT 2
#define SA_ONSTACK 0x08000000
#define SS_ONSTACK 1
#define SS_DISABLE 2
#define SS_AUTODISARM (1u << 31)
#define MINSIGSTKSZ 2048
#define SIGCHLD 17
#define SI_QUEUE (-1)
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000u
#define SIGKILL 9
#define SIGSTOP 19
#define BIT(sig) (1ull << ((sig) - 1))
#define UNBLOCKABLE (BIT(SIGKILL) | BIT(SIGSTOP))
#define SI_USER 0
#define SI_TKILL (-6)
#define ERESTARTSYS 512

struct k_sigaction {
	uint64_t handler, flags, restorer, mask;
};

struct sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate, reserved[8];
};
_Static_assert(sizeof(struct sigcontext) == 256, "x86_64 struct sigcontext");

struct ucontext {
	uint64_t flags, link;
	uint64_t ss_sp;
	int32_t ss_flags, pad;
	uint64_t ss_size;
	struct sigcontext mc;
	uint64_t sigmask;
};
_Static_assert(sizeof(struct ucontext) == 304, "x86_64 kernel struct ucontext");

struct siginfo {
	int32_t signo, errno_, code, pad;
	union {
		struct { int32_t pid; uint32_t uid; } kill;
		struct { int32_t a, b; uint64_t value; } rt;	/* struct lo_sigsrc's */
		uint64_t addr;
		uint8_t bytes[112];
	};
};
_Static_assert(sizeof(struct siginfo) == 128, "siginfo_t");

struct rt_sigframe {
	uint64_t pretcode;
	struct ucontext uc;
	struct siginfo info;
};

static struct k_sigaction actions[NSIG + 1];
static struct siginfo infos[NSIG + 1];		/* what the last sender said */

/* Signals whose default action is to do nothing. */
static int ignored_by_default(int sig)
{
	return sig == 17 || sig == 18 || sig == 23 || sig == 28;	/* CHLD CONT URG WINCH */
}

/* Signals whose default action stops the process (job control). */
static int stops_by_default(int sig)
{
	return sig == 19 || sig == 20 || sig == 21 || sig == 22;	/* STOP TSTP TTIN TTOU */
}

static int discarded(int sig)
{
	return actions[sig].handler == SIG_IGN ||
	       (actions[sig].handler == SIG_DFL && ignored_by_default(sig));
}

/* Moves signals other processes left in our entry to their threads;
 * the entry is looked at inline, for there rarely is one. */
static inline void take_process_signals(void)
{
	if (lp.shared_pages && proc_self()->sigpending)
		proc_take_signals();
}

int lo_signal_pending(struct lo_thread *t)
{
	take_process_signals();
	return (t->sigpending & ~t->sigmask) != 0;
}

static int actions_changed = 1;		/* caught_set and ignored_set are stale */
static uint64_t caught_set, ignored_set;

/* What another process must know to send us a signal: which signals have
 * a handler, which are discarded, and which every thread blocks (a fatal
 * signal that is neither ends us at once; libos/proc.c).  Every call ends
 * here, so the first two are summed up again only when an action changed. */
void lo_signal_publish(void)
{
	uint64_t blocked = ~0ull;
	if (actions_changed) {
		caught_set = ignored_set = 0;
		for (int sig = 1; sig <= NSIG; sig++) {
			if (discarded(sig))
				ignored_set |= BIT(sig);
			else if (actions[sig].handler != SIG_DFL)
				caught_set |= BIT(sig);
		}
		actions_changed = 0;
	}
	for (struct lo_thread *t = lo_threads(); t; t = t->next)
		if (t->state != LT_PARKED)
			blocked &= t->sigmask;
	proc_publish_signals(caught_set, ignored_set, blocked, actions[SIGCHLD].handler == SIG_IGN ||
			     (actions[SIGCHLD].flags & SA_NOCLDWAIT));
}

void lo_signal_thread(struct lo_thread *t, int sig)
{
	if (discarded(sig))
		return;
	t->sigpending |= BIT(sig);
	if (!(t->sigmask & BIT(sig)) || (t->waitset & BIT(sig))) {
		struct lo_thread *self = lo_thread_self();
		if (t != self && t->waker->sleeping)
			self->hand_to = t;
		lo_thread_wake(t);
	}
}

static void set_info(int sig, const struct lo_sigsrc *src)
{
	infos[sig] = (struct siginfo){ .signo = sig, .code = src->code,
				       .rt = { src->a, src->b, src->value } };
}

void lo_signal_thread_info(struct lo_thread *t, int sig, const struct lo_sigsrc *src)
{
	set_info(sig, src);
	lo_signal_thread(t, sig);
}

/* Ends the process as the signal's default action would. */
static _Noreturn void die_of(int sig)
{
	files_exit();			/* pipes see their ends close */
	proc_end_self(EXO_STATUS_SIGNALED(sig));
}

/* Builds the handler's frame on the program's stack and points r at the
 * handler: 0, or -EFAULT when the stack cannot take it. */
static int push_frame(struct lo_thread *t, struct exo_regs *r, int sig, const struct siginfo *info)
{
	static uint8_t fx[512] __attribute__((aligned(16)));	/* under the lock */
	const struct k_sigaction *a = &actions[sig];
	uint64_t sp = r->rsp - 128;
	int on_alt = t->ss_size && r->rsp - t->ss_sp <= t->ss_size;
	if ((a->flags & SA_ONSTACK) && t->ss_size && !on_alt)
		sp = t->ss_sp + t->ss_size;	/* the alternate stack's top */
	uint64_t old_mask = t->mask_saved ? t->saved_mask : t->sigmask;
	uint64_t fpstate = (sp - sizeof fx) & ~63ull;
	uint64_t frame = ((fpstate - sizeof(struct rt_sigframe)) & ~15ull) - 8;
	struct rt_sigframe f;

	lo_memset(&f, 0, sizeof f);
	f.pretcode = a->restorer;
	f.uc.mc = (struct sigcontext){
		.r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11, .r12 = r->r12,
		.r13 = r->r13, .r14 = r->r14, .r15 = r->r15, .rdi = r->rdi, .rsi = r->rsi,
		.rbp = r->rbp, .rbx = r->rbx, .rdx = r->rdx, .rax = r->rax, .rcx = r->rcx,
		.rsp = r->rsp, .rip = r->rip, .eflags = r->rflags, .cs = 0x33,
		.err = 0, .trapno = 0, .oldmask = old_mask, .cr2 = info->addr, .fpstate = fpstate,
	};
	f.uc.sigmask = old_mask;
	f.uc.ss_sp = t->ss_sp;
	f.uc.ss_size = t->ss_size;
	f.uc.ss_flags = !t->ss_size ? SS_DISABLE : on_alt ? SS_ONSTACK : 0;
	f.info = *info;
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	if (lo_copy_out((void *)fpstate, fx, sizeof fx) || lo_copy_out((void *)frame, &f, sizeof f))
		return -EFAULT;
	t->sigmask |= a->mask | (a->flags & SA_NODEFER ? 0 : BIT(sig));
	t->sigmask &= ~UNBLOCKABLE;
	t->mask_saved = 0;		/* the frame restores it */
	if (a->flags & SA_RESETHAND) {
		actions[sig].handler = SIG_DFL;
		actions_changed = 1;
	}
	r->rsp = frame;
	r->rip = a->handler;
	r->rdi = (uint64_t)sig;
	r->rsi = frame + __builtin_offsetof(struct rt_sigframe, info);
	r->rdx = frame + __builtin_offsetof(struct rt_sigframe, uc);
	r->rax = 0;
	return 0;
}

/* After the call: rt_sigsuspend's mask goes unless a frame keeps it. */
static void deliver_one(struct lo_thread *t, int64_t nr);

void lo_signal_deliver(struct lo_thread *t, int64_t nr)
{
	take_process_signals();
	if (t->sigpending & ~t->sigmask)
		deliver_one(t, nr);
	if (t->mask_saved) {
		t->sigmask = t->saved_mask;
		t->mask_saved = 0;
	}
}

static __attribute__((noinline)) void deliver_one(struct lo_thread *t, int64_t nr)
{
	uint64_t ready = t->sigpending & ~t->sigmask;
	if (!ready)
		return;
	int sig = __builtin_ctzll(ready) + 1;
	t->sigpending &= ~BIT(sig);
	struct exo_regs *r = &t->at_call;
	if (discarded(sig))
		return;
	if (actions[sig].handler == SIG_DFL && stops_by_default(sig)) {
		if ((int64_t)r->rax == -EINTR) {
			r->rax = (uint64_t)nr;	/* no handler ran: the call goes on */
			r->rip -= 2;
		}
		lo_signal_publish();	/* senders must know our handlers while we stop */
		proc_stop_self(sig);
		return;
	}
	if (actions[sig].handler == SIG_DFL)
		die_of(sig);
	if ((int64_t)r->rax == -EINTR && (actions[sig].flags & SA_RESTART) &&
	    (nr == 202 || nr == 61 || nr <= 1 || nr == 19 || nr == 20)) {
		/* futex, wait4, read, write, readv, writev: restarted as Linux does */
		r->rax = (uint64_t)nr;
		r->rip -= 2;
	}
	if (push_frame(t, r, sig, &infos[sig]))
		die_of(11);
}

/* A hardware fault the library OS cannot serve goes to the program's
 * handler when it has one and does not block the signal: 0 when r now
 * enters the handler, -1 when the process must die of the signal. */
int lo_signal_fault(struct exo_regs *r, int sig, uint64_t addr)
{
	struct lo_thread *t = lo_thread_self();
	struct siginfo info;
	lo_memset(&info, 0, sizeof info);
	info.signo = sig;
	info.code = 1;			/* SEGV_MAPERR, FPE_INTDIV, ILL_ILLOPC... */
	info.addr = sig == 11 || sig == 7 ? addr : r->rip;
	uint64_t h = actions[sig].handler;
	if (h == SIG_DFL || h == SIG_IGN || (t->sigmask & BIT(sig)) || push_frame(t, r, sig, &info))
		return -1;
	return 0;
}

LO_CALL(sys_rt_sigaction)
{
	UNUSED_ARGS;
	int sig = (int)a0;
	struct k_sigaction act;
	if (sig < 1 || sig > NSIG || a3 != 8)
		return -EINVAL;
	if (a1 && lo_copy_in(&act, (const void *)a1, sizeof act))
		return -EFAULT;
	if (a1 && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	if (a2 && lo_copy_out((void *)a2, &actions[sig], sizeof act))
		return -EFAULT;
	if (a1) {
		act.mask &= ~UNBLOCKABLE;
		actions[sig] = act;
		actions_changed = 1;
		if (discarded(sig))		/* pending ones go, as on Linux */
			for (struct lo_thread *t = lo_threads(); t; t = t->next)
				t->sigpending &= ~BIT(sig);
	}
	return 0;
}

LO_CALL(sys_rt_sigprocmask)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	uint64_t set, old = t->sigmask;
	if (a3 != 8)
		return -EINVAL;
	if (a1 && lo_copy_in(&set, (const void *)a1, 8))
		return -EFAULT;
	if (a1) {
		if (a0 == 0)
			t->sigmask |= set;		/* SIG_BLOCK */
		else if (a0 == 1)
			t->sigmask &= ~set;		/* SIG_UNBLOCK */
		else if (a0 == 2)
			t->sigmask = set;		/* SIG_SETMASK */
		else
			return -EINVAL;
		t->sigmask &= ~UNBLOCKABLE;
	}
	if (a2 && lo_copy_out((void *)a2, &old, 8)) {
		t->sigmask = old;
		return -EFAULT;
	}
	return 0;
}

LO_CALL(sys_rt_sigpending)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	uint64_t set = t->sigpending;
	if (a1 != 8)
		return -EINVAL;
	return lo_copy_out((void *)a0, &set, 8) ? -EFAULT : 0;
}

/* rt_sigreturn: the registers, mask and FPU state saved in the frame the
 * handler returned through (its ucontext is where the stack points). */
LO_CALL(sys_rt_sigreturn)
{
	UNUSED_ARGS;
	static uint8_t fx[512] __attribute__((aligned(16)));
	struct lo_thread *t = lo_thread_self();
	struct exo_regs *r = &t->at_call;
	struct ucontext uc;
	if (lo_copy_in(&uc, (const void *)r->rsp, sizeof uc))
		die_of(11);
	const struct sigcontext *m = &uc.mc;
	if (m->fpstate) {
		if (lo_copy_in(fx, (const void *)m->fpstate, sizeof fx))
			die_of(11);
		*(uint32_t *)(fx + 24) &= 0xffff;	/* MXCSR: no reserved bits */
		__asm__ volatile("fxrstor64 %0" : : "m"(fx));
	}
	*r = (struct exo_regs){
		.rax = m->rax, .rbx = m->rbx, .rcx = m->rcx, .rdx = m->rdx, .rsi = m->rsi,
		.rdi = m->rdi, .rbp = m->rbp, .rsp = m->rsp, .r8 = m->r8, .r9 = m->r9,
		.r10 = m->r10, .r11 = m->r11, .r12 = m->r12, .r13 = m->r13, .r14 = m->r14,
		.r15 = m->r15, .rip = m->rip, .rflags = (m->eflags & 0xcd5) | 0x202,
	};
	t->sigmask = uc.sigmask & ~UNBLOCKABLE;
	t->regs_replaced = 1;
	return (int64_t)m->rax;
}

/* Whether t could take sig now, as Linux's wants_signal: it does not
 * block it and is running (the caller) or has nothing else to handle. */
static int wants(struct lo_thread *t, int sig)
{
	if (t->state == LT_PARKED || (t->sigmask & BIT(sig)))
		return 0;
	return t == lo_thread_self() || !(t->sigpending & ~t->sigmask);
}

/* Sends sig to the process, to the thread Linux would pick: the main
 * thread when it wants it, else the caller, else the first thread that
 * does not block it, else one waiting for it in rt_sigtimedwait; a
 * standard signal the main thread has pending already merges with it, as
 * Linux's process-wide pending set does.  The main
 * thread first: a process signal found by whichever thread calls in (a
 * timer's, fired by the next call of any thread) must not land on a busy
 * thread while the main thread pauses for it. */
void lo_signal_process_info(int sig, const struct lo_sigsrc *src)
{
	struct lo_thread *self = lo_thread_self(), *to = 0, *waiting = 0;
	for (struct lo_thread *t = lo_threads(); t && !to; t = t->next) {
		if (t->state == LT_PARKED || lo_thread_tid(t) != libos_pid())
			continue;
		if (sig < 32 && (t->sigpending & ~t->sigmask & BIT(sig)))
			return;		/* merged with the one it has not taken yet */
		if (wants(t, sig))
			to = t;
	}
	if (!to && !(self->sigmask & BIT(sig)))
		to = self;
	for (struct lo_thread *t = lo_threads(); t && !to; t = t->next) {
		if (t->state == LT_PARKED)
			continue;
		if (!(t->sigmask & BIT(sig)))
			to = t;
		else if (!waiting && (t->waitset & BIT(sig)))
			waiting = t;	/* in rt_sigtimedwait for it */
	}
	lo_signal_thread_info(to ? to : waiting ? waiting : self, sig, src);
}

/* tkill (pid 0) and tgkill: a thread of ours, or of another process,
 * found through the process table. */
static int64_t signal_tid(int64_t pid, int64_t tid, int sig)
{
	struct lo_sigsrc src = { .code = SI_TKILL, .a = (int32_t)libos_pid() };
	if (!pid && lo_thread_by_tid(tid))
		pid = libos_pid();
	if (pid == libos_pid()) {
		struct lo_thread *t = lo_thread_by_tid(tid);
		if (!t)
			return -ESRCH;
		if (sig)
			lo_signal_thread_info(t, sig, &src);
		return 0;
	}
	if (!lp.shared_pages)
		return -ESRCH;
	struct sh_proc *p = pid ? proc_by_pid(pid) : proc_of_tid((int32_t)tid);
	return p ? proc_send_info(p, sig, &src, (int32_t)tid) : -ESRCH;
}

/* kill: to processes of the table (libos/proc.c), this one included. */
LO_CALL(sys_kill)
{
	UNUSED_ARGS;
	int sig = (int)a1;
	if (sig < 0 || sig > NSIG)
		return -EINVAL;
	if ((int32_t)a0 == INT32_MIN)
		return -ESRCH;		/* no group -INT_MIN, as on Linux */
	return proc_kill((int64_t)(int32_t)a0, sig);
}

LO_CALL(sys_tkill)
{
	UNUSED_ARGS;
	if ((int)a1 < 0 || (int)a1 > NSIG || (int64_t)a0 <= 0)
		return -EINVAL;
	return signal_tid(0, (int64_t)a0, (int)a1);
}

LO_CALL(sys_tgkill)
{
	UNUSED_ARGS;
	if ((int)a2 < 0 || (int)a2 > NSIG || (int64_t)a0 <= 0 || (int64_t)a1 <= 0)
		return -EINVAL;
	return signal_tid((int64_t)a0, (int64_t)a1, (int)a2);
}

/* rt_sigqueueinfo(pid, sig, info): the caller's siginfo, but only a
 * process signalling itself may claim a code the kernel would send
 * (si_code >= 0, or SI_TKILL), as on Linux. */
LO_CALL(sys_rt_sigqueueinfo)
{
	UNUSED_ARGS;
	struct siginfo info;
	int sig = (int)a1;
	if (sig < 0 || sig > NSIG)
		return -EINVAL;
	if (lo_copy_in(&info, (const void *)a2, sizeof info))
		return -EFAULT;
	int64_t pid = (int64_t)(int32_t)a0;
	if ((info.code >= 0 || info.code == SI_TKILL) && pid != libos_pid())
		return -EPERM;
	struct sh_proc *p = pid > 0 && lp.shared_pages ? proc_by_pid(pid) : 0;
	if (!p)
		return -ESRCH;
	struct lo_sigsrc src = { .code = info.code, .a = info.rt.a, .b = info.rt.b, .value = info.rt.value };
	return proc_send_info(p, sig, &src, 0);
}

/* pause: sleep until a signal is delivered (EINTR).  A shell waits for
 * its job here (sigsuspend, SIGCHLD), so the terminal's signal characters
 * are looked for meanwhile (tty_watch). */
LO_CALL(sys_pause)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	while (lo_thread_wait(t, tty_watch_deadline()) != -EINTR)
		tty_watch();
	return -EINTR;
}

/* rt_sigsuspend: pause with the given mask; the old one comes back once
 * the handler returns (the frame keeps it) or, without a frame, at once. */
LO_CALL(sys_rt_sigsuspend)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	uint64_t set;
	if (a1 != 8)
		return -EINVAL;
	if (lo_copy_in(&set, (const void *)a0, 8))
		return -EFAULT;
	t->saved_mask = t->sigmask;
	t->mask_saved = 1;
	t->sigmask = set & ~UNBLOCKABLE;
	return sys_pause(0, 0, 0, 0, 0, 0);
}

/* Takes a pending signal of set from t (the process's first): its number,
 * its siginfo in *info; 0 when none. */
static int take_from(struct lo_thread *t, uint64_t set, struct siginfo *info)
{
	take_process_signals();
	uint64_t ready = t->sigpending & set;
	if (!ready)
		return 0;
	int sig = __builtin_ctzll(ready) + 1;
	t->sigpending &= ~BIT(sig);
	*info = infos[sig];
	return sig;
}

/* rt_sigtimedwait(set, info, timeout, size): waits for a signal of set
 * (normally blocked) without running its handler; EAGAIN when the timeout
 * passes (a zero timeout only looks), EINTR for another signal. */
LO_CALL(sys_rt_sigtimedwait)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	struct lx_timespec ts;
	uint64_t set, deadline = 0;
	struct siginfo info;
	if (a3 != 8)
		return -EINVAL;
	if (lo_copy_in(&set, (const void *)a0, 8) || (a2 && lo_copy_in(&ts, (const void *)a2, sizeof ts)))
		return -EFAULT;
	if (a2 && (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000))
		return -EINVAL;
	set &= ~UNBLOCKABLE;
	if (a2)
		deadline = time_now_ns() + (uint64_t)ts.sec * 1000000000u + (uint64_t)ts.nsec;
	int sig;
	int64_t r = 0;
	t->waitset = set;
	while (!(sig = take_from(t, set, &info)) && r != -EINTR && r != -EXO_ETIMEDOUT)
		r = deadline && time_now_ns() >= deadline ? -EXO_ETIMEDOUT
			: lo_thread_wait(t, deadline ? deadline : 0);
	t->waitset = 0;
	if (!sig)
		return r == -EINTR ? -EINTR : -EAGAIN;
	if (a1 && lo_copy_out((void *)a1, &info, sizeof info))
		return -EFAULT;
	return sig;
}

/* sigaltstack(ss, old): the calling thread's alternate stack for handlers
 * with SA_ONSTACK; it cannot change while a handler runs on it (EPERM). */
LO_CALL(sys_sigaltstack)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	struct stack_lx { uint64_t sp; int32_t flags, pad; uint64_t size; } ss, old;
	int on = t->ss_size && t->at_call.rsp - t->ss_sp <= t->ss_size;
	old = (struct stack_lx){ t->ss_sp, !t->ss_size ? SS_DISABLE : on ? SS_ONSTACK : 0, 0, t->ss_size };
	if (a0) {
		if (lo_copy_in(&ss, (const void *)a0, sizeof ss))
			return -EFAULT;
		if (on)
			return -EPERM;
		uint32_t mode = (uint32_t)ss.flags & ~SS_AUTODISARM;
		if (mode != 0 && mode != SS_ONSTACK && mode != SS_DISABLE)
			return -EINVAL;
		mode = mode == SS_DISABLE;
		if (mode == 0 && ss.size < MINSIGSTKSZ)
			return -ENOMEM;
		t->ss_sp = mode ? 0 : ss.sp;
		t->ss_size = mode ? 0 : ss.size;
	}
	if (a1 && lo_copy_out((void *)a1, &old, sizeof old))
		return -EFAULT;
	return 0;
}

/* execve: ignored signals stay ignored, handled ones go back to their
 * default (the handlers are in the old image), and the calling thread's
 * mask and pending signals are kept, as on Linux. */
void lo_signal_exec_state(uint64_t *ignored, uint64_t *mask, uint64_t *pending)
{
	struct lo_thread *t = lo_thread_self();
	*ignored = 0;
	for (int sig = 1; sig <= NSIG; sig++)
		if (actions[sig].handler == SIG_IGN)
			*ignored |= BIT(sig);
	*mask = t->sigmask;
	*pending = t->sigpending;
}

/* The new image's side of lo_signal_exec_state. */
void lo_signal_adopt(uint64_t ignored, uint64_t mask, uint64_t pending)
{
	for (int sig = 1; sig <= NSIG; sig++)
		if ((ignored & BIT(sig)) && sig != SIGKILL && sig != SIGSTOP)
			actions[sig].handler = SIG_IGN;
	actions_changed = 1;
	lo_thread0.sigmask = mask & ~UNBLOCKABLE;
	lo_thread0.sigpending = pending & ~ignored;
}

/* vfork on the parent's memory (libos/spawn.c): the child's sigaction
 * calls must not reach the parent, which gets its dispositions back. */
static struct k_sigaction parent_actions[NSIG + 1];

void lo_signal_vfork_save(void)
{
	lo_memcpy(parent_actions, actions, sizeof actions);
}

void lo_signal_vfork_restore(void)
{
	lo_memcpy(actions, parent_actions, sizeof actions);
	actions_changed = 1;
}
