/*
 * Two programs sharing one NIC through filtered capabilities
 * (tests/suites/29-network-nicshare.sh, docs/NETWORK.md): this process
 * keeps the NIC and serves UDP 7000; it forks child A with a NIC filtered
 * to UDP 7001 and child B with one filtered to TCP 8001 (prctl
 * EXO_PR_NET_CHILD), each running its own lwIP on the same address.  Every
 * process also binds the others' ports in its own stack, so a frame the
 * filters let through to the wrong process is counted.  The host
 * (tests/tools/nicshare-peer) drives it through datagrams to UDP 7000:
 *
 *   "echo X"  answered "parent echo X" (7000; 7001 too once A is revoked)
 *   "revoke"  revokes A's NIC and tells A so: "revoked R"
 *   "end"     ends both children and checks their status: "end ok"/"end FAIL"
 *
 * Child A answers "childA echo X" on 7001; "arm" fills its receive buffers
 * with a pattern, "check" answers how many bytes of it frames overwrote.
 * After the revocation it fills them again and, at the end, checks that
 * nothing overwrote them (the kernel took them off the device) and that
 * no datagram reached it.  Child B echoes TCP connections on 8001 as
 * "childB " and the data.
 *
 * "nicshare attack" is the other half of tests/tools/nicshare-arp-attack:
 * a child on UDP 7001 whose ARP cache and stale raw sockets a peer attacks.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <exo/net.h>

#include "check.h"
#include "netutil.h"

#define RX_BUFS_VA 0x00007ff400000000ull	/* libos/layout.h NIC_BUF_VA */
#define RX_BUFS_LEN (256u * 2048u)		/* net/lwip/nicring.c: receive buffers */
#define PATTERN 0x5a

static int udp_bound(int port)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a))
		return -1;
	return s;
}

static int tcp_listening(int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = sin_of("0.0.0.0", port);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4))
		return -1;
	return s;
}

/* Receives one datagram into buf (NUL-terminated): its length, and the
 * sender in from. */
static int recv_text(int s, char *buf, size_t size, struct sockaddr_in *from)
{
	socklen_t len = sizeof *from;
	ssize_t n = recvfrom(s, buf, size - 1, 0, (struct sockaddr *)from, &len);
	buf[n > 0 ? n : 0] = 0;
	return (int)n;
}

static void reply(int s, const struct sockaddr_in *to, const char *who, const char *text)
{
	char out[256];
	int n = snprintf(out, sizeof out, "%s %s", who, text);
	sendto(s, out, (size_t)n, 0, (const struct sockaddr *)to, sizeof *to);
}

static void fill_rx_buffers(void)
{
	memset((void *)RX_BUFS_VA, PATTERN, RX_BUFS_LEN);
}

static unsigned overwritten(void)
{
	const volatile uint8_t *p = (const volatile uint8_t *)RX_BUFS_VA;
	unsigned n = 0;
	for (unsigned i = 0; i < RX_BUFS_LEN; i++)
		n += p[i] != PATTERN;
	return n;
}

/* The parent's word on the control pipe p polled: 0 when none came; the
 * pipe's end counts as 'e' (end). */
static char control(const struct pollfd *p)
{
	char c = 0;
	if (!(p->revents & (POLLIN | POLLHUP)))
		return 0;
	return read(p->fd, &c, 1) == 1 ? c : 'e';
}

/* Child A: UDP 7001 on its filtered NIC, until the parent says 'e'. */
static int child_a(int ctl)
{
	int mine = udp_bound(7001), other = udp_bound(7000);
	EXPECT("childA-sockets", mine >= 0 && other >= 0);
	int revoked = 0, after = 0, stray = 0;
	char buf[256];
	struct sockaddr_in from;
	for (;;) {
		struct pollfd p[3] = { { mine, POLLIN, 0 }, { other, POLLIN, 0 }, { ctl, POLLIN, 0 } };
		if (poll(p, 3, 1000) < 0)
			continue;
		if (p[0].revents & POLLIN && recv_text(mine, buf, sizeof buf, &from) > 0) {
			if (revoked)
				after++;
			if (!strcmp(buf, "arm"))
				fill_rx_buffers(), reply(mine, &from, "childA", "armed");
			else if (!strcmp(buf, "check"))
				snprintf(buf, sizeof buf, "changed %u", overwritten()),
					reply(mine, &from, "childA", buf);
			else
				reply(mine, &from, "childA", buf);
		}
		if (p[1].revents & POLLIN && recv_text(other, buf, sizeof buf, &from) > 0)
			stray++;
		char c = control(&p[2]);
		if (c == 'e')
			break;
		if (c == 'r')
			revoked = 1, fill_rx_buffers();
	}
	EXPECT("childA-saw-no-datagram-to-the-parents-port", stray == 0);
	EXPECT("childA-was-revoked", revoked);
	EXPECT("childA-got-nothing-after-revocation", after == 0);
	unsigned changed = overwritten();
	if (changed)
		printf("childA: %u bytes of its receive buffers written after the revocation\n", changed);
	EXPECT("childA-buffers-untouched-after-revocation", changed == 0);
	return failures;
}

/* Child B: TCP 8001 on its filtered NIC, until the parent says 'e'. */
static int child_b(int ctl)
{
	int lis = tcp_listening(8001), other = udp_bound(7000);
	EXPECT("childB-sockets", lis >= 0 && other >= 0);
	int stray = 0, served = 0;
	char buf[256];
	struct sockaddr_in from;
	for (;;) {
		struct pollfd p[3] = { { lis, POLLIN, 0 }, { other, POLLIN, 0 }, { ctl, POLLIN, 0 } };
		if (poll(p, 3, 1000) < 0)
			continue;
		if (p[0].revents & POLLIN) {
			int c = accept(lis, 0, 0);
			struct timeval tv = { 10, 0 };
			setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			ssize_t n = c >= 0 ? recv(c, buf, sizeof buf - 1, 0) : -1;
			if (n > 0) {
				char out[300];
				int m = snprintf(out, sizeof out, "childB %.*s", (int)n, buf);
				send(c, out, (size_t)m, 0);
				served++;
			}
			if (c >= 0)
				close(c);
		}
		if (p[1].revents & POLLIN && recv_text(other, buf, sizeof buf, &from) > 0)
			stray++;
		if (control(&p[2]) == 'e')
			break;
	}
	EXPECT("childB-served", served > 0);
	EXPECT("childB-saw-no-datagram-to-the-parents-port", stray == 0);
	return failures;
}

/* Forks a child with a NIC filtered to (protocol, port) running fn; its
 * control pipe's write end in *ctl. */
static pid_t spawn(int protocol, int port, int (*fn)(int), int *ctl)
{
	int p[2];
	if (pipe(p))
		return -1;
	if (prctl(EXO_PR_NET_CHILD, protocol, port, 0, 0)) {
		printf("FAIL prctl-net-child %d/%d: %s\n", protocol, port, strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(p[1]);
		_exit(fn(p[0]));
	}
	close(p[0]);
	*ctl = p[1];
	return pid;
}

/* Resident memory in KiB (/proc/self/status VmRSS), or -1. */
static long vm_rss_kib(void)
{
	char text[2048];
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	if (f)
		fclose(f);
	text[n] = 0;
	const char *v = strstr(text, "VmRSS:");
	return v ? strtol(v + 6, 0, 10) : -1;
}

/* The attacked child (mode "attack"): echoes datagrams on 7001 to their
 * sender; "mark" notes its resident memory, "rss" answers how much it grew
 * since and how many datagrams came meanwhile, "end" ends it. */
static int attacked_child(int ctl)
{
	(void)ctl;
	int s = udp_bound(7001);
	EXPECT("attack-child-socket", s >= 0);
	static char buf[2048];
	struct sockaddr_in from;
	long base = 0, count = 0;
	for (;;) {
		if (recv_text(s, buf, sizeof buf, &from) <= 0)
			continue;
		count++;
		if (!strcmp(buf, "mark")) {
			base = vm_rss_kib(), count = 0;
			reply(s, &from, "childA", "marked");
		} else if (!strcmp(buf, "rss")) {
			char out[64];
			snprintf(out, sizeof out, "%ld %ld", vm_rss_kib() - base, count - 1);
			reply(s, &from, "childA rss", out);
		} else if (!strcmp(buf, "end")) {
			reply(s, &from, "childA", "bye");
			return failures;
		} else if (strncmp(buf, "bulk ", 5)) {
			reply(s, &from, "childA", buf);
		}
	}
}

/* Mode "attack" (tests/tools/nicshare-arp-attack on a socket link): a raw
 * socket for UDP with a large receive buffer, which the child's stack must
 * not keep, then a child on UDP 7001 that the peer attacks. */
static int attack(void)
{
	int raw = socket(AF_INET, SOCK_RAW, IPPROTO_UDP), big = 4 << 20, ctl = -1, st = -1;
	EXPECT("attack-raw-socket", raw >= 0 && !setsockopt(raw, SOL_SOCKET, SO_RCVBUF, &big, sizeof big));
	pid_t a = spawn(17, 7001, attacked_child, &ctl);
	EXPECT("attack-forked", a > 0);
	EXPECT("attack-child-exit-0", a > 0 && waitpid(a, &st, 0) == a && st == 0);
	return failures != 0;
}

/* The errors of the prctl calls themselves. */
static void check_errors(void)
{
	EXPECT("net-child-bad-protocol", prctl(EXO_PR_NET_CHILD, 1, 7001, 0, 0) == -1 && errno == EINVAL);
	EXPECT("net-child-bad-port", prctl(EXO_PR_NET_CHILD, 17, 70000, 0, 0) == -1 && errno == EINVAL);
	EXPECT("net-revoke-not-a-child", prctl(EXO_PR_NET_REVOKE, 4242, 0, 0, 0) == -1 && errno == ESRCH);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "attack"))
		return attack();
	check_errors();
	int srv = udp_bound(7000), leak_udp = udp_bound(7001), leak_tcp = tcp_listening(8001);
	EXPECT("parent-sockets", srv >= 0 && leak_udp >= 0 && leak_tcp >= 0);
	int ctl_a = -1, ctl_b = -1;
	pid_t a = spawn(17, 7001, child_a, &ctl_a);
	pid_t b = spawn(6, 8001, child_b, &ctl_b);
	EXPECT("forked-children-with-filtered-nics", a > 0 && b > 0);
	/* a filter a child holds cannot be given again: that fork fails */
	pid_t again = prctl(EXO_PR_NET_CHILD, 17, 7001, 0, 0) ? 0 : fork();
	if (again == 0)
		_exit(0);
	EXPECT("same-filter-twice-busy", again == -1 && errno == EBUSY);
	EXPECT("net-child-cancel", prctl(EXO_PR_NET_CHILD, 0, 0, 0, 0) == 0);
	printf("ready\n");
	int revoked = 0, leaks = 0, fallback = 0;
	char buf[256];
	struct sockaddr_in from;
	uint64_t deadline = now_ms() + 600000;
	while (now_ms() < deadline) {
		struct pollfd p[3] = { { srv, POLLIN, 0 }, { leak_udp, POLLIN, 0 }, { leak_tcp, POLLIN, 0 } };
		if (poll(p, 3, 1000) <= 0)
			continue;
		if (p[1].revents & POLLIN && recv_text(leak_udp, buf, sizeof buf, &from) > 0) {
			if (revoked) {		/* the port's traffic is ours again */
				fallback++;
				reply(leak_udp, &from, "parent", buf);
			} else {
				leaks++;
			}
		}
		if (p[2].revents & POLLIN) {
			int c = accept(leak_tcp, 0, 0);
			leaks++;
			close(c);
		}
		if (!(p[0].revents & POLLIN) || recv_text(srv, buf, sizeof buf, &from) <= 0)
			continue;
		if (!strcmp(buf, "revoke")) {
			int r = prctl(EXO_PR_NET_REVOKE, a, 0, 0, 0);
			revoked = r == 0;
			write(ctl_a, "r", 1);
			reply(srv, &from, "revoked", r ? strerror(errno) : "0");
		} else if (!strcmp(buf, "end")) {
			int sa = -1, sb = -1;
			write(ctl_a, "e", 1);
			write(ctl_b, "e", 1);
			waitpid(a, &sa, 0);
			waitpid(b, &sb, 0);
			EXPECT("childA-exit-0", sa == 0);
			EXPECT("childB-exit-0", sb == 0);
			EXPECT("parent-saw-nothing-of-the-childrens-ports", leaks == 0);
			EXPECT("revoked-port-falls-back-to-the-parent", fallback > 0);
			EXPECT("revoke-again-esrch", prctl(EXO_PR_NET_REVOKE, a, 0, 0, 0) == -1 && errno == ESRCH);
			reply(srv, &from, "end", failures ? "FAIL" : "ok");
			return failures != 0;
		} else {
			reply(srv, &from, "parent", buf);
		}
	}
	printf("FAIL nicshare: no \"end\" from the host within 600 s\n");
	return 1;
}
