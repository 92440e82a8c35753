/*
 * The machine's socket service (net/lwip/sockkeep.h).  Only the first
 * program drives the NIC (and a child handed a filtered one); every other
 * process used to get ENETDOWN from socket() (a forked child) or a stack
 * of its own that reached nothing but itself (an execve'd image).  Now
 * the first program, at a fork once its stack runs (from boot with a NIC,
 * else from its first socket), publishes its socket service in
 * the shared segment, and a process without a NIC of its own asks it for
 * each new socket: the socket lives in the first program's stack and the
 * caller holds it as a forked child holds an inherited one, every call on
 * it served on the same channel (net/lwip/sockshare.c).
 */
#include "net/lwip/sockkeep.h"
#include "net/lwip/lxnet.h"
#include "net/lwip/netstack.h"
#include "net/lwip/sockshare.h"

#include "libos/chan.h"
#include "libos/libos.h"
#include "libos/proc.h"
#include "libos/sockcalls.h"
#include "libos/vfs.h"

/* The published service, or NULL. */
static struct chan *machine_service(void)
{
	return lp.shared_pages ? sh_seg()->netsvc : 0;
}

void sockkeep_at_fork(void)
{
	if (!lp.shared_pages || !netstack_running() || proc_self()->pid != sh_seg()->init_pid ||
	    chan_is_server(machine_service()))
		return;
	int err = 0;
	struct chan *ch = sockshare_serve(&err);
	if (ch)
		sh_seg()->netsvc = ch;
}

int sockkeep_remote(void)
{
	struct chan *ch = machine_service();
	return ch && !chan_is_server(ch) && !netstack_own_nic();
}

int64_t sockkeep_socket(uint64_t domain, uint64_t type, uint64_t protocol)
{
	struct chan *ch = machine_service();
	struct chan_msg *m = chan_msg_new(ch, SK_SOCKET, 0);
	if (!m)
		return -ENOMEM;
	m->arg[1] = domain;
	m->arg[2] = type & ~(uint64_t)LX_SOCK_CLOEXEC;	/* the server's descriptor is brief */
	m->arg[3] = protocol;
	int64_t r = chan_call(ch, m);
	if (r == 0) {
		struct file *nf = (struct file *)m->arg[1];
		r = fd_install(nf, 0, (type & LX_SOCK_CLOEXEC) != 0);
		file_put(nf);		/* the descriptor holds it now, or it goes */
	}
	chan_msg_free(ch, m);
	return r;
}

int64_t sockkeep_serve_socket(struct chan_msg *m)
{
	int64_t fd = sys_socket(m->arg[1], m->arg[2] & ~(uint64_t)LX_SOCK_CLOEXEC, m->arg[3], 0, 0, 0);
	return sockshare_hand_fd(m, fd);
}
