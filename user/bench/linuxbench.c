/* The Linux side of `make bench`: /init of a Linux guest booted under the
 * same QEMU flags as ExoSwarm.  Prints the same "bench" lines, then powers
 * the guest off.  Processes and threads are placed with sched_setaffinity
 * (what taskset does) and every timed round checks with RDTSCP where they
 * ran, as the ExoSwarm side does. */
#define _GNU_SOURCE
#include "bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGES 2000
#define ROUNDS 2000

/* Pins the calling thread to one CPU; 0 on success. */
static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof set, &set);
}

/*
 * Pipe ping-pong between this process (on CPU 0) and a child pinned to
 * partner_cpu, each round timed alone and sorted by where both sides ran,
 * as the ExoSwarm side sorts its notification round trips.
 */
static void ping_pong(const char *name, int partner_cpu)
{
	volatile unsigned *where = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct bench_tally same = { 0 }, cross = { 0 }, moved = { 0 };
	char byte = 0, label[64];
	int ab[2], ba[2];

	if (where == MAP_FAILED || pipe(ab) || pipe(ba))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		pin(partner_cpu);
		close(ab[1]);	/* so that read sees the parent's close */
		close(ba[0]);
		for (;;) {
			if (read(ab[0], &byte, 1) != 1)
				_exit(0);
			*where = bench_cpu();
			if (write(ba[1], &byte, 1) != 1)
				_exit(1);
		}
	}
	close(ab[0]);
	close(ba[1]);
	for (int i = 0; i < ROUNDS + 16; i++) {
		unsigned before = bench_cpu();
		uint64_t t0 = bench_ticks();
		if (write(ab[1], &byte, 1) != 1 || read(ba[0], &byte, 1) != 1)
			break;
		uint64_t t = bench_ticks() - t0;
		unsigned after = bench_cpu();
		if (i < 16)
			continue;
		if (before != after)
			bench_tally_add(&moved, t);
		else if (*where == before)
			bench_tally_add(&same, t);
		else
			bench_tally_add(&cross, t);
	}
	close(ab[1]);
	close(ba[0]);
	waitpid(pid, NULL, 0);
	munmap((void *)where, 4096);
	snprintf(label, sizeof label, "%s-same-cpu", name);
	bench_tally_print(label, &same);
	snprintf(label, sizeof label, "%s-cross-cpu", name);
	bench_tally_print(label, &cross);
	snprintf(label, sizeof label, "%s-moved", name);
	bench_tally_print(label, &moved);
}

/* A second thread of this process, pinned to CPU 1, spinning. */
static volatile unsigned spin_where;
static volatile uint64_t spin_count;

static void *spinner(void *arg)
{
	(void)arg;
	pin(1);
	for (;;) {
		spin_where = bench_cpu();
		spin_count++;
		__builtin_ia32_pause();
	}
	return NULL;
}

/* munmap of a page this process had touched; counted as remote only when
 * the spinner was seen on the other CPU and kept running (see exobench.c). */
static void unmap_rounds(const char *name, int remote)
{
	struct bench_tally t = { 0 }, other = { 0 };

	for (int i = 0; i < ROUNDS + 16; i++) {
		volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		*p = 1;
		unsigned me = bench_cpu(), where = spin_where;
		uint64_t count = spin_count, t0 = bench_ticks();
		munmap((void *)p, 4096);
		uint64_t dt = bench_ticks() - t0;
		if (i < 16)
			continue;
		int elsewhere = where != me && spin_where == where && spin_count != count;
		bench_tally_add(elsewhere == remote && bench_cpu() == me ? &t : &other, dt);
	}
	bench_tally_print(name, &t);
	if (other.rounds)
		bench_tally_print("unmap-misplaced", &other);
}

static void sleep_overshoot(void)
{
	struct bench_tally t = { 0 };
	struct timespec a, b, ms = { 0, 1000000 };

	for (int i = 0; i < 200; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		nanosleep(&ms, NULL);
		clock_gettime(CLOCK_MONOTONIC, &b);
		int64_t ns = (b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec);
		bench_tally_add(&t, (uint64_t)(ns - 1000000));
	}
	bench_tally_print("nanosleep-overshoot-ns", &t);
}

int main(void)
{
	struct timespec ts;
	pthread_t th;

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);	/* before pinning narrows it */

	printf("linux bench starting, %ld cpus\n", cpus);
	pin(0);
	BENCH("getpid", 20000, syscall(SYS_getpid));
	BENCH("clock_gettime", 20000, clock_gettime(CLOCK_MONOTONIC, &ts));
	unsigned char *m = mmap(NULL, (PAGES + 32) * 4096ul, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long next_page = 0;
	BENCH("page-fault", PAGES, m[4096 * next_page++] = 1);

	ping_pong("ping-pong", 0);
	sleep_overshoot();
	unmap_rounds("unmap-local", 0);
	if (cpus > 1) {
		ping_pong("ping-pong-cross", 1);
		if (pthread_create(&th, NULL, spinner, NULL) == 0) {
			while (!spin_count || spin_where == bench_cpu())
				sched_yield();
			unmap_rounds("unmap-remote", 1);
		}
	}
	printf("linux bench done\n");
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
