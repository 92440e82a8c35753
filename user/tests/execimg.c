/*
 * execve maps an executable's text and read-only data from one copy per
 * file, made at its first execve and kept while the file is unchanged
 * (tests/suites/29-exec-image.sh, docs/LIBOS.md "execve").
 * `execimg run SELF DIR` copies SELF to DIR/prog and runs the copy, which
 * prints a mark that lives in its read-only data, while it changes the
 * file between and during the runs:
 *   - a pwrite of the mark between two execs: the second prints the new
 *     mark, and a third (from the new copy) too;
 *   - a rewrite and a truncate of the file while a copy runs (Linux
 *     refuses them with ETXTBSY, the library OS lets them change the
 *     file only): the running program goes on and prints the mark it
 *     started with; once it has ended, a rewrite is seen by the next run;
 *   - a store through a MAP_SHARED mapping of the file: seen by the
 *     next run once the mapping is gone (Linux refuses an execve while
 *     a writable mapping exists);
 *   - fork and posix_spawn inside a run (the child shares the pages);
 *   - 60 runs in a row, by posix_spawn and by fork and execve.
 * The suite runs it in the guest and, built with musl-gcc, on Linux, and
 * compares the outputs; tests/suites/32-cryptofs-guest.sh runs it on
 * CryptoFS's /data too, where MAP_SHARED is refused (`no-shared-maps`).  `execimg full SELF DIR` (guest) fills the
 * shared segment (tmpfs) first: the copy cannot be kept, and the program
 * still runs, copied into frames of its own, and runs again once the
 * segment has room.
 */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The mark in read-only data: its digit is what the tests change. */
static const char mark[] = "EXECIMG-MARK-0";
static const char *volatile mark_at = mark;

static char prog[512];
static int no_shared_maps;	/* DIR's file system refuses MAP_SHARED (ENODEV) */

static void show(const char *who)
{
	printf("%s mark %s\n", who, mark_at);
	fflush(stdout);
}

/* Copies SELF to prog; 0 or -1. */
static int copy_self(const char *self)
{
	int in = open(self, O_RDONLY), out = open(prog, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	char buf[65536];
	ssize_t n;
	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -1;
	close(in);
	return close(out) || n < 0 ? -1 : 0;
}

/* The offset of the mark's digit in prog, or -1. */
static off_t mark_offset(void)
{
	size_t len = strlen(mark_at);
	int fd = open(prog, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return -1;
	char *f = malloc((size_t)st.st_size);
	off_t at = -1;
	if (f && read(fd, f, (size_t)st.st_size) == st.st_size)
		for (off_t i = 0; i + (off_t)len <= st.st_size && at < 0; i++)
			if (memcmp(f + i, mark_at, len - 1) == 0)
				at = i + (off_t)len - 1;
	free(f);
	close(fd);
	return at;
}

/* Runs prog with mode by posix_spawn and waits: its exit status, or -1. */
static int spawn_run(const char *mode)
{
	char *argv[] = { prog, (char *)mode, NULL };
	pid_t pid;
	int st;
	if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The same by fork and execve. */
static int fork_run(const char *mode)
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		execl(prog, prog, mode, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Writes c as the mark's digit, through a file opened for writing. */
static int set_digit(off_t at, char c)
{
	int fd = open(prog, O_WRONLY);
	if (fd < 0)
		return -1;
	int r = pwrite(fd, &c, 1, at) == 1 ? 0 : -1;
	close(fd);
	return r;
}

/* A run that shows its mark, says so on fd 3, waits for a byte on stdin,
 * shows the mark again. */
static int child_wait(void)
{
	char c = 'r';
	show("waiter");
	if (write(3, &c, 1) != 1 || read(0, &c, 1) != 1)
		return 2;
	show("waiter");
	return 0;
}

/* A run that forks and posix_spawns a child that shows the mark. */
static int child_fork(void)
{
	int st;
	pid_t pid = fork();
	if (pid == 0) {
		show("forked");
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || st != 0)
		return 1;
	char *argv[] = { prog, "show", NULL };
	if (posix_spawn(&pid, prog, NULL, NULL, argv, environ) || waitpid(pid, &st, 0) != pid || st != 0)
		return 1;
	show("forker");
	return 0;
}

/* The rewrite and the truncate while a copy runs: whether each is refused
 * (Linux: ETXTBSY) or done, the running copy goes on unchanged. */
static void while_running(off_t at, const char *self)
{
	int in[2], ready[2];
	char c;
	if (pipe(in) || pipe(ready)) {
		EXPECT("running-pipes", 0);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(ready[1], 3);
		close(in[1]);
		execl(prog, prog, "wait", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(ready[1]);
	EXPECT("running-waiter-ready", read(ready[0], &c, 1) == 1);
	EXPECT("running-second-run-meanwhile", spawn_run("show") == 0);
	int fd = open(prog, O_WRONLY);
	int refused = fd < 0 && errno == ETXTBSY;
	if (fd >= 0) {
		c = '9';
		if (pwrite(fd, &c, 1, at) != 1) {	/* a line only when it fails */
			printf("FAIL running-rewrite: %s\n", strerror(errno));
			failures++;
		}
		close(fd);
	}
	printf("rewrite while running: %s\n", refused || fd >= 0 ? "refused or done" : strerror(errno));
	int t = truncate(prog, 0);
	printf("truncate while running: %s\n", (t < 0 && errno == ETXTBSY) || t == 0 ? "refused or done" : strerror(errno));
	fflush(stdout);
	/* checked once the waiter has ended: printed at once, "ok" raced
	 * the woken waiter's own line (a tick between the two put the
	 * waiter's line first, and the outputs differed from Linux's) */
	c = 'x';
	int woke = write(in[1], &c, 1) == 1;
	int st = -1;
	int ended = waitpid(pid, &st, 0) == pid;
	EXPECT("running-wake", woke);
	EXPECT("running-waiter-ends-well", ended && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(in[1]);
	close(ready[0]);
	/* ended: the file may be written again; the next run sees it */
	EXPECT("after-run-copy", copy_self(self) == 0);
	EXPECT("after-run-digit", set_digit(at, '3') == 0);
	EXPECT("after-run-shows-3", spawn_run("show") == 0);
}

static void run(const char *self, const char *dir)
{
	snprintf(prog, sizeof prog, "%s/prog", dir);
	EXPECT("copy", copy_self(self) == 0);
	off_t at = mark_offset();
	EXPECT("mark-found", at > 0);
	if (at <= 0)
		return;
	EXPECT("first-run", spawn_run("show") == 0);
	EXPECT("write-digit-1", set_digit(at, '1') == 0);
	EXPECT("run-after-pwrite", spawn_run("show") == 0);
	EXPECT("run-again", fork_run("show") == 0);

	while_running(at, self);

	/* a store through a shared mapping of the file */
	int fd = open(prog, O_RDWR);
	char *m = fd < 0 ? MAP_FAILED : mmap(NULL, (size_t)at + 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (no_shared_maps)	/* CryptoFS: no shared pages, a clear error */
		EXPECT("map-shared-refused-enodev", m == MAP_FAILED && errno == ENODEV);
	else
		EXPECT("map-shared", m != MAP_FAILED);
	if (m != MAP_FAILED) {
		m[at] = '4';
		munmap(m, (size_t)at + 1);
	}
	if (fd >= 0)
		close(fd);
	EXPECT("run-after-shared-store", spawn_run("show") == 0);
	EXPECT("run-after-shared-store-again", fork_run("show") == 0);

	EXPECT("fork-and-spawn-inside", spawn_run("fork") == 0);
	int bad = 0;
	for (int i = 0; i < 30; i++)
		bad += spawn_run("quiet") != 0;
	for (int i = 0; i < 30; i++)
		bad += fork_run("quiet") != 0;
	EXPECT("sixty-runs", bad == 0);
	EXPECT("last-run", spawn_run("show") == 0);
	unlink(prog);
}

/* Guest: the shared segment full, the copy cannot be kept; the program
 * runs all the same, and again once there is room. */
static void full(const char *self, const char *dir)
{
	char fill[512];
	static char block[1 << 20];
	snprintf(prog, sizeof prog, "%s/prog", dir);
	snprintf(fill, sizeof fill, "%s/fill", dir);
	EXPECT("full-copy", copy_self(self) == 0);
	off_t at = mark_offset();
	EXPECT("full-digit", at > 0 && set_digit(at, '7') == 0);
	int fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(block, 'f', sizeof block);
	long mb = 0;
	while (fd >= 0 && write(fd, block, sizeof block) == (ssize_t)sizeof block)
		mb++;
	printf("info filled %ld MiB\n", mb);
	EXPECT("full-filled", fd >= 0 && mb > 0);
	/* room for a process's entry and tables, not for the copy */
	EXPECT("full-some-room", fd >= 0 && ftruncate(fd, (mb << 20) - (256 << 10)) == 0);
	EXPECT("full-runs-without-room", spawn_run("show") == 0);
	EXPECT("full-fork-runs-without-room", fork_run("show") == 0);
	if (fd >= 0)
		close(fd);
	unlink(fill);
	EXPECT("full-runs-with-room", spawn_run("show") == 0);
	EXPECT("full-runs-with-room-again", spawn_run("show") == 0);
	unlink(prog);
}

int main(int argc, char **argv)
{
	snprintf(prog, sizeof prog, "%s", argv[0]);	/* a run's own path */
	if (argc >= 2 && strcmp(argv[1], "show") == 0) {
		show("run");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "quiet") == 0)
		return mark_at[0] == 'E' ? 0 : 1;
	if (argc >= 2 && strcmp(argv[1], "wait") == 0)
		return child_wait();
	if (argc >= 2 && strcmp(argv[1], "fork") == 0)
		return child_fork();
	if (argc >= 4 && strcmp(argv[1], "run") == 0) {
		no_shared_maps = argc >= 5 && strcmp(argv[4], "no-shared-maps") == 0;
		run(argv[2], argv[3]);
	}
	else if (argc >= 4 && strcmp(argv[1], "full") == 0)
		full(argv[2], argv[3]);
	else {
		fprintf(stderr, "usage: execimg run SELF DIR [no-shared-maps] | full SELF DIR\n");
		return 2;
	}
	return failures ? 1 : 0;
}
