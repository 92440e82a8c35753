/*
 * execve, vfork, posix_spawn and system() (tests/suites/29-exec.sh).  Run
 * as `exectest run SELF DIR` (SELF: this program's path, DIR: a directory
 * for its scratch files); the suite runs it in
 * the guest and, built with musl-gcc, on Linux, and compares the outputs.
 * The other modes are what it executes:
 *   show ARGS...      prints its arguments, EXO_T and AT_EXECFN, exits 7
 *   fds               which of descriptors 0-3 are open, exits 8
 *   exec PATH ARGV... execs PATH with ARGV
 *   loop N - - SELF   execs itself N more times, then checks that the
 *                     memory budget and the caps held are what they were
 *                     after the first execve (guest; the booted image's
 *                     frames were the kernel's, not the budget's)
 *   parked SELF       a thread keeps calling the library OS while the
 *                     image execs itself ("parked-after"): the new image
 *                     must live on
 *   spinning SELF N   threads spin in user mode and others loop on system
 *                     calls, on every CPU, while the image execs itself,
 *                     N times in a row: each new image must start, and no
 *                     thread of an old one may run again
 *   ended SELF        threads sleeping, spinning and exited (parked in the
 *                     library OS) when the image execs itself ("ended-
 *                     after"): the kernel must then count one thread of
 *                     the env alive, the caller (guest)
 */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *ename(int e)
{
	switch (e) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case ENOEXEC: return "ENOEXEC";
	case E2BIG: return "E2BIG";
	case EFAULT: return "EFAULT";
	case ENOTDIR: return "ENOTDIR";
	case ELOOP: return "ELOOP";
	default: return "E?";
	}
}

static int on_exoswarm(void)
{
	struct utsname u;
	return uname(&u) == 0 && strcmp(u.sysname, "ExoSwarm") == 0;
}

/* The memory budget's pages left and the caps held (guest only). */
static void budget(long *pages, long *caps)
{
	struct { uint32_t type, rights; uint64_t first, count, object; } info;
	*pages = *caps = 0;
	if (!on_exoswarm())
		return;
	if (syscall(0x4578 + 1, 2, &info) == 0)
		*pages = (long)info.count;
	for (long s = 0; s < 512; s++)
		if (syscall(0x4578 + 1, s, &info) == 0)
			(*caps)++;
}

/* The kernel's count of this env's threads alive (CAP_INSPECT of its own
 * env cap), or -1 (Linux, or the call failed). */
static long kernel_threads(void)
{
	struct { uint32_t type, rights; uint64_t first, count, object; } info;
	if (!on_exoswarm() || syscall(0x4578 + 1, 0, &info) != 0)
		return -1;
	return (long)info.count;
}

static int show(int argc, char **argv)
{
	printf("show: argc %d\n", argc);
	for (int i = 1; i < argc; i++) {	/* paths differ: their last name */
		const char *slash = strchr(argv[i], ' ') ? 0 : strrchr(argv[i], '/');
		printf("show: argv[%d] '%s'\n", i, slash ? slash + 1 : argv[i]);
	}
	const char *t = getenv("EXO_T");
	printf("show: EXO_T '%s'\n", t ? t : "(none)");
	const char *fn = (const char *)getauxval(AT_EXECFN);
	const char *base = fn ? strrchr(fn, '/') : 0;
	printf("show: execfn %s\n", base ? base + 1 : fn ? fn : "(none)");
	struct sigaction sa;
	sigaction(SIGUSR1, 0, &sa);
	printf("show: SIGUSR1 %s\n", sa.sa_handler == SIG_IGN ? "ignored" : sa.sa_handler == SIG_DFL ? "default" : "handled");
	sigaction(SIGUSR2, 0, &sa);
	printf("show: SIGUSR2 %s\n", sa.sa_handler == SIG_IGN ? "ignored" : sa.sa_handler == SIG_DFL ? "default" : "handled");
	sigset_t m;
	sigprocmask(SIG_BLOCK, 0, &m);
	printf("show: SIGHUP %s\n", sigismember(&m, SIGHUP) ? "blocked" : "not blocked");
	return 7;
}

static int fds(void)
{
	for (int fd = 0; fd <= 3; fd++)
		printf("fds: %d %s\n", fd, fcntl(fd, F_GETFD) >= 0 ? "open" : "closed");
	return 8;
}

static int loop(char **argv)
{
	int n = atoi(argv[2]);
	long pages, caps;
	budget(&pages, &caps);
	if (getenv("EXO_LOOP_TRACE"))
		fprintf(stderr, "loop %d: %ld pages, %ld caps\n", n, pages, caps);
	if (n > 0) {
		char num[16];
		snprintf(num, sizeof num, "%d", n - 1);
		char *args[] = { argv[0], "loop", num, argv[3], argv[4], argv[5], 0 };
		if (argv[3][0] == '-')			/* the booted image: next time */
			args[3] = args[4] = "=";
		if (argv[3][0] == '=') {		/* the first exec'd image: the base */
			static char p[32], c[32];
			snprintf(p, sizeof p, "%ld", pages);
			snprintf(c, sizeof c, "%ld", caps);
			args[3] = p;
			args[4] = c;
		}
		execve(argv[5], args, environ);
		printf("FAIL exec-loop: execve at %d: %s\n", n, ename(errno));
		return 1;
	}
	long p0 = atol(argv[3]), c0 = atol(argv[4]);
	EXPECT("exec-loop-200-budget-back", pages >= p0 - 8);
	EXPECT("exec-loop-200-caps-back", caps <= c0);
	if (pages < p0 - 8 || caps > c0)
		printf("info budget %ld -> %ld pages, caps %ld -> %ld\n", p0, pages, c0, caps);
	return failures ? 1 : 0;
}

/* Runs argv in a forked child; its wait status. */
static int fork_exec(const char *path, char *const argv[], char *const envp[])
{
	pid_t pid = fork();
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(100 + (errno & 63));
	}
	int st = -1;
	waitpid(pid, &st, 0);
	fflush(stdout);
	return st;
}

static char plain[256], garbage[256], loopsh[256], script[256], cloexec[256];

static void errors(const char *self, const char *dir)
{
	char *argv[] = { "x", 0 };
	static char big[200000];
	memset(big, 'a', sizeof big - 1);
	char *bigv[] = { "x", big, 0 };
	char *badv[] = { "x", (char *)8, 0 };
	static char notdir[300];
	snprintf(plain, sizeof plain, "%s/exectest-plain", dir);
	snprintf(notdir, sizeof notdir, "%s/x", plain);
	snprintf(garbage, sizeof garbage, "%s/exectest-garbage", dir);
	snprintf(loopsh, sizeof loopsh, "%s/exectest-loop.sh", dir);
	snprintf(script, sizeof script, "%s/exectest-script", dir);
	snprintf(cloexec, sizeof cloexec, "%s/exectest-cloexec", dir);
	struct { const char *name, *path; char **argv; int err; } cases[] = {
		{ "exec-enoent", "/no/such/program", argv, ENOENT },
		{ "exec-enotdir", notdir, argv, ENOTDIR },
		{ "exec-eacces-no-x-bit", plain, argv, EACCES },
		{ "exec-eacces-directory", dir, argv, EACCES },
		{ "exec-enoexec-garbage", garbage, argv, ENOEXEC },
		{ "exec-e2big", self, bigv, E2BIG },
		{ "exec-efault-string", self, badv, EFAULT },
		{ "exec-efault-vector", self, (char **)16, EFAULT },
		{ "exec-eloop-script", loopsh, argv, ELOOP },
	};
	int fd = open(plain, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	write(fd, "\177ELF", 4);
	close(fd);
	fd = open(garbage, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	write(fd, "this is not a program\n", 22);
	close(fd);
	fd = open(loopsh, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	char line[300];
	write(fd, line, (size_t)snprintf(line, sizeof line, "#!%s\n", loopsh));
	close(fd);
	for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		errno = 0;
		int r = execve(cases[i].path, cases[i].argv, environ);
		printf("%s: %d %s\n", cases[i].name, r, ename(errno));
		EXPECT(cases[i].name, r == -1 && errno == cases[i].err);
	}
}

static void run(const char *self, const char *dir)
{
	char *envp[] = { "EXO_T=kept value", "OTHER=1", 0 };
	char *argv[] = { "exectest", "show", "one", "two words", "", "last", 0 };
	errors(self, dir);

	/* a program with its arguments and environment; dispositions kept */
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_DFL);
	struct sigaction sa = { .sa_handler = (void (*)(int))show };
	sigaction(SIGUSR2, &sa, 0);
	sigset_t m;
	sigemptyset(&m);
	sigaddset(&m, SIGHUP);
	sigprocmask(SIG_BLOCK, &m, 0);
	int st = fork_exec(self, argv, envp);
	printf("fork+exec status %d\n", st);
	EXPECT("exec-args-env-status", WIFEXITED(st) && WEXITSTATUS(st) == 7);
	sigprocmask(SIG_UNBLOCK, &m, 0);
	signal(SIGUSR1, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);

	/* a #! script with an argument on its line */
	char line[512];
	int fd = open(script, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	int n = snprintf(line, sizeof line, "#! %s show  from script \nignored\n", self);
	write(fd, line, (size_t)n);
	close(fd);
	char *sargv[] = { "script-argv0", "after", 0 };
	st = fork_exec(script, sargv, envp);
	printf("script status %d\n", st);
	EXPECT("exec-script", WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* O_CLOEXEC descriptors are closed */
	fd = open(cloexec, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd != 3)
		dup2(fd, 3), fcntl(3, F_SETFD, FD_CLOEXEC);
	char *fargv[] = { "exectest", "fds", 0 };
	st = fork_exec(self, fargv, envp);
	EXPECT("exec-cloexec-status", WIFEXITED(st) && WEXITSTATUS(st) == 8);
	close(3);

	/* posix_spawn and waitpid */
	pid_t pid;
	char *pargv[] = { "exectest", "show", "spawned", 0 };
	int r = posix_spawn(&pid, self, 0, 0, pargv, envp);
	st = -1;
	if (r == 0)
		waitpid(pid, &st, 0);
	fflush(stdout);
	printf("posix_spawn %d status %d\n", r, st);
	EXPECT("posix-spawn-waitpid", r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7);
	r = posix_spawn(&pid, "/no/such/program", 0, 0, pargv, envp);
	st = -1;
	if (r == 0)
		waitpid(pid, &st, 0);
	EXPECT("posix-spawn-missing-fails", (r == ENOENT) || (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127));

	/* system(): /bin/sh -c */
	char cmd[600];
	snprintf(cmd, sizeof cmd, "%s show by-system", self);
	st = system(cmd);
	fflush(stdout);
	printf("system status %d\n", st);
	EXPECT("system-status", WIFEXITED(st) && WEXITSTATUS(st) == 7);

	/* vfork: the parent waits until the child has exec'd */
	pid = vfork();
	if (pid == 0) {
		execve(self, pargv, envp);
		_exit(99);
	}
	st = -1;
	waitpid(pid, &st, 0);
	fflush(stdout);
	EXPECT("vfork-exec", WIFEXITED(st) && WEXITSTATUS(st) == 7);
}

/* The thread execve ends in "parked": library OS calls in a loop, so it
 * is often waiting for the library OS's lock, which execve holds. */
static void *caller(void *arg)
{
	(void)arg;
	for (;;)
		getppid();
	return NULL;
}

/* A thread of this image keeps calling the library OS while the image
 * execs itself.  execve ends the other threads by pointing them at a
 * resting loop on the stub's page, but the kernel left a thread blocked
 * (here: on the lock) in its wait with the new registers, and the new
 * image's first unlock woke it on that page after the new image had freed
 * it: the process died of the fault (status 139, every run). */
static int parked(char **argv)
{
	pthread_t t;
	if (pthread_create(&t, NULL, caller, NULL))
		return 1;
	usleep(200000);
	char *args[] = { argv[0], "parked-after", 0 };
	execve(argv[2], args, environ);
	printf("FAIL parked-execve: %s\n", ename(errno));
	return 1;
}

static int parked_after(void)
{
	usleep(300000);		/* time for the ended thread to run */
	EXPECT("parked-new-image-lives-on", getpid() > 0);
	EXPECT("parked-one-kernel-thread-left", kernel_threads() == 1);
	return failures ? 1 : 0;
}

static void *sleeper(void *arg)
{
	(void)arg;
	sleep(1000);		/* blocked in the kernel, on its futex */
	return NULL;
}

static void *exiter(void *arg)
{
	return arg;		/* its kernel thread parks in the library OS */
}

static void *spin_on(void *arg)
{
	(void)arg;
	for (volatile uint64_t n = 0;; n++)
		;
	return NULL;
}

/* execve ends the image's other threads in the kernel: before the kernel
 * had a call to end one thread of an env, they were only sent to rest on
 * the stub's page, alive, and piled up across execs (4 threads counted
 * after the execve below, every run). */
static int ended(char **argv)
{
	pthread_t t;
	if (pthread_create(&t, NULL, sleeper, NULL) || pthread_create(&t, NULL, spin_on, NULL) ||
	    pthread_create(&t, NULL, exiter, NULL) || pthread_join(t, NULL))
		return 1;
	usleep(100000);
	long n = kernel_threads();
	printf("info kernel threads before execve: %ld\n", n);
	EXPECT("ended-kernel-counts-4-threads-before", n == 4);
	char *args[] = { argv[0], "ended-after", 0 };
	execve(argv[2], args, environ);
	printf("FAIL ended-execve: %s\n", ename(errno));
	return 1;
}

static int ended_after(void)
{
	usleep(100000);
	long n = kernel_threads();
	printf("info kernel threads after execve: %ld\n", n);
	EXPECT("ended-one-kernel-thread-left-after-execve", n == 1);
	return failures ? 1 : 0;
}

/* What the threads of "spinning" bump.  The image execs itself, so these
 * sit at the same addresses in the next image: an old thread still running
 * there bumps the new image's. */
static volatile uint64_t spins, calls;
static volatile int threads_up;

/* Pure user mode: no call, so only an interrupt takes it off its CPU. */
static void *spinner(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&threads_up, 1, __ATOMIC_SEQ_CST);
	for (;;)
		spins = spins + 1;
	return NULL;
}

/* System calls in a loop: often inside the kernel or the library OS. */
static void *syscaller(void *arg)
{
	__atomic_add_fetch(&threads_up, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		if (arg)
			sched_yield();
		else
			getppid();
		calls = calls + 1;
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One round of "spinning": checks that no thread of the image before runs
 * here, then (rounds left) starts two spinners and two callers, lets them
 * run a while, and execs itself again. */
static int spinning(char **argv, long round, long rounds)
{
	if (round > 0) {
		usleep(200000);		/* time for an old thread to show itself */
		if (kernel_threads() != 1) {
			printf("FAIL spinning-round-%ld: %ld kernel threads alive after execve\n", round,
			       kernel_threads());
			return 1;
		}
		if (spins || calls) {
			printf("FAIL spinning-round-%ld: old threads ran on (%lu spins, %lu calls)\n",
			       round, (unsigned long)spins, (unsigned long)calls);
			return 1;
		}
	}
	fprintf(stderr, "spinning: round %ld of %ld\n", round, rounds);
	if (round == rounds) {
		printf("ok spinning-%ld-execs-old-threads-never-ran-again\n", rounds);
		return 0;
	}
	pthread_t t;
	void *kinds[4] = { NULL, NULL, NULL, (void *)1 };
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t, NULL, i < 2 ? spinner : syscaller, kinds[i])) {
			printf("FAIL spinning-thread-create\n");
			return 1;
		}
	uint64_t deadline = now_ms() + 30000;
	while (__atomic_load_n(&threads_up, __ATOMIC_SEQ_CST) < 4 && now_ms() < deadline)
		usleep(1000);
	usleep(20000 + 10000 * (round % 4));	/* vary where the threads are */
	char r[24], n[24];
	snprintf(r, sizeof r, "%ld", round + 1);
	snprintf(n, sizeof n, "%ld", rounds);
	char *args[] = { argv[0], "spinning", argv[2], r, n, 0 };
	execve(argv[2], args, environ);
	printf("FAIL spinning-execve: %s\n", ename(errno));
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strncmp(argv[1], "show", 4) == 0)
		return show(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "fds") == 0)
		return fds();
	if (argc >= 6 && strcmp(argv[1], "loop") == 0)
		return loop(argv);
	if (argc >= 3 && strcmp(argv[1], "parked") == 0)
		return parked(argv);
	if (argc >= 2 && strcmp(argv[1], "parked-after") == 0)
		return parked_after();
	if (argc >= 3 && strcmp(argv[1], "ended") == 0)
		return ended(argv);
	if (argc >= 2 && strcmp(argv[1], "ended-after") == 0)
		return ended_after();
	if (argc >= 4 && strcmp(argv[1], "spinning") == 0)
		return spinning(argv, argc >= 5 ? atol(argv[3]) : 0, atol(argv[argc >= 5 ? 4 : 3]));
	if (argc >= 4 && strcmp(argv[1], "exec") == 0) {
		execv(argv[2], argv + 3);
		printf("exec %s: %s\n", argv[2], ename(errno));
		return 1;
	}
	if (argc < 4 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: exectest run SELF SCRATCH-DIR\n");
		return 2;
	}
	run(argv[2], argv[3]);
	return failures ? 1 : 0;
}
