/*
 * The NIC capability as a frame device for the network stack
 * (net/lwip/nicring.c): receive buffers kept posted, frames to send copied
 * into transmit slots and posted in batches (one doorbell per batch),
 * completions reaped, and sleeping on the ring's notification.  Knows
 * nothing of lwIP, so the host fuzzer replaces it with a fake device.
 */
#ifndef EXO_NET_LWIP_NICRING_H
#define EXO_NET_LWIP_NICRING_H

#include <stdint.h>

#define NICRING_FRAME_MAX 1514

/* Takes the NIC cap in slot: 0, or -errno (the cap stays unused then). */
int nicring_open(int64_t slot, uint8_t mac[6]);
/* The NIC cap in use (0: none). */
int64_t nicring_slot(void);
/* A transmit slot's buffer (NICRING_FRAME_MAX bytes), waiting up to a
 * second for the device to finish one when all are in flight; NULL when
 * none frees (the caller reports ENOBUFS). */
uint8_t *nicring_tx_get(void);
/* Queues the slot got last with len bytes to send. */
void nicring_tx_put(uint8_t *buf, uint32_t len);
/* Gives the device what is queued (sends and receive buffers), waiting up
 * to a second while it has no room: 0; -EAGAIN when it still had none
 * (nothing is lost: the rest stays queued for the next flush); -EIO or
 * -ENETDOWN when the device or the cap is gone for good (what was queued
 * is dropped then). */
int nicring_flush(void);
/* Hands each frame that arrived to deliver, then posts its buffer again:
 * the number of frames. */
int nicring_receive(void (*deliver)(const uint8_t *frame, uint32_t len));
/* Joins (join 1) or leaves the multicast group of Ethernet address mac in
 * the NIC's filter (EXO_NIC_JOIN, EXO_NIC_LEAVE): 0 or -errno. */
int nicring_group(const uint8_t mac[6], int join);
/* Sleeps until a completion arrives or ns pass (EXO_FOREVER: no limit). */
void nicring_wait(uint64_t ns);
/* Ends a nicring_wait of another thread of the program now. */
void nicring_kick(void);

#endif
