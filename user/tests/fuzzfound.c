/*
 * What the Linux system-call fuzzer (user/tests/lxfuzz.c) found, one call
 * each, as it crashed the library OS (tests/suites/26-fuzz-syscalls.sh):
 * each call must return, with a result or an error, instead of ending
 * the program with SIGSEGV inside the library OS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
	/* O_TRUNC on a procfs file called the file system's truncate
	 * through a NULL pointer */
	long r = syscall(SYS_creat, "/proc/self/maps", 0644);
	EXPECT("creat-proc-self-maps-returns", r < 0 ? errno == EINVAL : 1);
	r = syscall(SYS_open, "/proc/self/status", O_WRONLY | O_TRUNC);
	EXPECT("open-trunc-proc-self-status-returns", r < 0 ? errno == EINVAL : 1);
	return failures ? 1 : 0;
}
