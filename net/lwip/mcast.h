/*
 * A socket's multicast groups (net/lwip/mcast.c): which groups it joined
 * on which interface, so that leaving a group it never joined fails as on
 * Linux and closing the socket leaves the rest.  lwIP keeps the per-
 * interface count (IGMP, and MLD for IPv6) and the NIC filter follows it.
 */
#ifndef EXO_NET_LWIP_MCAST_H
#define EXO_NET_LWIP_MCAST_H

#include "lwip/ip_addr.h"
#include "lwip/netif.h"

#define MCAST_MAX 20		/* groups per socket (Linux: igmp_max_memberships) */

struct mcast_member {
	ip_addr_t group;
	u8_t ifindex;
};

struct mcast_set {
	struct mcast_member *m;	/* MCAST_MAX entries, allocated at the first join */
	int n;
};

/* Joins group on interface n: 0, or -EINVAL (not a multicast address),
 * -EADDRINUSE (joined already), -ENOBUFS (MCAST_MAX), -ENOMEM, -ENODEV. */
int mcast_join(struct mcast_set *set, const ip_addr_t *group, struct netif *n);
/* Leaves group on interface ifindex (0: whichever it was joined on): 0,
 * or -EADDRNOTAVAIL when this socket did not join it. */
int mcast_leave(struct mcast_set *set, const ip_addr_t *group, u8_t ifindex);
/* Leaves every group (the socket closes). */
void mcast_leave_all(struct mcast_set *set);

#endif
