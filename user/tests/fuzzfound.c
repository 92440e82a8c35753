/*
 * What the Linux system-call fuzzer (user/tests/lxfuzz.c) found, one call
 * each, as it crashed the library OS (tests/suites/26-fuzz-syscalls.sh):
 * each call must return, with a result or an error, instead of ending
 * the program with SIGSEGV inside the library OS; and the sequence of its
 * threaded runs that ended a batch inside fork (fork_beside_threads),
 * threads faulting on the same page at once (same_page_faults), calls
 * on the library OS's own memory (sealed_regions), and fork from a
 * thread other than the first (fork_from_thread).  And one a review
 * found: a process rewriting the kind of a description it shares, so
 * that another process's call indexed past the table of kinds' ops and
 * called through what lay there (forged_kind).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static volatile int stop_busy;

/* Seconds since an arbitrary start. */
static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A thread of the fuzzer's kind: writes its stack (a copy-on-write fault
 * after each fork) and calls in, without pause. */
static void *busy(void *arg)
{
	volatile char frame[8192];
	unsigned long n = 0;
	(void)arg;
	while (!stop_busy) {
		for (unsigned i = 0; i < sizeof frame; i += 512)
			frame[i] = (char)n;
		if (n++ % 4 == 0)
			syscall(SYS_getppid);
	}
	return 0;
}

/* fork beside threads that fault and call in: the kernel framed their
 * faults on handler stacks, and wrote their reflection slots, that fork
 * had just made copy-on-write; it could not, and it ended the whole
 * process in the middle of the fork, holding the library OS's lock (the
 * threaded fuzzer's million-call runs stopped so).  For `secs` seconds:
 * every fork and wait must work. */
static void fork_beside_threads(double secs)
{
	pthread_t t[3];
	int started = 0, forks = 0, bad = 0;
	for (int i = 0; i < 3; i++)
		started += pthread_create(&t[i], 0, busy, 0) == 0;
	for (double t0 = now(); now() - t0 < secs; forks++) {
		pid_t c = fork();
		if (c == 0)
			_exit(3);
		int st = 0;
		if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
			bad++;
	}
	stop_busy = 1;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], 0);
	printf("info fuzzfound: %d forks beside 3 busy threads in %.0f s\n", forks, secs);
	EXPECT("fork-beside-busy-threads", started == 3 && forks > 0 && bad == 0);
}

#define SP_PAGES 512
#define SP_THREADS 3
static volatile unsigned char *sp_area;	/* the pages the threads write */
static volatile int sp_round, sp_done[SP_THREADS], sp_stop;
static char sp_bss[SP_PAGES * 4096];	/* copy-on-write after each fork */

/* A writer of same_page_faults: each round, every page of sp_area, in
 * the same order as the other writers, so they fault on one page at once. */
static void *sp_writer(void *arg)
{
	int me = (int)(long)arg, seen = 0;
	while (!sp_stop) {
		if (sp_round == seen) {
			syscall(SYS_getppid);	/* holds the lock a while: faults queue */
			continue;
		}
		seen = sp_round;
		for (unsigned i = 0; i < SP_PAGES * 4096; i += 4096)
			sp_area[i] = (unsigned char)(me + 1);
		sp_done[me] = seen;
	}
	return 0;
}

/* Threads faulting on the same page at once: the first one's fault
 * mapped it (demand-zero) or copied it (copy-on-write) while the others
 * waited for the lock; their faults then found the page there and were
 * taken for bad writes, ending the program with SIGSEGV (the threaded
 * fuzzer's batches died so, most right after a fork).  For `secs`
 * seconds: rounds of fresh mappings and of a .bss area just forked. */
static void same_page_faults(double secs)
{
	pthread_t t[SP_THREADS];
	int started = 0, rounds = 0, bad = 0;
	double slowest = 0;
	for (long i = 0; i < SP_THREADS; i++)
		started += pthread_create(&t[i], 0, sp_writer, (void *)i) == 0;
	for (double t0 = now(); now() - t0 < secs; rounds++) {
		void *m = 0;
		if (rounds % 2 == 0) {		/* demand-zero pages */
			m = mmap(0, SP_PAGES * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED) {
				bad++;
				break;
			}
			sp_area = m;
		} else {			/* copy-on-write pages */
			sp_bss[rounds % 4096] = 1;
			pid_t c = fork();
			if (c == 0)
				_exit(sp_bss[rounds % 4096] == 1 ? 3 : 4);
			int st = 0;
			if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
				bad++;
			sp_area = (volatile unsigned char *)sp_bss;
		}
		int round = ++sp_round;
		double t1 = now();
		while (now() - t1 < 60.0) {
			int all = 1;
			for (int i = 0; i < started; i++)
				all &= sp_done[i] == round;
			if (all)
				break;
			sched_yield();
		}
		if (now() - t1 > slowest)
			slowest = now() - t1;
		for (int i = 0; i < started; i++)
			bad += sp_done[i] != round;
		if (m)
			munmap(m, SP_PAGES * 4096);
	}
	sp_stop = 1;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], 0);
	printf("info fuzzfound: %d rounds of %d threads writing %d pages at once in %.0f s "
	       "(slowest %.1f s), %d bad\n", rounds, SP_THREADS, SP_PAGES, secs, slowest, bad);
	EXPECT("same-page-faults", started == SP_THREADS && rounds > 0 && bad == 0);
}

static int sealed_bss_word;

/* The call's result as "ok" when it failed with err, else what it did. */
static int refused(long r, int err)
{
	return r == -1 && errno == err;
}

/* The library OS's own memory: its code and data (linked into the
 * program image), the shared segment, its heap, a fixed window.  Each
 * call that would unmap it, remap it or change its protection is refused
 * with EPERM (shmat with EINVAL), as Linux refuses them on a sealed
 * mapping; before, an munmap of the text ended the program inside the
 * library OS's fault handler.  The program must go on working after. */
static void sealed_regions(void)
{
	const struct { const char *name; unsigned long va; } at[] = {
		{ "text", (unsigned long)&sealed_regions & ~4095ul },
		{ "bss", (unsigned long)&sealed_bss_word & ~4095ul },
		{ "shared-segment", 0x7d0000000000ul },
		{ "libos-heap", 0x7e0000000000ul },
		{ "tables-window", 0x7ffa00000000ul },
	};
	int shm = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
		char name[64];
		void *p = (void *)at[i].va;
		snprintf(name, sizeof name, "sealed-munmap-%s-EPERM", at[i].name);
		EXPECT(name, refused(syscall(SYS_munmap, p, 4096), EPERM));
		snprintf(name, sizeof name, "sealed-mprotect-%s-EPERM", at[i].name);
		EXPECT(name, refused(syscall(SYS_mprotect, p, 4096, PROT_NONE), EPERM));
		snprintf(name, sizeof name, "sealed-mmap-fixed-%s-EPERM", at[i].name);
		EXPECT(name, refused(syscall(SYS_mmap, p, 4096, PROT_READ | PROT_WRITE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), EPERM));
		snprintf(name, sizeof name, "sealed-madvise-dontneed-%s-EPERM", at[i].name);
		EXPECT(name, refused(syscall(SYS_madvise, p, 4096, MADV_DONTNEED), EPERM));
		snprintf(name, sizeof name, "sealed-madvise-willneed-%s-ok", at[i].name);
		EXPECT(name, syscall(SYS_madvise, p, 4096, MADV_WILLNEED) == 0);
		snprintf(name, sizeof name, "sealed-shmat-%s-EINVAL", at[i].name);
		EXPECT(name, shm >= 0 && refused(syscall(SYS_shmat, shm, p, 0), EINVAL));
	}
	/* a range that only runs into the library OS's memory */
	EXPECT("sealed-munmap-overlapping-EPERM",
	       refused(syscall(SYS_munmap, 0x7cfffffff000ul, 2 * 4096), EPERM));
	if (shm >= 0)
		shmctl(shm, IPC_RMID, 0);
	/* still alive: the image's data written, memory mapped and unmapped,
	 * and a fork served by the fault handler */
	sealed_bss_word = 7;
	char *m = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok = m != MAP_FAILED && (m[0] = 1) == 1 && munmap(m, 4096) == 0;
	pid_t c = fork();
	if (c == 0)
		_exit(sealed_bss_word == 7 ? 3 : 4);
	int st = 0;
	EXPECT("sealed-program-goes-on", ok && c > 0 && waitpid(c, &st, 0) == c &&
	       WIFEXITED(st) && WEXITSTATUS(st) == 3);
}

static volatile int ft_bss = 1;

/* A thread that forks: the child must start (with this thread's
 * registers, as its only thread), write memory, call in and end with
 * its status; the parent thread goes on and reaps it, while a busy
 * thread writes its stack and calls in. */
static void *ft_forker(void *arg)
{
	int *bad = arg, forks = 0;
	for (double t0 = now(); now() - t0 < 2.0 || forks < 3; forks++) {
		int local = forks;
		pid_t c = fork();
		if (c == 0) {
			ft_bss = 40 + local;	/* a copy-on-write fault in the child */
			_exit(syscall(SYS_getpid) > 1 && ft_bss == 40 + local ? local % 100 : 200);
		}
		int st = 0;
		if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != local % 100)
			++*bad;
		ft_bss = local;			/* and one in the parent */
		if (ft_bss != local || local != forks)
			++*bad;
	}
	return (void *)(long)forks;
}

/* fork from a thread other than the first (its own handler stack, on
 * which the call is served, is shared copy-on-write by the fork) */
static void fork_from_thread(void)
{
	pthread_t f, b;
	int bad = 0;
	void *forks = 0;
	stop_busy = 0;
	int busy_ok = pthread_create(&b, 0, busy, 0) == 0;
	int ok = pthread_create(&f, 0, ft_forker, &bad) == 0 && pthread_join(f, &forks) == 0;
	stop_busy = 1;
	if (busy_ok)
		pthread_join(b, 0);
	printf("info fuzzfound: %ld forks from a second thread, %d bad\n", (long)forks, bad);
	EXPECT("fork-from-thread", ok && busy_ok && (long)forks >= 3 && bad == 0);
}

/* The library OS's own functions, which a hostile program linked with it
 * can call as well as any other (libos/thread.h, libos/vfs.h). */
void lo_lock(void);
void lo_unlock(void);
void *fd_get(int fd);

/* A forked child rewrites the kind (the first word of libos/vfs.h's struct
 * file, in the shared segment) of the pipe description it shares with us;
 * our read must fail with ENXIO, as on a description no longer usable. */
static void forged_kind(void)
{
	int p[2];
	if (pipe(p) != 0) {
		EXPECT("forged-kind-pipe", 0);
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		lo_lock();
		unsigned *kind = fd_get(p[0]);
		if (kind)
			*kind = 0x40000000u;
		lo_unlock();
		_exit(kind ? 0 : 1);
	}
	int st = 0;
	int forged = c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	char b;
	errno = 0;
	ssize_t n = read(p[0], &b, 1);
	EXPECT("forged-kind-read-enxio", forged && n < 0 && errno == ENXIO);
}

/* closed_under_recv's sleeper: a receive (recv, or read when
 * sleeper_reads) with a 1 s timeout on fd. */
static int sleeper_reads;
static void *recv_sleeper(void *arg)
{
	int fd = *(int *)arg;
	char b[64];
	errno = 0;
	ssize_t n = sleeper_reads ? read(fd, b, sizeof b) : recv(fd, b, sizeof b, 0);
	*(int *)arg = n < 0 ? -errno : (int)n;
	return 0;
}

/* One thread sleeps in recv on a UDP socket, another closes its
 * descriptor and opens a new socket that gets a datagram: the sleeper
 * must go on waiting on its own socket and time out (EAGAIN), as on
 * Linux; the close used to free the socket under it, which then read a
 * socket made later in the same memory (the threaded fuzzer's batches
 * died in recv, then in the shared segment's allocator).  The same with
 * read, which held no reference (the million-call runs' batches died in
 * recv_dgram under read, 11 times in two runs). */
static void closed_under_recv(int by_read)
{
	sleeper_reads = by_read;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { 1, 0 };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int ok = fd >= 0 && !setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) &&
		 !bind(fd, (struct sockaddr *)&a, sizeof a);
	int arg = fd;
	pthread_t t;
	if (!ok || pthread_create(&t, 0, recv_sleeper, &arg)) {
		EXPECT("closed-under-recv-setup", 0);
		return;
	}
	usleep(200000);
	close(fd);
	int n = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t al = sizeof a;
	a.sin_port = 0;
	ok = n >= 0 && !bind(n, (struct sockaddr *)&a, sizeof a) && !getsockname(n, (struct sockaddr *)&a, &al) &&
	     sendto(n, "not-yours", 9, 0, (struct sockaddr *)&a, sizeof a) == 9;
	pthread_join(t, 0);
	if (by_read)
		EXPECT("closed-under-read-times-out", ok && arg == -EAGAIN);
	else
		EXPECT("closed-under-recv-times-out", ok && arg == -EAGAIN);
	close(n);
}

/* closed_under_epoll_wait's sleeper: a 1 s wait on an empty epoll set. */
static void *epoll_sleeper(void *arg)
{
	struct epoll_event ev[4];
	int n = epoll_wait(*(int *)arg, ev, 4, 1000);
	*(int *)arg = n < 0 ? -errno : n;
	return 0;
}

/* One thread sleeps in epoll_wait on an empty set, another closes the
 * epoll descriptor and makes a new set with a ready pipe in it: the
 * sleeper must go on waiting on its own set and time out with nothing,
 * as on Linux; the close used to free the set under it, which then
 * reported the new set's entry or faulted reading freed entries (the
 * threaded fuzzer's million-call run: batches died in epoll_pwait). */
static void closed_under_epoll_wait(void)
{
	int ep = epoll_create1(0), arg = ep, p[2];
	pthread_t t;
	if (ep < 0 || pipe(p) || pthread_create(&t, 0, epoll_sleeper, &arg)) {
		EXPECT("closed-under-epoll-wait-setup", 0);
		return;
	}
	usleep(200000);
	close(ep);
	int ep2 = epoll_create1(0);
	struct epoll_event ev = { EPOLLIN, { .u64 = 0x77 } };
	int ok = ep2 >= 0 && write(p[1], "x", 1) == 1 && !epoll_ctl(ep2, EPOLL_CTL_ADD, p[0], &ev) &&
		 write(p[1], "y", 1) == 1;
	pthread_join(t, 0);
	EXPECT("closed-under-epoll-wait-times-out", ok && arg == 0);
	close(ep2);
	close(p[0]);
	close(p[1]);
}

/* A System V segment attached, a page in the middle of the attachment
 * unmapped, the segment removed and detached: shmdt must take the pieces
 * past the hole too, as Linux does, so that nothing maps the segment's
 * pages once they are freed.  It took only the pieces that go on from
 * the first without a gap, and the last page stayed mapped to freed
 * shared-segment memory, which the library OS then gave to its own
 * records: writes there corrupted the segment's free list (the threaded
 * fuzzer's million-call runs: batches, then the supervisor, died in
 * sh_usage and sh_free). */
static void shmdt_past_a_hole(void)
{
	int id = shmget(IPC_PRIVATE, 3 * 4096, 0600), p[2];
	char *a = id < 0 ? (char *)-1 : shmat(id, 0, 0);
	int ok = a != (char *)-1 && pipe(p) == 0 && munmap(a + 4096, 4096) == 0 &&
		 shmctl(id, IPC_RMID, 0) == 0 && shmdt(a) == 0;
	errno = 0;
	ssize_t n = ok ? write(p[1], a + 8192, 1) : -2;	/* from the last page: gone */
	EXPECT("shmdt-past-a-hole-unmaps-the-rest", ok && n < 0 && errno == EFAULT);
	if (ok) {
		close(p[0]);
		close(p[1]);
	}
}

static volatile long storm_hits;
static void storm_handler(int sig)
{
	(void)sig;
	storm_hits++;
}

/* Waits up to secs for child c; ends it if it has not finished then.
 * Its wait status, or -1 when it had to be ended. */
static int child_within(pid_t c, double secs)
{
	int st = 0, done = 0;
	for (double t0 = now(); c > 0 && !done && now() - t0 < secs;)
		if (!(done = waitpid(c, &st, WNOHANG) == c))
			usleep(50000);
	if (c > 0 && !done) {
		kill(c, SIGKILL);
		waitpid(c, &st, 0);
	}
	return done ? st : -1;
}

/* A POSIX timer of a 1 ns interval: the program must still make calls
 * beside its signals (Linux: thousands in a second).  The library OS
 * fired the timer again at each handler's rt_sigreturn, so the program
 * never ran on (the threaded fuzzer's batches stuck after timer_settime
 * or an rt_sigprocmask that unblocked such a signal).  In a child, which
 * we end if it has not finished in 10 s. */
static void timer_storm(void)
{
	pid_t c = fork();
	if (c == 0) {
		struct sigaction sa = { .sa_handler = storm_handler };
		struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
		timer_t tm;
		if (sigaction(SIGUSR1, &sa, 0) || timer_create(CLOCK_MONOTONIC, &ev, &tm))
			_exit(2);
		struct itimerspec its = { { 0, 1 }, { 0, 1 } };
		timer_settime(tm, 0, &its, 0);
		long calls = 0;
		for (double t0 = now(); now() - t0 < 1.0; calls++)
			syscall(SYS_getppid);
		_exit(calls >= 100 && storm_hits > 0 ? 0 : 3);
	}
	int st = child_within(c, 10.0);
	EXPECT("timer-storm-makes-progress", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* One read on fd that a 100 ms SIGALRM (no SA_RESTART) must end with
 * EINTR, as on Linux: 1 when it did. */
static int read_ended_by_alarm(int fd)
{
	struct sigaction sa = { .sa_handler = storm_handler };
	struct itimerval it = { { 0, 0 }, { 0, 100000 } };
	char b[16];
	if (sigaction(SIGALRM, &sa, 0) || setitimer(ITIMER_REAL, &it, 0))
		return 0;
	errno = 0;
	return read(fd, b, sizeof b) < 0 && errno == EINTR;
}

/* A signal must end a read of an empty eventfd and of an empty socket of
 * the process's own network stack: they slept on the stack's
 * notification, which no signal wakes, and never looked (the fuzzer's
 * batches stuck there under their 5 ms tick).  The eventfd in a child,
 * ended if it has not finished in 10 s; the socket here, the first
 * program's (those of its children go through its socket service), so
 * before the fix this program hung there. */
static void signal_ends_stack_waits(void)
{
	pid_t c = fork();
	if (c == 0)
		_exit(read_ended_by_alarm((int)syscall(SYS_eventfd2, 0, 0)) ? 0 : 3);
	int st = child_within(c, 10.0);
	EXPECT("signal-ends-eventfd-read-EINTR", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	EXPECT("signal-ends-socket-read-EINTR", fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
	       read_ended_by_alarm(fd));
	close(fd);
}

static int spin_efd = -1;

/* A thread that blocks every signal and reads an empty eventfd. */
static void *efd_reader(void *arg)
{
	sigset_t all;
	uint64_t v;
	(void)arg;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, 0);
	return (void *)(long)read(spin_efd, &v, sizeof v);
}

/* A thread blocked on an eventfd beside a 1 ns timer whose signal it
 * blocks: its wait must still give the lock up, so the other thread's
 * write ends it.  The wait took the timer, always due, as its deadline
 * and spun holding the lock: the machine stopped (a million-call run
 * did so).  In a child, ended if it has not finished in 10 s. */
static void blocked_timer_beside_wait(void)
{
	pid_t c = fork();
	if (c == 0) {
		sigset_t usr;
		sigemptyset(&usr);
		sigaddset(&usr, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr, 0);
		struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
		struct itimerspec its = { { 0, 1 }, { 0, 1 } };
		timer_t tm;
		pthread_t t;
		spin_efd = (int)syscall(SYS_eventfd2, 0, 0);
		if (spin_efd < 0 || timer_create(CLOCK_MONOTONIC, &ev, &tm) || timer_settime(tm, 0, &its, 0) ||
		    pthread_create(&t, 0, efd_reader, 0))
			_exit(2);
		usleep(200000);
		uint64_t one = 1;
		void *r = 0;
		_exit(write(spin_efd, &one, sizeof one) == 8 && !pthread_join(t, &r) && (long)r == 8 ? 0 : 3);
	}
	int st = child_within(c, 10.0);
	EXPECT("blocked-timer-beside-wait-gives-lock-up", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A call writing into a shared file mapping past the file's end
 * (getrandom into the second page of a mapping whose file was cut to one)
 * died of SIGBUS inside the library OS, which touches such a page before
 * the kernel writes it (the million-call run on seed 6, batch 194); on
 * Linux the call fails with EFAULT and the program goes on. */
static void write_past_mapped_eof(void)
{
	int fd = open("/tmp/fuzzfound-eof", O_RDWR | O_CREAT | O_TRUNC, 0600);
	char *m = MAP_FAILED;
	if (fd >= 0 && ftruncate(fd, 2 * 4096) == 0)
		m = mmap(0, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	int ok = m != MAP_FAILED && ftruncate(fd, 4096) == 0;
	long r = ok ? syscall(SYS_getrandom, m + 4096 + 100, 15, 0) : 0;
	EXPECT("getrandom-past-mapped-eof-EFAULT", ok && r == -1 && errno == EFAULT);
	r = ok ? syscall(SYS_getrandom, m + 100, 15, 0) : 0;
	EXPECT("getrandom-before-mapped-eof-works", ok && r == 15);
	if (m != MAP_FAILED)
		munmap(m, 2 * 4096);
	if (fd >= 0)
		close(fd);
	unlink("/tmp/fuzzfound-eof");
}

/* A long write to the console held the library OS's lock for the whole
 * count, so every other process stood still until it ended (the
 * million-call fuzzer's run 16 stalled on 545 MB of zeros). The parent
 * must go on making calls while its child writes 2 MiB to stderr in one
 * call; before, it made its first only once the write was over. */
static void long_console_write(void)
{
	static char text[2 << 20];
	int go[2];
	if (pipe(go)) {
		EXPECT("long-console-write-lets-others-run", 0);
		return;
	}
	pid_t c = fork();
	if (c == 0) {
		memset(text, '.', sizeof text);
		for (size_t i = 79; i < sizeof text; i += 80)
			text[i] = '\n';
		close(go[0]);
		if (write(go[1], "g", 1) != 1)
			_exit(2);
		_exit(write(2, text, sizeof text) == (ssize_t)sizeof text ? 0 : 1);
	}
	close(go[1]);
	char b;
	long calls = 0;
	int st = -1, ok = c > 0 && read(go[0], &b, 1) == 1;
	while (ok && waitpid(c, &st, WNOHANG) == 0)
		calls += getpid() > 0;	/* the first program's parent is 0 */
	close(go[0]);
	printf("info long-console-write: %ld calls while the child wrote\n", calls);
	EXPECT("long-console-write-lets-others-run",
	       ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 && calls > 100);
}

int main(void)
{
	/* O_TRUNC on a procfs file called the file system's truncate
	 * through a NULL pointer */
	long r = syscall(SYS_creat, "/proc/self/maps", 0644);
	EXPECT("creat-proc-self-maps-returns", r < 0 ? errno == EINVAL : 1);
	r = syscall(SYS_open, "/proc/self/status", O_WRONLY | O_TRUNC);
	EXPECT("open-trunc-proc-self-status-returns", r < 0 ? errno == EINVAL : 1);
	fork_beside_threads(3.0);
	same_page_faults(5.0);
	sealed_regions();
	fork_from_thread();
	forged_kind();
	closed_under_recv(0);
	closed_under_recv(1);
	closed_under_epoll_wait();
	shmdt_past_a_hole();
	timer_storm();
	blocked_timer_beside_wait();
	signal_ends_stack_waits();
	write_past_mapped_eof();
	long_console_write();
	return failures ? 1 : 0;
}
