/*
 * Resource limits and usage: prlimit64, getrlimit, setrlimit, getrusage,
 * times, and the CPU affinity calls.  The limits are the process's own,
 * kept in its private block (so a forked child inherits them) and handed
 * to the next image by execve (struct exec_handover).  RLIMIT_NOFILE is the
 * descriptor table's (libos/fd.c), RLIMIT_AS is enforced by mmap and brk
 * (libos/mm.c), RLIMIT_NPROC by fork; the others are kept and read back.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/exec.h"
#include "libos/vfs.h"
#include "include/exo/native.h"

#define RLIM_INF (~0ull)
enum { RL_STACK = 3, RL_CORE = 4, RL_NPROC = 6, RL_NOFILE = 7, RL_MEMLOCK = 8,
       RL_SIGPENDING = 11, RL_MSGQUEUE = 12 };

/* The limits, set up on first use: Linux's defaults, or what the image
 * that called execve had. */
static struct lo_rlimit *limits(void)
{
	if (!lp.rlim_ready) {
		for (int r = 0; r < LO_RLIMITS; r++)
			lp.rlim[r] = (struct lo_rlimit){ RLIM_INF, RLIM_INF };
		lp.rlim[RL_STACK].cur = 8ull << 20;
		lp.rlim[RL_CORE].cur = 0;
		lp.rlim[RL_NPROC] = (struct lo_rlimit){ MAX_PROCS, MAX_PROCS };
		lp.rlim[RL_MEMLOCK] = (struct lo_rlimit){ 8ull << 20, 8ull << 20 };
		lp.rlim[RL_SIGPENDING] = (struct lo_rlimit){ 4096, 4096 };
		lp.rlim[RL_MSGQUEUE] = (struct lo_rlimit){ 819200, 819200 };
		const struct exec_handover *h = exec_handover();
		if (h && h->rlim_valid)
			lo_memcpy(lp.rlim, h->rlim, sizeof lp.rlim);
		lp.rlim_ready = 1;
	}
	return lp.rlim;
}

uint64_t rlimit_cur(int resource)
{
	return limits()[resource].cur;
}

void rlimit_after_fork(void)
{
	limits();
	lp.start_ns = time_now_ns();
	lp.minflt = 0;
	lp.resident_peak = lp.resident_now;
}

void rlimit_exec_state(struct lo_rlimit *to)
{
	lo_memcpy(to, limits(), sizeof lp.rlim);
}

/* fork: EAGAIN once the machine has RLIMIT_NPROC processes (every process
 * here runs as root, as one user; Linux would let root past the limit). */
int rlimit_fork_check(void)
{
	uint64_t n = lp.shared_pages ? sh_seg()->nprocs : 1;
	return n >= limits()[RL_NPROC].cur ? -EAGAIN : 0;
}

/* prlimit64(pid, resource, new, old): the calling process only (0 or its
 * pid), ESRCH for any other; root may raise a hard limit. */
LO_CALL(sys_prlimit64)
{
	UNUSED_ARGS;
	struct lo_rlimit nl, *l = limits();
	if (a0 && (int64_t)a0 != libos_pid())
		return -ESRCH;
	if (a1 >= LO_RLIMITS)
		return -EINVAL;
	if (a2) {
		if (lo_copy_in(&nl, (const void *)a2, sizeof nl))
			return -EFAULT;
		if (nl.cur > nl.max)
			return -EINVAL;
	}
	if (a3) {
		struct lo_rlimit old = l[a1];
		if (a1 == RL_NOFILE)
			old = (struct lo_rlimit){ fd_limit(), fd_hard_limit() };
		if (lo_copy_out((void *)a3, &old, sizeof old))
			return -EFAULT;
	}
	if (!a2)
		return 0;
	if (a1 == RL_NOFILE)
		return fd_set_limit(nl.cur, nl.max);
	l[a1] = nl;
	return 0;
}

/* getrlimit and setrlimit: NULL is no "none" here, as it is for prlimit64 */
LO_CALL(sys_getrlimit) { UNUSED_ARGS; return a1 ? sys_prlimit64(0, a0, 0, a1, 0, 0) : -EFAULT; }
LO_CALL(sys_setrlimit) { UNUSED_ARGS; return a1 ? sys_prlimit64(0, a0, a1, 0, 0, 0) : -EFAULT; }

/* Linux's struct rusage on x86_64. */
struct lx_rusage {
	int64_t utime[2], stime[2];	/* seconds, microseconds */
	int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock;
	int64_t msgsnd, msgrcv, nsignals, nvcsw, nivcsw;
};
_Static_assert(sizeof(struct lx_rusage) == 144, "Linux's struct rusage");

/* Time the process has run: the kernel counts no CPU time per env, so
 * this is the time since the process (or this image) started. */
static uint64_t run_ns(void)
{
	uint64_t now = time_now_ns();
	return now > lp.start_ns ? now - lp.start_ns : 0;
}

/* getrusage: RUSAGE_SELF and RUSAGE_THREAD give the run time as user
 * time, the peak of resident pages as maxrss and the page faults served;
 * RUSAGE_CHILDREN gives zeros (no figures come back from a child yet). */
LO_CALL(sys_getrusage)
{
	UNUSED_ARGS;
	struct lx_rusage ru;
	int who = (int)a0;
	if (who != 0 && who != -1 && who != 1)		/* SELF, CHILDREN, THREAD */
		return -EINVAL;
	lo_memset(&ru, 0, sizeof ru);
	if (who != -1) {
		uint64_t ns = run_ns();
		ru.utime[0] = (int64_t)(ns / 1000000000u);
		ru.utime[1] = (int64_t)(ns % 1000000000u / 1000);
		ru.maxrss = (int64_t)(lp.resident_peak * 4);
		ru.minflt = (int64_t)lp.minflt;
	}
	return lo_copy_out((void *)a1, &ru, sizeof ru) ? -EFAULT : 0;
}

/* times: the run time as user time, in ticks of 100 Hz (sysconf's
 * _SC_CLK_TCK); returns the ticks since boot. */
LO_CALL(sys_times)
{
	UNUSED_ARGS;
	int64_t tms[4] = { (int64_t)(run_ns() / 10000000u), 0, 0, 0 };
	if (a0 && lo_copy_out((void *)a0, tms, sizeof tms))
		return -EFAULT;
	return (int64_t)(time_now_ns() / 10000000u);
}

/* The CPUs the kernel runs: it refuses an affinity mask with none of them,
 * so each CPU is tried on a thread that never runs. */
static uint64_t cpus_online(void)
{
	if (lp.cpus_online)
		return lp.cpus_online;
	int64_t t = exo_call(EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV);
	uint64_t m = 0;
	for (int i = 0; t >= 0 && i < 64; i++)
		if (exo_call(EXO_SYS_THREAD_SET_AFFINITY, t, 1ull << i) == 0)
			m |= 1ull << i;
	if (t >= 0)
		exo_call(EXO_SYS_CAP_DELETE, t);
	lp.cpus_online = m ? m : 1;
	return lp.cpus_online;
}

/* The thread a pid names: 0 the caller, else a thread of this process by
 * its tid. */
static struct lo_thread *affinity_thread(uint64_t pid)
{
	return pid == 0 ? lo_thread_self() : lo_thread_by_tid((int64_t)pid);
}

/* The CPUs a mask of 0 ("every CPU") or a set one leaves. */
static uint64_t mask_online(uint64_t m)
{
	return cpus_online() & (m ? m : ~0ull);
}

uint64_t affinity_inherit(int64_t slot, uint64_t had)
{
	uint64_t m = lo_thread_self()->cpu_mask;
	if (m != had)
		exo_call(EXO_SYS_THREAD_SET_AFFINITY, slot, mask_online(m));
	return m;
}

/* sched_getaffinity(pid, len, mask): 8 bytes of mask (64 CPUs at most);
 * EINVAL when len is shorter, as Linux answers.  pid names a thread of
 * this process or another process, whose main thread's mask its table
 * entry keeps. */
LO_CALL(sys_sched_getaffinity)
{
	UNUSED_ARGS;
	struct lo_thread *t = affinity_thread(a0);
	struct sh_proc *p = t || !lp.shared_pages ? 0 : proc_by_pid((int64_t)a0);
	if (!t && (!p || p->state != PROC_RUNNING))
		return -ESRCH;
	if (a1 < 8 || a1 % 8)
		return -EINVAL;
	uint64_t m = mask_online(t ? t->cpu_mask : p->cpu_mask);
	return lo_copy_out((void *)a2, &m, 8) ? -EFAULT : 8;
}

/* sched_setaffinity(pid, len, mask): a thread of this process; EINVAL for
 * a mask with no online CPU.  Another process's threads are not ours to
 * move (we hold no cap on them): EPERM, as Linux answers a caller
 * without CAP_SYS_NICE. */
LO_CALL(sys_sched_setaffinity)
{
	UNUSED_ARGS;
	struct lo_thread *t = affinity_thread(a0);
	uint64_t m = 0;
	if (!t) {
		struct sh_proc *p = lp.shared_pages ? proc_by_pid((int64_t)a0) : 0;
		return p && p->state == PROC_RUNNING ? -EPERM : -ESRCH;
	}
	if (lo_copy_in(&m, (const void *)a2, a1 < 8 ? a1 : 8))
		return -EFAULT;
	m &= cpus_online();
	if (!m)
		return -EINVAL;
	if (t->slot && exo_call(EXO_SYS_THREAD_SET_AFFINITY, t->slot, m))
		return -EINVAL;
	t->cpu_mask = m;
	if (t->tid == lp.self_pid && lp.shared_pages)
		proc_self()->cpu_mask = m;	/* the main thread's, for others */
	return 0;
}
