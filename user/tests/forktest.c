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
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
