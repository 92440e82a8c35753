/* Files shared by processes and threads: what one writes another sees, a
 * dup'ed descriptor's offset is one for parent and child, pipes connect
 * processes (a shell's pipeline, end of file when the last writer exits,
 * SIGPIPE, a reader blocked until another process writes, poll woken from
 * another process, 1 MiB intact), and pipes block between threads of one
 * process (a full pipe's writer, EINTR from a signal, SA_RESTART).
 *   files_procs DIR threads   the part one process can run
 *   files_procs DIR all       both parts
 * DIR is made and entered; the output is compared with the same program
 * built with musl-gcc and run on Linux. */
#include "check.h"
#include "show.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };
	nanosleep(&ts, 0);
}

/* Prints how a child ended and returns its wait status (-1: no child). */
static int show_status(const char *what, pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		printf("%s: waitpid failed\n", what), st = -1;
	else if (WIFSIGNALED(st))
		printf("%s: killed by signal %d\n", what, WTERMSIG(st));
	else
		printf("%s: exit %d\n", what, WEXITSTATUS(st));
	fflush(stdout);
	return st;
}

/* The byte at offset i of the 1 MiB pattern. */
static uint8_t pattern(uint32_t i)
{
	return (uint8_t)(i * 2654435761u >> 13);
}

/* echo hi > f in a child, cat f in the parent; a descriptor opened before
 * fork moves one offset for both. */
static void shared_files(void)
{
	int fd = SHOW(open("shared", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(write(fd, "parent1 ", 8));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int ok = write(fd, "child ", 6) == 6;
		int f = open("made-by-child", O_CREAT | O_WRONLY | O_TRUNC, 0600);
		ok &= f >= 0 && write(f, "hi\n", 3) == 3 && close(f) == 0;
		ok &= mkdir("dir-by-child", 0755) == 0;
		_exit(ok ? 0 : 1);
	}
	EXPECT("child-writes-files", show_status("writer child", pid) == 0);
	EXPECT("offset-shared-with-child", SHOW(lseek(fd, 0, SEEK_CUR)) == 14);
	SHOW(write(fd, "parent2", 7));
	char buf[64] = { 0 };
	SHOW(pread(fd, buf, sizeof buf - 1, 0));
	printf("shared contains \"%s\"\n", buf);
	EXPECT("both-writes-in-order", strcmp(buf, "parent1 child parent2") == 0);
	SHOW(close(fd));
	memset(buf, 0, sizeof buf);
	int f = SHOW(open("made-by-child", O_RDONLY));
	SHOW(read(f, buf, sizeof buf - 1));
	printf("made-by-child contains \"%s\"\n", buf);
	EXPECT("parent-reads-childs-file", strcmp(buf, "hi\n") == 0);
	SHOW(close(f));
	struct stat st;
	SHOW(stat("dir-by-child", &st) == 0 && S_ISDIR(st.st_mode));
	SHOW(rmdir("dir-by-child"));
	SHOW(unlink("made-by-child"));
	SHOW(unlink("shared"));
}

/* ls | wc -l, plumbed as a shell does: two children, dup2 onto 0 and 1,
 * every other end closed; the second writes its count to a third pipe. */
static void pipeline(void)
{
	int p[2], out[2];
	SHOW(pipe(p));
	SHOW(pipe(out));
	fflush(stdout);
	pid_t ls = fork();
	if (ls == 0) {
		dup2(p[1], 1);
		close(p[0]), close(p[1]), close(out[0]), close(out[1]);
		char line[32];
		for (int i = 0; i < 500; i++) {
			int n = snprintf(line, sizeof line, "entry-%d\n", i);
			if (write(1, line, (size_t)n) != n)
				_exit(1);
		}
		_exit(0);
	}
	pid_t wc = fork();
	if (wc == 0) {
		dup2(p[0], 0);
		dup2(out[1], 1);
		close(p[0]), close(p[1]), close(out[0]), close(out[1]);
		char buf[700];
		long lines = 0, bytes = 0;
		ssize_t n;
		while ((n = read(0, buf, sizeof buf)) > 0) {
			bytes += n;
			for (ssize_t i = 0; i < n; i++)
				lines += buf[i] == '\n';
		}
		char msg[64];
		int k = snprintf(msg, sizeof msg, "%ld lines, %ld bytes, last read %ld", lines, bytes, (long)n);
		_exit(write(1, msg, (size_t)k) == k ? 0 : 1);
	}
	SHOW(close(p[0]));
	SHOW(close(p[1]));
	SHOW(close(out[1]));
	char msg[64] = { 0 };
	SHOW(read(out[0], msg, sizeof msg - 1) > 0);
	printf("wc says: %s\n", msg);
	EXPECT("pipeline-counts-all", strcmp(msg, "500 lines, 4890 bytes, last read 0") == 0);
	EXPECT("pipeline-eof", SHOW(read(out[0], msg, sizeof msg)) == 0);	/* wc exited */
	SHOW(close(out[0]));
	EXPECT("pipeline-ls-status", show_status("ls", ls) == 0);
	EXPECT("pipeline-wc-status", show_status("wc", wc) == 0);
}

/* The last writer is a child that exits without closing: the reader sees
 * its bytes, then end of file. */
static void eof_at_exit(void)
{
	int p[2];
	SHOW(pipe(p));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		pause_ms(100);
		_exit(write(p[1], "bye", 3) == 3 ? 0 : 1);
	}
	SHOW(close(p[1]));
	char buf[8] = { 0 };
	EXPECT("reader-woken-by-child", SHOW(read(p[0], buf, sizeof buf)) == 3);	/* blocks */
	printf("read \"%s\"\n", buf);
	EXPECT("eof-when-last-writer-exits", SHOW(read(p[0], buf, sizeof buf)) == 0);
	SHOW(close(p[0]));
	show_status("exiting writer", pid);
}

/* A child writes to a pipe nobody reads: SIGPIPE ends it; with SIGPIPE
 * ignored it gets EPIPE instead. */
static void sigpipe(void)
{
	int p[2];
	SHOW(pipe(p));
	SHOW(close(p[0]));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		(void)write(p[1], "x", 1);
		_exit(3);
	}
	int st = show_status("writer without reader", pid);
	EXPECT("sigpipe-kills-writer", st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
	pid = fork();
	if (pid == 0) {
		signal(SIGPIPE, SIG_IGN);
		_exit(write(p[1], "x", 1) == -1 && errno == EPIPE ? 4 : 5);
	}
	st = show_status("writer ignoring SIGPIPE", pid);
	EXPECT("epipe-when-ignored", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 4);
	SHOW(close(p[1]));
}

/* poll on an empty pipe wakes when a child writes into it. */
static void poll_across(void)
{
	int p[2];
	SHOW(pipe(p));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		pause_ms(150);
		_exit(write(p[1], "!", 1) == 1 ? 0 : 1);
	}
	struct pollfd pf = { p[0], POLLIN, 0 };
	EXPECT("poll-woken-by-child", SHOW(poll(&pf, 1, 20000)) == 1 && SHOW(pf.revents == POLLIN));
	char c;
	SHOW(read(p[0], &c, 1));
	show_status("poll's writer", pid);
	SHOW(close(p[0]));
	SHOW(close(p[1]));
}

/* 1 MiB through a pipe, written in odd slices by one side and read in
 * others by the other side: every byte arrives, in order. */
static int check_mib(int rd, const char *who)
{
	static uint8_t buf[10007];
	uint32_t got = 0, bad = 0;
	ssize_t n;
	while ((n = read(rd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pattern(got + (uint32_t)i);
		got += (uint32_t)n;
	}
	printf("%s: %u bytes, %u wrong, last read %ld\n", who, got, bad, (long)n);
	fflush(stdout);
	return got == MIB && bad == 0 && n == 0;
}

static int write_mib(int wr)
{
	static uint8_t buf[70000];
	uint32_t done = 0, slice = 1;
	while (done < MIB) {
		uint32_t n = slice < MIB - done ? slice : MIB - done;
		for (uint32_t i = 0; i < n; i++)
			buf[i] = pattern(done + i);
		if (write(wr, buf, n) != (ssize_t)n)
			return -1;
		done += n;
		slice = slice * 7 % 69997 + 1;
	}
	return 0;
}

static void mib_across(void)
{
	int p[2];
	SHOW(pipe(p));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(write_mib(p[1]) ? 1 : 0);
	}
	SHOW(close(p[1]));
	EXPECT("mib-from-child-intact", check_mib(p[0], "from a child"));
	SHOW(close(p[0]));
	EXPECT("mib-writer-status", show_status("MiB writer", pid) == 0);
}

static int thread_pipe;

static void *writer_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)write_mib(thread_pipe);
}

static void on_usr1(int sig)
{
	(void)sig;
}

static void *interrupter(void *arg)
{
	pause_ms(100);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return 0;
}

static int restart_pipe;

/* Signals the reader, then writes: with SA_RESTART its read goes on. */
static void *interrupt_then_write(void *arg)
{
	interrupter(arg);
	pause_ms(100);
	return (void *)(intptr_t)write(restart_pipe, "y", 1);
}

/* Between threads of one process: the writer fills the pipe and waits for
 * room, the reader waits for bytes; a read blocked on an empty pipe ends
 * with EINTR when a handler without SA_RESTART runs. */
static void threads_part(void)
{
	int p[2];
	SHOW(pipe(p));
	thread_pipe = p[1];
	pthread_t t;
	SHOW(pthread_create(&t, 0, writer_thread, 0));
	void *res = (void *)1;
	int rd = p[0];
	static uint8_t buf[10007];
	uint32_t got = 0, bad = 0;
	while (got < MIB) {
		ssize_t n = read(rd, buf, sizeof buf);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pattern(got + (uint32_t)i);
		got += (uint32_t)n;
	}
	printf("from a thread: %u bytes, %u wrong\n", got, bad);
	EXPECT("mib-from-thread-intact", got == MIB && bad == 0);
	SHOW(pthread_join(t, &res));
	SHOW((long)(intptr_t)res);
	SHOW(close(p[1]));
	SHOW(read(p[0], buf, 1));			/* no writer left: EOF */

	int q[2];
	SHOW(pipe(q));
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	SHOW(sigaction(SIGUSR1, &sa, 0));
	pthread_t self = pthread_self();
	SHOW(pthread_create(&t, 0, interrupter, &self));
	EXPECT("blocked-read-eintr", SHOW(read(q[0], buf, 1)) == -1 && errno == EINTR);
	SHOW(pthread_join(t, 0));
	sa.sa_flags = SA_RESTART;
	SHOW(sigaction(SIGUSR1, &sa, 0));
	restart_pipe = q[1];
	SHOW(pthread_create(&t, 0, interrupt_then_write, &self));
	EXPECT("sa-restart-read-goes-on", SHOW(read(q[0], buf, 1)) == 1 && buf[0] == 'y');
	SHOW(pthread_join(t, &res));
	SHOW((long)(intptr_t)res);
	SHOW(fcntl(q[0], F_SETFL, O_NONBLOCK));
	SHOW(read(q[0], buf, 1));			/* EAGAIN */
	SHOW(close(q[0]));
	SHOW(write(q[1], "x", 1));			/* EPIPE, SIGPIPE ignored */
	SHOW(close(q[1]));
	SHOW(close(p[0]));
}

int main(int argc, char **argv)
{
	for (int fd = 3; fd < 64; fd++)
		close(fd);		/* whatever the caller left open */
	if (argc < 3 || (mkdir(argv[1], 0755) && errno != EEXIST) || chdir(argv[1])) {
		printf("usage: files_procs DIR threads|all\n");
		return 2;
	}
	umask(022);
	if (strcmp(argv[2], "all") == 0) {
		shared_files();
		pipeline();
		eof_at_exit();
		sigpipe();
		poll_across();
		mib_across();
	}
	signal(SIGPIPE, SIG_IGN);
	threads_part();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
