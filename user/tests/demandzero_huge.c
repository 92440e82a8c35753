/* A program whose bss (1 GiB) is larger than user/tests/demandzero.c's
 * `huge` mode lets RLIMIT_AS allow: its execve must fail with ENOMEM. */
#include <stdio.h>

static char huge[1 << 30];

int main(void)
{
	huge[0] = 1;
	printf("huge ran: %d\n", huge[0] + huge[sizeof huge - 1]);
	return 0;
}
