/*
 * posix_spawn and vfork on the parent's memory (tests/suites/29-posix-spawn.sh).
 * Run as `spawntest run SELF DIR` (SELF: this program's path, DIR: a
 * scratch directory); the suite runs it in the guest and, built with
 * musl-gcc, on Linux, and compares the outputs.  The other modes are the
 * programs it spawns:
 *   ids FD            writes its pid, parent, group, session, whether
 *                     SIGUSR1 is blocked and SIGUSR2 ignored, to FD
 *   cwd FD            writes its working directory to FD
 *   fds               exit status: a bit per open descriptor 0..7
 *   interp ARGS...    a #! interpreter: exits 40 + its argument count
 */
#define _GNU_SOURCE
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct ids {
	long pid, ppid, pgrp, sid;
	int usr1_blocked, usr2_ignored;
};

static int child_ids(int fd)
{
	struct ids v = { getpid(), getppid(), getpgrp(), getsid(0), 0, 0 };
	sigset_t m;
	struct sigaction sa;
	sigprocmask(SIG_BLOCK, 0, &m);
	v.usr1_blocked = sigismember(&m, SIGUSR1);
	sigaction(SIGUSR2, 0, &sa);
	v.usr2_ignored = sa.sa_handler == SIG_IGN;
	return write(fd, &v, sizeof v) == sizeof v ? 0 : 1;
}

static int child_cwd(int fd)
{
	char buf[512];
	if (!getcwd(buf, sizeof buf))
		return 1;
	return write(fd, buf, strlen(buf) + 1) > 0 ? 0 : 1;
}

static int child_fds(void)
{
	int bits = 0;
	for (int fd = 0; fd < 8; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			bits |= 1 << fd;
	return bits;
}

/* Spawns SELF MODE FD with attributes a and file actions fa, reads what
 * the child wrote to the pipe into buf and reaps it: posix_spawn's
 * result; *st the child's wait status, *pid its pid. */
static int spawn_read(const char *self, const char *mode, posix_spawnattr_t *a,
		      posix_spawn_file_actions_t *fa, void *buf, size_t len, pid_t *pid, int *st)
{
	int p[2];
	char fdarg[16];
	if (pipe(p))
		return -1;
	snprintf(fdarg, sizeof fdarg, "%d", p[1]);
	char *argv[] = { "spawntest", (char *)mode, fdarg, 0 };
	int r = posix_spawn(pid, self, fa, a, argv, environ);
	close(p[1]);
	memset(buf, 0, len);
	size_t got = 0;
	ssize_t n;
	while (r == 0 && got < len && (n = read(p[0], (char *)buf + got, len - got)) > 0)
		got += (size_t)n;
	close(p[0]);
	*st = -1;
	if (r == 0)
		waitpid(*pid, st, 0);
	return r;
}

static int no_child_left(void)
{
	return waitpid(-1, 0, WNOHANG) == -1 && errno == ECHILD;
}

static void ids_default(const char *self)
{
	struct ids v;
	pid_t pid;
	int st;
	int r = spawn_read(self, "ids", 0, 0, &v, sizeof v, &pid, &st);
	EXPECT("spawn-ok", r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT("spawn-pid-is-the-programs", v.pid == pid);
	EXPECT("spawn-ppid-is-the-parent", v.ppid == getpid());
	EXPECT("spawn-same-group-and-session", v.pgrp == getpgrp() && v.sid == getsid(0));
	EXPECT("spawn-no-child-left", no_child_left());
}

static void errors(const char *self, const char *dir)
{
	pid_t pid;
	int st;
	char *argv[] = { "spawntest", "fds", 0 };
	int r = posix_spawn(&pid, "/no/such/program", 0, 0, argv, environ);
	printf("missing file: %s\n", strerror(r));
	EXPECT("spawn-missing-enoent", r == ENOENT && no_child_left());

	char path[600];
	snprintf(path, sizeof path, "%s/notelf", dir);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	write(fd, "\x01\x02\x03 plain bytes, no ELF, no #!\n", 31);
	close(fd);
	r = posix_spawn(&pid, path, 0, 0, argv, environ);
	printf("not an ELF file: %s\n", strerror(r));
	EXPECT("spawn-not-elf-enoexec", r == ENOEXEC && no_child_left());

	snprintf(path, sizeof path, "%s/script", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0755);
	dprintf(fd, "#!%s interp\n", self);
	close(fd);
	char *sargv[] = { "script", "a", "b", 0 };
	r = posix_spawn(&pid, path, 0, 0, sargv, environ);
	st = -1;
	if (r == 0)
		waitpid(pid, &st, 0);
	printf("#! script: %d, exit %d\n", r, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	EXPECT("spawn-script", r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 45);

	/* vfork, then an execve that fails: the error comes back to the child */
	volatile int err = 0;
	pid = vfork();
	if (pid == 0) {
		execve("/no/such/program", argv, environ);
		err = errno;		/* the parent's memory: seen there */
		_exit(127);
	}
	st = -1;
	waitpid(pid, &st, 0);
	printf("vfork + failed execve: errno %s, exit %d\n", strerror(err), WEXITSTATUS(st));
	EXPECT("vfork-execve-error-in-child", err == ENOENT && WIFEXITED(st) && WEXITSTATUS(st) == 127);
}

static void file_actions(const char *self, const char *dir)
{
	pid_t pid;
	int st;
	char *argv[] = { "spawntest", "fds", 0 };
	posix_spawn_file_actions_t fa;

	/* a failing open: ENOENT, no child */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 5, "/no/such/file", O_RDONLY, 0);
	int r = posix_spawn(&pid, self, &fa, 0, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	printf("failing open action: %s\n", strerror(r));
	EXPECT("spawn-action-fails-enoent", r == ENOENT && no_child_left());

	/* dup2, close, open in the child leave our table as it was */
	int keep = open("/dev/null", O_RDONLY);	/* 3 */
	int gone = open("/dev/null", O_RDONLY);	/* 4 */
	char path[600];
	snprintf(path, sizeof path, "%s/opened", dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, keep, 6);
	posix_spawn_file_actions_addclose(&fa, gone);
	posix_spawn_file_actions_addopen(&fa, 7, path, O_CREAT | O_WRONLY, 0644);
	r = posix_spawn(&pid, self, &fa, 0, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	st = -1;
	if (r == 0)
		waitpid(pid, &st, 0);
	printf("child's descriptors: %#x\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	EXPECT("spawn-actions-in-child", r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == (0x7 | 1 << 3 | 1 << 6 | 1 << 7));
	printf("ours after: %#x\n", child_fds());
	EXPECT("spawn-actions-not-in-parent", child_fds() == (0x7 | 1 << 3 | 1 << 4));
	close(keep);
	close(gone);

	/* chdir in the child only */
	char here[512], there[512];
	getcwd(here, sizeof here);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	r = spawn_read(self, "cwd", 0, &fa, there, sizeof there, &pid, &st);
	posix_spawn_file_actions_destroy(&fa);
	char now[512];
	getcwd(now, sizeof now);
	printf("child's cwd: %s\n", there);
	EXPECT("spawn-chdir-in-child-only", r == 0 && strcmp(there, "/") == 0 && strcmp(now, here) == 0);
}

static void attributes(const char *self)
{
	struct ids v;
	pid_t pid;
	int st;
	posix_spawnattr_t a;
	sigset_t m, before, after;

	posix_spawnattr_init(&a);
	posix_spawnattr_setflags(&a, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&a, 0);
	int r = spawn_read(self, "ids", &a, 0, &v, sizeof v, &pid, &st);
	posix_spawnattr_destroy(&a);
	EXPECT("spawn-setpgroup", r == 0 && v.pgrp == pid && getpgrp() != pid);

	posix_spawnattr_init(&a);
	posix_spawnattr_setflags(&a, POSIX_SPAWN_SETSID);
	r = spawn_read(self, "ids", &a, 0, &v, sizeof v, &pid, &st);
	posix_spawnattr_destroy(&a);
	EXPECT("spawn-setsid", r == 0 && v.sid == pid && getsid(0) != pid);

	memset(&before, 0, sizeof before);
	memset(&after, 0, sizeof after);
	sigprocmask(SIG_BLOCK, 0, &before);
	posix_spawnattr_init(&a);
	posix_spawnattr_setflags(&a, POSIX_SPAWN_SETSIGMASK);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR1);
	posix_spawnattr_setsigmask(&a, &m);
	r = spawn_read(self, "ids", &a, 0, &v, sizeof v, &pid, &st);
	posix_spawnattr_destroy(&a);
	sigprocmask(SIG_BLOCK, 0, &after);
	EXPECT("spawn-setsigmask-in-child", r == 0 && v.usr1_blocked);
	EXPECT("spawn-setsigmask-not-in-parent", !sigismember(&after, SIGUSR1) &&
	       memcmp(&before, &after, sizeof before) == 0);

	signal(SIGUSR2, SIG_IGN);
	r = spawn_read(self, "ids", 0, 0, &v, sizeof v, &pid, &st);
	EXPECT("spawn-ignored-stays-ignored", r == 0 && v.usr2_ignored);
	posix_spawnattr_init(&a);
	posix_spawnattr_setflags(&a, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_RESETIDS);
	sigemptyset(&m);
	sigaddset(&m, SIGUSR2);
	posix_spawnattr_setsigdefault(&a, &m);
	r = spawn_read(self, "ids", &a, 0, &v, sizeof v, &pid, &st);
	posix_spawnattr_destroy(&a);
	struct sigaction sa;
	sigaction(SIGUSR2, 0, &sa);
	EXPECT("spawn-setsigdef-in-child-only", r == 0 && !v.usr2_ignored && sa.sa_handler == SIG_IGN);
	signal(SIGUSR2, SIG_DFL);
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* vfork on the caller's stack: memory shared, process state not. */
static void plain_vfork(void)
{
	volatile int shared = 0;
	int fd = open("/dev/null", O_RDONLY);
	long parent = getpid();
	signal(SIGUSR1, on_usr1);
	signal(SIGUSR2, SIG_IGN);
	pid_t pid = vfork();
	if (pid == 0) {
		sigset_t m;
		sigemptyset(&m);
		sigaddset(&m, SIGTERM);
		sigprocmask(SIG_BLOCK, &m, 0);
		signal(SIGUSR2, SIG_DFL);
		close(fd);
		setpgid(0, 0);
		shared = getppid() == parent ? 2 : 1;
		kill(getppid(), SIGUSR1);	/* for the parent, after its wait */
		_exit(5);
	}
	int st = -1;
	pid_t w = waitpid(pid, &st, 0);
	sigset_t m;
	sigprocmask(SIG_BLOCK, 0, &m);
	struct sigaction sa;
	sigaction(SIGUSR2, 0, &sa);
	printf("vfork: child exit %d, memory %d\n", WEXITSTATUS(st), shared);
	EXPECT("vfork-exit-status", w == pid && WIFEXITED(st) && WEXITSTATUS(st) == 5);
	EXPECT("vfork-memory-shared", shared == 2);
	EXPECT("vfork-close-not-in-parent", fcntl(fd, F_GETFD) >= 0);
	EXPECT("vfork-mask-not-in-parent", !sigismember(&m, SIGTERM));
	EXPECT("vfork-sigaction-not-in-parent", sa.sa_handler == SIG_IGN);
	EXPECT("vfork-setpgid-not-in-parent", getpgrp() != pid);
	EXPECT("vfork-signal-for-parent-delivered", got_usr1 == 1);
	close(fd);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGUSR1, SIG_DFL);
}

/* A process killed while its vfork child runs: it dies of SIGKILL and its
 * waiter learns so (the child blocks on a pipe meanwhile). */
static void parent_killed(void)
{
	int go[2], ready[2];
	pipe(go);
	pipe(ready);
	pid_t p = fork();
	if (p == 0) {
		pid_t c = vfork();
		if (c == 0) {
			char b;
			close(go[1]);
			write(ready[1], "r", 1);
			read(go[0], &b, 1);
			_exit(0);
		}
		_exit(3);
	}
	char b;
	read(ready[0], &b, 1);
	kill(p, SIGKILL);
	int st = -1;
	pid_t w = waitpid(p, &st, 0);
	close(go[1]);
	printf("parent killed during vfork: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "not signalled");
	EXPECT("vfork-parent-killed", w == p && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	close(go[0]);
	close(ready[0]);
	close(ready[1]);
}

/* A vfork child that goes wrong on the parent's memory, on purpose: a
 * clone(CLONE_VM|CLONE_VFORK) onto a stack that is not mapped (the child
 * faults at its first return), a write to address 0, and an execve of a
 * path at an unmapped address.  Each child alone must die (SIGSEGV) or
 * get EFAULT; the parent must go on and reap it as on Linux. */
static void hostile_children(void)
{
	int st = 0;
	long pid = syscall(SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)0x1000, 0, 0, 0);
	if (pid == 0)
		for (;;)
			;		/* not reached: the stack faults first */
	long w = waitpid((pid_t)pid, &st, 0);
	printf("vfork onto an unmapped stack: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "not signalled");
	EXPECT("vfork-bad-stack-child-dies", pid > 0 && w == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	pid_t c = vfork();
	if (c == 0) {
		*(volatile int *)0 = 1;
		_exit(1);
	}
	st = 0;
	EXPECT("vfork-child-fault-reaped", waitpid(c, &st, 0) == c);
	printf("vfork child writing address 0: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "not signalled");
	EXPECT("vfork-child-fault-sigsegv", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV);
	static volatile int err;
	c = vfork();
	if (c == 0) {
		const char *volatile bad = (const char *)(uintptr_t)0x10;
		execve(bad, 0, 0);
		err = errno;
		_exit(42);
	}
	st = 0;
	waitpid(c, &st, 0);
	printf("vfork child's execve of a bad pointer: %s, exit %d\n", strerror(err), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	EXPECT("vfork-execve-bad-pointer-efault", err == EFAULT && WIFEXITED(st) && WEXITSTATUS(st) == 42);
}

/* A vfork child killed by a third process while it sleeps on its
 * parent's thread: it dies of SIGKILL at once and the parent goes on. */
static void child_killed(void)
{
	int p[2];
	pipe(p);
	pid_t killer = fork();
	if (killer == 0) {
		pid_t v;
		if (read(p[0], &v, sizeof v) != sizeof v)
			_exit(2);
		usleep(300000);
		_exit(kill(v, SIGKILL) == 0 ? 0 : 3);
	}
	time_t t0 = time(0);
	pid_t c = vfork();
	if (c == 0) {
		pid_t me = getpid();
		write(p[1], &me, sizeof me);
		for (int i = 0; i < 300; i++)
			usleep(100000);	/* 30 s unless killed */
		_exit(7);
	}
	int st = 0;
	pid_t w = waitpid(c, &st, 0);
	int fast = time(0) - t0 < 20;
	printf("vfork child killed by another process: %s\n", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "not signalled");
	EXPECT("vfork-child-killed", w == c && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL && fast);
	st = -1;
	EXPECT("vfork-child-killer-done", waitpid(killer, &st, 0) == killer && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(p[0]);
	close(p[1]);
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "ids") == 0)
		return child_ids(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "cwd") == 0)
		return child_cwd(atoi(argv[2]));
	if (argc >= 2 && strcmp(argv[1], "fds") == 0)
		return child_fds();
	if (argc >= 2 && strcmp(argv[1], "interp") == 0)
		return 40 + argc;
	if (argc < 4 || strcmp(argv[1], "run") != 0) {
		fprintf(stderr, "usage: spawntest run SELF DIR\n");
		return 2;
	}
	ids_default(argv[2]);
	errors(argv[2], argv[3]);
	file_actions(argv[2], argv[3]);
	attributes(argv[2]);
	plain_vfork();
	parent_killed();
	hostile_children();
	child_killed();
	return failures ? 1 : 0;
}
