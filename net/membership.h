/*
 * Membership: the neighbour table fed by heartbeats, with SWIM-style
 * suspicion and Lifeguard's refinements.  A neighbour not heard for two
 * heartbeat periods becomes SUSPECT: it is probed directly and through up
 * to three helpers that announced it as their neighbour, and the suspicion
 * is disseminated two hops (so the suspect can refute it).  It is declared
 * DEAD when the suspicion timeout passes without any sign of life; the
 * timeout scales with log10 of the swarm size, shrinks as other neighbours
 * confirm the suspicion, and grows with our own local health multiplier
 * (suspicions of ours that proved wrong, suspicions of us we refuted).
 * The table is fixed-size and binds each link address to one identity,
 * so neither a flood of identities nor a sybil can push honest entries out.
 */
#ifndef EXO_NET_MEMBERSHIP_H
#define EXO_NET_MEMBERSHIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
	MEMBER_MAX = 64,
	MEMBER_HELPERS = 3,
	MEMBER_SUSPECT_PERIODS = 2,   /* silence before suspicion */
	MEMBER_DEAD_PERIODS = 3,      /* further silence before death */
	MEMBER_SLACK_MS = 250,
	MEMBER_DEAD_KEEP_MS = 30000,  /* dead entries kept to spot refutations */
	MEMBER_NBRS = 32,             /* neighbour ids kept per neighbour */
	MEMBER_CONFIRM_K = 3,         /* confirmations that shorten a suspicion fully */
	MEMBER_LHM_MAX = 8,           /* local health multiplier: timeouts x (16 + lhm) / 16 */
	MEMBER_LHM_DECAY_MS = 10000,  /* the multiplier drops by one this often */
};

_Static_assert(MEMBER_MAX <= 64, "relay coverage masks are 64-bit");

enum member_state { MS_FREE = 0, MS_ALIVE, MS_SUSPECT, MS_DEAD };

struct member {
	uint32_t id;
	uint32_t addr;          /* link address the heartbeats come from */
	uint32_t period_ms;     /* its role's heartbeat period */
	uint32_t probe_nonce;
	uint8_t state;
	uint8_t role;
	bool confirmed;         /* answered our nonce from addr: a real neighbour */
	uint64_t last_heard_ms;
	uint64_t suspect_ms;
	uint64_t next_probe_ms;
	uint64_t dead_ms;
	uint32_t last_seq;      /* newest sequence number (incarnation) heard from it */
	uint8_t confirms;       /* other neighbours that suspect it too */
	uint32_t confirmers[MEMBER_CONFIRM_K];
	uint8_t nnbrs;          /* its own neighbour list, from its HELLO */
	bool nbrs_complete;     /* the list held all of its neighbours */
	uint32_t nbrs[MEMBER_NBRS];
};

enum member_action_kind { MA_PING = 1, MA_PING_REQ, MA_DEAD, MA_SUSPECT };

/* Something the caller must do: probe a node, ask a helper, report a death. */
struct member_action {
	uint8_t kind;
	uint32_t addr;   /* where to send (MA_PING: target, MA_PING_REQ: helper) */
	uint32_t target; /* node the action is about */
	uint32_t nonce;
};

struct membership {
	struct member m[MEMBER_MAX];
	uint32_t ids[MEMBER_MAX];   /* m[i].id for used slots, for fast lookup */
	uint32_t addrs[MEMBER_MAX]; /* m[i].addr, likewise */
	uint32_t used, dead;        /* slots not free; slots dead */
	uint64_t next_due_ms;   /* lower bound of the next deadline */
	uint32_t refused_sybil;
	uint32_t nodes;         /* swarm size for the log N scaling (>= 1) */
	uint8_t lhm;            /* Lifeguard's local health multiplier, 0..8 */
	uint64_t lhm_decay_ms;
	uint32_t wrong_suspicions;
};

void membership_init(struct membership *ms);

/*
 * A direct (one-hop) authenticated packet from id at addr.  Returns 0,
 * -EEXIST when addr is bound to another live identity (a sybil or an
 * unannounced restart), -EADDRINUSE when id is alive at another address
 * (a relayed copy of its HELLO), -ENOSPC when the table is full of live
 * entries.  An entry that never answered a challenge from its address
 * (membership_confirm) and falls silent is dropped without a death report:
 * a relocated copy of a HELLO must not make a live node "die".
 * *refuted is set when a node we had declared dead spoke again.
 */
int membership_heard(struct membership *ms, uint32_t id, uint32_t addr, uint8_t role,
		     uint32_t period_ms, uint64_t now_ms, bool *refuted);

/*
 * The nonce to PING an unconfirmed entry with (0 when id is confirmed or
 * unknown); the caller sends it on every HELLO until the ACK comes back.
 */
uint32_t membership_challenge(struct membership *ms, uint32_t id, uint64_t rnd);

/* An ACK carrying nonce came from addr: confirm id if it matches its binding. */
void membership_confirm(struct membership *ms, uint32_t id, uint32_t addr, uint32_t nonce);

/* Refresh a known, not dead entry from an indirect sign of life. */
void membership_touch(struct membership *ms, uint32_t id, uint64_t now_ms);

/* The swarm size the suspicion timeout scales with (log10). */
void membership_set_nodes(struct membership *ms, uint32_t nodes);

/*
 * An ACK to our probe of id (its nonce) came back, directly or through a
 * helper: a sign of life that also lowers the local health multiplier
 * (Lifeguard's successful probe); a suspicion it ends is not counted wrong.
 */
void membership_probe_answered(struct membership *ms, uint32_t id, uint32_t nonce, uint64_t now_ms);

/* Record the newest sequence number (incarnation) heard from id. */
void membership_note_seq(struct membership *ms, uint32_t id, uint32_t seq);

/*
 * Another node (by) disseminated a suspicion of target: a confirmation
 * when we suspect target too (each suspecter counted once).
 */
void membership_confirm_suspicion(struct membership *ms, uint32_t target, uint32_t by);

/*
 * A refutation from id itself (its ALIVE, signed, with sequence number
 * seq): ends our suspicion if seq is newer than anything we heard from it.
 */
void membership_refuted(struct membership *ms, uint32_t id, uint32_t seq, uint64_t now_ms);

/* Others suspected us and we had to refute: our own health is in doubt. */
void membership_self_suspected(struct membership *ms);

/* The suspicion timeout of an entry now (ms); for tests and the docs. */
uint64_t membership_suspicion_ms(const struct membership *ms, const struct member *m);

/* Forget id at once (its REBIRTH was heard). */
void membership_remove(struct membership *ms, uint32_t id);

/* The live entry for id, or NULL. */
const struct member *membership_find(const struct membership *ms, uint32_t id);

/* Advance timers; writes up to max actions and returns how many. */
size_t membership_tick(struct membership *ms, uint64_t now_ms, uint64_t rnd,
		       struct member_action *out, size_t max);

uint64_t membership_next_deadline(const struct membership *ms);

/* True when a new identity could get a slot (a free or a dead one). */
bool membership_has_room(const struct membership *ms);

/* Record the neighbour list id announced (total = its full count). */
void membership_set_neighbours(struct membership *ms, uint32_t id, const uint8_t *ids_be,
			       size_t n, size_t total);

/* Live neighbour ids for our own HELLO; returns how many (<= max). */
size_t membership_list(const struct membership *ms, uint32_t *ids, size_t max);

/*
 * Two-hop knowledge for relaying, as bit masks over our table's slots:
 * the live entries, and those a transmission from link address addr
 * reached (its sender and, if its list is complete, its neighbours).
 */
uint64_t membership_alive_mask(const struct membership *ms);
uint64_t membership_cover(const struct membership *ms, uint32_t addr);

/* Number of entries in a given state. */
size_t membership_count(const struct membership *ms, enum member_state st);

#endif
