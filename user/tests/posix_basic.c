/* Ordinary POSIX calls served by the library OS: memory, time, randomness,
 * identity, and an unimplemented call. */
#include "check.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static uint64_t ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
	/* malloc: small objects, and a large block served by mmap */
	char *small = malloc(100);
	EXPECT("malloc-small", small != NULL);
	size_t big = 64u << 20;
	unsigned char *b = calloc(big, 1);
	EXPECT("calloc-64MiB", b != NULL);
	int zero = 1;
	for (size_t i = 0; i < big; i += 1 << 20)
		zero &= b[i] == 0;
	EXPECT("calloc-zeroed", zero);
	for (size_t i = 0; i < big; i += 4096)
		b[i] = (unsigned char)i;
	int kept = 1;
	for (size_t i = 0; i < big; i += 4096)
		kept &= b[i] == (unsigned char)i;
	EXPECT("memory-keeps-data", kept);
	free(b);

	/* brk (musl's sbrk only reports it; malloc owns it) */
	char *cur = (char *)syscall(SYS_brk, 0);
	char *end = (char *)syscall(SYS_brk, cur + (1 << 20));
	EXPECT("brk-grows", end == cur + (1 << 20) && (char *)syscall(SYS_brk, 0) == end);
	memset(cur, 0x5a, 1 << 20);
	EXPECT("brk-usable", ((unsigned char *)cur)[(1 << 20) - 1] == 0x5a);
	EXPECT("brk-shrinks", (char *)syscall(SYS_brk, cur) == cur);

	/* mmap, mprotect, munmap of anonymous memory */
	unsigned char *m = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT("mmap-anon", m != MAP_FAILED);
	m[0] = 1; m[4096] = 2; m[8192] = 3;
	EXPECT("mprotect-readonly", mprotect(m, 4096, PROT_READ) == 0 && m[0] == 1);
	EXPECT("mprotect-none-keeps-data", mprotect(m + 4096, 4096, PROT_NONE) == 0 &&
	       mprotect(m + 4096, 4096, PROT_READ) == 0 && m[4096] == 2);
	EXPECT("munmap", munmap(m, 3 * 4096) == 0);
	EXPECT("mmap-wx-refused", mmap(NULL, 4096, PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EACCES);
	unsigned char *again = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT("mmap-recycled-page-zeroed", again != MAP_FAILED && again[0] == 0 && again[4095] == 0);

	/* time */
	uint64_t t0 = ns(CLOCK_MONOTONIC);
	struct timespec req = { 0, 30 * 1000000 };
	EXPECT("nanosleep", nanosleep(&req, NULL) == 0);
	uint64_t slept = ns(CLOCK_MONOTONIC) - t0;
	printf("info slept %llu us for 30000\n", (unsigned long long)(slept / 1000));
	EXPECT("nanosleep-duration", slept >= 30000000u && slept < 2000000000u);
	int mono = 1;
	for (int i = 0; i < 10000; i++) {
		uint64_t a = ns(CLOCK_MONOTONIC), c = ns(CLOCK_MONOTONIC);
		mono &= c >= a;
	}
	EXPECT("clock-monotonic", mono);
	struct timeval tv;
	EXPECT("gettimeofday", gettimeofday(&tv, NULL) == 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	struct timespec bad = { 0, 2000000000 };
	EXPECT("nanosleep-einval", nanosleep(&bad, NULL) == -1 && errno == EINVAL);
	EXPECT("clock-bad-id", clock_gettime(12345, &req) == -1 && errno == EINVAL);

	/* randomness, identity */
	unsigned char r1[64], r2[64];
	EXPECT("getrandom", getrandom(r1, sizeof r1, 0) == 64 && getrandom(r2, sizeof r2, 0) == 64 &&
	       memcmp(r1, r2, 64) != 0);
	/* the kernel writes getrandom's buffer: pages not touched yet must work,
	 * and bad or read-only buffers give EFAULT, as on Linux */
	unsigned char *fresh = malloc(1 << 20);
	EXPECT("getrandom-untouched-buffer", getrandom(fresh + 300000, 20000, 0) == 20000);
	unsigned char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	EXPECT("getrandom-readonly-efault", getrandom(ro, 16, 0) == -1 && errno == EFAULT);
	EXPECT("getrandom-bad-pointer-efault", getrandom((void *)16, 16, 0) == -1 && errno == EFAULT);
	free(fresh);
	struct utsname u;
	EXPECT("uname", uname(&u) == 0 && strcmp(u.sysname, "ExoSwarm") == 0 && strcmp(u.machine, "x86_64") == 0);
	EXPECT("getpid", getpid() > 0);

	/* the signal mask */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGKILL);
	EXPECT("sigprocmask-block", sigprocmask(SIG_BLOCK, &set, NULL) == 0);
	EXPECT("sigprocmask-read", sigprocmask(SIG_SETMASK, NULL, &old) == 0 &&
	       sigismember(&old, SIGUSR1) == 1 && sigismember(&old, SIGKILL) == 0);
	EXPECT("sigprocmask-bad-how", sigprocmask(99, &set, NULL) == -1 && errno == EINVAL);

	/* an unimplemented call: -ENOSYS, and one line on stderr */
	long r = syscall(SYS_acct, small);
	long r2b = syscall(SYS_acct, small);
	EXPECT("unimplemented-enosys", r == -1 && r2b == -1 && errno == ENOSYS);

	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
