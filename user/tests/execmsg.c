/*
 * A thread ended by another thread's execve in the middle of a call on a
 * channel (libos/chan.c) must not leave its message in the shared
 * segment: a child's second thread sleeps in recv on a socket we own
 * (its call goes to our socket server, with a message of 64 KiB of
 * room), and its first thread execve's this program again.  The segment's
 * usage (Shmem in /proc/meminfo) must fall back by the message's size
 * within a few seconds, while the new image still runs; before the fix
 * the message stayed until the process ended.  A third thread sleeps in
 * read on a pipe whose read end only it holds (the descriptor is
 * close-on-exec): once the execve ended it, the pipe has no reader, so
 * our write fails with EPIPE; before, the reference its call held stayed
 * until the process ended, and the write went into the pipe
 * (tests/suites/26-fuzz-syscalls.sh; run with --file to /bin/execmsg).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define SELF "/bin/execmsg"	/* where the suite puts this program */
#define PORT 7390

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Shmem of /proc/meminfo: KiB of the shared segment in use. */
static long shmem_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "Shmem: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static int sock = -1, pipe_in = -1;

static void *pipe_reader(void *arg)
{
	char b;
	(void)arg;
	read(pipe_in, &b, 1);		/* nobody writes before the execve */
	return 0;
}

static void *receiver(void *arg)
{
	static char buf[60000];
	(void)arg;
	recv(sock, buf, sizeof buf, 0);	/* nobody sends: it sleeps until ended */
	return 0;
}

/* The child: a thread in recv, then execve with the socket's and the
 * pipe's descriptors kept; the new image says so on the pipe and lives
 * on for `secs` seconds. */
static _Noreturn void child(int out)
{
	pthread_t t, u;
	if (pthread_create(&t, 0, receiver, 0) || fcntl(pipe_in, F_SETFD, FD_CLOEXEC) ||
	    pthread_create(&u, 0, pipe_reader, 0))
		_exit(2);
	usleep(300000);
	char fd[16];
	snprintf(fd, sizeof fd, "%d", out);
	execl(SELF, "execmsg", "image", fd, (char *)0);
	_exit(3);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "image")) {
		int out = atoi(argv[2]);
		if (write(out, "x", 1) != 1)
			return 4;
		sleep(8);
		return 0;
	}
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	int p[2], q[2];
	EXPECT("setup", sock >= 0 && bind(sock, (struct sockaddr *)&a, sizeof a) == 0 && pipe(p) == 0 &&
	       pipe(q) == 0 && signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	long before = shmem_kib();
	pid_t c = fork();
	if (c == 0) {
		close(p[0]);
		close(q[1]);
		pipe_in = q[0];
		child(p[1]);
	}
	close(p[1]);
	close(q[0]);
	/* the receiver's message is there while it sleeps */
	usleep(200000);
	long sleeping = shmem_kib();
	char b;
	int execd = read(p[0], &b, 1) == 1;
	long after = sleeping;
	double t0 = now();
	while (now() - t0 < 5.0 && after > sleeping - 48) {	/* a 64 KiB message back */
		usleep(100000);
		after = shmem_kib();
	}
	printf("info execmsg: Shmem %ld KiB before the child, %ld with its thread in recv, %ld after its execve\n",
	       before, sleeping, after);
	EXPECT("child-execd", execd);
	EXPECT("execve-frees-ended-threads-messages", execd && after >= 0 && after <= sleeping - 48);
	/* the reader's end went with the thread the execve ended */
	errno = 0;
	ssize_t w = write(q[1], "y", 1);
	EXPECT("execve-closes-pipe-end-ended-thread-read", execd && w < 0 && errno == EPIPE);
	kill(c, SIGKILL);
	int st;
	EXPECT("child-reaped", waitpid(c, &st, 0) == c);
	return failures ? 1 : 0;
}
