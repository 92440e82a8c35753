/*
 * The parts of the port that need nothing but lwIP: the string routines
 * arch/cc.h points lwIP at, and the input of one Ethernet frame.  The host
 * fuzzer and unit test (tests/fuzz/netif_harness.c) build them too.
 */
#include "net/lwip/ethif.h"

#include "lwip/pbuf.h"
#include "netif/ethernet.h"

void *netstack_memmove(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	if (d < s)
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	else
		for (size_t i = n; i--;)
			d[i] = s[i];
	return dst;
}

int netstack_strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i] || !a[i])
			return (unsigned char)a[i] - (unsigned char)b[i];
	return 0;
}

int netstack_atoi(const char *s)
{
	int v = 0;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (*s++ - '0');
	return v;
}

/* lwIP's checksum routine (LWIP_CHKSUM, lwipopts.h): the Internet sum of
 * len bytes, not inverted, as the bytes lie (pairs from data on); lwIP's
 * own took two bytes a step, some 300 instructions of each 64-byte
 * datagram received.  Eight bytes a step, with the end-around carry; the
 * folding to 16 bits keeps the sum modulo 0xffff. */
unsigned short netstack_chksum(const void *data, int len)
{
	const uint8_t *p = data;
	uint64_t sum = 0, w;
	for (; len >= 8; p += 8, len -= 8) {
		__builtin_memcpy(&w, p, 8);
		sum += w;
		sum += sum < w;
	}
	w = 0;
	for (int i = 0; i < len; i++)
		w |= (uint64_t)p[i] << (8 * i);
	sum += w;
	sum += sum < w;
	sum = (sum >> 32) + (sum & 0xffffffffu);
	sum = (sum >> 32) + (sum & 0xffffffffu);
	sum = (sum >> 16) + (sum & 0xffffu);
	sum = (sum >> 16) + (sum & 0xffffu);
	return (unsigned short)sum;
}

/* A frame into lwIP, copied into a pbuf about its own size: a pool pbuf
 * is a 1,536-byte block, and the library OS's allocator zeroes every
 * block it hands out, which cost a 64-byte datagram some 250
 * instructions.  At least ETHIF_ALLOC_MIN bytes, zeros past the frame:
 * lwIP reads a header (IPv4's 20 bytes, IPv6's 40) before it checks that
 * the frame holds one, which the pool pbuf's size used to hide. */
#define ETHIF_ALLOC_MIN 128u
void ethif_input(struct netif *n, const uint8_t *frame, uint32_t len)
{
	if (len < SIZEOF_ETH_HDR || len > ETHIF_FRAME_MAX)
		return;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)(len < ETHIF_ALLOC_MIN ? ETHIF_ALLOC_MIN : len), PBUF_RAM);
	if (!p)
		return;
	p->len = p->tot_len = (u16_t)len;
	if (pbuf_take(p, frame, (u16_t)len) != ERR_OK || n->input(p, n) != ERR_OK)
		pbuf_free(p);
}
