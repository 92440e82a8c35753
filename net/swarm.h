/*
 * The swarm node: the reactive loop of one ExoSwarm node as a sans-I/O
 * object.  Feed it packets (swarm_receive) and timer ticks (swarm_tick)
 * with the current time; it transmits through env->send, reports what it
 * did through env->event, and tells when it next needs a tick
 * (swarm_next_deadline).  Randomness comes from env->random.  It owns a
 * role, heartbeats, the neighbour table, gossip, the replicated store, the
 * sentinel counters, queen commands, apoptosis and the modules.
 */
#ifndef EXO_NET_SWARM_H
#define EXO_NET_SWARM_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "crypto/crypto.h"
#include "net/gossip.h"
#include "net/identity.h"
#include "net/kvstore.h"
#include "net/membership.h"
#include "net/pheromone.h"
#include "net/sentinel.h"

#define SWARM_BROADCAST 0xffffffffu

enum swarm_role { ROLE_WORKER = 0, ROLE_EXPLORER = 1, ROLE_SENTINEL = 2, ROLE_QUEEN = 3 };

enum {
	SWARM_MODULES = 2,
	SWARM_MODULE_STATE = 4096,
	SWARM_DEFAULT_TTL = 48,
	SWARM_PINGREQS = 8,
	SWARM_REFUSED = 16,
	SWARM_TIMED_IDS = 16,
	SWARM_WANTS = 32,
	SWARM_KV_GC = 16,             /* dead writers awaiting collection */
	SWARM_KV_GC_GRACE_MS = 60000,
	SWARM_HELLO_CERT_FIRST = 3,   /* the first HELLOs of a life carry the certificate, */
	SWARM_HELLO_CERT_EVERY = 8,   /* ... then every 8th, and the next after a neighbour asks */
	MEMORY_APOPTOSIS_PERMILLE = 900,
	SEQ_COUNTER_BITS = 20,        /* seq = incarnation << 20 | counter */
	SWARM_MAX_INCARNATION = (1 << (32 - SEQ_COUNTER_BITS)) - 1,
};

/* Queen commands (the signed body starts with cmd u16, arg_len u16). */
enum queen_cmd { QC_MARK = 1, QC_STATE_SET = 2, QC_REVOKE = 3 /* id u32, until u64 */ };

/* Why a node died. */
enum apoptosis_reason { DIE_MEMORY = 1, DIE_LIFETIME = 2, DIE_ORDERED = 3 };

enum swarm_event_kind {
	SE_DELIVER = 1,   /* a new DATA or ALARM arrived: data/len */
	SE_COMMAND,       /* a genuine queen command was executed */
	SE_DEAD,          /* membership declared 'about' dead */
	SE_REFUTED,       /* a node declared dead spoke again */
	SE_BLACKLIST,     /* sentinel banned addr and/or id */
	SE_REBIRTH,       /* this node died and was reborn as 'about' */
	SE_STATE,         /* the replicated store changed */
	SE_REJECT,        /* a packet was refused: code = enum sec_event */
	SE_MODULE,        /* a module reports something: code is module-defined */
	SE_ADMITTED,      /* a new neighbour entered the table: about */
};

struct swarm_event {
	uint8_t kind;
	uint8_t type;        /* pheromone type where relevant */
	uint32_t sender;     /* message sender where relevant */
	uint32_t seq;
	uint64_t timestamp_ms;
	uint32_t about;      /* node the event is about */
	uint32_t addr;       /* link address involved */
	uint32_t code;
	const uint8_t *data;
	size_t len;
};

struct swarm_node;

struct swarm_env {
	void *ctx;
	uint64_t (*random)(void *ctx);
	void (*send)(void *ctx, uint32_t dst, const uint8_t *pkt, size_t len);
	void (*event)(void *ctx, const struct swarm_event *ev);   /* may be NULL */
	uint32_t (*memory_permille)(void *ctx);                   /* may be NULL */
	/* Ed25519 check, 0 when valid; NULL: cx_verify (the simulator
	 * memoises results that many nodes would compute alike) */
	int (*verify)(void *ctx, const uint8_t sig[CX_SIGNATURE_BYTES], const uint8_t *msg,
		      size_t len, const uint8_t pk[CX_SIGN_PUBLIC_BYTES]);
};

/* A module: named code that rides on MODULE pheromones. */
struct swarm_module {
	const char *name;
	uint8_t id;
	size_t state_size;   /* <= SWARM_MODULE_STATE */
	void (*init)(void *state, struct swarm_node *n, uint64_t now_ms);
	void (*process)(void *state, struct swarm_node *n, uint32_t sender,
			const uint8_t *data, size_t len, uint64_t now_ms);
	void (*tick)(void *state, struct swarm_node *n, uint64_t now_ms);
	uint64_t (*next_deadline)(const void *state);
};

struct swarm_config {
	uint8_t swarm_key[CX_KEY_BYTES];
	uint8_t queen_pk[CX_SIGN_PUBLIC_BYTES];
	const uint8_t *queen_sk;      /* CX_SIGN_SECRET_BYTES, only on the queen */
	struct swarm_identity identity;  /* key pair and queen-signed certificate */
	uint32_t incarnation;         /* <= SWARM_MAX_INCARNATION, larger at every boot:
					 the owner persists it (as NERT's clock) */
	int role;                     /* -1: drawn at random */
	uint64_t lifetime_ms;         /* 0: unlimited */
	uint8_t ttl;                  /* for flooded pheromones */
	bool heartbeats;              /* false: no HELLOs (baseline benches) */
	uint32_t expected_nodes;      /* swarm size for the suspicion timeout (log N);
					 0: the number of certified authors heard */
	uint32_t kv_gc_grace_ms;      /* a dead writer's entries go this long after its
					 death (0: SWARM_KV_GC_GRACE_MS) */
	uint32_t kv_tombstone_ms;     /* tombstone life (0: KV_TOMBSTONE_MS) */
	struct gossip_params gossip;
	const struct swarm_module *modules[SWARM_MODULES];
	void *module_env;             /* handed to modules, e.g. the maze world */
};

struct pingreq {
	uint32_t target, nonce, requester_addr;
	uint64_t expire_ms;
};

struct timed_id {
	uint64_t id;
	uint64_t until_ms;
};

struct want {                     /* a message to PULL from a neighbour */
	uint64_t id;
	uint32_t responder;
	uint64_t due_ms;
	uint8_t tries;                /* PULLs sent for it so far */
};

struct kv_gc {                    /* a writer declared dead: collect at due_ms */
	uint32_t id;
	uint64_t due_ms;
};

struct refused_identity {
	uint32_t addr, id;
	bool used;
};

struct swarm_node {
	struct swarm_config cfg;
	struct swarm_env env;
	uint8_t mac_key[CX_KEY_BYTES];
	uint32_t id;                  /* from the certificate: fixed for the key */
	uint8_t role;
	uint8_t roles;                /* permitted by the certificate */
	uint32_t seq;
	uint32_t incarnation;         /* lives of this id: the top bits of seq */
	uint32_t generation;          /* rebirths so far */
	uint64_t born_ms;
	uint64_t next_hello_ms;
	uint32_t hellos;              /* HELLOs sent this life */
	bool hello_cert_due;          /* a neighbour may lack our certificate: send it */
	bool cert_wanted;             /* we skipped a HELLO for want of its certificate */
	uint64_t certless_skipped;    /* HELLOs skipped so (ignored, blamed on nobody) */
	uint64_t sync_due_ms;         /* UINT64_MAX: no state sync scheduled */
	uint64_t sync_sent_ms;
	uint64_t flood_due_ms;        /* UINT64_MAX: no swarm-wide state flood due */
	uint64_t memory_check_ms;
	uint64_t alive_sent_ms;       /* last refutation of a suspicion of us */
	uint64_t kv_check_ms;         /* next tombstone expiry / expired-writer check */
	struct gossip gossip;
	struct membership members;
	struct kvstore kv;
	struct sentinel sentinel;
	struct cert_cache certs;      /* survive rebirths, as does the list below */
	struct revocations revoked;
	struct pingreq pingreqs[SWARM_PINGREQS];
	struct refused_identity refused[SWARM_REFUSED];
	struct timed_id repaired[SWARM_TIMED_IDS];  /* repairs recently sent */
	struct want wants[SWARM_WANTS];
	struct kv_gc gc[SWARM_KV_GC];
	_Alignas(16) uint8_t module_state[SWARM_MODULES][SWARM_MODULE_STATE];
	uint64_t tx_packets, rx_packets;
	uint64_t verify_ops;          /* Ed25519 checks made (certificates and messages) */
};

/* Heartbeat period of a role in ms (worker 1 s, explorer 0.5 s, ...). */
uint32_t swarm_role_period(uint8_t role);

/* Draw a role from 16 random bits with the documented probabilities. */
uint8_t swarm_draw_role(uint64_t rnd);

int swarm_init(struct swarm_node *n, const struct swarm_config *cfg,
	       const struct swarm_env *env, uint64_t now_ms);
void swarm_receive(struct swarm_node *n, uint32_t src_addr, const uint8_t *pkt, size_t len,
		   uint64_t now_ms);
void swarm_tick(struct swarm_node *n, uint64_t now_ms);
uint64_t swarm_next_deadline(const struct swarm_node *n);

/* Originate a flooded pheromone (DATA, ALARM, MODULE...). Returns its seq or <0. */
int swarm_broadcast(struct swarm_node *n, uint8_t type, const void *payload, size_t len,
		    uint64_t now_ms);

/* Queen only: sign and flood a command body / a DIE order. Returns seq or <0. */
int swarm_queen_command(struct swarm_node *n, uint16_t cmd, const void *arg, size_t arg_len,
			uint64_t now_ms);
int swarm_queen_die(struct swarm_node *n, uint32_t target, uint64_t now_ms);
/* Queen only: revoke a node's certificate (kept until until_ms, its expiry). */
int swarm_queen_revoke(struct swarm_node *n, uint32_t target, uint64_t until_ms, uint64_t now_ms);

/* Write the replicated store (value NULL, len 0: delete, as a tombstone)
 * and spread the entry, signed by this node. */
int swarm_state_set(struct swarm_node *n, uint16_t key, const void *value, size_t len,
		    uint64_t now_ms);

/* Die and be reborn (same key and id, next incarnation, fresh role and
 * per-life tables), after a REBIRTH. */
void swarm_apoptosis(struct swarm_node *n, uint8_t reason, uint64_t now_ms);

/* For modules: flood a module payload; report an event. */
int swarm_module_send(struct swarm_node *n, uint8_t module_id, const void *data, size_t len,
		      uint64_t now_ms);
void swarm_emit(struct swarm_node *n, const struct swarm_event *ev);
uint64_t swarm_random(struct swarm_node *n);

#endif
