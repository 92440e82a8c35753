/*
 * Gossip engine: replay windows, token buckets, duplicate suppression
 * (exact cache + rotating Bloom filter) and counter-based probabilistic
 * relaying.  See docs/PROTOCOL.md, "Gossip".
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/gossip.h"

/* Fill p with the documented defaults (docs/PROTOCOL.md, "Gossip"). */
void gossip_default_params(struct gossip_params *p)
{
	memset(p, 0, sizeof *p);
	p->relay_max_ms = 60;
	p->relay_prob = 65536;       /* always relay if nobody else did */
	p->relay_decay = 65536 / 4;  /* each duplicate divides the chance by 4 */
	p->echo_cap = 2;
	p->rate_per_s = 20;
	p->rate_burst = 60;
	p->ts_bound_ms = 30000;
	p->cache_ms = 60000;
	p->bloom_rotate_ms = 30000;
	p->bloom_rotate_count = 4000;
}

/* Start with empty tables; the Bloom filter rotation clock starts at now_ms. */
void gossip_init(struct gossip *g, const struct gossip_params *p, uint64_t now_ms)
{
	memset(g, 0, sizeof *g);
	g->p = *p;
	g->bloom_rotated_ms = now_ms;
}

/* Find the sender's slot, or NULL when it is not tracked. */
static struct gossip_sender *sender_find(struct gossip *g, uint32_t id)
{
	uint32_t h = (uint32_t)mix64(id) % GOSSIP_SENDERS;

	for (uint32_t i = 0; i < GOSSIP_SENDER_PROBE; i++) {
		struct gossip_sender *s = &g->senders[(h + i) % GOSSIP_SENDERS];
		if (s->id == id)
			return s;
	}
	return NULL;
}

/* Find or create the sender's slot, evicting the least recently heard. */
static struct gossip_sender *sender_get(struct gossip *g, uint32_t id, uint64_t now)
{
	uint32_t h = (uint32_t)mix64(id) % GOSSIP_SENDERS;
	struct gossip_sender *victim = NULL;

	for (uint32_t i = 0; i < GOSSIP_SENDER_PROBE; i++) {
		struct gossip_sender *s = &g->senders[(h + i) % GOSSIP_SENDERS];
		if (s->id == id)
			return s;
		if (s->id == 0) {
			if (!victim || victim->id != 0)
				victim = s;
		} else if (!victim || (victim->id != 0 && s->last_ms < victim->last_ms)) {
			victim = s;
		}
	}
	memset(victim, 0, sizeof *victim);
	victim->id = id;
	victim->last_ms = now;
	victim->tokens_milli = g->p.rate_burst * 1000;
	return victim;
}

/* True when id is in the exact recent-ID cache. */
static bool cache_has(const struct gossip *g, uint64_t id)
{
	uint32_t h = (uint32_t)mix64(id) % GOSSIP_CACHE;

	for (uint32_t i = 0; i < GOSSIP_CACHE_PROBE; i++)
		if (g->cache[(h + i) % GOSSIP_CACHE].id == id)
			return true;
	return false;
}

/* Insert into the exact cache, replacing an empty, expired or oldest slot. */
static void cache_put(struct gossip *g, uint64_t id, uint64_t now)
{
	uint32_t h = (uint32_t)mix64(id) % GOSSIP_CACHE;
	struct gossip_cached *victim = &g->cache[h];

	for (uint32_t i = 0; i < GOSSIP_CACHE_PROBE; i++) {
		struct gossip_cached *c = &g->cache[(h + i) % GOSSIP_CACHE];
		if (c->id == id)
			return;
		if (c->id == 0 || c->expire_ms <= now) {
			victim = c;
			break;
		}
		if (c->expire_ms < victim->expire_ms)
			victim = c;
	}
	victim->id = id;
	victim->expire_ms = now + g->p.cache_ms;
}

/*
 * Blocked Bloom filter: all GOSSIP_BLOOM_HASHES bits of an identifier lie
 * in one 512-bit block, so a lookup touches one cache line.
 */
static void bloom_bits(uint64_t id, uint32_t *block, uint32_t bits[GOSSIP_BLOOM_HASHES])
{
	uint64_t h = mix64(id ^ 0x5bd1e995ULL), h2 = mix64(h);

	*block = (uint32_t)(h % (GOSSIP_BLOOM_BITS / 512));
	for (int k = 0; k < GOSSIP_BLOOM_HASHES; k++)
		bits[k] = (uint32_t)(h2 >> (9 * k)) & 511;
}

/* True when either Bloom generation may hold id (no false negatives). */
static bool bloom_has(const struct gossip *g, uint64_t id)
{
	uint32_t block, bits[GOSSIP_BLOOM_HASHES];

	bloom_bits(id, &block, bits);
	for (int gen = 0; gen < 2; gen++) {
		const uint64_t *b = &g->bloom[gen][block * 8];
		bool all = true;
		for (int k = 0; k < GOSSIP_BLOOM_HASHES && all; k++)
			all = (b[bits[k] / 64] >> (bits[k] % 64)) & 1;
		if (all)
			return true;
	}
	return false;
}

/* Insert into generation 0 after rotating it out when it is full or old. */
static void bloom_put(struct gossip *g, uint64_t id, uint64_t now)
{
	uint32_t block, bits[GOSSIP_BLOOM_HASHES];

	if (g->bloom_count >= g->p.bloom_rotate_count ||
	    now - g->bloom_rotated_ms >= g->p.bloom_rotate_ms) {
		memcpy(g->bloom[1], g->bloom[0], sizeof g->bloom[0]);
		memset(g->bloom[0], 0, sizeof g->bloom[0]);
		g->bloom_count = 0;
		g->bloom_rotated_ms = now;
	}
	bloom_bits(id, &block, bits);
	for (int k = 0; k < GOSSIP_BLOOM_HASHES; k++)
		g->bloom[0][block * 8 + bits[k] / 64] |= 1ULL << (bits[k] % 64);
	g->bloom_count++;
}

/*
 * Exact answers from the sender window where it covers seq and the entry
 * has existed since before seq (first_seq); else the exact cache, else the
 * Bloom filter.
 */
static bool seen_in(const struct gossip *g, const struct gossip_sender *s, uint64_t id)
{
	uint32_t seq = (uint32_t)id;

	if (s && seq >= s->first_seq) {
		if (seq <= s->max_seq && s->max_seq - seq < GOSSIP_WINDOW)
			return (s->window >> (s->max_seq - seq)) & 1;
		if (seq > s->max_seq)
			return cache_has(g, id);
	}
	if (s && seq <= s->max_seq && s->max_seq - seq < GOSSIP_WINDOW &&
	    ((s->window >> (s->max_seq - seq)) & 1))
		return true;
	return cache_has(g, id) || bloom_has(g, id);
}

/* Public form of seen_in(): looks the sender up first. */
bool gossip_seen(const struct gossip *g, uint64_t id)
{
	return seen_in(g, sender_find((struct gossip *)g, (uint32_t)(id >> 32)), id);
}

/* See gossip.h: the replay rule of gossip_classify(), before any copy arrives. */
bool gossip_wanted(const struct gossip *g, uint64_t id)
{
	const struct gossip_sender *s = sender_find((struct gossip *)g, (uint32_t)(id >> 32));
	uint32_t seq = (uint32_t)id;

	if (seen_in(g, s, id))
		return false;
	return !(s && seq <= s->max_seq && s->max_seq - seq >= GOSSIP_WINDOW);
}

/* Refill a token bucket (thousandths of a message) for the time since *last. */
static void refill(uint32_t *tokens_milli, uint64_t *last, uint64_t now, uint32_t rate,
		   uint32_t burst)
{
	uint64_t elapsed = now > *last ? now - *last : 0, t;

	if (elapsed > 1000000)
		elapsed = 1000000;
	t = *tokens_milli + elapsed * rate;
	*tokens_milli = t > (uint64_t)burst * 1000 ? burst * 1000 : (uint32_t)t;
	*last = now;
}

/*
 * Classify a pheromone without changing any state; see gossip.h.
 * Duplicates come first: a copy we already hold is never anyone's fault,
 * however old.
 */
int gossip_classify(const struct gossip *g, const struct pheromone *p, uint64_t now_ms)
{
	const struct gossip_sender *s = sender_find((struct gossip *)g, p->sender);
	uint64_t ts = p->timestamp_ms;

	if (seen_in(g, s, pheromone_id(p)))
		return GV_DUP;
	if ((ts > now_ms && ts - now_ms > g->p.ts_bound_ms) ||
	    (ts < now_ms && now_ms - ts > g->p.ts_bound_ms))
		return GV_STALE;
	if (s && p->seq <= s->max_seq && s->max_seq - p->seq >= GOSSIP_WINDOW)
		return GV_REPLAY;
	return GV_NEW;
}

/*
 * Classify, then take one token of the author's bucket.  Called only once
 * the author's signature checked out, so nobody can drain another's bucket.
 */
int gossip_admit(struct gossip *g, const struct pheromone *p, uint64_t now_ms)
{
	int v = gossip_classify(g, p, now_ms);
	struct gossip_sender *s;

	if (v != GV_NEW)
		return v;
	s = sender_get(g, p->sender, now_ms);
	refill(&s->tokens_milli, &s->last_ms, now_ms, g->p.rate_per_s, g->p.rate_burst);
	if (s->tokens_milli < 1000) {
		s->rate_drops++;
		return GV_RATE;
	}
	s->tokens_milli -= 1000;
	return GV_NEW;
}

/*
 * Record p as seen in the sender window, the exact cache (flooded types)
 * and the Bloom filter.
 */
void gossip_mark(struct gossip *g, const struct pheromone *p, uint64_t now_ms)
{
	struct gossip_sender *s = sender_get(g, p->sender, now_ms);
	uint64_t id = pheromone_id(p);

	if (!s->first_seq)
		s->first_seq = p->seq;
	if (p->seq > s->max_seq) {
		uint32_t shift = p->seq - s->max_seq;
		s->window = shift >= 64 ? 0 : s->window << shift;
		s->window |= 1;
		s->max_seq = p->seq;
	} else if (s->max_seq - p->seq < GOSSIP_WINDOW) {
		s->window |= 1ULL << (s->max_seq - p->seq);
	}
	if (pheromone_type_relayed(p->type))
		cache_put(g, id, now_ms);
	bloom_put(g, id, now_ms);
}

/* Count a duplicate against id's pending relay, lowering its chance. */
void gossip_note_duplicate(struct gossip *g, uint64_t id)
{
	if (!g->pending_count)
		return;
	for (int i = 0; i < GOSSIP_PENDING; i++)
		if (g->pending[i].used && g->pending[i].id == id && g->pending[i].dups < 255)
			g->pending[i].dups++;
}

/* Attach the neighbours still to cover to id's pending relay. */
void gossip_set_uncovered(struct gossip *g, uint64_t id, uint64_t uncovered)
{
	for (int i = 0; i < GOSSIP_PENDING; i++)
		if (g->pending[i].used && g->pending[i].id == id) {
			g->pending[i].uncovered = uncovered;
			g->pending[i].cover_known = true;
		}
}

/* Cheap pre-check so callers compute coverage only when it matters. */
bool gossip_relay_pending(const struct gossip *g, uint64_t id)
{
	if (!g->pending_count)
		return false;
	for (int i = 0; i < GOSSIP_PENDING; i++)
		if (g->pending[i].used && g->pending[i].id == id)
			return true;
	return false;
}

/* Clear the neighbours a transmission of id just reached. */
void gossip_note_covered(struct gossip *g, uint64_t id, uint64_t covered)
{
	if (!g->pending_count)
		return;
	for (int i = 0; i < GOSSIP_PENDING; i++)
		if (g->pending[i].used && g->pending[i].id == id)
			g->pending[i].uncovered &= ~covered;
}

/* Free the cached copies whose bytes overlap [off, off + len). */
static void store_evict(struct gossip *g, uint32_t off, uint32_t len)
{
	for (int i = 0; i < GOSSIP_STORE; i++) {
		struct gossip_stored *st = &g->store[i];
		if (st->id && st->off < off + len && off < st->off + st->len)
			st->id = 0;
	}
}

/* Append raw to the byte ring of the message cache, evicting what it overwrites. */
void gossip_store_copy(struct gossip *g, uint64_t id, const uint8_t *raw, size_t len)
{
	struct gossip_stored *st = &g->store[g->store_next++ % GOSSIP_STORE];

	if (len > PHEROMONE_MAX_BYTES || len < PHEROMONE_HEADER_BYTES || !id)
		return;
	if (g->store_head + len > GOSSIP_STORE_BYTES)
		g->store_head = 0;
	st->id = 0;
	store_evict(g, g->store_head, (uint32_t)len);
	st->id = id;
	st->off = g->store_head;
	st->len = (uint16_t)len;
	st->timestamp_ms = get_u64(raw + 12);
	memcpy(g->store_bytes + st->off, raw, len);
	g->store_head += (uint32_t)len;
}

/*
 * True while a copy created at ts is young enough to repair: a receiver
 * must still find it inside the timestamp bound, with a margin for clock
 * skew and for the trip.
 */
static bool repairable(const struct gossip *g, uint64_t ts, uint64_t now)
{
	uint64_t age = g->p.ts_bound_ms > GOSSIP_REPAIR_MARGIN_MS
		       ? g->p.ts_bound_ms - GOSSIP_REPAIR_MARGIN_MS : g->p.ts_bound_ms / 2;

	return ts + age > now;
}

/* Store a copy and queue the relay with ttl lowered and hops raised. */
int gossip_schedule_relay(struct gossip *g, const struct pheromone *p,
			  const uint8_t *raw, size_t len, uint64_t now_ms, uint64_t rnd)
{
	/* a link-scope message (sent with TTL 1: a store sync) is not
	 * repaired: a repair would flood it swarm-wide with a fresh TTL */
	if (pheromone_type_repaired(p->type) && (p->ttl > 1 || p->hops > 0))
		gossip_store_copy(g, pheromone_id(p), raw, len);
	if (p->ttl <= 1 || !pheromone_type_relayed(p->type))
		return 0;
	for (int i = 0; i < GOSSIP_PENDING; i++) {
		struct gossip_pending *r = &g->pending[i];
		if (r->used)
			continue;
		r->used = true;
		r->id = pheromone_id(p);
		r->dups = 0;
		r->cover_known = false;
		r->uncovered = 0;
		r->due_ms = now_ms + rnd % (g->p.relay_max_ms + 1);
		r->len = (uint16_t)len;
		g->pending_count++;
		memcpy(g->pending_pkt[i], raw, len);
		pheromone_set_route(g->pending_pkt[i], (uint8_t)(p->ttl - 1),
				    p->hops < 255 ? (uint8_t)(p->hops + 1) : 255);
		return 0;
	}
	return -ENOSPC;
}

/* Pop one due relay that survives suppression; see gossip.h. */
size_t gossip_take_due(struct gossip *g, uint64_t now_ms, uint64_t rnd,
		       uint8_t out[PHEROMONE_MAX_BYTES])
{
	if (!g->pending_count)
		return 0;
	for (int i = 0; i < GOSSIP_PENDING; i++) {
		struct gossip_pending *r = &g->pending[i];
		uint64_t prob = g->p.relay_prob;

		if (!r->used || r->due_ms > now_ms)
			continue;
		r->used = false;
		g->pending_count--;
		if (!g->p.flood) {
			if (r->dups >= g->p.echo_cap || (r->cover_known && !r->uncovered)) {
				g->relays_cancelled++;
				continue;
			}
			for (int d = 0; d < r->dups; d++)
				prob = prob * g->p.relay_decay / 65536;
			if ((rnd & 0xffff) >= prob) {
				g->relays_cancelled++;
				rnd = mix64(rnd);
				continue;
			}
		}
		memcpy(out, g->pending_pkt[i], r->len);
		return r->len;
	}
	return 0;
}

/* Earliest pending relay, or UINT64_MAX when none waits. */
uint64_t gossip_next_deadline(const struct gossip *g)
{
	uint64_t t = UINT64_MAX;

	if (!g->pending_count)
		return t;
	for (int i = 0; i < GOSSIP_PENDING; i++)
		if (g->pending[i].used && g->pending[i].due_ms < t)
			t = g->pending[i].due_ms;
	return t;
}

/* Look up a stored copy by ID for a PULL; none once it is too old to repair. */
const uint8_t *gossip_stored(const struct gossip *g, uint64_t id, uint64_t now_ms, size_t *len)
{
	for (int i = 0; i < GOSSIP_STORE; i++) {
		const struct gossip_stored *st = &g->store[i];
		if (st->id == id && id && repairable(g, st->timestamp_ms, now_ms)) {
			*len = st->len;
			return g->store_bytes + st->off;
		}
	}
	return NULL;
}

/* See gossip.h: the newest copies, then the older ones in turn. */
size_t gossip_digest_ids(struct gossip *g, uint64_t *ids, size_t max, uint64_t now_ms)
{
	uint64_t older[GOSSIP_STORE];
	size_t n = 0, nolder = 0, newest = max - max / 2;

	for (uint32_t i = 1; i <= GOSSIP_STORE; i++) {
		const struct gossip_stored *st = &g->store[(g->store_next - i) % GOSSIP_STORE];
		if (!st->id || !repairable(g, st->timestamp_ms, now_ms))
			continue;
		if (n < newest)
			ids[n++] = st->id;
		else
			older[nolder++] = st->id;
	}
	if (n + nolder <= max) {
		memcpy(ids + n, older, nolder * sizeof *older);
		return n + nolder;
	}
	for (size_t k = 0; n < max; k++)
		ids[n++] = older[(g->advertise_next + k) % nolder];
	g->advertise_next += (uint32_t)(max / 2);
	return n;
}
