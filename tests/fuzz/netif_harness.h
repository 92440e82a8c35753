/*
 * lwIP with the library OS's configuration on the host, behind one
 * Ethernet interface (10.0.2.15/24, gateway 10.0.2.2) whose output is
 * captured: for the netif fuzzer and the bad-input unit test.
 */
#ifndef EXO_TESTS_NETIF_HARNESS_H
#define EXO_TESTS_NETIF_HARNESS_H

#include <stddef.h>
#include <stdint.h>

extern const uint8_t harness_mac[6], harness_gw_mac[6];
extern int harness_sent;			/* frames lwIP sent */
extern uint8_t harness_last[1514];		/* the last one */
extern uint32_t harness_last_len;

/* Starts lwIP once: the interface, TCP listeners on port 80 (reads all)
 * and 81 (never reads), and a UDP echo on port 7. */
void harness_init(void);
/* Makes the interface lwIP's default route, or leaves lwIP without one
 * (a program without a NIC has only the loopback). */
void harness_set_default(int on);
/* lwIP's clock (ms), and moving it on (running the timers due). */
uint32_t harness_now(void);
void harness_advance(uint32_t ms);
/* One frame in; lwIP's timers advance by ms first. */
void harness_input(const uint8_t *frame, size_t len, uint32_t ms);

#endif
