/*
 * Sharing the NIC between processes (docs/NETWORK.md): the process that
 * holds the NIC asks with prctl(EXO_PR_NET_CHILD, protocol, port) that its
 * next forked child get a capability derived from its own with a receive
 * filter (IPv4, protocol, port), XOK's packet-filter idea.  fork grants it
 * into the child's table before the child's memory is copied, so the child
 * finds the slot in its copy of handed; its stack moves onto that cap on
 * its first network call (netstack.c).  The parent keeps the derived cap,
 * so revoking it reaches the child's copy and the kernel takes the child's
 * receive buffers off the device.
 */
#include "net/lwip/netshare.h"
#include "net/lwip/nicring.h"
#include "net/lwip/netstack.h"
#include "net/lwip/lxnet.h"

#include "libos/libos.h"
#include "include/exo/native.h"
#include "include/exo/net.h"

#define MAX_SHARED 32
#define GATEWAY_WAIT_NS 3000000000ull	/* an e1000's link takes a while to come up */

/* one derived cap per child that got one; owner: the process holding it */
static struct { int64_t owner, pid, slot; } given[MAX_SHARED];
static uint64_t wanted;			/* the filter for the next fork, or 0 */
static int64_t wanted_by;		/* who asked (a child's copy is not its own) */
static struct { int64_t pid, slot; } handed;	/* what the child finds */

/* Frees a derived cap: revoking it deletes the child's copy first. */
static void release(int i)
{
	exo_call(EXO_SYS_CAP_REVOKE, given[i].slot);
	exo_call(EXO_SYS_CAP_DELETE, given[i].slot);
	given[i].pid = given[i].owner = given[i].slot = 0;
}

static int find(int64_t pid)
{
	for (int i = 0; i < MAX_SHARED; i++)
		if (given[i].pid == pid && given[i].owner == libos_pid())
			return i;
	return -1;
}

int64_t netshare_prctl(uint64_t op, uint64_t a1, uint64_t a2)
{
	if (op == EXO_PR_NET_REVOKE) {
		int i = a1 ? find((int64_t)a1) : -1;
		if (i < 0)
			return -ESRCH;
		release(i);
		return 0;
	}
	if (a1 == 0) {
		wanted = 0;
		return 0;
	}
	if ((a1 != 6 && a1 != 17) || a2 == 0 || a2 > 65535)
		return -EINVAL;
	if (netstack_start() || nicring_slot() <= 0)
		return -ENETDOWN;
	wanted = EXO_NIC_FILTER(0x0800, a1, a2);
	wanted_by = libos_pid();
	/* the child's ARP is this table as it is at the fork (netstack.c):
	 * with the gateway in it, it reaches whoever is off the link */
	netstack_resolve_gateway(netstack_deadline(GATEWAY_WAIT_NS));
	return 0;
}

int64_t netshare_fork_grant(int64_t env, int64_t pid)
{
	if (!wanted || wanted_by != libos_pid())
		return 0;
	int i;
	for (i = 0; i < MAX_SHARED && given[i].slot; i++)
		;
	if (i == MAX_SHARED)
		return -EAGAIN;
	int64_t slot = exo_call(EXO_SYS_CAP_DERIVE, nicring_slot(), EXO_R_ALL, wanted, 0);
	if (slot < 0)
		return slot == -EBUSY ? -EBUSY : -ENOMEM;
	if (exo_call(EXO_SYS_CAP_GRANT, slot, env, EXO_R_READ | EXO_R_WRITE, slot + 1) < 0) {
		exo_call(EXO_SYS_CAP_DELETE, slot);
		return -ENOMEM;
	}
	given[i].owner = libos_pid();
	given[i].pid = pid;
	given[i].slot = slot;
	handed.pid = pid;
	handed.slot = slot;
	return 0;
}

void netshare_fork_done(int64_t pid)
{
	if (handed.slot && pid <= 0) {
		int i = find(handed.pid);
		if (i >= 0)
			release(i);
	}
	if (pid > 0)
		wanted = 0;
	handed.pid = handed.slot = 0;
}

void netshare_child_gone(int64_t pid)
{
	int i = find(pid);
	if (i >= 0)
		release(i);
}

int64_t netshare_handed_slot(void)
{
	return handed.pid == libos_pid() ? handed.slot : 0;
}
