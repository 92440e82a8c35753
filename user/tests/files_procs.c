/* Files shared by processes and threads: what one writes another sees, a
 * dup'ed descriptor's offset is one for parent and child, pipes connect
 * processes (a shell's pipeline, end of file when the last writer exits,
 * SIGPIPE, a reader blocked until another process writes, poll woken from
 * another process, 1 MiB intact), and pipes block between threads of one
 * process (a full pipe's writer, EINTR from a signal, SA_RESTART), and
 * FIFOs (mknod, mkfifo, opens that wait for the other end), and advisory
 * locks (flock between descriptions and threads, fcntl's record locks
 * between processes).
 *   files_procs DIR threads   the part one process can run
 *   files_procs DIR procs     the part that needs processes to share files
 *   files_procs DIR all       both parts
 *   files_procs DIR stale     the library OS only: a forked child's view
 *                             of its parent's eventfd and epoll
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
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/eventfd.h>
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

/* A FIFO between processes: each open waits for the other. */
static void fifo_across(void)
{
	SHOW(mkfifo("pfifo", 0600));
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("pfifo", O_WRONLY);
		_exit(fd >= 0 && write(fd, "from child", 10) == 10 ? 0 : 1);
	}
	int fd = SHOW(open("pfifo", O_RDONLY));
	char b[32] = { 0 };
	long got = 0, n;
	while ((n = read(fd, b + got, sizeof b - 1 - (size_t)got)) > 0)
		got += n;
	printf("pfifo gave \"%s\", then %ld\n", b, n);
	EXPECT("fifo-between-processes", strcmp(b, "from child") == 0 && n == 0);
	SHOW(close(fd));
	EXPECT("fifo-writer-status", show_status("fifo writer", pid) == 0);
	SHOW(unlink("pfifo"));
}

/* fcntl on [start, start+len) of fd: the call's result, errno kept. */
static int range_lock(int fd, int cmd, short type, off_t start, off_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, cmd, &fl);
}

/* What F_GETLK says of [start, start+len) for a write lock, as a line. */
static void show_getlk(int fd, off_t start, off_t len, pid_t holder)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	if (fcntl(fd, F_GETLK, &fl)) {
		printf("F_GETLK [%ld, +%ld) = -1 %s\n", (long)start, (long)len, errno_name(errno));
		return;
	}
	printf("F_GETLK [%ld, +%ld): type %s start %ld len %ld holder %s\n", (long)start, (long)len,
	       fl.l_type == F_UNLCK ? "unlocked" : fl.l_type == F_RDLCK ? "read" : "write",
	       (long)fl.l_start, (long)fl.l_len, fl.l_type == F_UNLCK ? "-" : fl.l_pid == holder ? "parent" : "other");
	fflush(stdout);
}

/* Record locks between a parent and its children: a child sees the
 * parent's locks and is refused where they conflict, a blocked F_SETLKW
 * goes on when the parent unlocks, and closing any descriptor of the file
 * drops the closer's locks. */
static void record_locks(void)
{
	int fd = SHOW(open("locked", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(range_lock(fd, F_SETLK, F_WRLCK, 10, 10));
	SHOW(range_lock(fd, F_SETLK, F_RDLCK, 30, 10));
	SHOW(range_lock(fd, F_SETLK, F_RDLCK, 40, 5));		/* merges with [30, 40) */
	fflush(stdout);
	pid_t parent = getpid(), pid = fork();
	if (pid == 0) {
		show_getlk(fd, 0, 100, parent);
		show_getlk(fd, 25, 0, parent);
		show_getlk(fd, 20, 10, parent);
		SHOW(range_lock(fd, F_SETLK, F_RDLCK, 15, 1));
		SHOW(range_lock(fd, F_SETLK, F_RDLCK, 35, 1));
		SHOW(range_lock(fd, F_SETLK, F_WRLCK, 44, 1));
		SHOW(range_lock(fd, F_SETLK, F_WRLCK, 20, 10));
		_exit(0);
	}
	EXPECT("locks-child-status", show_status("lock child", pid) == 0);
	show_getlk(fd, 0, 0, parent);				/* own locks never conflict */
	pid = fork();
	if (pid == 0) {
		int ok = range_lock(fd, F_SETLKW, F_WRLCK, 12, 1) == 0;	/* waits */
		ok &= range_lock(fd, F_SETLK, F_WRLCK, 30, 1) == 0;	/* the parent closed */
		_exit(ok ? 0 : 1);
	}
	pause_ms(150);
	SHOW(range_lock(fd, F_SETLK, F_UNLCK, 0, 0));
	int other = SHOW(open("locked", O_RDONLY));
	SHOW(close(other));
	EXPECT("locks-waiter-status", show_status("lock waiter", pid) == 0);
	SHOW(close(fd));
	SHOW(unlink("locked"));
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

static void *fifo_writer(void *arg)
{
	(void)arg;
	int fd = open("fifo", O_WRONLY);		/* waits for the reader */
	long ok = fd >= 0 && write(fd, "via fifo", 8) == 8 && close(fd) == 0;
	return (void *)ok;
}

/* FIFOs in one process: made by mkfifo and mknod, opened from both ends
 * without waiting (O_NONBLOCK, O_RDWR) and with (a thread opens the other
 * end). */
static void fifos(void)
{
	struct stat st;
	char b[16] = { 0 };
	SHOW(mkfifo("fifo", 0666));
	SHOW(stat("fifo", &st) == 0 && S_ISFIFO(st.st_mode));
	SHOW(st.st_mode & 07777);
	SHOW(mknod("fifo", S_IFIFO | 0600, 0));
	SHOW(mknod("dir", S_IFDIR | 0755, 0));
	SHOW(mknod("bad-type", 0170000 | 0600, 0));
	SHOW(mknod("reg", 0600, 0));
	SHOW(stat("reg", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0);
	SHOW(unlink("reg"));
	SHOW(mknodat(AT_FDCWD, "fifo2", S_IFIFO | 0640, 0));
	SHOW(unlink("fifo2"));
	SHOW(open("fifo", O_WRONLY | O_NONBLOCK));		/* no reader: ENXIO */
	int rd = SHOW(open("fifo", O_RDONLY | O_NONBLOCK));
	int wr = SHOW(open("fifo", O_WRONLY | O_NONBLOCK));
	SHOW(write(wr, "abc", 3));
	SHOW(read(rd, b, sizeof b));
	SHOW(read(rd, b, sizeof b));				/* empty, a writer: EAGAIN */
	SHOW(lseek(rd, 0, SEEK_SET));
	SHOW(fstat(rd, &st) == 0 && S_ISFIFO(st.st_mode));
	SHOW(close(wr));
	SHOW(read(rd, b, sizeof b));				/* no writer: EOF */
	SHOW(close(rd));
	pthread_t t;
	void *res = 0;
	SHOW(pthread_create(&t, 0, fifo_writer, 0));
	rd = open("fifo", O_RDONLY);				/* waits for the writer */
	SHOW(rd >= 0);			/* which number the two opens get is a race */
	memset(b, 0, sizeof b);
	long got = 0, n;
	while ((n = read(rd, b + got, sizeof b - 1 - (size_t)got)) > 0)
		got += n;
	printf("fifo gave \"%s\", then %ld\n", b, n);
	EXPECT("fifo-between-threads", strcmp(b, "via fifo") == 0 && n == 0);
	SHOW(pthread_join(t, &res));
	SHOW((long)res);
	SHOW(close(rd));
	int rw = SHOW(open("fifo", O_RDWR));
	SHOW(write(rw, "both", 4));
	SHOW(read(rw, b, sizeof b));
	SHOW(close(rw));
	SHOW(unlink("fifo"));
}

/* A forked child's view of descriptors whose state is its parent's own
 * (libos/vfs.h): every call fails with ENXIO, close works; the parent's
 * are untouched.  Linux shares them, so this part runs in the guest only. */
static void stale_part(void)
{
	int efd = eventfd(5, 0), ep = epoll_create1(0);
	EXPECT("stale-made", efd >= 0 && ep >= 0);
	pid_t pid = fork();
	if (pid == 0) {
		uint64_t v;
		struct stat st;
		struct epoll_event ev = { EPOLLIN, { 0 } };
		int ok = read(efd, &v, 8) == -1 && errno == ENXIO;
		ok &= fstat(efd, &st) == -1 && errno == ENXIO;
		ok &= epoll_wait(ep, &ev, 1, 0) == -1 && errno == ENXIO;
		ok &= epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) == -1 && errno == ENXIO;
		ok &= close(efd) == 0 && close(ep) == 0;
		_exit(ok ? 0 : 1);
	}
	EXPECT("stale-child-gets-enxio-and-closes", show_status("stale child", pid) == 0);
	uint64_t v = 0;
	EXPECT("stale-parent-keeps-eventfd", read(efd, &v, 8) == 8 && v == 5);
	struct epoll_event ev = { EPOLLIN, { 0 } };
	EXPECT("stale-parent-keeps-epoll", epoll_wait(ep, &ev, 1, 0) == 0);
	close(efd);
	close(ep);
}

static int flock_fd;

static void *flock_waiter(void *arg)
{
	(void)arg;
	return (void *)(long)flock(flock_fd, LOCK_EX);	/* waits for the holder */
}

/* flock locks belong to open file descriptions: two opens of one file
 * conflict even in one process; a dup shares its lock; the last close
 * drops it; a blocked flock goes on when the holder unlocks.  fcntl's own
 * checks too. */
static void flocks(void)
{
	int a = SHOW(open("lk", O_CREAT | O_RDWR | O_TRUNC, 0644));
	int b = SHOW(open("lk", O_RDWR));
	SHOW(flock(a, LOCK_EX));
	SHOW(flock(b, LOCK_EX | LOCK_NB));
	SHOW(flock(b, LOCK_SH | LOCK_NB));
	SHOW(flock(a, LOCK_UN));
	SHOW(flock(b, LOCK_SH | LOCK_NB));
	SHOW(flock(a, LOCK_SH | LOCK_NB));
	SHOW(flock(a, LOCK_EX | LOCK_NB));
	int c = SHOW(dup(b));
	SHOW(close(b));
	SHOW(flock(a, LOCK_EX | LOCK_NB));			/* the dup holds b's lock */
	SHOW(close(c));
	SHOW(flock(a, LOCK_EX | LOCK_NB));
	SHOW(flock(a, LOCK_NB));
	b = SHOW(open("lk", O_RDWR));
	flock_fd = b;
	pthread_t t;
	void *res = (void *)1;
	SHOW(pthread_create(&t, 0, flock_waiter, 0));
	pause_ms(100);
	SHOW(flock(a, LOCK_UN));
	SHOW(pthread_join(t, &res));
	EXPECT("flock-waiter-goes-on", SHOW((long)res) == 0);
	SHOW(flock(a, LOCK_SH | LOCK_NB));
	SHOW(close(b));
	SHOW(flock(a, LOCK_SH | LOCK_NB));

	SHOW(range_lock(a, F_SETLK, F_WRLCK, 0, 10));
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 5 };
	SHOW(fcntl(a, F_GETLK, &fl));
	SHOW(fl.l_type == F_UNLCK);
	SHOW(range_lock(a, F_SETLK, 7, 0, 1));
	SHOW(range_lock(a, F_SETLK, F_RDLCK, -5, 1));
	int w = SHOW(open("lk", O_WRONLY));
	SHOW(range_lock(w, F_SETLK, F_RDLCK, 0, 1));
	SHOW(close(w));
	SHOW(close(a));
	SHOW(unlink("lk"));
}

int main(int argc, char **argv)
{
	for (int fd = 3; fd < 64; fd++)
		close(fd);		/* whatever the caller left open */
	if (argc < 3 || (mkdir(argv[1], 0755) && errno != EEXIST) || chdir(argv[1])) {
		printf("usage: files_procs DIR threads|procs|all|stale\n");
		return 2;
	}
	umask(022);
	if (strcmp(argv[2], "stale") == 0) {
		stale_part();
		printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
		return failures ? 1 : 0;
	}
	if (strcmp(argv[2], "all") == 0 || strcmp(argv[2], "procs") == 0) {
		shared_files();
		pipeline();
		eof_at_exit();
		sigpipe();
		poll_across();
		mib_across();
		fifo_across();
		record_locks();
	}
	if (strcmp(argv[2], "procs") == 0) {
		printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
		return failures ? 1 : 0;
	}
	signal(SIGPIPE, SIG_IGN);
	threads_part();
	fifos();
	flocks();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
