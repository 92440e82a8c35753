/*
 * swarm-sim: a single-process, deterministic network simulator for the
 * swarm protocols (host only).  Virtual time in milliseconds advances
 * through a binary-heap event queue; every random choice comes from one
 * xoshiro256** generator seeded by --seed, including the randomness the
 * protocol objects ask for, so a seed replays a run exactly.
 */
#ifndef EXO_NET_SIM_H
#define EXO_NET_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/swarm.h"

struct sim_opts {
	const char *scenario;
	const char *attack;
	const char *topology;
	uint32_t nodes;
	double loss, dup, reorder;
	double degree;
	double duration_s;        /* < 0: scenario default */
	uint64_t seed;
	bool flood;               /* naive flooding baseline */
	bool stop_and_wait;       /* NERT baseline */
	int fec_k;                /* NERT FEC group size, 0 = off, -1 default */
	uint32_t bytes;           /* NERT transfer size */
	uint32_t seeds;           /* NERT: run seeds seed..seed+seeds-1, report aggregates */
	int echo_cap;             /* gossip tuning overrides, < 0: default */
	double relay_prob, relay_decay;
	int relay_window;
	uint32_t skew_ms;         /* node clocks start up to this far apart */
	uint32_t drift_ppm;       /* ... and run up to this fast or slow */
	uint32_t lan_kbps;        /* lan: shared medium of this bit rate, CSMA with collisions; 0 = ideal */
	uint32_t adversaries;     /* attack: adversary nodes, 0 = the classic single one */
	double adversary_move_s;  /* attack: each adversary moves this often, 0 = never */
};

enum sim_event_kind { EV_DELIVER = 1, EV_DELIVER_ALL, EV_TIMER, EV_CALL };

struct sim_event {
	uint64_t t;
	uint64_t order;
	uint32_t kind;
	uint32_t node;
	uint32_t arg;
};

struct sim_packet {
	uint32_t refs;
	uint32_t src;             /* transmitting node: where the signal comes from */
	uint32_t addr;            /* link source address the receivers see */
	uint16_t len;
	bool collided;            /* lan medium: overlapped another transmission, heard by nobody */
	uint64_t txno;            /* which transmission holds the slot (it is reused) */
	uint8_t data[PHEROMONE_MAX_BYTES];
};

struct sim;

enum { SIM_AIR_SLOTS = 256 };   /* lan medium: transmissions tracked at once */

/* Per-node state of the simulated machine around its swarm_node. */
struct sim_node {
	struct sim *sim;
	uint32_t index;
	bool alive;
	bool adversary;           /* driven by the attack code, not swarm_node */
	uint32_t group;           /* partition side */
	double x, y;
	uint32_t *nbrs;
	uint32_t nnbr;
	uint64_t timer_at;
	uint32_t timer_gen;
	uint32_t memory_permille;
	uint32_t boots;           /* the node's incarnation at its next boot */
	uint64_t clock_off;       /* its clock: clock_off + now * (1 + drift_ppm / 1e6) */
	int32_t drift_ppm;
	struct swarm_identity ident;  /* issued by the simulated queen at first boot */
	struct swarm_node node;
};

typedef void (*sim_call_fn)(struct sim *s, uint32_t arg);

struct sim {
	struct sim_opts o;
	uint64_t rng[4];
	uint64_t now;
	uint64_t order;
	struct sim_event *heap;
	size_t heap_len, heap_cap;
	struct sim_packet *pool;
	uint32_t *pool_free;
	size_t pool_cap, pool_nfree;
	struct sim_node *nodes;
	uint32_t n;               /* nodes including any adversary */
	bool lan;
	bool partitioned;
	double mesh_r;            /* mesh: link radius the topology was built with */
	sim_call_fn calls[64];
	uint32_t ncalls;
	struct swarm_config cfg;  /* template for every honest node */
	int32_t queen_index;      /* node provisioned with the queen key, -1 none */
	bool memory_model;        /* nodes report memory use (apoptosis) */
	uint8_t queen_sk[CX_SIGN_SECRET_BYTES];
	struct sim_verified *verified;   /* memo of Ed25519 checks (pure functions) */
	uint64_t verify_calls, verify_computed, signed_count;
	/* hooks the scenario sets */
	void (*on_event)(struct sim *s, struct sim_node *sn, const struct swarm_event *ev);
	void (*on_transmit)(struct sim *s, uint32_t src, uint32_t dst, const uint8_t *p, size_t len);
	void (*on_adversary_rx)(struct sim *s, struct sim_node *sn, const uint8_t *p, size_t len);
	void *scenario;
	uint64_t deliveries, transmissions;
	/* lan medium (--lan-kbps): the transmissions on air or scheduled */
	struct sim_airtime { uint64_t start_us, end_us, txno; uint32_t idx; } air[SIM_AIR_SLOTS];
	uint32_t nair;
	uint64_t lan_collisions, lan_dropped;
};

/* The simulated queen: a key pair and certificate for a compromised or new node. */
void sim_issue_identity(struct sim *s, struct swarm_identity *out, uint8_t roles);

uint64_t sim_rand(struct sim *s);
double sim_uniform(struct sim *s);

int sim_setup(struct sim *s, const struct sim_opts *o, uint32_t extra_nodes);
void sim_free(struct sim *s);
void sim_boot(struct sim *s, uint32_t i);            /* (re)start node i */
void sim_kill(struct sim *s, uint32_t i);
void sim_at(struct sim *s, uint64_t t, sim_call_fn fn, uint32_t arg);
void sim_run_until(struct sim *s, uint64_t t_end);
void sim_transmit(struct sim *s, uint32_t src, uint32_t dst, const uint8_t *p, size_t len);
/* Transmit from src's position with a forged link source address. */
void sim_transmit_as(struct sim *s, uint32_t src, uint32_t addr, uint32_t dst,
		     const uint8_t *p, size_t len);
void sim_reschedule(struct sim *s, uint32_t i);
/* Detach node i and re-attach it at a random new place (mesh; lan: no-op). */
void sim_relocate(struct sim *s, uint32_t i);
bool sim_linked(const struct sim *s, uint32_t a, uint32_t b);
/* Node i's own clock now (skewed and drifting): what its swarm_node is given. */
uint64_t sim_clock(const struct sim *s, uint32_t i);

/* Nodes reachable from src over live links (ignoring loss); marks reach[]. */
uint32_t sim_component(const struct sim *s, uint32_t src, uint8_t *reach);

int sim_scenario_swarm(struct sim *s, const struct sim_opts *o);
int sim_scenario_nert(const struct sim_opts *o);

#endif
