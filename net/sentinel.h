/*
 * Sentinel: per-source misbehaviour counters with exponential decay, a
 * blacklist fed by them, and the blackbox, a bounded ring of security
 * events kept for forensics.  Link addresses are blamed for what cannot be
 * attributed to an authenticated sender (bad MACs, malformed packets);
 * authenticated sender ids for what they provably did (rate, bad queen
 * signatures, sybil identities).
 */
#ifndef EXO_NET_SENTINEL_H
#define EXO_NET_SENTINEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum {
	SENTINEL_SLOTS = 64,
	BLACKBOX_EVENTS = 64,
	SENTINEL_THRESHOLD = 20,      /* score that blacklists */
	SENTINEL_HALF_LIFE_MS = 10000,
	SENTINEL_BAN_MS = 60000,
};

enum sec_event {
	SEC_BAD_MAC = 1,
	SEC_MALFORMED,
	SEC_STALE,
	SEC_REPLAY,
	SEC_RATE,
	SEC_BAD_SIGNATURE,
	SEC_SYBIL,
	SEC_BLACKLISTED,
	SEC_UNAUTHORISED,
};

struct sentinel_score {
	uint32_t key;            /* address or id; 0 = free */
	uint32_t score;
	uint64_t updated_ms;
	uint64_t banned_until_ms;
};

struct blackbox_event {
	uint64_t time_ms;
	uint32_t addr;
	uint32_t id;
	uint8_t kind;
};

struct sentinel {
	struct sentinel_score addrs[SENTINEL_SLOTS];
	struct sentinel_score ids[SENTINEL_SLOTS];
	struct blackbox_event log[BLACKBOX_EVENTS];
	uint32_t log_next;       /* total events ever logged */
	uint64_t ban_latest_ms;  /* no ban lasts beyond this: fast path */
	uint32_t counts[SEC_UNAUTHORISED + 1];
};

void sentinel_init(struct sentinel *s);

/*
 * Record a security event blamed on addr (if blame_addr) and on id (if
 * nonzero).  Returns true when this event newly blacklisted someone.
 */
bool sentinel_report(struct sentinel *s, enum sec_event kind, uint32_t addr, bool blame_addr,
		     uint32_t id, uint64_t now_ms);

bool sentinel_addr_banned(const struct sentinel *s, uint32_t addr, uint64_t now_ms);
bool sentinel_id_banned(const struct sentinel *s, uint32_t id, uint64_t now_ms);

/* Copy up to max most recent blackbox events, newest first. */
size_t sentinel_blackbox(const struct sentinel *s, struct blackbox_event *out, size_t max);

#endif
