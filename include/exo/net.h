/*
 * The library OS's network calls beyond Linux's, for programs
 * (docs/NETWORK.md, "Sharing the NIC between processes").  Both are prctl
 * options, so a program needs nothing but <sys/prctl.h> to use them.
 */
#ifndef EXO_NET_H
#define EXO_NET_H

/* prctl(EXO_PR_NET_CHILD, protocol, port): the next fork's child gets a NIC
 * capability filtered to IPv4 datagrams of that protocol (6 TCP, 17 UDP)
 * to that destination port, and runs a network stack of its own on it
 * (same addresses); protocol 0 cancels.  0, or -1 with errno: EINVAL (bad
 * protocol or port), ENETDOWN (the caller has no NIC). */
#define EXO_PR_NET_CHILD 0x45784e01
/* prctl(EXO_PR_NET_REVOKE, pid): revokes the NIC that child got: its
 * traffic stops, its receive buffers are taken off the device, and the
 * port is free for another child.  0, or -1 with errno ESRCH. */
#define EXO_PR_NET_REVOKE 0x45784e02

#endif
