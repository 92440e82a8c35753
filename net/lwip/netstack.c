/*
 * lwIP in the library OS (NO_SYS: no threads; docs/NETWORK.md).  lwIP runs
 * only inside system calls: every call that waits for the network polls
 * the NIC ring, feeds the frames to lwIP, runs its timers and sleeps on the
 * ring's notification until the next timer or its own deadline.  The first
 * NIC cap the program got is the Ethernet interface; 127.0.0.1 is lwIP's
 * loopback interface.
 */
#include "net/lwip/netstack.h"
#include "net/lwip/nicring.h"
#include "net/lwip/ethif.h"
#include "net/lwip/netshare.h"

#include "net/lwip/lxnet.h"
#include "libos/vfs.h"
#include "include/exo/native.h"
#include "libos/thread.h"

#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/nd6.h"
#include "lwip/pbuf.h"
#include "lwip/raw.h"
#include "lwip/timeouts.h"
#include "lwip/udp.h"
#include "lwip/priv/tcp_priv.h"
#include "netif/ethernet.h"

#define MS 1000000ull
#define DHCP_WAIT_NS (10000 * MS)
#define SLAAC_WAIT_NS (6000 * MS)
#define DAD_WAIT_NS (3000 * MS)
#define ARP_RETRY_NS (250 * MS)

static int started;		/* lwIP initialised */
static int64_t owner;		/* the process that owns the stack */
static struct netif eth;
static int eth_up;
static int64_t idle_note, idle_pid;	/* sleeps without a NIC */
static struct {
	int set, off, ip6_set;
	ip4_addr_t ip, mask, gw, dns;
	ip6_addr_t ip6;
} conf;

/* A failed lwIP assertion is a broken invariant: going on would work on
 * corrupt state, so the program stops (never the kernel).  Input a peer
 * controls must never get here; where it could, the port filters it first
 * (tcpguard.c; docs/NETWORK.md, "What a peer cannot do"). */
void netstack_assert(const char *msg, const char *file, int line)
{
	lo_report("exoswarm: lwIP assertion failed: %s (%s:%d)\n", msg, file, (int64_t)line);
	libos_exit(134);
}

uint32_t netstack_rand(void)
{
	uint32_t r = 0;
	exo_call(EXO_SYS_RANDOM, &r, sizeof r);
	return r;
}

u32_t sys_now(void)
{
	return (u32_t)(time_now_ns() / MS);
}

uint64_t netstack_deadline(uint64_t timeout_ns)
{
	uint64_t now = time_now_ns();
	return timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + timeout_ns;
}

/* lwIP's link output: the frame into a transmit slot, queued for the
 * next doorbell. */
static err_t eth_linkoutput(struct netif *n, struct pbuf *p)
{
	(void)n;
	if (p->tot_len > NICRING_FRAME_MAX)
		return ERR_IF;
	uint8_t *buf = nicring_tx_get();
	if (!buf)
		return ERR_MEM;
	pbuf_copy_partial(p, buf, p->tot_len, 0);
	nicring_tx_put(buf, p->tot_len < 60 ? 60 : p->tot_len);
	if (p->tot_len < 60)
		lo_memset(buf + p->tot_len, 0, 60u - p->tot_len);
	return ERR_OK;
}

/* A frame from the NIC into lwIP.  Our own frames that the link hands back
 * (QEMU's multicast socket link does) are dropped: IPv6 would take its own
 * duplicate address detection for another host's and give the address up. */
static void eth_input(const uint8_t *frame, uint32_t len)
{
	if (len >= 12 && !lo_memcmp(frame + 6, eth.hwaddr, 6))
		return;
	ethif_input(&eth, frame, len);
}

/* lwIP's IGMP joins and leaves a group on the interface: the NIC's
 * multicast filter follows (01:00:5e and the group's low 23 bits). */
static err_t eth_igmp_filter(struct netif *n, const ip4_addr_t *group, enum netif_mac_filter_action act)
{
	(void)n;
	uint32_t a = lwip_ntohl(ip4_addr_get_u32(group));
	uint8_t mac[6] = { 0x01, 0x00, 0x5e, (uint8_t)(a >> 16 & 0x7f), (uint8_t)(a >> 8), (uint8_t)a };
	return nicring_group(mac, act == NETIF_ADD_MAC_FILTER) ? ERR_IF : ERR_OK;
}

/* MLD's joins and leaves: 33:33 and the group's low 32 bits. */
static err_t eth_mld_filter(struct netif *n, const ip6_addr_t *group, enum netif_mac_filter_action act)
{
	(void)n;
	uint32_t a = lwip_ntohl(group->addr[3]);
	uint8_t mac[6] = { 0x33, 0x33, (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a };
	return nicring_group(mac, act == NETIF_ADD_MAC_FILTER) ? ERR_IF : ERR_OK;
}

static err_t eth_init(struct netif *n)
{
	n->name[0] = 'e';
	n->name[1] = 'n';
	n->mtu = 1500;
	n->hwaddr_len = 6;
	n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP |
		   NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
	netif_set_igmp_mac_filter(n, eth_igmp_filter);
	netif_set_mld_mac_filter(n, eth_mld_filter);
	n->output = etharp_output;
	n->output_ip6 = ethip6_output;
	n->linkoutput = eth_linkoutput;
	netif_set_hostname(n, "exoswarm");
	return ERR_OK;
}

/* The address part of "addr" or "addr/nn" into buf: its length. */
static size_t addr_part(const char *s, char *buf, size_t size)
{
	size_t n = 0;
	while (s[n] && s[n] != '/' && n < size - 1) {
		buf[n] = s[n];
		n++;
	}
	buf[n] = 0;
	return n;
}

/* "a.b.c.d" or "a.b.c.d/nn" from the environment. */
static int parse_ip(const char *s, ip4_addr_t *ip, ip4_addr_t *mask)
{
	char buf[32];
	size_t n = addr_part(s, buf, sizeof buf);
	if (!ip4addr_aton(buf, ip))
		return -EINVAL;
	if (mask) {
		int bits = s[n] == '/' ? netstack_atoi(s + n + 1) : 24;
		if (bits < 1 || bits > 32)
			return -EINVAL;
		ip4_addr_set_u32(mask, lwip_htonl(0xffffffffu << (32 - bits)));
	}
	return 0;
}

/* "x:y::z" or "x:y::z/64": lwIP's addresses carry no prefix length, and
 * it takes a static address's /64 as on the link. */
static int parse_ip6(const char *s, ip6_addr_t *ip)
{
	char buf[48];
	size_t n = addr_part(s, buf, sizeof buf);
	if (!ip6addr_aton(buf, ip) || ip6_addr_ismulticast(ip) || ip6_addr_isany(ip) ||
	    (s[n] == '/' && netstack_strncmp(s + n, "/64", 4)))
		return -EINVAL;
	return 0;
}

/* One setting, NAME=VALUE: EXO_NET, EXO_IP, EXO_GW, EXO_DNS, EXO_IP6. */
static void read_setting(const char *entry)
{
	static const char *const names[] = { "EXO_NET=", "EXO_IP=", "EXO_GW=", "EXO_DNS=", "EXO_IP6=" };
	for (int k = 0; k < 5; k++) {
		size_t n = lo_strlen(names[k]);
		if (netstack_strncmp(entry, names[k], n))
			continue;
		const char *v = entry + n;
		int bad = 0;
		if (k == 0)
			conf.off = !netstack_strncmp(v, "none", 5);
		else if (k == 1)
			bad = parse_ip(v, &conf.ip, &conf.mask), conf.set = !bad;
		else if (k == 4)
			bad = parse_ip6(v, &conf.ip6), conf.ip6_set = !bad;
		else
			bad = parse_ip(v, k == 2 ? &conf.gw : &conf.dns, 0);
		if (bad)
			lo_report("exoswarm: network: ignoring %s (not an address)\n", entry);
	}
}

/* The settings on the kernel command line (words NAME=VALUE among the
 * kernel's own), then the environment's, which win. */
static void read_config(const char *cmdline, const char *const *envp, uint32_t envc)
{
	char word[80];
	for (const char *p = cmdline; p && *p;) {
		size_t n = 0;
		while (*p == ' ')
			p++;
		while (*p && *p != ' ') {
			if (n < sizeof word - 1)
				word[n++] = *p;
			p++;
		}
		word[n] = 0;
		if (n)
			read_setting(word);
	}
	for (uint32_t i = 0; i < envc; i++)
		read_setting(envp[i]);
}

/* /etc/resolv.conf naming the DNS server, unless the program brought one. */
static void write_resolv_conf(const ip4_addr_t *dns)
{
	char text[64] = "nameserver ";
	char *addr = ip4addr_ntoa(dns);
	size_t n = 11, len = lo_strlen(addr);
	lo_memcpy(text + n, addr, len);
	n += len;
	text[n++] = '\n';
	struct vnode *v;
	vfs_make_k("/etc", LX_S_IFDIR | 0755, 0, 0, 0, &v);
	if (vfs_make_k("/etc/resolv.conf", LX_S_IFREG | 0644, 0, 0, 0, &v) == 0)
		vops(v)->write(v, text, n, 0);
}

/* Whether the interface has a global IPv6 address ready for use. */
static int have_global_ip6(void)
{
	for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
		if (ip6_addr_ispreferred(netif_ip6_addr_state(&eth, i)) &&
		    !ip6_addr_islinklocal(netif_ip6_addr(&eth, i)))
			return 1;
	return 0;
}

/* With a DHCP configuration, start-up also waits (at most SLAAC_WAIT_NS) for
 * an IPv6 address from a router advertisement: QEMU's user network sends
 * them (fec0::/64).  A static configuration does not wait. */
static void wait_slaac(void)
{
	uint64_t deadline = netstack_deadline(SLAAC_WAIT_NS);
	while (!have_global_ip6() && time_now_ns() < deadline)
		netstack_wait(deadline);
}

/* A static IPv6 address (EXO_IP6) is usable once duplicate address
 * detection passes (about a second): start-up waits at most DAD_WAIT_NS. */
static void add_static_ip6(void)
{
	s8_t i;
	if (netif_add_ip6_address(&eth, &conf.ip6, &i) != ERR_OK) {
		lo_report("exoswarm: network: no room for the EXO_IP6 address\n");
		return;
	}
	uint64_t deadline = netstack_deadline(DAD_WAIT_NS);
	while (ip6_addr_istentative(netif_ip6_addr_state(&eth, i)) && time_now_ns() < deadline)
		netstack_wait(deadline);
	if (!ip6_addr_isvalid(netif_ip6_addr_state(&eth, i)))
		lo_report("exoswarm: network: the EXO_IP6 address is not usable (taken on the link?)\n");
}

/* A child on a filtered NIC never sees an ARP reply (ARP stays with the
 * parent), and learning Ethernet addresses from the frames that reach its
 * port let any peer poison them: it keeps the parent's table as it was at
 * the fork, made static so that no entry ages into a request nobody
 * answers it. */
static void keep_parents_arp(void)
{
	for (size_t i = 0; i < ARP_TABLE_SIZE; i++) {
		ip4_addr_t *ip;
		struct netif *n;
		struct eth_addr *mac;
		if (!etharp_get_entry(i, &ip, &n, &mac) || n != &eth)
			continue;
		ip4_addr_t at = *ip;
		struct eth_addr hw = *mac;
		etharp_add_static_entry(&at, &hw);
	}
}

/* lwIP keeps its raw sockets in a list private to raw.c: a new pcb goes
 * first, its next the rest; cutting it off there and removing it leaves
 * the list empty (the parent's pcbs stay in the child's memory, unused). */
static void forget_raw_pcbs(void)
{
	struct raw_pcb *first = raw_new(IP_PROTO_UDP);
	if (first) {
		first->next = 0;
		raw_remove(first);
	}
}

/* A forked child: its copy of the parent's stack stays unused, unless the
 * parent handed it a filtered NIC (netshare.c).  Then the child takes the
 * copy over on that cap: the addresses stay, the parent's connections,
 * bound ports and raw sockets are forgotten (never sent on; a raw one
 * would queue a copy of every datagram of the child's port on a socket
 * nobody reads), DHCP stays with the parent (the server's answers reach
 * the parent's port), ARP is the parent's table at the fork, and IPv6
 * gets nothing (the filter is IPv4's). */
static int adopt_handed_nic(void)
{
	int64_t slot = netshare_handed_slot();
	if (!slot || !eth_up)
		return -ENETDOWN;
	tcp_active_pcbs = tcp_tw_pcbs = tcp_bound_pcbs = 0;
	tcp_listen_pcbs.listen_pcbs = 0;
	udp_pcbs = 0;
	forget_raw_pcbs();
	netif_set_client_data(&eth, LWIP_NETIF_CLIENT_DATA_INDEX_DHCP, 0);
	eth.ip6_autoconfig_enabled = 0;
	owner = libos_pid();
	keep_parents_arp();
	uint8_t mac[6];
	int r = nicring_open(slot, mac);
	if (r) {
		lo_report("exoswarm: network: the NIC handed to this process cannot be used (error %d)\n",
			  (int64_t)-r);
		eth_up = 0;
	}
	return 0;
}

int netstack_resolve_gateway(uint64_t deadline_ns)
{
	const ip4_addr_t *gw = netif_ip4_gw(&eth);
	struct eth_addr *mac;
	const ip4_addr_t *ip;
	if (!eth_up || owner != libos_pid() || ip4_addr_isany(gw))
		return -ENETUNREACH;
	uint64_t next = 0;
	while (etharp_find_addr(&eth, gw, &mac, &ip) < 0) {
		uint64_t now = time_now_ns();
		if (now >= deadline_ns)
			return -EHOSTUNREACH;
		if (now >= next) {		/* again: a NIC whose link is still coming up drops it */
			etharp_request(&eth, gw);
			next = now + ARP_RETRY_NS;
		}
		netstack_wait(next < deadline_ns ? next : deadline_ns);
	}
	return 0;
}

int netstack_running(void)
{
	return started && owner == libos_pid();
}

int netstack_own_nic(void)
{
	return (started && owner == libos_pid() && eth_up) || netshare_handed_slot();
}

int netstack_start(void)
{
	if (started)
		return owner == libos_pid() ? 0 : adopt_handed_nic();
	started = 1;
	owner = libos_pid();
	lwip_init();
	return 0;
}

void netstack_boot(const char *const *envp, uint32_t envc)
{
	const struct exo_start *st = libos_start_info;
	if (!st || !st->nic_count)
		return;		/* no NIC: the settings would configure nothing */
	read_config(st->cmdline, envp, envc);
	if (conf.off)
		return;
	netstack_start();
	uint8_t mac[6];
	int r = nicring_open((int64_t)st->nic_slot_first, mac);
	if (r) {
		lo_report("exoswarm: network: the NIC cannot be used (error %d)\n", (int64_t)-r);
		return;
	}
	lo_memcpy(eth.hwaddr, mac, 6);
	if (!netif_add(&eth, &conf.ip, &conf.mask, &conf.gw, 0, eth_init, ethernet_input))
		return;
	netif_set_default(&eth);
	/* IPv6: the link-local address from the MAC, the all-nodes group
	 * (router advertisements go there), SLAAC from them */
	netif_create_ip6_linklocal_address(&eth, 1);
	ip6_addr_t allnodes;
	ip6_addr_set_allnodes_linklocal(&allnodes);
	eth_mld_filter(&eth, &allnodes, NETIF_ADD_MAC_FILTER);
	eth.ip6_autoconfig_enabled = 1;
	netif_set_up(&eth);
	eth_up = 1;
	if (conf.ip6_set)
		add_static_ip6();
	if (!conf.set && dhcp_start(&eth) == ERR_OK) {
		uint64_t deadline = netstack_deadline(DHCP_WAIT_NS);
		while (!dhcp_supplied_address(&eth) && time_now_ns() < deadline)
			netstack_wait(deadline);
		if (!dhcp_supplied_address(&eth))
			lo_report("exoswarm: network: no DHCP lease within 10 s; still asking\n");
	}
	if (!conf.set)
		wait_slaac();
	const ip4_addr_t *dns = ip4_addr_isany_val(conf.dns) ? ip_2_ip4(dns_getserver(0)) : &conf.dns;
	if (dns && !ip4_addr_isany(dns))
		write_resolv_conf(dns);
}

/* Runs lwIP's loopback queues until they are empty. */
static void poll_loopback(void)
{
	for (int i = 0; i < 64; i++) {
		int pending = 0;
		struct netif *n;
		NETIF_FOREACH(n)
			pending |= n->loop_first != 0;
		if (!pending)
			return;
		netif_poll_all();
	}
}

void netstack_poll(void)
{
	if (!started || owner != libos_pid())
		return;
	if (eth_up)
		nicring_receive(eth_input);	/* one batch: a flood cannot starve the caller */
	sys_check_timeouts();
	poll_loopback();
	if (eth_up)
		nicring_flush();
}

void netstack_sent(void)
{
	static uint64_t last_poll;
	uint64_t now = time_now_ns();
	if (now - last_poll >= MS) {
		last_poll = now;
		netstack_poll();
	} else if (started && owner == libos_pid()) {
		poll_loopback();
		if (eth_up)
			nicring_flush();
	}
}

void netstack_kick(void)
{
	if (!started || owner != libos_pid())
		return;
	if (eth_up)
		nicring_kick();
	else if (idle_pid == libos_pid())
		exo_call(EXO_SYS_NOTIFY_SIGNAL, idle_note, 1);
}

void netstack_wait(uint64_t deadline_ns)
{
	int mine = started && owner == libos_pid();
	uint64_t now = time_now_ns();
	uint64_t ns = deadline_ns > now ? deadline_ns - now : 0;
	if (mine) {
		u32_t next = sys_timeouts_sleeptime();
		if (next != SYS_TIMEOUTS_SLEEPTIME_INFINITE && (uint64_t)next * MS < ns)
			ns = (uint64_t)next * MS;
	}
	if (ns) {
		if (mine && eth_up) {
			nicring_wait(ns);
		} else {
			if (idle_pid != libos_pid()) {
				idle_note = exo_call0(EXO_SYS_NOTIFY_CREATE);
				idle_pid = libos_pid();
			}
			uint32_t depth = lo_unlock_all();
			exo_call(EXO_SYS_NOTIFY_WAIT, idle_note, ns);
			lo_relock(depth);
		}
	}
	netstack_poll();
}

#define SIGNAL_LOOK_NS 50000000ull
#define MIN_SLEEP_NS 1000000ull		/* a timer due at once (a 1 ns interval whose
					 * signal is blocked) must not make the sleeper
					 * spin holding the lock: the machine stopped */

int netstack_wait_intr(uint64_t deadline_ns)
{
	struct lo_thread *self = lo_thread_self();
	lo_timers_run();
	if (lo_signal_pending(self))
		return -EINTR;
	uint64_t now = time_now_ns(), until = now + SIGNAL_LOOK_NS, timer = lo_timer_next();
	if (timer && timer < until)
		until = timer > now + MIN_SLEEP_NS ? timer : now + MIN_SLEEP_NS;
	netstack_wait(until < deadline_ns ? until : deadline_ns);
	lo_timers_run();
	return lo_signal_pending(self) ? -EINTR : 0;
}
