/*
 * Sentinel: per-author misbehaviour scores with exponential decay, a
 * blacklist fed by them, and the blackbox, a bounded ring of security
 * events kept for forensics.  Scores and bans fall only on authenticated
 * authors (node ids whose signature and certificate checked out), for
 * faults that only the holder of that node's key could commit; never on a
 * link address, which anyone can claim.
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
	SENTINEL_FAST_BANS = 8,
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
	SEC_BAD_CERT,            /* certificate malformed, not the queen's, expired, wrong id */
	SEC_REVOKED,             /* author's certificate revoked */
	SEC_KINDS,
};

struct sentinel_score {
	uint32_t key;            /* author id; 0 = free */
	uint32_t score;
	uint64_t updated_ms;
	uint64_t banned_until_ms;
};

struct sentinel_ban {
	uint32_t key;
	uint64_t until_ms;
};

struct blackbox_event {
	uint64_t time_ms;
	uint32_t addr;
	uint32_t id;
	uint8_t kind;
};

struct sentinel {
	struct sentinel_score ids[SENTINEL_SLOTS];
	struct blackbox_event log[BLACKBOX_EVENTS];
	uint32_t log_next;       /* total events ever logged */
	uint64_t ban_latest_ms;  /* no ban lasts beyond this: fast path */
	struct sentinel_ban bans[SENTINEL_FAST_BANS];   /* recent author bans */
	uint64_t ban_overflow_until_ms;  /* more bans than the list holds */
	uint32_t counts[SEC_KINDS];
};

void sentinel_init(struct sentinel *s);

/*
 * Log a security event (addr and id for forensics) and, when blame is
 * set, charge the authenticated author id (a *reject* of the blame rules).
 * Returns true when this event newly blacklisted the author.
 */
bool sentinel_report(struct sentinel *s, enum sec_event kind, uint32_t addr, uint32_t id,
		     bool blame, uint64_t now_ms);

bool sentinel_id_banned(const struct sentinel *s, uint32_t id, uint64_t now_ms);
/* The decayed misbehaviour score of an author. */
uint32_t sentinel_id_score(const struct sentinel *s, uint32_t id);

/* Copy up to max most recent blackbox events, newest first. */
size_t sentinel_blackbox(const struct sentinel *s, struct blackbox_event *out, size_t max);

#endif
