/* The Linux side of `make bench`: /init of a Linux guest booted under the
 * same QEMU flags as ExoSwarm.  Prints the same "bench" lines, then powers
 * the guest off. */
#include "bench.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGES 2000

int main(void)
{
	struct timespec ts;
	char byte = 0;
	int ab[2], ba[2];

	printf("linux bench starting\n");
	BENCH("getpid", 20000, syscall(SYS_getpid));
	BENCH("clock_gettime", 20000, clock_gettime(CLOCK_MONOTONIC, &ts));
	unsigned char *m = mmap(NULL, (PAGES + 32) * 4096ul, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long next_page = 0;
	BENCH("page-fault", PAGES, m[4096 * next_page++] = 1);

	/* pipe ping-pong between two processes, Linux's nearest equivalent */
	if (pipe(ab) == 0 && pipe(ba) == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			close(ab[1]);	/* so that read sees the parent's close */
			close(ba[0]);
			for (;;) {
				if (read(ab[0], &byte, 1) != 1)
					_exit(0);
				if (write(ba[1], &byte, 1) != 1)
					_exit(1);
			}
		}
		close(ab[0]);
		close(ba[1]);
		BENCH("ping-pong", 2000, (write(ab[1], &byte, 1), read(ba[0], &byte, 1)));
		close(ab[1]);
		waitpid(pid, NULL, 0);
	}
	printf("linux bench done\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
