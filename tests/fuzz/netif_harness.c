/*
 * The host side of the lwIP port for tests: the allocator and string
 * routines arch/cc.h names, a clock the harness moves, and an interface
 * whose output is captured (netif_harness.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>	/* before lwIP's headers rename the routines */

#include "tests/fuzz/netif_harness.h"
#include "net/lwip/ethif.h"

#include "lwip/init.h"
#include "lwip/etharp.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "netif/ethernet.h"

/* arch/cc.h points lwIP's string calls at the libOS's; here they are libc's */
#undef memcpy
#undef memset
#undef memcmp
#undef memmove
#undef strlen
#undef strncmp
#undef atoi

const uint8_t harness_mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
const uint8_t harness_gw_mac[6] = { 0x52, 0x55, 10, 0, 2, 2 };
int harness_sent;
uint8_t harness_last[1514];
uint32_t harness_last_len;
static uint32_t now;
static struct netif nif;

void *lo_alloc(size_t size) { return calloc(1, size ? size : 1); }
void lo_free(void *p) { free(p); }
void *lo_memcpy(void *d, const void *s, size_t n) { return n ? memmove(d, s, n) : d; }
void *lo_memset(void *d, int c, size_t n) { return memset(d, c, n); }
size_t lo_strlen(const char *s) { return strlen(s); }
int lo_memcmp(const void *a, const void *b, size_t n) { return n ? memcmp(a, b, n) : 0; }
uint32_t netstack_rand(void) { return (uint32_t)rand(); }
u32_t sys_now(void) { return now; }

void netstack_assert(const char *msg, const char *file, int line)
{
	fprintf(stderr, "lwIP assertion failed: %s (%s:%d)\n", msg, file, line);
	abort();
}

static err_t capture(struct netif *n, struct pbuf *p)
{
	(void)n;
	harness_sent++;
	harness_last_len = pbuf_copy_partial(p, harness_last, sizeof harness_last, 0);
	return ERR_OK;
}

static err_t nif_init(struct netif *n)
{
	n->mtu = 1500;
	n->hwaddr_len = 6;
	memcpy(n->hwaddr, harness_mac, 6);
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
	n->output = etharp_output;
	n->linkoutput = capture;
	return ERR_OK;
}

static err_t drop_data(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (p) {
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
	}
	return ERR_OK;
}

/* Port 81's program never reads: the data stays counted against the
 * window, which only shrinks (a server busy elsewhere). */
static err_t hold_data(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)pcb;
	(void)err;
	if (p)
		pbuf_free(p);
	return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	if (err == ERR_OK && pcb)
		tcp_recv(pcb, arg ? hold_data : drop_data);
	return ERR_OK;
}

static void tcp_listener(u16_t port, void *arg)
{
	struct tcp_pcb *t = tcp_new();
	tcp_bind(t, IP4_ADDR_ANY, port);
	t = tcp_listen(t);
	tcp_arg(t, arg);
	tcp_accept(t, on_accept);
}

static void echo(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
	(void)arg;
	udp_sendto(pcb, p, addr, port);
	pbuf_free(p);
}

void harness_init(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	lwip_init();
	ip4_addr_t ip, mask, gw;
	IP4_ADDR(&ip, 10, 0, 2, 15);
	IP4_ADDR(&mask, 255, 255, 255, 0);
	IP4_ADDR(&gw, 10, 0, 2, 2);
	netif_add(&nif, &ip, &mask, &gw, 0, nif_init, ethernet_input);
	netif_set_default(&nif);
	netif_set_up(&nif);
	tcp_listener(80, 0);
	tcp_listener(81, &nif);
	struct udp_pcb *u = udp_new();
	udp_bind(u, IP4_ADDR_ANY, 7);
	udp_recv(u, echo, 0);
}

void harness_set_default(int on)
{
	netif_set_default(on ? &nif : 0);
}

uint32_t harness_now(void)
{
	return now;
}

void harness_advance(uint32_t ms)
{
	now += ms;
	sys_check_timeouts();
}

void harness_input(const uint8_t *frame, size_t len, uint32_t ms)
{
	harness_advance(ms);
	ethif_input(&nif, frame, (uint32_t)(len > 0xffffffffu ? 0xffffffffu : len));
}
