/*
 * Memory as on Linux (docs/LIBOS.md, "Memory budgets"): every process
 * may use the machine's free memory, whatever its depth in the process
 * tree, and memory a process frees goes back to the others.  A chain of 8
 * nested forks each touches a quarter of the machine's memory in turn; a
 * process that frees 100 MiB lets a sibling allocate it; RLIMIT_AS is
 * still enforced; a process that touches more than there is dies alone
 * and gives everything back.  Sizes come from sysinfo; run in a VM of
 * 256 MiB (tests/suites/29-posix-memory.sh).
 */
#include "check.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define PAGE 4096ull

static uint64_t free_bytes(void)
{
	struct sysinfo si;
	return sysinfo(&si) == 0 ? si.freeram * si.mem_unit : 0;
}

/* Maps len bytes, writes every page and reads them back; 0 when all of
 * it held.  A page the machine has no frame for ends the process. */
static int touch(uint64_t len, int keep, unsigned char **out)
{
	unsigned char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	for (uint64_t o = 0; o < len; o += PAGE)
		p[o] = (unsigned char)(o / PAGE);
	for (uint64_t o = 0; o < len; o += PAGE)
		if (p[o] != (unsigned char)(o / PAGE))
			return -2;
	if (keep)
		*out = p;
	else if (munmap(p, len))
		return -3;
	return 0;
}

/* The wait status of a forked child running fn(arg) and exiting with
 * what it returns. */
static int run_child(int (*fn)(uint64_t), uint64_t arg)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	int st = -1;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

/* One level of the chain: touch a quarter, free it, fork the next level
 * and pass its status up (the exit status counts the levels that ran). */
static int chain_level(uint64_t quarter_and_depth)
{
	uint64_t quarter = quarter_and_depth & ~0xffull, depth = quarter_and_depth & 0xff;
	int err = touch(quarter, 0, 0);
	if (err) {
		dprintf(1, "  level %d: touch %d\n", (int)depth, err);
		return 100 + (int)depth;
	}
	if (depth == 1)
		return 1;
	int st = run_child(chain_level, quarter | (depth - 1));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != depth - 1)
		dprintf(1, "  level %d: the next one ended with status %#x\n", (int)depth, st);
	return WIFEXITED(st) && WEXITSTATUS(st) == depth - 1 ? (int)depth : 100 + (int)depth;
}

static void nested_chain(uint64_t quarter)
{
	int st = run_child(chain_level, quarter | 8);
	EXPECT("chain-of-8-forks-each-touches-a-quarter", WIFEXITED(st) && WEXITSTATUS(st) == 8);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 8)
		printf("  status %#x\n", st);
}

static int sibling_allocates(uint64_t len)
{
	return touch(len, 0, 0) ? 2 : 0;
}

/* A holds all but 30 MiB of the free memory, frees 100 MiB of it and
 * stays; then its sibling B touches 100 MiB. */
static void freed_memory_goes_to_sibling(void)
{
	int ready[2], go[2];
	if (pipe(ready) || pipe(go))
		return;
	pid_t a = fork();
	if (a == 0) {
		unsigned char *p = 0;
		uint64_t len = (free_bytes() - 30 * MIB) & ~(MIB - 1);
		char r = touch(len, 1, &p) == 0 && munmap(p, 100 * MIB) == 0 ? 'y' : 'n';
		(void)!write(ready[1], &r, 1);
		(void)!read(go[0], &r, 1);
		_exit(p[len - PAGE] == (unsigned char)((len - PAGE) / PAGE) ? 0 : 3);
	}
	char r = 0;
	EXPECT("holder-took-most-and-freed-100-mib", read(ready[0], &r, 1) == 1 && r == 'y');
	int st = run_child(sibling_allocates, 100 * MIB);
	EXPECT("sibling-allocates-the-freed-100-mib", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	(void)!write(go[1], "g", 1);
	int sa = -1;
	EXPECT("holder-kept-the-rest", waitpid(a, &sa, 0) == a && WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
	close(ready[0]), close(ready[1]), close(go[0]), close(go[1]);
}

static int limited(uint64_t unused)
{
	(void)unused;
	struct rlimit rl = { 32 * MIB, 32 * MIB };
	if (setrlimit(RLIMIT_AS, &rl))
		return 2;
	void *p = mmap(0, 64 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED || errno != ENOMEM)
		return 3;
	return malloc(64 * MIB) == NULL ? 0 : 4;
}

static int overeat(uint64_t unused)
{
	(void)unused;
	unsigned char *p = 0;
	touch(1ull << 32, 1, &p);	/* 4 GiB: more than the machine has */
	return 0;
}

int main(void)
{
	struct sysinfo si;
	if (sysinfo(&si))
		return 1;
	uint64_t total = si.totalram * si.mem_unit, before = free_bytes();
	uint64_t quarter = (total / 4) & ~(MIB - 1);
	printf("machine %llu MiB, free %llu MiB, a quarter %llu MiB\n", (unsigned long long)(total / MIB),
	       (unsigned long long)(before / MIB), (unsigned long long)(quarter / MIB));
	nested_chain(quarter);
	freed_memory_goes_to_sibling();
	int st = run_child(limited, 0);
	EXPECT("rlimit-as-still-enforced", WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_child(overeat, 0);
	EXPECT("out-of-memory-ends-only-that-process", WIFSIGNALED(st));
	st = run_child(chain_level, quarter | 1);
	EXPECT("memory-back-after-out-of-memory", WIFEXITED(st) && WEXITSTATUS(st) == 1);
	uint64_t after = free_bytes();
	EXPECT("free-memory-back-at-the-end", after + 16 * MIB >= before);
	printf("free at the end %llu MiB\n", (unsigned long long)(after / MIB));
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
