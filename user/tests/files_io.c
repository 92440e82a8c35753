/* POSIX file I/O: open/creat, read/write, pread/pwrite, readv/writev, lseek,
 * ftruncate, dup/dup2/dup3, fcntl, pipes, devices, descriptor limits, fork
 * inheriting descriptors, and bad pointers.  Run in a fresh directory
 * (argv[1] is made and entered); the output is compared with the same
 * program built with musl-gcc and run on Linux. */
#include <sys/sendfile.h>
#include <sys/prctl.h>
#include <sys/sysinfo.h>
#include "check.h"
#include "show.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define BAD ((void *)16)
#define KERNEL ((void *)0xffff800000001000ull)
#define NONCANONICAL ((void *)0x0000800000000000ull)

static void basic_io(void)
{
	char buf[64] = { 0 };
	int fd = SHOW(open("f", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(write(fd, "hello world", 11));
	SHOW(lseek(fd, 0, SEEK_CUR));
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(read(fd, buf, 5));
	EXPECT("read-data", memcmp(buf, "hello", 5) == 0);
	SHOW(pread(fd, buf, 5, 6));
	EXPECT("pread-data", memcmp(buf, "world", 5) == 0);
	SHOW(lseek(fd, 0, SEEK_CUR));
	SHOW(pwrite(fd, "W", 1, 6));
	SHOW(pread(fd, buf, 11, 0));
	EXPECT("pwrite-data", memcmp(buf, "hello World", 11) == 0);
	SHOW(lseek(fd, 100, SEEK_SET));
	SHOW(write(fd, "x", 1));
	struct stat st;
	SHOW(fstat(fd, &st));
	SHOW(st.st_size);
	SHOW(S_ISREG(st.st_mode));
	memset(buf, 'q', sizeof buf);
	SHOW(pread(fd, buf, 10, 50));
	EXPECT("hole-reads-zero", buf[0] == 0 && buf[9] == 0 && buf[10] == 'q');
	SHOW(pread(fd, buf, 10, 200));
	SHOW(lseek(fd, -1, SEEK_END));
	SHOW(lseek(fd, -1000, SEEK_CUR));
	SHOW(lseek(fd, 0, 9));
	SHOW(pread(fd, buf, 1, -1));
	SHOW(pwrite(fd, buf, 1, -5));

	/* readv and writev */
	struct iovec w[3] = { { "ab", 2 }, { "", 0 }, { "cdef", 4 } };
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(writev(fd, w, 3));
	char r1[3] = { 0 }, r2[5] = { 0 };
	struct iovec r[2] = { { r1, 2 }, { r2, 4 } };
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(readv(fd, r, 2));
	EXPECT("readv-data", strcmp(r1, "ab") == 0 && strcmp(r2, "cdef") == 0);
	SHOW(readv(fd, r, -1));
	SHOW(preadv(fd, r, 2, 6));
	SHOW(pwritev(fd, w, 3, 1));

	/* ftruncate and truncate */
	SHOW(ftruncate(fd, 3));
	SHOW(fstat(fd, &st) == 0 ? st.st_size : -1);
	SHOW(ftruncate(fd, 8192));
	SHOW(pread(fd, buf, 4, 1));
	EXPECT("truncate-zero-fills", buf[0] == 'a' && buf[1] == 'b' && buf[2] == 0 && buf[3] == 0);
	SHOW(ftruncate(fd, -1));
	SHOW(truncate("f", 2));
	SHOW(stat("f", &st) == 0 ? st.st_size : -1);
	SHOW(truncate("missing", 2));
	SHOW(truncate(".", 2));
	SHOW(fsync(fd));
	SHOW(fdatasync(fd));
	SHOW(close(fd));
	SHOW(close(fd));

	/* access modes, O_APPEND, O_EXCL, O_TRUNC, creat */
	fd = SHOW(open("f", O_RDONLY));
	SHOW(write(fd, "x", 1));
	SHOW(ftruncate(fd, 0));
	SHOW(close(fd));
	fd = SHOW(open("f", O_WRONLY | O_APPEND));
	SHOW(read(fd, buf, 1));
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(write(fd, "zz", 2));
	SHOW(lseek(fd, 0, SEEK_CUR));
	SHOW(close(fd));
	SHOW(open("f", O_CREAT | O_EXCL | O_RDWR, 0644));
	SHOW(open("f", O_RDONLY | O_DIRECTORY));
	SHOW(open("f/", O_RDONLY));
	SHOW(open("newfile/", O_CREAT | O_RDWR, 0644));
	SHOW(open("missing", O_RDONLY));
	SHOW(open("missing/x", O_CREAT | O_RDWR, 0644));
	SHOW(open("f/x", O_CREAT | O_RDWR, 0644));
	SHOW(open("", O_RDONLY));
	SHOW(open(".", O_WRONLY));
	SHOW(open(".", O_RDWR | O_CREAT, 0644));
	fd = SHOW(open(".", O_RDONLY));
	SHOW(read(fd, buf, 1));
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(close(fd));
	fd = SHOW(open("f", O_RDWR | O_TRUNC));
	SHOW(fstat(fd, &st) == 0 ? st.st_size : -1);
	SHOW(close(fd));
	fd = SHOW(creat("c", 0600));
	SHOW(write(fd, "c", 1));
	SHOW(read(fd, buf, 1));
	SHOW(close(fd));

	/* O_PATH: a handle for the *at calls and fstat, not for I/O */
	fd = SHOW(open("f", O_PATH));
	SHOW(read(fd, buf, 1));
	SHOW(write(fd, "x", 1));
	SHOW(fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
	SHOW(fcntl(fd, F_GETFL) & O_PATH);
	SHOW(close(fd));
	SHOW(symlink("f", "fl"));
	fd = SHOW(open("fl", O_PATH | O_NOFOLLOW));
	SHOW(fstat(fd, &st) == 0 && S_ISLNK(st.st_mode));
	SHOW(close(fd));

	/* bad descriptors */
	SHOW(read(999, buf, 1));
	SHOW(write(-1, buf, 1));
	SHOW(close(999));
	SHOW(lseek(999, 0, SEEK_SET));
	SHOW(fstat(999, &st));
	SHOW(ftruncate(999, 0));
	SHOW(fsync(-5));
	SHOW(dup(999));
	SHOW(ioctl(999, FIONREAD, &fd));
}

static void dups_and_fcntl(void)
{
	char buf[8] = { 0 };
	int fd = SHOW(open("d1", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(write(fd, "0123456789", 10));
	int d = SHOW(dup(fd));
	SHOW(lseek(d, 2, SEEK_SET));
	SHOW(lseek(fd, 0, SEEK_CUR));
	SHOW(read(fd, buf, 2));
	EXPECT("dup-shares-offset", memcmp(buf, "23", 2) == 0);
	SHOW(dup2(fd, 20));
	SHOW(dup2(fd, fd));
	SHOW(dup2(999, 21));
	SHOW(dup2(fd, -1));
	SHOW(dup3(fd, fd, 0));
	SHOW(dup3(fd, 22, 12345));
	SHOW(dup3(fd, 22, O_CLOEXEC));
	SHOW(fcntl(22, F_GETFD));
	SHOW(fcntl(20, F_GETFD));
	SHOW(fcntl(20, F_SETFD, FD_CLOEXEC));
	SHOW(fcntl(20, F_GETFD));
	SHOW(fcntl(fd, F_DUPFD, 10));
	SHOW(fcntl(fd, F_DUPFD_CLOEXEC, 10));
	SHOW(fcntl(11, F_GETFD));
	SHOW(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
	SHOW(fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK | O_RDONLY));
	SHOW(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
	SHOW(fcntl(d, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
	SHOW(fcntl(fd, 9999));
	SHOW(fcntl(999, F_GETFD));
	SHOW(ioctl(fd, FIOCLEX));
	SHOW(fcntl(fd, F_GETFD));
	SHOW(ioctl(fd, FIONCLEX));
	SHOW(fcntl(fd, F_GETFD));
	SHOW(ioctl(fd, TIOCGWINSZ, buf));
	int cl = SHOW(open("d1", O_RDONLY | O_CLOEXEC));
	SHOW(fcntl(cl, F_GETFD));
	for (int i = 10; i <= 22; i++)
		close(i);
	close(cl);
	close(d);
	SHOW(close(fd));

	/* the descriptor limit */
	struct rlimit old, lim;
	SHOW(getrlimit(RLIMIT_NOFILE, &old));
	lim = (struct rlimit){ 64, old.rlim_max };	/* raising a hard limit may need privilege */
	SHOW(setrlimit(RLIMIT_NOFILE, &lim));
	struct rlimit now;
	SHOW(getrlimit(RLIMIT_NOFILE, &now) == 0 ? (long)now.rlim_cur : -1);
	int last = -1, got;
	while ((got = dup(0)) >= 0)
		last = got;
	SHOW(got);
	SHOW(last);
	SHOW(fcntl(0, F_DUPFD, 64));
	SHOW(dup2(0, 64));
	SHOW(open("missing", O_RDONLY));
	SHOW(open("made-at-emfile", O_CREAT | O_RDWR, 0644));
	SHOW(access("made-at-emfile", F_OK));
	int pp[2];
	SHOW(pipe(pp));
	for (int i = 3; i <= last; i++)
		close(i);
	lim = (struct rlimit){ 200, 100 };
	SHOW(setrlimit(RLIMIT_NOFILE, &lim));
	SHOW(setrlimit(RLIMIT_NOFILE, &old));
}

static void pipes(void)
{
	int p[2];
	char buf[16] = { 0 };
	SHOW(pipe(p));
	SHOW(write(p[1], "abc", 3));
	int n = -1;
	SHOW(ioctl(p[0], FIONREAD, &n));
	SHOW(n);
	SHOW(read(p[0], buf, sizeof buf));
	EXPECT("pipe-data", memcmp(buf, "abc", 3) == 0);
	SHOW(lseek(p[0], 0, SEEK_SET));
	SHOW(pread(p[0], buf, 1, 0));
	SHOW(read(p[1], buf, 1));
	SHOW(write(p[0], "x", 1));
	SHOW(fsync(p[1]));
	struct stat st;
	SHOW(fstat(p[0], &st) == 0 && S_ISFIFO(st.st_mode));
	SHOW(fcntl(p[0], F_GETFL) & O_ACCMODE);
	SHOW(fcntl(p[1], F_GETFL) & O_ACCMODE);
	SHOW(fcntl(p[0], F_SETFL, O_NONBLOCK));
	SHOW(read(p[0], buf, 1));
	SHOW(close(p[1]));
	SHOW(read(p[0], buf, 1));
	SHOW(close(p[0]));
	SHOW(pipe2(p, O_CLOEXEC | O_NONBLOCK));
	SHOW(fcntl(p[0], F_GETFD));
	SHOW(fcntl(p[1], F_GETFL) & O_NONBLOCK);
	SHOW(close(p[0]));
	SHOW(write(p[1], "x", 1));		/* no reader: EPIPE (SIGPIPE is ignored) */
	SHOW(close(p[1]));
	SHOW(pipe2(p, 0x4));
	/* a pipe holds 64 KiB; a full one refuses more without blocking */
	SHOW(pipe2(p, O_NONBLOCK));
	static char big[70000];
	SHOW(write(p[1], big, sizeof big));
	SHOW(write(p[1], big, 1));
	SHOW(read(p[0], big, sizeof big));
	close(p[0]);
	close(p[1]);
}

static void devices(void)
{
	char buf[32];
	struct stat st;
	int fd = SHOW(open("/dev/null", O_RDWR));
	SHOW(write(fd, "x", 1));
	SHOW(read(fd, buf, sizeof buf));
	SHOW(lseek(fd, 10, SEEK_SET));
	SHOW(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode));
	SHOW(major(st.st_rdev));
	SHOW(minor(st.st_rdev));
	SHOW(close(fd));
	fd = SHOW(open("/dev/zero", O_RDONLY));
	memset(buf, 1, sizeof buf);
	SHOW(read(fd, buf, sizeof buf));
	EXPECT("dev-zero-zeros", buf[0] == 0 && buf[31] == 0);
	SHOW(close(fd));
	fd = SHOW(open("/dev/full", O_WRONLY));
	SHOW(write(fd, "x", 1));
	SHOW(close(fd));
	char a[16], b[16];
	fd = SHOW(open("/dev/urandom", O_RDONLY));
	SHOW(read(fd, a, sizeof a));
	SHOW(read(fd, b, sizeof b));
	EXPECT("dev-urandom-differs", memcmp(a, b, sizeof a) != 0);
	SHOW(close(fd));
	fd = SHOW(open("/dev/random", O_RDONLY));
	SHOW(read(fd, a, sizeof a));
	SHOW(close(fd));
	SHOW(stat("/dev/zero", &st) == 0 ? (long)minor(st.st_rdev) : -1);
	SHOW(stat("/dev/urandom", &st) == 0 ? (long)minor(st.st_rdev) : -1);
	SHOW(stat("/dev/tty", &st) == 0 && S_ISCHR(st.st_mode));
	SHOW(stat("/dev/console", &st) == 0 && S_ISCHR(st.st_mode));
	SHOW(open("/dev/nonexistent", O_RDONLY));
}

/* Bad pointers: EFAULT, never a crash. */
static void bad_pointers(void)
{
	struct stat st;
	int fd = SHOW(open("bp", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(write(fd, "data", 4));
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(read(fd, BAD, 4));
	SHOW(read(fd, KERNEL, 4));
	SHOW(write(fd, BAD, 4));
	SHOW(write(fd, KERNEL, 4));
	SHOW(write(1, BAD, 4));
	SHOW(read(fd, NONCANONICAL, 4));
	SHOW(write(fd, NONCANONICAL, 4));
	SHOW(open(NONCANONICAL, O_RDONLY));
	SHOW(pread(fd, BAD, 4, 0));
	SHOW(pwrite(fd, KERNEL, 4, 0));
	SHOW(readv(fd, BAD, 1));
	struct iovec iv = { BAD, 4 };
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(readv(fd, &iv, 1));
	SHOW(writev(fd, &iv, 1));
	unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	SHOW(pread(fd, ro, 4, 0));
	SHOW(write(fd, ro, 4));
	SHOW(open(BAD, O_RDONLY));
	SHOW(open(KERNEL, O_RDONLY));
	SHOW(syscall(SYS_fstat, fd, BAD));	/* musl's wrappers convert through a copy */
	SHOW(syscall(SYS_stat, "bp", KERNEL));
	SHOW(syscall(SYS_newfstatat, AT_FDCWD, "bp", BAD, 0));
	SHOW(stat(BAD, &st));
	SHOW(syscall(SYS_pipe, BAD));
	SHOW(syscall(SYS_getcwd, BAD, 100));
	SHOW(syscall(SYS_getdents64, fd, BAD, 100));
	SHOW(mkdir(BAD, 0755));
	SHOW(unlink(KERNEL));
	SHOW(rename("bp", BAD));
	SHOW(symlink(BAD, "sl"));
	SHOW(readlink(BAD, (char *)&st, 10));
	SHOW(ioctl(fd, FIONREAD, BAD));
	SHOW(close(fd));
	SHOW(stat("bp", &st) == 0 ? st.st_size : -1);
}

/* File data is given back: 17 files of 16 MiB, one byte written per page,
 * each removed before the next, are more pages than a program may hold
 * resident (65,536). */
static void reuse(void)
{
	long written = 0;
	for (int i = 0; i < 17; i++) {
		int fd = open("big", O_CREAT | O_WRONLY | O_TRUNC, 0644);
		for (long off = 0; fd >= 0 && off < (16l << 20); off += 4096)
			written += pwrite(fd, "r", 1, off) == 1;
		if (fd < 0 || close(fd) || unlink("big"))
			break;
	}
	SHOW(written);
	/* a sparse file of 1 TiB holds one page of data */
	int fd = SHOW(open("sparse", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(pwrite(fd, "e", 1, (1l << 40) - 1));
	struct stat st;
	SHOW(fstat(fd, &st) == 0 ? st.st_size == 1l << 40 : -1);
	char buf[8] = { 1 };
	SHOW(pread(fd, buf, 8, 1l << 39));
	SHOW(buf[0] == 0 && buf[7] == 0);
	SHOW(pread(fd, buf, 8, (1l << 40) - 1));
	SHOW(buf[0]);
	SHOW(pwrite(fd, "e", 1, 1l << 45));
	SHOW(ftruncate(fd, 4097));
	SHOW(pread(fd, buf, 8, 4090));
	SHOW(ftruncate(fd, 1l << 45));
	SHOW(close(fd));
	SHOW(unlink("sparse"));
}

/* An epoll registration belongs to the open file description (epoll(7)):
 * a dup keeps it after the registered number closes, and the last close
 * drops it, so a new file given the old number is not reported. */
static void epoll_lifetimes(void)
{
	int ep = epoll_create1(0), p[2], q[2], r[2];
	struct epoll_event one = { EPOLLIN, { .u64 = 1 } }, two = { EPOLLIN, { .u64 = 2 } }, got[4];
	SHOW(pipe(p));
	SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &one));
	SHOW(close(p[0]));
	SHOW(eventfd(1, 0) == p[0]);			/* the number back, on a ready file */
	long stale = SHOW(epoll_wait(ep, got, 4, 0));
	SHOW(close(p[0]));
	SHOW(pipe(q) == 0 && q[0] == p[0]);		/* and on a new pipe */
	SHOW(write(q[1], "x", 1));
	SHOW(epoll_wait(ep, got, 4, 0));
	SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, q[0], 0));
	SHOW(epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &two));
	int d = SHOW(dup(q[0]));
	SHOW(close(q[0]));
	long n = SHOW(epoll_wait(ep, got, 4, 0));
	SHOW(n == 1 ? (long)got[0].data.u64 : -1);
	SHOW(epoll_ctl(ep, EPOLL_CTL_DEL, d, 0));	/* the key is (file, old number) */
	SHOW(close(d));
	SHOW(pipe(r) == 0 && r[0] == q[0]);
	SHOW(write(r[1], "y", 1));
	stale += SHOW(epoll_wait(ep, got, 4, 0));
	EXPECT("epoll-dup-keeps-last-close-drops", stale == 0 && n == 1);
	close(p[1]);
	close(q[1]);
	close(r[0]);
	close(r[1]);
	close(ep);
}

/* A forked child inherits the descriptors; its closes are its own. */
static void fork_inherits(void)
{
	int fd = SHOW(open("fk", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(write(fd, "before-fork", 11));
	static char cow[3 * 4096];
	memset(cow, 'c', sizeof cow - 2);
	memcpy(cow + sizeof cow - 2, "ow", 2);	/* resident before the fork */
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		char buf[16] = { 0 };
		int ok = pread(fd, buf, 11, 0) == 11 && memcmp(buf, "before-fork", 11) == 0;
		ok &= close(fd) == 0 && close(fd) == -1 && errno == EBADF;
		_exit(ok ? 7 : 1);
	}
	/* musl's memmove copies an overlap backwards (std; rep movsb; cld):
	 * its first write to a page fork made copy-on-write faults with the
	 * direction flag set, and the fault handler must not copy backwards */
	volatile size_t n = sizeof cow - 1;
	memmove(cow + 1, cow, n);
	SHOW(cow[0] == 'c' && cow[1] == 'c' && cow[n] == 'o' && cow[n - 1] == 'c');
	int status = 0;
	SHOW(waitpid(pid, &status, 0) == pid);
	SHOW(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	SHOW(write(fd, "+", 1));
	SHOW(close(fd));
}

/* sendfile from a file, at an offset and at the position, to a file and
 * a pipe; prctl's name; sysinfo answers. */
static void sendfile_prctl_sysinfo(void)
{
	int in = SHOW(open("sf-in", O_CREAT | O_RDWR | O_TRUNC, 0644));
	SHOW(write(in, "0123456789abcdef", 16));
	int out = SHOW(open("sf-out", O_CREAT | O_RDWR | O_TRUNC, 0644));
	off_t off = 4;
	SHOW(sendfile(out, in, &off, 6));
	SHOW(off);
	SHOW(lseek(in, 0, SEEK_CUR));
	SHOW(lseek(in, 10, SEEK_SET));
	SHOW(sendfile(out, in, NULL, 100));
	SHOW(lseek(in, 0, SEEK_CUR));
	char buf[32] = { 0 };
	SHOW(pread(out, buf, sizeof buf - 1, 0));
	printf("sendfile copied '%s'\n", buf);
	int p[2];
	SHOW(pipe(p));
	off = 0;
	SHOW(sendfile(p[1], in, &off, 5));
	memset(buf, 0, sizeof buf);
	SHOW(read(p[0], buf, sizeof buf - 1));
	printf("through the pipe '%s'\n", buf);
	off = -1;
	SHOW(sendfile(out, in, &off, 1));
	SHOW(sendfile(out, 999, NULL, 1));
	SHOW(sendfile(out, in, (off_t *)8, 1));
	close(p[0]);
	close(p[1]);
	close(in);
	close(out);

	char name[16] = { 0 };
	SHOW(prctl(PR_SET_NAME, "files-io-test"));
	SHOW(prctl(PR_GET_NAME, name));
	printf("name '%s'\n", name);
	SHOW(prctl(PR_SET_DUMPABLE, 5));
	SHOW(prctl(0x7fff, 0));
	struct sysinfo si;
	memset(&si, 0, sizeof si);
	SHOW(sysinfo(&si));
	printf("sysinfo sane %d\n", si.procs >= 1 && si.totalram >= si.freeram && si.freeram > 0 && si.mem_unit == 1);
	SHOW(sysinfo((struct sysinfo *)8));
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	for (int fd = 3; fd < 64; fd++)
		close(fd);		/* whatever the caller left open */
	if (argc < 2 || (mkdir(argv[1], 0755) && errno != EEXIST) || chdir(argv[1])) {
		printf("usage: files_io DIR (made and entered)\n");
		return 2;
	}
	umask(022);
	basic_io();
	dups_and_fcntl();
	pipes();
	epoll_lifetimes();
	devices();
	bad_pointers();
	reuse();
	fork_inherits();
	sendfile_prctl_sysinfo();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
