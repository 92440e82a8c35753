/*
 * Memory comes back when a grandchild of the first process is reaped:
 * the first process forks a "shell", which forks and reaps 30 children
 * (half of them exec'd); what the shell's budget holds after the last must
 * be what it held after the third.  Each process held env caps on every
 * other one, and a freed process-table entry taken by the next child
 * overwrote the first process's record of its cap on the old child, whose
 * env (and 8 MiB of kernel quota) then lived on.  Guest only: prints one
 * PASS or FAIL line.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <sys/sysinfo.h>

#define SELF "/bin/forkloop"	/* where the suite puts this program */

static unsigned long free_kib(void)
{
	struct sysinfo si;
	return sysinfo(&si) ? 0 : si.freeram / 1024;
}

/* A shell writes its memory between the commands it forks: the pages a
 * fork shared and the parent then wrote (so copied) must come back once
 * the child is gone. Each fork kept them for good before (about 160 KiB
 * a fork here, 28 MiB over these 180), as long as the parent lived. */
static int writes_between_forks(void)
{
	static char buf[64 * 4096];
	unsigned long early = 0;
	for (int i = 0; i < 200; i++) {
		if (i == 20)
			early = free_kib();
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		if (p < 0 || waitpid(p, 0, 0) != p) {
			printf("FAIL forkloop-parent-writes-between-forks: fork or wait %d failed\n", i);
			return 0;
		}
		for (int k = 0; k < 64; k++)
			buf[k * 4096] = (char)i;
	}
	unsigned long late = free_kib();
	int ok = early && late + 4096 >= early;	/* the pool's 4 MiB, as above */
	printf("%s forkloop-parent-writes-between-forks: %lu KiB after 20 forks, %lu after 200\n",
	       ok ? "PASS" : "FAIL", early, late);
	return ok;
}

static int shell(const char *self)
{
	unsigned long early = 0;
	for (int i = 0; i < 30; i++) {
		if (i == 3)
			early = free_kib();
		pid_t p = fork();
		if (p == 0) {
			if (i % 2)
				execl(self, "forkloop", "child", (char *)0);
			_exit(4);
		}
		int st;
		if (p < 0 || waitpid(p, &st, 0) != p) {
			printf("FAIL forkloop-grandchildren-give-memory-back: fork or wait %d failed\n", i);
			return 1;
		}
	}
	unsigned long late = free_kib();
	/* Each process keeps up to 4 MiB of freed pages in its own pool before
	 * it gives them back (libos/mm.c, POOL_HIGH), so the shell may hold a
	 * 2 MiB range it took meanwhile; a child's env that lived on would
	 * hold its 8 MiB of kernel quota. */
	int ok = early && late + 4096 >= early;
	printf("%s forkloop-grandchildren-give-memory-back: %lu KiB after 3 children, %lu after 30\n",
	       ok ? "PASS" : "FAIL", early, late);
	return !writes_between_forks() || !ok;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child"))
		return 3;
	if (argc > 1 && !strcmp(argv[1], "shell"))
		return shell(SELF);
	pid_t s = fork();
	if (s == 0) {
		execl(SELF, "forkloop", "shell", (char *)0);
		_exit(127);
	}
	int st;
	if (waitpid(s, &st, 0) != s)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
