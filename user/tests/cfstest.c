/*
 * CryptoFS mounted at /data by the library OS (tools/exo-run --disk with
 * CRYPTOFS_PASSPHRASE; tests/suites/32-cryptofs-guest.sh):
 *   cfstest write SEED   makes a tree (directories, a large file written in
 *                        odd pieces, pwrite, truncate, a symlink, an atomic
 *                        rename over a file, an unlink), checks it, fsyncs;
 *   cfstest read SEED    (in a new VM on the same disk) finds all of it;
 *   cfstest cmp A B      A and B hold the same bytes;
 *   cfstest copy A B     copies A to B and fsyncs B;
 *   cfstest vec          vector registers survive file calls on /data;
 *   cfstest churn        forever: writes slot file N%8 as a temporary,
 *                        fsyncs, renames it over the slot, fsyncs, and
 *                        prints "durable N" (the power-cut test kills the
 *                        VM meanwhile); N goes on from the highest found;
 *   cfstest check        every slot file is whole: prints "slot K N".
 *   cfstest checkchurn   check, then "checked" (or "check failed"), then
 *                        churn: one boot per power cut does both.
 */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CFS_MAGIC 0x43465321
#define BIG (1024 * 1024 + 123)

static unsigned seed;

static uint8_t pattern(uint64_t i) { return (uint8_t)((i * 2654435761u >> 13) + seed); }

static int write_all(int fd, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The whole file at path, or NULL; *len gets its size. */
static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		return NULL;
	uint8_t *b = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	ssize_t r;
	while (b && (r = read(fd, b + got, (size_t)st.st_size + 1 - got)) > 0)
		got += (size_t)r;
	close(fd);
	*len = got;
	return b;
}

static int big_ok(const char *path)
{
	size_t n;
	uint8_t *b = slurp(path, &n);
	int ok = b && n == BIG;
	for (size_t i = 0; ok && i < n; i++)
		ok = b[i] == (i >= 5000 && i < 5004 ? (uint8_t)"PATC"[i - 5000] : pattern(i));
	free(b);
	return ok;
}

static int text_is(const char *path, const char *want)
{
	size_t n;
	uint8_t *b = slurp(path, &n);
	int ok = b && n == strlen(want) && memcmp(b, want, n) == 0;
	free(b);
	return ok;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return d ? n : -1;
}

static void check_tree(void)
{
	char link[64] = { 0 };
	struct stat st;
	EXPECT("big-file-contents", big_ok("/data/d/big"));
	EXPECT("small-file-contents", text_is("/data/d/a.txt", "hello, volume\n"));
	EXPECT("renamed-over-target", text_is("/data/d/sub/config", "version 2\n"));
	EXPECT("rename-source-gone", access("/data/d/sub/config.new", F_OK) != 0 && errno == ENOENT);
	EXPECT("unlinked-gone", access("/data/d/gone", F_OK) != 0 && errno == ENOENT);
	EXPECT("truncated-size", stat("/data/d/short", &st) == 0 && st.st_size == 3 &&
	       text_is("/data/d/short", "abc"));
	EXPECT("symlink-target", readlink("/data/lnk", link, sizeof link - 1) == 7 && !strcmp(link, "d/a.txt"));
	EXPECT("symlink-followed", text_is("/data/lnk", "hello, volume\n"));
	EXPECT("mode-kept", stat("/data/d/a.txt", &st) == 0 && (st.st_mode & 07777) == 0640);
	EXPECT("dir-listing", count_entries("/data/d") == 5 && count_entries("/data/d/sub") == 1 &&
	       count_entries("/data") == 2);
	EXPECT("subdir-nlink", stat("/data/d", &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 4);
}

static void phase_write(void)
{
	struct statfs sf;
	EXPECT("mounted-cryptofs", statfs("/data", &sf) == 0 && sf.f_type == CFS_MAGIC);
	EXPECT("mkdir", mkdir("/data/d", 0755) == 0 && mkdir("/data/d/sub", 0700) == 0);
	int fd = open("/data/d/a.txt", O_CREAT | O_WRONLY | O_EXCL, 0640);
	EXPECT("create", fd >= 0 && write_all(fd, (const uint8_t *)"hello, volume\n", 14) == 0 &&
	       close(fd) == 0);

	uint8_t *b = malloc(BIG);
	for (size_t i = 0; i < BIG; i++)
		b[i] = pattern(i);
	fd = open("/data/d/big", O_CREAT | O_RDWR | O_TRUNC, 0644);
	int ok = fd >= 0;
	for (size_t off = 0, step = 1; ok && off < BIG; off += step, step = step * 3 + 7) {
		size_t n = BIG - off < step ? BIG - off : step;
		ok = write_all(fd, b + off, n) == 0;
	}
	EXPECT("big-write-in-pieces", ok);
	EXPECT("pwrite-middle", pwrite(fd, "PATC", 4, 5000) == 4);
	struct stat st;
	EXPECT("fstat-size", fstat(fd, &st) == 0 && st.st_size == BIG);
	EXPECT("fsync", fsync(fd) == 0 && close(fd) == 0);
	free(b);

	fd = open("/data/d/short", O_CREAT | O_RDWR, 0644);
	EXPECT("truncate", fd >= 0 && write_all(fd, (const uint8_t *)"abcdefgh", 8) == 0 &&
	       ftruncate(fd, 3) == 0 && close(fd) == 0);
	fd = open("/data/d/sub/config", O_CREAT | O_WRONLY, 0644);
	EXPECT("old-config", fd >= 0 && write_all(fd, (const uint8_t *)"version 1\n", 10) == 0 && close(fd) == 0);
	fd = open("/data/d/sub/config.new", O_CREAT | O_WRONLY, 0644);
	EXPECT("new-config", fd >= 0 && write_all(fd, (const uint8_t *)"version 2\n", 10) == 0 &&
	       fsync(fd) == 0 && close(fd) == 0);
	EXPECT("rename-over", rename("/data/d/sub/config.new", "/data/d/sub/config") == 0);
	fd = open("/data/d/gone", O_CREAT | O_WRONLY, 0644);
	EXPECT("unlink", fd >= 0 && close(fd) == 0 && unlink("/data/d/gone") == 0);
	EXPECT("symlink", symlink("d/a.txt", "/data/lnk") == 0);
	fd = open("/data/d/open-unlinked", O_CREAT | O_RDWR, 0644);
	char ub[8] = { 0 };
	EXPECT("unlinked-open-file-readable", fd >= 0 && write_all(fd, (const uint8_t *)"still", 5) == 0 &&
	       unlink("/data/d/open-unlinked") == 0 && access("/data/d/open-unlinked", F_OK) != 0 &&
	       fstat(fd, &st) == 0 && st.st_nlink == 0 && pwrite(fd, "!", 1, 5) == 1 &&
	       pread(fd, ub, 6, 0) == 6 && !memcmp(ub, "still!", 6) && close(fd) == 0);
	EXPECT("orphans-hidden", count_entries("/data") == 2 && access("/data/.exo-orphans", F_OK) != 0);
	EXPECT("hard-link-refused", link("/data/d/a.txt", "/data/d/hard") != 0 && errno == EPERM);
	EXPECT("rename-dir", mkdir("/data/d/moving", 0755) == 0 &&
	       rename("/data/d/moving", "/data/d/moved") == 0 && chdir("/data/d/moved") == 0 &&
	       open("here", O_CREAT | O_WRONLY, 0600) >= 0 && access("/data/d/moved/here", F_OK) == 0);
	check_tree();
}

static int copy_file(const char *from, const char *to)
{
	size_t n;
	uint8_t *b = slurp(from, &n);
	int fd = open(to, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	int ok = b && fd >= 0 && write_all(fd, b, n) == 0 && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	free(b);
	return ok;
}

static int same_file(const char *a, const char *b)
{
	size_t na, nb;
	uint8_t *x = slurp(a, &na), *y = slurp(b, &nb);
	int ok = x && y && na == nb && memcmp(x, y, na) == 0;
	free(x);
	free(y);
	return ok;
}

/* xmm6 and ymm15 hold a value across a write and a read on /data: the
 * library OS saved and restored the program's vector state. */
static void vector_state(void)
{
	static const uint8_t want[32] = "vector registers stay unchanged";
	uint8_t got6[16], got15[32];
	int fd = open("/data/vec", O_CREAT | O_RDWR | O_TRUNC, 0644);
	char buf[4096] = { 1 };
	long r1, r2;
	__asm__ volatile("movdqu (%[w]), %%xmm6\n\t"
			 "vmovdqu (%[w]), %%ymm15\n\t"
			 "mov $1, %%eax\n\t"		/* write(fd, buf, 4096) */
			 "mov %[fd], %%edi\n\t"
			 "mov %[b], %%rsi\n\t"
			 "mov $4096, %%edx\n\t"
			 "syscall\n\t"
			 "mov %%rax, %[r1]\n\t"
			 "mov $17, %%eax\n\t"		/* pread64(fd, buf, 4096, 0) */
			 "mov %[fd], %%edi\n\t"
			 "mov %[b], %%rsi\n\t"
			 "mov $4096, %%edx\n\t"
			 "xor %%r10d, %%r10d\n\t"
			 "syscall\n\t"
			 "mov %%rax, %[r2]\n\t"
			 "movdqu %%xmm6, (%[g6])\n\t"
			 "vmovdqu %%ymm15, (%[g15])\n\t"
			 : [r1] "=m"(r1), [r2] "=m"(r2)
			 : [w] "r"(want), [fd] "r"(fd), [b] "r"(buf), [g6] "r"(got6), [g15] "r"(got15)
			 : "rax", "rdi", "rsi", "rdx", "r10", "rcx", "r11", "xmm6", "xmm15", "memory");
	EXPECT("vec-calls-worked", fd >= 0 && r1 == 4096 && r2 == 4096);
	EXPECT("vec-xmm6-kept", memcmp(got6, want, 16) == 0);
	EXPECT("vec-ymm15-kept", memcmp(got15, want, 32) == 0);
}

/* Slot file contents for iteration n: "n\n" then a pattern of n's length. */
static size_t slot_body(uint64_t n, uint8_t *b)
{
	size_t len = (size_t)snprintf((char *)b, 32, "%llu\n", (unsigned long long)n);
	size_t extra = (size_t)(n * 7919 % 20000);
	for (size_t i = 0; i < extra; i++)
		b[len + i] = (uint8_t)(i * 31 + n);
	return len + extra;
}

/* The iteration a slot file holds, or -1 when it is not whole. */
static long long slot_read(int k)
{
	char path[32];
	size_t n;
	snprintf(path, sizeof path, "/data/s%d", k);
	uint8_t *b = slurp(path, &n), want[20100];
	long long it = b ? strtoll((const char *)b, NULL, 10) : -1;
	if (it >= 0 && (it % 8 != k || slot_body((uint64_t)it, want) != n || memcmp(b, want, n)))
		it = -2;
	free(b);
	return it;
}

static int churn(void)
{
	static uint8_t b[20100];
	long long next = 0;
	for (int k = 0; k < 8; k++)
		if (slot_read(k) + 1 > next)
			next = slot_read(k) + 1;
	for (uint64_t n = (uint64_t)next;; n++) {
		char tmp[32], path[32];
		snprintf(tmp, sizeof tmp, "/data/s%d.tmp", (int)(n % 8));
		snprintf(path, sizeof path, "/data/s%d", (int)(n % 8));
		size_t len = slot_body(n, b);
		int fd = open(tmp, O_CREAT | O_WRONLY | O_TRUNC, 0644);
		if (fd < 0 || write_all(fd, b, len) || fsync(fd) || close(fd) ||
		    rename(tmp, path))
			return 1;
		fd = open(path, O_RDONLY);
		if (fd < 0 || fsync(fd) || close(fd))
			return 1;
		printf("durable %llu\n", (unsigned long long)n);
		fflush(stdout);
	}
}

/* Prints what every slot file holds: 1 when one is not whole. */
static int check_slots(void)
{
	int bad = 0;
	for (int k = 0; k < 8; k++) {
		long long it = slot_read(k);
		printf("slot %d %lld\n", k, it);
		bad |= it == -2;
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "churn"))
		return churn();
	if (argc == 2 && !strcmp(argv[1], "check"))
		return check_slots();
	if (argc == 2 && !strcmp(argv[1], "checkchurn")) {
		if (check_slots()) {
			printf("check failed\n");
			return 1;
		}
		printf("checked\n");
		fflush(stdout);
		return churn();
	}
	if (argc == 4 && !strcmp(argv[1], "cmp"))
		return same_file(argv[2], argv[3]) ? 0 : 1;
	if (argc == 4 && !strcmp(argv[1], "copy"))
		return copy_file(argv[2], argv[3]) ? 0 : 1;
	if (argc == 2 && !strcmp(argv[1], "vec"))
		vector_state();
	else if (argc == 3 && !strcmp(argv[1], "write"))
		seed = (unsigned)strtoul(argv[2], NULL, 0), phase_write();
	else if (argc == 3 && !strcmp(argv[1], "read"))
		seed = (unsigned)strtoul(argv[2], NULL, 0), check_tree();
	else
		return 2;
	printf(failures ? "some checks failed\n" : "all checks passed\n");
	return failures ? 1 : 0;
}
