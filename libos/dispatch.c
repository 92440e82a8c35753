/*
 * The Linux personality: reflected system calls by number.  The table is a
 * designated-initializer array; a call with no handler prints one line
 * naming it (once per number) and fails with -ENOSYS.
 */
#include "libos/libos.h"
#include "libos/cfs_vfs.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/sockcalls.h"
#include "libos/exec.h"
#include "libos/spawn.h"
#include "libos/vfs.h"
#include "net/lwip/netshare.h"
#include "include/exo/native.h"
#include "include/exo/net.h"
#include "include/exo/diepoint.h"
#include "build/libos/syscall_names.h"

enum {
	NR_mmap = 9, NR_mprotect = 10,
	NR_munmap = 11, NR_brk = 12, NR_madvise = 28,
	NR_nanosleep = 35, NR_sendfile = 40, NR_sysinfo = 99, NR_prctl = 157, NR_getpid = 39, NR_exit = 60, NR_uname = 63,
	NR_gettimeofday = 96, NR_getuid = 102, NR_getgid = 104, NR_geteuid = 107,
	NR_setuid = 105, NR_setgid = 106,
	NR_getegid = 108, NR_getppid = 110, NR_arch_prctl = 158, NR_gettid = 186,
	NR_time = 201, NR_set_tid_address = 218, NR_clock_gettime = 228,
	NR_clock_getres = 229, NR_clock_nanosleep = 230, NR_exit_group = 231,
	NR_getrandom = 318, NR_rt_sigprocmask = 14, NR_fork = 57, NR_vfork = 58,
	NR_wait4 = 61, NR_settimeofday = 164, NR_clock_settime = 227, NR_execve = 59,
	NR_execveat = 322, NR_MAX = 512,
};
/* threads and signals */
enum {
	NR_rt_sigaction = 13, NR_rt_sigreturn = 15, NR_sched_yield = 24, NR_pause = 34,
	NR_clone = 56, NR_kill = 62, NR_rt_sigpending = 127, NR_tkill = 200, NR_futex = 202,
	NR_tgkill = 234, NR_set_robust_list = 273, NR_get_robust_list = 274, NR_rt_sigtimedwait = 128,
	NR_rt_sigqueueinfo = 129, NR_rt_sigsuspend = 130, NR_sigaltstack = 131,
};
/* resource limits and usage (libos/resource.c) */
enum {
	NR_getrlimit = 97, NR_getrusage = 98, NR_times = 100, NR_setrlimit = 160,
	NR_sched_setaffinity = 203, NR_sched_getaffinity = 204,
};
/* System V IPC (libos/sysvipc.c) */
enum {
	NR_shmget = 29, NR_shmat = 30, NR_shmctl = 31, NR_semget = 64, NR_semop = 65,
	NR_semctl = 66, NR_shmdt = 67, NR_msgget = 68, NR_msgsnd = 69, NR_msgrcv = 70,
	NR_msgctl = 71, NR_semtimedop = 220, NR_msync = 26, NR_mincore = 27, NR_memfd_create = 319,
};
/* timers (libos/timer.c) */
enum {
	NR_getitimer = 36, NR_alarm = 37, NR_setitimer = 38, NR_timer_create = 222,
	NR_timer_settime = 223, NR_timer_gettime = 224, NR_timer_getoverrun = 225,
	NR_timer_delete = 226,
};
/* processes (libos/proc.c) */
enum {
	NR_setpgid = 109, NR_getpgrp = 111, NR_setsid = 112, NR_getpgid = 121, NR_getsid = 124,
	NR_waitid = 247,
};
/* files (libos/fs_calls.c) */
enum {
	NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_stat = 4, NR_fstat = 5,
	NR_lstat = 6, NR_lseek = 8, NR_ioctl = 16, NR_pread64 = 17, NR_pwrite64 = 18,
	NR_readv = 19, NR_writev = 20, NR_access = 21, NR_pipe = 22, NR_dup = 32, NR_dup2 = 33,
	NR_fcntl = 72, NR_sync = 162, NR_fsync = 74, NR_fdatasync = 75, NR_truncate = 76, NR_ftruncate = 77,
	NR_getcwd = 79, NR_chdir = 80, NR_fchdir = 81, NR_rename = 82, NR_mkdir = 83,
	NR_rmdir = 84, NR_creat = 85, NR_link = 86, NR_unlink = 87, NR_symlink = 88,
	NR_readlink = 89, NR_chmod = 90, NR_fchmod = 91, NR_chown = 92, NR_fchown = 93,
	NR_lchown = 94, NR_umask = 95, NR_statfs = 137, NR_fstatfs = 138, NR_getdents64 = 217,
	NR_openat = 257, NR_mkdirat = 258, NR_fchownat = 260, NR_newfstatat = 262,
	NR_unlinkat = 263, NR_renameat = 264, NR_linkat = 265, NR_symlinkat = 266,
	NR_readlinkat = 267, NR_fchmodat = 268, NR_faccessat = 269, NR_utimensat = 280,
	NR_dup3 = 292, NR_pipe2 = 293, NR_preadv = 295, NR_pwritev = 296, NR_prlimit64 = 302,
	NR_renameat2 = 316, NR_statx = 332, NR_faccessat2 = 439, NR_mknod = 133, NR_mknodat = 259,
	NR_flock = 73,
};
/* network and readiness (libos/sockcalls.h) */
enum {
	NR_poll = 7, NR_select = 23, NR_socket = 41, NR_connect = 42, NR_accept = 43,
	NR_sendto = 44, NR_recvfrom = 45, NR_sendmsg = 46, NR_recvmsg = 47, NR_shutdown = 48,
	NR_bind = 49, NR_listen = 50, NR_getsockname = 51, NR_getpeername = 52,
	NR_socketpair = 53, NR_setsockopt = 54, NR_getsockopt = 55, NR_epoll_create = 213,
	NR_epoll_wait = 232, NR_epoll_ctl = 233, NR_pselect6 = 270, NR_ppoll = 271,
	NR_epoll_pwait = 281, NR_eventfd = 284, NR_accept4 = 288, NR_eventfd2 = 290,
	NR_epoll_create1 = 291,
};

typedef int64_t (*handler)(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5);
#define HANDLER(name) static int64_t name(uint64_t a0, uint64_t a1, uint64_t a2, \
					  uint64_t a3, uint64_t a4, uint64_t a5)

struct timespec_lx { int64_t sec, nsec; };

/* A time in nanoseconds written to the program as a timespec (or, with
 * micro set, a timeval): 0 or -EFAULT. */
static int64_t time_out(uint64_t uaddr, uint64_t ns, int micro)
{
	struct timespec_lx t = { (int64_t)(ns / 1000000000u), (int64_t)(ns % 1000000000u) };
	if (micro)
		t.nsec /= 1000;
	return lo_copy_out((void *)uaddr, &t, sizeof t) ? -EFAULT : 0;
}

/* A timespec (or timeval) read from the program and checked: 0, -EFAULT
 * or -EINVAL. */
static int64_t time_in(uint64_t uaddr, uint64_t *ns, int micro)
{
	struct timespec_lx t;
	int64_t unit = micro ? 1000 : 1;
	if (lo_copy_in(&t, (const void *)uaddr, sizeof t))
		return -EFAULT;
	if (t.sec < 0 || t.nsec < 0 || t.nsec >= 1000000000 / unit)
		return -EINVAL;
	*ns = (uint64_t)t.sec * 1000000000u + (uint64_t)(t.nsec * unit);
	return 0;
}

_Noreturn void libos_exit(uint64_t status)
{
	files_exit();			/* pipes see their ends close; before the volume goes */
	cfs_mount_at_exit();
	proc_end_self((int32_t)EXO_STATUS_EXITED(status));
}

HANDLER(sys_exit_group) { UNUSED_ARGS; libos_exit(a0); }

HANDLER(sys_brk) { UNUSED_ARGS; return mm_brk(a0); }
/* The library OS's own memory is sealed against the program (mm_sealed):
 * EPERM, as Linux answers for a sealed mapping. */
HANDLER(sys_mmap)
{
	UNUSED_ARGS;
	if ((a3 & 0x10 /* MAP_FIXED */) && mm_sealed(a0, a1))
		return -EPERM;
	return mm_mmap(a0, a1, (int)a2, (int)a3, (int)a4, (int64_t)a5);
}
HANDLER(sys_munmap) { UNUSED_ARGS; return mm_sealed(a0, a1) ? -EPERM : mm_munmap(a0, a1); }
HANDLER(sys_mprotect) { UNUSED_ARGS; return mm_sealed(a0, a1) ? -EPERM : mm_mprotect(a0, a1, (int)a2); }

/* Advice may be ignored; advice that discards is refused on the library
 * OS's own memory, as on a sealed mapping (DONTNEED, FREE, REMOVE,
 * DONTFORK, WIPEONFORK, DONTNEED_LOCKED). */
HANDLER(sys_madvise)
{
	UNUSED_ARGS;
	int discards = a2 == 4 || a2 == 8 || a2 == 9 || a2 == 10 || a2 == 18 || a2 == 24;
	return discards && mm_sealed(a0, a1) ? -EPERM : 0;
}

static uint64_t pid;		/* cached env id */
int64_t libos_pid(void)
{
	if (lp.self_pid)		/* a vfork child on our memory has its own */
		return lp.self_pid;
	if (!pid) {
		struct exo_cap_info info;
		pid = lo_cap_inspect(EXO_SLOT_SELF_ENV, &info) == 0 ? info.object : 1;
	}
	return (int64_t)pid;
}
HANDLER(sys_getpid) { UNUSED_ARGS; return libos_pid(); }
HANDLER(sys_getuid) { UNUSED_ARGS; return 0; }
/* setuid, setgid: every process is root and stays root (posix_spawn's
 * POSIX_SPAWN_RESETIDS sets the ids it has); another id: EPERM. */
HANDLER(sys_setuid) { UNUSED_ARGS; return (uint32_t)a0 == 0 ? 0 : -EPERM; }

/* The calling thread's FS base (TLS pointer), as set through arch_prctl
 * or clone. */
uint64_t libos_fs_base(void)
{
	return lo_thread_self()->fs_base;
}

HANDLER(sys_arch_prctl)
{
	UNUSED_ARGS;
	if (a0 == 0x1002) {			/* ARCH_SET_FS */
		int64_t r = exo_call(EXO_SYS_SET_FSBASE, a1);
		if (r == 0)
			lo_thread_self()->fs_base = a1;
		return r;
	}
	if (a0 == 0x1003)			/* ARCH_GET_FS */
		return lo_copy_out((void *)a1, &lo_thread_self()->fs_base, 8) ? -EFAULT : 0;
	return -EINVAL;
}

HANDLER(sys_uname)
{
	UNUSED_ARGS;
	static const char *const fields[6] = { "ExoSwarm", "exoswarm", 0, 0, "x86_64", "(none)" };
	char u[6 * 65];
	lo_memset(u, 0, sizeof u);
	for (int i = 0; i < 6; i++) {
		const char *s = i == 2 || i == 3 ? (const char *)libos_kinfo->version : fields[i];
		size_t n = lo_strlen(s);
		lo_memcpy(u + 65 * i, s, n < 64 ? n : 64);
	}
	return lo_copy_out((void *)a0, u, sizeof u) ? -EFAULT : 0;
}

/* prctl: the thread's name (PR_SET_NAME, PR_GET_NAME: one per process
 * here), and the options programs set without caring much (parent-death
 * signal, dumpable), kept and read back; the library OS's own (the NIC of
 * a child, a test's die point); others EINVAL, as Linux answers an
 * option it does not know. */
HANDLER(sys_prctl)
{
	UNUSED_ARGS;
	static char name[16] = "exoswarm";
	static uint64_t pdeathsig, dumpable = 1;
	switch (a0) {
	case 1:			/* PR_SET_PDEATHSIG */
		if (a1 > 64)
			return -EINVAL;
		pdeathsig = a1;
		return 0;
	case 2:			/* PR_GET_PDEATHSIG */
		return lo_copy_out((void *)a1, &(int32_t){ (int32_t)pdeathsig }, 4) ? -EFAULT : 0;
	case 3:			/* PR_GET_DUMPABLE */
		return (int64_t)dumpable;
	case 4:			/* PR_SET_DUMPABLE */
		if (a1 > 1)
			return -EINVAL;
		dumpable = a1;
		return 0;
	case 15: {		/* PR_SET_NAME */
		char n[16];
		int64_t r = lo_strncpy_in(n, (const char *)a1, sizeof n - 1);
		if (r < 0)
			return r;
		n[sizeof n - 1] = 0;
		lo_memcpy(name, n, sizeof n);
		return 0;
	}
	case EXO_PR_NET_CHILD:	/* include/exo/net.h */
	case EXO_PR_NET_REVOKE:
		return netshare_prctl(a0, a1, a2);
	case EXO_PR_DIE_AT:	/* include/exo/diepoint.h */
		return die_point_choose(a1);
	case EXO_PR_GROW_AT:
		return grow_point_choose(a1);
	case EXO_PR_MM_CHECK:
		return mm_pool_check();
	case 16:		/* PR_GET_NAME */
		return lo_copy_out((void *)a1, name, sizeof name) ? -EFAULT : 0;
	default:
		return -EINVAL;
	}
}

/* sysinfo: uptime, memory as this process's budget sees it (what it may
 * still allocate is free; total adds the shared segment), the number of
 * processes. */
struct lx_sysinfo {
	int64_t uptime;
	uint64_t loads[3], totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	uint16_t procs, pad;
	uint64_t totalhigh, freehigh;
	uint32_t mem_unit;
	char reserved[4];
};
_Static_assert(sizeof(struct lx_sysinfo) == 112, "Linux's struct sysinfo on x86_64");
HANDLER(sys_sysinfo)
{
	UNUSED_ARGS;
	struct lx_sysinfo si;
	struct exo_cap_info mem;
	lo_memset(&si, 0, sizeof si);
	si.uptime = (int64_t)(time_now_ns() / 1000000000ull);
	if (lo_cap_inspect(EXO_SLOT_MEMORY, &mem) == 0)
		si.freeram = mem.count * 4096;
	si.sharedram = lp.shared_pages * 4096;
	si.totalram = si.freeram + si.sharedram;
	si.procs = (uint16_t)(lp.shared_pages ? sh_seg()->nprocs : 1);
	si.mem_unit = 1;
	return lo_copy_out((void *)a0, &si, sizeof si) ? -EFAULT : 0;
}

static int64_t clock_ns(uint64_t clock, uint64_t *ns)
{
	switch (clock) {
	case 0: case 5: case 8: case 11:	/* REALTIME, _COARSE, _ALARM, TAI */
		*ns = libos_kinfo->realtime_base_ns + time_now_ns();
		return 0;
	case 1: case 4: case 6: case 7: case 9:	/* MONOTONIC, _RAW, _COARSE, BOOTTIME */
	case 2: case 3:				/* CPU time: the machine is ours */
		*ns = time_now_ns();
		return 0;
	default:
		return -EINVAL;
	}
}

HANDLER(sys_clock_gettime)
{
	UNUSED_ARGS;
	uint64_t ns;
	int64_t r = clock_ns(a0, &ns);
	if (r)
		return r;
	return time_out(a1, ns, 0);
}

HANDLER(sys_clock_getres)
{
	UNUSED_ARGS;
	uint64_t ns;
	if (clock_ns(a0, &ns))
		return -EINVAL;
	return a1 ? time_out(a1, 1, 0) : 0;
}

HANDLER(sys_gettimeofday)
{
	UNUSED_ARGS;
	return a0 ? time_out(a0, libos_kinfo->realtime_base_ns + time_now_ns(), 1) : 0;
}

HANDLER(sys_time)
{
	UNUSED_ARGS;
	int64_t t = (int64_t)((libos_kinfo->realtime_base_ns + time_now_ns()) / 1000000000u);
	if (a0 && lo_copy_out((void *)a0, &t, sizeof t))
		return -EFAULT;
	return t;
}

HANDLER(sys_clock_settime)
{
	UNUSED_ARGS;
	if (a0 != 0)
		return a0 == 1 || a0 == 4 || a0 == 7 ? -EPERM : -EINVAL;	/* only REALTIME is settable */
	uint64_t ns;
	int64_t r = time_in(a1, &ns, 0);
	return r ? r : time_set_realtime_ns(ns);
}

HANDLER(sys_settimeofday)
{
	UNUSED_ARGS;
	if (!a0)
		return 0;		/* a time zone alone changes nothing */
	uint64_t ns;
	int64_t r = time_in(a0, &ns, 1);
	return r ? r : time_set_realtime_ns(ns);
}

/* Sleeps on the thread's notification, without the libOS lock, until the
 * time has passed or a signal comes (EINTR); *left is the time still to
 * sleep then. */
static int64_t sleep_ns(uint64_t ns, uint64_t *left)
{
	uint64_t deadline = time_now_ns() + ns;
	int64_t r = ns ? lo_sleep_until(deadline) : 0;
	uint64_t now = time_now_ns();
	*left = r == -EINTR && now < deadline ? deadline - now : 0;
	return r;
}

/* nanosleep: an interrupted sleep tells what was left in rem, so a
 * program sleeping in a loop on EINTR (BusyBox's sleep) sleeps its time. */
HANDLER(sys_nanosleep)
{
	UNUSED_ARGS;
	uint64_t ns, left;
	int64_t r = time_in(a0, &ns, 0);
	if (r)
		return r;
	r = sleep_ns(ns, &left);
	if (a1 && r == -EINTR && time_out(a1, left, 0))
		return -EFAULT;
	return r;
}

HANDLER(sys_clock_nanosleep)
{
	UNUSED_ARGS;
	uint64_t now, t, left;
	if (clock_ns(a0, &now))
		return -EINVAL;
	int64_t r = time_in(a2, &t, 0);
	if (r)
		return r;
	if (a1 & 1)				/* TIMER_ABSTIME */
		t = t > now ? t - now : 0;
	r = sleep_ns(t, &left);
	if (a3 && r == -EINTR && !(a1 & 1) && time_out(a3, left, 0))
		return -EFAULT;
	return r;
}

HANDLER(sys_getrandom)
{
	UNUSED_ARGS;
	int64_t err = mm_prepare_write(a0, a1);
	if (err)
		return err;
	for (uint64_t off = 0; off < a1; off += 4096) {
		uint64_t n = a1 - off < 4096 ? a1 - off : 4096;
		int64_t r = exo_call(EXO_SYS_RANDOM, a0 + off, n);
		if (r < 0)
			return off ? (int64_t)off : r;
	}
	return (int64_t)a1;
}

/* A vfork child on its parent's memory may not fork (libos/spawn.c). */
HANDLER(sys_fork) { UNUSED_ARGS; return spawn_child_active() ? -EAGAIN : libos_fork(); }
HANDLER(sys_vfork) { UNUSED_ARGS; return libos_vfork(0); }

/* A forked child must not use its parent's kernel objects by slot. */
void libos_forget_caches(void)
{
	pid = 0;
}

static const handler table[NR_MAX] = {
	[NR_fork] = sys_fork, [NR_vfork] = sys_vfork, [NR_wait4] = sys_wait4,
	[NR_waitid] = sys_waitid, [NR_setpgid] = sys_setpgid, [NR_getpgrp] = sys_getpgrp,
	[NR_setsid] = sys_setsid, [NR_getpgid] = sys_getpgid, [NR_getsid] = sys_getsid,
	[NR_execve] = sys_execve, [NR_execveat] = sys_execveat,
	/* threads, futexes and signals (libos/thread.c, futex.c, signal.c) */
	[NR_clone] = sys_clone, [NR_futex] = sys_futex, [NR_set_robust_list] = sys_set_robust_list,
	[NR_get_robust_list] = sys_get_robust_list,
	[NR_sched_yield] = sys_sched_yield, [NR_rt_sigaction] = sys_rt_sigaction,
	[NR_rt_sigprocmask] = sys_rt_sigprocmask, [NR_rt_sigreturn] = sys_rt_sigreturn,
	[NR_rt_sigpending] = sys_rt_sigpending, [NR_kill] = sys_kill, [NR_tkill] = sys_tkill,
	[NR_tgkill] = sys_tgkill, [NR_pause] = sys_pause, [NR_rt_sigtimedwait] = sys_rt_sigtimedwait,
	[NR_rt_sigqueueinfo] = sys_rt_sigqueueinfo, [NR_rt_sigsuspend] = sys_rt_sigsuspend,
	[NR_sigaltstack] = sys_sigaltstack,
	[NR_getitimer] = sys_getitimer, [NR_alarm] = sys_alarm, [NR_setitimer] = sys_setitimer,
	[NR_timer_create] = sys_timer_create, [NR_timer_settime] = sys_timer_settime,
	[NR_timer_gettime] = sys_timer_gettime, [NR_timer_getoverrun] = sys_timer_getoverrun,
	[NR_timer_delete] = sys_timer_delete,
	[NR_mmap] = sys_mmap, [NR_mprotect] = sys_mprotect, [NR_munmap] = sys_munmap,
	[NR_brk] = sys_brk,
	[NR_madvise] = sys_madvise, [NR_nanosleep] = sys_nanosleep, [NR_getpid] = sys_getpid,
	[NR_exit] = sys_thread_exit, [NR_uname] = sys_uname, [NR_prctl] = sys_prctl, [NR_sysinfo] = sys_sysinfo,
	[NR_sendfile] = sys_sendfile, [NR_gettimeofday] = sys_gettimeofday,
	[NR_getuid] = sys_getuid, [NR_getgid] = sys_getuid, [NR_geteuid] = sys_getuid,
	[NR_setuid] = sys_setuid, [NR_setgid] = sys_setuid,
	[NR_getegid] = sys_getuid, [NR_getppid] = sys_getppid, [NR_arch_prctl] = sys_arch_prctl,
	[NR_gettid] = sys_gettid, [NR_time] = sys_time, [NR_set_tid_address] = sys_set_tid_address,
	[NR_clock_gettime] = sys_clock_gettime, [NR_clock_getres] = sys_clock_getres,
	[NR_clock_nanosleep] = sys_clock_nanosleep, [NR_exit_group] = sys_exit_group,
	[NR_clock_settime] = sys_clock_settime, [NR_settimeofday] = sys_settimeofday,
	[NR_getrandom] = sys_getrandom,
	[NR_getrlimit] = sys_getrlimit, [NR_setrlimit] = sys_setrlimit, [NR_getrusage] = sys_getrusage,
	[NR_times] = sys_times, [NR_sched_setaffinity] = sys_sched_setaffinity,
	[NR_sched_getaffinity] = sys_sched_getaffinity,
	[NR_msync] = sys_msync, [NR_mincore] = sys_mincore, [NR_memfd_create] = sys_memfd_create,
	[NR_shmget] = sys_shmget, [NR_shmat] = sys_shmat, [NR_shmdt] = sys_shmdt,
	[NR_shmctl] = sys_shmctl, [NR_semget] = sys_semget, [NR_semop] = sys_semop,
	[NR_semtimedop] = sys_semtimedop, [NR_semctl] = sys_semctl, [NR_msgget] = sys_msgget,
	[NR_msgsnd] = sys_msgsnd, [NR_msgrcv] = sys_msgrcv, [NR_msgctl] = sys_msgctl,
	/* files */
	[NR_read] = sys_read, [NR_write] = sys_write, [NR_open] = sys_open, [NR_close] = sys_close,
	[NR_stat] = sys_stat, [NR_fstat] = sys_fstat, [NR_lstat] = sys_lstat, [NR_lseek] = sys_lseek,
	[NR_ioctl] = sys_ioctl, [NR_pread64] = sys_pread64, [NR_pwrite64] = sys_pwrite64,
	[NR_readv] = sys_readv, [NR_writev] = sys_writev, [NR_access] = sys_access,
	[NR_pipe] = sys_pipe, [NR_dup] = sys_dup, [NR_dup2] = sys_dup2, [NR_fcntl] = sys_fcntl,
	[NR_fsync] = sys_fsync, [NR_fdatasync] = sys_fsync, [NR_sync] = sys_sync, [NR_truncate] = sys_truncate,
	[NR_ftruncate] = sys_ftruncate, [NR_getcwd] = sys_getcwd, [NR_chdir] = sys_chdir,
	[NR_fchdir] = sys_fchdir, [NR_rename] = sys_rename, [NR_mkdir] = sys_mkdir,
	[NR_rmdir] = sys_rmdir, [NR_creat] = sys_creat, [NR_link] = sys_link,
	[NR_unlink] = sys_unlink, [NR_symlink] = sys_symlink, [NR_readlink] = sys_readlink,
	[NR_chmod] = sys_chmod, [NR_fchmod] = sys_fchmod, [NR_chown] = sys_chown,
	[NR_fchown] = sys_fchown, [NR_lchown] = sys_lchown, [NR_umask] = sys_umask,
	[NR_statfs] = sys_statfs, [NR_fstatfs] = sys_fstatfs, [NR_getdents64] = sys_getdents64,
	[NR_openat] = sys_openat, [NR_mkdirat] = sys_mkdirat, [NR_fchownat] = sys_fchownat,
	[NR_newfstatat] = sys_newfstatat, [NR_unlinkat] = sys_unlinkat,
	[NR_renameat] = sys_renameat, [NR_linkat] = sys_linkat, [NR_symlinkat] = sys_symlinkat,
	[NR_readlinkat] = sys_readlinkat, [NR_fchmodat] = sys_fchmodat,
	[NR_faccessat] = sys_faccessat, [NR_utimensat] = sys_utimensat, [NR_dup3] = sys_dup3,
	[NR_mknod] = sys_mknod, [NR_mknodat] = sys_mknodat, [NR_flock] = sys_flock,
	[NR_pipe2] = sys_pipe2, [NR_preadv] = sys_preadv, [NR_pwritev] = sys_pwritev,
	[NR_prlimit64] = sys_prlimit64, [NR_renameat2] = sys_renameat2, [NR_statx] = sys_statx,
	[NR_faccessat2] = sys_faccessat2,
	/* network and readiness */
	[NR_socket] = sys_socket, [NR_socketpair] = sys_socketpair, [NR_bind] = sys_bind,
	[NR_listen] = sys_listen, [NR_accept] = sys_accept, [NR_accept4] = sys_accept4,
	[NR_connect] = sys_connect, [NR_sendto] = sys_sendto, [NR_sendmsg] = sys_sendmsg,
	[NR_recvfrom] = sys_recvfrom, [NR_recvmsg] = sys_recvmsg, [NR_shutdown] = sys_shutdown,
	[NR_getsockname] = sys_getsockname, [NR_getpeername] = sys_getpeername,
	[NR_setsockopt] = sys_setsockopt, [NR_getsockopt] = sys_getsockopt,
	[NR_poll] = sys_poll, [NR_ppoll] = sys_ppoll, [NR_select] = sys_select,
	[NR_pselect6] = sys_pselect6, [NR_epoll_create] = sys_epoll_create,
	[NR_epoll_create1] = sys_epoll_create1, [NR_epoll_ctl] = sys_epoll_ctl,
	[NR_epoll_wait] = sys_epoll_wait, [NR_epoll_pwait] = sys_epoll_pwait,
	[NR_eventfd] = sys_eventfd, [NR_eventfd2] = sys_eventfd2,
};

static uint64_t reported[NR_MAX / 64 + 1];

int64_t libos_dispatch(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5)
{
	if (nr < NR_MAX && table[nr])
		return table[nr](a0, a1, a2, a3, a4, a5);
	uint64_t bit = nr < NR_MAX ? nr : NR_MAX;
	if (!(reported[bit / 64] >> (bit % 64) & 1)) {
		reported[bit / 64] |= 1ull << (bit % 64);
		const char *name = nr < sizeof syscall_names / sizeof syscall_names[0] && syscall_names[nr]
				   ? syscall_names[nr] : "unknown";
		lo_report("exoswarm: system call %s (%d) is not implemented; it fails with ENOSYS\n",
			  name, (int64_t)nr);
	}
	return -ENOSYS;
}
