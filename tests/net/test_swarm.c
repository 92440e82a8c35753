/*
 * Unit tests of the swarm layers: pheromone wire format and MAC, gossip
 * admission and relaying, membership, sentinel, replicated store, the
 * swarm node (roles, queen commands, apoptosis, state) and the maze.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/bytes.h"
#include "net/maze.h"
#include "net/swarm.h"
#include "tests/check.h"

static uint8_t key[32], mac_key[32];
static uint8_t queen_pk[32], queen_sk[64];
static struct swarm_identity author;     /* a certified node the tests speak as */

static uint64_t rng_state = 12345;
/* The test's deterministic generator. */
static uint64_t next_rand(void)
{
	rng_state += 0x9e3779b97f4a7c15ULL;
	return mix64(rng_state);
}

/* Encode a test pheromone under the test MAC key. */
static int make_pkt(uint8_t *buf, uint8_t type, uint32_t sender, uint32_t seq, uint64_t ts,
		    const void *payload, size_t len)
{
	struct pheromone h = { .type = type, .ttl = 8, .sender = sender, .seq = seq,
			       .timestamp_ms = ts };
	return pheromone_encode(buf, PHEROMONE_MAX_BYTES, &h, payload, len, &author, mac_key);
}

/* ------------------------------------------------------------ pheromone */

static void test_pheromone_roundtrip_and_mac(void)
{
	uint8_t buf[PHEROMONE_MAX_BYTES], payload[40];
	struct pheromone p;
	int n;

	memset(payload, 7, sizeof payload);
	n = make_pkt(buf, PH_DATA, 0x11223344, 9, 1000, payload, sizeof payload);
	CHECK_EQ(n, PHEROMONE_HEADER_BYTES + 40 + PHEROMONE_TRAILER_BYTES);
	CHECK_EQ(get_u32(buf + 4), 0x11223344);          /* network byte order */
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), 0);
	CHECK_EQ(p.sender, 0x11223344);
	CHECK_EQ(p.seq, 9);
	CHECK_EQ(p.timestamp_ms, 1000);
	CHECK_EQ(p.payload_len, 40);
	CHECK_EQ(pheromone_verify(&p, mac_key), 0);
	/* relays may change ttl and hops */
	pheromone_set_route(buf, 3, 5);
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), 0);
	CHECK_EQ(pheromone_verify(&p, mac_key), 0);
	/* every other byte is covered */
	for (int i = 0; i < n; i++) {
		uint8_t copy[PHEROMONE_MAX_BYTES];
		if (i == 2 || i == 3)
			continue;
		memcpy(copy, buf, (size_t)n);
		copy[i] ^= 0x40;
		if (pheromone_decode(&p, copy, (size_t)n) == 0)
			CHECK(pheromone_verify(&p, mac_key) != 0);
	}
}

/* Pheromone rejects malformed. */
static void test_pheromone_rejects_malformed(void)
{
	uint8_t buf[PHEROMONE_MAX_BYTES], other[32];
	struct pheromone p;
	int n = make_pkt(buf, PH_DATA, 5, 1, 0, "abc", 3);

	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n - 1), -EPROTO);
	CHECK_EQ(pheromone_decode(&p, buf, 10), -EMSGSIZE);
	buf[0] = PHEROMONE_VERSION + 1;
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), -EPROTO);
	buf[0] = 1;                                    /* version 1 stamps differ */
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), -EPROTO);
	buf[0] = PHEROMONE_VERSION;
	buf[2] = 0;
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), -EPROTO);
	buf[2] = 1;
	buf[23] = 1;
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), -EPROTO);
	buf[23] = 0;
	memset(other, 9, sizeof other);
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), 0);
	CHECK(pheromone_verify(&p, other) != 0);
	memset(other, 0, sizeof other);
	CHECK_EQ(pheromone_mac_key(other, other), -EINVAL);   /* zero swarm key */
}

/* Queen signature. */
static void test_queen_signature(void)
{
	uint8_t seed[32] = { 1 }, pk[32], sk[64], pk2[32], sk2[64], buf[PHEROMONE_MAX_BYTES];
	uint8_t payload[10 + 64] = "0123456789";
	struct pheromone h = { .type = PH_QUEEN_CMD, .ttl = 4, .sender = 77, .seq = 3,
			       .timestamp_ms = 50, .flags = PHF_SIGNED }, p;
	int n;

	cx_sign_keypair(pk, sk, seed);
	seed[0] = 2;
	cx_sign_keypair(pk2, sk2, seed);
	CHECK_EQ(pheromone_queen_sign(payload + 10, &h, payload, 10, sk), 0);
	n = pheromone_encode(buf, sizeof buf, &h, payload, sizeof payload, &author, mac_key);
	CHECK(n > 0);
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), 0);
	CHECK_EQ(pheromone_queen_verify(&p, pk), 0);
	CHECK(pheromone_queen_verify(&p, pk2) != 0);
	/* the signature binds the header: another seq fails */
	h.seq = 4;
	n = pheromone_encode(buf, sizeof buf, &h, payload, sizeof payload, &author, mac_key);
	CHECK_EQ(pheromone_decode(&p, buf, (size_t)n), 0);
	CHECK(pheromone_queen_verify(&p, pk) != 0);
}

/* --------------------------------------------------------------- gossip */

static struct gossip g;

/* Gossip dedup window stale. */
static void test_gossip_dedup_window_stale(void)
{
	struct gossip_params gp;
	uint8_t buf[PHEROMONE_MAX_BYTES];
	struct pheromone p;

	gossip_default_params(&gp);
	gossip_init(&g, &gp, 100000);
	make_pkt(buf, PH_DATA, 42, 100, 100000, "x", 1);
	pheromone_decode(&p, buf, PHEROMONE_HEADER_BYTES + 1 + PHEROMONE_TRAILER_BYTES);
	CHECK_EQ(gossip_admit(&g, &p, 100000), GV_NEW);
	gossip_mark(&g, &p, 100000);
	CHECK_EQ(gossip_admit(&g, &p, 100001), GV_DUP);
	CHECK(gossip_seen(&g, pheromone_id(&p)));
	/* a much older sequence number is a replay, so not worth a PULL */
	p.seq = 100 - GOSSIP_WINDOW;
	CHECK_EQ(gossip_admit(&g, &p, 100002), GV_REPLAY);
	CHECK(!gossip_wanted(&g, pheromone_id(&p)));
	p.seq = 99;            /* inside the window, not seen: new, and wanted */
	CHECK_EQ(gossip_admit(&g, &p, 100002), GV_NEW);
	CHECK(gossip_wanted(&g, pheromone_id(&p)));
	p.seq = 100;           /* seen: not wanted */
	CHECK(!gossip_wanted(&g, pheromone_id(&p)));
	p.seq = 101;
	p.timestamp_ms = 100000 - gp.ts_bound_ms - 1;
	CHECK_EQ(gossip_admit(&g, &p, 100000), GV_STALE);
	/* a stale copy of a message already held is a duplicate: ignored, no one's fault */
	p.seq = 100;
	CHECK_EQ(gossip_admit(&g, &p, 100000 + gp.ts_bound_ms + 5000), GV_DUP);
	p.seq = 101;
	p.timestamp_ms = 100000 + gp.ts_bound_ms + 1;
	CHECK_EQ(gossip_admit(&g, &p, 100000), GV_STALE);
}

/* Gossip rate limit. */
static void test_gossip_rate_limit(void)
{
	struct gossip_params gp;
	struct pheromone p = { .type = PH_DATA, .ttl = 4, .sender = 9 };
	int news = 0;

	gossip_default_params(&gp);
	gossip_init(&g, &gp, 0);
	for (uint32_t i = 1; i <= 200; i++) {
		p.seq = i;
		p.timestamp_ms = 10;
		if (gossip_admit(&g, &p, 10) == GV_NEW) {
			news++;
			gossip_mark(&g, &p, 10);
		}
	}
	CHECK_EQ(news, gp.rate_burst);
	p.seq = 500;
	p.timestamp_ms = 1010;
	CHECK_EQ(gossip_admit(&g, &p, 1010), GV_NEW);      /* a second refills */
}

/* Gossip relay suppression. */
static void test_gossip_relay_suppression(void)
{
	struct gossip_params gp;
	uint8_t buf[PHEROMONE_MAX_BYTES], out[PHEROMONE_MAX_BYTES];
	struct pheromone p;
	int n;

	gossip_default_params(&gp);
	gossip_init(&g, &gp, 0);
	n = make_pkt(buf, PH_DATA, 7, 1, 0, "hi", 2);
	pheromone_decode(&p, buf, (size_t)n);
	CHECK_EQ(gossip_schedule_relay(&g, &p, buf, (size_t)n, 0, 5), 0);
	CHECK(gossip_next_deadline(&g) <= gp.relay_max_ms);
	CHECK_EQ(gossip_take_due(&g, 100, 0, out), (size_t)n);
	CHECK_EQ(out[2], 7);                                /* ttl lowered */
	CHECK_EQ(out[3], 1);                                /* hops raised */
	/* one duplicate heard during the backoff cuts the chance to 1/4 */
	gossip_schedule_relay(&g, &p, buf, (size_t)n, 200, 5);
	gossip_note_duplicate(&g, pheromone_id(&p));
	CHECK_EQ(gossip_take_due(&g, 300, 0x4000, out), 0);     /* draw above 1/4 */
	gossip_schedule_relay(&g, &p, buf, (size_t)n, 400, 5);
	gossip_note_duplicate(&g, pheromone_id(&p));
	CHECK_EQ(gossip_take_due(&g, 500, 0x3fff, out), (size_t)n); /* draw below */
	/* two duplicates reach the echo cap: cancelled whatever the draw */
	gossip_schedule_relay(&g, &p, buf, (size_t)n, 600, 5);
	gossip_note_duplicate(&g, pheromone_id(&p));
	gossip_note_duplicate(&g, pheromone_id(&p));
	CHECK_EQ(gossip_take_due(&g, 700, 0, out), 0);
	CHECK_EQ(gossip_next_deadline(&g), UINT64_MAX);
	/* neighbour knowledge: all neighbours covered cancels the relay */
	gossip_schedule_relay(&g, &p, buf, (size_t)n, 800, 5);
	gossip_set_uncovered(&g, pheromone_id(&p), 0x6);
	gossip_note_covered(&g, pheromone_id(&p), 0x2);
	CHECK(gossip_relay_pending(&g, pheromone_id(&p)));
	gossip_note_covered(&g, pheromone_id(&p), 0x4);
	CHECK_EQ(gossip_take_due(&g, 900, 0, out), 0);
	/* the flooding baseline relays regardless */
	gp.flood = true;
	gossip_init(&g, &gp, 0);
	gossip_schedule_relay(&g, &p, buf, (size_t)n, 0, 5);
	gossip_note_duplicate(&g, pheromone_id(&p));
	CHECK_EQ(gossip_take_due(&g, 100, 0, out), (size_t)n);
	/* a copy is kept for PULL repair and advertised */
	{
		size_t len;
		uint64_t ids[4];
		uint64_t too_old = gp.ts_bound_ms - GOSSIP_REPAIR_MARGIN_MS;
		CHECK(gossip_stored(&g, pheromone_id(&p), 100, &len) != NULL);
		CHECK_EQ(gossip_digest_ids(&g, ids, 4, 100), 1);
		CHECK_EQ(ids[0], pheromone_id(&p));
		/* too old to repair: a receiver could find it stale */
		CHECK(gossip_stored(&g, pheromone_id(&p), too_old - 1, &len) != NULL);
		CHECK(gossip_stored(&g, pheromone_id(&p), too_old, &len) == NULL);
		CHECK_EQ(gossip_digest_ids(&g, ids, 4, too_old), 0);
	}
}

/*
 * The message cache keeps every copy that fits its byte ring (not just the
 * newest 16), returns each intact, and successive digests advertise all of
 * them (not just the newest 8), newest first.
 */
static void test_gossip_message_cache(void)
{
	static uint8_t buf[PHEROMONE_MAX_BYTES], payload[700];
	struct gossip_params gp;
	uint64_t ids[GOSSIP_DIGEST_IDS];
	bool advertised[41] = { false };
	size_t len;
	int n = 0;

	gossip_default_params(&gp);
	gossip_init(&g, &gp, 0);
	for (uint32_t seq = 1; seq <= 40; seq++) {
		n = make_pkt(buf, PH_DATA, 7, seq, 1000, payload, 100);
		gossip_store_copy(&g, (7ULL << 32) | seq, buf, (size_t)n);
	}
	for (uint32_t seq = 1; seq <= 40; seq++) {
		const uint8_t *c = gossip_stored(&g, (7ULL << 32) | seq, 2000, &len);
		CHECK(c != NULL && len == (size_t)n && get_u32(c + 8) == seq);
	}
	CHECK_EQ(gossip_digest_ids(&g, ids, GOSSIP_DIGEST_IDS, 2000), GOSSIP_DIGEST_IDS);
	CHECK_EQ(ids[0], (7ULL << 32) | 40);               /* newest first */
	for (int round = 0; round < 8; round++) {
		size_t k = gossip_digest_ids(&g, ids, GOSSIP_DIGEST_IDS, 2000);
		for (size_t i = 0; i < k; i++)
			advertised[(uint32_t)ids[i]] = true;
	}
	for (int seq = 1; seq <= 40; seq++)
		CHECK(advertised[seq]);
	/* large copies wrap the byte ring: the oldest are evicted whole */
	for (uint32_t seq = 41; seq <= 140; seq++) {
		n = make_pkt(buf, PH_DATA, 7, seq, 1000, payload, sizeof payload);
		gossip_store_copy(&g, (7ULL << 32) | seq, buf, (size_t)n);
	}
	CHECK(gossip_stored(&g, (7ULL << 32) | 41, 2000, &len) == NULL);
	for (uint32_t seq = 140 - GOSSIP_STORE_BYTES / PHEROMONE_MAX_BYTES + 1; seq <= 140; seq++) {
		const uint8_t *c = gossip_stored(&g, (7ULL << 32) | seq, 2000, &len);
		CHECK(c != NULL && len == (size_t)n && get_u32(c + 8) == seq);
		CHECK(c && !pheromone_decode(&(struct pheromone){ 0 }, c, len));
	}
}

/* Gossip bounded under flood. */
static void test_gossip_bounded_under_flood(void)
{
	struct gossip_params gp;
	struct pheromone p = { .type = PH_DATA, .ttl = 4 };
	size_t before = sizeof g;

	gossip_default_params(&gp);
	gossip_init(&g, &gp, 0);
	for (uint32_t i = 1; i <= 200000; i++) {       /* 200k identities */
		p.sender = i;
		p.seq = 1;
		p.timestamp_ms = i / 10;
		if (gossip_admit(&g, &p, i / 10) == GV_NEW)   /* from as many neighbours */
			gossip_mark(&g, &p, i / 10);
	}
	CHECK_EQ(sizeof g, before);
	/* the most recent ones are still recognised as duplicates */
	p.sender = 200000;
	p.timestamp_ms = 20000;
	CHECK_EQ(gossip_admit(&g, &p, 20000), GV_DUP);
	p.sender = 199990;
	CHECK_EQ(gossip_admit(&g, &p, 20000), GV_DUP);
}

/* Classification changes nothing: only admission takes the author's tokens. */
static void test_gossip_classify_takes_no_tokens(void)
{
	struct gossip_params gp;
	struct pheromone p = { .type = PH_DATA, .ttl = 4, .sender = 9, .timestamp_ms = 10 };

	gossip_default_params(&gp);
	gossip_init(&g, &gp, 0);
	for (uint32_t i = 1; i <= 1000; i++) {   /* e.g. forgeries under id 9 */
		p.seq = i;
		CHECK_EQ(gossip_classify(&g, &p, 10), GV_NEW);
	}
	for (uint32_t i = 1; i <= gp.rate_burst; i++) {
		p.seq = 2000 + i;
		CHECK_EQ(gossip_admit(&g, &p, 10), GV_NEW);
	}
	p.seq = 3000;
	CHECK_EQ(gossip_admit(&g, &p, 10), GV_RATE);
}

/* ----------------------------------------------------------- membership */

static struct membership ms;

/* Membership suspect probe dead. */
static void test_membership_suspect_probe_dead(void)
{
	struct member_action act[16];
	bool refuted;
	size_t n;

	membership_init(&ms);
	CHECK_EQ(membership_heard(&ms, 10, 1, ROLE_WORKER, 1000, 0, &refuted), 0);
	CHECK_EQ(membership_heard(&ms, 11, 2, ROLE_WORKER, 1000, 0, &refuted), 0);
	CHECK_EQ(membership_heard(&ms, 12, 3, ROLE_WORKER, 1000, 0, &refuted), 0);
	membership_confirm(&ms, 10, 1, membership_challenge(&ms, 10, 77));
	CHECK(membership_find(&ms, 10)->confirmed);
	CHECK_EQ(membership_tick(&ms, 1000, 1, act, 16), 0);
	membership_heard(&ms, 11, 2, ROLE_WORKER, 1000, 2000, &refuted);
	membership_heard(&ms, 12, 3, ROLE_WORKER, 1000, 2000, &refuted);
	n = membership_tick(&ms, 2300, 1, act, 16);       /* 10 silent for 2.3 s */
	CHECK(n >= 2 + 2);
	CHECK_EQ(act[0].kind, MA_SUSPECT);                 /* disseminated */
	CHECK_EQ(act[0].target, 10);
	CHECK_EQ(act[1].kind, MA_PING);
	CHECK_EQ(act[1].target, 10);
	CHECK_EQ(act[2].kind, MA_PING_REQ);
	CHECK_EQ(membership_find(&ms, 10)->state, MS_SUSPECT);
	membership_touch(&ms, 10, 2400);                   /* an ACK came back */
	CHECK_EQ(membership_find(&ms, 10)->state, MS_ALIVE);
	CHECK_EQ(ms.lhm, 1);                               /* a wrong suspicion */
	/* now silence for good; two others confirm: dead within 2.25 s of
	 * silence, then the suspicion timeout (3 periods at two confirmations
	 * of a small swarm: 2 x 3 - 3 x 0.79, x 17/16 for the local health) */
	bool dead = false;
	for (uint64_t t = 2400; t < 12000; t += 50) {
		membership_heard(&ms, 11, 2, ROLE_WORKER, 1000, t, &refuted);
		membership_heard(&ms, 12, 3, ROLE_WORKER, 1000, t, &refuted);
		membership_confirm_suspicion(&ms, 10, 11);
		membership_confirm_suspicion(&ms, 10, 11);   /* counted once */
		membership_confirm_suspicion(&ms, 10, 12);
		n = membership_tick(&ms, t, t, act, 16);
		for (size_t i = 0; i < n; i++)
			if (act[i].kind == MA_DEAD && act[i].target == 10) {
				dead = true;
				CHECK(t >= 2400 + 2250 + 3850 - 50);
				CHECK(t <= 2400 + 2250 + 3850 + 100);
			}
	}
	CHECK(dead);
	CHECK(membership_find(&ms, 10) == NULL);
	CHECK_EQ(membership_heard(&ms, 10, 1, ROLE_WORKER, 1000, 9000, &refuted), 0);
	CHECK(refuted);
}

/*
 * Lifeguard: the suspicion timeout scales with log10 N, shrinks with
 * confirmations, stretches with the local health multiplier; only a newer
 * incarnation of the suspect refutes; probe helpers are neighbours that
 * announced the suspect.
 */
static void test_membership_lifeguard(void)
{
	struct member_action act[16];
	uint8_t nb[4];
	bool refuted;
	size_t n;

	membership_init(&ms);
	for (uint32_t id = 10; id < 20; id++)
		CHECK_EQ(membership_heard(&ms, id, id, ROLE_WORKER, 1000, 0, &refuted), 0);
	membership_confirm(&ms, 10, 10, membership_challenge(&ms, 10, 77));
	membership_note_seq(&ms, 10, 500);
	put_u32(nb, 10);
	membership_set_neighbours(&ms, 17, nb, 1, 1);     /* only 17 can reach 10 */
	CHECK_EQ(membership_suspicion_ms(&ms, membership_find(&ms, 10)), 6000);  /* N = 1 */
	membership_set_nodes(&ms, 1000);
	CHECK_EQ(membership_suspicion_ms(&ms, membership_find(&ms, 10)), 12000);
	membership_set_nodes(&ms, 10000);
	CHECK_EQ(membership_suspicion_ms(&ms, membership_find(&ms, 10)), 16000);
	membership_set_nodes(&ms, 1000);
	for (uint32_t id = 11; id < 20; id++)
		membership_heard(&ms, id, id, ROLE_WORKER, 1000, 2300, &refuted);
	n = membership_tick(&ms, 2300, 5, act, 16);
	CHECK_EQ(n, 5);
	CHECK_EQ(act[2].kind, MA_PING_REQ);
	CHECK_EQ(act[2].addr, 17);                         /* the helper that can reach it */
	for (uint32_t by = 11; by < 15; by++)
		membership_confirm_suspicion(&ms, 10, by);
	CHECK_EQ(membership_suspicion_ms(&ms, membership_find(&ms, 10)), 6000);
	membership_refuted(&ms, 10, 500, 2400);            /* not newer: no refutation */
	CHECK_EQ(membership_find(&ms, 10)->state, MS_SUSPECT);
	membership_refuted(&ms, 10, 501, 2400);
	CHECK_EQ(membership_find(&ms, 10)->state, MS_ALIVE);
	CHECK_EQ(ms.lhm, 1);
	for (int i = 0; i < 20; i++)
		membership_self_suspected(&ms);
	CHECK_EQ(ms.lhm, MEMBER_LHM_MAX);
	CHECK_EQ(membership_suspicion_ms(&ms, membership_find(&ms, 10)), 18000);
	/* the multiplier decays by one every 10 s */
	for (uint64_t t = 2400; t <= 2400 + 10000 * MEMBER_LHM_MAX + 1000; t += 500) {
		for (uint32_t id = 10; id < 20; id++)
			membership_heard(&ms, id, id, ROLE_WORKER, 1000, t, &refuted);
		membership_tick(&ms, t, t, act, 16);
	}
	CHECK_EQ(ms.lhm, 0);
}

/*
 * A neighbour's SUSPECT that arrives before our own silence timer fires
 * still counts once we suspect too, unless the suspect spoke in between;
 * an answered probe lowers the local health multiplier instead of raising it.
 */
static void test_membership_early_confirmation(void)
{
	struct member_action act[16];
	bool refuted;

	membership_init(&ms);
	membership_set_nodes(&ms, 1000);
	for (uint32_t id = 10; id < 15; id++)
		CHECK_EQ(membership_heard(&ms, id, id, ROLE_WORKER, 1000, 0, &refuted), 0);
	membership_confirm(&ms, 10, 10, membership_challenge(&ms, 10, 77));
	membership_confirm_suspicion(&ms, 10, 11);         /* 11 suspects first */
	membership_heard(&ms, 10, 10, ROLE_WORKER, 1000, 500, &refuted);   /* 10 spoke since */
	for (uint32_t by = 12; by < 15; by++)
		membership_confirm_suspicion(&ms, 10, by);
	for (uint32_t id = 11; id < 15; id++)
		membership_heard(&ms, id, id, ROLE_WORKER, 1000, 2800, &refuted);
	CHECK(membership_tick(&ms, 2800, 3, act, 16) > 0);
	CHECK_EQ(membership_find(&ms, 10)->state, MS_SUSPECT);
	CHECK_EQ(membership_find(&ms, 10)->confirms, 3);   /* 12, 13, 14; not 11 */
	CHECK_EQ(membership_suspicion_ms(&ms, membership_find(&ms, 10)), 6000);
	ms.lhm = 4;
	membership_probe_answered(&ms, 10, membership_find(&ms, 10)->probe_nonce ^ 2, 2900);
	CHECK_EQ(membership_find(&ms, 10)->state, MS_SUSPECT);   /* not our nonce */
	membership_probe_answered(&ms, 10, membership_find(&ms, 10)->probe_nonce, 2900);
	membership_touch(&ms, 10, 2900);
	CHECK_EQ(membership_find(&ms, 10)->state, MS_ALIVE);
	CHECK_EQ(ms.lhm, 3);                               /* a successful probe */
	CHECK_EQ(membership_find(&ms, 10)->confirms, 0);
}

/* Membership binding and bounds. */
static void test_membership_binding_and_bounds(void)
{
	bool refuted;

	membership_init(&ms);
	CHECK_EQ(membership_heard(&ms, 1, 100, 0, 1000, 0, &refuted), 0);
	CHECK_EQ(membership_heard(&ms, 2, 100, 0, 1000, 0, &refuted), -EEXIST);  /* sybil */
	membership_remove(&ms, 1);                                             /* REBIRTH */
	CHECK_EQ(membership_heard(&ms, 2, 100, 0, 1000, 0, &refuted), 0);
	for (uint32_t i = 0; i < MEMBER_MAX - 1; i++)
		CHECK_EQ(membership_heard(&ms, 1000 + i, 200 + i, 0, 1000, 0, &refuted), 0);
	CHECK_EQ(membership_heard(&ms, 99999, 9999, 0, 1000, 0, &refuted), -ENOSPC);
	CHECK(!membership_has_room(&ms));
	CHECK(membership_find(&ms, 2) != NULL);
}

/*
 * A copy of a HELLO relayed under another address neither moves a live
 * binding nor, once the phantom entry falls silent, reports a death.
 */
static void test_membership_relocated_hello(void)
{
	struct member_action act[16];
	bool refuted, dead = false;

	membership_init(&ms);
	CHECK_EQ(membership_heard(&ms, 1, 100, 0, 1000, 0, &refuted), 0);
	CHECK_EQ(membership_heard(&ms, 1, 101, 0, 1000, 10, &refuted), -EADDRINUSE);
	CHECK_EQ(membership_find(&ms, 1)->addr, 100);
	/* a wrong nonce or a wrong address confirms nothing */
	membership_confirm(&ms, 1, 100, membership_challenge(&ms, 1, 5) + 2);
	membership_confirm(&ms, 1, 101, membership_challenge(&ms, 1, 5));
	CHECK(!membership_find(&ms, 1)->confirmed);
	for (uint64_t t = 0; t < 10000; t += 50)
		for (size_t i = 0, n = membership_tick(&ms, t, t, act, 16); i < n; i++)
			dead |= act[i].kind == MA_DEAD;
	CHECK(!dead);
	CHECK(membership_find(&ms, 1) == NULL);
}

/* ------------------------------------------------------------- sentinel */

static void test_sentinel_blacklist_decay_blackbox(void)
{
	static struct sentinel s;
	struct blackbox_event ev[8];
	bool banned = false;
	int reports = 0;

	sentinel_init(&s);
	/* ignored events never score, whatever their number */
	for (int i = 0; i < 100; i++)
		CHECK(!sentinel_report(&s, SEC_BAD_MAC, 3, 7, false, 1000));
	CHECK(!sentinel_id_banned(&s, 7, 1000));
	while (!banned && reports < 100) {
		banned = sentinel_report(&s, SEC_BAD_SIGNATURE, 3, 7, true, 1000);
		reports++;
	}
	CHECK(banned);
	CHECK_EQ(reports, 2);
	CHECK(sentinel_id_banned(&s, 7, 1000));
	CHECK(!sentinel_id_banned(&s, 8, 1000));
	CHECK(!sentinel_id_banned(&s, 3, 1000));        /* the link address is not blamed */
	CHECK(!sentinel_id_banned(&s, 7, 1000 + SENTINEL_BAN_MS));
	/* scores decay: a slow trickle never bans */
	for (int i = 0; i < 60; i++)
		CHECK(!sentinel_report(&s, SEC_MALFORMED, 9, 11, true,
				       100000 + (uint64_t)i * SENTINEL_HALF_LIFE_MS));
	/* the blackbox keeps the newest events, bounded */
	CHECK_EQ(sentinel_blackbox(&s, ev, 8), 8);
	CHECK_EQ(ev[0].kind, SEC_MALFORMED);
	CHECK_EQ(ev[0].addr, 9);
	CHECK(s.log_next > BLACKBOX_EVENTS);
	CHECK_EQ(sentinel_blackbox(&s, (struct blackbox_event[BLACKBOX_EVENTS + 4]){ 0 },
				   BLACKBOX_EVENTS + 4), BLACKBOX_EVENTS);
}

/* -------------------------------------------------------------- kvstore */

static void test_kv_lww_converges_in_any_order(void)
{
	static struct kvstore a, b, src[6];
	uint8_t buf[PHEROMONE_MAX_PAYLOAD], flags;
	uint64_t digest;
	int order[6] = { 0, 1, 2, 3, 4, 5 };

	for (int i = 0; i < 6; i++) {
		kv_init(&src[i]);
		src[i].clock = (uint64_t)(i % 3);
		kv_set(&src[i], (uint16_t)(i % 2), &i, sizeof i, 100 + (uint32_t)i, 0);
	}
	kv_init(&a);
	for (int i = 0; i < 6; i++) {
		int k = kv_encode(&src[i], -1, 0, buf, sizeof buf);
		CHECK_EQ(kv_decode_merge(&a, buf, (size_t)k, &flags, &digest, 1000, NULL, NULL,
					 NULL) >= 0, 1);
		CHECK_EQ(flags, KV_FLAG_SYNC);
		CHECK_EQ(digest, kv_digest(&src[i]));
	}
	for (int round = 0; round < 20; round++) {
		for (int i = 5; i > 0; i--) {
			int j = (int)(next_rand() % (uint64_t)(i + 1)), t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		kv_init(&b);
		for (int i = 0; i < 6; i++) {
			int k = kv_encode(&src[order[i]], -1, 0, buf, sizeof buf);
			kv_decode_merge(&b, buf, (size_t)k, &flags, &digest, 1000, NULL, NULL, NULL);
		}
		CHECK_EQ(kv_digest(&a), kv_digest(&b));
		CHECK(!memcmp(a.e, b.e, sizeof a.e));
	}
	/* malformed payloads merge nothing */
	int k = kv_encode(&src[0], -1, 0, buf, sizeof buf);
	kv_init(&b);
	CHECK_EQ(kv_decode_merge(&b, buf, (size_t)k - 1, &flags, &digest, 1000, NULL, NULL, NULL),
		 -EPROTO);
	buf[9] = 200;
	CHECK_EQ(kv_decode_merge(&b, buf, (size_t)k, &flags, &digest, 1000, NULL, NULL, NULL),
		 -EPROTO);
	CHECK_EQ(kv_digest(&b), kv_digest(&(struct kvstore){ .digest = b.digest }));
	CHECK_EQ(kv_set(&b, KV_KEYS, "x", 1, 1, 0), -EINVAL);
	CHECK_EQ(kv_set(&b, 0, buf, KV_VALUE_MAX + 1, 1, 0), -EINVAL);
}

/* One entry with the largest stamp must not freeze a key or the store. */
static void test_kv_poison_cannot_freeze(void)
{
	static struct kvstore kv;
	struct kv_entry bad = { .stamp = UINT64_MAX, .writer = 666, .len = 1, .value = "P" };
	uint8_t buf[PHEROMONE_MAX_PAYLOAD], flags;
	uint64_t digest;
	uint16_t from = 0;
	int k;

	kv_init(&kv);
	CHECK_EQ(kv_merge(&kv, 3, &bad, 1000), 0);            /* refused outright */
	CHECK_EQ(kv.clock, 0);
	CHECK_EQ(kv_set(&kv, 3, "ok", 2, 1, 2000), 0);
	CHECK(!memcmp(kv.e[3].value, "ok", 2));
	/* inside the bound a future stamp is taken, and the next write beats it */
	bad.stamp = 2000 + KV_FUTURE_MS;
	CHECK_EQ(kv_merge(&kv, 3, &bad, 2000), 1);
	CHECK_EQ(kv_set(&kv, 3, "ok", 2, 1, 2001), 0);
	CHECK(kv.e[3].stamp > bad.stamp);
	CHECK_EQ(kv_merge(&kv, 3, &bad, 2001), 0);
	CHECK(!memcmp(kv.e[3].value, "ok", 2));
	/* a full store of long values goes out in parts that all merge */
	for (uint16_t key = 0; key < KV_KEYS; key++)
		CHECK_EQ(kv_set(&kv, key, buf, KV_VALUE_MAX, key + 1u, 3000), 0);
	CHECK_EQ(kv_encode(&kv, -1, 0, buf, sizeof buf), -EMSGSIZE);
	static struct kvstore copy;
	kv_init(&copy);
	while (from < KV_KEYS) {   /* 32 writers: each part also carries their certificates */
		k = kv_encode_sync(&kv, &from, 0, buf, sizeof buf);
		CHECK(k > 0);
		CHECK(kv_decode_merge(&copy, buf, (size_t)k, &flags, &digest, 3000, NULL, NULL,
				      NULL) > 0);
		CHECK_EQ(digest, kv_digest(&kv));
	}
	CHECK_EQ(kv_digest(&copy), kv_digest(&kv));
}

/*
 * A deletion is a tombstone that wins like a write; an expired tombstone
 * leaves a floor that refuses the old entry again, and a sync carries the
 * floor to a store that still holds it.
 */
static void test_kv_tombstones_and_floors(void)
{
	static struct kvstore a, b;
	uint8_t buf[PHEROMONE_MAX_PAYLOAD], flags;
	uint64_t digest;
	uint16_t from = 0;
	struct kv_entry old;
	int k;

	kv_init(&a);
	kv_init(&b);
	a.tombstone_ms = 20000;
	CHECK_EQ(kv_set(&a, 5, "dead", 4, 7, 1000), 0);
	old = a.e[5];
	CHECK_EQ(kv_merge(&b, 5, &old, 1000), 1);
	CHECK_EQ(kv_set(&a, 5, NULL, 0, 9, 2000), 0);   /* node 9 deletes it */
	CHECK(a.e[5].tombstone && a.e[5].stamp > old.stamp);
	CHECK_EQ(kv_merge(&a, 5, &old, 2000), 0);       /* the tombstone beats it */
	CHECK_EQ(kv_expire(&a, 21999), 0);
	CHECK_EQ(kv_expire(&a, 22000), 1);
	CHECK_EQ(a.e[5].stamp, 0);
	CHECK_EQ(a.floor[5], 2000);
	CHECK_EQ(kv_merge(&a, 5, &old, 22000), 0);      /* no resurrection */
	CHECK(!kv_would_take(&a, 5, &old, 22000));
	/* b missed the tombstone: a's sync carries the floor and b drops it */
	CHECK(kv_digest(&a) != kv_digest(&b));
	k = kv_encode_sync(&a, &from, 1, buf, sizeof buf);
	CHECK(k == KV_STATE_HEADER + 2 + KV_FLOOR_BYTES);
	CHECK_EQ(kv_decode_merge(&b, buf, (size_t)k, &flags, &digest, 22000, NULL, NULL, NULL), 1);
	CHECK_EQ(b.e[5].stamp, 0);
	CHECK_EQ(kv_digest(&a), kv_digest(&b));
	/* a later write still wins over the floor */
	CHECK_EQ(kv_set(&b, 5, "new", 3, 7, 1500), 0);
	CHECK(b.e[5].stamp > b.floor[5]);
	/* a floor far in the future is refused, so it cannot block a key */
	put_u64(buf + KV_STATE_HEADER + 2 + 2, 22000 + KV_FUTURE_MS + 1);
	kv_init(&b);
	CHECK_EQ(kv_decode_merge(&b, buf, (size_t)k, &flags, &digest, 22000, NULL, NULL, NULL), 0);
	CHECK_EQ(b.floor[5], 0);
	/* a tombstone with a value is malformed */
	kv_set(&a, 6, NULL, 0, 9, 30000);
	k = kv_encode(&a, 6, 9, buf, sizeof buf);
	buf[KV_STATE_HEADER + 14] |= 1;
	CHECK_EQ(kv_decode_merge(&b, buf, (size_t)k, &flags, &digest, 30000, NULL, NULL, NULL),
		 -EPROTO);
}

/* ---------------------------------------------------------- swarm nodes */

enum { NET_NODES = 4, QMAX = 256 };

struct tnet {
	struct swarm_node node[NET_NODES];
	bool alive[NET_NODES];
	struct { uint32_t src, dst; uint16_t len; uint8_t data[PHEROMONE_MAX_BYTES]; } q[QMAX];
	int qn;
	uint8_t last_pkt[PHEROMONE_MAX_BYTES];
	size_t last_len;
	uint8_t last_type_capture;
	int commands[NET_NODES], rebirths[NET_NODES], deliveries[NET_NODES], dead[NET_NODES];
	int blacklists[NET_NODES];
	int hellos_certless[NET_NODES], hellos_wanting[NET_NODES];
	uint8_t last_hello_flags[NET_NODES];
	uint32_t mem[NET_NODES];
	bool blocked[NET_NODES][NET_NODES];   /* link src -> dst is down */
};

static struct tnet net;
static struct swarm_identity node_ident[NET_NODES];

/* Index of the node whose environment is ctx. */
static int idx_of(void *ctx)
{
	return (int)((struct swarm_node *)ctx - net.node);
}

/* swarm_env.random for the test network. */
static uint64_t t_random(void *ctx)
{
	(void)ctx;
	return next_rand();
}

/* swarm_env.send: queue the packet on the test network. */
static void t_send(void *ctx, uint32_t dst, const uint8_t *pkt, size_t len)
{
	int src = idx_of(ctx);

	if (pkt[1] == net.last_type_capture) {
		memcpy(net.last_pkt, pkt, len);
		net.last_len = len;
	}
	if (pkt[1] == PH_HELLO) {
		net.hellos_certless[src] += (pkt[22] & PHF_NO_CERT) != 0;
		net.hellos_wanting[src] += (pkt[22] & PHF_CERT_WANTED) != 0;
		net.last_hello_flags[src] = pkt[22];
	}
	if (net.qn < QMAX) {
		net.q[net.qn].src = (uint32_t)src;
		net.q[net.qn].dst = dst;
		net.q[net.qn].len = (uint16_t)len;
		memcpy(net.q[net.qn].data, pkt, len);
		net.qn++;
	}
}

/* swarm_env.event: count what the tests check. */
static void t_event(void *ctx, const struct swarm_event *ev)
{
	int i = idx_of(ctx);

	if (ev->kind == SE_COMMAND)
		net.commands[i]++;
	if (ev->kind == SE_REBIRTH)
		net.rebirths[i]++;
	if (ev->kind == SE_DELIVER)
		net.deliveries[i]++;
	if (ev->kind == SE_DEAD)
		net.dead[i]++;
	if (ev->kind == SE_BLACKLIST)
		net.blacklists[i]++;
}

/* swarm_env.memory_permille from the test's table. */
static uint32_t t_memory(void *ctx)
{
	return net.mem[idx_of(ctx)];
}

/* Deliver everything queued (and whatever that causes) at time now. */
static void t_flush(uint64_t now)
{
	for (int rounds = 0; rounds < 50 && net.qn; rounds++) {
		int n = net.qn;
		static struct tnet copy;
		memcpy(copy.q, net.q, sizeof net.q[0] * (size_t)n);
		net.qn = 0;
		for (int k = 0; k < n; k++)
			for (int v = 0; v < NET_NODES; v++)
				if (net.alive[v] && v != (int)copy.q[k].src &&
				    !net.blocked[copy.q[k].src][v] &&
				    (copy.q[k].dst == SWARM_BROADCAST || copy.q[k].dst == (uint32_t)v))
					swarm_receive(&net.node[v], copy.q[k].src, copy.q[k].data,
						      copy.q[k].len, now);
	}
}

/* Tick every node every 10 ms from from to to. */
static void t_run(uint64_t from, uint64_t to)
{
	for (uint64_t t = from; t <= to; t += 10) {
		for (int v = 0; v < NET_NODES; v++)
			if (net.alive[v] && swarm_next_deadline(&net.node[v]) <= t)
				swarm_tick(&net.node[v], t);
		t_flush(t);
	}
}

/* Four nodes, node 0 the queen, all on one broadcast link. */
static void t_setup(void)
{
	struct swarm_config cfg = { .role = ROLE_WORKER, .heartbeats = true };
	struct swarm_env env = { NULL, t_random, t_send, t_event, t_memory, NULL };

	memset(&net, 0, sizeof net);
	memcpy(cfg.swarm_key, key, 32);
	memcpy(cfg.queen_pk, queen_pk, 32);
	gossip_default_params(&cfg.gossip);
	for (int i = 0; i < NET_NODES; i++) {
		struct swarm_config c = cfg;
		c.identity = node_ident[i];
		if (i == 0) {
			c.role = ROLE_QUEEN;
			c.queen_sk = queen_sk;
		}
		env.ctx = &net.node[i];
		CHECK_EQ(swarm_init(&net.node[i], &c, &env, 0), 0);
		net.alive[i] = true;
	}
}

/* Role draw distribution. */
static void test_role_draw_distribution(void)
{
	long count[4] = { 0 };
	const long n = 1 << 20;

	for (long i = 0; i < n; i++)
		count[swarm_draw_role(next_rand())]++;
	CHECK(labs(count[ROLE_EXPLORER] - n / 8) < n / 200);
	CHECK(labs(count[ROLE_SENTINEL] - n / 8) < n / 200);
	CHECK(count[ROLE_QUEEN] > n / 400 && count[ROLE_QUEEN] < n / 180);
	CHECK(labs(count[ROLE_WORKER] - n * 3 / 4) < n / 100);
	CHECK_EQ(swarm_role_period(ROLE_WORKER), 1000);
	CHECK_EQ(swarm_role_period(ROLE_EXPLORER), 500);
	CHECK_EQ(swarm_role_period(ROLE_SENTINEL), 2000);
	CHECK_EQ(swarm_role_period(ROLE_QUEEN), 3000);
}

/* Node refuses bad config. */
static void test_node_refuses_bad_config(void)
{
	static struct swarm_node n;
	struct swarm_config cfg = { .role = -1 };
	struct swarm_env env = { NULL, t_random, t_send, NULL, NULL, NULL };

	uint8_t seed[32] = { 77 }, pk[32], sk[64];

	memcpy(cfg.queen_pk, queen_pk, 32);
	cfg.identity = author;
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), -EINVAL);      /* zero swarm key */
	memcpy(cfg.swarm_key, key, 32);
	memset(cfg.queen_pk, 0, 32);
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), -EINVAL);      /* no queen key */
	memcpy(cfg.queen_pk, queen_pk, 32);
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), 0);
	CHECK_EQ(n.id, node_id_from_pk(author.pk));             /* the id is the key's */
	/* a certificate from another key, an expired one, another node's key */
	cx_sign_keypair(pk, sk, seed);
	identity_issue(&cfg.identity, seed, ROLES_ALL, UINT64_MAX / 2, sk);
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), -EACCES);
	identity_issue(&cfg.identity, seed, ROLES_ALL, 5000, queen_sk);
	CHECK_EQ(swarm_init(&n, &cfg, &env, 4999), 0);
	CHECK_EQ(swarm_init(&n, &cfg, &env, 5000), -EACCES);
	cfg.identity = author;
	memcpy(cfg.identity.cert, node_ident[1].cert, CERT_BYTES);
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), -EACCES);
	/* a configured role the certificate does not grant */
	identity_issue(&cfg.identity, seed, 1u << ROLE_WORKER, UINT64_MAX / 2, queen_sk);
	cfg.role = ROLE_SENTINEL;
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), -EACCES);
	cfg.incarnation = SWARM_MAX_INCARNATION + 1;
	cfg.role = -1;
	CHECK_EQ(swarm_init(&n, &cfg, &env, 0), -EINVAL);
}

/* Heartbeats and queen commands. */
static void test_heartbeats_and_queen_commands(void)
{
	int seq;

	t_setup();
	t_run(0, 3500);
	for (int i = 0; i < NET_NODES; i++)
		CHECK_EQ(membership_count(&net.node[i].members, MS_ALIVE), NET_NODES - 1);
	net.last_type_capture = PH_QUEEN_CMD;
	seq = swarm_queen_command(&net.node[0], QC_MARK, "go", 2, 3500);
	CHECK(seq > 0);
	t_flush(3500);
	for (int i = 1; i < NET_NODES; i++)
		CHECK_EQ(net.commands[i], 1);
	/* a captured command replayed: not executed again, now or later */
	for (int i = 0; i < NET_NODES; i++)
		net.q[i].src = 3, net.q[i].dst = SWARM_BROADCAST, net.q[i].len = (uint16_t)net.last_len,
		memcpy(net.q[i].data, net.last_pkt, net.last_len);
	net.qn = NET_NODES;
	t_flush(3600);
	t_run(3600, 4000);
	for (int i = 1; i < NET_NODES; i++)
		CHECK_EQ(net.commands[i], 1);
	/* a worker cannot issue commands */
	CHECK_EQ(swarm_queen_command(&net.node[1], QC_MARK, "x", 1, 4000), -EPERM);
}

/* Encode as identity `as` under sender id `sender` (its own id or a claim). */
static int make_as(uint8_t *buf, const struct swarm_identity *as, uint8_t type, uint32_t sender,
		   uint32_t seq, uint64_t ts, const void *payload, size_t len, uint8_t flags)
{
	struct pheromone h = { .type = type, .ttl = 8, .sender = sender, .seq = seq,
			       .timestamp_ms = ts, .flags = flags };
	return pheromone_encode(buf, PHEROMONE_MAX_BYTES, &h, payload, len, as, mac_key);
}

/*
 * A member holds the swarm key and its own certified key: commands signed
 * with its key are refused and blamed on it (its author signature proves
 * it made them), never on the link address it sends from; posing as the
 * queen's id fails the certificate check and cannot silence the queen.
 */
static void test_forged_commands_refused(void)
{
	uint8_t seed[32] = { 9 }, pk[32], sk[64], buf[PHEROMONE_MAX_BYTES], payload[8 + 64];
	uint32_t me = node_id_from_pk(author.pk);
	struct pheromone h = { .type = PH_QUEEN_CMD, .ttl = 4, .sender = me, .seq = 1,
			       .timestamp_ms = 100, .flags = PHF_SIGNED };
	int n;

	t_setup();
	cx_sign_keypair(pk, sk, seed);
	put_u16(payload, QC_MARK);
	put_u16(payload + 2, 4);
	memcpy(payload + 4, "evil", 4);
	for (uint32_t k = 1; k <= 5; k++) {
		h.seq = k;
		pheromone_queen_sign(payload + 8, &h, payload, 8, sk);   /* not the queen's key */
		n = make_as(buf, &author, PH_QUEEN_CMD, me, k, 100, payload, sizeof payload, PHF_SIGNED);
		swarm_receive(&net.node[1], 3, buf, (size_t)n, 100);     /* from node 3's address */
	}
	CHECK_EQ(net.commands[1], 0);
	CHECK(net.node[1].sentinel.counts[SEC_BAD_SIGNATURE] >= 2);
	CHECK(sentinel_id_banned(&net.node[1].sentinel, me, 101));
	CHECK(!sentinel_id_banned(&net.node[1].sentinel, net.node[3].id, 101));
	/* posing as the queen's id, with its own certificate or a copy of the queen node's */
	h.sender = net.node[0].id;
	for (uint32_t k = 0; k < 100; k++) {
		struct swarm_identity fake = author;
		if (k & 1)
			memcpy(fake.cert, node_ident[0].cert, CERT_BYTES);
		n = make_as(buf, &fake, PH_QUEEN_CMD, net.node[0].id, k + 1, 100, payload,
			    sizeof payload, PHF_SIGNED);
		swarm_receive(&net.node[2], 3, buf, (size_t)n, 100);
	}
	CHECK(net.node[2].sentinel.counts[SEC_BAD_CERT] >= 50);
	CHECK(net.node[2].sentinel.counts[SEC_BAD_SIGNATURE] >= 50);
	CHECK(!sentinel_id_banned(&net.node[2].sentinel, net.node[0].id, 101));
	CHECK(swarm_queen_command(&net.node[0], QC_MARK, "ok", 2, 150) > 0);
	t_flush(150);
	CHECK_EQ(net.commands[1], 1);
	CHECK_EQ(net.commands[2], 1);
}

/*
 * An insider cannot speak for another node: data under another id, with
 * its own certificate or the victim's, is refused and costs the victim
 * nothing; nor can it flood under ids it invents (no certificates).
 */
static void test_insider_cannot_forge_or_rotate_ids(void)
{
	uint8_t buf[PHEROMONE_MAX_BYTES];
	uint32_t victim;
	int n;

	t_setup();
	t_run(0, 2000);
	victim = net.node[3].id;
	for (uint32_t k = 0; k < 200; k++) {
		struct swarm_identity fake = author;
		if (k & 1)
			memcpy(fake.cert, node_ident[3].cert, CERT_BYTES);
		n = make_as(buf, &fake, PH_DATA, (k & 2) ? victim : 0x1000 + k, 1000 + k, 2000,
			    "forged", 6, 0);
		swarm_receive(&net.node[1], 3, buf, (size_t)n, 2000);
	}
	CHECK_EQ(net.deliveries[1], 0);
	CHECK_EQ(net.blacklists[1], 0);
	CHECK_EQ(sentinel_id_score(&net.node[1].sentinel, victim), 0);
	/* the victim still speaks: its rate bucket was not drained by the forgeries */
	for (int k = 0; k < 10; k++)
		CHECK(swarm_broadcast(&net.node[3], PH_DATA, "real", 4, 2001) > 0);
	t_flush(2001);
	CHECK_EQ(net.deliveries[1], 10);
	/* its own id is held to one author's budget however it is relayed */
	for (uint32_t k = 0; k < 500; k++) {
		n = make_as(buf, &author, PH_DATA, node_id_from_pk(author.pk), 1 + k, 2002, "x", 1, 0);
		swarm_receive(&net.node[2], k % 4, buf, (size_t)n, 2002);
	}
	CHECK_EQ(net.deliveries[2], 10 + net.node[2].gossip.p.rate_burst);
}

/* Expired and revoked certificates are refused; a granted role is checked. */
static void test_certificate_expiry_revocation_roles(void)
{
	uint8_t seed[32] = { 99 }, buf[PHEROMONE_MAX_BYTES], hello[14] = { 0 };
	struct swarm_identity shortlived, worker;
	uint32_t id;
	int n;

	t_setup();
	identity_issue(&shortlived, seed, ROLES_ALL, 3000, queen_sk);
	id = node_id_from_pk(shortlived.pk);
	n = make_as(buf, &shortlived, PH_DATA, id, 1, 2999, "a", 1, 0);
	swarm_receive(&net.node[1], 2, buf, (size_t)n, 2999);
	CHECK_EQ(net.deliveries[1], 1);
	n = make_as(buf, &shortlived, PH_DATA, id, 2, 3000, "b", 1, 0);
	swarm_receive(&net.node[1], 2, buf, (size_t)n, 3000);
	CHECK_EQ(net.deliveries[1], 1);
	CHECK_EQ(net.node[1].sentinel.counts[SEC_BAD_CERT], 1);
	/* the queen revokes author: its messages are refused everywhere */
	CHECK(swarm_queen_revoke(&net.node[0], node_id_from_pk(author.pk), UINT64_MAX / 2, 3000) > 0);
	t_flush(3000);
	n = make_as(buf, &author, PH_DATA, node_id_from_pk(author.pk), 1, 3001, "c", 1, 0);
	for (int v = 1; v < NET_NODES; v++) {
		swarm_receive(&net.node[v], 0, buf, (size_t)n, 3001);
		CHECK_EQ(net.node[v].sentinel.counts[SEC_REVOKED], 1);
	}
	CHECK_EQ(net.deliveries[2], 0);
	/* a node certified as a worker only may not announce the sentinel role */
	seed[0] = 100;
	identity_issue(&worker, seed, 1u << ROLE_WORKER, UINT64_MAX / 2, queen_sk);
	hello[0] = ROLE_SENTINEL;
	put_u16(hello + 2, 2000);
	n = make_as(buf, &worker, PH_HELLO, node_id_from_pk(worker.pk), 1, 3002, hello,
		    sizeof hello, 0);
	swarm_receive(&net.node[1], 2, buf, (size_t)n, 3002);
	CHECK_EQ(net.node[1].sentinel.counts[SEC_UNAUTHORISED], 1);
	CHECK(membership_find(&net.node[1].members, node_id_from_pk(worker.pk)) == NULL);
}

/*
 * Keyless garbage, bad MACs, stale replays and honest restarts under one
 * link address are logged but never get anyone banned.
 */
static void test_unauthenticated_faults_never_ban(void)
{
	uint8_t buf[PHEROMONE_MAX_BYTES], junk[64];
	int n;

	t_setup();
	n = make_pkt(buf, PH_DATA, 0x777, 1, 100, "spoof", 5);
	buf[30] ^= 1;                                     /* bad MAC */
	for (int k = 0; k < 100; k++) {
		for (size_t i = 0; i < sizeof junk; i++)
			junk[i] = (uint8_t)next_rand();
		swarm_receive(&net.node[2], 3, junk, sizeof junk, 200);
		swarm_receive(&net.node[2], 3, buf, (size_t)n, 200);
	}
	CHECK(net.node[2].sentinel.counts[SEC_BAD_MAC] >= 100);
	CHECK(net.node[2].sentinel.counts[SEC_MALFORMED] >= 100);
	/* stale copies, as a relay's PULL repair or a replayer sends them */
	for (uint32_t k = 0; k < 100; k++) {
		n = make_pkt(buf, PH_DATA, node_id_from_pk(author.pk), k + 1, 100, "old", 3);
		swarm_receive(&net.node[2], 3, buf, (size_t)n, 100 + 40000);
	}
	CHECK(net.node[2].sentinel.counts[SEC_STALE] >= 100);
	/* five restarts of one node: each a higher incarnation, all accepted, no ban */
	for (uint32_t k = 0; k < 5; k++) {
		uint8_t hello[14] = { 0 };
		put_u16(hello + 2, 1000);
		n = make_pkt(buf, PH_HELLO, node_id_from_pk(author.pk), (k << SEQ_COUNTER_BITS) + 1,
			     40000 + k, hello, sizeof hello);
		swarm_receive(&net.node[2], 3, buf, (size_t)n, 40000 + k);
	}
	CHECK(membership_find(&net.node[2].members, node_id_from_pk(author.pk)) != NULL);
	CHECK_EQ(net.node[2].sentinel.counts[SEC_REPLAY], 0);
	CHECK_EQ(net.blacklists[2], 0);
}

/*
 * HELLOs leave the certificate out once neighbours hold it.  A certless
 * HELLO whose certificate we lack is ignored (blamed on nobody) and asked
 * for in our next HELLO; a neighbour asked puts it in its next one; a
 * certless HELLO signed by another key under a cached id is rejected,
 * and bans nobody.
 */
static void test_hello_certificate_left_out(void)
{
	uint8_t buf[PHEROMONE_MAX_BYTES], hello[14] = { 0 };
	uint32_t id = node_id_from_pk(author.pk);
	const struct member *m;
	uint64_t t;
	int n, asked;

	t_setup();
	t_run(0, 12000);
	for (int i = 0; i < NET_NODES; i++) {
		CHECK_EQ(membership_count(&net.node[i].members, MS_ALIVE), NET_NODES - 1);
		CHECK(net.hellos_certless[i] > 0);
		CHECK_EQ(net.node[i].certless_skipped, 0);
	}
	put_u16(hello + 2, 1000);
	n = make_as(buf, &author, PH_HELLO, id, 1, 12000, hello, sizeof hello, PHF_NO_CERT);
	CHECK_EQ(n, PHEROMONE_HEADER_BYTES + (int)sizeof hello + CX_SIGNATURE_BYTES +
		    PHEROMONE_MAC_BYTES);
	CHECK_EQ(make_as(buf + 600, &author, PH_DATA, id, 1, 12000, "x", 1, PHF_NO_CERT), -EINVAL);
	swarm_receive(&net.node[2], 9, buf, (size_t)n, 12000);
	CHECK(membership_find(&net.node[2].members, id) == NULL);
	CHECK_EQ(net.node[2].certless_skipped, 1);
	CHECK_EQ(net.node[2].sentinel.counts[SEC_BAD_CERT], 0);
	asked = net.hellos_wanting[2];
	t_run(12010, 15000);
	CHECK(net.hellos_wanting[2] > asked);
	/* its certificate once, in a full HELLO; then certless ones count */
	n = make_as(buf, &author, PH_HELLO, id, 2, 15000, hello, sizeof hello, 0);
	swarm_receive(&net.node[2], 9, buf, (size_t)n, 15000);
	CHECK(net.node[2].hello_cert_due);          /* a newcomer: ours goes in the next one */
	t = 15000;
	while (t < 18000 && net.node[2].hello_cert_due)
		t_run(t, t), t += 10;
	CHECK_EQ(net.last_hello_flags[2] & PHF_NO_CERT, 0);
	n = make_as(buf, &author, PH_HELLO, id, 3, t, hello, sizeof hello,
		    PHF_NO_CERT | PHF_CERT_WANTED);
	swarm_receive(&net.node[2], 9, buf, (size_t)n, t);
	m = membership_find(&net.node[2].members, id);
	CHECK(m != NULL);
	CHECK_EQ(m ? m->last_seq : 0, 3);
	CHECK_EQ(net.node[2].certless_skipped, 1);
	CHECK(net.node[2].hello_cert_due);          /* asked for it */
	/* another key's signature under the cached id: rejected, nobody banned */
	n = make_as(buf, &node_ident[1], PH_HELLO, id, 4, t, hello, sizeof hello, PHF_NO_CERT);
	swarm_receive(&net.node[2], 9, buf, (size_t)n, t);
	CHECK_EQ(net.node[2].sentinel.counts[SEC_BAD_SIGNATURE], 1);
	CHECK_EQ(m ? m->last_seq : 0, 3);
	CHECK_EQ(net.blacklists[2], 0);
}

/* Die and apoptosis. */
static void test_die_and_apoptosis(void)
{
	uint32_t old;

	t_setup();
	t_run(0, 3500);
	old = net.node[2].id;
	CHECK(swarm_queen_die(&net.node[0], old, 3500) > 0);
	t_flush(3500);
	CHECK_EQ(net.rebirths[2], 1);
	CHECK_EQ(net.node[2].id, old);                       /* the key's id, a new life */
	CHECK_EQ(net.node[2].incarnation, 1);
	CHECK_EQ(net.node[2].seq, 1u << SEQ_COUNTER_BITS);
	CHECK(membership_find(&net.node[1].members, old) == NULL);   /* REBIRTH heard */
	/* the new life is heard at once: its sequence numbers are all larger */
	CHECK(swarm_broadcast(&net.node[2], PH_DATA, "new", 3, 3501) > 0);
	t_flush(3501);
	CHECK_EQ(net.deliveries[1], 1);
	/* memory above 90 % */
	net.mem[3] = 950;
	net.node[3].env.memory_permille = t_memory;
	swarm_tick(&net.node[3], 3600);
	CHECK_EQ(net.rebirths[3], 1);
	CHECK_EQ(net.node[3].incarnation, 1);
	/* lifetime limit */
	net.node[1].cfg.lifetime_ms = 1000;
	swarm_tick(&net.node[1], net.node[1].born_ms + 1000);
	CHECK_EQ(net.rebirths[1], 1);
	CHECK_EQ(net.node[1].generation, 1);
}

/* State spreads and survives. */
static void test_state_spreads_and_survives(void)
{
	t_setup();
	t_run(0, 2000);
	CHECK(swarm_state_set(&net.node[1], 3, "value", 5, 2000) > 0);
	t_flush(2000);
	for (int i = 0; i < NET_NODES; i++)
		CHECK(!memcmp(net.node[i].kv.e[3].value, "value", 5));
	/* node 1 dies; a node that restarts empty gets the value back */
	net.alive[1] = false;
	net.node[3].cfg.incarnation++;                 /* the owner's persisted counter */
	swarm_init(&net.node[3], &net.node[3].cfg, &net.node[3].env, 2000);
	CHECK_EQ(net.node[3].kv.e[3].stamp, 0);
	t_run(2000, 8000);
	CHECK(!memcmp(net.node[3].kv.e[3].value, "value", 5));
	CHECK_EQ(kv_digest(&net.node[3].kv), kv_digest(&net.node[0].kv));
}

/* Sign a store entry with sk (genuine or not) and attach cert. */
static void sign_entry_as(struct kv_entry *e, uint16_t key, const uint8_t *sk, const uint8_t *cert)
{
	uint8_t msg[KV_SIGNED_MAX];

	cx_sign(e->sig, msg, kv_signed_bytes(msg, key, e), sk);
	memcpy(e->cert, cert, CERT_BYTES);
}

/* Node 2 (an insider) sends a store holding e for key 3 to node 0, as a sync part. */
static void send_store_as_node2(const struct kv_entry *e, uint32_t seq, uint64_t now)
{
	static struct kvstore fake;
	uint8_t payload[PHEROMONE_MAX_PAYLOAD], pkt[PHEROMONE_MAX_BYTES];
	uint16_t from = 0;
	int k, n;

	kv_init(&fake);
	fake.e[3] = *e;
	k = kv_encode_sync(&fake, &from, net.node[2].id, payload, sizeof payload);
	CHECK(k > 0);
	n = make_as(pkt, &node_ident[2], PH_STATE, net.node[2].id, seq, now, payload, (size_t)k, 0);
	CHECK(n > 0);
	swarm_receive(&net.node[0], 2, pkt, (size_t)n, now);
}

/*
 * Store entries are signed by their writer: an insider relaying a store
 * cannot invent an entry under another writer's id, nor alter a genuine
 * one, nor drop the writer's certificate; a genuine entry it relays is
 * taken.  The forgery is blamed on the insider, who signed the message.
 */
static void test_state_forged_entry_refused(void)
{
	struct kv_entry e;
	int bans;

	t_setup();
	t_run(0, 2000);
	CHECK(swarm_state_set(&net.node[1], 3, "value", 5, 2000) > 0);
	t_flush(2000);
	CHECK(!memcmp(net.node[0].kv.e[3].value, "value", 5));
	/* made up under node 1's id, signed with node 2's key, node 1's certificate */
	memset(&e, 0, sizeof e);
	e.stamp = 2000 + KV_FUTURE_MS - 1000;
	e.writer = net.node[1].id;
	e.len = 4;
	memcpy(e.value, "evil", 4);
	sign_entry_as(&e, 3, node_ident[2].sk, node_ident[1].cert);
	bans = net.blacklists[0];
	send_store_as_node2(&e, 900, 2100);
	CHECK(!memcmp(net.node[0].kv.e[3].value, "value", 5));
	CHECK(net.node[0].kv.clock < e.stamp);                  /* nor moved the clock */
	/* node 1's genuine entry with its value changed */
	e = net.node[1].kv.e[3];
	memcpy(e.value, "VALUE", 5);
	e.stamp += 10;
	send_store_as_node2(&e, 901, 2110);
	CHECK(!memcmp(net.node[0].kv.e[3].value, "value", 5));
	CHECK_EQ(net.blacklists[0], bans + 1);                   /* two strikes: banned */
	/* (node 2 is banned at node 0 now: a fresh network checks the rest) */
	t_setup();
	t_run(0, 2000);
	CHECK(swarm_state_set(&net.node[1], 3, "value", 5, 2000) > 0);
	t_flush(2000);
	/* a genuine newer entry by node 1 that node 0 missed, relayed with
	 * another certificate: refused, not blamed */
	net.alive[0] = false;
	CHECK(swarm_state_set(&net.node[1], 3, "later", 5, 2200) > 0);
	t_flush(2200);
	net.alive[0] = true;
	e = net.node[2].kv.e[3];
	CHECK(!memcmp(e.value, "later", 5));
	memcpy(e.cert, node_ident[2].cert, CERT_BYTES);
	send_store_as_node2(&e, 902, 2300);
	CHECK(!memcmp(net.node[0].kv.e[3].value, "value", 5));
	/* the same entry relayed with node 1's certificate is taken */
	e = net.node[2].kv.e[3];
	send_store_as_node2(&e, 903, 2310);
	CHECK(!memcmp(net.node[0].kv.e[3].value, "later", 5));
	CHECK_EQ(net.node[0].kv.e[3].writer, net.node[1].id);
}

/*
 * Garbage collection: node 1 writes, dies; once its neighbours declared
 * it dead and the grace period passed, one of them deletes its entry with
 * a tombstone that reaches every node, and the tombstone then expires
 * into a floor.  A live writer's entry stays.
 */
static void test_state_gc_of_dead_writer(void)
{
	t_setup();
	for (int i = 0; i < NET_NODES; i++) {
		net.node[i].cfg.kv_gc_grace_ms = 3000;
		net.node[i].kv.tombstone_ms = 10000;
	}
	t_run(0, 2000);
	CHECK(swarm_state_set(&net.node[1], 3, "value", 5, 2000) > 0);
	CHECK(swarm_state_set(&net.node[2], 4, "stays", 5, 2000) > 0);
	t_flush(2000);
	net.alive[1] = false;
	t_run(2000, 40000);
	CHECK(net.dead[0] >= 1);
	for (int i = 0; i < NET_NODES; i++) {
		if (i == 1)
			continue;
		CHECK_EQ(net.node[i].kv.e[3].stamp, 0);        /* deleted, tombstone expired */
		CHECK(net.node[i].kv.floor[3] > 2000);
		CHECK(!memcmp(net.node[i].kv.e[4].value, "stays", 5));
	}
	/* node 1's old entry, replayed by a store that still holds it, stays out */
	CHECK_EQ(kv_merge(&net.node[0].kv, 3, &net.node[1].kv.e[3], 40000), 0);
}

/*
 * Anti-entropy: node 3, cut off while node 0 floods 12 messages whose TTL
 * dies out before it, gets every one of them (not only the 8 newest) once
 * its link to node 2 heals, from node 2's message cache, and the repair
 * wave carries on with a full TTL.
 */
static void test_anti_entropy_repairs_every_message(void)
{
	t_setup();
	for (int a = 0; a < NET_NODES; a++)       /* a line: 0 - 1 - 2 - 3 */
		for (int b = 0; b < NET_NODES; b++)
			net.blocked[a][b] = a - b > 1 || b - a > 1;
	net.blocked[2][3] = net.blocked[3][2] = true;
	t_run(0, 2000);
	net.node[0].cfg.ttl = 2;                  /* the first wave stops at node 2 */
	for (int i = 0; i < 12; i++) {
		CHECK(swarm_broadcast(&net.node[0], PH_DATA, "x", 1, 2000 + 10 * (uint64_t)i) > 0);
		t_run(2000 + 10 * (uint64_t)i, 2000 + 10 * (uint64_t)i);
	}
	t_run(2120, 3000);
	CHECK_EQ(net.deliveries[2], 12);
	CHECK_EQ(net.deliveries[3], 0);
	net.blocked[2][3] = net.blocked[3][2] = false;
	t_run(3000, 9000);
	CHECK_EQ(net.deliveries[3], 12);
	CHECK_EQ(net.deliveries[1], 12);          /* exactly once each */
}

/* Dead neighbour noticed. */
static void test_dead_neighbour_noticed(void)
{
	t_setup();
	t_run(0, 3000);
	net.alive[2] = false;
	t_run(3000, 12000);   /* the queen (node 0) hears every 3 s: up to 9 s */
	CHECK(net.dead[1] >= 1);
	CHECK(net.dead[3] >= 1);
	CHECK_EQ(net.dead[0] + net.dead[1] + net.dead[3], 3);   /* nobody else */
}

/*
 * SWIM's indirect probes: with the direct link between 1 and 2 down, each
 * suspects the other, but the other nodes probe on their behalf and
 * forward the ACKs, so neither is declared dead.
 */
static void test_indirect_probes_keep_node_alive(void)
{
	t_setup();
	t_run(0, 3000);
	net.blocked[1][2] = net.blocked[2][1] = true;
	t_run(3000, 20000);
	CHECK_EQ(net.dead[1], 0);
	CHECK_EQ(net.dead[2], 0);
	CHECK(membership_find(&net.node[1].members, net.node[2].id) != NULL);
	/* cut 2 off from everyone: now it is declared dead */
	for (int v = 0; v < NET_NODES; v++)
		net.blocked[2][v] = net.blocked[v][2] = true;
	t_run(20000, 30000);
	CHECK(net.dead[1] >= 1);
	CHECK(net.dead[0] >= 1);
}

/* A node whose role is not configured draws a new one at each rebirth. */
static void test_role_redrawn_on_rebirth(void)
{
	int seen[4] = { 0 };

	t_setup();
	net.node[1].cfg.role = -1;
	for (int i = 0; i < 400; i++) {
		swarm_apoptosis(&net.node[1], DIE_LIFETIME, 1000 + (uint64_t)i);
		seen[net.node[1].role]++;
		net.qn = 0;
	}
	CHECK(seen[ROLE_WORKER] > 250);
	CHECK(seen[ROLE_EXPLORER] > 20);
	CHECK(seen[ROLE_SENTINEL] > 20);
	CHECK_EQ(net.rebirths[1], 400);
}

/* ------------------------------------------------------------------ maze */

static void test_maze_generation_and_paths(void)
{
	static uint8_t walls[16 * 16];
	struct maze_world w = { 16, 16, 0, 255, walls };
	uint16_t bad[2] = { 0, 255 };

	CHECK_EQ(maze_generate(walls, 16, 16, 7), 0);
	CHECK(!maze_path_valid(&w, bad, 2));
	CHECK_EQ(maze_generate(walls, 40, 40, 7), -EINVAL);
	/* a perfect maze: every cell reachable, so cells - 1 open passages */
	int open = 0;
	for (int c = 0; c < 256; c++)
		open += !(walls[c] & MAZE_E) + !(walls[c] & MAZE_S);
	CHECK_EQ(open, 255);
}

/* Run one scenario; its JSON line is the last line of stdout. */
int main(void)
{
	if (cx_init())
		return 1;
	memset(key, 0x5a, sizeof key);
	pheromone_mac_key(mac_key, key);
	{
		uint8_t seed[32] = { 42 };
		cx_sign_keypair(queen_pk, queen_sk, seed);
		seed[0] = 43;
		identity_issue(&author, seed, ROLES_ALL, UINT64_MAX / 2, queen_sk);
		for (int i = 0; i < NET_NODES; i++) {
			seed[0] = (uint8_t)(50 + i);
			identity_issue(&node_ident[i], seed, ROLES_ALL, UINT64_MAX / 2, queen_sk);
		}
	}
	RUN(test_pheromone_roundtrip_and_mac);
	RUN(test_pheromone_rejects_malformed);
	RUN(test_queen_signature);
	RUN(test_gossip_dedup_window_stale);
	RUN(test_gossip_rate_limit);
	RUN(test_gossip_relay_suppression);
	RUN(test_gossip_message_cache);
	RUN(test_gossip_bounded_under_flood);
	RUN(test_gossip_classify_takes_no_tokens);
	RUN(test_membership_suspect_probe_dead);
	RUN(test_membership_lifeguard);
	RUN(test_membership_early_confirmation);
	RUN(test_membership_binding_and_bounds);
	RUN(test_membership_relocated_hello);
	RUN(test_sentinel_blacklist_decay_blackbox);
	RUN(test_kv_lww_converges_in_any_order);
	RUN(test_kv_poison_cannot_freeze);
	RUN(test_kv_tombstones_and_floors);
	RUN(test_role_draw_distribution);
	RUN(test_node_refuses_bad_config);
	RUN(test_heartbeats_and_queen_commands);
	RUN(test_forged_commands_refused);
	RUN(test_insider_cannot_forge_or_rotate_ids);
	RUN(test_certificate_expiry_revocation_roles);
	RUN(test_unauthenticated_faults_never_ban);
	RUN(test_hello_certificate_left_out);
	RUN(test_die_and_apoptosis);
	RUN(test_state_spreads_and_survives);
	RUN(test_state_forged_entry_refused);
	RUN(test_state_gc_of_dead_writer);
	RUN(test_anti_entropy_repairs_every_message);
	RUN(test_dead_neighbour_noticed);
	RUN(test_indirect_probes_keep_node_alive);
	RUN(test_role_redrawn_on_rebirth);
	RUN(test_maze_generation_and_paths);
	return CHECK_EXIT_STATUS();
}
