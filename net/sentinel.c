/*
 * Sentinel counters, blacklist and blackbox.  See docs/PROTOCOL.md,
 * "Sentinel and blackbox".
 */
#include <string.h>

#include "net/bytes.h"
#include "net/sentinel.h"

/* Only rejects are charged; these are what one costs its author. */
static const uint8_t weight[SEC_KINDS] = {
	[SEC_MALFORMED] = 10, [SEC_BAD_SIGNATURE] = 10, [SEC_UNAUTHORISED] = 10,
};

/* No scores, no bans, empty blackbox. */
void sentinel_init(struct sentinel *s)
{
	memset(s, 0, sizeof *s);
}

/* Halve the score once per elapsed half-life. */
static void decay(struct sentinel_score *e, uint64_t now)
{
	uint64_t halves = (now - e->updated_ms) / SENTINEL_HALF_LIFE_MS;

	if (halves) {
		e->score = halves >= 32 ? 0 : e->score >> halves;
		e->updated_ms += halves * SENTINEL_HALF_LIFE_MS;
	}
}

/* The slot for key in table t, replacing the lowest unbanned score if needed. */
static struct sentinel_score *slot(struct sentinel_score *t, uint32_t key, uint64_t now)
{
	struct sentinel_score *victim = NULL;

	for (int i = 0; i < SENTINEL_SLOTS; i++) {
		if (t[i].key == key && key)
			return &t[i];
	}
	for (int i = 0; i < SENTINEL_SLOTS; i++) {
		struct sentinel_score *e = &t[i];
		if (e->key)
			decay(e, now);
		if (e->banned_until_ms > now)
			continue;
		if (!victim || e->key == 0 || (victim->key && e->score < victim->score))
			victim = e;
	}
	if (!victim)
		return NULL;
	memset(victim, 0, sizeof *victim);
	victim->key = key;
	victim->updated_ms = now;
	return victim;
}

/* Remember a new ban in the short list the fast path scans. */
static void note_ban(struct sentinel *s, uint32_t key, uint64_t until, uint64_t now)
{
	struct sentinel_ban *slot = NULL;

	if (until > s->ban_latest_ms)
		s->ban_latest_ms = until;
	for (int i = 0; i < SENTINEL_FAST_BANS; i++)
		if (s->bans[i].until_ms <= now || s->bans[i].key == key) {
			slot = &s->bans[i];
			break;
		}
	if (!slot) {
		s->ban_overflow_until_ms = until;   /* too many: scan the table */
		return;
	}
	slot->key = key;
	slot->until_ms = until;
}

/* Add w to the score of key; true when it crosses into a ban. */
static bool charge(struct sentinel_score *t, uint32_t key, uint8_t w, uint64_t now,
		   struct sentinel *s)
{
	struct sentinel_score *e = slot(t, key, now);

	if (!e || !w)
		return false;
	decay(e, now);
	e->score += w;
	if (e->score >= SENTINEL_THRESHOLD && e->banned_until_ms <= now) {
		e->banned_until_ms = now + SENTINEL_BAN_MS;
		if (s)
			note_ban(s, key, e->banned_until_ms, now);
		return true;
	}
	return false;
}

/* Append one event to the bounded ring. */
static void blackbox_add(struct sentinel *s, enum sec_event kind, uint32_t addr, uint32_t id,
			 uint64_t now)
{
	struct blackbox_event *ev = &s->log[s->log_next++ % BLACKBOX_EVENTS];

	ev->time_ms = now;
	ev->addr = addr;
	ev->id = id;
	ev->kind = (uint8_t)kind;
}

/* See sentinel.h. */
bool sentinel_report(struct sentinel *s, enum sec_event kind, uint32_t addr, uint32_t id,
		     bool blame, uint64_t now_ms)
{
	bool banned = false;

	if (kind < SEC_BAD_MAC || kind >= SEC_KINDS)
		return false;
	s->counts[kind]++;
	blackbox_add(s, kind, addr, id, now_ms);
	if (blame && id)
		banned = charge(s->ids, id, weight[kind], now_ms, s);
	if (banned) {
		s->counts[SEC_BLACKLISTED]++;
		blackbox_add(s, SEC_BLACKLISTED, addr, id, now_ms);
	}
	return banned;
}

/* Full-table ban lookup (slow path). */
static bool banned_in(const struct sentinel_score *t, uint32_t key, uint64_t now)
{
	for (int i = 0; i < SENTINEL_SLOTS; i++)
		if (t[i].key == key && key)
			return t[i].banned_until_ms > now;
	return false;
}

/* Fast path through the short ban list; the table only on overflow. */
bool sentinel_id_banned(const struct sentinel *s, uint32_t id, uint64_t now_ms)
{
	if (now_ms >= s->ban_latest_ms || !id)
		return false;
	for (int i = 0; i < SENTINEL_FAST_BANS; i++)
		if (s->bans[i].key == id && s->bans[i].until_ms > now_ms)
			return true;
	return now_ms < s->ban_overflow_until_ms && banned_in(s->ids, id, now_ms);
}

/* See sentinel.h. */
uint32_t sentinel_id_score(const struct sentinel *s, uint32_t id)
{
	for (int i = 0; i < SENTINEL_SLOTS; i++)
		if (s->ids[i].key == id && id)
			return s->ids[i].score;
	return 0;
}

/* Copy the newest events first. */
size_t sentinel_blackbox(const struct sentinel *s, struct blackbox_event *out, size_t max)
{
	size_t n = 0;
	uint32_t have = s->log_next < BLACKBOX_EVENTS ? s->log_next : BLACKBOX_EVENTS;

	for (uint32_t i = 0; i < have && n < max; i++)
		out[n++] = s->log[(s->log_next - 1 - i) % BLACKBOX_EVENTS];
	return n;
}
