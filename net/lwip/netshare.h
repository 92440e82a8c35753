/*
 * Sharing the NIC between processes (net/lwip/netshare.c): a parent hands
 * a forked child a NIC capability filtered to one port, and may revoke it.
 */
#ifndef EXO_NET_LWIP_NETSHARE_H
#define EXO_NET_LWIP_NETSHARE_H

#include <stdint.h>

/* prctl's EXO_PR_NET_CHILD and EXO_PR_NET_REVOKE (include/exo/net.h). */
int64_t netshare_prctl(uint64_t op, uint64_t a1, uint64_t a2);
/* In fork, before the child's memory is copied: grants the child env
 * (process pid) the filtered NIC asked for, if any: 0 or -errno. */
int64_t netshare_fork_grant(int64_t env, int64_t pid);
/* After fork (pid > 0, or failed): the request is used up. */
void netshare_fork_done(int64_t pid);
/* A child was reaped: its NIC (if it got one) goes, freeing the filter. */
void netshare_child_gone(int64_t pid);
/* In the calling process: the NIC slot its parent granted it, or 0. */
int64_t netshare_handed_slot(void);

#endif
