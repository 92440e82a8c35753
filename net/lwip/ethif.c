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

void ethif_input(struct netif *n, const uint8_t *frame, uint32_t len)
{
	if (len < SIZEOF_ETH_HDR || len > ETHIF_FRAME_MAX)
		return;
	struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (!p)
		return;
	if (pbuf_take(p, frame, (u16_t)len) != ERR_OK || n->input(p, n) != ERR_OK)
		pbuf_free(p);
}
