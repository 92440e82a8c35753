/*
 * One Ethernet frame into lwIP (net/lwip/ethif.c): copied into a pbuf and
 * handed to the interface's input; what lwIP cannot parse it drops.
 */
#ifndef EXO_NET_LWIP_ETHIF_H
#define EXO_NET_LWIP_ETHIF_H

#include <stdint.h>

#include "lwip/netif.h"

#define ETHIF_FRAME_MAX 1514

void ethif_input(struct netif *n, const uint8_t *frame, uint32_t len);

#endif
