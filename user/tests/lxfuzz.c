/*
 * Random Linux system calls through the library OS, with random and
 * boundary arguments, as sequences on what the fuzzer made: descriptors it
 * opened, children it forked, threads it started, signals it installed,
 * mappings, System V objects and timers it created.  A supervisor runs the
 * fuzzer as batches of BATCH calls, each in a fresh process (its own
 * session, its own directory /tmp/fz), and after each batch checks that the
 * damage stayed inside: the batch ended by itself (a death by a signal is a
 * library-OS crash: the fuzzer never sends itself a fatal one), a bystander
 * process still answers and its memory is unchanged, and a directory of
 * the shared file system (/tmp/keep) still holds what it held.
 *   lxfuzz CALLS [SEED]
 * Only calls that would legitimately end the fuzzer are left out or tamed:
 * exit and exit_group, rt_sigreturn, raw clone and vfork (fork and
 * pthread_create make processes and threads), fatal signals to itself,
 * mappings over its stack (its text and data the library OS refuses
 * to change, being its own too: aimed at with the rest of the library
 * OS's memory), a kill of another process
 * than its own, and setting the machine's clock.  Blocking calls are cut
 * short by a 5 ms SIGALRM tick the main thread never blocks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define BATCH 5000
#define ARENA_PAGES 64
#define CHILD_CALLS 40
#define MAXFD 48
#define MAXKID 4
#define MAXTHREAD 3
#define STUCK_S 5		/* a batch whose main thread made no call for this long is stuck */	/* a batch this slow is stuck: killed, counted as a stall */

static volatile uint64_t calls;		/* this batch, every thread */
static volatile int stop_threads;
static int is_child;			/* a child the fuzzer forked: a few calls, then _exit */
static int fds[MAXFD], nfds;
static pid_t kids[MAXKID], self_pid;
static int nkids;
static pid_t tids[MAXTHREAD];
static int ntids, nthreads;		/* tids known, threads started */
static int ipc_ids[3][8];		/* shm, sem, msg: removed at the end of the batch */
static int timer_ids[8];
static char *arena;			/* ARENA_PAGES pages the memory calls may change */
static char *scratch;			/* 1 MiB, an unmapped page after it */
#define SCRATCH_SIZE (1u << 20)
static volatile sig_atomic_t caught;
/* The main thread's last call, in System V shared memory the supervisor
 * reads when a batch dies or sticks. */
struct trace { uint64_t nr, a[6], n, ticks, sigs[65]; };
static volatile struct trace *trace;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t pick(uint64_t *s, uint64_t n)
{
	return next(s) % n;
}

static void on_signal(int sig)
{
	caught++;
	if (trace && sig > 0 && sig < 65)
		trace->sigs[sig]++;
	if (sig == SIGALRM && trace)
		trace->ticks++;		/* the supervisor tells a blocked call the tick ends from a lost tick */
}

/* Signals whose default would end the fuzzer or that a fault raises are
 * never sent to itself nor given to sigaction. */
static int fatal_to_self(int sig)
{
	return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
	       sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS;
}

/* A pointer: mostly somewhere in the scratch buffer, sometimes in the
 * arena (mapped or not, whatever the memory calls made of it), NULL, the
 * kernel's half, non-canonical, the end of the arena, or the text. */
static uint64_t ptr(uint64_t *s)
{
	switch (pick(s, 16)) {
	case 0: return 0;
	case 1: return 0xffff800000000000ull + (pick(s, 1u << 20) << 12);
	case 2: return 0x0000800000000000ull - pick(s, 8);
	case 3: case 4: return (uint64_t)arena + pick(s, ARENA_PAGES * 4096 + 4096);
	case 5: return (uint64_t)arena + ARENA_PAGES * 4096 - 1 - pick(s, 64);
	case 6: return (uint64_t)&on_signal;	/* read-only text */
	case 7: return next(s);
	default: return (uint64_t)scratch + pick(s, 65536);
	}
}

/* A number: boundaries or small random or anything. */
static uint64_t num(uint64_t *s)
{
	static const uint64_t edge[] = { 0, 1, 2, 3, 4, 8, 16, 64, 4095, 4096, 4097, 65536, 0x7fffffff,
					 0x80000000u, 0xffffffffu, 0x100000000ull, 0x7fffffffffffffffull,
					 0x8000000000000000ull, ~0ull, ~0ull - 1, (uint64_t)-4096 };
	switch (pick(s, 4)) {
	case 0: return edge[pick(s, sizeof edge / sizeof edge[0])];
	case 1: return pick(s, 32);
	case 2: return pick(s, 1u << 16);
	default: return next(s);
	}
}

static uint64_t len(uint64_t *s)
{
	return pick(s, 4) ? pick(s, 8192) : num(s);
}

/* A descriptor the fuzzer made, or one it did not. */
static uint64_t fd(uint64_t *s)
{
	static const int64_t other[] = { -1, 0, 1, 2, 1023, 1024, 65535, 0x7fffffff, -100 /* AT_FDCWD */ };
	if (nfds && pick(s, 8))
		return (uint64_t)(int64_t)fds[pick(s, (uint64_t)nfds)];
	return (uint64_t)other[pick(s, sizeof other / sizeof other[0])];
}

/* A path in the fuzzer's directory, a file elsewhere it may touch, an
 * awkward one, or a bad pointer. */
static uint64_t path(uint64_t *s)
{
	static const char *const names[] = {
		"a", "b", "d", "d/e", "d/e/f", "l", "p", ".", "d/..", "", "a/", "l/x", "/tmp/fz/a",
		"/tmp/fz/d", "/proc/self/maps", "/proc/self/status", "/proc/self/fd", "/proc/meminfo",
		"/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "nonexistent/x",
	};
	static char longname[5000];
	uint64_t k = pick(s, sizeof names / sizeof names[0] + 3);
	if (k < sizeof names / sizeof names[0])
		return (uint64_t)names[k];
	if (k == sizeof names / sizeof names[0]) {
		memset(longname, 'x', sizeof longname - 1);
		longname[pick(s, sizeof longname)] = 0;
		return (uint64_t)longname;
	}
	return ptr(s);
}

static uint64_t pid(uint64_t *s)
{
	static const int64_t other[] = { 0, -1, 99999, 0x7fffffff, -0x7fffffff };
	switch (pick(s, 4)) {
	case 0: return (uint64_t)(int64_t)self_pid;
	case 1: return nkids ? (uint64_t)(int64_t)kids[pick(s, (uint64_t)nkids)] : 0;
	case 2: return (uint64_t)(int64_t)-self_pid;
	default: return (uint64_t)other[pick(s, sizeof other / sizeof other[0])];
	}
}

/* A timespec (or timeval) in the scratch buffer: a short time, zero, a
 * bad one; or a bad pointer. */
static uint64_t timespec(uint64_t *s)
{
	if (!pick(s, 6))
		return ptr(s);
	int64_t *t = (int64_t *)(scratch + 65536 + 64 * pick(s, 4));
	t[0] = pick(s, 8) ? 0 : (int64_t)num(s);
	t[1] = pick(s, 8) ? (int64_t)pick(s, 3000000) : (int64_t)num(s);
	t[2] = 0;
	t[3] = (int64_t)pick(s, 2000000);
	return (uint64_t)t;
}

/* A socket address: IPv4 or IPv6 loopback on a few ports, or noise. */
static uint64_t sockaddr(uint64_t *s)
{
	uint8_t *a = (uint8_t *)scratch + 65536 + 256 + 128 * pick(s, 4);
	memset(a, 0, 128);
	uint16_t port = (uint16_t)(7100 + pick(s, 4));
	port = (uint16_t)(port << 8 | port >> 8);
	switch (pick(s, 5)) {
	case 0: case 1:
		a[0] = 2;			/* AF_INET, 127.0.0.1 */
		memcpy(a + 2, &port, 2);
		a[4] = 127, a[7] = 1;
		return (uint64_t)a;
	case 2:
		a[0] = 10;			/* AF_INET6, ::1 */
		memcpy(a + 2, &port, 2);
		a[23] = 1;
		return (uint64_t)a;
	case 3:
		for (int i = 0; i < 32; i++)
			a[i] = (uint8_t)next(s);
		return (uint64_t)a;
	default:
		return ptr(s);
	}
}

/* A readable and writable iovec array or message header pointing at the
 * scratch buffer, with lengths that are sometimes absurd. */
static uint64_t iovecs(uint64_t *s, int msghdr)
{
	uint64_t *v = (uint64_t *)(scratch + 65536 + 1024);
	for (int i = 0; i < 8; i++) {
		v[2 * i] = pick(s, 4) ? (uint64_t)scratch + pick(s, 60000) : ptr(s);
		v[2 * i + 1] = pick(s, 4) ? pick(s, 4096) : num(s);
	}
	if (!msghdr)
		return pick(s, 6) ? (uint64_t)v : ptr(s);
	uint64_t *m = (uint64_t *)(scratch + 65536 + 1536);
	m[0] = pick(s, 2) ? sockaddr(s) : 0;		/* name */
	m[1] = pick(s, 3) ? 16 : num(s);		/* namelen */
	m[2] = (uint64_t)v;				/* iov */
	m[3] = pick(s, 3) ? pick(s, 9) : num(s);	/* iovlen */
	m[4] = pick(s, 3) ? 0 : ptr(s);			/* control */
	m[5] = pick(s, 3) ? 0 : num(s);			/* controllen */
	m[6] = 0;
	return pick(s, 6) ? (uint64_t)m : ptr(s);
}

/* How many entries of tids[] are filled (a thread counts itself in before
 * it writes its entry: those not yet written read 0, which every call
 * refuses). */
static int known_tids(void)
{
	int n = __atomic_load_n(&ntids, __ATOMIC_RELAXED);
	return n < MAXTHREAD ? n : MAXTHREAD;
}

/* A signal the fuzzer may send itself: handled or ignored by default. */
static int signal_to_self(uint64_t *s)
{
	static const int ok[] = { 0, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, SIGURG, SIGWINCH, SIGCONT, SIGHUP,
				  SIGINT, SIGTERM, SIGPIPE, SIGVTALRM, SIGPROF, SIGTSTP, SIGTTIN, SIGTTOU,
				  35, 40, 64, 65, -1 };	/* not 32-34: musl's own */
	return ok[pick(s, sizeof ok / sizeof ok[0])];
}

/* A signal mask for a wait that the tick must still end: without SIGALRM,
 * NULL or a bad pointer.  pselect6 takes it inside a {mask, size} pair. */
static uint64_t waitmask(uint64_t *s, int pair)
{
	uint64_t *m = (uint64_t *)(scratch + 65536 + 3840);
	m[0] = next(s) & ~(1ull << (SIGALRM - 1));
	m[1] = (uint64_t)m;
	m[2] = pick(s, 4) ? 8 : num(s);
	uint64_t k = pick(s, 4);
	return k == 0 ? 0 : k == 1 ? 0xffff800000000000ull : pair ? (uint64_t)(m + 1) : (uint64_t)m;
}

/* An argument of the kind the signature letter names. */
static uint64_t arg_of(uint64_t *s, char c)
{
	switch (c) {
	case 'f': return fd(s);
	case 'p': return ptr(s);
	case 's': return path(s);
	case 'l': return len(s);
	case 'P': return pid(s);
	case 'S': return (uint64_t)(int64_t)signal_to_self(s);
	case 't': return timespec(s);
	case 'T': return pick(s, 4) ? pick(s, 6) : (uint64_t)-1;	/* a wait in ms, or forever */
	case 'a': return sockaddr(s);
	case 'z': { static const uint64_t z[] = { 16, 28, 0, 1, 110, 128, 0xffffffff }; return z[pick(s, 7)]; }
	case 'v': return iovecs(s, 0);
	case 'H': return iovecs(s, 1);
	case 'm': return pick(s, 2) ? pick(s, 0x1000) : next(s) & 0xfffff;	/* flags, modes */
	case 'W': return pick(s, 2) ? 1 /* WNOHANG */ : next(s) & 0xf;
	case 'D': { static const uint64_t d[] = { 2, 10, 1, 16, 17, 0, 99 }; return d[pick(s, 7)]; }
	case 'Y': return (pick(s, 3) + 1) | (pick(s, 2) ? 04000 : 0) | (pick(s, 2) ? 02000000 : 0);
	case 'k': return pick(s, 2) ? pick(s, 8) : num(s);
	case 'K': return pick(s, 2) ? 0 : 0x46555a00 + pick(s, 4);	/* IPC_PRIVATE or a key */
	case 'M': return waitmask(s, 0);
	case 'X': return waitmask(s, 1);
	case 'E': {
		int32_t *e = (int32_t *)(scratch + 65536 + 2048);
		memset(e, 0, 64);
		e[2] = signal_to_self(s);
		e[3] = (int32_t)pick(s, 5);	/* notify: signal, none, thread, thread id, bad */
		e[4] = known_tids() ? tids[pick(s, (uint64_t)known_tids())] : 0;
		return pick(s, 5) ? (uint64_t)e : ptr(s);
	}
	default: return num(s);
	}
}

struct call { uint16_t nr; const char *sig; };
static const struct call table[] = {
	{ 0, "fpl" }, { 1, "fpl" }, { 2, "smm" }, { 3, "f" }, { 4, "sp" }, { 5, "fp" }, { 6, "sp" },
	{ 7, "plT" }, { 8, "fnn" }, { 16, "fnp" }, { 17, "fpln" }, { 18, "fpln" }, { 19, "fvl" },
	{ 20, "fvl" }, { 21, "sm" }, { 23, "lpppt" }, { 24, "" }, { 32, "f" }, { 33, "fk" },
	{ 34, "" }, { 35, "tp" }, { 36, "np" }, { 39, "" }, { 40, "ffpl" }, { 41, "DYk" },
	{ 42, "faz" }, { 43, "fpp" }, { 44, "fplmaz" }, { 45, "fplmpp" }, { 46, "fHm" },
	{ 47, "fHm" }, { 48, "fk" }, { 49, "faz" }, { 50, "fn" }, { 51, "fpp" }, { 52, "fpp" },
	{ 54, "fkkpl" }, { 55, "fkkpp" }, { 61, "PpWp" }, { 63, "p" }, { 64, "Kkm" }, { 65, "kpl" },
	{ 66, "kkkp" }, { 68, "Km" }, { 69, "kplm" }, { 70, "kplnm" }, { 71, "kkp" }, { 29, "Klm" },
	{ 31, "kkp" }, { 72, "fkn" }, { 72, "fkp" }, { 73, "fk" }, { 74, "f" }, { 75, "f" },
	{ 76, "sn" }, { 77, "fn" }, { 79, "pl" }, { 82, "ss" }, { 83, "sm" }, { 84, "s" },
	{ 85, "sm" }, { 86, "ss" }, { 87, "s" }, { 88, "ss" }, { 89, "spl" }, { 90, "sm" },
	{ 91, "fm" }, { 92, "snn" }, { 93, "fnn" }, { 94, "snn" }, { 95, "m" }, { 96, "pp" },
	{ 97, "kp" }, { 98, "np" }, { 99, "p" }, { 100, "p" }, { 102, "" }, { 104, "" },
	{ 109, "PP" }, { 110, "" }, { 111, "" }, { 112, "" }, { 121, "P" }, { 124, "P" },
	{ 127, "pn" }, { 128, "pptn" }, { 131, "pp" }, { 133, "smn" }, { 137, "sp" }, { 138, "fp" },
	{ 157, "nppnn" }, { 160, "kp" }, { 186, "" }, { 201, "p" }, { 203, "Plp" }, { 204, "Plp" },
	{ 213, "n" }, { 217, "fpl" }, { 218, "p" }, { 222, "kEp" }, { 223, "kmtp" }, { 224, "kp" },
	{ 225, "k" }, { 226, "k" }, { 228, "kp" }, { 229, "kp" }, { 230, "kmtp" }, { 232, "fplT" },
	{ 233, "fkfp" }, { 247, "kPpW" }, { 257, "fsmm" }, { 258, "fsm" }, { 259, "fsmn" },
	{ 260, "fsnnm" }, { 262, "fspm" }, { 263, "fsm" }, { 264, "fsfs" }, { 265, "fsfsm" },
	{ 266, "sfs" }, { 267, "fspl" }, { 268, "fsm" }, { 269, "fsm" }, { 270, "lppptX" },
	{ 271, "pltMn" }, { 273, "pl" }, { 274, "Ppp" }, { 280, "fspm" }, { 281, "fplTMn" },
	{ 284, "n" }, { 290, "nm" }, { 291, "m" }, { 292, "fkm" }, { 295, "fvln" }, { 296, "fvln" },
	{ 302, "Pkpp" }, { 316, "fsfsm" }, { 318, "plm" }, { 332, "fsmmp" }, { 439, "fsmm" },
	{ 101, "nnnn" }, { 335, "nnn" }, { 511, "nn" }, { 1000, "n" },
};
#define NCALLS (sizeof table / sizeof table[0])

/* Descriptors, System V ids and timers a call made are remembered. */
static void note_result(uint16_t nr, int64_t r, uint64_t *s)
{
	static const uint16_t makes_fd[] = { 2, 32, 33, 41, 43, 85, 213, 257, 284, 288, 290, 291, 292 };
	for (unsigned i = 0; i < sizeof makes_fd / sizeof makes_fd[0]; i++)
		if (nr == makes_fd[i] && r >= 0 && r < 65536) {
			if (nfds == MAXFD) {
				int k = (int)pick(s, MAXFD);
				close(fds[k]);
				fds[k] = (int)r;
			} else
				fds[nfds++] = (int)r;
		}
	int n;
	if (r >= 0 && (nr == 29 || nr == 64 || nr == 68)) {
		int k = nr == 29 ? 0 : nr == 64 ? 1 : 2;
		n = 0;
		while (n < 8 && ipc_ids[k][n] >= 0)
			n++;
		if (n < 8)
			ipc_ids[k][n] = (int)r;
	}
}

static void *thread_body(void *seed);
static void arm_tick(void);
static void set_tick(void);
static uint64_t skip_special;
static int verbose;			/* LXFUZZ_VERBOSE: the supervisor's steps on stderr */
static uint64_t table_lo, table_n = NCALLS;	/* LXFUZZ_TABLE=LO:N: only those entries */		/* LXFUZZ_SKIP: a mask of the tamed calls to leave out */

static void add_fd(int f)
{
	if (nfds < MAXFD)
		fds[nfds++] = f;
}

/* The calls that need taming, and those that make things: fork, threads,
 * signals, memory, kills.  Returns the result, or 1 when it made no call. */
static int64_t special(uint64_t *s, int in_thread, uint64_t k)
{
	sigset_t set;
	int64_t r;
	switch (k) {
	case 0: {			/* fork: the child makes a few calls and ends */
		if (nkids >= MAXKID || in_thread)
			return 1;
		pid_t c = fork();
		if (c == 0) {
			is_child = 1;
			nkids = 0;
			self_pid = getpid();
			calls = 0;
			arm_tick();		/* a child has no interval timer */
			return 0;
		}
		if (c > 0)
			kids[nkids++] = c;
		return c;
	}
	case 1: {			/* a thread */
		if (nthreads >= MAXTHREAD || in_thread || is_child)
			return 1;
		pthread_t t;
		static uint64_t seeds[MAXTHREAD];
		seeds[nthreads] = next(s) | 1;
		int r = pthread_create(&t, 0, thread_body, &seeds[nthreads]);
		nthreads += r == 0;
		if (r == 0)
			pthread_detach(t);
		return r ? -r : 0;
	}
	case 2: case 3: {		/* a signal to itself, its group or a child */
		int sig = signal_to_self(s);
		uint64_t who = pick(s, 4);
		if (who == 0 && nkids)		/* a child may get anything */
			return syscall(SYS_kill, kids[pick(s, (uint64_t)nkids)], pick(s, 65));
		return syscall(SYS_kill, who == 1 ? 0 : who == 2 ? -self_pid : self_pid, sig);
	}
	case 4:				/* to a thread of its own */
		return syscall(SYS_tgkill, pick(s, 4) ? self_pid : pid(s),
			       known_tids() ? tids[pick(s, (uint64_t)known_tids())] : (int)num(s), signal_to_self(s));
	case 5:				/* a thread of its own, or no thread (tkill reaches any process's) */
		return syscall(SYS_tkill, known_tids() && pick(s, 4) ? tids[pick(s, (uint64_t)known_tids())] : (int)(0x7fff0000 + pick(s, 65536)),
			       signal_to_self(s));
	case 6: {			/* a handler, ignored, or a bad pointer */
		int sig = 1 + (int)pick(s, 64);
		if (fatal_to_self(sig) || sig == SIGALRM)
			return 1;
		if (!pick(s, 4))
			return syscall(SYS_rt_sigaction, sig, pick(s, 2) ? 0 : 0xffff800000000000ull, ptr(s),
				       pick(s, 4) ? 8 : num(s));
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = pick(s, 3) ? on_signal : SIG_IGN;
		sa.sa_flags = (int)(next(s) & (SA_RESTART | SA_SIGINFO | SA_NODEFER | SA_NOCLDSTOP | SA_NOCLDWAIT));
		memcpy(&sa.sa_mask, &(uint64_t){ next(s) }, 8);
		return sigaction(sig, &sa, 0);
	}
	case 7: {			/* a mask; the main thread never blocks SIGALRM, threads always do */
		uint64_t m = next(s), how = pick(s, 4);
		m = in_thread ? (how == 1 ? m & ~(1ull << (SIGALRM - 1)) : m | (1ull << (SIGALRM - 1)))
			      : m & ~(1ull << (SIGALRM - 1));
		*(uint64_t *)(scratch + 65536 + 2560) = m;
		return syscall(SYS_rt_sigprocmask, how, pick(s, 8) ? (uint64_t)scratch + 65536 + 2560 : 0xffff800000000000ull,
			       pick(s, 2) ? ptr(s) : 0, pick(s, 8) ? 8 : num(s));
	}
	case 8:				/* wait for a signal: the tick ends it */
		if (in_thread)
			return 1;
		sigemptyset(&set);
		return syscall(SYS_rt_sigsuspend, pick(s, 6) ? (uint64_t)&set : 0xffff800000000000ull, 8);
	case 9: {			/* memory: only the arena moves */
		static const int prot[] = { 0, 1, 3, 5, 7, 2 };
		uint64_t at = (uint64_t)arena + 4096 * pick(s, ARENA_PAGES), n = 4096 * (1 + pick(s, 8));
		if (at + n > (uint64_t)arena + ARENA_PAGES * 4096)
			n = (uint64_t)arena + ARENA_PAGES * 4096 - at;
		if (pick(s, 8) == 0) {
			/* or the library OS's own memory, which must refuse
			 * (EPERM): its code and data in the image, the shared
			 * segment, its heap, the memory tables' window */
			const uint64_t sealed[] = { (uint64_t)&special & ~4095ull, (uint64_t)&calls & ~4095ull,
						    0x7d0000000000ull, 0x7e0000000000ull, 0x7ffa00000000ull };
			uint64_t i = pick(s, 5);
			at = i < 2 ? sealed[i] - 4096 * pick(s, 4) : sealed[i] + 4096 * pick(s, 4);
		}
		uint64_t flags = pick(s, 2) ? 0x22 : 0x21;	/* private or shared, anonymous */
		int64_t f = pick(s, 3) ? -1 : (int64_t)fd(s);
		if (f >= 0)
			flags &= ~0x20ull;
		switch (pick(s, 6)) {
		case 0: return syscall(SYS_mmap, at, n, prot[pick(s, 6)], flags | 0x10 /* FIXED */, f, pick(s, 4) ? 0 : num(s));
		case 1: return syscall(SYS_mmap, pick(s, 2) ? 0 : at, len(s), prot[pick(s, 6)], pick(s, 3) ? flags : next(s) & ~0x100010ull, f, num(s) & ~4095ull);
		case 2: return syscall(SYS_munmap, pick(s, 6) ? at : ptr(s) | 0x8000000000000000ull, n);
		case 3: return syscall(SYS_mprotect, at, n, pick(s, 6) ? prot[pick(s, 6)] : (int)num(s));
		case 4: return syscall(SYS_madvise, at, n, pick(s, 24));
		default: {
			int64_t b = syscall(SYS_brk, 0);
			return syscall(SYS_brk, pick(s, 4) ? b + 4096 * ((int64_t)pick(s, 16) - 4) : (int64_t)num(s));
		}
		}
	}
	case 10:			/* System V shared memory in the arena */
		if (pick(s, 2))
			return syscall(SYS_shmat, arg_of(s, 'k'), pick(s, 2) ? 0 : (uint64_t)arena + 4096 * pick(s, ARENA_PAGES),
				       pick(s, 2) ? 0 : 010000 /* RDONLY */);
		return syscall(SYS_shmdt, pick(s, 2) ? (uint64_t)arena + 4096 * pick(s, ARENA_PAGES) : ptr(s) | 0x8000000000000000ull);
	case 11:			/* the interval timers other than the tick's */
		return syscall(SYS_setitimer, 1 + pick(s, 3) % 3, timespec(s), pick(s, 2) ? ptr(s) : 0);
	case 12:			/* alarm shares the tick's timer: re-armed at once, from a
					 * thread too (its alarm(0) left the main thread's waits
					 * without a tick: the batch stuck) */
		r = syscall(SYS_alarm, pick(s, 2) ? 0 : 1);
		if (in_thread)
			set_tick();
		else
			arm_tick();
		return r;
	case 13:			/* a timer made here, kept to be armed and deleted */
		r = syscall(SYS_timer_create, pick(s, 3), arg_of(s, 'E'), (uint64_t)scratch + 65536 + 3072);
		if (r == 0)
			timer_ids[pick(s, 8)] = *(int *)(scratch + 65536 + 3072);
		return r;
	case 14:
		return syscall(SYS_timer_settime, timer_ids[pick(s, 8)], pick(s, 2), timespec(s), ptr(s));
	case 15:			/* a path in the directory, or a bad one */
		return syscall(SYS_chdir, pick(s, 3) ? (uint64_t)(pick(s, 2) ? "d" : "/tmp/fz") : ptr(s));
	case 16:			/* execve of what is no program */
		return syscall(SYS_execve, pick(s, 2) ? (uint64_t)(pick(s, 2) ? "nonexistent" : "d") : ptr(s) | 0x8000000000000000ull,
			       pick(s, 2) ? 0 : ptr(s), pick(s, 2) ? 0 : ptr(s));
	case 17:			/* the clock: read, or set from a bad pointer */
		return syscall(pick(s, 2) ? SYS_clock_settime : SYS_settimeofday,
			       pick(s, 2) ? 0 : 0xffff800000000000ull, 0xffff800000000000ull + pick(s, 4096));
	case 18:			/* arch_prctl: never ARCH_SET_FS, which would lose the TLS */
		return syscall(SYS_arch_prctl, pick(s, 2) ? 0x1003 : 0x1001 + 0x1000 * pick(s, 3) + 2 * pick(s, 2), ptr(s));
	case 19:			/* pipes and socket pairs, into the scratch or not */
		r = syscall(pick(s, 2) ? SYS_pipe2 : SYS_pipe, pick(s, 4) ? (uint64_t)scratch + 65536 + 3584 : ptr(s),
			    pick(s, 2) ? 0 : next(s) & 0x84800);
		break;
	case 20:
		return syscall(SYS_futex, pick(s, 4) ? (uint64_t)scratch + 4 * pick(s, 16) : ptr(s),
			       pick(s, 3) ? pick(s, 14) | (pick(s, 2) ? 128 : 0) : num(s), pick(s, 2) ? 0 : num(s),
			       pick(s, 3) ? timespec(s) : 0, (uint64_t)scratch + 4 * pick(s, 16), num(s));
	default:			/* socketpair */
		r = syscall(SYS_socketpair, arg_of(s, 'D'), arg_of(s, 'Y'), pick(s, 2) ? 0 : num(s),
			    pick(s, 4) ? (uint64_t)scratch + 65536 + 3584 : ptr(s));
		break;
	}
	if (r == 0) {			/* a pair: remember both ends */
		add_fd(((int *)(scratch + 65536 + 3584))[0]);
		add_fd(((int *)(scratch + 65536 + 3584))[1]);
		memset(scratch + 65536 + 3584, 0xff, 8);
	}
	return r;
}

/* One random call. */
static void one_call(uint64_t *s, int in_thread)
{
	uint64_t a[6] = { 0 };
	uint16_t nr;
	int64_t r;
	if (pick(s, 5) == 0) {
		uint64_t k = pick(s, 22);
		if (skip_special >> k & 1)
			return;
		if (!in_thread && !is_child)
			trace->nr = 1000000 + k, trace->n = calls;
		r = special(s, in_thread, k);
		nr = 0xffff;
	} else {
		const struct call *c = &table[table_lo + pick(s, table_n)];
		for (int i = 0; c->sig[i]; i++)
			a[i] = arg_of(s, c->sig[i]);
		nr = c->nr;
		if (!in_thread && !is_child) {
			trace->nr = nr;
			for (int i = 0; i < 6; i++)
				trace->a[i] = a[i];
			trace->n = calls;
		}
		r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
	if (r < 0)
		r = -errno;
	note_result(nr, r, s);
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
}

static void *thread_body(void *arg)
{
	uint64_t s = *(uint64_t *)arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, 0);
	pid_t me = (pid_t)syscall(SYS_gettid);
	int k = __atomic_fetch_add(&ntids, 1, __ATOMIC_RELAXED);
	if (k < MAXTHREAD)
		tids[k] = me;
	while (!stop_threads)
		one_call(&s, 1);
	return 0;
}

/* The tick's timer, 5 ms at a 5 ms interval. */
static void set_tick(void)
{
	struct itimerval it = { { 0, 5000 }, { 0, 5000 } };
	setitimer(ITIMER_REAL, &it, 0);
}

/* The 5 ms tick that cuts blocking calls short (SIGALRM, no SA_RESTART). */
static void arm_tick(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGALRM, &sa, 0);
	set_tick();
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

/* Ends the batch: children killed and reaped, System V objects removed. */
static _Noreturn void end_batch(int status)
{
	stop_threads = 1;
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	for (int i = 0; i < nkids; i++)
		waitpid(kids[i], 0, 0);
	for (int i = 0; i < 8; i++) {
		if (ipc_ids[0][i] >= 0)
			syscall(SYS_shmctl, ipc_ids[0][i], 0 /* IPC_RMID */, 0);
		if (ipc_ids[1][i] >= 0)
			syscall(SYS_semctl, ipc_ids[1][i], 0, 0, 0);
		if (ipc_ids[2][i] >= 0)
			syscall(SYS_msgctl, ipc_ids[2][i], 0, 0);
	}
	_exit(status);
}

/* One batch in this (fresh) process: its own session and directory. */
static _Noreturn void fuzz_batch(uint64_t seed)
{
	uint64_t s = seed | 1;
	setsid();
	self_pid = getpid();
	memset(ipc_ids, 0xff, sizeof ipc_ids);
	for (int i = 3; i < 64; i++)		/* the supervisor's pipes are not its to touch */
		close(i);
	int null = open("/dev/null", O_RDWR);
	if (null < 0 && mknod("/dev/null", S_IFCHR | 0666, makedev(1, 3)) == 0)
		null = open("/dev/null", O_RDWR);	/* an earlier batch removed it */
	for (int i = 0; i < 3; i++) {		/* never the supervisor's console */
		if (null >= 0)
			dup2(null, i);
		else
			close(i);
	}
	if (null > 2)
		close(null);
	if (chdir("/tmp/fz"))
		_exit(2);
	arena = mmap(0, ARENA_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	scratch = mmap(0, SCRATCH_SIZE + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED || scratch == MAP_FAILED || munmap(scratch + SCRATCH_SIZE, 4096))
		_exit(2);
	/* every signal it may send itself is handled: none ends it */
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	for (int sig = 1; sig < 65; sig++)
		if (!fatal_to_self(sig))
			sigaction(sig, &sa, 0);
	/* something to work on: files, a directory, a link, a FIFO */
	fds[nfds++] = open("a", O_RDWR | O_CREAT, 0644);
	mkdir("d", 0755);
	symlink("a", "l");
	mkfifo("p", 0644);
	fds[nfds++] = open("d", O_RDONLY | O_DIRECTORY);
	for (uint64_t i = 0;; i++) {
		if (i % 32 == 0) {
			if (!is_child)
				trace->nr = 2000000;	/* the trace names the fuzzer's own calls too */
			arm_tick();
		}
		one_call(&s, 0);
		if (is_child && calls >= CHILD_CALLS)
			_exit(0);
		if (calls >= BATCH)
			end_batch(0);
		if (i % 16 == 0 && !is_child)
			trace->nr = 2000001;
		if (i % 16 == 0)
			while (nkids && waitpid(-1, 0, WNOHANG) > 0)
				;		/* kids[] keeps their pids: a kill then gets ESRCH */
	}
}

/* The bystander: answers each byte with the byte plus one while a
 * checksum of its memory stays what it was (else with 0). */
static _Noreturn void bystander(int in, int out)
{
	static uint64_t mem[8192];
	uint64_t s = 0x1234567, h = 0, want = 0;
	for (int i = 0; i < 8192; i++)
		mem[i] = next(&s), want = (want ^ mem[i]) * 1099511628211ull;
	uint8_t b;
	while (read(in, &b, 1) == 1) {
		h = 0;
		for (int i = 0; i < 8192; i++)
			h = (h ^ mem[i]) * 1099511628211ull;
		b = h == want ? (uint8_t)(b + 1) : 0;
		if (write(out, &b, 1) != 1)
			break;
	}
	_exit(0);
}

static uint8_t keep_data[12288];

/* The shared file system's part the fuzzer must not change. */
static int keep_intact(void)
{
	static uint8_t buf[sizeof keep_data + 1];
	int f = open("/tmp/keep/data", O_RDONLY);
	if (f < 0)
		return 0;
	ssize_t n = read(f, buf, sizeof buf);
	close(f);
	struct stat st;
	return n == (ssize_t)sizeof keep_data && memcmp(buf, keep_data, sizeof keep_data) == 0 &&
	       stat("/tmp/keep/sub", &st) == 0 && S_ISDIR(st.st_mode) && access("/tmp/keep/sub/x", F_OK) == 0;
}

/* Removes what a batch left in a directory (it may have made anything). */
static void wipe(const char *dir, int depth)
{
	static const char *const names[] = { "a", "b", "d", "l", "p", "e", "f", "x" };
	char p[256];
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, names[i]);
		chmod(p, 0755);
		if (unlink(p) && depth < 3) {
			wipe(p, depth + 1);
			rmdir(p);
		}
	}
}

/* A signal that reached the supervisor: the fuzzer's damage went outside. */
static volatile int stray_sig, stray_pid, stray_code;
static void on_stray(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGCHLD)
		return;
	stray_sig = sig;
	stray_pid = si->si_pid;
	stray_code = si->si_code;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Runs one batch; 0 when it ended by itself, 1 when it made no call for
 * STUCK_S seconds and was killed (a wait nothing ended), else the signal it
 * died of (negative: some other status). */
/* A stuck batch's signal state (/proc/PID/status: SigBlk is what every
 * thread blocks), to stderr: whether its tick could still reach it. */
static void show_signals(pid_t c)
{
	char p[64], line[128];
	snprintf(p, sizeof p, "/proc/%d/status", (int)c);
	FILE *f = fopen(p, "r");
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "Sig", 3) || !strncmp(line, "State", 5))
			fprintf(stderr, "lxfuzz: stuck %s", line);
	if (f)
		fclose(f);
	if (trace->a[0] < 1024) {	/* what its first argument names, when a descriptor */
		char fdp[64], to[128];
		snprintf(fdp, sizeof fdp, "/proc/%d/fd/%d", (int)c, (int)trace->a[0]);
		ssize_t n = readlink(fdp, to, sizeof to - 1);
		fprintf(stderr, "lxfuzz: stuck fd %d is %s\n", (int)trace->a[0], n > 0 ? (to[n] = 0, to) : "?");
	}
}

static uint64_t stuck_ticks;		/* ticks the stuck batch handled in the second before its kill */
static int run_batch(uint64_t seed)
{
	pid_t c = fork();
	if (c == 0)
		fuzz_batch(seed);
	if (c < 0)
		return -1000;
	double t0 = now_s();
	uint64_t seen = 0;
	int st;
	trace->n = 0;
	for (;;) {
		pid_t w = waitpid(c, &st, WNOHANG);
		if (w == c)
			break;
		if (trace->n != seen) {
			seen = trace->n;
			t0 = now_s();
		} else if (now_s() - t0 > STUCK_S) {
			uint64_t k0 = trace->ticks, s0[65];	/* does the tick still reach it? */
			for (int i = 0; i < 65; i++)
				s0[i] = trace->sigs[i];
			usleep(1000000);
			stuck_ticks = trace->ticks - k0;
			if (verbose)
				for (int i = 0; i < 65; i++)
					if (trace->sigs[i] != s0[i])
						fprintf(stderr, "lxfuzz: stuck batch handled signal %d %llu times in 1 s\n", i,
							(unsigned long long)(trace->sigs[i] - s0[i]));
			if (trace->n != seen)
				continue;	/* it went on after all */
			show_signals(c);
			if (verbose)
				fprintf(stderr, "lxfuzz: batch stuck at call %llu (%llu: %llx %llx %llx %llx %llx %llx): killing it\n",
					(unsigned long long)seen, (unsigned long long)trace->nr,
					(unsigned long long)trace->a[0], (unsigned long long)trace->a[1],
					(unsigned long long)trace->a[2], (unsigned long long)trace->a[3],
					(unsigned long long)trace->a[4], (unsigned long long)trace->a[5]);
			kill(c, SIGKILL);
			waitpid(c, &st, 0);
			if (verbose)
				fprintf(stderr, "lxfuzz: stuck batch reaped\n");
			return 1;
		}
		usleep(20000);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st) == 0 ? 0 : -WEXITSTATUS(st);
	return WIFSIGNALED(st) ? WTERMSIG(st) : -999;
}

/* Reaps what ended of the batches' own children: a batch's children go
 * to the first process, us, when it ends, and left unreaped they filled
 * the process table (11 zombies of 64 entries after 59 batches).  The
 * bystander is among our children too: its status, if it ended, goes to
 * *by_status. */
static uint64_t orphans_reaped;
static void reap_orphans(pid_t by, int *by_status)
{
	int st;
	pid_t w;
	while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
		if (w == by)
			*by_status = st;
		else
			orphans_reaped++;
	}
}

/* Sends b to the bystander and reads its answer into *got, within 10 s:
 * NULL, or the step that failed (errno says why).  A signal to us
 * meanwhile (SIGCHLD from a batch's orphan ending: we are its parent now)
 * ends poll with EINTR whatever SA_RESTART says, as on Linux: the step
 * is tried again, in the time left. */
static const char *ask_bystander(int to, int from, uint8_t b, uint8_t *got)
{
	ssize_t n;
	while ((n = write(to, &b, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		return "write";
	double t0 = now_s();
	for (;;) {
		struct pollfd p = { .fd = from, .events = POLLIN };
		int left = 10000 - (int)((now_s() - t0) * 1000), r = poll(&p, 1, left > 0 ? left : 0);
		if (r == 1)
			break;
		if (r == 0 || errno != EINTR || left <= 0) {
			if (r == 0)
				errno = ETIMEDOUT;
			return "poll";
		}
	}
	while ((n = read(from, got, 1)) < 0 && errno == EINTR)
		;
	return n == 1 ? 0 : "read";
}

int main(int argc, char **argv)
{
	uint64_t target = argc > 1 ? strtoull(argv[1], 0, 10) : 100000, seed = argc > 2 ? strtoull(argv[2], 0, 0) : 0x9e3779b97f4a7c15ull;
	setvbuf(stdout, 0, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_stray;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	for (int sig = 1; sig < 32; sig++)
		if (!fatal_to_self(sig))
			sigaction(sig, &sa, 0);
	verbose = getenv("LXFUZZ_VERBOSE") != 0;
	if (getenv("LXFUZZ_TABLE"))
		sscanf(getenv("LXFUZZ_TABLE"), "%llu:%llu", (unsigned long long *)&table_lo, (unsigned long long *)&table_n);
	if (getenv("LXFUZZ_SKIP"))
		skip_special = strtoull(getenv("LXFUZZ_SKIP"), 0, 0);
	/* LXFUZZ_FIRST=N: start at batch N of the seed's sequence (to replay one) */
	for (uint64_t i = 1, first = getenv("LXFUZZ_FIRST") ? strtoull(getenv("LXFUZZ_FIRST"), 0, 10) : 1; i < first; i++)
		next(&seed);
	/* the bystander and the shared file system's part to keep */
	int to[2], from[2];
	EXPECT("setup-pipes", pipe(to) == 0 && pipe(from) == 0);
	pid_t by = fork();
	if (by == 0) {
		close(to[1]);
		close(from[0]);
		bystander(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	uint64_t s = 42;
	for (unsigned i = 0; i < sizeof keep_data; i++)
		keep_data[i] = (uint8_t)next(&s);
	mkdir("/tmp", 0777);
	mkdir("/tmp/keep", 0755);
	mkdir("/tmp/keep/sub", 0755);
	int f = open("/tmp/keep/data", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	EXPECT("setup-keep", f >= 0 && write(f, keep_data, sizeof keep_data) == (ssize_t)sizeof keep_data &&
	       close(f) == 0 && close(open("/tmp/keep/sub/x", O_WRONLY | O_CREAT, 0644)) == 0);

	uint64_t total = 0, batches = 0, stalls = 0, deaths = 0, strays = 0;
	int tid = shmget(0, 4096, 0600);
	trace = tid >= 0 ? shmat(tid, 0, 0) : (void *)-1;
	EXPECT("setup-trace", trace != (void *)-1 && shmctl(tid, IPC_RMID, 0) == 0);
	int bystander_ok = 1, keep_ok = 1, by_status = -1;	/* -1: not ended */
	double t0 = now_s();
	while (total < target && bystander_ok && keep_ok) {
		mkdir("/tmp/fz", 0755);
		int r = run_batch(next(&seed));
		batches++;
		if (r == 0)
			total += BATCH;
		else if (r == 1) {
			stalls++;
			total += trace->n;	/* the calls it made before it stuck */
		}
		else {
			deaths++;
			printf("FAIL batch-%llu-ended-by-itself: status %s %d (seed 0x%llx)\n", (unsigned long long)batches,
			       r > 0 ? "signal" : "exit", r > 0 ? r : -r, (unsigned long long)seed);
			if (deaths > 20)
				break;
		}
		if (r)
			fprintf(stderr, "lxfuzz: batch %llu: status %d after %llu calls; last call %llu (%llx %llx %llx %llx %llx %llx); "
				"%llu ticks in its last second\n",
				(unsigned long long)batches, r, (unsigned long long)trace->n, (unsigned long long)trace->nr,
				(unsigned long long)trace->a[0], (unsigned long long)trace->a[1], (unsigned long long)trace->a[2],
				(unsigned long long)trace->a[3], (unsigned long long)trace->a[4], (unsigned long long)trace->a[5],
				(unsigned long long)(r == 1 ? stuck_ticks : 0));
		reap_orphans(by, &by_status);
		if (verbose)
			fprintf(stderr, "lxfuzz: wiping\n");
		wipe("/tmp/fz", 0);
		if (verbose)
			fprintf(stderr, "lxfuzz: asking the bystander\n");
		/* the bystander answers, within 10 s */
		uint8_t b = (uint8_t)batches, got = 0;
		const char *step = ask_bystander(to[1], from[0], b, &got);
		bystander_ok = !step && got == (uint8_t)(b + 1);
		if (!bystander_ok) {
			if (by_status < 0 && waitpid(by, &by_status, WNOHANG) != by)
				by_status = -1;
			printf("FAIL bystander-after-batch-%llu: answered %d to %d (%s%s%s); %s %d\n", (unsigned long long)batches,
			       got, b, step ? step : "a wrong answer", step ? ": " : "", step ? strerror(errno) : "",
			       by_status >= 0 ? "it ended with status" : "it is alive", by_status >= 0 ? by_status : 0);
		}
		keep_ok = keep_intact();
		if (stray_sig) {
			printf("FAIL supervisor-untouched: signal %d from pid %d, code %d, during batch %llu\n", stray_sig,
			       stray_pid, stray_code, (unsigned long long)batches);
			strays++;
			stray_sig = 0;
		}
		if (batches % 20 == 0 || verbose)
			fprintf(stderr, "lxfuzz: %llu calls in %llu batches, %.0f s\n", (unsigned long long)total,
				(unsigned long long)batches, now_s() - t0);
	}
	double dt = now_s() - t0;
	printf("info lxfuzz: %llu calls in %llu batches of %d in %.1f s (%.0f calls/s); %llu stuck batches killed, %llu died; "
	       "%llu of their children reaped\n",
	       (unsigned long long)total, (unsigned long long)batches, BATCH, dt, dt > 0 ? total / dt : 0.0,
	       (unsigned long long)stalls, (unsigned long long)deaths, (unsigned long long)orphans_reaped);
	EXPECT("calls-made", total >= target);
	EXPECT("no-batch-died", deaths == 0);
	/* stuck batches (a blocking call the tick did not end) are counted in
	 * the info line, not failed: an open finding (docs/LIBOS.md) */
	EXPECT("bystander-answers-with-its-memory-intact", bystander_ok);
	EXPECT("no-signal-reached-the-supervisor", strays == 0);
	EXPECT("shared-files-intact", keep_ok);
	close(to[1]);
	if (by_status < 0)
		waitpid(by, 0, 0);
	reap_orphans(by, &by_status);
	return failures ? 1 : 0;
}
