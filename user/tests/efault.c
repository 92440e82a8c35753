/*
 * Bad pointers yield EFAULT, as on Linux (tests/suites/26-fuzz-syscalls.sh):
 * every system call that takes a pointer is made with NULL, an unmapped
 * page, the kernel's half, a read-only page (for what the call writes) and
 * a buffer that runs off the end of a mapped page into an unmapped one.
 * The raw calls go through syscall(), so on Linux no vDSO or libc wrapper
 * stands between.  Built for the guest and, with plain musl-gcc, for the
 * host; the outputs must be the same line for line.  A handler that
 * touched the pointer directly would end the program with SIGSEGV in the
 * guest instead of printing EFAULT.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "show.h"

enum { K_NULL, K_UNMAPPED, K_KERNEL, K_READONLY, K_STRADDLE, KINDS };
static const char *const kind_name[KINDS] = { "null", "unmapped", "kernel", "readonly", "straddle" };
static char *page;		/* a writable page followed by an unmapped one */
static char *ro;		/* a read-only page */

/* The bad pointer of a kind; a straddling one leaves `room` bytes before
 * the unmapped page (strings: filled with 'a', no NUL). */
static long bad(int kind, long room)
{
	switch (kind) {
	case K_NULL: return 0;
	case K_UNMAPPED: return (long)(page + 4096);
	case K_KERNEL: return (long)0xffff800000001000ull;
	case K_READONLY: return (long)ro;
	default:
		memset(page + 4096 - room, 'a', (size_t)room);
		return (long)(page + 4096 - room);
	}
}

/* Prints the result of one call with a bad pointer of each kind; `out`
 * says the call writes through it (else a read-only page is no bad
 * pointer and is skipped), `skip_null` that NULL means "none" there.
 * room 0 skips the straddling buffer: for a data transfer Linux moves the
 * bytes before the hole and returns that short count, where the library
 * OS answers EFAULT (docs/LIBOS.md). */
#define PROBE(name, out, skip_null, room, call) do { \
	for (int k = 0; k < KINDS; k++) { \
		if ((k == K_READONLY && !(out)) || (k == K_NULL && (skip_null)) || \
		    (k == K_STRADDLE && !(room))) \
			continue; \
		long p = bad(k, room); \
		char what[80]; \
		snprintf(what, sizeof what, "%s %s", name, kind_name[k]); \
		errno = 0; \
		show(what, (long)(call) < 0 ? -1 : 0); \
	} \
} while (0)

static void time_calls(void)
{
	PROBE("clock_gettime", 1, 0, 8, syscall(SYS_clock_gettime, 0, p));
	PROBE("clock_getres", 1, 1, 8, syscall(SYS_clock_getres, 0, p));
	PROBE("gettimeofday", 1, 1, 8, syscall(SYS_gettimeofday, p, 0));
	PROBE("time", 1, 1, 4, syscall(SYS_time, p));
	PROBE("clock_settime", 0, 0, 8, syscall(SYS_clock_settime, 0, p));
	PROBE("settimeofday", 0, 1, 8, syscall(SYS_settimeofday, p, 0));
	PROBE("nanosleep", 0, 0, 8, syscall(SYS_nanosleep, p, 0));
	PROBE("clock_nanosleep", 0, 0, 8, syscall(SYS_clock_nanosleep, 0, 0, p, 0));
	PROBE("times", 1, 1, 8, syscall(SYS_times, p));
	PROBE("getitimer", 1, 0, 8, syscall(SYS_getitimer, 0, p));
	PROBE("setitimer", 0, 0, 8, syscall(SYS_setitimer, 0, p, 0));
	PROBE("setitimer-old", 1, 1, 8, syscall(SYS_setitimer, 0, &(long[4]){ 0 }, p));
}

static void system_calls(void)
{
	PROBE("uname", 1, 0, 100, syscall(SYS_uname, p));
	PROBE("arch_prctl-get-fs", 1, 0, 4, syscall(SYS_arch_prctl, 0x1003, p));
	PROBE("sysinfo", 1, 0, 16, syscall(SYS_sysinfo, p));
	PROBE("getrusage", 1, 0, 16, syscall(SYS_getrusage, 0, p));
	PROBE("getrlimit", 1, 0, 8, syscall(SYS_getrlimit, 7, p));
	PROBE("prlimit64-old", 1, 1, 8, syscall(SYS_prlimit64, 0, 7, 0, p));
	PROBE("setrlimit", 0, 0, 8, syscall(SYS_setrlimit, 7, p));
	PROBE("getrandom", 1, 0, 0, syscall(SYS_getrandom, p, 16, 0));
	PROBE("sched_getaffinity", 1, 0, 4, syscall(SYS_sched_getaffinity, 0, 128, p));
	PROBE("prctl-get-name", 1, 0, 8, syscall(SYS_prctl, 16, p, 0, 0, 0));
	PROBE("prctl-set-name", 0, 0, 8, syscall(SYS_prctl, 15, p, 0, 0, 0));
	PROBE("futex-wait", 0, 0, 2, syscall(SYS_futex, p, 128, 0, 0, 0, 0));
}

static void signal_calls(void)
{
	PROBE("rt_sigaction-new", 0, 1, 8, syscall(SYS_rt_sigaction, SIGUSR1, p, 0, 8));
	PROBE("rt_sigaction-old", 1, 1, 8, syscall(SYS_rt_sigaction, SIGUSR1, 0, p, 8));
	PROBE("rt_sigprocmask-new", 0, 1, 4, syscall(SYS_rt_sigprocmask, SIG_BLOCK, p, 0, 8));
	PROBE("rt_sigprocmask-old", 1, 1, 4, syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, p, 8));
	PROBE("rt_sigpending", 1, 0, 4, syscall(SYS_rt_sigpending, p, 8));
	PROBE("sigaltstack-new", 0, 1, 8, syscall(SYS_sigaltstack, p, 0));
	PROBE("sigaltstack-old", 1, 1, 8, syscall(SYS_sigaltstack, 0, p));
	PROBE("rt_sigsuspend", 0, 0, 4, syscall(SYS_rt_sigsuspend, p, 8));
	PROBE("rt_sigtimedwait-set", 0, 0, 4, syscall(SYS_rt_sigtimedwait, p, 0, &(long[2]){ 0 }, 8));
	PROBE("timer_create-id", 1, 0, 2, syscall(SYS_timer_create, 1, 0, p));
}

static void path_calls(void)
{
	static char buf[256];
	PROBE("open", 0, 0, 3, syscall(SYS_open, p, O_RDONLY));
	PROBE("openat", 0, 0, 3, syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
	PROBE("mkdir", 0, 0, 3, syscall(SYS_mkdir, p, 0755));
	PROBE("rmdir", 0, 0, 3, syscall(SYS_rmdir, p));
	PROBE("unlink", 0, 0, 3, syscall(SYS_unlink, p));
	PROBE("chdir", 0, 0, 3, syscall(SYS_chdir, p));
	PROBE("access", 0, 0, 3, syscall(SYS_access, p, F_OK));
	PROBE("rename-from", 0, 0, 3, syscall(SYS_rename, p, "efault-x"));
	PROBE("rename-to", 0, 0, 3, syscall(SYS_rename, "efault-file", p));
	PROBE("link-to", 0, 0, 3, syscall(SYS_link, "efault-file", p));
	PROBE("symlink-target", 0, 0, 3, syscall(SYS_symlink, p, "efault-x"));
	PROBE("chmod", 0, 0, 3, syscall(SYS_chmod, p, 0644));
	PROBE("execve", 0, 0, 3, syscall(SYS_execve, p, 0, 0));
	PROBE("stat-path", 0, 0, 3, syscall(SYS_stat, p, buf));
	PROBE("stat-buf", 1, 0, 16, syscall(SYS_stat, "efault-file", p));
	PROBE("lstat-buf", 1, 0, 16, syscall(SYS_lstat, "efault-file", p));
	PROBE("newfstatat-buf", 1, 0, 16, syscall(SYS_newfstatat, AT_FDCWD, "efault-file", p, 0));
	PROBE("statx-buf", 1, 0, 16, syscall(SYS_statx, AT_FDCWD, "efault-file", 0, 0x7ff, p));
	PROBE("statfs-buf", 1, 0, 16, syscall(SYS_statfs, "/", p));
	PROBE("readlink-buf", 1, 0, 4, syscall(SYS_readlink, "efault-link", p, 64));
	PROBE("getcwd", 1, 0, 1, syscall(SYS_getcwd, p, 4096));
	PROBE("utimensat-times", 0, 0, 8, syscall(SYS_utimensat, AT_FDCWD, "efault-file", p, 0));
}

static void fd_calls(void)
{
	int fd = open("efault-file", O_RDWR);
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	PROBE("read", 1, 0, 0, syscall(SYS_read, fd, p, 16));
	PROBE("pread64", 1, 0, 0, syscall(SYS_pread64, fd, p, 16, 0));
	PROBE("write", 0, 0, 0, syscall(SYS_write, fd, p, 16));
	PROBE("pwrite64", 0, 0, 0, syscall(SYS_pwrite64, fd, p, 16, 0));
	PROBE("readv-iov", 0, 0, 8, syscall(SYS_readv, fd, p, 1));
	PROBE("writev-iov", 0, 0, 8, syscall(SYS_writev, fd, p, 1));
	PROBE("fstat", 1, 0, 16, syscall(SYS_fstat, fd, p));
	PROBE("fstatfs", 1, 0, 16, syscall(SYS_fstatfs, fd, p));
	PROBE("getdents64", 1, 0, 8, syscall(SYS_getdents64, dir, p, 4096));
	PROBE("pipe", 1, 0, 4, syscall(SYS_pipe, p));
	PROBE("pipe2", 1, 0, 4, syscall(SYS_pipe2, p, 0));
	PROBE("poll", 0, 0, 4, syscall(SYS_poll, p, 1, 0));
	PROBE("select", 0, 0, 4, syscall(SYS_select, 1, p, 0, 0, &(long[2]){ 0 }));
	int ep = epoll_create1(0);
	PROBE("epoll_ctl-event", 0, 0, 4, syscall(SYS_epoll_ctl, ep, EPOLL_CTL_ADD, fd, p));
	PROBE("fcntl-getlk", 1, 0, 8, syscall(SYS_fcntl, fd, F_GETLK, p));
	PROBE("sendfile-offset", 1, 1, 4, syscall(SYS_sendfile, fd, fd, p, 1));
	close(ep);
	close(dir);
	close(fd);
}

static void process_calls(void)
{
	/* each kind reaps its own exited child, so no earlier one answers */
	for (int k = K_UNMAPPED; k < KINDS; k++) {
		pid_t c = fork();
		if (c == 0)
			_exit(3);
		long p = bad(k, 2);
		char what[80];
		snprintf(what, sizeof what, "wait4-status %s", kind_name[k]);
		errno = 0;
		show(what, syscall(SYS_wait4, c, p, 0, 0) < 0 ? -1 : 0);
		waitpid(c, 0, WNOHANG);
	}
	int tid;
	PROBE("set_tid_address", 0, 1, 4, (tid = (int)syscall(SYS_set_tid_address, p)) < 0 ? -1 : 0);
	syscall(SYS_set_tid_address, &tid);
}

int main(void)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	page = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ro = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT("setup-mmap", page != MAP_FAILED && ro != MAP_FAILED && munmap(page + 4096, 4096) == 0);
	int fd = open("efault-file", O_RDWR | O_CREAT | O_TRUNC, 0644);
	EXPECT("setup-file", fd >= 0 && write(fd, "0123456789abcdefghij", 20) == 20 &&
	       symlink("efault-file", "efault-link") == 0);
	close(fd);
	time_calls();
	system_calls();
	signal_calls();
	path_calls();
	fd_calls();
	process_calls();
	unlink("efault-link");
	unlink("efault-file");
	EXPECT("survived-every-bad-pointer", 1);
	return failures ? 1 : 0;
}
