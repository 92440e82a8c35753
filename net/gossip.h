/*
 * Gossip engine: the per-node bookkeeping that decides whether a verified
 * pheromone is new, a duplicate, a replay or over its sender's rate, and
 * that schedules probabilistic relays.  It holds only fixed-size tables, so
 * a flood of identifiers costs evictions, never memory.  It does no I/O:
 * relays come out of gossip_take_due() for the caller to transmit.
 */
#ifndef EXO_NET_GOSSIP_H
#define EXO_NET_GOSSIP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "net/pheromone.h"

enum {
	GOSSIP_SENDERS = 2048,     /* per-sender replay windows and buckets */
	GOSSIP_SENDER_PROBE = 8,
	GOSSIP_CACHE = 1024,       /* exact recent-ID cache slots */
	GOSSIP_CACHE_PROBE = 8,
	GOSSIP_BLOOM_BITS = 65536, /* per generation; two generations */
	GOSSIP_BLOOM_HASHES = 6,
	GOSSIP_PENDING = 16,       /* relays waiting for their backoff */
	GOSSIP_STORE = 128,        /* message cache: copies kept for repair */
	GOSSIP_STORE_BYTES = 32768,/* ... in a byte ring of this size */
	GOSSIP_WINDOW = 64,        /* sequence window per sender */
	GOSSIP_DIGEST_IDS = 16,    /* IDs advertised per HELLO (IHAVE) */
	GOSSIP_REPAIR_MARGIN_MS = 5000, /* copies are repaired until bound - this */
};

/* Tunables; gossip_default_params() documents the defaults. */
struct gossip_params {
	uint32_t relay_max_ms;     /* relay backoff drawn from [0, relay_max_ms] */
	uint32_t relay_prob;       /* relay probability with no duplicate, /65536 */
	uint32_t relay_decay;      /* factor per duplicate heard, /65536 */
	uint8_t echo_cap;          /* cancel the relay after this many duplicates */
	bool flood;                /* baseline: relay every new message once */
	uint32_t rate_per_s;       /* new messages per author per second */
	uint32_t rate_burst;
	uint32_t ts_bound_ms;      /* accepted |timestamp - now| */
	uint32_t cache_ms;         /* lifetime of an exact cache entry */
	uint32_t bloom_rotate_ms;  /* rotate a Bloom generation after this */
	uint32_t bloom_rotate_count; /* ... or after this many insertions */
};

enum gossip_verdict {
	GV_NEW = 0,
	GV_DUP = 1,     /* seen before: counts towards relay suppression */
	GV_STALE = -1,  /* timestamp outside the bound */
	GV_REPLAY = -2, /* sequence number older than the window */
	GV_RATE = -3,   /* author over its rate */
};

struct gossip_sender {
	uint32_t id;
	uint32_t max_seq;
	uint32_t first_seq;    /* first seq marked since this entry exists */
	uint64_t window;       /* bit i: max_seq - i was seen */
	uint64_t last_ms;
	uint32_t tokens_milli; /* token bucket, thousandths of a message */
	uint32_t rate_drops;
};

struct gossip_cached {
	uint64_t id;
	uint64_t expire_ms;
};

struct gossip_pending {        /* packet bytes live in gossip.pending_pkt */
	uint64_t id;
	uint64_t due_ms;
	uint64_t uncovered;    /* neighbours (by caller's slot bit) not yet covered */
	uint16_t len;
	uint8_t dups;
	bool used;
	bool cover_known;      /* uncovered is meaningful */
};

struct gossip_stored {          /* one copy in the message cache */
	uint64_t id;             /* 0: free */
	uint64_t timestamp_ms;   /* the message's creation time */
	uint32_t off;            /* where its bytes start in store_bytes */
	uint16_t len;
};

struct gossip {
	struct gossip_params p;
	struct gossip_sender senders[GOSSIP_SENDERS];
	struct gossip_cached cache[GOSSIP_CACHE];
	uint64_t bloom[2][GOSSIP_BLOOM_BITS / 64];
	uint32_t bloom_count;
	uint64_t bloom_rotated_ms;
	struct gossip_pending pending[GOSSIP_PENDING];
	uint8_t pending_pkt[GOSSIP_PENDING][PHEROMONE_MAX_BYTES];
	uint32_t pending_count;
	struct gossip_stored store[GOSSIP_STORE];   /* ring, oldest overwritten */
	uint32_t store_next;
	uint32_t store_head;       /* next free byte of store_bytes */
	uint32_t advertise_next;   /* rotation of the older IDs through HELLOs */
	uint32_t relays_cancelled;
	uint8_t store_bytes[GOSSIP_STORE_BYTES];
};

void gossip_default_params(struct gossip_params *p);
void gossip_init(struct gossip *g, const struct gossip_params *p, uint64_t now_ms);

/*
 * Classify a pheromone: duplicate, stale, replay or new, changing nothing
 * (cheap checks before the author's signature is verified).
 */
int gossip_classify(const struct gossip *g, const struct pheromone *p, uint64_t now_ms);

/*
 * Classify, then (for a new message) take a token of the author's bucket:
 * GV_RATE when empty.  Call it only for a message whose author signature
 * checked out.  GV_NEW marks nothing: call gossip_mark() only once the
 * message passed every further check (e.g. a queen signature), so a
 * forgery can never make the genuine message look like a duplicate.
 */
int gossip_admit(struct gossip *g, const struct pheromone *p, uint64_t now_ms);

/* Remember p as seen (window, exact cache, Bloom filter). */
void gossip_mark(struct gossip *g, const struct pheromone *p, uint64_t now_ms);

/* True when the identifier is known as seen. */
bool gossip_seen(const struct gossip *g, uint64_t id);

/*
 * True when a copy of id would be taken: not seen, and its sequence
 * number not behind the author's replay window (such a copy is refused as
 * a replay, so asking for it only draws repairs that are thrown away).
 */
bool gossip_wanted(const struct gossip *g, uint64_t id);

/* A duplicate of id was heard: lowers the chance of relaying it. */
void gossip_note_duplicate(struct gossip *g, uint64_t id);

/*
 * Neighbour knowledge for a pending relay: set which neighbours (bits
 * chosen by the caller) may still lack id, and clear those a transmission
 * just covered.  A relay whose neighbours are all covered is cancelled.
 */
void gossip_set_uncovered(struct gossip *g, uint64_t id, uint64_t uncovered);
void gossip_note_covered(struct gossip *g, uint64_t id, uint64_t covered);

/* True while a relay of id waits for its backoff. */
bool gossip_relay_pending(const struct gossip *g, uint64_t id);

/*
 * Queue a relay of the accepted packet raw (as received) after a random
 * backoff drawn from rnd, and keep a copy for PULL repair.  Returns 0, or
 * -ENOSPC when no relay slot was free (the copy is still stored).
 */
int gossip_schedule_relay(struct gossip *g, const struct pheromone *p,
			  const uint8_t *raw, size_t len, uint64_t now_ms, uint64_t rnd);

/* Keep a copy of a flooded message in the message cache for PULL repair
 * (anti-entropy): its ID is then advertised until it is too old to repair. */
void gossip_store_copy(struct gossip *g, uint64_t id, const uint8_t *raw, size_t len);

/*
 * Take one relay that is due at now_ms: copies the packet (ttl already
 * lowered) into out and returns its length, or 0 when none is due.
 * Suppressed relays are dropped silently.  rnd decides the coin flips.
 */
size_t gossip_take_due(struct gossip *g, uint64_t now_ms, uint64_t rnd,
		       uint8_t out[PHEROMONE_MAX_BYTES]);

/* The earliest pending relay time, or UINT64_MAX. */
uint64_t gossip_next_deadline(const struct gossip *g);

/*
 * A stored copy of id for PULL repair, or NULL, also once the copy is older
 * than the timestamp bound less GOSSIP_REPAIR_MARGIN_MS (a receiver could
 * find it stale).
 */
const uint8_t *gossip_stored(const struct gossip *g, uint64_t id, uint64_t now_ms, size_t *len);

/*
 * The IDs to advertise in the next HELLO (IHAVE): every copy we can still
 * repair when they fit, else the newest half of max and the rest taken in
 * turn from the older ones, so that over successive HELLOs every cached
 * message is advertised.  Returns how many.
 */
size_t gossip_digest_ids(struct gossip *g, uint64_t *ids, size_t max, uint64_t now_ms);

#endif
