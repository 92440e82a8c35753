/*
 * System calls of the network and of readiness: sockets (net/lwip/socket.c),
 * poll and select (libos/poll.c), epoll (libos/epoll.c), eventfd
 * (libos/eventfd.c).  docs/NETWORK.md describes them.
 */
#ifndef EXO_LIBOS_SOCKCALLS_H
#define EXO_LIBOS_SOCKCALLS_H

#include "libos/libos.h"

LO_CALL(sys_socket);
LO_CALL(sys_socketpair);
LO_CALL(sys_bind);
LO_CALL(sys_listen);
LO_CALL(sys_accept);
LO_CALL(sys_accept4);
LO_CALL(sys_connect);
LO_CALL(sys_sendto);
LO_CALL(sys_sendmsg);
LO_CALL(sys_recvfrom);
LO_CALL(sys_recvmsg);
LO_CALL(sys_shutdown);
LO_CALL(sys_getsockname);
LO_CALL(sys_getpeername);
LO_CALL(sys_setsockopt);
LO_CALL(sys_getsockopt);
LO_CALL(sys_poll);
LO_CALL(sys_ppoll);
LO_CALL(sys_select);
LO_CALL(sys_pselect6);
LO_CALL(sys_epoll_create);
LO_CALL(sys_epoll_create1);
LO_CALL(sys_epoll_ctl);
LO_CALL(sys_epoll_wait);
LO_CALL(sys_epoll_pwait);
LO_CALL(sys_eventfd);
LO_CALL(sys_eventfd2);

/* poll.c: the readiness of an open file now (LX_POLL* bits). */
struct file;
struct lx_stat;
int poll_file(struct file *f);
/* Sleeps until readiness may have changed: another process's pipe
 * (vfs_ns()->changes moved from seen), or, when a process-local file is
 * watched (local), the network stack's wake-up, at most POLL_SLICE_NS at
 * a time; or the terminal's input when it was polled in this round
 * (libos/tty.c); or until deadline.  0, or -EINTR when a signal came. */
int poll_sleep(uint32_t seen, int local, uint64_t deadline);
/* eventfd.c: stat of a file with no node (eventfd, epoll, socket). */
int anon_stat(struct file *f, struct lx_stat *st, uint32_t mode);

#endif
