/*
 * Networking for `make bench` (tools/bench-net), one mode per run:
 *   udp-send IP PORT N     N 64-byte datagrams to IP:PORT, timed in
 *                          batches that never wait for the device
 *   udp-recv IP PORT N     N datagrams received in bursts the host at
 *                          IP:PORT sends when asked, timed per burst
 *   tcp-send IP PORT MIB   MIB MiB to IP:PORT, then close
 *   tcp-recv PORT          accept a connection, say "R", read to its
 *                          end, answer with the byte count (a connection
 *                          that brought nothing does not count)
 *   tcp-serve PORT         accept connections, say "R", read one line,
 *                          answer 64 bytes and close; "QUIT" ends it
 * The same source is an ExoSwarm program (tools/exo-cc) and, built with
 * musl-gcc -static -DLINUX_INIT, /init of the Linux guest, which brings
 * up its NIC with QEMU's user network's addresses and takes the mode from
 * the kernel command line.  Timed modes print "bench NAME TICKS" lines
 * (bench.h); under -icount shift=0 a tick is an instruction.  The UDP
 * modes also put markers (tools/insncount/insnmark.h) around whole rounds,
 * which tools/insncount/insncount.so counts from outside the guest: every
 * instruction, interrupts and all, but none while the guest idles.  The
 * host's side is tools/bench-netpeer, which times the TCP modes by wall
 * clock.
 */
#define _GNU_SOURCE
#include "bench.h"
#include "../../tools/insncount/insnmark.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[64 << 10];

/* Marker ids (tools/bench-net reads them): each window's end is its id + 1.
 * A send batch and then an idle round, a received burst and then an empty
 * round: the difference of the two is the batch's or the burst's work. */
enum {
	MARK_SEND_BATCH = 0x20, MARK_SEND_IDLE = 0x22,
	MARK_RECV_BURST = 0x30, MARK_RECV_EMPTY = 0x32,
};

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };

	a.sin_addr.s_addr = ip ? inet_addr(ip) : htonl(INADDR_ANY);
	return a;
}

/* A socket of TYPE bound to PORT on every address (listening for TCP). */
static int bound(int type, const char *port)
{
	struct sockaddr_in a = addr_of(NULL, port);
	int one = 1, s = socket(AF_INET, type, 0);

	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(s, (struct sockaddr *)&a, sizeof a) || (type == SOCK_STREAM && listen(s, 16))) {
		perror("netbench: bind");
		exit(1);
	}
	return s;
}

/* Only the calls' instructions: batches of UDP_BATCH sends (fewer than the
 * 128 transmit slots, and a Linux NIC's queue), each batch timed, with an
 * untimed pause after it in which the device sends the batch; so no timed
 * send waits for the device (under -icount the pause costs nothing). */
#define UDP_BATCH 32
static int udp_send(const char *ip, const char *port, long n)
{
	struct sockaddr_in a = addr_of(ip, port);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	long bad = 0, sent = 0;
	uint64_t ticks = 0;

	memset(buf, 'u', 64);
	for (int i = 0; i < 16; i++)
		bad += sendto(s, buf, 64, 0, (struct sockaddr *)&a, sizeof a) != 64;
	usleep(20000);
	while (sent < n) {
		INSNMARK(MARK_SEND_BATCH);
		uint64_t t0 = bench_ticks();
		for (int i = 0; i < UDP_BATCH; i++)
			bad += sendto(s, buf, 64, 0, (struct sockaddr *)&a, sizeof a) != 64;
		ticks += bench_ticks() - t0;
		sent += UDP_BATCH;
		usleep(20000);
		INSNMARK(MARK_SEND_BATCH + 1);
		INSNMARK(MARK_SEND_IDLE);
		usleep(20000);
		INSNMARK(MARK_SEND_IDLE + 1);
	}
	printf("bench udp-send %llu\n", (unsigned long long)(ticks / (uint64_t)sent));
	printf("netbench: %ld sends failed\n", bad);
	return bad != 0;
}

/* Sorts v[0..n) (insertion sort, n is small) and gives its median. */
static uint64_t median(uint64_t *v, long n)
{
	for (long i = 1; i < n; i++)
		for (long j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1], v[j - 1] = t;
		}
	return n ? v[n / 2] : 0;
}

/* Some 20 million instructions in which a burst the host was asked for
 * reaches the NIC (long enough in real time). */
static void spin(void)
{
	for (volatile long i = 0; i < 4000000; i++)
		;
}

/* The whole receive path, counted by tools/insncount: ROUNDS rounds of a
 * burst (ask the host at A for UDP_BATCH datagrams, spin while they arrive,
 * receive them) each followed by an empty round (ask for none, spin).  On
 * both systems the input path (Linux's interrupts, NAPI, IP and UDP as the
 * frames arrive; ExoSwarm's interrupt, ring and lwIP input) runs inside the
 * burst's window, so the difference of the windows is all of a burst's
 * work.  Gives the number of datagrams missing or of a wrong size. */
static long udp_recv_counted(int s, const struct sockaddr_in *a, long rounds)
{
	long bad = 0;

	for (long r = 0; r < rounds; r++) {
		INSNMARK(MARK_RECV_BURST);
		sendto(s, "go", 2, 0, (const struct sockaddr *)a, sizeof *a);
		spin();
		for (int i = 0; i < UDP_BATCH; i++)
			bad += recv(s, buf, sizeof buf, 0) != 64;
		INSNMARK(MARK_RECV_BURST + 1);
		INSNMARK(MARK_RECV_EMPTY);
		sendto(s, "no", 2, 0, (const struct sockaddr *)a, sizeof *a);
		spin();
		INSNMARK(MARK_RECV_EMPTY + 1);
	}
	return bad;
}

/* Bursts of UDP_BATCH datagrams that the host (bench-netpeer udp-burst at
 * IP:PORT) sends when asked, each received by UDP_BATCH timed recv calls
 * after an untimed spin in which the burst reaches the NIC (some 20
 * million instructions, long enough in real time).  No timed call waits,
 * so idle time is not counted; a round that did wait (the burst was late)
 * stands out, so the median round is reported.  Linux runs its whole
 * receive path (interrupt, NAPI, IP, UDP, the socket queue) as the frames
 * arrive, untimed, while ExoSwarm's kernel only copies each frame into a
 * posted buffer then and lwIP's input runs in the calls.  So every other
 * round first calls poll (untimed), which on ExoSwarm runs lwIP's input:
 * udp-recv-calls times the recv calls alone on both systems, udp-recv
 * also ExoSwarm's input path (on Linux the two are the same). */
static int udp_recv(const char *ip, const char *port, long n)
{
	struct sockaddr_in a = addr_of(ip, port);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { 5, 0 };
	long bad = 0, rounds = (n + UDP_BATCH - 1) / UDP_BATCH, r, k[2] = { 0, 0 };
	static uint64_t per[2][4096];

	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (rounds > 4096)
		rounds = 4096;
	for (r = -2; r < 2 * rounds; r++) {	/* two rounds to warm up */
		sendto(s, "go", 2, 0, (struct sockaddr *)&a, sizeof a);
		spin();
		int calls = r & 1;
		if (calls) {
			struct pollfd p = { s, POLLIN, 0 };
			poll(&p, 1, 5000);
		}
		uint64_t t0 = bench_ticks();
		for (int i = 0; i < UDP_BATCH; i++)
			bad += recv(s, buf, sizeof buf, 0) != 64;
		if (r >= 0)
			per[calls][k[calls]++] = (bench_ticks() - t0) / UDP_BATCH;
	}
	bad += udp_recv_counted(s, &a, rounds);
	printf("bench udp-recv %llu\n", (unsigned long long)median(per[0], k[0]));
	printf("bench udp-recv-calls %llu\n", (unsigned long long)median(per[1], k[1]));
	printf("netbench: %ld datagrams missing or of a wrong size\n", bad);
	return bad != 0;
}

/* Writes all LEN bytes of P. */
static int write_all(int s, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(s, p, len);
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int tcp_send(const char *ip, const char *port, long mib)
{
	struct sockaddr_in a = addr_of(ip, port);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (connect(s, (struct sockaddr *)&a, sizeof a)) {
		perror("netbench: connect");
		return 1;
	}
	memset(buf, 't', sizeof buf);
	for (long i = 0; i < mib * 16; i++)
		if (write_all(s, buf, sizeof buf)) {
			perror("netbench: write");
			return 1;
		}
	shutdown(s, SHUT_WR);
	while (read(s, buf, sizeof buf) > 0)	/* until the host has it all */
		;
	close(s);
	printf("netbench: sent %ld MiB\n", mib);
	return 0;
}

/* A connection that ends before any byte came is one the host gave up
 * waiting for (it retries while the guest boots): the next one counts. */
static int tcp_recv(const char *port)
{
	int l = bound(SOCK_STREAM, port);
	long long total = 0;
	ssize_t r = 0;
	char line[32];

	while (total == 0) {
		int s = accept(l, NULL, NULL);
		if (s < 0)
			return 1;
		if (write(s, "R", 1) != 1) {
			close(s);
			continue;
		}
		while ((r = read(s, buf, sizeof buf)) > 0)
			total += r;
		int len = snprintf(line, sizeof line, "%lld\n", total);
		if (total)
			write_all(s, line, (size_t)len);
		close(s);
	}
	printf("netbench: received %lld bytes\n", total);
	return r < 0;
}

static int tcp_serve(const char *port)
{
	int l = bound(SOCK_STREAM, port), one = 1;
	long served = 0;

	memset(buf, 'r', 64);
	for (;;) {
		char req[16];
		int s = accept(l, NULL, NULL);
		if (s < 0)
			return 1;
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		ssize_t r = write(s, "R", 1) == 1 ? read(s, req, sizeof req) : -1;
		if (r >= 4 && !memcmp(req, "QUIT", 4)) {
			close(s);
			break;
		}
		if (r > 0 && write_all(s, buf, 64) == 0)
			served++;
		close(s);
	}
	printf("netbench: served %ld connections\n", served);
	return 0;
}

static int run(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "udp-send"))
		return udp_send(argv[2], argv[3], atol(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "udp-recv"))
		return udp_recv(argv[2], argv[3], atol(argv[4]));
	if (argc == 5 && !strcmp(argv[1], "tcp-send"))
		return tcp_send(argv[2], argv[3], atol(argv[4]));
	if (argc == 3 && !strcmp(argv[1], "tcp-recv"))
		return tcp_recv(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "tcp-serve"))
		return tcp_serve(argv[2]);
	fprintf(stderr, "usage: netbench udp-send IP PORT N | udp-recv IP PORT N | tcp-send IP PORT MIB"
		" | tcp-recv PORT | tcp-serve PORT\n");
	return 2;
}

#ifndef LINUX_INIT
int main(int argc, char **argv)
{
	int rc = run(argc, argv);
	printf("netbench %s\n", rc ? "failed" : "done");
	return rc;
}
#else
#include "linuxinit.h"

#include <net/if.h>
#include <net/route.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>

/* Sets interface NAME's address (and netmask) and brings it up. */
static int if_up(int s, const char *name, const char *ip, const char *mask)
{
	struct ifreq r = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&r.ifr_addr;

	snprintf(r.ifr_name, sizeof r.ifr_name, "%s", name);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = inet_addr(ip);
	if (ioctl(s, SIOCSIFADDR, &r))
		return -1;
	a->sin_addr.s_addr = inet_addr(mask);
	if (ioctl(s, SIOCSIFNETMASK, &r) || ioctl(s, SIOCGIFFLAGS, &r))
		return -1;
	r.ifr_flags |= IFF_UP | IFF_RUNNING;
	return ioctl(s, SIOCSIFFLAGS, &r);
}

/* The user network's fixed addresses: 10.0.2.15/24, gateway 10.0.2.2 (as
 * ExoSwarm's static configuration gets them from tools/bench-net). */
static int net_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct rtentry rt = { 0 };
	struct sockaddr_in *gw = (struct sockaddr_in *)&rt.rt_gateway;

	if (if_up(s, "lo", "127.0.0.1", "255.0.0.0") || if_up(s, "eth0", "10.0.2.15", "255.255.255.0"))
		return perror("netbench: interface"), -1;
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	gw->sin_family = AF_INET;
	gw->sin_addr.s_addr = inet_addr("10.0.2.2");
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(s, SIOCADDRT, &rt))
		return perror("netbench: route"), -1;
	close(s);
	return 0;
}

/* /init: the kernel passes the words after "--" on its command line. */
int main(int argc, char **argv)
{
	int rc = 1;

	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	linuxinit_load_modules();
	sleep(1);		/* the NIC's probe */
	if (net_up() == 0)
		rc = run(argc, argv);
	printf("netbench %s\n", rc ? "failed" : "done");
	fflush(stdout);
	reboot(RB_POWER_OFF);
	return 0;
}
#endif
