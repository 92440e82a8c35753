/*
 * libFuzzer target: the swarm node's receive path.  Odd first byte: the
 * input is a raw packet (decode, MAC, certificate, signature, sentinel).
 * Even: the input becomes the payload of a pheromone of the chosen type
 * correctly signed by one of 8 certified authors and MACed, so the
 * per-type parsers behind the checks (HELLO, probes, PULL, STATE, MODULE
 * with the maze, queen commands, REBIRTH, DIE) see arbitrary bytes too.
 */
#include <stdint.h>
#include <string.h>

#include "net/bytes.h"
#include "net/maze.h"
#include "net/swarm.h"

static struct swarm_node node;
static uint8_t mac_key[32], walls[16 * 16];
static struct maze_world world = { 16, 16, 0, 255, walls };
static uint64_t counter, now = 100000;
static uint32_t seq;
static struct swarm_identity authors[8];

/* Deterministic randomness for the fuzzer. */
static uint64_t f_random(void *ctx)
{
	(void)ctx;
	return mix64(++counter);
}

/* Packets sent by the node under test are dropped. */
static void f_send(void *ctx, uint32_t dst, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)dst;
	(void)pkt;
	(void)len;
}

/* One node with the maze module, built on first use. */
static void setup(void)
{
	struct swarm_config cfg = { .role = ROLE_SENTINEL, .heartbeats = true,
				    .modules = { &maze_module }, .module_env = &world };
	struct swarm_env env = { NULL, f_random, f_send, NULL, NULL, NULL };
	uint8_t seed[32] = { 3 }, sk[64];

	cx_init();
	memset(cfg.swarm_key, 0x33, 32);
	cx_sign_keypair(cfg.queen_pk, sk, seed);
	for (int i = 0; i < 8; i++) {
		seed[0] = (uint8_t)(10 + i);
		identity_issue(&authors[i], seed, ROLES_ALL, UINT64_MAX / 2, sk);
	}
	seed[0] = 9;
	identity_issue(&cfg.identity, seed, ROLES_ALL, UINT64_MAX / 2, sk);
	gossip_default_params(&cfg.gossip);
	maze_generate(walls, 16, 16, 1);
	pheromone_mac_key(mac_key, cfg.swarm_key);
	swarm_init(&node, &cfg, &env, now);
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t pkt[PHEROMONE_MAX_BYTES];

	if (!node.id)
		setup();
	now += 7;
	if (size < 3)
		return 0;
	if (data[0] & 1) {
		swarm_receive(&node, data[1], data + 2, size - 2, now);
	} else {
		const struct swarm_identity *a = &authors[data[2] % 8];
		struct pheromone h = { .type = (uint8_t)(1 + data[1] % PH_TYPE_MAX), .ttl = 2,
				       .sender = node_id_from_pk(a->pk), .seq = ++seq,
				       .timestamp_ms = now, .flags = data[0] >> 1 & PHF_KNOWN };
		int n = pheromone_encode(pkt, sizeof pkt, &h, data + 3, size - 3, a, mac_key);
		if (n > 0)
			swarm_receive(&node, data[2] % 8, pkt, (size_t)n, now);
	}
	if (swarm_next_deadline(&node) <= now)
		swarm_tick(&node, now);
	return 0;
}
