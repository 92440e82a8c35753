/*
 * File mappings and what is built on them (tests/suites/29-posix-limits.sh):
 * MAP_SHARED of a file seen by read and write, by a forked child and by a
 * process that maps it again; msync, mincore, SIGBUS past the end of the
 * file and after ftruncate; MAP_PRIVATE copies; MAP_SHARED anonymous memory
 * across fork with a process-shared mutex; memfd_create and its seals;
 * shm_open and named semaphores between processes; hostile sequences (a
 * mapping cut by munmap, then the file truncated and removed; sem_unlink
 * while another process waits).  Built for the guest and, with plain
 * musl-gcc, for the host; the outputs must be the same line for line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "child_wait.h"

#define PG 4096

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1
#define MFD_ALLOW_SEALING 2
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif

static int memfd(const char *name, unsigned flags)
{
	return (int)syscall(SYS_memfd_create, name, flags);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one byte at p in a child: its status (135 for SIGBUS). */
static int touch_in_child(volatile char *p, int write)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (write)
			*p = 'x';
		_exit(*p == 'x' ? 0 : 1);
	}
	return child_status(pid);
}

static void shared_file(void)
{
	int fd = open("shared.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	EXPECT("open", fd >= 0);
	EXPECT("ftruncate-3-pages", ftruncate(fd, 3 * PG) == 0);
	char *p = mmap(0, 3 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT("mmap-shared", p != MAP_FAILED);
	EXPECT("mapping-starts-zeroed", p[0] == 0 && p[3 * PG - 1] == 0);
	strcpy(p + 10, "through the mapping");
	char buf[32] = { 0 };
	EXPECT("read-sees-store", pread(fd, buf, 19, 10) == 19 && strcmp(buf, "through the mapping") == 0);
	EXPECT("pwrite", pwrite(fd, "by write", 8, PG + 5) == 8);
	EXPECT("mapping-sees-write", memcmp(p + PG + 5, "by write", 8) == 0);
	EXPECT("msync-sync", msync(p, 3 * PG, MS_SYNC) == 0);
	EXPECT("msync-async", msync(p + PG, PG, MS_ASYNC | MS_INVALIDATE) == 0);
	EXPECT("msync-both-einval", msync(p, PG, MS_SYNC | MS_ASYNC) == -1 && errno == EINVAL);
	EXPECT("msync-unaligned-einval", msync(p + 1, PG, MS_SYNC) == -1 && errno == EINVAL);

	pid_t pid = fork();
	if (pid == 0) {	/* the inherited mapping is the same memory */
		int ok = strcmp(p + 10, "through the mapping") == 0;
		p[2 * PG] = 'c';
		_exit(ok ? 0 : 1);
	}
	EXPECT("child-sees-parent", child_status(pid) == 0);
	EXPECT("parent-sees-child", p[2 * PG] == 'c');
	pid = fork();
	if (pid == 0) {	/* a mapping of its own, at another offset */
		int f = open("shared.dat", O_RDWR);
		char *q = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, f, PG);
		if (q == MAP_FAILED)
			_exit(1);
		int ok = memcmp(q + 5, "by write", 8) == 0;
		q[100] = 'm';
		_exit(ok ? 0 : 2);
	}
	EXPECT("second-mapping-in-child", child_status(pid) == 0);
	EXPECT("parent-sees-second-mapping", p[PG + 100] == 'm');

	/* the mapping goes past the end of the file: SIGBUS there */
	EXPECT("ftruncate-shrink", ftruncate(fd, PG + 1) == 0);
	EXPECT("inside-last-page", touch_in_child(p + PG + 2, 0) == 1);
	EXPECT("past-end-sigbus", touch_in_child(p + 2 * PG, 0) == 128 + SIGBUS);
	EXPECT("past-end-write-sigbus", touch_in_child(p + 2 * PG + 7, 1) == 128 + SIGBUS);
	EXPECT("tail-of-last-page-zeroed", p[PG + 1] == 0 && p[PG + 100] == 0);
	EXPECT("ftruncate-grow", ftruncate(fd, 3 * PG) == 0);
	EXPECT("regrown-reads-zero", p[2 * PG] == 0 && p[PG + 5] == 0 && p[PG] == 0);
	struct stat st;
	EXPECT("size-after", fstat(fd, &st) == 0 && st.st_size == 3 * PG);
	EXPECT("write-from-mapping", write(fd, p + 10, 7) == 7);

	/* hostile: cut the mapping, then truncate and remove the file */
	EXPECT("munmap-middle", munmap(p + PG, PG) == 0);
	EXPECT("ftruncate-zero", ftruncate(fd, 0) == 0);
	EXPECT("unlink", unlink("shared.dat") == 0);
	EXPECT("close", close(fd) == 0);
	EXPECT("cut-off-first-sigbus", touch_in_child(p, 1) == 128 + SIGBUS);
	EXPECT("cut-off-last-sigbus", touch_in_child(p + 2 * PG, 0) == 128 + SIGBUS);
	EXPECT("gap-sigsegv", touch_in_child(p + PG, 0) == 128 + SIGSEGV);
	EXPECT("munmap-rest", munmap(p, 3 * PG) == 0);
	/* the memory the file had goes to others: fill and check it */
	int ok = 1;
	for (int i = 0; i < 8; i++) {
		char name[32];
		snprintf(name, sizeof name, "filler%d", i);
		int f = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
		char page[PG];
		memset(page, 'a' + i, sizeof page);
		for (int k = 0; k < 4; k++)
			ok &= write(f, page, sizeof page) == PG;
		ok &= pread(f, page, 1, 3 * PG + 9) == 1 && page[0] == 'a' + i;
		close(f);
		unlink(name);
	}
	EXPECT("memory-reused-cleanly", ok);
}

/* A file removed while a child maps it lives until the child unmaps it. */
static void removed_while_mapped(void)
{
	int fd = open("gone.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	EXPECT("gone-write", write(fd, "still here", 10) == 10);
	int go[2];
	EXPECT("gone-pipe", pipe(go) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		char *q = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
		close(fd);
		char c;
		if (q == MAP_FAILED || read(go[0], &c, 1) != 1)
			_exit(1);
		_exit(memcmp(q, "still here", 10) == 0 ? 0 : 2);
	}
	sleep_ms(50);
	EXPECT("gone-unlink", unlink("gone.dat") == 0);
	EXPECT("gone-close", close(fd) == 0);
	EXPECT("gone-go", write(go[1], "g", 1) == 1);
	EXPECT("removed-file-still-mapped", child_status(pid) == 0);
	close(go[0]);
	close(go[1]);
}

/* read and write between a file and a mapping of the same page of it,
 * the page first touched by that copy. */
static void copy_within_one_page(void)
{
	char pattern[PG], got[10];
	for (int i = 0; i < PG; i++)
		pattern[i] = (char)('a' + i % 26);
	for (int round = 0; round < 2; round++) {
		int fd = open("self.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
		EXPECT("self-write", write(fd, pattern, PG) == PG);
		char *p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		EXPECT("self-mmap", p != MAP_FAILED);
		if (round == 0) {	/* from the mapping into the file */
			EXPECT("pwrite-from-own-mapping", pwrite(fd, p + 3, 10, 100) == 10);
			EXPECT("pwrite-from-own-mapping-landed", pread(fd, got, 10, 100) == 10 &&
			       memcmp(got, pattern + 3, 10) == 0 && memcmp(p + 100, pattern + 3, 10) == 0);
		} else {		/* from the file into the mapping */
			EXPECT("pread-into-own-mapping", pread(fd, p + 200, 10, 5) == 10);
			EXPECT("pread-into-own-mapping-landed", memcmp(p + 200, pattern + 5, 10) == 0 &&
			       pread(fd, got, 10, 200) == 10 && memcmp(got, pattern + 5, 10) == 0);
		}
		munmap(p, PG);
		close(fd);
		unlink("self.dat");
	}
}

static void private_and_errors(void)
{
	int fd = open("private.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	EXPECT("private-write", write(fd, "original", 8) == 8);
	char *p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	EXPECT("mmap-private", p != MAP_FAILED && memcmp(p, "original", 8) == 0 && p[8] == 0);
	p[0] = 'X';
	char buf[8];
	EXPECT("private-store-stays", pread(fd, buf, 8, 0) == 8 && buf[0] == 'o');
	char *r = mmap(0, PG, PROT_READ, MAP_PRIVATE, fd, 0);
	EXPECT("mmap-private-readonly", r != MAP_FAILED && r[1] == 'r');
	EXPECT("private-readonly-write-sigsegv", touch_in_child(r, 1) == 128 + SIGSEGV);
	char *s = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT("readonly-shared-write-sigsegv", s != MAP_FAILED && touch_in_child(s, 1) == 128 + SIGSEGV);
	munmap(p, PG);
	munmap(r, PG);
	munmap(s, PG);

	int ro = open("private.dat", O_RDONLY), wo = open("private.dat", O_WRONLY);
	int ap = open("private.dat", O_RDWR | O_APPEND);
	EXPECT("shared-write-of-readonly-eacces",
	       mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED && errno == EACCES);
	EXPECT("private-write-of-readonly-ok",
	       (p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0)) != MAP_FAILED && munmap(p, PG) == 0);
	EXPECT("map-of-writeonly-eacces", mmap(0, PG, PROT_READ, MAP_SHARED, wo, 0) == MAP_FAILED && errno == EACCES);
	EXPECT("shared-write-of-append-ok",
	       (p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ap, 0)) != MAP_FAILED && munmap(p, PG) == 0);
	EXPECT("bad-fd-ebadf", mmap(0, PG, PROT_READ, MAP_SHARED, 999, 0) == MAP_FAILED && errno == EBADF);
	EXPECT("unaligned-offset-einval", mmap(0, PG, PROT_READ, MAP_SHARED, ro, 100) == MAP_FAILED && errno == EINVAL);
	EXPECT("no-type-einval", mmap(0, PG, PROT_READ, 0, ro, 0) == MAP_FAILED && errno == EINVAL);
	int zero = open("/dev/zero", O_RDWR);
	char *z = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
	EXPECT("dev-zero-private", z != MAP_FAILED && z[PG] == 0 && (z[0] = 'z') == 'z' && munmap(z, 2 * PG) == 0);
	int *zs = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, zero, 0);
	pid_t zpid = zs == MAP_FAILED ? -1 : fork();
	if (zpid == 0) {
		zs[1] = 42;
		_exit(0);
	}
	EXPECT("dev-zero-shared-across-fork", child_status(zpid) == 0 && zs[1] == 42 && munmap(zs, PG) == 0);
	close(zero);
	int dir = open(".", O_RDONLY | O_DIRECTORY), pp[2];
	EXPECT("directory-enodev", mmap(0, PG, PROT_READ, MAP_SHARED, dir, 0) == MAP_FAILED && errno == ENODEV);
	EXPECT("pipe-enodev", pipe(pp) == 0 && mmap(0, PG, PROT_READ, MAP_SHARED, pp[0], 0) == MAP_FAILED &&
	       errno == ENODEV);
	close(pp[0]);
	close(pp[1]);
	close(dir);
	close(ro);
	close(wo);
	close(ap);
	close(fd);
	unlink("private.dat");
}

/* MAP_SHARED|MAP_ANONYMOUS across fork, with a process-shared mutex. */
static void shared_anonymous(void)
{
	struct area { pthread_mutex_t m; long count; char text[16]; } *a;
	a = mmap(0, sizeof *a, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	EXPECT("mmap-shared-anonymous", a != MAP_FAILED);
	pthread_mutexattr_t at;
	pthread_mutexattr_init(&at);
	pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED);
	EXPECT("pshared-mutex", pthread_mutex_init(&a->m, &at) == 0);
	pid_t kids[2];
	for (int k = 0; k < 2; k++)
		if ((kids[k] = fork()) == 0) {
			for (int i = 0; i < 3000; i++) {
				pthread_mutex_lock(&a->m);
				long c = a->count;
				if (i % 100 == 0)
					sched_yield();
				a->count = c + 1;
				pthread_mutex_unlock(&a->m);
			}
			if (k == 0)
				strcpy(a->text, "from a child");
			_exit(0);
		}
	EXPECT("children-done", child_status(kids[0]) == 0 && child_status(kids[1]) == 0);
	EXPECT("shared-count-exact", a->count == 6000);
	EXPECT("shared-anon-text", strcmp(a->text, "from a child") == 0);
	EXPECT("munmap-shared-anonymous", munmap(a, sizeof *a) == 0);
}

static void mincore_calls(void)
{
	unsigned char v[4] = { 9, 9, 9, 9 };
	char *p = mmap(0, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p[PG] = 1;
	p[3 * PG] = 1;
	EXPECT("mincore", mincore(p, 4 * PG, v) == 0);
	printf("mincore: %d %d %d %d\n", v[0] & 1, v[1] & 1, v[2] & 1, v[3] & 1);
	EXPECT("mincore-unaligned-einval", mincore(p + 1, PG, v) == -1 && errno == EINVAL);
	EXPECT("mincore-bad-vec-efault", mincore(p, PG, (unsigned char *)8) == -1 && errno == EFAULT);
	munmap(p, 4 * PG);
	EXPECT("mincore-unmapped-enomem", mincore(p, PG, v) == -1 && errno == ENOMEM);
	int fd = open("mc.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char page[PG] = { 1 };
	EXPECT("mc-write", write(fd, page, PG) == PG);
	char *q = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT("mincore-file-page", mincore(q, PG, v) == 0 && (v[0] & 1) == 1);
	munmap(q, PG);
	close(fd);
	unlink("mc.dat");
}

static void memfd_calls(void)
{
	int fd = memfd("plain", 0);
	EXPECT("memfd-create", fd >= 0);
	EXPECT("memfd-no-cloexec", fcntl(fd, F_GETFD) == 0);
	EXPECT("memfd-rdwr", (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR);
	EXPECT("memfd-write", write(fd, "memfd data", 10) == 10);
	struct stat st;
	EXPECT("memfd-regular", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 10 && st.st_nlink == 0);
	EXPECT("memfd-seal-seal", fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL);
	EXPECT("memfd-no-sealing-eperm", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == -1 && errno == EPERM);
	char *p = mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT("memfd-mmap", p != MAP_FAILED && memcmp(p, "memfd data", 10) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		p[0] = 'M';
		_exit(0);
	}
	char c;
	EXPECT("memfd-shared-with-child", child_status(pid) == 0 && pread(fd, &c, 1, 0) == 1 && c == 'M');
	munmap(p, PG);
	close(fd);

	fd = memfd("sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	EXPECT("memfd-cloexec", fd >= 0 && fcntl(fd, F_GETFD) == FD_CLOEXEC);
	EXPECT("memfd-no-seals", fcntl(fd, F_GET_SEALS) == 0);
	EXPECT("memfd-size", ftruncate(fd, 2 * PG) == 0);
	EXPECT("seal-shrink", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0);
	EXPECT("shrink-eperm", ftruncate(fd, PG) == -1 && errno == EPERM);
	EXPECT("grow-ok", ftruncate(fd, 3 * PG) == 0);
	EXPECT("seal-grow", fcntl(fd, F_ADD_SEALS, F_SEAL_GROW) == 0);
	EXPECT("grow-eperm", ftruncate(fd, 4 * PG) == -1 && errno == EPERM);
	EXPECT("write-past-end-eperm", pwrite(fd, "x", 1, 3 * PG) == -1 && errno == EPERM);
	EXPECT("write-inside-ok", pwrite(fd, "x", 1, 0) == 1);
	EXPECT("seal-write", fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE) == 0);
	EXPECT("write-eperm", pwrite(fd, "x", 1, 0) == -1 && errno == EPERM);
	EXPECT("shared-writable-map-eperm",
	       mmap(0, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EPERM);
	p = mmap(0, PG, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT("shared-readonly-map-ok", p != MAP_FAILED && p[0] == 'x' && munmap(p, PG) == 0);
	EXPECT("seals-now", fcntl(fd, F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
	EXPECT("seal-seal", fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL) == 0);
	EXPECT("sealed-eperm", fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == -1 && errno == EPERM);
	EXPECT("bad-seal-einval", fcntl(fd, F_ADD_SEALS, 0x1000) == -1 && errno == EINVAL);
	close(fd);
	EXPECT("memfd-bad-flags-einval", memfd("x", 0x100) == -1 && errno == EINVAL);
	char longname[300];
	memset(longname, 'n', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	EXPECT("memfd-long-name-einval", memfd(longname, 0) == -1 && errno == EINVAL);
	EXPECT("memfd-bad-name-efault", memfd((const char *)8, 0) == -1 && errno == EFAULT);
	int proc = open("/proc/self/status", O_RDONLY);
	EXPECT("seals-of-procfs-file-einval", fcntl(proc, F_GET_SEALS) == -1 && errno == EINVAL);
	close(proc);
}

static void posix_shm(void)
{
	shm_unlink("/exo-fmap-test");
	int fd = shm_open("/exo-fmap-test", O_RDWR | O_CREAT | O_EXCL, 0600);
	EXPECT("shm-open", fd >= 0);
	EXPECT("shm-size", ftruncate(fd, 2 * PG) == 0);
	char *p = mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	EXPECT("shm-mmap", p != MAP_FAILED);
	EXPECT("shm-excl-eexist", shm_open("/exo-fmap-test", O_RDWR | O_CREAT | O_EXCL, 0600) == -1 &&
	       errno == EEXIST);
	EXPECT("shm-seals-of-tmpfs-file", fcntl(fd, F_GET_SEALS) == F_SEAL_SEAL);
	pid_t pid = fork();
	if (pid == 0) {	/* opens it by name, as an unrelated process would */
		int f = shm_open("/exo-fmap-test", O_RDWR, 0);
		char *q = f < 0 ? MAP_FAILED : mmap(0, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
		if (q == MAP_FAILED)
			_exit(1);
		strcpy(q + PG, "hello over shm");
		_exit(0);
	}
	EXPECT("shm-child", child_status(pid) == 0);
	EXPECT("shm-parent-sees", strcmp(p + PG, "hello over shm") == 0);
	EXPECT("shm-unlink", shm_unlink("/exo-fmap-test") == 0);
	EXPECT("shm-gone-enoent", shm_open("/exo-fmap-test", O_RDWR, 0) == -1 && errno == ENOENT);
	EXPECT("shm-unlink-again-enoent", shm_unlink("/exo-fmap-test") == -1 && errno == ENOENT);
	EXPECT("shm-still-mapped", strcmp(p + PG, "hello over shm") == 0);
	munmap(p, 2 * PG);
	close(fd);
}

static void named_semaphores(void)
{
	sem_unlink("/exo-fmap-sem");
	sem_t *s = sem_open("/exo-fmap-sem", O_CREAT | O_EXCL, 0600, 0);
	EXPECT("sem-open", s != SEM_FAILED);
	int v = -1;
	EXPECT("sem-value-0", sem_getvalue(s, &v) == 0 && v == 0);
	EXPECT("sem-trywait-eagain", sem_trywait(s) == -1 && errno == EAGAIN);
	pid_t pid = fork();
	if (pid == 0) {	/* opens it again by name and waits */
		sem_t *t = sem_open("/exo-fmap-sem", 0);
		if (t == SEM_FAILED)
			_exit(1);
		double t0 = now_s();
		if (sem_wait(t))
			_exit(2);
		_exit(now_s() - t0 >= 0.1 ? 0 : 3);
	}
	sleep_ms(200);
	EXPECT("sem-post", sem_post(s) == 0);
	EXPECT("sem-waiter-woken-by-post", child_status(pid) == 0);

	/* removed while another process waits on it: the waiter still wakes */
	pid = fork();
	if (pid == 0) {
		if (sem_wait(s))
			_exit(2);
		_exit(0);
	}
	sleep_ms(200);
	EXPECT("sem-unlink-while-waiting", sem_unlink("/exo-fmap-sem") == 0);
	EXPECT("sem-gone-enoent", sem_open("/exo-fmap-sem", 0) == SEM_FAILED && errno == ENOENT);
	EXPECT("sem-post-after-unlink", sem_post(s) == 0);
	EXPECT("sem-waiter-after-unlink", child_status(pid) == 0);
	EXPECT("sem-post-twice", sem_post(s) == 0 && sem_post(s) == 0);
	EXPECT("sem-value-2", sem_getvalue(s, &v) == 0 && v == 2);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 50000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	EXPECT("sem-timedwait-ok", sem_wait(s) == 0 && sem_timedwait(s, &ts) == 0);
	EXPECT("sem-timedwait-etimedout", sem_timedwait(s, &ts) == -1 && errno == ETIMEDOUT);
	EXPECT("sem-close", sem_close(s) == 0);
}

#define EXEC_SHM_AT ((char *)0x200000000000)
#define EXEC_FILE_AT ((char *)0x200000100000)

/* The image execve started: at the places where the old image had a
 * System V attachment and a shared file mapping, fresh anonymous memory
 * must read zeros, and stores there must reach neither. */
static int after_exec(void)
{
	char *a = mmap(EXEC_SHM_AT, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	char *b = mmap(EXEC_FILE_AT, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	if (a != EXEC_SHM_AT || b != EXEC_FILE_AT)
		return 1;
	if (a[0] || b[0])
		return 2;
	a[0] = 'n';
	b[0] = 'n';
	return 0;
}

/* Hostile: execve while a System V segment and a file are mapped. */
static void mappings_across_execve(const char *self)
{
	int id = shmget(IPC_PRIVATE, PG, IPC_CREAT | 0600);
	char *s = id < 0 ? (char *)-1 : shmat(id, EXEC_SHM_AT, 0);
	int fd = open("exec.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *f = fd < 0 || ftruncate(fd, PG) ? MAP_FAILED :
		  mmap(EXEC_FILE_AT, PG, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	EXPECT("exec-mappings", s == EXEC_SHM_AT && f == EXEC_FILE_AT);
	s[0] = 'S';
	f[0] = 'F';
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "after-exec", (char *)0);
		_exit(127);
	}
	EXPECT("exec-image-gets-fresh-memory", child_status(pid) == 0);
	EXPECT("exec-old-mappings-untouched", s[0] == 'S' && f[0] == 'F');
	shmdt(s);
	shmctl(id, IPC_RMID, 0);
	munmap(f, PG);
	close(fd);
	unlink("exec.dat");
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "after-exec") == 0)
		return after_exec();
	setvbuf(stdout, 0, _IOLBF, 0);
	shared_file();
	removed_while_mapped();
	copy_within_one_page();
	private_and_errors();
	shared_anonymous();
	mincore_calls();
	memfd_calls();
	posix_shm();
	named_semaphores();
	if (argc == 2)
		mappings_across_execve(argv[1]);
	printf("%s\n", failures ? "some checks failed" : "all checks passed");
	return failures != 0;
}
