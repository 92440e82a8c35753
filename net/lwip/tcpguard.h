/*
 * The library OS's check of each incoming TCP segment against its
 * connection (net/lwip/tcpguard.c), called by lwIP through
 * LWIP_HOOK_TCP_INPACKET_PCB: ERR_OK to go on, anything else drops it.
 */
#ifndef EXO_NET_LWIP_TCPGUARD_H
#define EXO_NET_LWIP_TCPGUARD_H

struct tcp_pcb;
struct tcp_hdr;
struct pbuf;

int tcpguard_input(struct tcp_pcb *pcb, const struct tcp_hdr *hdr, const struct pbuf *p);

#endif
