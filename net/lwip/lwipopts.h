/*
 * lwIP configuration for the library OS (docs/NETWORK.md explains the
 * choices).  NO_SYS: lwIP runs inside the single-threaded libOS, driven by
 * the calls that wait for the network (net/lwip/netstack.c); only the raw
 * API is built, and the BSD socket layer is the libOS's own
 * (net/lwip/socket.c).  Memory comes from the libOS allocator.
 */
#ifndef EXO_LWIPOPTS_H
#define EXO_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_TIMERS 1

/* memory: every pool and the heap from lo_alloc (zeroed blocks) */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEM_USE_POOLS 0
#include <stddef.h>
void *lo_alloc(size_t size);
void lo_free(void *p);
#define mem_clib_malloc(n) lo_alloc(n)
#define mem_clib_free(p) lo_free(p)
#define mem_clib_calloc(n, m) lo_alloc((size_t)(n) * (size_t)(m))

/* protocols */
#define LWIP_ETHERNET 1
#define LWIP_ARP 1
#define ARP_QUEUEING 1
#define ARP_QUEUE_LEN 64		/* datagrams held per address being resolved (lwIP: 3) */
#define ETHARP_SUPPORT_STATIC_ENTRIES 1	/* what a child on a filtered NIC learns (netstack.c) */
#define LWIP_IPV4 1
#define LWIP_IPV6 1			/* with ND, SLAAC (router advertisements) and MLD */
#define LWIP_IPV6_AUTOCONFIG 1
#define LWIP_IPV6_MLD 1
#define LWIP_IPV6_FRAG 1
#define LWIP_IPV6_REASS 1
#define IPV6_FRAG_COPYHEADER 1		/* 64-bit pointers do not fit the fragment header */
#define LWIP_IPV6_DHCP6 0
#define LWIP_ICMP 1
#define LWIP_RAW 1
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_DHCP 1
#define LWIP_DNS 1			/* only to keep the servers DHCP gives; musl resolves */
#define DNS_MAX_SERVERS 2
#define LWIP_IGMP 1
#define LWIP_MULTICAST_TX_OPTIONS 1
#define SO_REUSE_RXTOALL 1		/* multicast to every socket on the port, as Linux */
#define LWIP_AUTOIP 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1
#define IP_REASS_MAX_PBUFS 64
#define SO_REUSE 1
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_NETIF_HOSTNAME 1
#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LOOPBACK 1
#define LWIP_HAVE_LOOPIF 1
#define LWIP_LOOPBACK_MAX_PBUFS 0
#define LWIP_NETIF_TX_SINGLE_PBUF 0

/* TCP: window scaling, large windows and send buffers */
#define TCP_MSS 1460
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 3
#define TCP_WND (256 * 1024)
#define TCP_SND_BUF (256 * 1024)
#define TCP_SND_QUEUELEN 1024
#define TCP_SNDLOWAT 32768
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE TCP_MSS
#define TCP_QUEUE_OOSEQ 1
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 128
#define LWIP_TCP_SACK_OUT 0
/* drops out-of-order segments that reach past the receive window, which
 * lwIP would queue untrimmed and then assert on (net/lwip/tcpguard.c) */
#include "net/lwip/tcpguard.h"
#define LWIP_HOOK_TCP_INPACKET_PCB(pcb, hdr, optlen, opt1len, opt2, p) \
	((err_t)tcpguard_input((pcb), (hdr), (p)))
#define MEMP_NUM_TCP_PCB 1024
#define MEMP_NUM_UDP_PCB 256
#define MEMP_NUM_RAW_PCB 64
#define PBUF_POOL_BUFSIZE 1536

#define LWIP_CHECKSUM_ON_COPY 1
/* the Internet checksum eight bytes a step (net/lwip/ethif.c) */
unsigned short netstack_chksum(const void *data, int len);
#define LWIP_CHKSUM netstack_chksum
#define LWIP_STATS 0
#define LWIP_DEBUG 0

#endif
