/*
 * The NIC capability as a frame device (nicring.h).  One frame cap holds
 * every buffer, mapped at a fixed address of the libOS: 256 receive buffers
 * (all the kernel lets a port post: lwIP's 256 KiB window must fit, or a
 * full window from one peer overruns them and costs retransmissions) and
 * 128 transmit slots of 2 KiB.  The kernel copies each received frame
 * into a posted buffer and sends frames from where they lie, so no buffer
 * is touched while the device owns it.
 */
#include "net/lwip/nicring.h"

#include "libos/libos.h"
#include "net/lwip/lxnet.h"
#include "include/exo/native.h"
#include "libos/thread.h"

#define SLOT_SIZE 2048u
#define RX_SLOTS 256u
#define TX_SLOTS 128u
#define PAGES ((RX_SLOTS + TX_SLOTS) * SLOT_SIZE / 4096u)
#define TX_COOKIE 0x10000u		/* cookies: rx index, or TX_COOKIE + tx index */
#define SECOND 1000000000ull
#define FLUSH_WAIT_NS SECOND		/* how long a full device is waited for */

static int64_t nic, note, frames;
static uint8_t *bufs = (uint8_t *)NIC_BUF_VA;
static uint16_t tx_free[TX_SLOTS];
static uint32_t tx_nfree;
/* entries not yet given to the device, oldest first (a ring): each buffer
 * is pending at most once, so it never overflows, and a refusal loses none */
#define PENDING_MAX (RX_SLOTS + TX_SLOTS)
static struct exo_nic_buf pending[PENDING_MAX];
static uint32_t phead, npending;
/* receive completions reaped while the stack could not take them */
static struct { uint32_t index, len; } arrived[RX_SLOTS];
static uint32_t narrived;

static uint8_t *slot_buf(uint32_t i)
{
	return bufs + (uint64_t)i * SLOT_SIZE;
}

/* Gives the device what is pending, one doorbell per batch of at most
 * EXO_RING_BATCH, as far as it takes them: 0 when none is left, else the
 * kernel's error (-EXO_EAGAIN: no room now). */
static int64_t post_pending(void)
{
	while (npending) {
		uint32_t n = npending < EXO_RING_BATCH ? npending : EXO_RING_BATCH;
		if (n > PENDING_MAX - phead)
			n = PENDING_MAX - phead;	/* up to the ring's end */
		int64_t r = exo_call(EXO_SYS_NIC_POST, nic, pending + phead, n);
		if (r < 0)
			return r;
		phead = (phead + n) % PENDING_MAX;
		npending -= n;
	}
	return 0;
}

/* Adds one entry; a full batch goes to the device at once (what it
 * refuses stays pending for the next flush). */
static void queue(uint32_t op, uint32_t index, uint32_t len)
{
	pending[(phead + npending++) % PENDING_MAX] = (struct exo_nic_buf){
		.frame_slot = (uint32_t)frames, .op = op,
		.offset = (uint64_t)index * SLOT_SIZE, .length = len,
		.cookie = op == EXO_NIC_TX ? TX_COOKIE + index - RX_SLOTS : index,
	};
	if (npending >= EXO_RING_BATCH)
		post_pending();
}

int nicring_open(int64_t slot, uint8_t mac[6])
{
	struct exo_nic_info info;
	if (mm_prepare_write((uint64_t)&info, sizeof info) || exo_call(EXO_SYS_NIC_INFO, slot, &info))
		return -ENODEV;
	tx_nfree = phead = npending = narrived = 0;	/* a forked child's copy named its parent's */
	frames = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, PAGES);
	if (frames < 0)
		return -ENOMEM;
	for (uint64_t i = 0; i < PAGES; i++)
		if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, NIC_BUF_VA + i * 4096, frames, i,
			     EXO_PROT_READ | EXO_PROT_WRITE))
			return -ENOMEM;
	note = exo_call0(EXO_SYS_NOTIFY_CREATE);
	if (note < 0 || exo_call(EXO_SYS_RING_BIND, slot, note, 1))
		return -ENODEV;
	nic = slot;
	lo_memcpy(mac, info.mac, 6);
	for (uint32_t i = 0; i < TX_SLOTS; i++)
		tx_free[tx_nfree++] = (uint16_t)(RX_SLOTS + i);
	for (uint32_t i = 0; i < RX_SLOTS && i < info.rx_posted_max; i++)
		queue(EXO_NIC_RX, i, SLOT_SIZE);
	nicring_flush();
	return 0;
}

/* Reaps completions: transmit slots come back, received frames wait in
 * `arrived` for nicring_receive. */
static void reap(void)
{
	struct exo_ring_done d[EXO_RING_BATCH];
	int64_t n;
	do {
		n = exo_call(EXO_SYS_RING_REAP, nic, d, EXO_RING_BATCH);
		for (int64_t i = 0; i < n; i++) {
			if (d[i].cookie >= TX_COOKIE) {
				if (d[i].cookie - TX_COOKIE < TX_SLOTS && tx_nfree < TX_SLOTS)
					tx_free[tx_nfree++] = (uint16_t)(RX_SLOTS + d[i].cookie - TX_COOKIE);
			} else if (d[i].cookie < RX_SLOTS && narrived < RX_SLOTS) {
				uint32_t len = d[i].status || (d[i].flags & EXO_DONE_TRUNCATED) ? 0 : d[i].length;
				arrived[narrived].index = (uint32_t)d[i].cookie;
				arrived[narrived++].len = len;
			}
		}
	} while (n == EXO_RING_BATCH);
}

/* The device refuses for good (taken out of service, or our cap was
 * revoked): what is pending can never go, and its transmit slots return. */
static void drop_pending(void)
{
	for (; npending; npending--, phead = (phead + 1) % PENDING_MAX)
		if (pending[phead].op == EXO_NIC_TX && tx_nfree < TX_SLOTS)
			tx_free[tx_nfree++] = (uint16_t)(pending[phead].offset / SLOT_SIZE);
}

int nicring_flush(void)
{
	uint64_t deadline = 0;
	for (;;) {
		int64_t r = post_pending();
		if (r == 0)
			return 0;
		if (r != -EXO_EAGAIN) {
			drop_pending();
			return r == -EXO_EIO ? -EIO : -ENETDOWN;
		}
		uint64_t now = time_now_ns();
		if (!deadline)
			deadline = now + FLUSH_WAIT_NS;
		else if (now >= deadline)
			return -EAGAIN;		/* still pending: a later flush sends them */
		reap();				/* the device or our port is full */
		exo_call(EXO_SYS_NOTIFY_WAIT, note, SECOND / 100);
	}
}

uint8_t *nicring_tx_get(void)
{
	uint64_t deadline = 0;
	while (!tx_nfree) {
		nicring_flush();
		reap();
		if (tx_nfree)
			break;
		uint64_t now = time_now_ns();
		if (!deadline)
			deadline = now + FLUSH_WAIT_NS;
		else if (now >= deadline)
			return 0;
		exo_call(EXO_SYS_NOTIFY_WAIT, note, SECOND / 100);
	}
	return slot_buf(tx_free[--tx_nfree]);
}

void nicring_tx_put(uint8_t *buf, uint32_t len)
{
	queue(EXO_NIC_TX, (uint32_t)((uint64_t)(buf - bufs) / SLOT_SIZE), len);
}

int nicring_receive(void (*deliver)(const uint8_t *frame, uint32_t len))
{
	if (!nic)
		return 0;
	reap();
	uint32_t n = narrived;
	for (uint32_t i = 0; i < n; i++) {
		if (arrived[i].len)
			deliver(slot_buf(arrived[i].index), arrived[i].len);
		queue(EXO_NIC_RX, arrived[i].index, SLOT_SIZE);
	}
	/* deliver may have reaped more while sending */
	for (uint32_t i = n; i < narrived; i++)
		arrived[i - n] = arrived[i];
	narrived -= n;
	return (int)n;
}

int64_t nicring_slot(void)
{
	return nic;
}

int nicring_group(const uint8_t mac[6], int join)
{
	if (!nic)
		return -ENODEV;
	nicring_flush();	/* alone in its call */
	struct exo_nic_buf b = { .op = join ? EXO_NIC_JOIN : EXO_NIC_LEAVE, .cookie = EXO_NIC_MAC(mac) };
	int64_t r = exo_call(EXO_SYS_NIC_POST, nic, &b, 1);
	return r == 1 ? 0 : r < 0 ? (int)r : -EIO;
}

void nicring_wait(uint64_t ns)
{
	nicring_flush();
	if (narrived)
		return;
	/* other threads of the program may run libOS calls meanwhile */
	uint32_t depth = lo_unlock_all();
	exo_call(EXO_SYS_NOTIFY_WAIT, note, ns);
	lo_relock(depth);
}

void nicring_kick(void)
{
	if (note > 0)
		exo_call(EXO_SYS_NOTIFY_SIGNAL, note, 1);
}
