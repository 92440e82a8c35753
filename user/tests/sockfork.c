/*
 * Sockets across fork and execve (docs/NETWORK.md, "Sockets across fork
 * and execve"; tests/suites/29-network-sockfork.sh).  The parent owns the
 * stack and plays the clients over loopback; its children use the sockets
 * they inherited, served by the parent's stack:
 *   fork-echo     inetd style: the parent accepts, forks, closes its copy;
 *                 the child echoes the connection and closes it (the
 *                 client sees end of file only then)
 *   accept-turns  two children blocked in accept on one listening socket
 *                 each take one connection
 *   exec-keeps    a child execve's a server: the listening socket survives
 *                 (it accepts and echoes), the O_CLOEXEC one is gone
 *   poll          poll, select and epoll on an inherited socket: not ready,
 *                 then ready when the parent writes; O_NONBLOCK gives EAGAIN
 *   udp           a UDP socket shared across fork: the child receives and
 *                 answers on it
 *   killed-holder a child killed while blocked in accept does not stop the
 *                 next child's accept
 *   faulted-holder a child that dies of its own fault holding the last
 *                 descriptor of a socket: the owner closes the socket
 *   forge         a hostile child writes the shared segment itself: messages
 *                 naming no socket, a stale socket, one the forger has
 *                 no descriptor of, lengths past their data, a receive
 *                 header pointing into the owner's memory, ioctls a holder
 *                 never sends, a close of a socket still held; and a socket record or description rewritten
 *                 under the owner's own calls: each is refused, the owner
 *                 lives, its memory is not written, and the honest holder's
 *                 and the owner's calls go on
 *   stackless     socket() in processes without a stack of their own, served
 *                 by the owner's stack: a forked child listens, accepts and
 *                 connects; an image it execve'd sends and receives UDP;
 *                 a child execve's a server on a listener it made
 *   stackless-net (with "net": QEMU's user network) a forked child's raw
 *                 ICMP socket pings the gateway through the owner's NIC
 *   daemon        a child makes a listener, forks and exits while its child
 *                 serves a connection; the grandchild goes on serving it
 *                 and accepts a new one
 *   owner-exec    (last: it replaces this image) the owner execve's while a
 *                 child is blocked in accept on its listener: the child's
 *                 accept ends with ENXIO (the stack went with the image),
 *                 it does not hang
 * Prints "ok NAME" or "FAIL NAME: why" per check; exits 0 when all passed.
 */
#define _GNU_SOURCE			/* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../libos/chan.h"		/* the forged messages' layout */
#include "../../net/lwip/sockshare.h"
#include "netutil.h"

static int failed;

static void check(int ok, const char *name, const char *why)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s (errno %s)\n", name, why, strerror(errno));
		failed = 1;
	}
	fflush(stdout);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int listener(int port, int flags)
{
	int s = socket(AF_INET, SOCK_STREAM | flags, 0);
	struct sockaddr_in a = loopback(port);
	int one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 8))
		return -1;
	return s;
}

static int client(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(port);
	struct timeval tv = { 30, 0 };		/* a child that never answers fails the test */
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a))
		return -1;
	return s;
}

/* Reads exactly n bytes (or to end of file): the count. */
static ssize_t read_full(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			return r < 0 && !got ? r : (ssize_t)got;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Echoes fd until end of file, in upper case: 0, or 1 on an error. */
static int echo_upper(int fd)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0)
			return 0;
		if (n < 0)
			return 1;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] >= 'a' && buf[i] <= 'z')
				buf[i] -= 32;
		if (write(fd, buf, (size_t)n) != n)
			return 1;
	}
}

static int child_status(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A client's round: sends msg, expects it back in upper case. */
static int round_trip(int c, const char *msg, const char *want)
{
	char buf[256] = { 0 };
	size_t n = strlen(msg);
	return write(c, msg, n) == (ssize_t)n && read_full(c, buf, n) == (ssize_t)n && !memcmp(buf, want, n);
}

static void fork_echo(void)
{
	int l = listener(7101, 0);
	int c = client(7101);
	int a = accept(l, 0, 0);
	check(l >= 0 && c >= 0 && a >= 0, "fork-echo-setup", "listen, connect, accept");
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		close(l);
		_exit(echo_upper(a) ? 3 : 0);
	}
	close(a);			/* the parent's copy: the child keeps the connection */
	check(round_trip(c, "hello, child", "HELLO, CHILD"), "fork-echo-round", "echo through the child");
	/* a large transfer through the child, both ways */
	static char big[200000], back[200000];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	pid_t w = fork();
	if (w == 0) {
		_exit(write(c, big, sizeof big) == (ssize_t)sizeof big ? 0 : 1);
	}
	ssize_t got = read_full(c, back, sizeof back);
	int same = got == (ssize_t)sizeof back;
	for (size_t i = 0; same && i < sizeof back; i++)
		same = back[i] == big[i] - 32;
	check(same && child_status(w) == 0, "fork-echo-200k", "200,000 bytes each way through the child");
	shutdown(c, SHUT_WR);
	char x;
	check(read(c, &x, 1) == 0, "fork-echo-eof", "end of file once the child closed");
	check(child_status(pid) == 0, "fork-echo-child-exit", "the child's status");
	close(c);
	close(l);
}

static void accept_turns(void)
{
	int l = listener(7102, 0);
	pid_t kids[2];
	for (int i = 0; i < 2; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			alarm(60);
			int a = accept(l, 0, 0);
			if (a < 0)
				_exit(2);
			char msg[16];
			snprintf(msg, sizeof msg, "%08d", (int)getpid());
			_exit(write(a, msg, 8) == 8 && close(a) == 0 ? 0 : 1);
		}
	}
	sleep(1);			/* both children wait in accept */
	char p1[9] = { 0 }, p2[9] = { 0 };
	int c1 = client(7102), c2 = client(7102);
	int ok = c1 >= 0 && c2 >= 0 && read_full(c1, p1, 8) == 8 && read_full(c2, p2, 8) == 8;
	check(ok && strcmp(p1, p2) != 0, "accept-turns", "two connections, each taken by another child");
	int s0 = child_status(kids[0]), s1 = child_status(kids[1]);
	check(s0 == 0 && s1 == 0, "accept-turns-exit", "both children exit 0");
	close(c1);
	close(c2);
	close(l);
}

/* The image execve starts: argv[2] the inherited listener, argv[3] a
 * descriptor that was O_CLOEXEC. */
static int exec_server(char **argv)
{
	alarm(60);
	int l = atoi(argv[2]), gone = atoi(argv[3]);
	if (fcntl(gone, F_GETFD) != -1 || errno != EBADF) {
		printf("FAIL exec-keeps-cloexec: descriptor %d still open after execve\n", gone);
		return 4;
	}
	int type = 0;
	socklen_t len = sizeof type;
	if (getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &type, &len) || !type)
		return 5;
	int a = accept(l, 0, 0);
	if (a < 0)
		return 6;
	return echo_upper(a) ? 7 : 0;
}

static void exec_keeps(const char *self)
{
	int l = listener(7103, 0);
	int gone = listener(7104, SOCK_CLOEXEC);
	pid_t pid = fork();
	if (pid == 0) {
		char ls[16], gs[16];
		snprintf(ls, sizeof ls, "%d", l);
		snprintf(gs, sizeof gs, "%d", gone);
		char *args[] = { (char *)self, "exec-server", ls, gs, 0 };
		execv(self, args);
		fprintf(stderr, "exec-keeps: execv %s: %s\n", self, strerror(errno));
		_exit(9);
	}
	int c = client(7103);
	check(c >= 0 && round_trip(c, "after execve", "AFTER EXECVE"), "exec-keeps-listener",
	      "a connection served by the image execve started");
	close(c);
	check(child_status(pid) == 0, "exec-keeps-exit", "the new image's status (4: the O_CLOEXEC socket stayed)");
	close(l);
	close(gone);
}

static void polls(void)
{
	int l = listener(7105, 0);
	int c = client(7105);
	int a = accept(l, 0, 0);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		struct pollfd p = { .fd = a, .events = POLLIN };
		if (poll(&p, 1, 300) != 0)
			_exit(2);		/* nothing written yet */
		if (write(a, "w", 1) != 1)	/* tells the parent to write */
			_exit(3);
		if (poll(&p, 1, 20000) != 1 || !(p.revents & POLLIN))
			_exit(4);
		char buf[8];
		if (read(a, buf, 8) != 2)
			_exit(5);
		fd_set r;
		FD_ZERO(&r);
		FD_SET(a, &r);
		struct timeval tv = { 0, 200000 };
		if (select(a + 1, &r, 0, 0, &tv) != 0)
			_exit(6);
		int ep = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = a };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev) || write(a, "x", 1) != 1)
			_exit(7);
		if (epoll_wait(ep, &ev, 1, 20000) != 1 || ev.data.fd != a)
			_exit(8);
		fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
		if (read(a, buf, 8) != 1 || read(a, buf, 8) != -1 || errno != EAGAIN)
			_exit(9);
		_exit(0);
	}
	close(a);
	char b;
	int ok = read(c, &b, 1) == 1 && b == 'w';
	usleep(100000);
	ok = ok && write(c, "hi", 2) == 2 && read(c, &b, 1) == 1 && b == 'x' && write(c, "y", 1) == 1;
	check(ok, "poll-parent", "the parent's side of the exchange");
	int st = child_status(pid);
	char why[64];
	snprintf(why, sizeof why, "child step %d failed (2 early, 4 poll, 6 select, 8 epoll, 9 EAGAIN)", st);
	check(st == 0, "poll-select-epoll-nonblock", why);
	close(c);
	close(l);
}

static void udp(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = loopback(7106), va = loopback(7107);
	int ok = u >= 0 && v >= 0 && !bind(u, (struct sockaddr *)&ua, sizeof ua) &&
		 !bind(v, (struct sockaddr *)&va, sizeof va);
	check(ok, "udp-setup", "two bound UDP sockets");
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		char buf[64];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n != 4 || fl != sizeof from || ntohs(from.sin_port) != 7107)
			_exit(2);
		_exit(sendto(u, "pong", 4, 0, (struct sockaddr *)&from, fl) == 4 ? 0 : 3);
	}
	usleep(200000);
	char buf[64];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ok = sendto(v, "ping", 4, 0, (struct sockaddr *)&ua, sizeof ua) == 4 &&
	     recvfrom(v, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && !memcmp(buf, "pong", 4) &&
	     ntohs(from.sin_port) == 7106;
	check(ok, "udp-shared", "the child received on the shared socket and answered from it");
	check(child_status(pid) == 0, "udp-child-exit", "the child's status");
	close(u);
	close(v);
}

static void killed_holder(void)
{
	int l = listener(7108, 0);
	pid_t victim = fork();
	if (victim == 0) {
		alarm(60);
		accept(l, 0, 0);
		_exit(1);
	}
	usleep(300000);
	kill(victim, SIGKILL);
	check(child_status(victim) == 128 + SIGKILL, "killed-holder-dies", "SIGKILL ends a child blocked in accept");
	pid_t next = fork();
	if (next == 0) {
		alarm(60);
		int a = accept(l, 0, 0);
		_exit(a >= 0 && echo_upper(a) == 0 ? 0 : 1);
	}
	int c = client(7108);
	check(c >= 0 && round_trip(c, "still", "STILL"), "killed-holder-next", "the next child accepts and echoes");
	close(c);
	check(child_status(next) == 0, "killed-holder-next-exit", "its status");
	close(l);
}

/* A holder that dies of a fault of its own while it holds the last
 * descriptor of a socket: the owner closes the socket (its port is free
 * again within 5 s), as for a holder killed from outside; before, the
 * dying holder sent no close and the socket stayed open until the owner
 * ended. */
static void faulted_holder(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), go[2];
	struct sockaddr_in a = loopback(7118);
	int ok = u >= 0 && !bind(u, (struct sockaddr *)&a, sizeof a) && !pipe(go);
	check(ok, "faulted-holder-setup", "a bound UDP socket and a pipe");
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		alarm(60);
		if (read(go[0], &c, 1) == 1)	/* the owner has let go of its copy */
			*(volatile int *)0 = 1;
		_exit(1);
	}
	close(u);
	(void)!write(go[1], "g", 1);
	check(child_status(pid) == 128 + SIGSEGV, "faulted-holder-dies", "the holder's fault ends it");
	int v = socket(AF_INET, SOCK_DGRAM, 0), bound = 0;
	for (uint64_t t0 = now_ms(); v >= 0 && !bound && now_ms() - t0 < 5000; usleep(20000))
		bound = !bind(v, (struct sockaddr *)&a, sizeof a);
	check(bound, "faulted-holder-socket-closed", "the dead holder's socket still holds its port");
	close(v);
	close(go[0]);
	close(go[1]);
}

/* The library OS's own functions, which a hostile program linked with it
 * can call as well as any other (libos/thread.h, libos/vfs.h). */
void lo_lock(void);
void lo_unlock(void);
void *fd_get(int fd);

/* The head of an open file description (libos/vfs.h's struct file). */
struct description {
	uint32_t kind, refs, flags;
	uint64_t pos;
	void *vn;
	struct sockref *priv;
};

/* The owner's memory a forged receive header points at: the forking
 * child's copy sits at the same address as the owner's. */
static unsigned char canary[8192] __attribute__((aligned(4096)));

/* The record of descriptor fd's socket. */
static struct sockref *record_of(int fd)
{
	struct description *d = fd_get(fd);
	return d ? d->priv : 0;
}

/* What a message names the socket of descriptor fd by. */
static uint64_t handle_of(int fd)
{
	struct sockref *r = record_of(fd);
	return (uint64_t)r->slot | (uint64_t)r->slot_gen << 32;
}

/* Sends op on ch as a hostile program would: size bytes of data (first
 * lay bytes of them from lay), arguments a[0..3] as given, and when data
 * is not NULL, the message's data pointer replaced by it.  The answer;
 * the reply's data into back (size bytes) when asked. */
static int64_t forged(struct chan *ch, uint32_t op, uint64_t size, const void *lay, size_t lay_len,
		      const uint64_t a[4], void *data, void *back)
{
	struct chan_msg *m = chan_msg_new(ch, op, size);
	if (!m)
		return -ENOMEM;
	uint8_t *own = m->data;
	if (lay)
		memcpy(m->data, lay, lay_len);
	for (int i = 0; i < 4; i++)
		m->arg[i] = a[i];
	if (data)
		m->data = data;
	int64_t r = chan_call(ch, m);
	m->data = own;
	if (back)
		memcpy(back, m->data, size);
	chan_msg_free(ch, m);
	return r;
}

/* The header a holder's receive sends (sockshare.c's struct recv_layout),
 * aimed here at the owner's canary. */
struct recv_forgery {
	struct msghdr h;
	struct iovec iov;
	uint8_t name[128];
};

/* One byte each way between the forger and the owner. */
static void tell(int fd, char c) { (void)!write(fd, &c, 1); }
static int heard(int fd, char want) { char c = 0; return read(fd, &c, 1) == 1 && c == want; }

#define FORGERIES 15

/* The forger's messages on the socket u's channel (w: a socket the forger
 * lets go of, which the owner keeps; x: a socket the owner closes meanwhile; to, from: the pipes to and from the owner).  r gets
 * each answer; got whether the bent receive delivered into the message. */
static void forge_messages(int u, int w, int x, int to, int from, int64_t r[FORGERIES], int *got)
{
	lo_lock();
	struct chan *ch = record_of(u)->ch;
	uint64_t hu = handle_of(u), hw = handle_of(w), hx = handle_of(x);
	struct recv_forgery bent = { .iov = { canary, 64 } };
	bent.h.msg_name = canary + 4096;
	bent.h.msg_namelen = 128;
	bent.h.msg_iov = &bent.iov;
	bent.h.msg_iovlen = 1;
	uint32_t word = 4096, small = 4;
	char back[sizeof bent + 64];
	/* no socket, another generation of u's entry */
	r[0] = forged(ch, SK_POLL, 64, 0, 0, (uint64_t[4]){ 0x12345678 }, 0, 0);
	r[1] = forged(ch, SK_POLL, 64, 0, 0, (uint64_t[4]){ hu + (1ull << 32) }, 0, 0);
	/* lengths past the data */
	r[2] = forged(ch, SK_SEND, 64, 0, 0, (uint64_t[4]){ hu, 1 << 20 }, 0, 0);
	r[3] = forged(ch, SK_SEND, 256, 0, 0, (uint64_t[4]){ hu, 4, 0, 4096 }, 0, 0);
	r[4] = forged(ch, SK_BIND, 16, 0, 0, (uint64_t[4]){ hu, 4096 }, 0, 0);
	r[5] = forged(ch, SK_NAME, 16, &word, sizeof word, (uint64_t[4]){ hu }, 0, 0);
	r[6] = forged(ch, SK_GETOPT, 16, &word, sizeof word, (uint64_t[4]){ hu, SOL_SOCKET, SO_TYPE }, 0, 0);
	r[7] = forged(ch, SK_RECV, sizeof bent + 64, &bent, sizeof bent, (uint64_t[4]){ hu, 0, 1 << 20 }, 0, 0);
	/* a receive whose header points into the owner's memory, then one whose
	 * data does: the first delivers into the message after all */
	r[8] = forged(ch, SK_RECV, sizeof bent + 64, &bent, sizeof bent, (uint64_t[4]){ hu, 0, 64 }, 0, back);
	*got = memmem(back, sizeof back, "secret-bytes", 12) != 0;
	r[9] = forged(ch, SK_RECV, sizeof bent + 64, &bent, sizeof bent, (uint64_t[4]){ hu, 0, 64 }, canary, 0);
	/* ioctls a holder never sends, and FIONREAD without room for its answer */
	r[10] = forged(ch, SK_IOCTL, 64, 0, 0, (uint64_t[4]){ hu, FIONBIO }, 0, 0);
	r[11] = forged(ch, SK_IOCTL, 0, &small, 0, (uint64_t[4]){ hu, FIONREAD }, 0, 0);
	/* closing a socket still held */
	r[12] = forged(ch, SK_CLOSE, 64, 0, 0, (uint64_t[4]){ hu }, 0, 0);
	/* the same close posed as an ended sender's (a generation of this
	 * process that never ran), which the server serves without a sender
	 * to check: still refused while the description is held, so u keeps
	 * working below (the server takes messages in order) */
	struct chan_msg *ghost = chan_msg_new(ch, SK_CLOSE, 64);
	if (ghost) {
		ghost->arg[0] = hu;
		ghost->client_gen++;
		if (chan_post(ch, ghost))
			chan_msg_free(ch, ghost);
	}
	lo_unlock();
	/* a live socket this process holds no descriptor of */
	close(w);
	lo_lock();
	r[14] = forged(ch, SK_POLL, 64, 0, 0, (uint64_t[4]){ hw }, 0, 0);
	lo_unlock();
	/* a socket the owner closed: this holder lets it go first, then the owner */
	close(x);
	tell(to, 'x');
	lo_lock();
	r[13] = heard(from, 'X') ? forged(ch, SK_POLL, 64, 0, 0, (uint64_t[4]){ hx }, 0, 0) : 1;
	lo_unlock();
}

/* The forger rewrites the record and the description of u under the
 * owner's own calls (which the owner makes between tell and heard). */
static int forge_records(int u, int v, int to, int from)
{
	lo_lock();
	struct description *d = fd_get(u);
	struct sockref *ru = d->priv, saved = *ru;
	*ru = *record_of(v);			/* u's record names v's socket */
	lo_unlock();
	tell(to, 'r');
	int ok = heard(from, 'R');
	lo_lock();
	*ru = saved;
	d->priv = (struct sockref *)canary;	/* u's description, a record in the owner's memory */
	lo_unlock();
	tell(to, 'p');
	ok &= heard(from, 'P');
	lo_lock();
	d->priv = ru;
	lo_unlock();
	tell(to, 'q');
	return ok;
}

/* The owner's side of forge_records: its own calls on u while forged. */
static void owner_under_forgery(int u, int to, int from)
{
	int n = -1;
	int ok = heard(from, 'r');
	check(ok && ioctl(u, FIONREAD, &n) < 0 && errno == EBADF, "forge-record-other-socket-ebadf",
	      "the owner's FIONREAD on a record rewritten to name another socket");
	tell(to, 'R');
	ok = heard(from, 'p');
	check(ok && ioctl(u, FIONREAD, &n) < 0 && errno == EBADF, "forge-record-in-owner-memory-ebadf",
	      "the owner's FIONREAD on a description whose record points into its memory");
	tell(to, 'P');
	check(heard(from, 'q'), "forge-record-restored", "the forger put the record back");
}

static void forge(void)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), v = socket(AF_INET, SOCK_DGRAM, 0);
	int w = socket(AF_INET, SOCK_DGRAM, 0), x = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = loopback(7110), va = loopback(7111);
	int down[2], up[2];
	memset(canary, 0x5a, sizeof canary);
	int ok = u >= 0 && v >= 0 && w >= 0 && x >= 0 && !bind(u, (struct sockaddr *)&ua, sizeof ua) &&
		 !bind(v, (struct sockaddr *)&va, sizeof va) && !pipe(down) && !pipe(up) &&
		 sendto(v, "secret-bytes", 12, 0, (struct sockaddr *)&ua, sizeof ua) == 12 &&
		 sendto(v, "secret-bytes", 12, 0, (struct sockaddr *)&ua, sizeof ua) == 12;
	check(ok, "forge-setup", "four UDP sockets, two datagrams queued, two pipes");
	pid_t pid = fork();
	if (pid == 0) {
		alarm(120);
		int64_t r[FORGERIES];
		int got = 0;
		forge_messages(u, w, x, up[1], down[0], r, &got);
		int bad = 0;
		static const int64_t want[FORGERIES] = {
			-EBADF, -EBADF, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL,
			12, -EINVAL, -ENOTTY, -EINVAL, -EBUSY, -EBADF, -EBADF };
		for (int i = 0; i < FORGERIES; i++)
			if (r[i] != want[i]) {
				printf("FAIL forge-message-%d: answer %lld, not %lld\n", i, (long long)r[i],
				       (long long)want[i]);
				bad = 1;
			}
		if (!got) {
			printf("FAIL forge-bent-receive-into-message: the datagram did not land in the message\n");
			bad = 1;
		}
		if (!forge_records(u, v, up[1], down[0]))
			_exit(4);
		/* the honest holder goes on: receives the datagram the refused
		 * receive left, then the owner's, and answers */
		char buf[64];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		if (recv(u, buf, sizeof buf, MSG_DONTWAIT) != 12 || memcmp(buf, "secret-bytes", 12))
			_exit(5);
		ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (n != 6 || memcmp(buf, "honest", 6) || sendto(u, "answer", 6, 0, (struct sockaddr *)&from, fl) != 6)
			_exit(3);
		_exit(bad ? 2 : 0);
	}
	ok = heard(up[0], 'x');
	close(x);			/* the last reference: the owner frees its entry */
	tell(down[1], 'X');
	check(ok, "forge-stale-socket-closed", "the forger let go of the socket the owner then closed");
	owner_under_forgery(u, down[1], up[0]);
	int n = -1;
	check(ioctl(u, FIONREAD, &n) == 0, "forge-owner-goes-on", "the owner's own call once the record is back");
	char buf[64];
	ok = sendto(v, "honest", 6, 0, (struct sockaddr *)&ua, sizeof ua) == 6 &&
	     recv(v, buf, sizeof buf, 0) == 6 && !memcmp(buf, "answer", 6);
	check(ok, "forge-holder-goes-on", "the honest holder received and answered after the forgeries");
	int st = child_status(pid);
	check(st == 0, "forge-messages-refused", st == 2 ? "a forged message was not refused as it should be"
							 : "the forger's status");
	int intact = 1;
	for (size_t i = 0; i < sizeof canary; i++)
		intact &= canary[i] == 0x5a;
	check(intact, "forge-owner-memory-untouched", "the canary the forged receive pointed at");
	close(u);
	close(v);
	close(w);
	close(down[0]), close(down[1]), close(up[0]), close(up[1]);
}

/* A connection to port on loopback, tried for up to 10 s (a child's
 * listener may not be there yet). */
static int client_when_up(int port)
{
	int c = -1;
	for (int i = 0; i < 100 && c < 0; i++) {
		c = client(port);
		if (c < 0)
			usleep(100000);
	}
	return c;
}

/* The image a stackless child execve's: a UDP socket of its own making
 * (in the first program's stack) sends "ping" to argv[2]'s port on
 * loopback and must hear "pong": 0, or the step that failed. */
static int stackless_exec(char **argv)
{
	alarm(60);
	int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { 20, 0 };		/* no answer fails, never hangs */
	if (u < 0 || setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv))
		return 2;
	struct sockaddr_in to = loopback(atoi(argv[2]));
	char buf[16];
	if (sendto(u, "ping", 4, 0, (struct sockaddr *)&to, sizeof to) != 4)
		return 3;
	if (recv(u, buf, sizeof buf, 0) != 4 || memcmp(buf, "pong", 4))
		return 4;
	return close(u) ? 5 : 0;
}

/* socket() in a forked child (which has no stack: it got ENETDOWN) and in
 * an image it execve'd (whose stack of its own reached only itself). */
static void stackless(void)
{
	int l = listener(7111, 0);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		int own = listener(7110, 0);	/* a listener of the child's making */
		if (own < 0)
			_exit(2);
		int a = accept(own, 0, 0);
		if (a < 0 || echo_upper(a))
			_exit(3);
		int c = client(7111);		/* and a connection out */
		_exit(c >= 0 && write(c, "from the child", 14) == 14 && close(c) == 0 && close(own) == 0 ? 0 : 4);
	}
	int c = client_when_up(7110);
	check(c >= 0 && round_trip(c, "stackless", "STACKLESS"), "stackless-listen",
	      "a listener the forked child made accepts and echoes");
	close(c);
	struct pollfd pl = { .fd = l, .events = POLLIN };
	int a = poll(&pl, 1, 30000) == 1 ? accept(l, 0, 0) : -1;	/* no hang when the child failed */
	char buf[32] = { 0 };
	check(a >= 0 && read_full(a, buf, 14) == 14 && !strcmp(buf, "from the child"), "stackless-connect",
	      "the forked child's own socket connects out");
	close(a);
	check(child_status(pid) == 0, "stackless-exit", "the child's status (2: socket, 3: accept, 4: connect)");
	close(l);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = loopback(7112);
	check(u >= 0 && !bind(u, (struct sockaddr *)&ua, sizeof ua), "stackless-udp-setup", "a bound UDP socket");
	pid = fork();
	if (pid == 0) {
		char *args[] = { "/bin/sockfork", "stackless-exec", "7112", 0 };
		execv(args[0], args);
		_exit(9);
	}
	struct timeval tv = { 30, 0 };
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	int ok = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl) == 4 && !memcmp(buf, "ping", 4) &&
		 sendto(u, "pong", 4, 0, (struct sockaddr *)&from, fl) == 4;
	check(ok, "stackless-exec-udp", "a datagram from the execve'd image's own socket, answered");
	check(child_status(pid) == 0, "stackless-exec-exit", "its status (2: socket, 4: no answer)");
	close(u);

	pid = fork();
	if (pid == 0) {		/* a listener of its own making, kept across execve */
		int ls = listener(7114, 0), gone = listener(7115, SOCK_CLOEXEC);
		char lb[16], gb[16];
		snprintf(lb, sizeof lb, "%d", ls);
		snprintf(gb, sizeof gb, "%d", gone);
		char *args[] = { "/bin/sockfork", "exec-server", lb, gb, 0 };
		if (ls >= 0 && gone >= 0)
			execv(args[0], args);
		_exit(9);
	}
	c = client_when_up(7114);
	check(c >= 0 && round_trip(c, "made, then execve", "MADE, THEN EXECVE"), "stackless-exec-keeps",
	      "the image a child execve'd serves the listener the child made");
	close(c);
	check(child_status(pid) == 0, "stackless-exec-keeps-exit", "its status (9: no listener, 4: O_CLOEXEC kept)");
}

/* One ICMP echo to the gateway from a raw socket: 1 when answered
 * within 2 s. */
static int ping_gateway(int seq)
{
	int s = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	struct sockaddr_in gw = sin_of("10.0.2.2", 0);
	uint8_t pkt[29] = { 8, 0, 0, 0, 0x51, 0x0c, 0, (uint8_t)seq };
	memcpy(pkt + 8, "sockfork stackless ping", 21);
	uint16_t c = inet_csum(pkt, sizeof pkt);
	pkt[2] = (uint8_t)(c >> 8);
	pkt[3] = (uint8_t)c;
	int got = 0;
	if (s >= 0 && sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&gw, sizeof gw) == (ssize_t)sizeof pkt) {
		uint64_t t0 = now_ms();
		struct pollfd p = { s, POLLIN, 0 };
		while (!got && now_ms() - t0 < 2000 && poll(&p, 1, 2000) == 1) {
			uint8_t in[256];
			ssize_t n = recv(s, in, sizeof in, 0);
			int hl = (in[0] & 15) * 4;
			got = n >= hl + 8 && in[hl] == 0 && in[hl + 4] == 0x51 && in[hl + 7] == seq;
		}
	}
	close(s);
	return got;
}

/* A forked child (no stack of its own) reaches the network through the
 * owner's NIC: its raw socket's echo request is answered. */
static void stackless_net(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		int ok = 0;
		for (int seq = 1; seq <= 5 && !ok; seq++)	/* the link may still be coming up */
			ok = ping_gateway(seq);
		_exit(ok ? 0 : 2);
	}
	check(child_status(pid) == 0, "stackless-net-ping", "the child's ping of the gateway (2: no answer)");
}

/* daemon(3)'s pattern: the socket's maker exits, its child keeps it. */
static void daemon_style(void)
{
	int go[2];
	if (pipe(go)) {
		check(0, "daemon-setup", "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		int l = listener(7116, 0);
		if (l < 0)
			_exit(2);
		pid_t c = fork();
		if (c == 0) {
			alarm(60);
			for (int i = 0; i < 2; i++) {
				int a = accept(l, 0, 0);
				if (a < 0 || echo_upper(a) || close(a))
					_exit(2);
			}
			_exit(close(l) ? 3 : 0);
		}
		char x;
		_exit(c > 0 && read(go[0], &x, 1) == 1 ? 0 : 3);	/* exits when told */
	}
	close(go[0]);
	int c = client_when_up(7116);
	check(c >= 0 && round_trip(c, "before", "BEFORE"), "daemon-served", "the grandchild echoes");
	check(write(go[1], "x", 1) == 1 && child_status(pid) == 0, "daemon-parent-exit",
	      "the listener's maker exits 0 and is reaped");
	check(round_trip(c, "after exit", "AFTER EXIT"), "daemon-served-after-exit",
	      "the connection is still served after its maker exited");
	close(c);
	c = client(7116);
	check(c >= 0 && round_trip(c, "new one", "NEW ONE"), "daemon-accepts-after-exit",
	      "a new connection accepted and served after the maker exited");
	close(c);
	int st = 0;
	check(waitpid(-1, &st, 0) > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "daemon-grandchild-exit",
	      "the grandchild, now our child, exits 0");
	close(go[1]);
	/* its last close closed the listener in our stack: the port is free
	 * (a listener leaves no TIME_WAIT), without SO_REUSEADDR */
	int again = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = loopback(7116);
	check(again >= 0 && !bind(again, (struct sockaddr *)&a, sizeof a) && !listen(again, 1), "daemon-closed",
	      "the port is free again once the grandchild closed the listener");
	close(again);
}

/* Whether the image before execve had a failure (argv[3]). */
static int failed_before(char **argv)
{
	return argv[3] && atoi(argv[3]) != 0;
}

/* The image the owner execve'd: its child's status tells how the child's
 * accept ended. */
static int owner_after_exec(char **argv)
{
	pid_t pid = (pid_t)atoi(argv[2]);
	failed = failed_before(argv);		/* the checks the first image made */
	int st = child_status(pid);
	check(st == 0, "owner-exec-holder-enxio", st == 2 ? "accept did not fail with ENXIO"
						   : "the holder's status");
	printf(failed ? "sockfork: FAILED\n" : "sockfork: all passed\n");
	return failed;
}

static void owner_exec(void)
{
	int l = listener(7109, 0);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		int a = accept(l, 0, 0);
		_exit(a < 0 && errno == ENXIO ? 0 : 2);
	}
	usleep(300000);			/* the child waits in accept */
	char ps[16];
	snprintf(ps, sizeof ps, "%d", (int)pid);
	char *args[] = { "/bin/sockfork", "owner-after-exec", ps, failed ? "1" : "0", 0 };
	fflush(stdout);
	execv(args[0], args);
	check(0, "owner-exec", "execv");
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "exec-server"))
		return exec_server(argv);
	if (argc >= 3 && !strcmp(argv[1], "owner-after-exec"))
		return owner_after_exec(argv);
	if (argc >= 3 && !strcmp(argv[1], "stackless-exec"))
		return stackless_exec(argv);
	setvbuf(stdout, 0, _IOLBF, 0);
	int net = argc >= 2 && !strcmp(argv[1], "net");	/* QEMU's user network: the NIC tests too */
	const char *only = argc >= 2 && !net ? argv[1] : "";	/* one test by name, else all */
	if (!*only || !strcmp(only, "fork-echo"))
		fork_echo();
	if (!*only || !strcmp(only, "accept-turns"))
		accept_turns();
	if (!*only || !strcmp(only, "exec-keeps"))
		exec_keeps("/bin/sockfork");	/* the suite puts it there */
	if (!*only || !strcmp(only, "poll"))
		polls();
	if (!*only || !strcmp(only, "udp"))
		udp();
	if (!*only || !strcmp(only, "killed-holder"))
		killed_holder();
	if (!*only || !strcmp(only, "faulted-holder"))
		faulted_holder();
	if (!*only || !strcmp(only, "forge"))
		forge();
	if (!*only || !strcmp(only, "stackless"))
		stackless();
	if (net)
		stackless_net();
	if (!*only || !strcmp(only, "daemon"))
		daemon_style();
	if (!*only || !strcmp(only, "owner-exec"))
		owner_exec();		/* returns only when execve failed */
	printf(failed ? "sockfork: FAILED\n" : "sockfork: all passed\n");
	return failed;
}
