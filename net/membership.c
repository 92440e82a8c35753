/*
 * Membership: heartbeats, SWIM-style suspicion with direct and indirect
 * probes, Lifeguard's suspicion timeouts and local health, and deaths.
 * See docs/PROTOCOL.md, "Membership".
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/membership.h"

/* Empty table with no deadline. */
void membership_init(struct membership *ms)
{
	memset(ms, 0, sizeof *ms);
	ms->next_due_ms = UINT64_MAX;
	ms->nodes = 1;
}

/* See membership.h. */
void membership_set_nodes(struct membership *ms, uint32_t nodes)
{
	ms->nodes = nodes ? nodes : 1;
}

/* 10 x log10(n), rounded, without floating point. */
static uint32_t log10_tenths(uint32_t n)
{
	static const uint8_t frac[10] = { 0, 0, 3, 5, 6, 7, 8, 8, 9, 10 };
	uint32_t t = 0;

	while (n >= 10) {
		n /= 10;
		t += 10;
	}
	return t + frac[n];
}

/*
 * Lifeguard's suspicion timeout: from 2 x min with no confirmation down
 * to min with MEMBER_CONFIRM_K (log-shaped), where min is 2 log10 N
 * seconds but at least MEMBER_DEAD_PERIODS heartbeat periods; all of it
 * stretched by the local health multiplier.
 */
uint64_t membership_suspicion_ms(const struct membership *ms, const struct member *m)
{
	static const uint16_t shrink[MEMBER_CONFIRM_K + 1] = { 0, 500, 792, 1000 };  /* log(c+1)/log(K+1) */
	uint64_t lo = 2 * log10_tenths(ms->nodes) * 100ULL, hi, t;   /* 2 log10 N seconds */

	if (lo < (uint64_t)m->period_ms * MEMBER_DEAD_PERIODS)
		lo = (uint64_t)m->period_ms * MEMBER_DEAD_PERIODS;
	hi = 2 * lo;
	t = hi - (hi - lo) * shrink[m->confirms < MEMBER_CONFIRM_K ? m->confirms : MEMBER_CONFIRM_K] / 1000;
	return t * (16 + ms->lhm) / 16;
}

/* One more sign that our view is unreliable (Lifeguard's local health). */
static void lhm_raise(struct membership *ms)
{
	if (ms->lhm < MEMBER_LHM_MAX)
		ms->lhm++;
}

/* See membership.h. */
void membership_self_suspected(struct membership *ms)
{
	lhm_raise(ms);
}

/* ids[] mirrors m[].id of used slots (0 when free): a compact scan. */
static struct member *find(struct membership *ms, uint32_t id)
{
	for (int i = 0; i < MEMBER_MAX; i++)
		if (ms->ids[i] == id && ms->m[i].state != MS_FREE)
			return &ms->m[i];
	return NULL;
}

/* Free a slot and keep the counters and the compact index in step. */
static void slot_clear(struct membership *ms, struct member *m)
{
	if (m->state != MS_FREE)
		ms->used--;
	if (m->state == MS_DEAD)
		ms->dead--;
	ms->ids[m - ms->m] = 0;
	memset(m, 0, sizeof *m);
}

/* Live (not dead) entry for id, or NULL. */
const struct member *membership_find(const struct membership *ms, uint32_t id)
{
	const struct member *m = find((struct membership *)ms, id);

	return m && m->state != MS_DEAD ? m : NULL;
}

/* Silence after which a live entry becomes suspect. */
static uint64_t suspect_after(const struct member *m)
{
	return (uint64_t)m->period_ms * MEMBER_SUSPECT_PERIODS + MEMBER_SLACK_MS;
}

/* Lower the cached next deadline to t. */
static void due(struct membership *ms, uint64_t t)
{
	if (t < ms->next_due_ms)
		ms->next_due_ms = t;
}

/* A slot for a new identity at addr; NULL when addr is bound or all is full. */
static struct member *admit(struct membership *ms, uint32_t addr, int *err)
{
	struct member *free_slot = NULL, *dead = NULL;

	for (int i = 0; i < MEMBER_MAX; i++) {
		struct member *m = &ms->m[i];
		if (m->state == MS_FREE) {
			if (!free_slot)
				free_slot = m;
		} else if (m->addr == addr && m->state != MS_DEAD) {
			ms->refused_sybil++;
			*err = -EEXIST;
			return NULL;
		} else if (m->state == MS_DEAD && (!dead || m->dead_ms < dead->dead_ms)) {
			dead = m;
		}
	}
	if (free_slot)
		return free_slot;
	if (dead)
		return dead;
	*err = -ENOSPC;
	return NULL;
}

/* See membership.h: refresh or admit id at addr. */
int membership_heard(struct membership *ms, uint32_t id, uint32_t addr, uint8_t role,
		     uint32_t period_ms, uint64_t now_ms, bool *refuted)
{
	struct member *m = find(ms, id);
	int err = 0;

	*refuted = false;
	if (!m) {
		m = admit(ms, addr, &err);
		if (!m)
			return err;
		slot_clear(ms, m);
		ms->used++;
		m->id = id;
		ms->ids[m - ms->m] = id;
	} else if (m->addr != addr && m->state != MS_DEAD) {
		/* a binding moves only once declared dead: a copy of its
		 * HELLO relayed from elsewhere must not steal it */
		return -EADDRINUSE;
	} else if (m->state == MS_DEAD) {
		*refuted = true;
		ms->dead--;
	} else if (m->state == MS_SUSPECT) {
		ms->wrong_suspicions++;
		lhm_raise(ms);
	}
	m->confirms = 0;
	if (m->addr != addr)
		m->confirmed = false;
	m->addr = addr;
	ms->addrs[m - ms->m] = addr;
	m->role = role;
	m->period_ms = period_ms ? period_ms : 1000;
	m->state = MS_ALIVE;
	m->last_heard_ms = now_ms;
	due(ms, now_ms + suspect_after(m));
	return 0;
}

/* See membership.h: the challenge an unconfirmed entry must answer. */
uint32_t membership_challenge(struct membership *ms, uint32_t id, uint64_t rnd)
{
	struct member *m = find(ms, id);

	if (!m || m->confirmed || m->state == MS_DEAD)
		return 0;
	if (!m->probe_nonce)
		m->probe_nonce = (uint32_t)rnd | 1;
	return m->probe_nonce;
}

/* See membership.h: an ACK with our nonce from the bound address. */
void membership_confirm(struct membership *ms, uint32_t id, uint32_t addr, uint32_t nonce)
{
	struct member *m = find(ms, id);

	if (m && m->state != MS_DEAD && m->addr == addr && nonce && m->probe_nonce == nonce)
		m->confirmed = true;
}

/* Refresh id from an ACK or PING that proves it alive. */
void membership_touch(struct membership *ms, uint32_t id, uint64_t now_ms)
{
	struct member *m = find(ms, id);

	if (m && m->state != MS_DEAD) {
		if (m->state == MS_SUSPECT) {
			ms->wrong_suspicions++;
			lhm_raise(ms);
		}
		m->state = MS_ALIVE;
		m->confirms = 0;
		m->last_heard_ms = now_ms;
	}
}

/* See membership.h: Lifeguard's successful probe. */
void membership_probe_answered(struct membership *ms, uint32_t id, uint32_t nonce, uint64_t now_ms)
{
	struct member *m = find(ms, id);

	if (!m || m->state == MS_DEAD || !nonce || nonce != m->probe_nonce)
		return;
	if (ms->lhm)
		ms->lhm--;
	m->state = MS_ALIVE;
	m->confirms = 0;
	m->last_heard_ms = now_ms;
}

/* See membership.h. */
void membership_note_seq(struct membership *ms, uint32_t id, uint32_t seq)
{
	struct member *m = find(ms, id);

	if (m && seq > m->last_seq)
		m->last_seq = seq;
}

/* See membership.h. */
void membership_confirm_suspicion(struct membership *ms, uint32_t target, uint32_t by)
{
	struct member *m = find(ms, target);

	if (!m || m->state == MS_DEAD || m->confirms >= MEMBER_CONFIRM_K)
		return;
	for (int i = 0; i < m->confirms; i++)
		if (m->confirmers[i] == by)
			return;
	m->confirmers[m->confirms++] = by;
	ms->next_due_ms = 0;   /* the timeout just shrank */
}

/* See membership.h: an incarnation newer than any we heard ends the suspicion. */
void membership_refuted(struct membership *ms, uint32_t id, uint32_t seq, uint64_t now_ms)
{
	struct member *m = find(ms, id);

	if (m && m->state != MS_DEAD && seq > m->last_seq) {
		m->last_seq = seq;
		membership_touch(ms, id, now_ms);
	}
}

/* Drop id at once (REBIRTH). */
void membership_remove(struct membership *ms, uint32_t id)
{
	struct member *m = find(ms, id);

	if (m)
		slot_clear(ms, m);
}

/* True when m announced target among its neighbours. */
static bool lists(const struct member *m, uint32_t target)
{
	for (int k = 0; k < m->nnbrs; k++)
		if (m->nbrs[k] == target)
			return true;
	return false;
}

/*
 * Pick up to MEMBER_HELPERS live neighbours other than target as helpers,
 * first those that announced target as their neighbour (they can reach it;
 * a random neighbour of ours often cannot).
 */
static size_t pick_helpers(struct membership *ms, const struct member *target,
			   uint64_t rnd, struct member **out)
{
	size_t n = 0;
	uint32_t start = (uint32_t)(rnd % MEMBER_MAX);

	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < MEMBER_MAX && n < MEMBER_HELPERS; i++) {
			struct member *m = &ms->m[(start + i) % MEMBER_MAX];
			if (m != target && m->state == MS_ALIVE &&
			    lists(m, target->id) == (pass == 0))
				out[n++] = m;
		}
	return n;
}

/* Emit one probe round for m: a direct ping and pings through helpers. */
static size_t probe(struct membership *ms, struct member *m, uint64_t now, uint64_t rnd,
		    struct member_action *out, size_t max)
{
	struct member *helpers[MEMBER_HELPERS];
	size_t n = 0, h;

	if (max < 1 + MEMBER_HELPERS)
		return 0;
	m->probe_nonce = (uint32_t)(rnd >> 32) | 1;
	out[n++] = (struct member_action){ MA_PING, m->addr, m->id, m->probe_nonce };
	h = pick_helpers(ms, m, mix64(rnd), helpers);
	for (size_t i = 0; i < h; i++)
		out[n++] = (struct member_action){ MA_PING_REQ, helpers[i]->addr, m->id,
						   m->probe_nonce };
	m->next_probe_ms = now + (m->period_ms / 2 > MEMBER_SLACK_MS ? m->period_ms / 2
								     : MEMBER_SLACK_MS);
	return n;
}

/* Advance one entry; returns the number of actions written. */
static size_t step(struct membership *ms, struct member *m, uint64_t now, uint64_t rnd,
		   struct member_action *out, size_t max)
{
	size_t n = 0;

	if (m->state == MS_ALIVE && now >= m->last_heard_ms + suspect_after(m)) {
		if (max < 2 + MEMBER_HELPERS)
			return 0;
		m->state = MS_SUSPECT;
		m->suspect_ms = now;
		if (m->confirmed)   /* disseminate: the suspect may refute it */
			out[n++] = (struct member_action){ MA_SUSPECT, m->addr, m->id, m->last_seq };
		n += probe(ms, m, now, rnd, out + n, max - n);
	} else if (m->state == MS_SUSPECT) {
		if (now >= m->suspect_ms + membership_suspicion_ms(ms, m)) {
			if (max < 1)
				return 0;
			if (!m->confirmed) {
				slot_clear(ms, m);   /* never a neighbour: nothing to report */
				return 0;
			}
			m->state = MS_DEAD;
			ms->dead++;
			m->dead_ms = now;
			out[n++] = (struct member_action){ MA_DEAD, m->addr, m->id, 0 };
		} else if (now >= m->next_probe_ms) {
			n = probe(ms, m, now, rnd, out, max);
		}
	} else if (m->state == MS_DEAD && now >= m->dead_ms + MEMBER_DEAD_KEEP_MS) {
		slot_clear(ms, m);
	}
	return n;
}

/* The next time entry m needs attention. */
static uint64_t entry_due(const struct membership *ms, const struct member *m)
{
	switch (m->state) {
	case MS_ALIVE:
		return m->last_heard_ms + suspect_after(m);
	case MS_SUSPECT: {
		uint64_t d = m->suspect_ms + membership_suspicion_ms(ms, m);
		return m->next_probe_ms < d ? m->next_probe_ms : d;
	}
	case MS_DEAD:
		return m->dead_ms + MEMBER_DEAD_KEEP_MS;
	default:
		return UINT64_MAX;
	}
}

/* Step every entry due, collecting the actions the caller must take. */
size_t membership_tick(struct membership *ms, uint64_t now_ms, uint64_t rnd,
		       struct member_action *out, size_t max)
{
	size_t n = 0;

	if (now_ms < ms->next_due_ms)
		return 0;
	ms->next_due_ms = UINT64_MAX;
	if (ms->lhm && !ms->lhm_decay_ms) {
		ms->lhm_decay_ms = now_ms;          /* raised since: start its clock */
	} else if (ms->lhm && now_ms >= ms->lhm_decay_ms + MEMBER_LHM_DECAY_MS) {
		ms->lhm--;
		ms->lhm_decay_ms = ms->lhm ? now_ms : 0;
	}
	if (ms->lhm)
		due(ms, ms->lhm_decay_ms + MEMBER_LHM_DECAY_MS);
	for (int i = 0; i < MEMBER_MAX; i++) {
		struct member *m = &ms->m[i];
		if (m->state == MS_FREE)
			continue;
		rnd = mix64(rnd + (uint64_t)i);
		n += step(ms, m, now_ms, rnd, out + n, max - n);
		due(ms, entry_due(ms, m) > now_ms ? entry_due(ms, m) : now_ms + 1);
	}
	return n;
}

/* Lower bound of the next time an entry needs attention. */
uint64_t membership_next_deadline(const struct membership *ms)
{
	return ms->next_due_ms;
}

/* See membership.h. */
bool membership_has_room(const struct membership *ms)
{
	return ms->used < MEMBER_MAX || ms->dead > 0;
}

/* Count entries in state st. */
size_t membership_count(const struct membership *ms, enum member_state st)
{
	size_t n = 0;

	for (int i = 0; i < MEMBER_MAX; i++)
		n += ms->m[i].state == st;
	return n;
}

/* Store id's announced neighbour list (truncated to MEMBER_NBRS). */
void membership_set_neighbours(struct membership *ms, uint32_t id, const uint8_t *ids_be,
			       size_t n, size_t total)
{
	struct member *m = find(ms, id);

	if (!m)
		return;
	if (n > MEMBER_NBRS)
		n = MEMBER_NBRS;
	for (size_t i = 0; i < n; i++)
		m->nbrs[i] = get_u32(ids_be + 4 * i);
	m->nnbrs = (uint8_t)n;
	m->nbrs_complete = n == total;
}

/* Our live neighbours, for our HELLO. */
size_t membership_list(const struct membership *ms, uint32_t *ids, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < MEMBER_MAX && n < max; i++)
		if (ms->m[i].state == MS_ALIVE || ms->m[i].state == MS_SUSPECT)
			ids[n++] = ms->m[i].id;
	return n;
}

/* Bit i set when slot i is alive. */
uint64_t membership_alive_mask(const struct membership *ms)
{
	uint64_t mask = 0;

	for (int i = 0; i < MEMBER_MAX; i++)
		if (ms->m[i].state == MS_ALIVE)
			mask |= 1ULL << i;
	return mask;
}

/*
 * Slots reached by a transmission from addr: its own and, if known
 * completely, its neighbours'.
 */
uint64_t membership_cover(const struct membership *ms, uint32_t addr)
{
	const struct member *w = NULL;
	uint64_t mask = 0;
	int wi = -1;

	for (int i = 0; i < MEMBER_MAX; i++)
		if (ms->addrs[i] == addr && ms->ids[i] && ms->m[i].state == MS_ALIVE) {
			w = &ms->m[i];
			wi = i;
			break;
		}
	if (!w)
		return 0;
	mask = 1ULL << wi;
	if (!w->nbrs_complete)
		return mask;
	for (int k = 0; k < w->nnbrs; k++)
		for (int i = 0; i < MEMBER_MAX; i++)
			if (ms->ids[i] == w->nbrs[k] && ms->m[i].state != MS_FREE)
				mask |= 1ULL << i;
	return mask;
}
