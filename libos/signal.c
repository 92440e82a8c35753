/*
 * Signals: rt_sigaction, rt_sigprocmask (per thread), rt_sigreturn,
 * rt_sigpending, kill (to any process: libos/proc.c carries signals
 * between processes and hands ours to lo_signal_process), tkill and tgkill
 * within the process, default actions, and hardware faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP)
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
#include "include/exo/native.h"

#define NSIG 64
#define SIG_DFL 0
#define SIG_IGN 1
#define SA_SIGINFO 4
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

/* Signals whose default action is to do nothing (the stop signals too:
 * there is no job control yet). */
static int ignored_by_default(int sig)
{
	return sig == 17 || sig == 18 || sig == 23 || sig == 28 ||	/* CHLD CONT URG WINCH */
	       sig == 19 || sig == 20 || sig == 21 || sig == 22;
}

static int discarded(int sig)
{
	return actions[sig].handler == SIG_IGN ||
	       (actions[sig].handler == SIG_DFL && ignored_by_default(sig));
}

int lo_signal_pending(struct lo_thread *t)
{
	if (lp.shared_pages)
		proc_take_signals();
	return (t->sigpending & ~t->sigmask) != 0;
}

/* What another process must know to send us a signal: which signals have
 * a handler, which are discarded, and which every thread blocks (a fatal
 * signal that is neither ends us at once; libos/proc.c). */
void lo_signal_publish(void)
{
	uint64_t caught = 0, ignored = 0, blocked = ~0ull;
	for (int sig = 1; sig <= NSIG; sig++) {
		if (discarded(sig))
			ignored |= BIT(sig);
		else if (actions[sig].handler != SIG_DFL)
			caught |= BIT(sig);
	}
	for (struct lo_thread *t = &lo_thread0; t; t = t->next)
		if (t->state != LT_PARKED)
			blocked &= t->sigmask;
	proc_publish_signals(caught, ignored, blocked);
}

void lo_signal_thread(struct lo_thread *t, int sig)
{
	if (discarded(sig))
		return;
	t->sigpending |= BIT(sig);
	if (t->notify > 0 && !(t->sigmask & BIT(sig)))
		exo_call(EXO_SYS_NOTIFY_SIGNAL, t->notify, 2);
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
		.err = 0, .trapno = 0, .oldmask = t->sigmask, .cr2 = info->addr, .fpstate = fpstate,
	};
	f.uc.sigmask = t->sigmask;
	f.info = *info;
	__asm__ volatile("fxsave64 %0" : "=m"(fx));
	if (lo_copy_out((void *)fpstate, fx, sizeof fx) || lo_copy_out((void *)frame, &f, sizeof f))
		return -EFAULT;
	t->sigmask |= a->mask | (a->flags & SA_NODEFER ? 0 : BIT(sig));
	t->sigmask &= ~UNBLOCKABLE;
	if (a->flags & SA_RESETHAND)
		actions[sig].handler = SIG_DFL;
	r->rsp = frame;
	r->rip = a->handler;
	r->rdi = (uint64_t)sig;
	r->rsi = frame + __builtin_offsetof(struct rt_sigframe, info);
	r->rdx = frame + __builtin_offsetof(struct rt_sigframe, uc);
	r->rax = 0;
	return 0;
}

void lo_signal_deliver(struct lo_thread *t, int64_t nr)
{
	if (lp.shared_pages)
		proc_take_signals();
	uint64_t ready = t->sigpending & ~t->sigmask;
	if (!ready)
		return;
	int sig = __builtin_ctzll(ready) + 1;
	t->sigpending &= ~BIT(sig);
	struct exo_regs *r = &t->at_call;
	if (discarded(sig))
		return;
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
		if (discarded(sig))		/* pending ones go, as on Linux */
			for (struct lo_thread *t = &lo_thread0; t; t = t->next)
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

/* Sends sig to the process: to the first thread that does not block it. */
void lo_signal_process(int sig, int code, int32_t sender)
{
	struct lo_thread *to = lo_thread_self();
	if (to->sigmask & BIT(sig))
		for (struct lo_thread *t = &lo_thread0; t; t = t->next)
			if (t->state != LT_PARKED && !(t->sigmask & BIT(sig))) {
				to = t;
				break;
			}
	infos[sig] = (struct siginfo){ .signo = sig, .code = code, .kill = { sender, 0 } };
	lo_signal_thread(to, sig);
}

static int64_t signal_tid(int64_t tid, int sig)
{
	struct lo_thread *t = lo_thread_by_tid(tid);
	if (!t)
		return -ESRCH;
	if (sig == 0)
		return 0;
	infos[sig] = (struct siginfo){ .signo = sig, .code = SI_TKILL,
				       .kill = { (int32_t)libos_pid(), 0 } };
	lo_signal_thread(t, sig);
	return 0;
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
	return signal_tid((int64_t)a0, (int)a1);
}

LO_CALL(sys_tgkill)
{
	UNUSED_ARGS;
	if ((int)a2 < 0 || (int)a2 > NSIG || (int64_t)a0 <= 0 || (int64_t)a1 <= 0)
		return -EINVAL;
	if ((int64_t)a0 != libos_pid())
		return -ESRCH;
	return signal_tid((int64_t)a1, (int)a2);
}

/* pause and rt_sigsuspend: sleep until a signal is delivered (EINTR). */
LO_CALL(sys_pause)
{
	UNUSED_ARGS;
	struct lo_thread *t = lo_thread_self();
	while (lo_thread_wait(t, 0) != -EINTR)
		;
	return -EINTR;
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
	lo_thread0.sigmask = mask & ~UNBLOCKABLE;
	lo_thread0.sigpending = pending & ~ignored;
}
