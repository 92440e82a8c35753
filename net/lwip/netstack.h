/*
 * The network stack of the library OS: lwIP over the first NIC capability
 * (net/lwip/netstack.c), driven by the calls that wait (docs/NETWORK.md).
 */
#ifndef EXO_NET_LWIP_NETSTACK_H
#define EXO_NET_LWIP_NETSTACK_H

#include <stdint.h>

#include "libos/libos.h"

/* At start-up, with the program's environment: brings the network up
 * (DHCP or EXO_IP/EXO_GW/EXO_DNS) unless EXO_NET=none or there is no NIC
 * (an image without one reads no settings, and warns of no bad one). */
void netstack_boot(const char *const *envp, uint32_t envc);
/* lwIP itself (with loopback), started on first use: 0 or -errno; a forked
 * child has no network (-ENETDOWN). */
int netstack_start(void);
/* Takes what arrived and runs lwIP's timers; never blocks. */
void netstack_poll(void);
/* After a datagram was queued to send: the device gets it at once (one
 * doorbell) and loopback delivers it, but the NIC's completions and
 * lwIP's timers are taken at most once a millisecond (netstack_poll), so
 * a sender does not pay a reap per datagram. */
void netstack_sent(void);
/* Sleeps until something arrives, lwIP's next timer, or the deadline
 * (time_now_ns() clock; UINT64_MAX: none), then polls. */
void netstack_wait(uint64_t deadline_ns);
/* netstack_wait for a blocked call that a signal must end (EINTR, as on
 * Linux): the stack's notification does not wake for signals, so the
 * sleep ends at the process's next timer (whose signal then comes on
 * time) and at least every 50 ms (other threads' and processes'
 * signals).  -EINTR when a signal is pending for the calling thread,
 * else 0. */
int netstack_wait_intr(uint64_t deadline_ns);
/* Another thread changed the stack (a server of sockets held by other
 * processes, net/lwip/sockshare.c): a thread of this program sleeping in
 * netstack_wait wakes and looks again. */
void netstack_kick(void);
/* Asks the gateway's Ethernet address by ARP unless the table has it,
 * waiting for the answer until deadline_ns: 0, or -errno (no gateway, no
 * answer).  A child handed a filtered NIC has only its parent's ARP table
 * (netshare.c), so the parent resolves its gateway first. */
int netstack_resolve_gateway(uint64_t deadline_ns);
/* Whether this process's own lwIP runs: started here (at boot for the
 * NIC, or by a socket) and not a forked copy of another's. */
int netstack_running(void);
/* Whether this process drives a NIC of its own: the first program's, or
 * one handed to it at fork (net/lwip/netshare.c). */
int netstack_own_nic(void);
/* A deadline timeout_ns from now (UINT64_MAX for "never"). */
uint64_t netstack_deadline(uint64_t timeout_ns);

#endif
