/* fork with copy-on-write: parent and child write the same variables and
 * each sees its own data; wait4 collects the child's status. */
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

static int global = 1;
static char big[3 * 4096];

/* More pages than a fork copies for the child at once (FORK_COPY_MAX in
 * libos/libos.h, 32): some are copied, the rest shared. */
#define ROUND_PAGES 48
static unsigned char rounds_area[ROUND_PAGES][4096];

/* Fork after fork, the parent writing every page between them: pages it
 * wrote since its last fork are copied for the child at the fork, those
 * copied at the last one are shared again, and the rest shared
 * copy-on-write as before.  After each fork the parent writes every page
 * again before the child looks (a pipe orders them) and the child writes
 * every page; each must still see its own contents, whichever way a page
 * went.  Returns the rounds that went wrong. */
static int fork_rounds(int rounds)
{
	int bad = 0;
	for (int r = 1; r <= rounds; r++) {
		for (int i = 0; i < ROUND_PAGES; i++)
			rounds_area[i][i * 7 % 4096] = (unsigned char)(r * 2);
		int go[2];
		if (pipe(go))
			return rounds;
		pid_t c = fork();
		if (c == 0) {
			char b;
			close(go[1]);
			int ok = read(go[0], &b, 1) == 1;
			for (int i = 0; i < ROUND_PAGES; i++)
				ok &= rounds_area[i][i * 7 % 4096] == (unsigned char)(r * 2);
			for (int i = 0; i < ROUND_PAGES; i++)
				rounds_area[i][i * 7 % 4096] = 0xee;
			_exit(ok ? 0 : 1);
		}
		close(go[0]);
		for (int i = 0; i < ROUND_PAGES; i++)
			rounds_area[i][i * 7 % 4096] = (unsigned char)(r * 2 + 1);
		int status = -1, ok = c > 0 && write(go[1], "g", 1) == 1;
		close(go[1]);
		ok &= c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0;
		for (int i = 0; i < ROUND_PAGES; i++)
			ok &= rounds_area[i][i * 7 % 4096] == (unsigned char)(r * 2 + 1);
		bad += !ok;
	}
	return bad;
}

int main(void)
{
	int local = 10;
	char *heap = malloc(100000);
	memset(heap, 'p', 100000);
	memset(big, 'b', sizeof big);
	pid_t parent = getpid();
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		printf("FAIL fork: returned %d\n", (int)pid);
		return 1;
	}
	if (pid == 0) {
		/* the child writes everything, then checks it sees only its own */
		global = 2;
		local = 20;
		memset(heap, 'c', 100000);
		big[4096] = 'C';
		/* the kernel writing into pages still shared after the fork */
		unsigned char rnd[64];
		int rnd_ok = getrandom(rnd, sizeof rnd, 0) == 64 && getrandom(big + 8000, 64, 0) == 64;
		int ok = global == 2 && local == 20 && heap[99999] == 'c' && big[4096] == 'C' &&
			 big[0] == 'b' && getpid() != parent && rnd_ok;
		printf("child: global=%d local=%d heap=%c big=%c%c pid-differs=%d getrandom=%d\n", global,
		       local, heap[0], big[0], big[4096], getpid() != parent, rnd_ok);
		fflush(stdout);
		_exit(ok ? 42 : 1);
	}
	/* the parent writes too, after the child started */
	global = 3;
	local = 30;
	heap[0] = 'P';
	EXPECT("parent-getrandom-on-shared-page", getrandom(big + 100, 64, 0) == 64 && big[4096] == 'b');
	int status = -1;
	pid_t got = waitpid(pid, &status, 0);
	EXPECT("fork-returns-child-pid", pid > 0 && pid != parent);
	EXPECT("waitpid-returns-pid", got == pid);
	EXPECT("child-exit-status", WIFEXITED(status) && WEXITSTATUS(status) == 42);
	EXPECT("parent-keeps-its-data", global == 3 && local == 30 && heap[0] == 'P' &&
	       heap[99999] == 'p' && big[4096] == 'b');
	EXPECT("waitpid-no-children", waitpid(-1, &status, 0) == -1);
	/* a second child, killed by a signal: the status says so */
	pid_t p2 = fork();
	if (p2 == 0) {
		volatile int *null = NULL;
		return *null;
	}
	EXPECT("second-child-segv", waitpid(p2, &status, 0) == p2 && WIFSIGNALED(status) && WTERMSIG(status) == 11);
	EXPECT("fork-rounds-copied-and-shared-pages", fork_rounds(6) == 0);
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
