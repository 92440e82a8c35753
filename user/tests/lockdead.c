/*
 * A process that dies holding the library OS's lock (libos/lock.c) must
 * not wedge the machine: children take the lock, as a handler does, and
 * end their env through the kernel without giving it back (as a kernel
 * kill would end them).  The parent and a bystander must go on making
 * calls that take the lock, and the parent must reap each child with the
 * status its env ended with (tests/suites/26-fuzz-syscalls.sh).  And a
 * process that dies so in the middle of a fork, a vfork or a posix_spawn
 * must not leave the child it was making behind: die_at_points ends one
 * at each step of them (include/exo/diepoint.h) and checks that the
 * victim's parent reaps it, the copy of the descriptors made for its
 * child closes, that child is ended or lives on whole, no entry and no
 * page of budget stays taken and no orphan dies of a fault.  Run with the
 * program at /bin/lockdead (it spawns itself); "points K..." runs only
 * the points named.  die_forking ("forking", by hand, two CPUs) is the
 * older test by a racing killer thread: it lands where it happens to,
 * and on one idle CPU never inside a fork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <exo/diepoint.h>
#include <exo/native.h>

#include "check.h"

void lo_lock(void);		/* the library OS's, linked in with it */

#define CHILDREN 3
#define SELF "/bin/lockdead"	/* where the suite puts this program */

/* Seconds since an arbitrary start, for the time limits. */
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A child: takes the lock (twice: a handler's recursive hold), then its
 * env ends in the kernel with SIGKILL's status, the lock still held. */
static _Noreturn void die_holding(void)
{
	lo_lock();
	lo_lock();
	exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, SIGKILL);
	for (;;)
		;
}

/* Words of the shared segment's header (libos/proc.h, struct sh_header),
 * read without the lock as a debugger would: its magic, the lock's
 * holder and the count of process-table entries in use. */
#define SEG_MAGIC (*(volatile uint64_t *)0x7d0000000000ull)
#define SEG_LOCK_OWNER (*(volatile uint64_t *)0x7d0000000018ull)
#define SEG_NPROCS (*(volatile uint32_t *)0x7d0000000034ull)

static volatile int in_fork;
static volatile uint32_t nprocs_before;

/* The killer thread: waits until the main thread holds the lock inside a
 * fork that has made the child's entry, then ends the env.  It writes no
 * memory meanwhile: the fork makes our pages copy-on-write, and a write
 * would wait in the fault handler for the fork's end. */
static void *kill_in_fork(void *arg)
{
	uint64_t me = (uint64_t)(uintptr_t)arg;
	while (!(in_fork && SEG_LOCK_OWNER == me && SEG_NPROCS > nprocs_before))
		__asm__ volatile("pause");
	exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, SIGKILL);
	for (;;)
		;
}

/* A child that forks (children that exit at once) until its killer
 * thread ends it in the middle of one, holding the write end of a pipe. */
static _Noreturn void fork_until_killed(void)
{
	pthread_t t;
	if (pthread_create(&t, 0, kill_in_fork, (void *)(uintptr_t)getpid()))
		_exit(3);
	for (double t0 = now(); now() - t0 < 30.0;) {
		nprocs_before = SEG_NPROCS;
		in_fork = 1;
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		in_fork = 0;
		if (c < 0 || waitpid(c, 0, 0) != c)
			_exit(4);
	}
	_exit(5);			/* never killed: the segment's layout changed? */
}

/* One round: a child dies forking; 1 when the pipe it held reached EOF
 * (no copy of its write end left) and its half-made child was ended
 * (reaped by us, the first process, with SIGKILL's status), 0 when the
 * kill came after that child started (it exits by itself then), -1 when
 * something stayed behind. */
static int die_forking_round(void)
{
	int p[2];
	if (pipe(p))
		return -1;
	fflush(stdout);
	pid_t x = fork();
	if (x == 0) {
		close(p[0]);
		fork_until_killed();
	}
	close(p[1]);
	int st = 0;
	if (x < 0 || waitpid(x, &st, 0) != x || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		close(p[0]);
		return -1;
	}
	struct pollfd pf = { .fd = p[0], .events = POLLIN };
	char b;
	int eof = poll(&pf, 1, 15000) == 1 && read(p[0], &b, 1) == 0;
	close(p[0]);
	int killed = 0, ended = 0;
	double t0 = now();
	while (!ended && now() - t0 < 15.0) {	/* the orphan, ended or exiting */
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w > 0) {
			ended = 1;
			killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
		} else
			usleep(10000);
	}
	return !eof || !ended ? -1 : killed;
}

/* Rounds until one kill lands inside a fork (before the child's thread
 * started); every round must leave nothing behind.  Before the fix the
 * half-made child stayed in the process table for good and kept the
 * pipe's write end open.  The waits are long (15 s): on a loaded host
 * the take-over and the orphan's exit take seconds. */
static void die_forking(void)
{
	EXPECT("segment-layout", SEG_MAGIC == 0x6d67655368737845ull);
	int caught = 0, bad = 0;
	for (int i = 0; i < 5 && !caught && !bad; i++) {
		int r = die_forking_round();
		printf("info lockdead: dying in a fork, round %d: %s\n", i + 1,
		       r == 1 ? "half-made child ended" : r == 0 ? "the kill came after the child started" : "something stayed");
		caught += r == 1;
		bad += r < 0;
	}
	EXPECT("died-forking-left-nothing", !bad);
	EXPECT("died-forking-half-made-child-ended", caught);
}

/* ---- dying at each chosen point of fork and vfork (die_at_points) ---- */

/* Where the victim dies besides the die points: a vfork child ends its
 * env (the parent's: it runs on the parent's thread) through the kernel
 * while it runs program code, not holding the lock. */
#define VFORK_CHILD_ENDS_ENV (EXO_DIE_LAST + 1)

static const char *const point_names[] = {
	[EXO_DIE_FORK_FILES] = "fork-files", [EXO_DIE_FORK_ENV] = "fork-env",
	[EXO_DIE_FORK_GRANTS] = "fork-grants", [EXO_DIE_FORK_ENTRY] = "fork-entry",
	[EXO_DIE_FORK_MAPPINGS] = "fork-mappings", [EXO_DIE_FORK_START] = "fork-start",
	[EXO_DIE_FORK_STARTED] = "fork-started", [EXO_DIE_FORK_DONE] = "fork-done",
	[EXO_DIE_VFORK_ENV] = "spawn-env", [EXO_DIE_VFORK_FILES] = "spawn-files",
	[EXO_DIE_VFORK_ENTRY] = "spawn-entry", [EXO_DIE_VFORK_CHILD] = "spawn-child",
	[EXO_DIE_VFORK_IMAGE] = "spawn-image", [EXO_DIE_VFORK_CAPS] = "spawn-caps",
	[EXO_DIE_VFORK_STARTED] = "spawn-started", [EXO_DIE_VFORK_EXIT] = "vfork-exit",
	[EXO_DIE_EXIT] = "exit",
	[VFORK_CHILD_ENDS_ENV] = "vfork-child-ends-env",
};

static int warming;

static void point_check(int point, const char *what, int cond)
{
	if (warming)
		return;
	printf("%s die-at-%s-%s\n", cond ? "ok" : "FAIL", point_names[point], what);
	fflush(stdout);
	failures += !cond;
}

/* The victim: holds the pipe's write end and makes a child the way the
 * point lies on (fork, posix_spawn of this program with "exit0", vfork),
 * dying at the point; or for exit's point, exits 3 and dies on the way.
 * A child it makes exits 0 at once.  Exits 6 when it passed no such
 * point. */
static _Noreturn void victim(int point)
{
	if (point <= EXO_DIE_LAST && prctl(EXO_PR_DIE_AT, point, 0, 0, 0))
		_exit(7);
	pid_t c;
	if (point == EXO_DIE_EXIT)
		_exit(3);		/* its status is in its entry before it dies */
	if (point <= EXO_DIE_FORK_DONE) {
		c = fork();
		if (c == 0)
			_exit(0);
	} else if (point < EXO_DIE_VFORK_EXIT) {
		char *argv[] = { SELF, "exit0", 0 };
		if (posix_spawn(&c, SELF, 0, 0, argv, environ))
			c = -1;
	} else {
		c = vfork();
		if (c == 0) {
			if (point == VFORK_CHILD_ENDS_ENV)
				exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, SIGKILL);
			_exit(0);
		}
	}
	_exit(c < 0 ? 8 : 6);
}

static uint64_t budget_now(void)
{
	struct sysinfo si;
	return sysinfo(&si) ? 0 : (uint64_t)si.freeram * si.mem_unit;
}

/* One point: the victim must be reaped with SIGKILL's status by us, its
 * parent (at exit's point, with the status it exited with); the pipe's write end, which it and the child it was making
 * held, must reach EOF; every orphan (the first process is us) must end
 * by itself (0) or be ended (SIGKILL), never of a fault; and no entry
 * of the process table or page of our memory budget may stay taken. */
static void die_at(int point)
{
	uint32_t nprocs = SEG_NPROCS;
	uint64_t budget = budget_now();
	int p[2];
	if (pipe(p)) {
		point_check(point, "pipe", 0);
		return;
	}
	/* the victim is a new image of this program, not a fork of ours:
	 * a fork would leave our pages copy-on-write, and our copies of them
	 * would draw on the budget measured */
	char arg[16];
	snprintf(arg, sizeof arg, "%d", point);
	char *argv[] = { SELF, "victim", arg, 0 };
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addclose(&fa, p[0]);
	pid_t v = -1;
	if (posix_spawn(&v, SELF, &fa, 0, argv, environ))
		v = -1;
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	int st = 0;
	pid_t w = v > 0 ? waitpid(v, &st, 0) : -1;
	int reaped = w == v;
	if (!reaped)
		printf("info lockdead: %s: spawn %d, waitpid %d (%s)\n", point_names[point], v, w, strerror(errno));
	int want = point == EXO_DIE_EXIT ? 3 << 8 : SIGKILL;
	point_check(point, "victim-status", reaped && st == want);
	if (reaped && st != want)
		printf("info lockdead: %s: the victim ended with status %#x\n", point_names[point], st);
	struct pollfd pf = { .fd = p[0], .events = POLLIN };
	char b;
	point_check(point, "pipe-eof", poll(&pf, 1, 10000) == 1 && read(p[0], &b, 1) == 0);
	close(p[0]);
	int bad = 0;
	double t0 = now();
	for (;;) {
		pid_t w = waitpid(-1, &st, WNOHANG);
		if (w > 0) {
			int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
			if (sig ? sig != SIGKILL : WEXITSTATUS(st) != 0) {
				printf("info lockdead: %s: orphan %d ended with status %#x\n", point_names[point], w, st);
				bad++;
			}
		} else if (w < 0 || now() - t0 > 10.0)
			break;
		else
			usleep(10000);
	}
	point_check(point, "orphans-reaped", errno == ECHILD);
	point_check(point, "orphans-ended-cleanly", !bad);
	point_check(point, "no-entry-left", SEG_NPROCS == nprocs);
	/* the envs' frames and quotas come back as the kernel reaps them */
	uint64_t left = 0;
	for (t0 = now(); (left = budget_now()) != budget && now() - t0 < 5.0;)
		usleep(10000);
	if (left != budget && !warming)
		printf("info lockdead: %s: budget %llu bytes before, %llu after\n", point_names[point],
		       (unsigned long long)budget, (unsigned long long)left);
	point_check(point, "budget-back", left == budget);
}

/* A round first that is not checked (a death at EXO_DIE_FORK_ENTRY):
 * what our own memory grows by the first time (pages copied on write,
 * the pipe's, the take-over's) is not counted to a point. */
static void warm_up(void)
{
	warming = 1;
	die_at(EXO_DIE_FORK_ENTRY);
	warming = 0;
}

/* Every point, once each, and a fork after them all. */
/* A fork during which our memory pool gains a chunk (a fault of the
 * library OS after the child's caps were granted, as an exec'd image's
 * first fork had): the child's copy of the pool names that chunk, and the
 * child must hold its cap.  Before, it did not: it took the slot as free,
 * put a cap of its own there, and used that as the chunk (BusyBox's
 * pipelines died "out of memory").  At each fork point from the grants to
 * the mappings; the child checks its pool (EXO_PR_MM_CHECK), forks again
 * (a budget cap of its own goes to its lowest free slot) and checks again;
 * the checks also compare /proc's resident counts with the tables, after
 * an mmap, writes and munmaps, and in an image the child spawns. */
static void pool_grows_in_fork(void)
{
	static const int at[] = { EXO_DIE_FORK_GRANTS, EXO_DIE_FORK_ENTRY };
	for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
		int ok = prctl(EXO_PR_GROW_AT, at[i], 0, 0, 0) == 0;
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			int bad = prctl(EXO_PR_MM_CHECK, 0, 0, 0, 0) != 0;
			/* memory comes and goes: the counts follow */
			char *m = mmap(0, 64 << 12, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m != MAP_FAILED) {
				memset(m, 1, 64 << 12);
				munmap(m + (8 << 12), 16 << 12);
				bad |= prctl(EXO_PR_MM_CHECK, 0, 0, 0, 0) != 0;
				munmap(m, 64 << 12);
			}
			bad |= m == MAP_FAILED;
			/* an exec'd image's counts (its start-up adopts its pages) */
			char *argv[] = { SELF, "mmcheck", NULL };
			pid_t s;
			int sst = -1;
			bad |= posix_spawn(&s, SELF, NULL, NULL, argv, NULL) != 0 || waitpid(s, &sst, 0) != s || sst != 0;
			pid_t g = fork();
			if (g == 0)
				_exit(prctl(EXO_PR_MM_CHECK, 0, 0, 0, 0) != 0);
			int st = -1;
			bad |= g < 0 || waitpid(g, &st, 0) != g || st != 0;
			bad |= prctl(EXO_PR_MM_CHECK, 0, 0, 0, 0) != 0;
			_exit(bad);
		}
		int st = -1;
		ok &= c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
		ok &= prctl(EXO_PR_MM_CHECK, 0, 0, 0, 0) == 0;
		EXPECT(at[i] == EXO_DIE_FORK_GRANTS ? "pool-grows-after-grants-child-holds-it"
						    : "pool-grows-after-entry-child-holds-it", ok);
	}
}

static void die_at_points(void)
{
	EXPECT("segment-layout", SEG_MAGIC == 0x6d67655368737845ull);
	warm_up();
	for (int point = 1; point <= VFORK_CHILD_ENDS_ENV; point++) {
		printf("info lockdead: dying at %s\n", point_names[point]);
		fflush(stdout);
		die_at(point);
	}
	int st = 0;
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	EXPECT("fork-after-points", c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
}

/* A bystander: keeps calling in (each call takes the lock) for `secs`
 * seconds, then exits with 0. */
static _Noreturn void bystander(double secs)
{
	double t0 = now();
	while (now() - t0 < secs) {
		if (getppid() <= 0)
			_exit(2);
		usleep(1000);
	}
	_exit(0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "exit0") == 0)
		return 0;		/* a spawned child (victim) */
	if (argc > 1 && strcmp(argv[1], "mmcheck") == 0)
		return prctl(EXO_PR_MM_CHECK, 0, 0, 0, 0) != 0;	/* pool_grows_in_fork's */
	if (argc > 2 && strcmp(argv[1], "victim") == 0)
		victim(atoi(argv[2]));	/* die_at's */
	if (argc > 2 && strcmp(argv[1], "points") == 0) {
		warm_up();
		for (int i = 2; i < argc; i++)	/* by hand: the points named */
			if (atoi(argv[i]) >= 1 && atoi(argv[i]) <= VFORK_CHILD_ENDS_ENV)
				die_at(atoi(argv[i]));
		return failures ? 1 : 0;
	}
	if (argc > 1 && strcmp(argv[1], "points") == 0) {
		die_at_points();
		return failures ? 1 : 0;
	}
	if (argc > 1 && strcmp(argv[1], "grow") == 0) {
		pool_grows_in_fork();
		return failures ? 1 : 0;
	}
	pool_grows_in_fork();
	fflush(stdout);
	pid_t by = fork();
	if (by == 0)
		bystander(5.0);
	EXPECT("bystander-forked", by > 0);
	for (int i = 0; i < CHILDREN; i++) {
		fflush(stdout);
		pid_t c = fork();
		if (c == 0)
			die_holding();
		EXPECT("child-forked", c > 0);
		int st = 0;
		pid_t w = waitpid(c, &st, 0);
		EXPECT("child-reaped", w == c);
		EXPECT("child-status-sigkill", WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		/* calls that take the lock still return */
		EXPECT("parent-calls-in", getpid() > 0 && kill(getpid(), 0) == 0);
	}
	int st = -1;
	EXPECT("bystander-reaped", waitpid(by, &st, 0) == by);
	EXPECT("bystander-kept-going", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		printf("info lockdead: the bystander ended with status %#x\n", st);
	/* a fork after the take-overs works as before */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0)
		_exit(7);
	EXPECT("fork-after", c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 7);
	/* by hand: on one CPU the killer only runs when a tick falls
	 * inside a fork (on an idle host never, in 30 s of forks); the die
	 * points reach every step on purpose */
	if (argc > 1 && strcmp(argv[1], "forking") == 0)
		die_forking();
	else
		die_at_points();
	return failures ? 1 : 0;
}
