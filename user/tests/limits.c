/*
 * Memory and limits as on Linux (tests/suites/29-posix-limits.sh): many
 * small and large allocations, thousands of mappings at once, and the
 * resource limits with their errors.  Built for the guest and, with plain
 * musl-gcc, for the host; the two outputs must be the same line for line,
 * so nothing printed depends on addresses or timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define SMALL 100000
#define LARGE_LIVE 3000
#define MAPS 10000

/* A cheap deterministic generator, so both runs make the same calls. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* 100,000 small blocks live at once, each filled and checked, then freed. */
static void small_mallocs(void)
{
	static unsigned char *p[SMALL];
	int bad = 0, got = 0;
	for (int i = 0; i < SMALL; i++) {
		size_t n = 1 + i % 200;
		p[i] = malloc(n);
		if (!p[i])
			continue;
		got++;
		memset(p[i], i & 0xff, n);
	}
	for (int i = 0; i < SMALL; i++) {
		if (!p[i])
			continue;
		size_t n = 1 + i % 200;
		if (p[i][0] != (i & 0xff) || p[i][n - 1] != (i & 0xff))
			bad++;
		free(p[i]);
	}
	EXPECT("malloc-100000-small-blocks", got == SMALL);
	EXPECT("malloc-100000-small-blocks-keep-their-contents", bad == 0);
}

/* 100,000 allocations and frees in a random mix of sizes, from 1 byte to
 * 1 MiB (musl serves the large ones with mmap), up to 512 live. */
static void mixed_mallocs(void)
{
	static unsigned char *p[512];
	static size_t len[512];
	int failed = 0, bad = 0;
	for (int i = 0; i < SMALL; i++) {
		int k = (int)(rnd() % 512);
		if (p[k]) {
			if (p[k][0] != (unsigned char)k || p[k][len[k] - 1] != (unsigned char)k)
				bad++;
			free(p[k]);
			p[k] = 0;
			continue;
		}
		uint32_t r = rnd();
		len[k] = r % 16 == 0 ? 128 * 1024 + r % (900 * 1024) : 1 + r % 4000;
		p[k] = malloc(len[k]);
		if (!p[k]) {
			failed++;
			continue;
		}
		p[k][0] = p[k][len[k] - 1] = (unsigned char)k;
	}
	for (int k = 0; k < 512; k++)
		free(p[k]);
	EXPECT("malloc-free-100000-mixed-sizes", failed == 0);
	EXPECT("malloc-free-100000-mixed-sizes-keep-contents", bad == 0);
}

/* 3,000 large (mmap-backed) blocks live at once: a mapping each. */
static void large_live(void)
{
	static unsigned char *p[LARGE_LIVE];
	int got = 0, bad = 0;
	for (int i = 0; i < LARGE_LIVE; i++) {
		p[i] = malloc(200 * 1024);
		if (!p[i])
			break;
		got++;
		p[i][0] = p[i][200 * 1024 - 1] = (unsigned char)i;
	}
	for (int i = 0; i < got; i++) {
		if (p[i][0] != (unsigned char)i || p[i][200 * 1024 - 1] != (unsigned char)i)
			bad++;
		free(p[i]);
	}
	EXPECT("malloc-3000-large-blocks-live-at-once", got == LARGE_LIVE && bad == 0);
}

/* 10,000 separate anonymous mappings, every other one read-only, so no two
 * merge; then munmap of every one, and of a page in the middle of one. */
static void many_mappings(void)
{
	static char *m[MAPS];
	int got = 0, bad = 0;
	for (int i = 0; i < MAPS; i++) {
		m[i] = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m[i] == MAP_FAILED)
			break;
		got++;
		m[i][0] = (char)i;
		if (i % 2 && mprotect(m[i], 8192, PROT_READ))
			bad++;
	}
	for (int i = 0; i < got; i++)
		if (m[i][0] != (char)i)
			bad++;
	EXPECT("mmap-10000-mappings-live-at-once", got == MAPS && bad == 0);
	char *hole = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok = hole != MAP_FAILED && munmap(hole + 4096, 4096) == 0;
	if (ok) {
		hole[0] = 1;
		hole[8192] = 2;
		ok = hole[0] == 1 && hole[8192] == 2;
		munmap(hole, 3 * 4096);
	}
	EXPECT("munmap-a-page-in-the-middle-splits-the-mapping", ok);
	int unmapped = 0;
	for (int i = 0; i < got; i++)
		unmapped += munmap(m[i], 8192) == 0;
	EXPECT("munmap-10000-mappings", unmapped == got);
	char *again = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT("mmap-after-munmap-is-zeroed", again != MAP_FAILED && again[0] == 0);
	EXPECT("mmap-zero-length-EINVAL",
	       mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
	EXPECT("munmap-unaligned-EINVAL", munmap(again + 1, 4096) == -1 && errno == EINVAL);
}

/* At the map limit (Linux's vm.max_map_count, the library OS's region
 * table) a munmap or an mprotect that would split a mapping in two fails
 * with ENOMEM and changes nothing: the pages keep what they held. */
static void map_limit(void)
{
	enum { MOST = 70000 };
	static char *fill[MOST];
	char *three = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (three == MAP_FAILED) {
		EXPECT("map-limit-set-up", 0);
		return;
	}
	three[0] = 1;
	three[4096] = 2;
	three[8192] = 3;
	int n = 0;
	while (n < MOST) {
		char *p = mmap(0, 4096, n % 2 ? PROT_READ : PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			break;
		fill[n++] = p;
	}
	int full = n < MOST && errno == ENOMEM;
	int unmap_refused = munmap(three + 4096, 4096) == -1 && errno == ENOMEM;
	int protect_refused = mprotect(three + 4096, 4096, PROT_READ) == -1 && errno == ENOMEM;
	int intact = unmap_refused && three[0] == 1 && three[4096] == 2 && three[8192] == 3;
	while (n > 0)			/* the last first: the table shrinks at its end */
		munmap(fill[--n], 4096);
	munmap(three, 3 * 4096);
	EXPECT("mmap-at-the-map-limit-ENOMEM", full);
	EXPECT("munmap-splitting-a-mapping-at-the-map-limit-ENOMEM", unmap_refused);
	EXPECT("mprotect-splitting-a-mapping-at-the-map-limit-ENOMEM", protect_refused);
	EXPECT("refused-munmap-and-mprotect-change-nothing", intact);
}

/* RLIMIT_NOFILE: EMFILE at the soft limit, dup2 and F_DUPFD beyond it. */
static void nofile(void)
{
	struct rlimit old, rl;
	EXPECT("getrlimit-nofile", getrlimit(RLIMIT_NOFILE, &old) == 0 && old.rlim_cur <= old.rlim_max);
	rl = (struct rlimit){ 16, old.rlim_max };
	EXPECT("setrlimit-nofile-16", setrlimit(RLIMIT_NOFILE, &rl) == 0);
	int fds[32], n = 0, below = 1, fd;
	while (n < 32 && (fd = open("/dev/null", O_RDONLY)) >= 0) {
		below &= fd < 16;
		fds[n++] = fd;
	}
	EXPECT("open-EMFILE-at-rlimit-nofile", n < 32 && errno == EMFILE && below);
	EXPECT("dup2-beyond-rlimit-nofile-EBADF", dup2(0, 16) == -1 && errno == EBADF);
	EXPECT("fcntl-dupfd-beyond-rlimit-nofile-EINVAL", fcntl(0, F_DUPFD, 16) == -1 && errno == EINVAL);
	while (n > 0)
		close(fds[--n]);
	EXPECT("setrlimit-nofile-back", setrlimit(RLIMIT_NOFILE, &old) == 0);
	rl = (struct rlimit){ 20, 10 };
	EXPECT("setrlimit-soft-above-hard-EINVAL", setrlimit(RLIMIT_NOFILE, &rl) == -1 && errno == EINVAL);
	EXPECT("getrlimit-bad-resource-EINVAL", getrlimit(99, &rl) == -1 && errno == EINVAL);
	EXPECT("prlimit64-bad-pointer-EFAULT",
	       syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (void *)8) == -1 && errno == EFAULT);
	EXPECT("prlimit64-bad-new-pointer-EFAULT",
	       syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, (void *)8, 0) == -1 && errno == EFAULT);
}

#define AS_LIMIT (256ul << 20)

/* What a process under the 256 MiB RLIMIT_AS may map. */
static void as_checks(const char *who)
{
	char name[80];
	struct rlimit rl;
	snprintf(name, sizeof name, "%s-sees-rlimit-as", who);
	EXPECT(name, getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur == AS_LIMIT);
	snprintf(name, sizeof name, "%s-mmap-512MiB-ENOMEM", who);
	void *big = mmap(0, 512ul << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(name, big == MAP_FAILED && errno == ENOMEM);
	snprintf(name, sizeof name, "%s-malloc-512MiB-fails", who);
	EXPECT(name, malloc(512ul << 20) == 0 && errno == ENOMEM);
	snprintf(name, sizeof name, "%s-mmap-16MiB-works", who);
	char *small = mmap(0, 16ul << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT(name, small != MAP_FAILED && (small[0] = 1) == 1 && munmap(small, 16ul << 20) == 0);
}

/* A child's status as a line of its own. */
static void expect_child(const char *name, pid_t pid)
{
	int st = 0;
	EXPECT(name, pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* RLIMIT_AS in a child, inherited by its own child and kept across execve
 * of self (path: this program as the other side can run it). */
static void address_space(const char *self)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { AS_LIMIT, RLIM_INFINITY };
		EXPECT("setrlimit-as-256MiB", setrlimit(RLIMIT_AS, &rl) == 0);
		as_checks("child");
		pid_t g = fork();
		if (g == 0) {
			as_checks("grandchild");
			_exit(failures != 0);
		}
		expect_child("grandchild-status", g);
		g = fork();
		if (g == 0) {
			execl(self, self, "as-exec", (char *)0);
			_exit(99);
		}
		expect_child("exec-as-status", g);
		_exit(failures != 0);
	}
	expect_child("rlimit-as-child-status", pid);
}

/* RLIMIT_NPROC: fork fails with EAGAIN at the limit (as a user other than
 * root on Linux, which lets root past it; here every process counts). */
static void nproc(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (setuid(65534)) {
			/* not root, or no setuid here: the limit applies anyway */
		}
		struct rlimit rl = { 1, 1 };
		EXPECT("setrlimit-nproc-1", setrlimit(RLIMIT_NPROC, &rl) == 0);
		pid_t g = fork();
		if (g == 0)
			_exit(0);
		EXPECT("fork-EAGAIN-at-rlimit-nproc", g == -1 && errno == EAGAIN);
		_exit(failures != 0);
	}
	expect_child("rlimit-nproc-child-status", pid);
}

/* getrusage, times, sched_yield and the affinity calls. */
static void usage(void)
{
	struct rusage ru;
	volatile char *p = malloc(8 << 20);	/* volatile: the stores stay */
	for (int i = 0; p && i < 8 << 20; i += 4096)
		p[i] = 1;
	EXPECT("getrusage-self-maxrss-counts-8MiB-touched",
	       getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss >= 8192 && ru.ru_minflt > 0);
	free((void *)p);
	EXPECT("getrusage-self-times-sane", ru.ru_utime.tv_usec < 1000000 && ru.ru_stime.tv_usec < 1000000);
	EXPECT("getrusage-children", getrusage(RUSAGE_CHILDREN, &ru) == 0);
	EXPECT("getrusage-bad-who-EINVAL", getrusage(5, &ru) == -1 && errno == EINVAL);
	EXPECT("getrusage-bad-pointer-EFAULT",
	       syscall(SYS_getrusage, RUSAGE_SELF, (void *)8) == -1 && errno == EFAULT);
	struct tms t;
	EXPECT("times", times(&t) != (clock_t)-1 && t.tms_utime >= 0);
	EXPECT("sched-yield", sched_yield() == 0);
	cpu_set_t set, one, back;
	EXPECT("sched-getaffinity", sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) >= 1);
	EXPECT("sysconf-nprocessors-onln", sysconf(_SC_NPROCESSORS_ONLN) == CPU_COUNT(&set));
	int first = 0;
	while (!CPU_ISSET(first, &set))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	EXPECT("sched-setaffinity-one-cpu", sched_setaffinity(0, sizeof one, &one) == 0);
	EXPECT("sched-getaffinity-reads-it-back", sched_getaffinity(0, sizeof back, &back) == 0 &&
	       CPU_COUNT(&back) == 1 && CPU_ISSET(first, &back));
	EXPECT("sched-setaffinity-back", sched_setaffinity(0, sizeof set, &set) == 0);
	CPU_ZERO(&one);
	EXPECT("sched-setaffinity-empty-EINVAL", sched_setaffinity(0, sizeof one, &one) == -1 && errno == EINVAL);
	EXPECT("sched-getaffinity-short-EINVAL",
	       syscall(SYS_sched_getaffinity, 0, 4, &back) == -1 && errno == EINVAL);
	EXPECT("sched-getaffinity-bad-pid-ESRCH",
	       sched_getaffinity(999999, sizeof back, &back) == -1 && errno == ESRCH);
	EXPECT("unknown-system-call-ENOSYS", syscall(400) == -1 && errno == ENOSYS);
	pthread_mutexattr_t a;
	pthread_mutex_t mu;
	EXPECT("robust-mutex-allowed-and-works", pthread_mutexattr_init(&a) == 0 &&
	       pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0 && pthread_mutex_init(&mu, &a) == 0 &&
	       pthread_mutex_lock(&mu) == 0 && pthread_mutex_unlock(&mu) == 0);
	void *head = 0;
	size_t hlen = 0;
	EXPECT("get-robust-list",
	       syscall(SYS_get_robust_list, 0, &head, &hlen) == 0 && hlen == 24);
	EXPECT("get-robust-list-bad-pointer-EFAULT",
	       syscall(SYS_get_robust_list, 0, (void *)8, &hlen) == -1 && errno == EFAULT);
}

/* The calling thread runs on exactly CPU cpu. */
static int on_one_cpu(pid_t pid, int cpu)
{
	cpu_set_t s;
	return sched_getaffinity(pid, sizeof s, &s) == 0 && CPU_COUNT(&s) == 1 && CPU_ISSET(cpu, &s);
}

static void *thread_on_one_cpu(void *cpu)
{
	return (void *)(intptr_t)on_one_cpu(0, *(int *)cpu);
}

/* Affinity between processes, as taskset -p PID reads it: another
 * process's mask is readable by its pid, and a forked child, a thread and
 * an execve'd image keep the mask of the thread that made them (self:
 * this program's path, run again as "affinity-exec CPU").  The
 * inheritance checks tell something only on a machine of two CPUs or
 * more; the reads by pid on any. */
static void affinity_between(const char *self)
{
	cpu_set_t all, one;
	int first = 0, fds[2];
	char arg[16];
	if (sched_getaffinity(0, sizeof all, &all) != 0 || pipe(fds) != 0)
		return;
	while (!CPU_ISSET(first, &all))
		first++;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	EXPECT("affinity-set-one-cpu", sched_setaffinity(0, sizeof one, &one) == 0);
	pthread_t th;
	void *thread_ok = 0;
	EXPECT("affinity-new-thread-keeps-it", pthread_create(&th, 0, thread_on_one_cpu, &first) == 0 &&
	       pthread_join(th, &thread_ok) == 0 && thread_ok);
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		char c;
		close(fds[1]);
		read(fds[0], &c, 1);		/* until the parent has read ours */
		EXPECT("affinity-forked-child-keeps-it", on_one_cpu(0, first));
		EXPECT("affinity-child-reads-parents-by-pid", on_one_cpu(parent, first));
		EXPECT("affinity-child-reads-own-by-pid", on_one_cpu(getpid(), first));
		snprintf(arg, sizeof arg, "%d", first);
		execl(self, self, "affinity-exec", arg, (char *)0);
		_exit(99);
	}
	close(fds[0]);
	EXPECT("affinity-parent-reads-childs-by-pid", pid > 0 && on_one_cpu(pid, first));
	close(fds[1]);
	expect_child("affinity-child-status", pid);
	EXPECT("affinity-back-to-all", sched_setaffinity(0, sizeof all, &all) == 0);
	cpu_set_t back;
	EXPECT("affinity-parent-reads-all-again", sched_getaffinity(parent, sizeof back, &back) == 0 &&
	       CPU_EQUAL(&back, &all));
	EXPECT("affinity-reaped-child-ESRCH", sched_getaffinity(pid, sizeof back, &back) == -1 && errno == ESRCH);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "as-exec") == 0) {
		as_checks("exec");
		return failures != 0;
	}
	if (argc > 2 && strcmp(argv[1], "affinity-exec") == 0) {
		EXPECT("affinity-kept-across-execve", on_one_cpu(0, atoi(argv[2])));
		EXPECT("affinity-execd-reads-own-by-pid", on_one_cpu(getpid(), atoi(argv[2])));
		return failures != 0;
	}
	nofile();
	if (argc > 1) {
		address_space(argv[1]);
		affinity_between(argv[1]);
	}
	nproc();
	usage();
	small_mallocs();
	mixed_mallocs();
	large_live();
	many_mappings();
	map_limit();
	if (failures)
		return 1;
	printf("all checks passed\n");
	return 0;
}
