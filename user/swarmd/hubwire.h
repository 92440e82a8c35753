/*
 * The swarm-hub envelope: 10 bytes in front of every pheromone a node
 * sends to or gets from the hub in relay mode.  To the hub, addr/port name
 * the destination (0.0.0.0:0 = every node); from the hub, the original
 * sender, so the node sees the same link address as without a hub.
 */
#ifndef EXO_SWARMD_HUBWIRE_H
#define EXO_SWARMD_HUBWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "net/bytes.h"

enum { HUB_VERSION = 1, HUB_HDR = 10, HUB_KIND_DATA = 1 };

/* Write the envelope header for addr:port (host byte order). */
static inline void hub_put(uint8_t *p, uint32_t addr, uint16_t port)
{
	p[0] = 'X';
	p[1] = 'H';
	p[2] = HUB_VERSION;
	p[3] = HUB_KIND_DATA;
	put_u32(p + 4, addr);
	put_u16(p + 8, port);
}

/* Parse the envelope: 0, or -1 when p is not one. */
static inline int hub_get(const uint8_t *p, size_t len, uint32_t *addr, uint16_t *port)
{
	if (len < HUB_HDR || p[0] != 'X' || p[1] != 'H' || p[2] != HUB_VERSION ||
	    p[3] != HUB_KIND_DATA)
		return -1;
	*addr = get_u32(p + 4);
	*port = get_u16(p + 8);
	return 0;
}

#endif
