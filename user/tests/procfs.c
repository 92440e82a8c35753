/*
 * The procfs (libos/procfs.c), checked against what the program knows of
 * itself, the same way in the guest and on Linux (tests/suites/
 * 29-procfs.sh compares the outputs): /proc/self and its status, stat,
 * cmdline, environ, fd/, cwd, exe (after an execve) and maps; a child's
 * entries while it runs, as a zombie and after it is reaped; the machine's
 * files (meminfo, uptime, loadavg, stat, mounts, filesystems, cpuinfo,
 * version) parsed as BusyBox parses them; statfs on /proc and /tmp.
 *   procfs                 the checks
 *   procfs exec PATH       execs PATH (this program) to check exe there
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

/* The whole of a /proc file (NUL-terminated; *len without it). */
static char *slurp(const char *path, size_t *len)
{
	static char buf[65536];
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	ssize_t r;
	if (fd < 0)
		return 0;
	while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* The number after "Name:" in a status-like file, or -1. */
static long field(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : 0)
		if (strncmp(s, name, n) == 0 && s[n] == ':')
			return strtol(s + n + 1, 0, 10);
	return -1;
}

static int has_line_starting(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : 0)
		if (strncmp(s, prefix, n) == 0)
			return 1;
	return 0;
}

static const char *base_name(const char *p)
{
	const char *b = strrchr(p, '/');
	return b ? b + 1 : p;
}

static void check_self_link(void)
{
	char buf[64], want[32];
	ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
	snprintf(want, sizeof want, "%d", (int)getpid());
	EXPECT("self-links-to-pid", n > 0 && (buf[n] = 0, strcmp(buf, want) == 0));
	struct stat st;
	EXPECT("self-is-a-symlink", lstat("/proc/self", &st) == 0 && S_ISLNK(st.st_mode));
	EXPECT("self-resolves-to-a-directory", stat("/proc/self", &st) == 0 && S_ISDIR(st.st_mode));
}

static void check_status(const char *argv0)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, 0);
	char *s = slurp("/proc/self/status", 0);
	EXPECT("status-reads", s != 0);
	if (!s)
		return;
	char name[32];
	snprintf(name, sizeof name, "Name:\t%.15s\n", base_name(argv0));
	EXPECT("status-name-is-the-program", strncmp(s, name, strlen(name)) == 0);
	EXPECT("status-pid", field(s, "Pid") == getpid() && field(s, "Tgid") == getpid());
	EXPECT("status-ppid", field(s, "PPid") == getppid());
	EXPECT("status-state-running", strstr(s, "\nState:\tR (running)\n") != 0);
	EXPECT("status-uid-root-4-fields", strstr(s, "\nUid:\t0\t0\t0\t0\n") != 0);
	EXPECT("status-threads-1", field(s, "Threads") == 1);
	EXPECT("status-vmrss-kb", field(s, "VmRSS") > 0 && strstr(s, " kB\n") != 0);
	EXPECT("status-vmsize-above-rss", field(s, "VmSize") >= field(s, "VmRSS"));
	EXPECT("status-sigblk-has-sigusr1", strstr(s, "\nSigBlk:\t0000000000000200\n") != 0);
	sigprocmask(SIG_UNBLOCK, &set, 0);
}

/* /proc/PID/stat as BusyBox's ps reads it: "pid (comm) state ppid pgrp
 * session tty tpgid ..." with 52 fields. */
static void check_stat(const char *argv0)
{
	char *s = slurp("/proc/self/stat", 0), comm[64], state = 0;
	int pid = 0, ppid = 0, pgrp = 0, sid = 0, fields = 0;
	EXPECT("stat-reads", s != 0);
	if (!s)
		return;
	char *close_paren = strrchr(s, ')');
	EXPECT("stat-comm-in-parens", close_paren && sscanf(s, "%d (%63[^)])", &pid, comm) == 2);
	if (!close_paren)
		return;
	sscanf(close_paren + 2, "%c %d %d %d", &state, &ppid, &pgrp, &sid);
	for (char *t = strtok(close_paren + 1, " \n"); t; t = strtok(0, " \n"))
		fields++;
	char want[16];
	snprintf(want, sizeof want, "%.15s", base_name(argv0));
	EXPECT("stat-pid-comm", pid == getpid() && strcmp(comm, want) == 0);
	EXPECT("stat-state-ppid-pgrp-sid", state == 'R' && ppid == getppid() && pgrp == getpgrp() &&
		sid == getsid(0));
	EXPECT("stat-has-52-fields", fields + 2 == 52);
}

static void check_cmdline_environ(int argc, char **argv)
{
	char want[8192];
	size_t n = 0, len;
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;
		memcpy(want + n, argv[i], l);
		n += l;
	}
	char *s = slurp("/proc/self/cmdline", &len);
	EXPECT("cmdline-is-argv", s && len == n && memcmp(s, want, n) == 0);
	n = 0;
	for (char **e = environ; *e && n + strlen(*e) + 1 < sizeof want; e++) {
		size_t l = strlen(*e) + 1;
		memcpy(want + n, *e, l);
		n += l;
	}
	s = slurp("/proc/self/environ", &len);
	EXPECT("environ-is-envp", s && len == n && memcmp(s, want, n) == 0);
	s = slurp("/proc/self/comm", 0);
	char comm[32];
	snprintf(comm, sizeof comm, "%.15s\n", base_name(argv[0]));
	EXPECT("comm-is-the-name", s && strcmp(s, comm) == 0);
}

/* Whether /proc/self/fd lists descriptor fd. */
static int fd_listed(int fd)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int found = 0;
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && atoi(e->d_name) == fd)
			found = 1;
	closedir(d);
	return found;
}

static void check_fds(void)
{
	char cwd[512], want[600], got[600];
	int fd = open("procfs-file", O_CREAT | O_RDWR | O_TRUNC, 0644);
	EXPECT("fd-file-opens", fd >= 0 && dup2(fd, 7) == 7);
	close(fd);
	EXPECT("fd-lists-0-1-2-7", fd_listed(0) == 1 && fd_listed(1) == 1 && fd_listed(2) == 1 &&
		fd_listed(7) == 1);
	EXPECT("fd-does-not-list-9", fd_listed(9) == 0);
	getcwd(cwd, sizeof cwd);
	snprintf(want, sizeof want, "%s/procfs-file", strcmp(cwd, "/") ? cwd : "");
	ssize_t n = readlink("/proc/self/fd/7", got, sizeof got - 1);
	EXPECT("fd-link-is-the-path", n > 0 && (got[n] = 0, strcmp(got, want) == 0));
	struct stat a, b;
	EXPECT("fd-link-opens-the-file", stat("/proc/self/fd/7", &a) == 0 && fstat(7, &b) == 0 &&
		a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	close(7);
	EXPECT("fd-closed-is-gone", fd_listed(7) == 0 && readlink("/proc/self/fd/7", got, sizeof got) < 0 &&
		errno == ENOENT);
	int p[2];
	pipe(p);
	snprintf(want, sizeof want, "/proc/self/fd/%d", p[0]);
	n = readlink(want, got, sizeof got - 1);
	EXPECT("fd-pipe-link", n > 6 && (got[n] = 0, strncmp(got, "pipe:[", 6) == 0) && got[n - 1] == ']');
	close(p[0]);
	close(p[1]);
	unlink("procfs-file");
	n = readlink("/proc/self/cwd", got, sizeof got - 1);
	EXPECT("cwd-link-is-getcwd", n > 0 && (got[n] = 0, strcmp(got, cwd) == 0));
}

/* maps: one line per mapping, the stack named, holding a local. */
static void check_maps(void)
{
	char *s = slurp("/proc/self/maps", 0);
	int local = 0, stack_ok = 0, lines = 0, format_ok = 1;
	unsigned long here = (unsigned long)&local;
	EXPECT("maps-reads", s != 0);
	for (char *l = s; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : 0) {
		unsigned long lo, hi, off, ino;
		char perms[5], dev[8];
		if (sscanf(l, "%lx-%lx %4s %lx %7s %lu", &lo, &hi, perms, &off, dev, &ino) != 6 || lo >= hi)
			format_ok = 0;
		lines++;
		char *nl = strchr(l, '\n');
		if (nl && nl - l > 7 && strncmp(nl - 7, "[stack]", 7) == 0 && here >= lo && here < hi &&
		    perms[0] == 'r' && perms[1] == 'w')
			stack_ok = 1;
	}
	EXPECT("maps-format", lines > 2 && format_ok);
	EXPECT("maps-has-the-stack", stack_ok);

	/* a shared file mapping: 's', its offset, its path */
	int fd = open("mapped.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *p = fd >= 0 && ftruncate(fd, 3 * 4096) == 0 ?
		  mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 8192) : MAP_FAILED;
	char want[600], cwd[512], line[64];
	if (!getcwd(cwd, sizeof cwd) || strcmp(cwd, "/") == 0)
		cwd[0] = 0;			/* the root: "/mapped.dat" */
	snprintf(want, sizeof want, "%s/mapped.dat\n", cwd);
	snprintf(line, sizeof line, "%08lx-%08lx rw-s 00002000 ", (unsigned long)p, (unsigned long)p + 4096);
	s = slurp("/proc/self/maps", 0);
	char *at = p != MAP_FAILED && s ? strstr(s, line) : 0, *nl = at ? strchr(at, '\n') : 0;
	EXPECT("maps-shared-file-line", at != 0);
	EXPECT("maps-shared-file-path", nl && nl - at >= (long)strlen(want) - 1 &&
	       strncmp(nl + 1 - strlen(want), want, strlen(want)) == 0);
	if (p != MAP_FAILED)
		munmap(p, 4096);
	close(fd);
	unlink("mapped.dat");
}

/* A child: listed while it runs, 'Z' once it ended, gone once reaped. */
static void check_child(void)
{
	int p[2];
	char path[64], buf[16];
	pipe(p);
	pid_t c = fork();
	if (c == 0) {
		close(p[1]);
		read(p[0], buf, 1);
		_exit(3);
	}
	close(p[0]);
	snprintf(path, sizeof path, "/proc/%d/stat", (int)c);
	char *s = slurp(path, 0), state = 0;
	int pid = 0, ppid = 0;
	if (s && strrchr(s, ')'))
		sscanf(strrchr(s, ')') + 2, "%c %d", &state, &ppid);
	sscanf(s ? s : "", "%d", &pid);
	EXPECT("child-stat", pid == c && ppid == getpid() && state != 'Z' && state != 0);
	DIR *d = opendir("/proc");
	struct dirent *e;
	int listed = 0, me = 0, self = 0;
	while (d && (e = readdir(d))) {
		listed |= atoi(e->d_name) == c;
		me |= atoi(e->d_name) == getpid();
		self |= strcmp(e->d_name, "self") == 0;
	}
	if (d)
		closedir(d);
	EXPECT("proc-lists-child-self-and-us", listed && me && self);
	write(p[1], "x", 1);
	close(p[1]);
	siginfo_t si;
	waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT);
	s = slurp(path, 0);
	EXPECT("zombie-state-Z", s && strrchr(s, ')') && strrchr(s, ')')[2] == 'Z');
	int held = open(path, O_RDONLY);	/* kept open past the reaping */
	waitpid(c, 0, 0);
	snprintf(path, sizeof path, "/proc/%d", (int)c);
	struct stat st;
	EXPECT("reaped-child-is-gone", stat(path, &st) < 0 && errno == ENOENT);
	EXPECT("reaped-child-open-file-esrch", held >= 0 && read(held, buf, sizeof buf) < 0 && errno == ESRCH);
	EXPECT("proc-still-works", slurp("/proc/self/stat", 0) != 0 && close(held) == 0);
}

static void check_machine(void)
{
	char *s = slurp("/proc/meminfo", 0);
	long total = s ? field(s, "MemTotal") : -1, free_kb = s ? field(s, "MemFree") : -1;
	EXPECT("meminfo-total-free", total > 0 && free_kb > 0 && free_kb <= total &&
		field(s, "MemAvailable") >= 0);
	EXPECT("meminfo-line-format", s && strncmp(s, "MemTotal:", 9) == 0 && strstr(s, " kB\nMemFree:"));
	double up = -1, idle = -1;
	s = slurp("/proc/uptime", 0);
	EXPECT("uptime-two-numbers", s && sscanf(s, "%lf %lf", &up, &idle) == 2 && up > 0 && idle >= 0);
	double l1, l5, l15;
	int run, all, last;
	s = slurp("/proc/loadavg", 0);
	EXPECT("loadavg-format", s && sscanf(s, "%lf %lf %lf %d/%d %d", &l1, &l5, &l15, &run, &all, &last) == 6 &&
		run >= 1 && all >= run && last > 0);
	unsigned long long u, n, sy, id;
	s = slurp("/proc/stat", 0);
	EXPECT("stat-cpu-line", s && sscanf(s, "cpu %llu %llu %llu %llu", &u, &n, &sy, &id) == 4 &&
		has_line_starting(s, "cpu0 ") && has_line_starting(s, "btime "));
	s = slurp("/proc/mounts", 0);
	EXPECT("mounts-root-and-proc", s && (strstr(s, " / ") != 0) && strstr(s, " /proc proc ") != 0);
	s = slurp("/proc/filesystems", 0);
	EXPECT("filesystems-has-proc", s && strstr(s, "nodev\tproc\n") != 0);
	s = slurp("/proc/cpuinfo", 0);
	EXPECT("cpuinfo-processor-0", s && has_line_starting(s, "processor\t: 0") &&
		has_line_starting(s, "vendor_id\t: "));
	s = slurp("/proc/version", 0);
	EXPECT("version-line", s && strstr(s, " version ") != 0);
	struct statfs fs;
	EXPECT("statfs-proc", statfs("/proc", &fs) == 0 && fs.f_type == 0x9fa0);
	EXPECT("statfs-root-sizes", statfs("/", &fs) == 0 && fs.f_blocks > 0 && fs.f_bfree <= fs.f_blocks &&
		fs.f_bsize > 0);
	EXPECT("mkdir-in-proc-fails", mkdir("/proc/procfs-test", 0755) < 0);
}

/* The image execve started: exe names the file it was started from. */
static int exec_mode(const char *path)
{
	char got[512];
	ssize_t n = readlink("/proc/self/exe", got, sizeof got - 1);
	EXPECT("exe-after-execve", n > 0 && (got[n] = 0, strcmp(got, path) == 0));
	return failures != 0;
}

static int task_ready[2], task_quit[2];
static volatile long task_tid;

static void *task_thread(void *arg)
{
	char c;
	(void)arg;
	task_tid = syscall(SYS_gettid);
	if (write(task_ready[1], "r", 1) != 1 || read(task_quit[0], &c, 1) != 1)
		return (void *)1;
	return 0;
}

/* The tids /proc/self/task lists, in *a and *b (0 when absent): how many. */
static int task_list(long *a, long *b)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;
	*a = *b = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			long v = strtol(e->d_name, 0, 10);
			if (n == 0)
				*a = v;
			else if (n == 1)
				*b = v;
			n++;
		}
	if (d)
		closedir(d);
	return n;
}

/* /proc/PID/task/TID: a directory per thread with stat, status, comm. */
static void check_tasks(void)
{
	pthread_t th;
	char c, path[64], comm[64];
	long a, b;
	EXPECT("task-pipes", pipe(task_ready) == 0 && pipe(task_quit) == 0);
	EXPECT("task-thread-starts", pthread_create(&th, 0, task_thread, 0) == 0 &&
	       read(task_ready[0], &c, 1) == 1);
	long pid = getpid(), tid = task_tid;
	EXPECT("task-lists-both-threads", task_list(&a, &b) == 2 &&
	       ((a == pid && b == tid) || (a == tid && b == pid)));
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", pid);
	char *s = slurp(path, 0);
	long first = s ? strtol(s, 0, 10) : 0;
	EXPECT("task-main-stat", first == pid);
	snprintf(comm, sizeof comm, "%s", s ? strchr(s, '(') : "");
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
	s = slurp(path, 0);
	EXPECT("task-thread-stat", s && strtol(s, 0, 10) == tid && strncmp(strchr(s, '('), comm, strcspn(comm, " ")) == 0);
	snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
	s = slurp(path, 0);
	EXPECT("task-thread-status", s && field(s, "Pid") == tid && field(s, "Tgid") == pid &&
	       field(s, "Threads") == 2 && field(s, "PPid") == getppid());
	snprintf(path, sizeof path, "/proc/self/task/%ld/comm", tid);
	s = slurp(path, 0);
	char self_comm[64];
	snprintf(self_comm, sizeof self_comm, "%s", s ? s : "?");
	s = slurp("/proc/self/comm", 0);
	EXPECT("task-thread-comm", s && strcmp(self_comm, s) == 0);
	struct stat st;
	snprintf(path, sizeof path, "/proc/self/task/%ld", tid);
	EXPECT("task-is-a-directory", stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	EXPECT("task-of-no-thread-enoent", open("/proc/self/task/999999/stat", O_RDONLY) == -1 && errno == ENOENT);
	void *ret = (void *)9;
	EXPECT("task-thread-ends", write(task_quit[1], "q", 1) == 1 && pthread_join(th, &ret) == 0 && ret == 0);
	EXPECT("task-lists-one-after-join", task_list(&a, &b) == 1 && a == pid);
	snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
	EXPECT("task-gone-after-join", open(path, O_RDONLY) == -1 && errno == ENOENT);
	close(task_ready[0]);
	close(task_ready[1]);
	close(task_quit[0]);
	close(task_quit[1]);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "exec-child") == 0)
		return exec_mode(argv[2]);
	check_self_link();
	check_status(argv[0]);
	check_stat(argv[0]);
	check_cmdline_environ(argc, argv);
	check_fds();
	check_maps();
	check_child();
	check_machine();
	check_tasks();
	if (argc == 3 && strcmp(argv[1], "exec") == 0) {
		fflush(stdout);
		pid_t c = fork();
		if (c == 0) {
			execl(argv[2], argv[2], "exec-child", argv[2], (char *)0);
			_exit(127);
		}
		int st = 0;
		waitpid(c, &st, 0);
		EXPECT("exec-child-status", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	printf("%s\n", failures ? "FAILED" : "done");
	return failures != 0;
}
