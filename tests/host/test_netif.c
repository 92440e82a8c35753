/*
 * Bad frames into the library OS's lwIP (the same configuration and input
 * path as in the guest, net/lwip/ethif.c): truncated frames, wrong IP, ICMP
 * and UDP checksums, lying length fields are dropped without an answer,
 * and the stack still answers good frames afterwards.  The port's checksum
 * routine agrees with a plain sum of byte pairs.
 */
#include "tests/check.h"
#include "tests/fuzz/netif_harness.h"
#include "lwip/opt.h"		/* netstack_chksum */

#include <string.h>

static const uint8_t me[4] = { 10, 0, 2, 15 }, gw[4] = { 10, 0, 2, 2 };

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static unsigned sum16(const uint8_t *p, size_t n, unsigned s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (unsigned)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (unsigned)p[n - 1] << 8;
	return s;
}

static unsigned fold(unsigned s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static size_t eth(uint8_t *f, unsigned type)
{
	memcpy(f, harness_mac, 6);
	memcpy(f + 6, harness_gw_mac, 6);
	put16(f + 12, type);
	return 14;
}

/* An IPv4 header for proto with payload bytes after it: the frame length. */
static size_t ip4(uint8_t *f, unsigned proto, size_t payload)
{
	uint8_t *ip = f + eth(f, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(20 + payload));
	ip[8] = 64;
	ip[9] = (uint8_t)proto;
	memcpy(ip + 12, gw, 4);
	memcpy(ip + 16, me, 4);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
	return 14 + 20 + payload;
}

static size_t echo_request(uint8_t *f)
{
	uint8_t *icmp = f + 34;
	memset(icmp, 0, 40);
	icmp[0] = 8;
	put16(icmp + 4, 0x77);
	put16(icmp + 6, 1);
	memcpy(icmp + 8, "exoswarm bad-input test payload!", 32);
	put16(icmp + 2, fold(sum16(icmp, 40, 0)));
	return ip4(f, 1, 40);
}

static size_t udp_to_echo(uint8_t *f)
{
	uint8_t *u = f + 34;
	const char msg[] = "udp payload";
	put16(u, 5000);
	put16(u + 2, 7);
	put16(u + 4, 8 + sizeof msg);
	put16(u + 6, 0);
	memcpy(u + 8, msg, sizeof msg);
	uint8_t pseudo[12];
	memcpy(pseudo, gw, 4);
	memcpy(pseudo + 4, me, 4);
	pseudo[8] = 0;
	pseudo[9] = 17;
	put16(pseudo + 10, 8 + sizeof msg);
	put16(u + 6, fold(sum16(u, 8 + sizeof msg, sum16(pseudo, 12, 0))));
	return ip4(f, 17, 8 + sizeof msg);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* A TCP segment from the gateway's port sport to port dport: len bytes of
 * data, no options, window 65535. */
static size_t tcp_segment(uint8_t *f, unsigned sport, unsigned dport, uint32_t seq,
			  uint32_t ack, unsigned flags, size_t len)
{
	uint8_t *t = f + 34;
	memset(t, 0, 20);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = (uint8_t)flags;
	put16(t + 14, 0xffff);
	for (size_t i = 0; i < len; i++)
		t[20 + i] = (uint8_t)('a' + (seq + i) % 26);
	uint8_t pseudo[12];
	memcpy(pseudo, gw, 4);
	memcpy(pseudo + 4, me, 4);
	pseudo[8] = 0;
	pseudo[9] = 6;
	put16(pseudo + 10, (unsigned)(20 + len));
	put16(t + 16, fold(sum16(t, 20 + len, sum16(pseudo, 12, 0))));
	return ip4(f, 6, 20 + len);
}

/* Frames sent in answer to one frame in. */
static int answers(const uint8_t *f, size_t len)
{
	int before = harness_sent;
	harness_input(f, len, 1);
	return harness_sent - before;
}

static void arp_learns_gateway(void)
{
	uint8_t f[60] = { 0 };
	memset(f, 0xff, 6);
	memcpy(f + 6, harness_gw_mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, harness_gw_mac, 6);
	memcpy(f + 28, gw, 4);
	memcpy(f + 38, me, 4);
	CHECK_EQ(answers(f, 42 - 1), 0);		/* truncated ARP */
	CHECK_EQ(answers(f, 60), 1);
	CHECK_EQ(harness_last[21], 2);			/* an ARP reply */
}

static void good_echo_answered(void)
{
	uint8_t f[128];
	size_t n = echo_request(f);
	CHECK_EQ(answers(f, n), 1);
	CHECK_EQ(harness_last[34], 0);			/* echo reply */
	CHECK(!memcmp(harness_last + 42, "exoswarm bad-input test payload!", 32));
}

static void truncated_frames_dropped(void)
{
	uint8_t f[128];
	size_t n = echo_request(f);
	for (size_t cut = 0; cut < n; cut++)
		CHECK_EQ(answers(f, cut), 0);
}

static void bad_checksums_dropped(void)
{
	uint8_t f[128];
	size_t n = echo_request(f);
	f[24] ^= 1;					/* IP header checksum */
	CHECK_EQ(answers(f, n), 0);
	n = echo_request(f);
	f[36] ^= 1;					/* ICMP checksum */
	CHECK_EQ(answers(f, n), 0);
	n = udp_to_echo(f);
	f[40] ^= 1;					/* UDP checksum */
	CHECK_EQ(answers(f, n), 0);
	n = udp_to_echo(f);
	CHECK_EQ(answers(f, n), 1);			/* the good one is echoed */
}

static void lying_lengths_dropped(void)
{
	uint8_t f[128];
	size_t n = echo_request(f);
	put16(f + 16, 1400);				/* IP total length beyond the frame */
	put16(f + 24, 0);
	put16(f + 24, fold(sum16(f + 14, 20, 0)));
	CHECK_EQ(answers(f, n), 0);
	n = echo_request(f);
	f[14] = 0x4f;					/* header length 60 > total */
	CHECK_EQ(answers(f, n), 0);
	n = echo_request(f);
	f[14] = 0x65;					/* IP version 6 in an IPv4 frame */
	CHECK_EQ(answers(f, n), 0);
}

enum { TCP_FIN = 1, TCP_SYN = 2, TCP_RST = 4, TCP_ACK = 16 };

/* The attack of an out-of-order segment that starts inside the receive
 * window and ends beyond it, on a connection to port 81 whose program does
 * not read (so the window's right edge stays put): then the hole before it
 * is filled.  lwIP 2.1 queued it untrimmed and, once it came in order,
 * ended the program on the assertion "tcp_receive: ooseq tcplen > rcv_wnd".
 * over is how far it reaches past the edge; fin sets FIN on it (a peer
 * that fills the window exactly and closes sends that innocently). */
static void ooseq_beyond_window(unsigned sport, uint32_t over, unsigned fin)
{
	uint8_t f[1514];
	uint32_t isn = 1000u * sport, seq = isn + 1;
	CHECK_EQ(answers(f, tcp_segment(f, sport, 81, isn, 0, TCP_SYN, 0)), 1);
	CHECK_EQ(harness_last[47], TCP_SYN | TCP_ACK);
	CHECK_EQ(get32(harness_last + 42), seq);
	uint32_t ours = get32(harness_last + 38) + 1;
	uint32_t wnd = harness_last[48] << 8 | harness_last[49];	/* not scaled in a SYN */
	CHECK(wnd > 4 * 1460);
	harness_input(f, tcp_segment(f, sport, 81, seq, ours, TCP_ACK, 0), 1);
	uint32_t edge = seq + wnd, start = edge - 10;
	harness_input(f, tcp_segment(f, sport, 81, start, ours, TCP_ACK | fin, 10 + over), 1);
	while (seq != start) {
		uint32_t n = start - seq > 1460 ? 1460 : start - seq;
		harness_input(f, tcp_segment(f, sport, 81, seq, ours, TCP_ACK, n), 1);
		seq += n;
	}
	harness_input(f, tcp_segment(f, sport, 81, seq, ours, TCP_ACK | TCP_FIN, 10), 1);
	harness_input(f, 0, 250);				/* the delayed ACK */
	CHECK(harness_last[47] & TCP_ACK);
	CHECK_EQ(get32(harness_last + 42), edge);		/* the last 10 bytes, no FIN */
	CHECK_EQ(harness_last[48] << 8 | harness_last[49], 0);	/* window full */
	harness_input(f, tcp_segment(f, sport, 81, edge, ours, TCP_RST, 0), 1);
}

static void ooseq_beyond_window_dropped(void)
{
	ooseq_beyond_window(5001, 90, 0);
	ooseq_beyond_window(5002, 0, TCP_FIN);
	ooseq_beyond_window(5003, 1400, TCP_FIN);
}

static void still_answers_after_bad_input(void)
{
	good_echo_answered();
}

/* The port's checksum routine (lwIP's LWIP_CHKSUM, net/lwip/ethif.c)
 * against the sum of byte pairs, at every start alignment and length up
 * to 200, over random bytes, all ones and all zeros. */
static void checksum_matches_reference(void)
{
	static uint8_t buf[216];
	uint32_t x = 12345;
	for (int fill = 0; fill < 3; fill++) {
		for (size_t i = 0; i < sizeof buf; i++)
			buf[i] = fill == 0 ? (uint8_t)((x = x * 1103515245u + 12345u) >> 16) : fill == 1 ? 0xff : 0;
		int bad = 0;
		for (int off = 0; off < 8; off++)
			for (int len = 0; len <= 200; len++) {
				unsigned want = ~fold(sum16(buf + off, (size_t)len, 0)) & 0xffff;
				unsigned got = netstack_chksum(buf + off, len);
				bad += ((got >> 8 | got << 8) & 0xffff) != want;
			}
		CHECK(bad == 0);
	}
}

int main(void)
{
	harness_init();
	RUN(checksum_matches_reference);
	RUN(arp_learns_gateway);
	RUN(good_echo_answered);
	RUN(truncated_frames_dropped);
	RUN(bad_checksums_dropped);
	RUN(lying_lengths_dropped);
	RUN(ooseq_beyond_window_dropped);
	RUN(still_answers_after_bad_input);
	return CHECK_EXIT_STATUS();
}
