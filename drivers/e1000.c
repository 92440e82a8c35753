/*
 * Intel 8254x (e1000; QEMU's default NIC is the 82540EM): legacy receive
 * and transmit descriptor rings in kernel frames.  The device receives only
 * into kernel buffers, as virtio-net does; frames to send are handed to it
 * where they lie (kernel/nic.c has checked and pinned them).  Interrupts
 * come on the function's INTx line through the IOAPIC, throttled by ITR;
 * the ring layer masks them (IMC) while it polls a busy device.  The MAC
 * comes from the EEPROM (or RAL/RAH when no EEPROM answers); the multicast
 * table (MTA) is programmed from the list nic.c keeps.
 */
#include "drivers/pci.h"
#include "drivers/virtio.h"
#include "include/exo/abi.h"
#include "kernel/apic.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/heap.h"
#include "kernel/ring.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vm.h"

#define R_CTRL 0x0000
#define R_STATUS 0x0008
#define R_EERD 0x0014
#define R_ICR 0x00c0
#define R_ITR 0x00c4
#define R_IMS 0x00d0
#define R_IMC 0x00d8
#define R_RCTL 0x0100
#define R_TCTL 0x0400
#define R_TIPG 0x0410
#define R_RDBAL 0x2800
#define R_RDBAH 0x2804
#define R_RDLEN 0x2808
#define R_RDH 0x2810
#define R_RDT 0x2818
#define R_RDTR 0x2820
#define R_TDBAL 0x3800
#define R_TDBAH 0x3804
#define R_TDLEN 0x3808
#define R_TDH 0x3810
#define R_TDT 0x3818
#define R_MTA 0x5200		/* 128 registers */
#define R_RAL0 0x5400
#define R_RAH0 0x5404

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_RST (1u << 26)
#define STATUS_LU (1u << 1)
#define EERD_START 1u
#define EERD_DONE (1u << 4)
#define RCTL_EN (1u << 1)
#define RCTL_MPE (1u << 4)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)	/* BSIZE 00: 2048-byte buffers */
#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)
#define TCTL_CT (0x10u << 4)
#define TCTL_COLD (0x40u << 12)
#define RAH_AV (1u << 31)
/* interrupt causes: transmit written back, link change, receive ring low,
 * overrun, receive timer */
#define INT_TXDW 0x01u
#define INT_LSC 0x04u
#define INT_RXDMT0 0x10u
#define INT_RXO 0x40u
#define INT_RXT0 0x80u
#define INT_MASK (INT_TXDW | INT_LSC | INT_RXDMT0 | INT_RXO | INT_RXT0)
#define ITR_128US 500u		/* at most one interrupt per 500 x 256 ns */

#define TX_EOP 0x01
#define TX_IFCS 0x02
#define TX_RS 0x08
#define DESC_DD 0x01
#define RX_EOP 0x02

#define NDESC 256		/* per ring: one page of descriptors */
#define RX_BUF 2048

struct rx_desc {
	uint64_t addr;
	uint16_t length, csum;
	uint8_t status, errors;
	uint16_t special;
};
_Static_assert(sizeof(struct rx_desc) == 16, "rx_desc");

struct tx_desc {
	uint64_t addr;
	uint16_t length;
	uint8_t cso, cmd, status, css;
	uint16_t special;
};
_Static_assert(sizeof(struct tx_desc) == 16, "tx_desc");

struct e1000 {
	struct nic_dev nic;
	volatile uint8_t *regs;
	volatile struct rx_desc *rx;
	volatile struct tx_desc *tx;
	uint64_t rx_pa[NDESC];
	uint16_t rx_next;		/* next descriptor the device fills */
	uint16_t rx_tail;		/* RDT to publish at the next kick */
	uint16_t tx_tail;		/* next free transmit descriptor */
	uint16_t tx_clean;		/* oldest descriptor not yet reaped */
	uint16_t tx_published;		/* TDT as last written */
	uint16_t rx_published;		/* RDT as last written */
	int irq;			/* INTx line, -1 when polled */
};

static struct e1000 *devs[RING_MAX_DEVICES];
static int ndevs;

static inline void fence(void) { __asm__ volatile("mfence" ::: "memory"); }
static uint32_t rd(struct e1000 *e, uint32_t r) { return *(volatile uint32_t *)(e->regs + r); }
static void wr(struct e1000 *e, uint32_t r, uint32_t v) { *(volatile uint32_t *)(e->regs + r) = v; }
static struct e1000 *priv(struct nic_dev *d) { return d->priv; }

static int e1000_link_up(struct nic_dev *d)
{
	return (rd(priv(d), R_STATUS) & STATUS_LU) != 0;
}

static int e1000_tx(struct nic_dev *d, uint64_t pa, uint32_t len, uint32_t *id)
{
	struct e1000 *e = priv(d);
	uint16_t next = (uint16_t)((e->tx_tail + 1) % NDESC);

	if (next == e->tx_clean)
		return -EXO_ENOSPC;
	e->tx[e->tx_tail] = (struct tx_desc){ .addr = pa, .length = (uint16_t)len,
					      .cmd = TX_EOP | TX_IFCS | TX_RS };
	*id = e->tx_tail;
	e->tx_tail = next;
	return 0;
}

/* One doorbell per ring for what was queued or recycled since the last. */
static void e1000_kick(struct nic_dev *d)
{
	struct e1000 *e = priv(d);

	fence();
	if (e->tx_published != e->tx_tail) {
		e->tx_published = e->tx_tail;
		wr(e, R_TDT, e->tx_tail);
	}
	if (e->rx_published != e->rx_tail) {
		e->rx_published = e->rx_tail;
		wr(e, R_RDT, e->rx_tail);
	}
}

static int e1000_tx_done(struct nic_dev *d)
{
	struct e1000 *e = priv(d);
	uint16_t i = e->tx_clean;

	if (i == e->tx_tail || !(e->tx[i].status & DESC_DD))
		return -1;
	e->tx[i].status = 0;
	e->tx_clean = (uint16_t)((i + 1) % NDESC);
	return i;
}

/* Gives descriptor rx_next back to the device (published by the kick). */
static void e1000_rx_recycle(struct nic_dev *d)
{
	struct e1000 *e = priv(d);
	uint16_t i = e->rx_next;

	e->rx[i] = (struct rx_desc){ .addr = e->rx_pa[i] };
	e->rx_tail = i;
	e->rx_next = (uint16_t)((i + 1) % NDESC);
}

/* The next good frame; descriptors with errors or split frames (none with
 * 2 KiB buffers and no jumbo frames) are given back on the way. */
static const uint8_t *e1000_rx(struct nic_dev *d, uint32_t *len)
{
	struct e1000 *e = priv(d);

	for (;;) {
		volatile struct rx_desc *r = &e->rx[e->rx_next];
		if (!(r->status & DESC_DD))
			return NULL;
		fence();
		uint32_t n = r->length;
		if ((r->status & RX_EOP) && !r->errors && n >= 14 && n <= RX_BUF) {
			*len = n;
			return phys_to_virt(e->rx_pa[e->rx_next]);
		}
		e1000_rx_recycle(d);
	}
}

static int has_work(struct e1000 *e)
{
	return (e->rx[e->rx_next].status & DESC_DD) ||
	       (e->tx_clean != e->tx_tail && (e->tx[e->tx_clean].status & DESC_DD));
}

/* Off: every cause masked and cleared, so the level line drops.  On: the
 * causes collected meanwhile are cleared (has_work covers them) before
 * they are unmasked, so anything later raises the line again. */
static int e1000_interrupts(struct nic_dev *d, int on)
{
	struct e1000 *e = priv(d);

	if (!on) {
		wr(e, R_IMC, ~0u);
		rd(e, R_ICR);
		return 0;
	}
	rd(e, R_ICR);
	if (e->irq >= 0)
		wr(e, R_IMS, INT_MASK);
	return has_work(e);
}

static void e1000_reset(struct nic_dev *d)
{
	struct e1000 *e = priv(d);

	wr(e, R_IMC, ~0u);
	wr(e, R_RCTL, 0);
	wr(e, R_TCTL, 0);
	wr(e, R_CTRL, rd(e, R_CTRL) | CTRL_RST);
	for (uint64_t end = time_ns() + 10000000; (rd(e, R_CTRL) & CTRL_RST) && time_ns() < end;)
		;
	wr(e, R_IMC, ~0u);
	rd(e, R_ICR);
}

/* The 12 address bits the MTA hashes with MO = 0: bits 36..47. */
static uint32_t mta_hash(const uint8_t mac[6])
{
	return ((uint32_t)mac[4] >> 4 | (uint32_t)mac[5] << 4) & 0xfff;
}

/* Programs the multicast table for n addresses; n < 0 accepts every
 * multicast frame (more groups than the list holds). */
static void e1000_multicast(struct nic_dev *d, const uint8_t (*macs)[6], int n)
{
	struct e1000 *e = priv(d);
	uint32_t mta[128] = { 0 };

	for (int i = 0; i < n; i++) {
		uint32_t h = mta_hash(macs[i]);
		mta[h >> 5] |= 1u << (h & 31);
	}
	for (int i = 0; i < 128; i++)
		wr(e, R_MTA + 4u * (uint32_t)i, mta[i]);
	uint32_t rctl = rd(e, R_RCTL);
	wr(e, R_RCTL, n < 0 ? rctl | RCTL_MPE : rctl & ~RCTL_MPE);
}

static const struct nic_ops e1000_ops = {
	.link_up = e1000_link_up, .tx = e1000_tx, .kick = e1000_kick, .tx_done = e1000_tx_done,
	.rx = e1000_rx, .rx_recycle = e1000_rx_recycle, .interrupts = e1000_interrupts,
	.reset = e1000_reset, .multicast = e1000_multicast,
};

/* The shared INTx line: every e1000 on it looks at its own causes. */
static void e1000_irq(void *arg)
{
	int line = (int)(uintptr_t)arg;
	for (int i = 0; i < ndevs; i++)
		if (devs[i]->irq == line)
			nic_interrupt(&devs[i]->nic);
}

/* One EEPROM word through EERD; -1 when the EEPROM does not answer. */
static int eeprom_read(struct e1000 *e, uint8_t addr)
{
	wr(e, R_EERD, EERD_START | (uint32_t)addr << 8);
	for (uint64_t end = time_ns() + 10000000; time_ns() < end;) {
		uint32_t v = rd(e, R_EERD);
		if (v & EERD_DONE)
			return (int)(v >> 16);
	}
	return -1;
}

/* The MAC: EEPROM words 0-2, else what RAL0/RAH0 hold after reset. */
static void read_mac(struct e1000 *e, uint8_t mac[6])
{
	int ok = 1;
	for (uint8_t i = 0; i < 3 && ok; i++) {
		int w = eeprom_read(e, i);
		ok = w >= 0;
		mac[2 * i] = (uint8_t)w;
		mac[2 * i + 1] = (uint8_t)(w >> 8);
	}
	if (!ok) {
		uint32_t lo = rd(e, R_RAL0), hi = rd(e, R_RAH0);
		for (int i = 0; i < 4; i++)
			mac[i] = (uint8_t)(lo >> (8 * i));
		mac[4] = (uint8_t)hi;
		mac[5] = (uint8_t)(hi >> 8);
	}
	wr(e, R_RAL0, (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16 |
		      (uint32_t)mac[3] << 24);
	wr(e, R_RAH0, (uint32_t)mac[4] | (uint32_t)mac[5] << 8 | RAH_AV);
}

/* Descriptor rings and receive buffers (two to a page), all kernel frames. */
static int rings_alloc(struct e1000 *e)
{
	uint64_t rx = page_alloc_zeroed(), tx = page_alloc_zeroed();
	if (!rx || !tx)
		return -EXO_ENOMEM;
	e->rx = phys_to_virt(rx);
	e->tx = phys_to_virt(tx);
	for (int i = 0; i < NDESC; i += 2) {
		uint64_t pa = page_alloc_zeroed();
		if (!pa)
			return -EXO_ENOMEM;
		e->rx_pa[i] = pa;
		e->rx_pa[i + 1] = pa + RX_BUF;
	}
	for (int i = 0; i < NDESC; i++)
		e->rx[i].addr = e->rx_pa[i];
	wr(e, R_RDBAL, (uint32_t)rx);
	wr(e, R_RDBAH, (uint32_t)(rx >> 32));
	wr(e, R_RDLEN, NDESC * sizeof(struct rx_desc));
	wr(e, R_RDH, 0);
	e->rx_tail = e->rx_published = NDESC - 1;	/* the device owns all but one */
	wr(e, R_RDT, e->rx_tail);
	wr(e, R_RDTR, 0);
	wr(e, R_TDBAL, (uint32_t)tx);
	wr(e, R_TDBAH, (uint32_t)(tx >> 32));
	wr(e, R_TDLEN, NDESC * sizeof(struct tx_desc));
	wr(e, R_TDH, 0);
	wr(e, R_TDT, 0);
	return 0;
}

/* Routes the function's INTx line to a vector of its own (APIC only). */
static void irq_setup(struct e1000 *e, const struct pci_device *pd)
{
	static int line_vector[16];
	int line = pd->irq_line;

	e->irq = -1;
	if (!apic_mode || line < 1 || line > 15 || line == 2)
		return;
	if (!line_vector[line]) {
		int vector = virtio_alloc_vector();
		if (!vector || irq_claim(line))
			return;
		line_vector[line] = vector;
		virtio_bind_vector(vector, e1000_irq, (void *)(uintptr_t)line);
		irq_route(line, vector);
	}
	e->irq = line;
}

int e1000_probe(const struct pci_device *pd)
{
	uint32_t bar = pci_read32(pd->bus, pd->dev, pd->fn, 0x10);
	struct e1000 *e = ndevs < RING_MAX_DEVICES ? kzalloc(sizeof *e) : NULL;
	int err;

	if (!e)
		return -EXO_ENOMEM;
	if (bar & 1) {
		err = -EXO_EINVAL;	/* BAR 0 must be the register window */
		goto fail;
	}
	uint32_t cmd = pci_read32(pd->bus, pd->dev, pd->fn, 0x04);
	pci_write32(pd->bus, pd->dev, pd->fn, 0x04, (cmd | 0x6) & ~(1u << 10));	/* memory, master, INTx */
	uint64_t base = bar & ~0xfu;
	if (((bar >> 1) & 3) == 2)
		base |= (uint64_t)pci_read32(pd->bus, pd->dev, pd->fn, 0x14) << 32;
	e->regs = vm_map_mmio(base, 128 * 1024);
	e->nic = (struct nic_dev){ .ops = &e1000_ops, .priv = e, .model = "e1000",
				   .rxq = NDESC, .txq = NDESC - 1 };
	e1000_reset(&e->nic);
	read_mac(e, e->nic.mac);
	if ((err = rings_alloc(e)))
		goto fail;
	wr(e, R_CTRL, (rd(e, R_CTRL) | CTRL_SLU | CTRL_ASDE));
	wr(e, R_TIPG, 10 | 8u << 10 | 6u << 20);
	wr(e, R_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT | TCTL_COLD);
	wr(e, R_ITR, ITR_128US);
	wr(e, R_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);
	e1000_multicast(&e->nic, NULL, 0);
	if ((err = nic_register(&e->nic)))
		goto fail;
	devs[ndevs++] = e;
	irq_setup(e, pd);
	e1000_interrupts(&e->nic, 1);
	klog(LOG_INFO, "e1000 %02x:%02x.%x: mac %02x:%02x:%02x:%02x:%02x:%02x, queues %u/%u, %s\n",
	     pd->bus, pd->dev, pd->fn, e->nic.mac[0], e->nic.mac[1], e->nic.mac[2], e->nic.mac[3],
	     e->nic.mac[4], e->nic.mac[5], NDESC, NDESC, e->irq >= 0 ? "INTx" : "polled");
	return 0;
fail:
	klog(LOG_WARN, "e1000 %02x:%02x.%x: not started (%d)\n", pd->bus, pd->dev, pd->fn, err);
	if (e->regs)
		e1000_reset(&e->nic);
	kfree(e);	/* its ring pages stay allocated: a failed device is rare */
	return err;
}
