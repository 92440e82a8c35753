/*
 * NIC capabilities in a VM with a virtio-net device (disable-legacy=on) on
 * QEMU's restricted user network: ARP for the gateway 10.0.2.2 and its
 * reply, batches with one doorbell, completions as notifications, receive
 * filters splitting the traffic between two caps (ARP and DHCP replies),
 * unclaimed frames going to the unfiltered cap, multicast groups joined
 * and left (the router advertisement to all nodes that answers a router
 * solicitation passes an e1000's filter only while the group is joined;
 * virtio-net receives every multicast frame), pins keeping a posted
 * buffer's frame after its cap is deleted, revocation, and bad buffers
 * refused.  Nothing leaves the virtual network.
 */
#include "check.h"
#include "exo.h"

#include <stdint.h>
#include <string.h>

extern const struct exo_start *libos_start_info;

#define E(x) (-(int64_t)(x))
#define BUF_VA 0x0000500000000000ull
#define BUF_PAGES 8
#define RX_SIZE 2048
#define TX_OFF (6 * 4096)		/* frames to send live in the last pages */
#define SECOND 1000000000ull
#define NIC_GROUPS_TRY 17		/* one more than a port may join */

static uint8_t *buf = (uint8_t *)BUF_VA;
static int64_t frames, note;
static uint8_t mac[6];
static const uint8_t gw_ip[4] = { 10, 0, 2, 2 }, my_ip[4] = { 10, 0, 2, 15 };

static int64_t post1(int64_t nic, int64_t slot, uint32_t op, uint64_t off, uint32_t len, uint64_t cookie)
{
	struct exo_nic_buf b = { .frame_slot = (uint32_t)slot, .op = op, .offset = off,
				 .length = len, .cookie = cookie };
	return exo_call(EXO_SYS_NIC_POST, nic, &b, 1);
}

/* Posts receive buffers first..first+n-1 (2 KiB each, cookie = index). */
static int64_t post_rx(int64_t nic, int first, int n)
{
	struct exo_nic_buf b[EXO_RING_BATCH];
	for (int i = 0; i < n; i++)
		b[i] = (struct exo_nic_buf){ .frame_slot = (uint32_t)frames, .op = EXO_NIC_RX,
					     .offset = (uint64_t)(first + i) * RX_SIZE,
					     .length = RX_SIZE, .cookie = (uint64_t)(first + i) };
	return exo_call(EXO_SYS_NIC_POST, nic, b, n);
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

/* An ARP request for 10.0.2.2 at off; its length. */
static uint32_t make_arp(uint64_t off)
{
	uint8_t *f = buf + off;
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, my_ip, 4);
	memcpy(f + 38, gw_ip, 4);
	return 60;
}

static uint16_t ip_checksum(const uint8_t *p, int n)
{
	uint32_t s = 0;
	for (int i = 0; i < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A DHCPDISCOVER (broadcast, UDP 68 -> 67) at off; its length. */
static uint32_t make_dhcp(uint64_t off, uint32_t xid)
{
	uint8_t *f = buf + off, *ip = f + 14, *udp = ip + 20, *bp = udp + 8;
	uint32_t bootp = 240 + 4, len = 14 + 20 + 8 + bootp;
	memset(f, 0, 342);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x0800);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + 8 + bootp));
	ip[8] = 64;
	ip[9] = 17;
	memset(ip + 16, 0xff, 4);
	put16(ip + 10, ip_checksum(ip, 20));
	put16(udp, 68);
	put16(udp + 2, 67);
	put16(udp + 4, (uint16_t)(8 + bootp));
	bp[0] = 1;
	bp[1] = 1;
	bp[2] = 6;
	memcpy(bp + 4, &xid, 4);
	put16(bp + 10, 0x8000);			/* reply by broadcast */
	memcpy(bp + 28, mac, 6);
	bp[236] = 99; bp[237] = 130; bp[238] = 83; bp[239] = 99;
	bp[240] = 53; bp[241] = 1; bp[242] = 1;	/* DHCPDISCOVER */
	bp[243] = 255;
	return len < 342 ? 342 : len;
}

static int is_arp_reply(const uint8_t *f, uint32_t len)
{
	return len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 &&
	       !memcmp(f + 28, gw_ip, 4) && !memcmp(f + 32, mac, 6);
}

static int is_dhcp_reply(const uint8_t *f, uint32_t len, uint32_t xid)
{
	return len >= 14 + 20 + 8 + 240 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 &&
	       f[36] == 0 && f[37] == 68 && f[42] == 2 && !memcmp(f + 46, &xid, 4);
}

/* A router solicitation from our link-local address to all routers, with
 * our link-layer address; its length. */
static uint32_t make_rs(uint64_t off)
{
	static const uint8_t all_routers[16] = { 0xff, 2, [15] = 2 };
	uint8_t *f = buf + off, *ip = f + 14, *icmp = ip + 40;
	memset(f, 0, 14 + 40 + 16);
	memcpy(f, (const uint8_t[]){ 0x33, 0x33, 0, 0, 0, 2 }, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, 0x86dd);
	ip[0] = 0x60;
	put16(ip + 4, 16);
	ip[6] = 58;
	ip[7] = 255;
	ip[8] = 0xfe;			/* fe80::, the interface id from the MAC */
	ip[9] = 0x80;
	memcpy(ip + 16, (const uint8_t[]){ mac[0] ^ 2, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5] }, 8);
	memcpy(ip + 24, all_routers, 16);
	icmp[0] = 133;
	icmp[8] = 1;
	icmp[9] = 1;
	memcpy(icmp + 10, mac, 6);
	/* checksum over the pseudo-header (addresses, length, next header) */
	uint8_t ph[40 + 16];
	memcpy(ph, ip + 8, 32);
	memset(ph + 32, 0, 8);
	ph[35] = 16;
	ph[39] = 58;
	memcpy(ph + 40, icmp, 16);
	put16(icmp + 2, ip_checksum(ph, sizeof ph));
	return 14 + 40 + 16;
}

static int is_ra(const uint8_t *f, uint32_t len)
{
	return len >= 14 + 40 + 16 && f[0] == 0x33 && f[1] == 0x33 && f[12] == 0x86 && f[13] == 0xdd &&
	       f[20] == 58 && f[54] == 134;
}

struct seen { int arp, dhcp, ra, other, tx_ok, tx_bad, notified; };

/* Reaps nic for up to ns, counting what arrives; reposts receive
 * buffers; stops early once stop(seen) holds. */
static void collect(int64_t nic, uint64_t ns, uint32_t xid, struct seen *s, int (*stop)(const struct seen *))
{
	struct exo_ring_done d[64];
	for (uint64_t waited = 0; waited < ns && !(stop && stop(s)); waited += SECOND / 10) {
		if (exo_call(EXO_SYS_NOTIFY_WAIT, note, SECOND / 10) > 0)
			s->notified++;
		int64_t n = exo_call(EXO_SYS_RING_REAP, nic, d, 64);
		for (int64_t i = 0; i < n; i++) {
			if (d[i].op == EXO_NIC_TX) {
				if (d[i].status == 0) s->tx_ok++; else s->tx_bad++;
				continue;
			}
			const uint8_t *f = buf + d[i].cookie * RX_SIZE;
			if (is_arp_reply(f, d[i].length)) s->arp++;
			else if (is_dhcp_reply(f, d[i].length, xid)) s->dhcp++;
			else if (is_ra(f, d[i].length)) s->ra++;
			else s->other++;
			post1(nic, frames, EXO_NIC_RX, d[i].cookie * RX_SIZE, RX_SIZE, d[i].cookie);
		}
	}
}

static int got_arp(const struct seen *s) { return s->arp > 0; }
static int got_dhcp(const struct seen *s) { return s->dhcp > 0; }
static int got_ra(const struct seen *s) { return s->ra > 0; }

/* Joins or leaves the all-nodes group 33:33:00:00:00:01. */
static int64_t all_nodes(int64_t nic, uint32_t op)
{
	static const uint8_t group[6] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct exo_nic_buf b = { .op = op, .cookie = EXO_NIC_MAC(group) };
	return exo_call(EXO_SYS_NIC_POST, nic, &b, 1);
}

/* Sends a router solicitation and counts the advertisements for up to ns. */
static int solicit(int64_t nic, uint64_t ns)
{
	struct seen s = { 0 };
	post1(nic, frames, EXO_NIC_TX, TX_OFF, make_rs(TX_OFF), 200);
	collect(nic, ns, 0, &s, got_ra);
	return s.ra;
}

/* Multicast groups: argument checks, then the device's filter at work. */
static void multicast(int64_t nic, int filters)
{
	struct exo_nic_buf b[NIC_GROUPS_TRY];
	for (int i = 0; i < NIC_GROUPS_TRY; i++)
		b[i] = (struct exo_nic_buf){ .op = EXO_NIC_JOIN, .cookie = 0x01005e000100ull + (uint64_t)i };
	EXPECT("nic-mcast-too-many-groups", exo_call(EXO_SYS_NIC_POST, nic, b, NIC_GROUPS_TRY) == E(EXO_ENOSPC));
	b[0].cookie = 0x525400000001ull;
	EXPECT("nic-mcast-unicast-refused", exo_call(EXO_SYS_NIC_POST, nic, b, 1) == E(EXO_EINVAL));
	b[0] = (struct exo_nic_buf){ .op = EXO_NIC_JOIN, .cookie = 0x01005e000001ull, .length = 60 };
	EXPECT("nic-mcast-buffer-refused", exo_call(EXO_SYS_NIC_POST, nic, b, 1) == E(EXO_EINVAL));
	if (filters)
		EXPECT("nic-mcast-unjoined-dropped", solicit(nic, 2 * SECOND) == 0);
	EXPECT("nic-mcast-join", all_nodes(nic, EXO_NIC_JOIN) == 1);
	EXPECT("nic-mcast-joined-received", solicit(nic, 5 * SECOND) >= 1);
	EXPECT("nic-mcast-leave", all_nodes(nic, EXO_NIC_LEAVE) == 1);
	if (filters)
		EXPECT("nic-mcast-left-dropped", solicit(nic, 2 * SECOND) == 0);
}

int main(int argc, char **argv)
{
	const char *model = argc > 1 ? argv[1] : "virtio-net";
	const struct exo_start *st = libos_start_info;
	EXPECT("nic-cap-given", st && st->nic_count == 1);
	if (!st || st->nic_count != 1)
		return 1;
	int64_t nic = (int64_t)st->nic_slot_first;
	struct exo_cap_info ci;
	EXPECT("nic-inspect", exo_call(EXO_SYS_CAP_INSPECT, nic, &ci) == 0 && ci.type == EXO_CAP_NIC &&
	       ci.first == 0);

	struct exo_nic_info info;
	memset(&info, 0, sizeof info);
	EXPECT("nic-info", exo_call(EXO_SYS_NIC_INFO, nic, &info) == 0);
	memcpy(mac, info.mac, 6);
	EXPECT("nic-info-mac", mac[0] == 0x52 && mac[1] == 0x54 && mac[2] == 0x00);
	EXPECT("nic-info-link-up", info.link_up == 1);
	EXPECT("nic-info-queues", info.rx_queue >= 64 && info.tx_queue >= 32 && info.rx_posted_max == 256);
	EXPECT("nic-info-model", !strcmp(info.model, model));

	frames = map_new_frames(BUF_VA, BUF_PAGES);
	note = exo_call0(EXO_SYS_NOTIFY_CREATE);
	EXPECT("ring-bind", exo_call(EXO_SYS_RING_BIND, nic, note, 1) == 0);

	/* ARP: eight receive buffers and the request in one batch, one doorbell */
	struct exo_nic_buf batch[9];
	for (int i = 0; i < 8; i++)
		batch[i] = (struct exo_nic_buf){ .frame_slot = (uint32_t)frames, .op = EXO_NIC_RX,
						 .offset = (uint64_t)i * RX_SIZE, .length = RX_SIZE,
						 .cookie = (uint64_t)i };
	batch[8] = (struct exo_nic_buf){ .frame_slot = (uint32_t)frames, .op = EXO_NIC_TX,
					 .offset = TX_OFF, .length = make_arp(TX_OFF), .cookie = 100 };
	EXPECT("nic-post-batch", exo_call(EXO_SYS_NIC_POST, nic, batch, 9) == 9);
	struct seen s = { 0 };
	collect(nic, 5 * SECOND, 0, &s, got_arp);
	EXPECT("nic-tx-completed", s.tx_ok == 1 && s.tx_bad == 0);
	EXPECT("nic-arp-reply-from-gateway", s.arp >= 1);
	EXPECT("nic-completion-notified", s.notified >= 1);

	/* filters: ARP to one cap, DHCP (UDP port 68) to another */
	int64_t arp_cap = exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_ALL, EXO_NIC_FILTER(0x0806, 0, 0), 0);
	int64_t dhcp_cap = exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_ALL, EXO_NIC_FILTER(0x0800, 17, 68), 0);
	EXPECT("nic-derive-filters", arp_cap > 0 && dhcp_cap > 0);
	EXPECT("nic-derive-same-filter-busy",
	       exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_ALL, EXO_NIC_FILTER(0x0806, 0, 0), 0) == E(EXO_EBUSY));
	EXPECT("nic-derive-port-needs-proto",
	       exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_ALL, EXO_NIC_FILTER(0x0800, 0, 68), 0) == E(EXO_EINVAL));
	EXPECT("nic-derive-must-narrow",
	       exo_call(EXO_SYS_CAP_DERIVE, arp_cap, EXO_R_ALL, EXO_NIC_FILTER(0x0800, 6, 0), 0) == E(EXO_EINVAL));
	EXPECT("nic-derive-rights-shrink",
	       exo_call(EXO_SYS_CAP_DERIVE, arp_cap, EXO_R_ALL | 0x80, 0, 0) == E(EXO_EACCES));
	exo_call(EXO_SYS_RING_BIND, arp_cap, note, 2);
	exo_call(EXO_SYS_RING_BIND, dhcp_cap, note, 4);
	EXPECT("nic-filtered-post", post_rx(arp_cap, 8, 4) == 4 && post_rx(dhcp_cap, 12, 4) == 4);
	uint32_t xid = 0x5a17c0de;
	batch[0] = (struct exo_nic_buf){ .frame_slot = (uint32_t)frames, .op = EXO_NIC_TX,
					 .offset = TX_OFF, .length = make_arp(TX_OFF), .cookie = 101 };
	batch[1] = (struct exo_nic_buf){ .frame_slot = (uint32_t)frames, .op = EXO_NIC_TX,
					 .offset = TX_OFF + 1024, .length = make_dhcp(TX_OFF + 1024, xid),
					 .cookie = 102 };
	EXPECT("nic-tx-two", exo_call(EXO_SYS_NIC_POST, nic, batch, 2) == 2);
	struct seen on_arp = { 0 }, on_dhcp = { 0 }, on_root = { 0 };
	collect(arp_cap, 3 * SECOND, xid, &on_arp, got_arp);
	collect(dhcp_cap, 3 * SECOND, xid, &on_dhcp, got_dhcp);
	collect(nic, SECOND / 2, xid, &on_root, NULL);
	EXPECT("nic-filter-arp-gets-arp", on_arp.arp >= 1 && on_arp.dhcp == 0 && on_arp.other == 0);
	EXPECT("nic-filter-dhcp-gets-dhcp", on_dhcp.dhcp >= 1 && on_dhcp.arp == 0);
	EXPECT("nic-root-gets-neither", on_root.arp == 0 && on_root.dhcp == 0 && on_root.tx_ok == 2);

	/* once the ARP cap is gone, ARP replies reach the unfiltered cap again */
	EXPECT("nic-delete-filtered", exo_call(EXO_SYS_CAP_DELETE, arp_cap) == 0);
	struct seen back = { 0 };
	EXPECT("nic-tx-again", post1(nic, frames, EXO_NIC_TX, TX_OFF, make_arp(TX_OFF), 103) == 1);
	collect(nic, 5 * SECOND, 0, &back, got_arp);
	EXPECT("nic-unclaimed-to-root", back.arp >= 1);

	multicast(nic, !strcmp(model, "e1000"));

	/* a posted buffer keeps its frame after the cap is deleted (a pin) */
	struct exo_cap_info m0, m1, m2;
	exo_call(EXO_SYS_CAP_INSPECT, EXO_SLOT_MEMORY, &m0);
	int64_t lone = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	int64_t solo = exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_ALL, EXO_NIC_FILTER(0x0806, 0, 0), 0);
	EXPECT("nic-pin-post", post1(solo, lone, EXO_NIC_RX, 0, RX_SIZE, 7) == 1);
	exo_call(EXO_SYS_CAP_DELETE, lone);
	exo_call(EXO_SYS_CAP_INSPECT, EXO_SLOT_MEMORY, &m1);
	EXPECT("nic-pin-holds-frame", m1.count == m0.count - 1);
	post1(nic, frames, EXO_NIC_TX, TX_OFF, make_arp(TX_OFF), 104);
	struct exo_ring_done d[8];
	int64_t got = 0;
	for (int i = 0; i < 50 && got == 0; i++) {
		exo_call(EXO_SYS_NOTIFY_WAIT, note, SECOND / 10);
		got = exo_call(EXO_SYS_RING_REAP, solo, d, 8);
	}
	exo_call(EXO_SYS_CAP_INSPECT, EXO_SLOT_MEMORY, &m2);
	EXPECT("nic-pin-filled-then-freed", got == 1 && d[0].cookie == 7 && d[0].length >= 42 &&
	       m2.count == m0.count);

	/* revoking a frame's budget cancels a posted buffer and frees its page */
	int64_t budget = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, 4);
	int64_t page = exo_call(EXO_SYS_MEM_ALLOC, budget, 1);
	EXPECT("nic-revoke-post", post1(solo, page, EXO_NIC_RX, 0, RX_SIZE, 8) == 1);
	EXPECT("nic-revoke-budget", exo_call(EXO_SYS_CAP_REVOKE, budget) == 0 &&
	       exo_call(EXO_SYS_CAP_INSPECT, budget, &m1) == 0 && m1.count == 4);
	post1(nic, frames, EXO_NIC_TX, TX_OFF, make_arp(TX_OFF), 105);
	exo_call(EXO_SYS_NOTIFY_WAIT, note, SECOND);
	struct exo_nic_info si;
	exo_call(EXO_SYS_NIC_INFO, solo, &si);
	EXPECT("nic-revoked-buffer-not-filled", exo_call(EXO_SYS_RING_REAP, solo, d, 8) == 0 &&
	       si.rx_dropped >= 1);

	/* bad buffers */
	EXPECT("nic-bad-empty-slot", post1(nic, 500, EXO_NIC_RX, 0, RX_SIZE, 0) == E(EXO_EBADF));
	EXPECT("nic-bad-not-frame", post1(nic, note, EXO_NIC_RX, 0, RX_SIZE, 0) == E(EXO_EINVAL));
	EXPECT("nic-bad-offset-past-end", post1(nic, frames, EXO_NIC_RX, BUF_PAGES * 4096, 64, 0) == E(EXO_EINVAL));
	EXPECT("nic-bad-length-past-end",
	       post1(nic, frames, EXO_NIC_RX, BUF_PAGES * 4096 - 100, 200, 0) == E(EXO_EINVAL));
	EXPECT("nic-bad-offset-wraps", post1(nic, frames, EXO_NIC_RX, ~0ull - 10, 200, 0) == E(EXO_EINVAL));
	EXPECT("nic-bad-tx-too-long", post1(nic, frames, EXO_NIC_TX, 0, 1515, 0) == E(EXO_EINVAL));
	EXPECT("nic-bad-op", post1(nic, frames, 7, 0, 64, 0) == E(EXO_EINVAL));
	struct exo_cap_info fi;
	exo_call(EXO_SYS_CAP_INSPECT, frames, &fi);
	int64_t ro = exo_call(EXO_SYS_CAP_DERIVE, frames, EXO_R_READ, fi.first, fi.count);
	EXPECT("nic-bad-rx-into-read-only", post1(nic, ro, EXO_NIC_RX, 0, RX_SIZE, 0) == E(EXO_EACCES));
	int64_t tx_only = exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_WRITE | EXO_R_DERIVE, 0, 0);
	EXPECT("nic-bad-rx-without-read", post1(tx_only, frames, EXO_NIC_RX, 0, RX_SIZE, 0) == E(EXO_EACCES));
	struct exo_nic_buf mixed[2] = {
		{ .frame_slot = (uint32_t)frames, .op = EXO_NIC_RX, .offset = 0, .length = RX_SIZE },
		{ .frame_slot = 500, .op = EXO_NIC_RX, .offset = 0, .length = RX_SIZE },
	};
	EXPECT("nic-bad-batch-refused-whole", exo_call(EXO_SYS_NIC_POST, solo, mixed, 2) == E(EXO_EBADF));
	EXPECT("nic-bad-batch-too-big", exo_call(EXO_SYS_NIC_POST, nic, mixed, EXO_RING_BATCH + 1) == E(EXO_EINVAL));
	EXPECT("nic-bad-user-pointer", exo_call(EXO_SYS_NIC_POST, nic, 0x10, 1) == E(EXO_EFAULT));
	int64_t mid = exo_call(EXO_SYS_CAP_DERIVE, nic, EXO_R_ALL, 0, 0);
	int64_t leaf = exo_call(EXO_SYS_CAP_DERIVE, mid, EXO_R_ALL, EXO_NIC_FILTER(0x86dd, 0, 0), 0);
	EXPECT("nic-revoke-reaches-derived", exo_call(EXO_SYS_CAP_REVOKE, mid) == 0 &&
	       post1(leaf, frames, EXO_NIC_RX, 0, RX_SIZE, 0) == E(EXO_EBADF));
	EXPECT("nic-ring-reap-wrong-type", exo_call(EXO_SYS_RING_REAP, note, d, 8) == E(EXO_EINVAL));

	printf(failures ? "some checks failed\n" : "all checks passed\n");
	return failures ? 1 : 0;
}
