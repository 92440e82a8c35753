/*
 * A socket's multicast memberships (mcast.h) over lwIP's per-interface
 * groups: IGMP for IPv4, MLD for IPv6.
 */
#include "net/lwip/mcast.h"
#include "net/lwip/lxnet.h"

#include "libos/libos.h"

#include "lwip/igmp.h"
#include "lwip/mld6.h"

/* The group on interface n in lwIP (join 1) or out of it. */
static int group_change(const ip_addr_t *group, struct netif *n, int join)
{
	err_t e = ERR_VAL;
#if LWIP_IPV4
	if (IP_IS_V4(group)) {
		/* lwIP is always in 224.0.0.1 and refuses to count it */
		if (ip4_addr_get_u32(ip_2_ip4(group)) == PP_HTONL(0xe0000001ul))
			return 0;
		e = join ? igmp_joingroup_netif(n, ip_2_ip4(group)) : igmp_leavegroup_netif(n, ip_2_ip4(group));
	}
#endif
#if LWIP_IPV6
	if (IP_IS_V6(group))
		e = join ? mld6_joingroup_netif(n, ip_2_ip6(group)) : mld6_leavegroup_netif(n, ip_2_ip6(group));
#endif
	return e == ERR_OK ? 0 : e == ERR_MEM ? -ENOMEM : -ENODEV;
}

static int find(const struct mcast_set *set, const ip_addr_t *group, u8_t ifindex)
{
	for (int i = 0; i < set->n; i++)
		if (ip_addr_cmp(&set->m[i].group, group) && (!ifindex || set->m[i].ifindex == ifindex))
			return i;
	return -1;
}

int mcast_join(struct mcast_set *set, const ip_addr_t *group, struct netif *n)
{
	if (!ip_addr_ismulticast(group))
		return -EINVAL;
	if (!n)
		return -ENODEV;
	u8_t ifindex = netif_get_index(n);
	if (find(set, group, ifindex) >= 0)
		return -EADDRINUSE;
	if (set->n == MCAST_MAX)
		return -ENOBUFS;
	if (!set->m && !(set->m = lo_alloc(MCAST_MAX * sizeof *set->m)))
		return -ENOMEM;
	int r = group_change(group, n, 1);
	if (r)
		return r;
	ip_addr_copy(set->m[set->n].group, *group);
	set->m[set->n++].ifindex = ifindex;
	return 0;
}

int mcast_leave(struct mcast_set *set, const ip_addr_t *group, u8_t ifindex)
{
	int i = find(set, group, ifindex);
	if (i < 0)
		return -EADDRNOTAVAIL;
	struct netif *n = netif_get_by_index(set->m[i].ifindex);
	if (n)
		group_change(&set->m[i].group, n, 0);
	set->m[i] = set->m[--set->n];
	return 0;
}

void mcast_leave_all(struct mcast_set *set)
{
	while (set->n)
		mcast_leave(set, &set->m[0].group, set->m[0].ifindex);
	lo_free(set->m);
	set->m = 0;
}
