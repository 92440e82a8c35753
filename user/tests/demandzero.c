/*
 * An exec'd image's bss and stack are demand-zero (tests/suites/
 * 29-exec-demandzero.sh, docs/LIBOS.md "execve").  `demandzero run SELF`
 * execs SELF in the mode `image`, which checks, in the new image:
 *   - bss read before any write is zero, all of it, and the bytes of bss
 *     sharing the page that holds the file's last byte too, next to
 *     initialised data that kept its value;
 *   - a 100 KiB local array, written from its far end (pages well below
 *     the stack's top), keeps what was written;
 *   - a forked child sees the parent's written bss, zeros in untouched
 *     bss, and its writes stay its own (and the parent's its own);
 *   - /proc/self/maps shows bss past the file's pages as an unnamed
 *     writable private line after the data's line (named by the
 *     program's path), and the stack named [stack];
 *   - a MAP_FIXED mapping over bss gives a zeroed page where Linux allows
 *     it; where the library OS seals the image (docs/LIBOS.md "Memory")
 *     it is refused with EPERM and the bss there keeps its bytes.
 * The suite runs it in the guest and, built with musl-gcc, on Linux, and
 * compares the outputs.  `demandzero huge PATH` (guest) execs PATH, a
 * program whose bss is larger than RLIMIT_AS then allows, and larger than
 * the memory budget: ENOMEM both times, and the caller lives on.
 */
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIG (300 * 1024)

int data_word = 0x5a5a1234;		/* .data, just before .bss */
static char small_bss[100];		/* likely in the page .data ends in */
static char big_bss[BIG];		/* pages no byte of the file fills */

/* Whether all n bytes at p are zero. */
static int all_zero(const volatile char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Writes a pattern over a 100 KiB local array from its lowest address up
 * and sums it back: the stack pages far below the top are real memory. */
static __attribute__((noinline)) long deep_stack(void)
{
	volatile unsigned char a[100 * 1024];
	for (size_t i = 0; i < sizeof a; i++)
		a[i] = (unsigned char)(i * 7);
	long sum = 0;
	for (size_t i = 0; i < sizeof a; i++)
		sum += a[i];
	return sum;
}

static long deep_stack_want(void)
{
	long sum = 0;
	for (size_t i = 0; i < 100 * 1024; i++)
		sum += (unsigned char)(i * 7);
	return sum;
}

/* Whether the page holding va is resident (mincore), or -1 on error. */
static int resident(uintptr_t va)
{
	unsigned char v = 0;
	return mincore((void *)(va & ~(uintptr_t)4095), 4096, &v) ? -1 : v & 1;
}

/* Before anything touched them, as on Linux: bss past the file's last
 * page and the stack 48 KiB below us are not in memory yet. */
static void check_not_resident(void)
{
	int here;
	EXPECT("untouched-bss-not-resident", resident((uintptr_t)(big_bss + 200 * 1024)) == 0);
	EXPECT("untouched-stack-not-resident", resident((uintptr_t)&here - 48 * 1024) == 0);
}

static void check_zero_and_data(void)
{
	EXPECT("data-kept-next-to-bss", data_word == 0x5a5a1234);
	EXPECT("bss-in-the-files-last-page-zero", all_zero(small_bss, sizeof small_bss));
	/* read first, in an order that is not the address order */
	EXPECT("untouched-bss-reads-zero", big_bss[BIG / 2] == 0 && big_bss[BIG - 1] == 0 && big_bss[0] == 0);
	EXPECT("all-bss-zero", all_zero(big_bss, BIG));
	memset(big_bss + 4096, 0x33, 4096);
	EXPECT("bss-write-stays-in-its-page", big_bss[4096 + 4095] == 0x33 && big_bss[4096 + 4096] == 0);
}

static void check_fork(void)
{
	big_bss[10000] = 7;
	pid_t pid = fork();
	if (pid == 0) {
		int ok = big_bss[10000] == 7 && big_bss[200000] == 0 && all_zero(big_bss + 150000, 40000);
		big_bss[10000] = 9;
		big_bss[200000] = 3;
		ok = ok && big_bss[10000] == 9 && big_bss[200000] == 3;
		_exit(ok ? 0 : 1);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	EXPECT("fork-child-sees-written-and-zero-bss", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT("fork-parent-keeps-its-bss", big_bss[10000] == 7 && big_bss[200000] == 0);
}

/* The maps line holding va: its start, permissions and name. */
static int maps_line(uintptr_t va, unsigned long *start, char *perm, char *name, size_t nlen)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (f && !found && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		int at = 0;
		if (sscanf(line, "%lx-%lx %4s %*s %*s %*s%n", &lo, &hi, perm, &at) < 3 || va < lo || va >= hi)
			continue;
		const char *n = line + at;
		while (*n == ' ')
			n++;
		snprintf(name, nlen, "%s", n);
		*start = lo;
		name[strcspn(name, "\n")] = 0;
		found = 1;
	}
	if (f)
		fclose(f);
	return found;
}

static void check_maps(void)
{
	char perm[8], name[256];
	unsigned long bss_start = 0, data_start = 0, at;
	int local;
	EXPECT("maps-bss-rw-private-anonymous",
	       maps_line((uintptr_t)(big_bss + BIG / 2), &bss_start, perm, name, sizeof name) &&
	       strcmp(perm, "rw-p") == 0 && name[0] == 0);
	EXPECT("maps-data-a-line-of-its-own", maps_line((uintptr_t)&data_word, &data_start, perm, name, sizeof name) &&
	       strcmp(perm, "rw-p") == 0 && name[0] == '/' && data_start < bss_start);
	EXPECT("maps-stack-named", maps_line((uintptr_t)&local, &at, perm, name, sizeof name) && strcmp(perm, "rw-p") == 0 &&
	      strcmp(name, "[stack]") == 0);
}

static void check_map_fixed(void)
{
	char *page = (char *)(((uintptr_t)big_bss + 3 * 4096) & ~(uintptr_t)4095);
	page[0] = 0x44;
	void *p = mmap(page, 4096, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)	/* the library OS's image is sealed */
		EXPECT("map-fixed-over-bss", errno == EPERM && page[0] == 0x44);
	else
		EXPECT("map-fixed-over-bss", p == page && all_zero(page, 4096));
	page[1] = 1;
	EXPECT("map-fixed-over-bss-writable", page[1] == 1);
}

static int image(void)
{
	check_not_resident();
	check_zero_and_data();
	EXPECT("stack-100k-local-array", deep_stack() == deep_stack_want());
	check_fork();
	check_maps();
	check_map_fixed();
	printf("done\n");
	return failures != 0;
}

/* Execs prog in a child, under RLIMIT_AS = lim when lim is not 0: 1 when
 * execve failed with ENOMEM and the child lived on to say so. */
static int exec_enomem(const char *prog, rlim_t lim)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { lim, lim };
		if (lim)
			setrlimit(RLIMIT_AS, &rl);
		char *argv[] = { (char *)prog, 0 };
		execv(prog, argv);
		_exit(errno == ENOMEM ? 40 : 41);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 40;
}

/* prog's 1 GiB of bss: over a 64 MiB RLIMIT_AS, and over the budget of
 * the suite's 512 MiB guest (as Linux's overcommit heuristic refuses a
 * mapping larger than memory): ENOMEM before the switch. */
static int huge(const char *prog)
{
	EXPECT("huge-bss-over-rlimit-as-enomem", exec_enomem(prog, 64 << 20));
	EXPECT("huge-bss-over-budget-enomem", exec_enomem(prog, 0));
	return failures != 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IONBF, 0);
	if (argc >= 3 && strcmp(argv[1], "run") == 0) {
		char *args[] = { argv[2], "image", 0 };
		execv(argv[2], args);
		printf("FAIL exec %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	if (argc >= 2 && strcmp(argv[1], "image") == 0)
		return image();
	if (argc >= 3 && strcmp(argv[1], "huge") == 0)
		return huge(argv[2]);
	fprintf(stderr, "usage: demandzero run SELF | image | huge PATH\n");
	return 2;
}
