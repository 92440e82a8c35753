/*
 * Device rings behind NIC and block capabilities.  A cap names a port: an
 * endpoint with its own completion queue and notification.  Buffers come
 * as (FRAME cap, offset, length), checked against the cap; while a device
 * or the kernel may still write a buffer, a pin (a counted FRAME cap that
 * lives in no table, a child of the caller's cap) keeps its frames
 * allocated.  Revoking an ancestor of a pin first stops the device's DMA
 * into it.  Drivers (drivers/) plug in through struct nic_ops and blk_ops.
 */
#ifndef EXO_KERNEL_RING_H
#define EXO_KERNEL_RING_H

#include "kernel/object.h"

#define RING_DONE_MAX 512	/* completions a port holds */
#define NIC_RX_POSTED 256	/* receive buffers a port may have posted */
#define RING_INFLIGHT 256	/* requests a device may hold */
#define RING_MAX_DEVICES 4
#define NIC_GROUPS 16		/* multicast groups a port may join */
#define NIC_MCAST_MAX 64	/* groups a device filters; beyond, all multicast */

/* One buffer the kernel keeps for a device. */
struct ring_req {
	struct cap pin;			/* FRAME child of the caller's cap; type 0 when free */
	struct ring_port *port;
	uint64_t cookie, pa;
	uint32_t op, len;
	uint32_t in_device;		/* the device may DMA into it */
	uint32_t releasing;		/* its pin is being revoked */
};

struct ring_port {
	int refs;			/* caps naming it */
	int type;			/* EXO_CAP_NIC or EXO_CAP_BLOCK */
	void *dev;			/* struct nic_dev or blk_dev */
	struct ring_port *next;		/* the device's ports */
	struct notify *notify;
	uint64_t badge;
	int signalled;			/* notified since the last reap */
	uint32_t inflight;		/* requests in the device */
	uint32_t done_head, ndone;
	struct exo_ring_done done[RING_DONE_MAX];
	/* NIC */
	uint64_t filter;
	uint64_t rx_dropped;
	uint32_t rx_head, nrx;		/* FIFO of posted receive buffers */
	uint32_t ngroups;
	uint64_t groups[NIC_GROUPS];	/* joined multicast MACs (EXO_NIC_JOIN) */
	struct ring_req rx[NIC_RX_POSTED];
};

/* What NIC and block devices share: polling with interrupt suppression,
 * and stopping a device that does not let go of a buffer. */
struct ring_hw {
	int dead;			/* reset after a hang: refuses everything */
	int busy;			/* polled, interrupts off */
	int bounded;			/* work only as holders queue it (disks) */
	const char *model;
	int (*drain)(void *dev);	/* takes finished work; how much */
	int (*interrupts)(void *dev, int on);	/* on: 1 when work arrived meanwhile */
	void (*kill)(void *dev);	/* resets the device, fails what it held */
};
/* A holder's call: drains, and turns interrupts back on once the device is
 * quiet.  A bounded device's interrupts are off only during this drain. */
void ring_hw_poll(struct ring_hw *h, void *dev);
/* From the interrupt: drains with interrupts off.  A NIC's stay off
 * (busy) while frames keep arriving, so a flood is polled, not
 * interrupted; a bounded device (a disk: completions only for requests
 * queued) is drained until quiet and left with interrupts on, so a
 * holder asleep on its notification is always woken by the interrupt. */
void ring_hw_interrupt(struct ring_hw *h, void *dev);
/* Drains until *count is 0; kills the device after a second. */
void ring_hw_wait(struct ring_hw *h, void *dev, const uint32_t *count);

/* ------------------------------------------------------------ NIC drivers */
struct nic_dev;
struct nic_ops {
	int (*link_up)(struct nic_dev *d);
	/* queue one frame at pa (no doorbell); 0 or -ENOSPC */
	int (*tx)(struct nic_dev *d, uint64_t pa, uint32_t len, uint32_t *id);
	void (*kick)(struct nic_dev *d);
	/* next transmitted frame's id, -1 when none */
	int (*tx_done)(struct nic_dev *d);
	/* next received frame (a kernel buffer) or NULL; rx_recycle hands it back */
	const uint8_t *(*rx)(struct nic_dev *d, uint32_t *len);
	void (*rx_recycle)(struct nic_dev *d);
	/* device interrupts on or off; on returns 1 when work arrived meanwhile */
	int (*interrupts)(struct nic_dev *d, int on);
	void (*reset)(struct nic_dev *d);	/* stops all DMA for good */
	/* receive these multicast MACs (n < 0: every multicast frame); NULL
	 * when the device receives every multicast frame anyway */
	void (*multicast)(struct nic_dev *d, const uint8_t (*macs)[6], int n);
};
struct nic_dev {
	struct ring_hw hw;		/* set by nic_register */
	const struct nic_ops *ops;
	void *priv;
	const char *model;
	uint8_t mac[6];
	uint16_t rxq, txq;		/* txq: frames the device holds at most */
	uint32_t tx_inflight;
	struct ring_port *ports;	/* the filtered ports */
	struct ring_port *root;
	struct ring_req tx[RING_INFLIGHT];	/* by driver id */
};

/* ------------------------------------------------------------ block drivers */
struct blk_dev;
struct blk_ops {
	/* queue one request (no doorbell); 0 or -ENOSPC */
	int (*submit)(struct blk_dev *d, uint32_t op, uint64_t sector, uint64_t pa,
		      uint32_t len, uint32_t *id);
	void (*kick)(struct blk_dev *d);
	/* next finished request's id and status (0 or -EIO), -1 when none */
	int (*done)(struct blk_dev *d, int *status);
	int (*interrupts)(struct blk_dev *d, int on);
	void (*reset)(struct blk_dev *d);
};
struct blk_dev {
	struct ring_hw hw;		/* set by blk_register */
	const struct blk_ops *ops;
	void *priv;
	const char *model;
	uint64_t sectors;
	uint32_t sector_size;
	uint16_t queue;			/* requests the device holds at most */
	uint8_t write_cache, flush, discard, read_only;
	uint32_t inflight;
	struct ring_req req[RING_INFLIGHT];	/* by driver id */
};

/* Drivers register what they found (before the first program starts). */
int nic_register(struct nic_dev *d);
int blk_register(struct blk_dev *d);
/* Called from a driver's interrupt handler. */
void nic_interrupt(struct nic_dev *d);
void blk_interrupt(struct blk_dev *d);
/* The registered devices, for the loader. */
int ring_nic_count(void);
int ring_blk_count(void);
struct ring_port *ring_nic_root(int i);
struct ring_port *ring_blk_root(int i);
/* Finds and starts every supported device (drivers/). */
void ring_probe_devices(void);

/* Capability hooks (cap.c, syscall.c). */
void ring_port_get(struct ring_port *p);
void ring_port_put(struct ring_port *p);
/* A pin's cap is being released: stop the DMA into it first. */
void ring_pin_release(struct cap *pin);
/* CAP_DERIVE of a NIC or block cap: checks (first, count) and makes the
 * child's port (NULL + *err on failure; nothing changed). */
int ring_derive_check(const struct cap *c, uint64_t first, uint64_t count);
struct ring_port *ring_derive(struct env *e, const struct cap *c, uint64_t first,
			      uint64_t count, int *err);

/* The calls (syscall.c decodes slots and hands over the caps). */
int64_t nic_info(struct cap *c, uint64_t uptr);
int64_t nic_post(struct env *e, struct cap *c, uint64_t uptr, uint64_t n);
int64_t blk_info(struct cap *c, uint64_t uptr);
int64_t blk_submit(struct env *e, struct cap *c, uint64_t uptr, uint64_t n);
int64_t ring_bind(struct cap *c, struct notify *n, uint64_t badge);
int64_t ring_reap(struct cap *c, uint64_t uptr, uint64_t max);

/* Shared by nic.c and blk.c (ring.c). */
struct ring_port *ring_port_new(int type, void *dev);
/* Checks a buffer against frame cap f: [offset, offset + len) inside it,
 * the rights given; its physical address in *pa. */
int ring_buffer_check(struct env *e, uint32_t slot, uint32_t rights, uint64_t offset,
		      uint64_t len, uint64_t *pa, struct cap **frame);
/* Pins the frames of the buffer into r (ring_buffer_check passed). */
void ring_pin(struct ring_req *r, struct cap *frame, uint64_t pa, uint32_t len);
/* Queues a completion on p and signals its notification on the first. */
void ring_complete(struct ring_port *p, uint64_t cookie, uint32_t op, uint32_t len,
		   int32_t status, uint32_t flags);
/* Drops r's pin (when not already being revoked) and frees r. */
void ring_req_free(struct ring_req *r);
/* Room for n more completions on p, counting those already promised. */
int ring_room(const struct ring_port *p, uint32_t promised, uint32_t n);
/* Copies a driver's model name into an info struct's 16 bytes. */
void ring_model(char out[16], const char *model);
/* A port's last cap went: its buffers are dropped, its requests finished. */
void nic_port_gone(struct ring_port *p);

#endif
