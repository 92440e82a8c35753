/* POSIX names and directories: mkdir/rmdir, unlink, rename/renameat2,
 * link, symlink/readlink (and loops), getdents64, chdir/fchdir/getcwd,
 * stat/lstat/fstatat/statx, umask, chmod/chown, access, utimensat, statfs,
 * the *at calls, and long names.  Run in a fresh directory (argv[1] is
 * made and entered); the output is compared with the same program built
 * with musl-gcc and run on Linux. */
#include "check.h"
#include "show.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

static void touch(const char *path, const char *data)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, data, strlen(data)) < 0)
			printf("write %s failed\n", path);
		close(fd);
	}
}

static long size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted, on one line. */
static void list(const char *path)
{
	char *names[64];
	int n = 0;
	DIR *d = opendir(path);
	if (!d) {
		printf("list %s: -1 %s\n", path, errno_name(errno));
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) && n < 64)
		names[n++] = strdup(e->d_name);
	closedir(d);
	qsort(names, (size_t)n, sizeof names[0], cmp);
	printf("list %s:", path);
	for (int i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static void dirs(void)
{
	SHOW(mkdir("d", 0755));
	SHOW(mkdir("d", 0755));
	SHOW(mkdir("d/", 0755));
	SHOW(mkdir("d/e/f", 0755));
	SHOW(mkdir("d/e/", 0755));
	touch("file", "12345");
	SHOW(mkdir("file/x", 0755));
	SHOW(mkdir("", 0755));
	SHOW(mkdir(".", 0755));
	SHOW(rmdir("d"));
	SHOW(rmdir("file"));
	SHOW(rmdir("missing"));
	SHOW(rmdir("."));
	SHOW(rmdir("d/.."));
	SHOW(rmdir("d/e/."));
	SHOW(unlink("d"));
	SHOW(unlink("missing"));
	SHOW(unlink("file/"));
	SHOW(rmdir("d/e"));
	SHOW(rmdir("d/e"));
	SHOW(access("d/e", F_OK));

	/* getdents64 through readdir */
	SHOW(mkdir("ls", 0755));
	touch("ls/a", "");
	touch("ls/bb", "");
	SHOW(mkdir("ls/sub", 0755));
	SHOW(symlink("a", "ls/link"));
	list("ls");
	SHOW(unlink("ls/bb"));
	list("ls");
	list("file");
	list("nowhere");
	int fd = SHOW(open("ls", O_RDONLY | O_DIRECTORY));
	char buf[512];
	SHOW(syscall(SYS_getdents64, fd, buf, 10));
	long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
	SHOW(n > 0);
	SHOW(syscall(SYS_getdents64, fd, buf, sizeof buf));
	SHOW(lseek(fd, 0, SEEK_SET));
	SHOW(syscall(SYS_getdents64, fd, buf, sizeof buf) == n);
	SHOW(close(fd));
	SHOW(syscall(SYS_getdents64, 999, buf, sizeof buf));
	/* d_type of each kind */
	DIR *d = opendir("ls");
	struct dirent *e;
	int types = 0;
	while (d && (e = readdir(d)))
		types |= (strcmp(e->d_name, "a") == 0 && e->d_type == DT_REG) << 0 |
			 (strcmp(e->d_name, "sub") == 0 && e->d_type == DT_DIR) << 1 |
			 (strcmp(e->d_name, "link") == 0 && e->d_type == DT_LNK) << 2 |
			 (strcmp(e->d_name, "..") == 0 && e->d_type == DT_DIR) << 3;
	if (d)
		closedir(d);
	SHOW(types);
	/* a directory emptied while open reads as empty */
	SHOW(mkdir("gone", 0755));
	fd = SHOW(open("gone", O_RDONLY | O_DIRECTORY));
	SHOW(rmdir("gone"));
	SHOW(syscall(SYS_getdents64, fd, buf, sizeof buf));
	SHOW(close(fd));
}

static void renames(void)
{
	touch("r1", "one");
	touch("r2", "two!");
	SHOW(rename("r1", "r2"));
	SHOW(size_of("r2"));
	SHOW(access("r1", F_OK));
	SHOW(rename("r2", "r2"));
	SHOW(rename("missing", "x"));
	SHOW(mkdir("rd", 0755));
	SHOW(mkdir("rd/in", 0755));
	SHOW(mkdir("re", 0755));
	touch("re/x", "");
	SHOW(rename("rd", "re"));
	SHOW(rename("rd", "r2"));
	SHOW(rename("r2", "rd"));
	SHOW(rename("rd", "rd/in/deeper"));
	SHOW(rename("rd", "rd/in"));
	SHOW(rename("r2", "r2/"));
	SHOW(rename("r2", "nodir/x"));
	SHOW(rename(".", "x"));
	SHOW(rename("r2", ".."));
	SHOW(mkdir("empty", 0755));
	SHOW(rename("rd", "empty"));
	list("empty");
	SHOW(rename("empty/in", "moved"));
	list("moved/..");
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "r2", AT_FDCWD, "re/x", 1));
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "r2", AT_FDCWD, "r3", 1));
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "r3", AT_FDCWD, "r4", 3));
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "r3", AT_FDCWD, "r4", 64));
	SHOW(size_of("r3"));
	/* RENAME_EXCHANGE: a file and a directory swap names */
	touch("xa", "file-a");
	SHOW(mkdir("xd", 0755));
	touch("xd/inner", "");
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "xd", 2));
	SHOW(size_of("xd"));
	SHOW(access("xa/inner", F_OK));
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "nothing", 2));
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "xa/inner", 2));
	SHOW(syscall(SYS_renameat2, AT_FDCWD, "xa/inner", AT_FDCWD, "xd", 2));
	SHOW(size_of("xa/inner"));
	list("xa");
	int fd = SHOW(open("r3", O_RDONLY));
	SHOW(rename("r3", "r5"));
	char buf[8] = { 0 };
	SHOW(read(fd, buf, 8));
	SHOW(close(fd));
}

/* Many names in one directory, removed while it is read (rm -r does so). */
static void many(void)
{
	char name[32];
	SHOW(mkdir("many", 0755));
	int made = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "many/file-%04d", i);
		int fd = open(name, O_CREAT | O_WRONLY, 0644);
		made += fd >= 0;
		if (fd >= 0)
			close(fd);
	}
	SHOW(made);
	SHOW(size_of("many/file-0999"));
	int removed = 0, seen = 0;
	for (int round = 0; round < 3; round++) {
		DIR *d = opendir("many");
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			seen++;
			snprintf(name, sizeof name, "many/%s", e->d_name);
			removed += unlink(name) == 0;
		}
		if (d)
			closedir(d);
	}
	SHOW(removed);
	SHOW(seen);
	SHOW(rmdir("many"));
}

static void links(void)
{
	struct stat st;
	touch("l1", "linked");
	SHOW(link("l1", "l2"));
	SHOW(stat("l1", &st) == 0 ? (long)st.st_nlink : -1);
	SHOW(link("l1", "l2"));
	SHOW(link("d", "dl"));
	SHOW(link("missing", "x"));
	SHOW(link("l1", "nodir/x"));
	SHOW(unlink("l1"));
	SHOW(size_of("l2"));
	SHOW(stat("l2", &st) == 0 ? (long)st.st_nlink : -1);
	/* an unlinked file stays readable while it is open */
	int fd = SHOW(open("l2", O_RDWR));
	SHOW(unlink("l2"));
	SHOW(fstat(fd, &st) == 0 ? (long)st.st_nlink : -1);
	char buf[8] = { 0 };
	SHOW(pread(fd, buf, 6, 0));
	EXPECT("unlinked-file-readable", memcmp(buf, "linked", 6) == 0);
	SHOW(close(fd));

	/* symlinks */
	touch("target", "abc");
	SHOW(symlink("target", "s"));
	SHOW(symlink("target", "s"));
	SHOW(symlink("", "empty-link"));
	char lbuf[64] = { 0 };
	SHOW(readlink("s", lbuf, sizeof lbuf));
	EXPECT("readlink-target", strcmp(lbuf, "target") == 0);
	SHOW(readlink("s", lbuf, 3));
	SHOW(readlink("s", lbuf, 0));
	SHOW(readlink("target", lbuf, sizeof lbuf));
	SHOW(readlink("missing", lbuf, sizeof lbuf));
	SHOW(size_of("s"));
	SHOW(lstat("s", &st) == 0 ? (long)S_ISLNK(st.st_mode) : -1);
	SHOW(lstat("s", &st) == 0 ? (long)st.st_size : -1);
	SHOW(open("s", O_RDONLY | O_NOFOLLOW));
	SHOW(symlink("d", "sd"));
	touch("d/inside", "in");
	SHOW(size_of("sd/inside"));
	SHOW(access("sd/", F_OK));
	SHOW(symlink("nowhere", "dangling"));
	SHOW(open("dangling", O_RDONLY));
	SHOW(stat("dangling", &st));
	SHOW(lstat("dangling", &st));
	int fd2 = SHOW(open("dangling", O_CREAT | O_WRONLY, 0644));
	SHOW(close(fd2));
	SHOW(access("nowhere", F_OK));
	SHOW(open("dangling", O_CREAT | O_EXCL | O_WRONLY, 0644));
	SHOW(symlink("/", "toroot"));
	SHOW(access("toroot/dev/null", F_OK));
	SHOW(symlink("../d", "d/up"));
	SHOW(size_of("d/up/inside"));
	/* loops */
	SHOW(symlink("loop2", "loop1"));
	SHOW(symlink("loop1", "loop2"));
	SHOW(open("loop1", O_RDONLY));
	SHOW(stat("loop1", &st));
	SHOW(lstat("loop1", &st) == 0);
	SHOW(access("loop1/x", F_OK));
	SHOW(mkdir("loop1/x", 0755));
	SHOW(symlink("self", "self"));
	SHOW(chdir("self"));
	SHOW(unlink("loop1"));
	SHOW(unlink("loop2"));
	SHOW(unlink("self"));
	/* a chain of 40 links resolves; 41 is a loop */
	char from[16], to[16];
	touch("c0", "end");
	for (int i = 1; i <= 41; i++) {
		snprintf(from, sizeof from, "c%d", i - 1);
		snprintf(to, sizeof to, "c%d", i);
		symlink(from, to);
	}
	SHOW(size_of("c40"));
	SHOW(size_of("c41"));
}

static void cwd(void)
{
	char buf[PATH_MAX], base[PATH_MAX];
	SHOW(getcwd(base, sizeof base) != NULL);
	SHOW(chdir("d"));
	SHOW(getcwd(buf, sizeof buf) != NULL);
	EXPECT("getcwd-child", strncmp(buf, base, strlen(base)) == 0 && strcmp(buf + strlen(base), "/d") == 0);
	SHOW(access("inside", F_OK));
	SHOW(chdir(".."));
	SHOW(getcwd(buf, sizeof buf) != NULL && strcmp(buf, base) == 0);
	SHOW(chdir("file"));
	SHOW(chdir("missing"));
	SHOW(chdir(""));
	SHOW(getcwd(buf, 1) == NULL);
	SHOW(syscall(SYS_getcwd, buf, 0));
	SHOW(syscall(SYS_getcwd, buf, strlen(base) + 1) == (long)strlen(base) + 1);
	SHOW(syscall(SYS_getcwd, buf, strlen(base)));
	int fd = SHOW(open("d", O_RDONLY | O_DIRECTORY));
	SHOW(fchdir(fd));
	SHOW(access("inside", F_OK));
	SHOW(close(fd));
	fd = SHOW(open(base, O_RDONLY));
	SHOW(fchdir(fd));
	SHOW(close(fd));
	fd = SHOW(open("file", O_RDONLY));
	SHOW(fchdir(fd));
	SHOW(close(fd));
	SHOW(fchdir(999));
	/* the cwd removed under us */
	SHOW(mkdir("doomed", 0755));
	SHOW(chdir("doomed"));
	SHOW(rmdir("../doomed"));
	SHOW(getcwd(buf, sizeof buf) == NULL);
	SHOW(open("new", O_CREAT | O_RDWR, 0644));
	SHOW(chdir(base));
	SHOW(chdir("/"));
	SHOW(getcwd(buf, sizeof buf) != NULL && strcmp(buf, "/") == 0);
	SHOW(chdir(base));
}

static void attrs(void)
{
	struct stat st;
	SHOW(umask(027));
	SHOW(umask(027));
	int fd = SHOW(open("m1", O_CREAT | O_RDWR, 0666));
	SHOW(fstat(fd, &st) == 0 ? (long)(st.st_mode & 07777) : -1);
	SHOW(mkdir("m2", 0777));
	SHOW(stat("m2", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
	SHOW(umask(022));
	SHOW(chmod("m1", 04751));
	SHOW(stat("m1", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
	SHOW(fchmod(fd, 0600));
	SHOW(stat("m1", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
	SHOW(chmod("missing", 0600));
	SHOW(fchmod(999, 0600));
	SHOW(chown("m1", 1000, 1001));
	SHOW(stat("m1", &st) == 0 ? (long)st.st_uid * 10000 + st.st_gid : -1);
	SHOW(fchown(fd, (uid_t)-1, 1002));
	SHOW(stat("m1", &st) == 0 ? (long)st.st_uid * 10000 + st.st_gid : -1);
	SHOW(chmod("m1", 06755));
	SHOW(chown("m1", 0, 0));
	SHOW(stat("m1", &st) == 0 ? (long)(st.st_mode & 07777) : -1);
	SHOW(symlink("m1", "m1link"));
	SHOW(lchown("m1link", 7, 8));
	SHOW(lstat("m1link", &st) == 0 ? (long)st.st_uid * 10000 + st.st_gid : -1);
	SHOW(stat("m1link", &st) == 0 ? (long)st.st_uid * 10000 + st.st_gid : -1);
	SHOW(fchownat(AT_FDCWD, "m1link", 9, 9, AT_SYMLINK_NOFOLLOW));
	SHOW(fchownat(AT_FDCWD, "m1link", 9, 9, 0x4));

	/* access: root passes r and w; x needs an x bit */
	SHOW(chmod("m1", 0644));
	SHOW(access("m1", F_OK));
	SHOW(access("m1", R_OK | W_OK));
	SHOW(access("m1", X_OK));
	SHOW(chmod("m1", 0744));
	SHOW(access("m1", X_OK));
	SHOW(access("m2", X_OK));
	SHOW(access("m1", 8));
	SHOW(access("missing", F_OK));
	SHOW(faccessat(AT_FDCWD, "m1", R_OK, AT_EACCESS));
	SHOW(faccessat(AT_FDCWD, "m1", R_OK, 0x4));

	/* utimensat */
	struct timespec ts[2] = { { 1000, 500 }, { 2000, 600 } };
	SHOW(utimensat(AT_FDCWD, "m1", ts, 0));
	SHOW(stat("m1", &st) == 0 ? (long)st.st_atim.tv_sec * 1000 + st.st_atim.tv_nsec : -1);
	SHOW(stat("m1", &st) == 0 ? (long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec : -1);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 3000;
	SHOW(futimens(fd, ts));
	SHOW(stat("m1", &st) == 0 ? (long)st.st_atim.tv_sec * 1000 + st.st_atim.tv_nsec : -1);
	SHOW(stat("m1", &st) == 0 ? (long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec : -1);
	ts[1].tv_nsec = 1000000000;
	SHOW(utimensat(AT_FDCWD, "m1", ts, 0));
	SHOW(utimensat(AT_FDCWD, "missing", NULL, 0));
	SHOW(utimensat(AT_FDCWD, "m1", NULL, 0));
	SHOW(stat("m1", &st) == 0 && st.st_mtim.tv_sec != 3000);
	SHOW(close(fd));

	/* statfs */
	struct statfs sf;
	SHOW(statfs(".", &sf) == 0 ? (long)sf.f_namelen : -1);
	SHOW(statfs("missing", &sf));
	SHOW(fstatfs(999, &sf));
}

/* The *at calls relative to a directory descriptor, and statx. */
static void at_calls(void)
{
	struct stat st;
	SHOW(mkdir("at", 0755));
	int dfd = SHOW(open("at", O_RDONLY | O_DIRECTORY));
	int fd = SHOW(openat(dfd, "f", O_CREAT | O_RDWR, 0644));
	SHOW(write(fd, "xyz", 3));
	SHOW(fstatat(dfd, "f", &st, 0) == 0 ? st.st_size : -1);
	SHOW(fstatat(fd, "", &st, AT_EMPTY_PATH) == 0 ? st.st_size : -1);
	SHOW(fstatat(AT_FDCWD, "at/f", &st, 0x4));
	SHOW(fstatat(fd, "f", &st, 0));
	SHOW(fstatat(999, "f", &st, 0));
	SHOW(fstatat(999, "/dev/null", &st, 0));
	SHOW(mkdirat(dfd, "sub", 0755));
	SHOW(symlinkat("f", dfd, "sl"));
	char lbuf[8] = { 0 };
	SHOW(readlinkat(dfd, "sl", lbuf, sizeof lbuf));
	SHOW(fstatat(dfd, "sl", &st, AT_SYMLINK_NOFOLLOW) == 0 ? (long)S_ISLNK(st.st_mode) : -1);
	SHOW(linkat(dfd, "f", dfd, "hard", 0));
	SHOW(linkat(dfd, "sl", dfd, "hard2", AT_SYMLINK_FOLLOW));
	SHOW(fstatat(dfd, "hard2", &st, AT_SYMLINK_NOFOLLOW) == 0 ? (long)S_ISREG(st.st_mode) : -1);
	SHOW(linkat(dfd, "sl", dfd, "hard3", 0));
	SHOW(fstatat(dfd, "hard3", &st, AT_SYMLINK_NOFOLLOW) == 0 ? (long)S_ISLNK(st.st_mode) : -1);
	SHOW(linkat(dfd, "f", dfd, "x", 0x8));
	SHOW(renameat(dfd, "hard", dfd, "sub/hard"));
	SHOW(faccessat(dfd, "sub/hard", F_OK, 0));
	SHOW(unlinkat(dfd, "sub", AT_REMOVEDIR));
	SHOW(unlinkat(dfd, "sub/hard", 0));
	SHOW(unlinkat(dfd, "sub", 0));
	SHOW(unlinkat(dfd, "sub", 0x1));
	SHOW(unlinkat(dfd, "sub", AT_REMOVEDIR));
	SHOW(openat(fd, "x", O_RDONLY));
	SHOW(openat(999, "x", O_RDONLY));
	SHOW(openat(999, "/dev/null", O_RDONLY) >= 0);
	SHOW(fchmodat(dfd, "f", 0600, 0));
	SHOW(fstatat(dfd, "f", &st, 0) == 0 ? (long)(st.st_mode & 0777) : -1);

	/* statx, through the raw call */
	struct {
		uint32_t mask, blksize;
		uint64_t attributes;
		uint32_t nlink, uid, gid;
		uint16_t mode, pad;
		uint64_t ino, size, blocks, attributes_mask;
		uint8_t times[64];
		uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
		uint64_t spare[14];
	} sx;
	SHOW(syscall(SYS_statx, dfd, "f", 0, 0x7ff, &sx));
	SHOW((long)sx.size);
	SHOW((long)(sx.mode & 0777));
	SHOW((long)sx.nlink);
	SHOW((sx.mask & 0x7ff) == 0x7ff);
	SHOW(syscall(SYS_statx, AT_FDCWD, "/dev/zero", 0, 0x7ff, &sx));
	SHOW((long)sx.rdev_major * 100 + sx.rdev_minor);
	SHOW(syscall(SYS_statx, dfd, "missing", 0, 0x7ff, &sx));
	SHOW(syscall(SYS_statx, dfd, "f", 0, 0x7ff, (void *)16));
	SHOW(close(fd));
	SHOW(close(dfd));
}

static void long_names(void)
{
	char name[300], path[5000];
	memset(name, 'n', 255);
	name[255] = 0;
	int fd = SHOW(open(name, O_CREAT | O_RDWR, 0644));
	SHOW(close(fd));
	SHOW(unlink(name));
	name[255] = 'n';
	name[256] = 0;
	SHOW(open(name, O_CREAT | O_RDWR, 0644));
	SHOW(mkdir(name, 0755));
	SHOW(stat(name, (struct stat *)path));
	SHOW(symlink("x", name));
	memset(path, 'a', sizeof path);
	for (int i = 100; i < 4800; i += 100)
		path[i] = '/';
	path[4200] = 0;
	SHOW(open(path, O_RDONLY));
	path[4095] = 0;
	SHOW(open(path, O_RDONLY));
	SHOW(symlink(path, "longlink"));
}

int main(int argc, char **argv)
{
	if (argc < 2 || (mkdir(argv[1], 0755) && errno != EEXIST) || chdir(argv[1])) {
		printf("usage: files_dir DIR (made and entered)\n");
		return 2;
	}
	umask(022);
	dirs();
	renames();
	many();
	links();
	cwd();
	attrs();
	at_calls();
	long_names();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
