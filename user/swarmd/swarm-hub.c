/*
 * swarm-hub: a host process that relays swarmd traffic over UDP (relay
 * mode, hubwire.h) and plays a bad network on command: loss, delay with
 * jitter, duplication, reordering and partitions between groups of nodes.
 * Every packet it delivers is written to a pcap file (raw IPv4 with the
 * real source and destination sockets), so the swarm's traffic can be read
 * in Wireshark.  Control lines arrive as UDP datagrams on the control port
 * and are answered "ok ..." or "error ...".  docs/PROTOCOL.md, "swarmd".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/bytes.h"
#include "user/swarmd/hubwire.h"
#include "user/swarmd/link.h"

enum { NODES = 256, QUEUE = 4096, PORT_GROUPS = 65536, REORDER_MIN_MS = 5,
       REORDER_SPAN_MS = 45, NODE_EXPIRE_MS = 10000 };

struct hnode {
	uint32_t ip;
	uint16_t port;
	uint64_t heard_ms;
};

struct queued {
	uint64_t due_ms;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint16_t len;
	uint8_t data[LINK_MAX_PACKET];
};

struct hub {
	int fd, cfd;
	FILE *pcap;
	uint64_t rng;
	double loss, dup, reorder;
	uint32_t delay_ms, jitter_ms;
	uint8_t group[PORT_GROUPS];        /* partition side by node port; 0 = default */
	struct hnode nodes[NODES];
	struct queued *q;
	uint32_t nq;
	uint64_t received, delivered, dropped_loss, dropped_partition, duplicated, overflow;
};

static struct hub H;
static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* splitmix64: the hub's own reproducible generator. */
static uint64_t rnd(void)
{
	return mix64(H.rng += 0x9e3779b97f4a7c15ULL);
}

static double uniform(void)
{
	return (double)(rnd() >> 11) * (1.0 / 9007199254740992.0);
}

/* The pcap global header: version 2.4, raw IPv4 (link type 101). */
static void pcap_open(const char *path)
{
	uint8_t h[24];

	H.pcap = fopen(path, "wb");
	if (!H.pcap)
		return;
	/* pcap headers are in the writer's byte order: write little-endian */
	const uint32_t v[6] = { 0xa1b2c3d4, 2 | 4u << 16, 0, 0, 65535, 101 };
	for (int i = 0; i < 6; i++)
		for (int b = 0; b < 4; b++)
			h[4 * i + b] = (uint8_t)(v[i] >> (8 * b));
	h[4] = 2; h[5] = 0; h[6] = 4; h[7] = 0;   /* major 2, minor 4 as two u16 */
	fwrite(h, 1, sizeof h, H.pcap);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(v >> (8 * b));
}

/* One delivered packet as IPv4/UDP in the capture. */
static void pcap_write(const struct queued *m)
{
	uint8_t rec[16 + 28];
	struct timespec ts;
	uint32_t sum = 0, total = 28u + m->len;

	if (!H.pcap)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	put_le32(rec, (uint32_t)ts.tv_sec);
	put_le32(rec + 4, (uint32_t)(ts.tv_nsec / 1000));
	put_le32(rec + 8, total);
	put_le32(rec + 12, total);
	uint8_t *ip = rec + 16;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put_u16(ip + 2, (uint16_t)total);
	ip[8] = 1;
	ip[9] = 17;
	put_u32(ip + 12, m->src_ip);
	put_u32(ip + 16, m->dst_ip);
	for (int i = 0; i < 20; i += 2)
		sum += get_u16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_u16(ip + 10, (uint16_t)~sum);
	put_u16(ip + 20, m->src_port);
	put_u16(ip + 22, m->dst_port);
	put_u16(ip + 24, (uint16_t)(8 + m->len));
	fwrite(rec, 1, sizeof rec, H.pcap);
	fwrite(m->data, 1, m->len, H.pcap);
}

/* Hand a packet to its receiver now, in its envelope naming the sender. */
static void deliver(const struct queued *m)
{
	uint8_t buf[LINK_MAX_PACKET + HUB_HDR];
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(m->dst_port),
				  .sin_addr = { htonl(m->dst_ip) } };

	hub_put(buf, m->src_ip, m->src_port);
	memcpy(buf + HUB_HDR, m->data, m->len);
	if (sendto(H.fd, buf, m->len + HUB_HDR, 0, (struct sockaddr *)&to, sizeof to) >= 0) {
		H.delivered++;
		pcap_write(m);
	}
}

/* Loss, duplication, delay, reordering: then queue or deliver. */
static void impair(const struct queued *m, uint64_t now)
{
	int copies = 1;

	if (H.group[m->src_port] != H.group[m->dst_port]) {
		H.dropped_partition++;
		return;
	}
	if (H.loss > 0 && uniform() < H.loss) {
		H.dropped_loss++;
		return;
	}
	if (H.dup > 0 && uniform() < H.dup) {
		copies = 2;
		H.duplicated++;
	}
	for (int c = 0; c < copies; c++) {
		uint64_t d = H.delay_ms + (H.jitter_ms ? rnd() % (H.jitter_ms + 1) : 0);
		if (H.reorder > 0 && uniform() < H.reorder)
			d += REORDER_MIN_MS + rnd() % REORDER_SPAN_MS;
		if (!d) {
			deliver(m);
		} else if (H.nq == QUEUE) {
			H.overflow++;
		} else {
			H.q[H.nq] = *m;
			H.q[H.nq++].due_ms = now + d;
		}
	}
}

/* Remember the sender; fan a broadcast out to every node heard lately. */
static void relay(const uint8_t *buf, size_t len, const struct sockaddr_in *from, uint64_t now)
{
	struct queued m = { .src_ip = ntohl(from->sin_addr.s_addr), .src_port = ntohs(from->sin_port) };
	int slot = -1, oldest = 0;

	if (hub_get(buf, len, &m.dst_ip, &m.dst_port) || len - HUB_HDR > sizeof m.data)
		return;
	H.received++;
	m.len = (uint16_t)(len - HUB_HDR);
	memcpy(m.data, buf + HUB_HDR, m.len);
	for (int i = 0; i < NODES; i++) {
		if (H.nodes[i].ip == m.src_ip && H.nodes[i].port == m.src_port)
			slot = i;
		if (H.nodes[i].heard_ms < H.nodes[oldest].heard_ms)
			oldest = i;
	}
	if (slot < 0)
		slot = oldest;
	H.nodes[slot] = (struct hnode){ m.src_ip, m.src_port, now };
	if (m.dst_port) {
		impair(&m, now);
		return;
	}
	for (int i = 0; i < NODES; i++) {
		struct hnode *n = &H.nodes[i];
		if (!n->ip || i == slot || now - n->heard_ms > NODE_EXPIRE_MS)
			continue;
		m.dst_ip = n->ip;
		m.dst_port = n->port;
		impair(&m, now);
	}
}

/* Deliver what is due; returns the earliest remaining due time. */
static uint64_t flush_due(uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (uint32_t i = 0; i < H.nq;) {
		if (H.q[i].due_ms <= now) {
			deliver(&H.q[i]);
			H.q[i] = H.q[--H.nq];
			continue;
		}
		if (H.q[i].due_ms < next)
			next = H.q[i].due_ms;
		i++;
	}
	return next;
}

/* "partition P P / P P ...": each slash-separated list of ports a group. */
static int set_partition(char *args)
{
	uint8_t g = 1;

	memset(H.group, 0, sizeof H.group);
	for (char *tok = strtok(args, " "); tok; tok = strtok(NULL, " ")) {
		if (!strcmp(tok, "/")) {
			if (++g == 0)
				return -EINVAL;
			continue;
		}
		unsigned long p = strtoul(tok, NULL, 10);
		if (!p || p > 65535)
			return -EINVAL;
		H.group[p] = g;
	}
	return 0;
}

/* Execute one control line into reply. */
static void control(char *line, char *reply, size_t cap)
{
	char *arg = strchr(line, ' ');
	int bad = 0;

	if (arg)
		*arg++ = 0;
	if (!strcmp(line, "partition") && arg) {
		bad = set_partition(arg);
	} else if (!strcmp(line, "heal")) {
		memset(H.group, 0, sizeof H.group);
	} else if (!strcmp(line, "set") && arg) {
		char name[16];
		double v;
		if (sscanf(arg, "%15s %lf", name, &v) != 2 || v < 0)
			bad = 1;
		else if (!strcmp(name, "loss") && v <= 1) H.loss = v;
		else if (!strcmp(name, "dup") && v <= 1) H.dup = v;
		else if (!strcmp(name, "reorder") && v <= 1) H.reorder = v;
		else if (!strcmp(name, "delay") && v <= 10000) H.delay_ms = (uint32_t)v;
		else if (!strcmp(name, "jitter") && v <= 10000) H.jitter_ms = (uint32_t)v;
		else bad = 1;
	} else if (strcmp(line, "stats")) {
		bad = 1;
	}
	if (bad) {
		snprintf(reply, cap, "error: partition P.. [/ P..] | heal | set loss|dup|reorder|delay|jitter V | stats\n");
		return;
	}
	snprintf(reply, cap, "ok received %" PRIu64 " delivered %" PRIu64 " lost %" PRIu64
		 " cut %" PRIu64 " duplicated %" PRIu64 " overflow %" PRIu64 " queued %u\n",
		 H.received, H.delivered, H.dropped_loss, H.dropped_partition, H.duplicated,
		 H.overflow, H.nq);
}

static void on_control(void)
{
	char line[1024], reply[512];
	struct sockaddr_in from;
	socklen_t fl = sizeof from;
	ssize_t k = recvfrom(H.cfd, line, sizeof line - 1, 0, (struct sockaddr *)&from, &fl);

	if (k <= 0)
		return;
	line[k] = 0;
	line[strcspn(line, "\r\n")] = 0;
	control(line, reply, sizeof reply);
	fprintf(stderr, "swarm-hub: %s -> %s", line, reply);
	sendto(H.cfd, reply, strlen(reply), 0, (struct sockaddr *)&from, fl);
}

static int open_udp(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (const struct sockaddr *)sa, sizeof *sa)) {
		perror("swarm-hub: bind");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	struct sockaddr_in data, ctl;
	struct sigaction sa = { .sa_handler = on_signal };
	double duration = 0;
	uint64_t end = UINT64_MAX;

	link_parse_addr("127.0.0.1:7800", 0x7f000001, &data);
	link_parse_addr("127.0.0.1:7801", 0x7f000001, &ctl);
	H.rng = 1;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "--listen")) link_parse_addr(v, 0x7f000001, &data);
		else if (!strcmp(a, "--control")) link_parse_addr(v, 0x7f000001, &ctl);
		else if (!strcmp(a, "--pcap")) pcap_open(v);
		else if (!strcmp(a, "--seed")) H.rng = strtoull(v, NULL, 0);
		else if (!strcmp(a, "--loss")) H.loss = atof(v);
		else if (!strcmp(a, "--dup")) H.dup = atof(v);
		else if (!strcmp(a, "--reorder")) H.reorder = atof(v);
		else if (!strcmp(a, "--delay")) H.delay_ms = (uint32_t)atoi(v);
		else if (!strcmp(a, "--jitter")) H.jitter_ms = (uint32_t)atoi(v);
		else if (!strcmp(a, "--duration")) duration = atof(v);
		else {
			fprintf(stderr, "usage: swarm-hub [--listen IP:PORT] [--control IP:PORT] [--pcap FILE]\n"
				"       [--seed N] [--loss P] [--dup P] [--reorder P] [--delay MS] [--jitter MS]\n"
				"       [--duration S]\n");
			return 2;
		}
	}
	if (argc % 2 == 0) {
		fprintf(stderr, "swarm-hub: odd arguments\n");
		return 2;
	}
	H.q = calloc(QUEUE, sizeof *H.q);
	if (!H.q)
		return 1;
	H.fd = open_udp(&data);
	H.cfd = open_udp(&ctl);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (duration > 0)
		end = mono_ms() + (uint64_t)(duration * 1000);
	while (!stop_signal) {
		uint64_t now = mono_ms(), next = flush_due(now);
		struct pollfd fds[2] = { { .fd = H.fd, .events = POLLIN }, { .fd = H.cfd, .events = POLLIN } };
		if (now >= end)
			break;
		next = next < end ? next : end;
		poll(fds, 2, next <= now ? 0 : (int)(next - now < 1000 ? next - now : 1000));
		now = mono_ms();
		for (int i = 0; i < 256 && (fds[0].revents & POLLIN); i++) {
			uint8_t buf[LINK_MAX_PACKET + HUB_HDR];
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			ssize_t k = recvfrom(H.fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
			if (k < 0)
				break;
			relay(buf, (size_t)k, &from, now);
		}
		if (fds[1].revents & POLLIN)
			on_control();
		if (H.pcap)
			fflush(H.pcap);
	}
	if (H.pcap)
		fclose(H.pcap);
	fprintf(stderr, "swarm-hub: received %" PRIu64 ", delivered %" PRIu64 ", lost %" PRIu64
		", cut %" PRIu64 "\n", H.received, H.delivered, H.dropped_loss, H.dropped_partition);
	free(H.q);
	return 0;
}
