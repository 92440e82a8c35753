/*
 * POSIX operations for `make bench` (tools/bench-posix): fork + execve +
 * wait and posix_spawn + wait of a small static program, a pipe round trip
 * between two processes, create + write 4 KiB + close + unlink on tmpfs,
 * stat of an existing file, and futex wake-to-run between two threads.
 * The same source is an ExoSwarm program (tools/exo-cc) and, built with
 * musl-gcc -static -DLINUX_INIT, /init of the Linux guest, so both sides
 * make the same calls through the same libc.  Prints "bench NAME TICKS"
 * lines (bench.h): under -icount shift=0 a tick is an instruction.
 * Arguments: DIR (a tmpfs directory), PROG (the program to start), and
 * "smoke" for a few rounds only (make test checks that it runs).
 */
#define _GNU_SOURCE
#include "bench.h"

#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* linux/futex.h's values, written out: musl-gcc has no kernel headers */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_PRIVATE_FLAG 128

static const char *dir = "/tmp", *prog = "/bin/tiny";
static long rounds = 1;		/* multiplier: 1 for smoke runs */
static int failures;

/* Counts a failed operation; a run with any prints no "done" line. */
static void fail(const char *what)
{
	printf("posixbench: %s failed\n", what);
	fflush(stdout);
	failures++;
}

/* fork, execve of PROG in the child, waitpid in the parent. */
static void fork_exec_wait(void)
{
	char *argv[] = { (char *)prog, NULL };
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execve(prog, argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("fork + execve + wait");
}

/* posix_spawn of PROG, then waitpid. */
static void spawn_wait(void)
{
	char *argv[] = { (char *)prog, NULL };
	int status;
	pid_t pid;

	if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) ||
	    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("posix_spawn + wait");
}

/* One byte to a child process through one pipe and back through another,
 * timed over many rounds. */
static void pipe_round_trip(long n)
{
	int ab[2], ba[2];
	char byte = 0;

	if (pipe(ab) || pipe(ba)) {
		fail("pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(ab[1]);
		close(ba[0]);
		while (read(ab[0], &byte, 1) == 1)
			if (write(ba[1], &byte, 1) != 1)
				_exit(1);
		_exit(0);
	}
	close(ab[0]);
	close(ba[1]);
	BENCH("pipe-round-trip", n,
	      if (write(ab[1], &byte, 1) != 1 || read(ba[0], &byte, 1) != 1) { fail("pipe round trip"); break; });
	close(ab[1]);
	close(ba[0]);
	waitpid(pid, NULL, 0);
}

/* create + write 4 KiB + close + unlink of one file in DIR */
static void file_cycle(const char *path, const char *page)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, page, 4096) != 4096 || close(fd) || unlink(path))
		fail("create + write + close + unlink");
}

static volatile int ping, pong;

static long futex(volatile int *word, int op, int val)
{
	return syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* Sleeps until *word is set, then clears it. */
static void futex_take(volatile int *word)
{
	while (!__atomic_load_n(word, __ATOMIC_ACQUIRE))
		futex(word, FUTEX_WAIT, 0);
	__atomic_store_n(word, 0, __ATOMIC_RELEASE);
}

/* Sets *word and wakes its one waiter. */
static void futex_give(volatile int *word)
{
	__atomic_store_n(word, 1, __ATOMIC_RELEASE);
	futex(word, FUTEX_WAKE, 1);
}

static void *futex_partner(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		futex_take(&ping);
		futex_give(&pong);
	}
	return NULL;
}

/* A futex ping-pong between two threads of this process: each round is two
 * wake-to-runs (a wake, the waiter's return to user code), reported per
 * wake-to-run. */
static void futex_wake_to_run(long n)
{
	pthread_t th;

	if (pthread_create(&th, NULL, futex_partner, (void *)(n + 16))) {
		fail("pthread_create");
		return;
	}
	BENCH("futex-round-trip", n, futex_give(&ping); futex_take(&pong));
	pthread_join(th, NULL);
}

static void run(void)
{
	char path[256], page[4096];
	struct stat st;

	memset(page, 'x', sizeof page);
	printf("posixbench starting\n");
	fflush(stdout);
	BENCH("fork-exec-wait", 4 * rounds, fork_exec_wait());
	BENCH("posix-spawn-wait", 4 * rounds, spawn_wait());
	pipe_round_trip(200 * rounds);
	snprintf(path, sizeof path, "%s/posixbench.tmp", dir);
	BENCH("tmpfs-create-write-close-unlink", 100 * rounds, file_cycle(path, page));
	snprintf(path, sizeof path, "%s/posixbench.stat", dir);
	file_cycle(path, page);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	if (fd < 0 || close(fd))
		fail("create");
	BENCH("stat", 200 * rounds, if (stat(path, &st)) fail("stat"));
	futex_wake_to_run(200 * rounds);
	if (!failures)
		printf("posixbench done\n");
	fflush(stdout);
}

#ifndef LINUX_INIT
int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	dir = argv[1];
	prog = argv[2];
	rounds = argc > 3 && !strcmp(argv[3], "smoke") ? 1 : 10;
	run();
	return failures != 0;
}
#else
#include <sys/mount.h>
#include <sys/reboot.h>

/* /init of the Linux guest: /tmp on tmpfs, as ExoSwarm has it, then the
 * same runs; the initrd holds the program to start at /bin/tiny. */
int main(void)
{
	mkdir("/tmp", 01777);
	if (mount("tmpfs", "/tmp", "tmpfs", 0, NULL))
		fail("mount /tmp");
	rounds = 10;
	run();
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
#endif
