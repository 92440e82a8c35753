/*
 * swarm-sim scenarios over swarm_node: broadcast, membership, queen, state
 * and attack.  Each prints one JSON object of metrics (docs/PROTOCOL.md,
 * "Simulator").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/bytes.h"
#include "net/maze.h"
#include "net/sim/sim.h"

enum { MAX_TRACKED = 64, MAX_CAPTURE = 512, MAX_KILLED = 64, SYBIL_IDS = 4096,
       REJOINS = 10, POISON_KEYS = 8, GC_KEYS = 8, GC_DEAD = 4,
       CERT_DAY_MS = 86400000, MAX_ADV = 8, ADV_IDS = 64, ADV_ADDR_BASE = 0x40000000 };

/* Payloads of the flood-rotate adversary start with this, to count them. */
static const uint8_t adv_magic[4] = { 'A', 'D', 'V', '!' };

/* A message whose spread the scenario measures. */
struct tracked {
	uint32_t sender, seq;
	uint8_t type;
	uint64_t t0, last_t;
	uint32_t eligible, reached, tx;
	uint8_t *elig;         /* node in the sender's component at origination */
	uint8_t *got;          /* 1: delivered/executed, 2: in an earlier life only */
	uint64_t *got_t;
};

struct capture {
	uint64_t t;
	uint8_t stage;
	uint16_t len;
	uint8_t pkt[PHEROMONE_MAX_BYTES];
};

struct killed {
	uint32_t node, id;
	uint64_t t;
	uint8_t *observer;
	uint32_t observers, detected;
	uint64_t last_detect;
};

/* One adversary node: where it is, what it is called on the link, and
 * which certified identity (insiders) it now uses. */
struct adversary {
	uint32_t node;           /* its sim_node: position and links */
	uint32_t addr;           /* link source address it sends under */
	uint32_t id, seq;
	struct swarm_identity ident;
	uint32_t moves;
};

struct scen {
	struct tracked tr[MAX_TRACKED];
	uint32_t ntr;
	/* counters */
	uint64_t untracked_acted, replay_acted, die_acted, stale_acted;
	uint64_t false_dead;
	uint64_t tx_pull;
	uint8_t *blacklisted;    /* honest node banned the adversary */
	uint8_t *honest_banned;  /* honest node's id banned by an honest node */
	uint32_t *attacker_delivered;   /* [node * ADV_IDS + identity]: insider deliveries per author */
	uint8_t *banned_adv;            /* [node * ADV_IDS + identity]: that node banned it */
	uint64_t ban_escapes;           /* taken from an adversary identity its taker had banned */

	/* adversary */
	const char *attack;
	uint8_t adv_mac[CX_KEY_BYTES];
	uint8_t adv_sign_sk[CX_SIGN_SECRET_BYTES];
	struct adversary adv[MAX_ADV];     /* --adversaries (at least one) */
	uint32_t nadv, cur;                /* adversaries, the one acting now */
	uint32_t ids[ADV_IDS];             /* every certified identity an adversary used */
	uint32_t nids, fresh_addr;
	bool moving;                       /* --adversaries or --adversary-move given */
	struct swarm_identity outsider;    /* a key pair with a certificate the queen never signed */
	uint32_t sybil_ids[SYBIL_IDS];
	uint32_t nsybil;
	uint64_t sybil_admitted;
	uint32_t rotate_id;      /* flood-rotate: identities used */
	uint8_t poison_value[POISON_KEYS][16];   /* kv-poison: last honest writes */
	bool poison_written[POISON_KEYS];
	struct capture *cap;
	uint32_t ncap;
	/* membership */
	struct killed kl[MAX_KILLED];
	uint32_t nkl;
	/* state */
	struct kvstore reference;
	bool converged;
	uint64_t heal_t, converge_t;
	uint32_t writers_killed[64];
	uint8_t *main_comp;
	uint64_t *solved_t;
	uint32_t nwk;
	bool gc_kept;
	uint64_t gc_tombstones, gc_floors;
};

/* The scenario state of a run. */
static struct scen *SC(struct sim *s)
{
	return s->scenario;
}

/* The adversary acting now. */
static struct adversary *ADV(struct scen *c)
{
	return &c->adv[c->cur];
}

/* Which of the adversaries' certified identities id is, or -1. */
static int adv_identity(const struct scen *c, uint32_t id)
{
	for (uint32_t i = 0; i < c->nids; i++)
		if (c->ids[i] == id)
			return (int)i;
	return -1;
}

/* The tracked message with this identifier, or NULL. */
static struct tracked *tracked_find(struct scen *c, uint32_t sender, uint32_t seq)
{
	for (uint32_t i = 0; i < c->ntr; i++)
		if (c->tr[i].sender == sender && c->tr[i].seq == seq)
			return &c->tr[i];
	return NULL;
}

/* Start measuring a message just originated by node src. */
static void track(struct sim *s, uint32_t src, uint8_t type, int seq)
{
	struct scen *c = SC(s);
	struct tracked *t;

	if (seq <= 0 || c->ntr == MAX_TRACKED)
		return;
	t = &c->tr[c->ntr++];
	t->sender = s->nodes[src].node.id;
	t->seq = (uint32_t)seq;
	t->type = type;
	t->t0 = t->last_t = s->now;
	t->elig = calloc(s->n, 1);
	t->got = calloc(s->n, 1);
	t->got_t = calloc(s->n, sizeof *t->got_t);
	sim_component(s, src, t->elig);
	t->got[src] = 1;
}

/* True for the adversary's identity and its sybils. */
static bool adversary_id(struct scen *c, uint32_t id)
{
	if (adv_identity(c, id) >= 0)
		return true;
	for (uint32_t i = 0; i < c->nsybil; i++)
		if (c->sybil_ids[i] == id)
			return true;
	return false;
}

/* Count a delivery of an insider's message at sn, per author (sybil
 * identities together with the first adversary's). */
static void count_insider(struct scen *c, const struct sim_node *sn, uint32_t id)
{
	int k = adv_identity(c, id);

	c->attacker_delivered[sn->index * ADV_IDS + (uint32_t)(k >= 0 ? k : 0)]++;
}

/* A node acted on a message: delivered DATA or executed a command. */
static void acted(struct sim *s, struct sim_node *sn, const struct swarm_event *ev)
{
	struct scen *c = SC(s);
	struct tracked *t = tracked_find(c, ev->sender, ev->seq);

	if (sim_clock(s, sn->index) > ev->timestamp_ms + s->cfg.gossip.ts_bound_ms)
		c->stale_acted++;
	if (!t && c->attack && !strcmp(c->attack, "flood-rotate") && ev->len >= sizeof adv_magic &&
	    !memcmp(ev->data, adv_magic, sizeof adv_magic)) {
		if (adv_identity(c, ev->sender) >= 0)   /* authentic insider traffic, rate-checked */
			count_insider(c, sn, ev->sender);
		else
			c->untracked_acted++;                 /* a rotated id got through */
		return;
	}
	if (!t) {
		/* an insider's own traffic is authentic; flood checks its rate and
		 * sybil/eclipse their admissions, below */
		if (c->attack && adversary_id(c, ev->sender) && (!strcmp(c->attack, "flood") ||
		    !strcmp(c->attack, "sybil") || !strcmp(c->attack, "eclipse")))
			count_insider(c, sn, ev->sender);
		else
			c->untracked_acted++;
		return;
	}
	if (t->got[sn->index] == 1) {
		c->replay_acted++;
		return;
	}
	t->got[sn->index] = 1;
	t->got_t[sn->index] = s->now;
	t->last_t = s->now;
}

/*
 * A node took something (a delivery, a command, an admission) from an
 * adversary identity it had banned: a moved adversary escaped its ban.
 */
static void note_ban_escape(struct scen *c, struct sim_node *sn, uint32_t id)
{
	int k = adv_identity(c, id);

	if (k >= 0 && c->banned_adv[sn->index * ADV_IDS + (uint32_t)k])
		c->ban_escapes++;
}

/* Collect the metrics from node events. */
static void on_event(struct sim *s, struct sim_node *sn, const struct swarm_event *ev)
{
	struct scen *c = SC(s);

	if (ev->kind == SE_DELIVER || ev->kind == SE_COMMAND)
		note_ban_escape(c, sn, ev->sender);
	else if (ev->kind == SE_ADMITTED)
		note_ban_escape(c, sn, ev->about);
	switch (ev->kind) {
	case SE_DELIVER:
		if (ev->type == PH_DATA)
			acted(s, sn, ev);
		break;
	case SE_COMMAND:
		if (ev->code == (0x100 | PH_DIE))
			c->die_acted++;
		else
			acted(s, sn, ev);
		break;
	case SE_DEAD:
		/* a live node it can hear; across a partition a death is the right call */
		for (uint32_t i = 0; i < s->n; i++)
			if (s->nodes[i].alive && !s->nodes[i].adversary && s->nodes[i].node.id == ev->about &&
			    sim_linked(s, sn->index, i)) {
				c->false_dead++;
				break;
			}
		for (uint32_t k = 0; k < c->nkl; k++)
			if (c->kl[k].id == ev->about && c->kl[k].observer[sn->index] == 1) {
				c->kl[k].observer[sn->index] = 2;
				c->kl[k].detected++;
				c->kl[k].last_detect = s->now;
			}
		break;
	case SE_BLACKLIST:   /* bans fall on authors: was it an honest node's id? */
		for (uint32_t i = 0; i < s->o.nodes; i++)
			if (s->nodes[i].ident.cert[0] && node_id_from_pk(s->nodes[i].ident.pk) == ev->about)
				c->honest_banned[i] = 1;
		if (c->attack && adversary_id(c, ev->about))
			c->blacklisted[sn->index] = 1;
		if (adv_identity(c, ev->about) >= 0)
			c->banned_adv[sn->index * ADV_IDS + (uint32_t)adv_identity(c, ev->about)] = 1;
		break;
	case SE_MODULE:
		if (ev->code == MAZE_SOLVED_EVENT && c->solved_t && !c->solved_t[sn->index])
			c->solved_t[sn->index] = s->now;
		break;
	case SE_ADMITTED:
		if (c->attack && adv_identity(c, ev->about) < 0 && adversary_id(c, ev->about)) {
			c->sybil_admitted++;
		}
		break;
	}
}

/* Count transmissions that carry (or ask for) a tracked message. */
static void on_transmit(struct sim *s, uint32_t src, uint32_t dst, const uint8_t *p, size_t len)
{
	struct scen *c = SC(s);
	struct tracked *t;

	(void)src;
	(void)dst;
	if (len < PHEROMONE_HEADER_BYTES)
		return;
	if (p[1] == PH_PULL && len > PHEROMONE_HEADER_BYTES + 5) {
		for (uint8_t i = 0; i < p[PHEROMONE_HEADER_BYTES + 4] && i < GOSSIP_DIGEST_IDS; i++) {
			uint64_t id = get_u64(p + PHEROMONE_HEADER_BYTES + 5 + 8 * i);
			if ((t = tracked_find(c, (uint32_t)(id >> 32), (uint32_t)id))) {
				t->tx++;
				c->tx_pull++;
			}
		}
		return;
	}
	if ((t = tracked_find(c, get_u32(p + 4), get_u32(p + 8)))) {
		t->tx++;
	}
}

/* Coverage, time to full and transmissions of the tracked messages. */
static void spread_metrics(struct sim *s, double *coverage, double *ttf, double *txpn,
			   double *cov_min)
{
	struct scen *c = SC(s);
	double cov = 0, tsum = 0, tx = 0;
	uint32_t full = 0, n = 0;

	*cov_min = 1;
	for (uint32_t i = 0; i < c->ntr; i++) {
		struct tracked *t = &c->tr[i];
		uint32_t elig = 0, got = 0, live = 0;
		uint64_t last = t->t0;
		for (uint32_t v = 0; v < s->n; v++) {
			if (!s->nodes[v].alive || s->nodes[v].adversary)
				continue;
			live++;
			if (!t->elig[v])
				continue;
			elig++;
			if (t->got[v]) {
				got++;
				if (t->got_t[v] > last)
					last = t->got_t[v];
			}
		}
		if (!elig)
			continue;
		if (getenv("SIM_DEBUG"))
			fprintf(stderr, "broadcast %u at %llu ms: %u of %u\n", i,
				(unsigned long long)t->t0, got, elig);
		if ((double)got / elig < *cov_min)
			*cov_min = (double)got / elig;
		n++;
		cov += (double)got / elig;
		tx += (double)t->tx / (live ? live : 1);
		if (got == elig) {
			full++;
			tsum += (double)(last - t->t0);
		}
	}
	*coverage = n ? cov / n : 0;
	*ttf = full ? tsum / full : (double)s->now;
	*txpn = n ? tx / n : 0;
}

/* A random live honest node. */
static uint32_t random_live_honest(struct sim *s)
{
	for (;;) {
		uint32_t i = (uint32_t)(sim_rand(s) % s->o.nodes);
		if (s->nodes[i].alive)
			return i;
	}
}

/* ----------------------------------------------------------- scheduled */

static void do_broadcast(struct sim *s, uint32_t arg)
{
	uint32_t src = arg == UINT32_MAX ? random_live_honest(s) : arg;
	uint8_t payload[64];
	int seq;

	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)sim_rand(s);
	seq = swarm_broadcast(&s->nodes[src].node, PH_DATA, payload, sizeof payload, sim_clock(s, src));
	track(s, src, PH_DATA, seq);
	sim_reschedule(s, src);
}

/* The queen issues a command that is tracked. */
static void do_queen_cmd(struct sim *s, uint32_t arg)
{
	uint32_t q = (uint32_t)s->queen_index;
	uint8_t a[8];
	int seq;

	put_u32(a, arg);
	put_u32(a + 4, (uint32_t)sim_rand(s));
	if (!s->nodes[q].alive)
		return;
	seq = swarm_queen_command(&s->nodes[q].node, QC_MARK, a, sizeof a, sim_clock(s, q));
	track(s, q, PH_QUEEN_CMD, seq);
	sim_reschedule(s, q);
}

/* Kill nodes and note who tracked them. */
static void do_kill_for_membership(struct sim *s, uint32_t arg)
{
	struct scen *c = SC(s);
	uint32_t want = arg;

	while (c->nkl < want && c->nkl < MAX_KILLED) {
		uint32_t v = random_live_honest(s);
		struct killed *k = &c->kl[c->nkl++];
		k->node = v;
		k->id = s->nodes[v].node.id;
		k->t = s->now;
		k->observer = calloc(s->n, 1);
		for (uint32_t u = 0; u < s->o.nodes; u++) {
			const struct member *m;
			if (u == v || !s->nodes[u].alive)
				continue;
			m = membership_find(&s->nodes[u].node.members, k->id);
			if (m && m->confirmed) {   /* only confirmed neighbours report deaths */
				k->observer[u] = 1;
				k->observers++;
			}
		}
		sim_kill(s, v);
	}
}

/* ----------------------------------------------------------- adversary */

/*
 * Encode a pheromone as the insider adversary: it holds the swarm key and
 * its own certified key pair, and may claim any sender id.
 */
static size_t adv_encode(struct scen *c, uint8_t *buf, uint8_t type, uint8_t ttl, uint32_t sender,
			 uint32_t seq, uint64_t now, const uint8_t *payload, size_t len, uint8_t flags)
{
	struct pheromone h = { .type = type, .ttl = ttl, .sender = sender, .seq = seq,
			       .timestamp_ms = now, .flags = flags };
	int k = pheromone_encode(buf, PHEROMONE_MAX_BYTES, &h, payload, len, &ADV(c)->ident,
				 c->adv_mac);

	return k > 0 ? (size_t)k : 0;
}

/* The adversary acting now broadcasts a packet from where it is, under its link address. */
static void adv_send(struct sim *s, const uint8_t *p, size_t len)
{
	struct adversary *a = ADV(SC(s));

	if (len)
		sim_transmit_as(s, a->node, a->addr, SWARM_BROADCAST, p, len);
}

/* The adversary hears a packet: capture it, or echo it (eclipse). */
static void adversary_rx(struct sim *s, struct sim_node *sn, const uint8_t *p, size_t len)
{
	struct scen *c = SC(s);
	struct capture *cp;

	c->cur = sn->index - s->o.nodes;   /* adversaries share what they hear */
	if (len < PHEROMONE_HEADER_BYTES || p[1] == PH_PULL || c->ncap == MAX_CAPTURE)
		return;
	if (!strcmp(c->attack, "eclipse") && pheromone_type_relayed(p[1])) {
		adv_send(s, p, len);   /* echo at once to suppress honest relays */
		return;
	}
	if (strcmp(c->attack, "replay") && strcmp(c->attack, "forge") && strcmp(c->attack, "queen") &&
	    strcmp(c->attack, "spoof-frame") && strcmp(c->attack, "stale-frame"))
		return;
	for (uint32_t i = 0; i < c->ncap; i++)   /* one capture per message */
		if (c->cap[i].len == len && !memcmp(c->cap[i].pkt + 4, p + 4, 8))
			return;
	cp = &c->cap[c->ncap++];
	cp->t = s->now;
	cp->stage = 0;
	cp->len = (uint16_t)len;
	memcpy(cp->pkt, p, len);
}

/* Replays: at once, after 2 s, after 5 s and (queen scenario) after 35 s. */
static void replay_step(struct sim *s)
{
	struct scen *c = SC(s);
	static const uint64_t stage_age[4] = { 0, 2000, 5000, 35000 };

	for (uint32_t i = c->cur; i < c->ncap; i += c->nadv) {   /* each adversary its share */
		struct capture *cp = &c->cap[i];
		if (cp->stage < 4 && s->now - cp->t >= stage_age[cp->stage]) {
			pheromone_set_route(cp->pkt, PHEROMONE_MAX_TTL, 0);
			adv_send(s, cp->pkt, cp->len);
			cp->stage++;
		}
	}
}

/* Outsider forgeries: garbage, random MACs, bit-flipped captures. */
static void forge_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], key[CX_KEY_BYTES];
	uint8_t body[4 + 8 + CX_SIGNATURE_BYTES];
	size_t len = 24 + sim_rand(s) % 200;
	uint32_t qid = s->queen_index >= 0 ? s->nodes[s->queen_index].node.id : 1;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)sim_rand(s);
	adv_send(s, buf, len);
	for (int i = 0; i < CX_KEY_BYTES; i++)
		key[i] = (uint8_t)sim_rand(s);
	memset(body, 0, sizeof body);
	put_u16(body + 2, 8);
	{
		struct pheromone h = { .type = PH_QUEEN_CMD, .ttl = 8, .sender = qid,
				       .seq = (uint32_t)(sim_rand(s) % 1000) + 1,
				       .timestamp_ms = s->now, .flags = PHF_SIGNED };
		int k = pheromone_encode(buf, sizeof buf, &h, body, sizeof body, &c->outsider, key);
		if (k > 0)
			adv_send(s, buf, (size_t)k);
		h.type = PH_DATA;
		k = pheromone_encode(buf, sizeof buf, &h, body, 12, &c->outsider, key);
		if (k > 0)
			adv_send(s, buf, (size_t)k);
	}
	if (c->ncap) {
		struct capture *cp = &c->cap[sim_rand(s) % c->ncap];
		if (cp->len <= PHEROMONE_HEADER_BYTES)   /* e.g. another adversary's garbage */
			return;
		memcpy(buf, cp->pkt, cp->len);
		buf[PHEROMONE_HEADER_BYTES + sim_rand(s) % (cp->len - PHEROMONE_HEADER_BYTES)] ^=
			(uint8_t)(1u << (sim_rand(s) % 8));
		adv_send(s, buf, cp->len);
	}
}

/* Insider without the queen key: commands and DIE orders under its own key. */
static void fake_queen_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], payload[16 + CX_SIGNATURE_BYTES];
	uint32_t victim = s->nodes[random_live_honest(s)].node.id;
	uint32_t qid = s->queen_index >= 0 ? s->nodes[s->queen_index].node.id : ADV(c)->id;
	struct pheromone h = { .type = PH_QUEEN_CMD, .ttl = 8, .sender = ADV(c)->id,
			       .seq = ++ADV(c)->seq, .timestamp_ms = s->now, .flags = PHF_SIGNED };
	size_t k;

	put_u16(payload, QC_MARK);
	put_u16(payload + 2, 8);
	memset(payload + 4, 0xee, 8);
	pheromone_queen_sign(payload + 12, &h, payload, 12, c->adv_sign_sk);
	k = adv_encode(c, buf, PH_QUEEN_CMD, 8, ADV(c)->id, h.seq, s->now, payload, 12 + 64, PHF_SIGNED);
	adv_send(s, buf, k);
	/* a DIE for an honest node, signed with the wrong key */
	h.type = PH_DIE;
	h.seq = ++ADV(c)->seq;
	put_u32(payload, victim);
	payload[4] = DIE_ORDERED;
	pheromone_queen_sign(payload + 5, &h, payload, 5, c->adv_sign_sk);
	k = adv_encode(c, buf, PH_DIE, 8, ADV(c)->id, h.seq, s->now, payload, 5 + 64, PHF_SIGNED);
	adv_send(s, buf, k);
	/* posing as the queen's identity with a garbage signature */
	memset(payload + 12, 0x5a, 64);
	put_u16(payload, QC_MARK);
	put_u16(payload + 2, 8);
	k = adv_encode(c, buf, PH_QUEEN_CMD, 8, qid, (uint32_t)(sim_rand(s) % 64) + 1, s->now,
		       payload, 12 + 64, PHF_SIGNED);
	adv_send(s, buf, k);
}

/* Insider flood: DATA far above the per-sender rate. */
static void flood_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], payload[32] = { 0 };

	adv_send(s, buf, adv_encode(c, buf, PH_DATA, 8, ADV(c)->id, ++ADV(c)->seq, s->now,
				    payload, sizeof payload, 0));
}

/* Insider sybil: a new identity every step, with a HELLO and a DATA. */
static void sybil_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], hello[12] = { 0 }, payload[8] = { 0 };
	uint32_t id;

	if (c->nsybil == SYBIL_IDS)
		return;
	put_u16(hello + 2, 1000);
	if (s->now < 1500) {   /* first a member like any other */
		adv_send(s, buf, adv_encode(c, buf, PH_HELLO, 1, ADV(c)->id, ++ADV(c)->seq, s->now,
					    hello, sizeof hello, 0));
		return;
	}
	id = (uint32_t)sim_rand(s) | 1;
	c->sybil_ids[c->nsybil++] = id;
	put_u16(hello + 2, 1000);
	/* the compromised node's own identity keeps its place first */
	adv_send(s, buf, adv_encode(c, buf, PH_HELLO, 1, ADV(c)->id, ++ADV(c)->seq, s->now, hello,
				    sizeof hello, 0));
	adv_send(s, buf, adv_encode(c, buf, PH_HELLO, 1, id, 1, s->now, hello, sizeof hello, 0));
	adv_send(s, buf, adv_encode(c, buf, PH_DATA, 8, id, 2, s->now, payload, sizeof payload, 0));
}

/*
 * A moving outsider sends from where it is now, under the link address of
 * one of the honest nodes around it (on lan: of anyone), or under its own
 * spoofed one when none is around.
 */
static void moving_spoof_send(struct sim *s, const uint8_t *p, size_t len)
{
	struct adversary *a = ADV(SC(s));
	const struct sim_node *sn = &s->nodes[a->node];
	uint32_t addr = a->addr;

	if (s->lan)
		addr = (uint32_t)(sim_rand(s) % s->o.nodes);
	else if (sn->nnbr) {
		uint32_t k = sn->nbrs[sim_rand(s) % sn->nnbr];
		if (k < s->o.nodes)   /* not another adversary */
			addr = k;
	}
	if (len)
		sim_transmit_as(s, a->node, addr, SWARM_BROADCAST, p, len);
}

/*
 * Send from next to a random honest node while claiming the link address
 * of one of its neighbours (on lan: of anyone): an outsider with radios
 * all over the area and no key.
 */
static void spoof_send(struct sim *s, const uint8_t *p, size_t len)
{
	uint32_t v, a;

	if (SC(s)->moving) {
		moving_spoof_send(s, p, len);
		return;
	}
	v = a = random_live_honest(s);

	if (s->lan)
		a = (uint32_t)(sim_rand(s) % s->o.nodes);
	else if (s->nodes[v].nnbr)
		a = s->nodes[v].nbrs[sim_rand(s) % s->nodes[v].nnbr];
	if (a >= s->o.nodes)
		a = v;
	if (len)
		sim_transmit_as(s, v, a, SWARM_BROADCAST, p, len);
}

/* Keyless garbage, bad MACs and relocated fresh captures under honest addresses. */
static void spoof_frame_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], key[CX_KEY_BYTES];

	for (int k = 0; k < 4; k++) {
		size_t len = 24 + sim_rand(s) % 200;
		struct pheromone h = { .type = PH_DATA, .ttl = 8, .sender = (uint32_t)sim_rand(s) | 1,
				       .seq = (uint32_t)(sim_rand(s) % 1000) + 1, .timestamp_ms = s->now };
		int n;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)sim_rand(s);
		buf[0] = PHEROMONE_VERSION;
		spoof_send(s, buf, len);
		for (int i = 0; i < CX_KEY_BYTES; i++)
			key[i] = (uint8_t)sim_rand(s);
		n = pheromone_encode(buf, sizeof buf, &h, key, sizeof key, &c->outsider, key);
		if (n > 0)
			spoof_send(s, buf, (size_t)n);
		if (c->ncap) {
			struct capture *cp = &c->cap[sim_rand(s) % c->ncap];
			if (s->now - cp->t > 20000)
				continue;
			memcpy(buf, cp->pkt, cp->len);
			pheromone_set_route(buf, buf[2] ? buf[2] : 1, 0);
			spoof_send(s, buf, cp->len);
		}
	}
}

/* Captures replayed once stale, as if honest neighbours had sent them. */
static void stale_frame_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES];
	uint32_t sent = 0;

	for (uint32_t i = 0; i < c->ncap && sent < 8; i++) {
		struct capture *cp = &c->cap[(i + (uint32_t)sim_rand(s)) % c->ncap];
		if (s->now < cp->t + s->cfg.gossip.ts_bound_ms + 500 || cp->stage >= 30)
			continue;
		cp->stage++;
		memcpy(buf, cp->pkt, cp->len);
		pheromone_set_route(buf, buf[2] ? buf[2] : 1, 0);
		spoof_send(s, buf, cp->len);
		sent++;
	}
}

/*
 * Insider flood under a new sender id for every other message (signed
 * with its own key: it has no certificate for those ids), and under its
 * own id for the others.
 */
static void flood_rotate_step(struct sim *s)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], payload[32] = { 0 };
	bool own = ++c->rotate_id & 1;

	memcpy(payload, adv_magic, sizeof adv_magic);
	put_u32(payload + 4, c->rotate_id);
	adv_send(s, buf, adv_encode(c, buf, PH_DATA, 8, own ? ADV(c)->id : (uint32_t)sim_rand(s) | 1,
				    own ? ++ADV(c)->seq : 1, s->now, payload, sizeof payload, 0));
}

/* Sign a made-up store entry with the adversary's own key. */
static void poison_entry(struct scen *c, struct kvstore *kv, uint16_t key, uint64_t stamp,
			 uint32_t writer, const uint8_t *cert, const char *value)
{
	struct kv_entry *e = &kv->e[key];
	uint8_t msg[KV_SIGNED_MAX];

	memset(e, 0, sizeof *e);
	e->stamp = stamp;
	e->writer = writer;
	e->len = 4;
	memcpy(e->value, value, 4);
	cx_sign(e->sig, msg, kv_signed_bytes(msg, key, e), ADV(c)->ident.sk);
	memcpy(e->cert, cert, CERT_BYTES);
}

/* Send every part of a made-up store as the adversary's STATE messages. */
static void poison_send(struct sim *s, const struct kvstore *kv)
{
	struct scen *c = SC(s);
	uint8_t buf[PHEROMONE_MAX_BYTES], payload[PHEROMONE_MAX_PAYLOAD];
	uint16_t from = 0;
	int k;

	while (from < KV_KEYS && (k = kv_encode_sync(kv, &from, ADV(c)->id, payload,
						     sizeof payload)) > 0)
		adv_send(s, buf, adv_encode(c, buf, PH_STATE, 8, ADV(c)->id, ++ADV(c)->seq, s->now,
					    payload, (size_t)k, 0));
}

/*
 * Insider: until 2 s, its own entries with the largest stamp for every key
 * (v1 took a Lamport counter of 2^32 - 1 and froze every store); then, to
 * the end, entries forged under a random honest writer's id (its genuine
 * certificate attached, signed with the insider's key) stamped 29 s ahead
 * for the keys honest nodes write, which would win against those writes.
 */
static void kv_poison_step(struct sim *s)
{
	struct scen *c = SC(s);
	static struct kvstore kv;
	uint32_t v = random_live_honest(s);

	kv_init(&kv);
	if (s->now <= 2000) {
		for (uint16_t key = 0; key < KV_KEYS; key++)
			poison_entry(c, &kv, key, UINT64_MAX, ADV(c)->id, ADV(c)->ident.cert, "PSN!");
	} else {
		for (uint16_t key = 0; key < POISON_KEYS; key++)
			poison_entry(c, &kv, key, s->now + KV_FUTURE_MS - 1000, s->nodes[v].node.id,
				     s->nodes[v].node.cfg.identity.cert, "FRG!");
	}
	poison_send(s, &kv);
}

/* One step of the chosen attack by the adversary acting now. */
static void adversary_step(struct sim *s)
{
	struct scen *c = SC(s);
	const char *a = c->attack;

	if (!strcmp(a, "replay") || !strcmp(a, "queen"))
		replay_step(s);
	if (!strcmp(a, "forge") || !strcmp(a, "queen"))
		forge_step(s);
	if (!strcmp(a, "fake-queen") || !strcmp(a, "queen"))
		fake_queen_step(s);
	if (!strcmp(a, "flood"))
		flood_step(s);
	if (!strcmp(a, "sybil") || !strcmp(a, "eclipse"))
		sybil_step(s);
	if (!strcmp(a, "spoof-frame"))
		spoof_frame_step(s);
	if (!strcmp(a, "stale-frame"))
		stale_frame_step(s);
	if (!strcmp(a, "flood-rotate"))
		flood_rotate_step(s);
	if (!strcmp(a, "kv-poison"))
		kv_poison_step(s);
}

/* One step of every adversary, then reschedule. */
static void adversary_tick(struct sim *s, uint32_t period)
{
	struct scen *c = SC(s);

	for (c->cur = 0; c->cur < c->nadv; c->cur++)
		adversary_step(s);
	c->cur = 0;
	sim_at(s, s->now + period, adversary_tick, period);
}

/* Outsiders hold no key; the other attacks are an insider's (or mixed). */
static bool outsider_attack(const char *a)
{
	return !strcmp(a, "replay") || !strcmp(a, "forge") || !strcmp(a, "spoof-frame") ||
	       !strcmp(a, "stale-frame");
}

/* Give the adversary acting now a certified identity from the attacker's
 * stock of compromised nodes (the last one again once the stock is used). */
static void adversary_identity(struct sim *s)
{
	struct scen *c = SC(s);
	struct adversary *a = ADV(c);

	if (c->nids == ADV_IDS)
		return;
	sim_issue_identity(s, &a->ident, 1u << ROLE_WORKER);   /* a member like any other */
	a->id = node_id_from_pk(a->ident.pk);
	a->seq = 0;
	c->ids[c->nids++] = a->id;
}

/*
 * --adversary-move: every adversary detaches and re-attaches at a random
 * new place.  An outsider comes back under a spoofed address (a random
 * honest node's); an insider alternates: odd moves under a fresh address
 * of its own and the same identity (its bans must follow it), even moves
 * under a random honest node's address and a fresh certified identity.
 */
static void adversary_move(struct sim *s, uint32_t period)
{
	struct scen *c = SC(s);

	for (c->cur = 0; c->cur < c->nadv; c->cur++) {
		struct adversary *a = ADV(c);
		sim_relocate(s, a->node);
		a->moves++;
		if (outsider_attack(c->attack) || !(a->moves & 1))
			a->addr = (uint32_t)(sim_rand(s) % s->o.nodes);
		else
			a->addr = ADV_ADDR_BASE + c->fresh_addr++;
		if (!outsider_attack(c->attack) && !(a->moves & 1))
			adversary_identity(s);
	}
	c->cur = 0;
	sim_at(s, s->now + period, adversary_move, period);
}

/* Give the adversary its (compromised) keys and start the attack. */
static void adversary_setup(struct sim *s, const char *attack)
{
	struct scen *c = SC(s);
	uint8_t seed[CX_SIGN_SEED_BYTES], pk[CX_SIGN_PUBLIC_BYTES];
	uint32_t period = 20;

	c->attack = attack;
	c->cap = calloc(MAX_CAPTURE, sizeof *c->cap);
	pheromone_mac_key(c->adv_mac, s->cfg.swarm_key);   /* the compromised node's key */
	for (int i = 0; i < CX_SIGN_SEED_BYTES; i++)
		seed[i] = (uint8_t)sim_rand(s);
	cx_sign_keypair(pk, c->adv_sign_sk, seed);
	c->nadv = s->n - s->o.nodes;
	adversary_identity(s);
	/* an outsider's key pair, with a certificate signed by a key of its own */
	for (int i = 0; i < CX_SIGN_SEED_BYTES; i++)
		seed[i] = (uint8_t)sim_rand(s);
	identity_issue(&c->outsider, seed, ROLES_ALL, UINT64_MAX / 2, c->adv_sign_sk);
	s->on_adversary_rx = adversary_rx;
	for (c->cur = 0; c->cur < c->nadv; c->cur++) {
		ADV(c)->node = ADV(c)->addr = s->o.nodes + c->cur;
		if (c->cur)
			adversary_identity(s);
		sim_boot(s, ADV(c)->node);
	}
	c->cur = 0;
	if (s->o.adversary_move_s > 0) {
		uint32_t move = (uint32_t)(s->o.adversary_move_s * 1000.0);
		sim_at(s, 1000 + (move ? move : 1), adversary_move, move ? move : 1);
	}
	if (!strcmp(attack, "flood") || !strcmp(attack, "flood-rotate"))
		period = 2;
	else if (!strcmp(attack, "kv-poison"))
		period = 100;
	else if (!strcmp(attack, "rejoin") || !strcmp(attack, "none"))
		period = 1000;   /* no adversary at all: honest restarts only */
	else if (!strcmp(attack, "sybil") || !strcmp(attack, "eclipse"))
		period = 50;
	else if (!strcmp(attack, "replay") || !strcmp(attack, "queen"))
		period = 100;
	else if (!strcmp(attack, "fake-queen"))
		period = 200;
	sim_at(s, 1000, adversary_tick, period);
}

static uint8_t *largest_component(struct sim *s);

/* Honest restart: the node is down for a second, then boots afresh. */
static void do_reboot(struct sim *s, uint32_t i)
{
	struct scen *c = SC(s);

	for (uint32_t k = 0; k < c->ntr; k++)   /* a new life may take them once more */
		if (c->tr[k].got[i])
			c->tr[k].got[i] = 2;
	sim_boot(s, i);
}

static void do_restart(struct sim *s, uint32_t i)
{
	if (!s->nodes[i].alive)
		return;
	sim_kill(s, i);
	sim_at(s, s->now + 1000, do_reboot, i);
}

/* kv-poison: an honest node writes key k after the poison went out. */
static void do_poison_write(struct sim *s, uint32_t k)
{
	struct scen *c = SC(s);
	uint32_t w = random_live_honest(s);

	if (!c->main_comp)
		c->main_comp = largest_component(s);
	while (!c->main_comp[w])      /* a writer the whole main component can hear */
		w = random_live_honest(s);
	for (size_t i = 0; i < sizeof c->poison_value[k]; i++)
		c->poison_value[k][i] = (uint8_t)sim_rand(s);
	c->poison_written[k] = true;
	swarm_state_set(&s->nodes[w].node, (uint16_t)k, c->poison_value[k],
			sizeof c->poison_value[k], sim_clock(s, w));
	sim_reschedule(s, w);
}

/*
 * Keys whose last honest write some live honest node of the main component
 * does not hold (nodes cut off from every writer cannot know it).
 */
static uint64_t frozen_keys(struct sim *s)
{
	struct scen *c = SC(s);
	uint64_t frozen = 0;

	if (!c->main_comp)
		c->main_comp = largest_component(s);
	for (uint32_t k = 0; k < POISON_KEYS; k++) {
		if (!c->poison_written[k])
			continue;
		for (uint32_t i = 0; i < s->o.nodes; i++) {
			const struct kv_entry *e = &s->nodes[i].node.kv.e[k];
			if (s->nodes[i].alive && c->main_comp[i] && (e->len != sizeof c->poison_value[k] ||
			    memcmp(e->value, c->poison_value[k], e->len))) {
				frozen++;
				break;
			}
		}
	}
	return frozen;
}

/* Store entries held by live nodes under an honest writer's id that the
 * writer never made (kv-poison's forgeries). */
static uint64_t forged_entries(struct sim *s)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		for (int k = 0; s->nodes[i].alive && k < KV_KEYS; k++) {
			const struct kv_entry *e = &s->nodes[i].node.kv.e[k];
			n += e->stamp && adv_identity(SC(s), e->writer) < 0 && !memcmp(e->value, "FRG!", 4);
		}
	return n;
}

/* Honest nodes whose id some honest node banned. */
static uint32_t honest_banned(struct sim *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		n += SC(s)->honest_banned[i];
	return n;
}

/* The fields every swarm scenario's JSON line ends with. */
static void print_common(struct sim *s, uint64_t accepted)
{
	uint64_t skipped = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++)
		skipped += s->nodes[i].node.certless_skipped;
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "HELLOs skipped for want of a certificate %llu\n",
			(unsigned long long)skipped);
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "signatures made %llu, checks %llu, distinct %llu, per node per s %.2f %.2f\n",
			(unsigned long long)s->signed_count, (unsigned long long)s->verify_calls,
			(unsigned long long)s->verify_computed,
			(double)s->signed_count * 1000.0 / ((double)s->o.nodes * (double)s->now),
			(double)s->verify_calls * 1000.0 / ((double)s->o.nodes * (double)s->now));
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "transmissions %llu deliveries %llu\n", (unsigned long long)s->transmissions,
			(unsigned long long)s->deliveries);
	if (s->o.lan_kbps)
		printf(",\"lan_collisions\":%llu,\"lan_dropped\":%llu",
		       (unsigned long long)s->lan_collisions, (unsigned long long)s->lan_dropped);
	printf(",\"accepted\":%llu,\"honest_banned\":%u,\"false_dead\":%llu}\n",
	       (unsigned long long)accepted, honest_banned(s),
	       (unsigned long long)SC(s)->false_dead);
}

/* Forged, replayed or stale messages acted on, in a run without an attack. */
static uint64_t accepted_honest_run(struct sim *s)
{
	struct scen *c = SC(s);

	return c->untracked_acted + c->die_acted + c->replay_acted + c->stale_acted;
}

/* -------------------------------------------------------------- state */

static void do_partition(struct sim *s, uint32_t on)
{
	struct scen *c = SC(s);

	s->partitioned = on;
	if (on)
		for (uint32_t i = 0; i < s->n; i++)
			s->nodes[i].group = s->lan ? (i & 1) : s->nodes[i].x >= 0.5;
	else
		c->heal_t = s->now;
}

/* A random node on one side writes a random key. */
static void do_state_write(struct sim *s, uint32_t side)
{
	struct scen *c = SC(s);
	uint32_t w;
	uint16_t key = (uint16_t)(sim_rand(s) % 16);
	uint8_t v[16];

	do
		w = random_live_honest(s);
	while (s->nodes[w].group != side);
	for (size_t i = 0; i < sizeof v; i++)
		v[i] = (uint8_t)sim_rand(s);
	if (swarm_state_set(&s->nodes[w].node, key, v, sizeof v, sim_clock(s, w)) < 0)
		return;
	kv_merge(&c->reference, key, &s->nodes[w].node.kv.e[key], sim_clock(s, w));
	sim_reschedule(s, w);
	if (c->nwk < 64)
		c->writers_killed[c->nwk++] = w;
}

/* Kill the writers (their values must survive them); restart at heal. */
static void do_kill_writers(struct sim *s, uint32_t restart)
{
	struct scen *c = SC(s);

	for (uint32_t i = 0; i < c->nwk; i++) {
		if (restart)
			sim_boot(s, c->writers_killed[i]);
		else if (s->nodes[c->writers_killed[i]].alive)
			sim_kill(s, c->writers_killed[i]);
	}
}

/* Mask of the largest connected component of live honest nodes. */
static uint8_t *largest_component(struct sim *s)
{
	uint8_t *best = calloc(s->n, 1), *seen = calloc(s->n, 1), *cur = calloc(s->n, 1);
	uint32_t best_n = 0;

	for (uint32_t i = 0; i < s->o.nodes; i++) {
		uint32_t k;
		if (seen[i] || !s->nodes[i].alive)
			continue;
		k = sim_component(s, i, cur);
		for (uint32_t v = 0; v < s->n; v++)
			seen[v] |= cur[v];
		if (k > best_n) {
			best_n = k;
			memcpy(best, cur, s->n);
		}
	}
	free(seen);
	free(cur);
	return best;
}

/* Every 100 ms: do all live nodes of the main component hold the reference store? */
static void check_converged(struct sim *s, uint32_t arg)
{
	struct scen *c = SC(s);
	uint64_t want = kv_digest(&c->reference);
	bool ok = true;

	if (!c->main_comp)
		c->main_comp = largest_component(s);
	for (uint32_t i = 0; i < s->o.nodes && ok; i++)
		if (s->nodes[i].alive && c->main_comp[i] && kv_digest(&s->nodes[i].node.kv) != want)
			ok = false;
	if (ok && !c->converged) {
		c->converged = true;
		c->converge_t = s->now;
	}
	if (!ok)
		c->converged = false;
	sim_at(s, s->now + 100, check_converged, arg);
}

/* ------------------------------------------------------------ scenarios */

static uint64_t dur_ms(const struct sim_opts *o, double dflt)
{
	return (uint64_t)((o->duration_s >= 0 ? o->duration_s : dflt) * 1000.0);
}

/* Boot every honest node. */
static void boot_all(struct sim *s)
{
	for (uint32_t i = 0; i < s->o.nodes; i++)
		sim_boot(s, i);
}

/* Scenario broadcast. */
static int run_broadcast(struct sim *s, const struct sim_opts *o)
{
	uint64_t end = dur_ms(o, 10);
	double cov, ttf, txpn, cov_min;

	boot_all(s);
	for (uint32_t b = 0; b < 10; b++)
		sim_at(s, 2000 + b * (end > 6000 ? (end / 2 - 2000) / 10 : 100), do_broadcast, UINT32_MAX);
	sim_run_until(s, end);
	spread_metrics(s, &cov, &ttf, &txpn, &cov_min);
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "pull requests %llu\n", (unsigned long long)SC(s)->tx_pull);
	printf("{\"scenario\":\"broadcast\",\"nodes\":%u,\"coverage\":%.4f,\"coverage_min\":%.4f,"
	       "\"time_to_full_ms\":%.1f,\"tx_per_node\":%.4f", o->nodes, cov, cov_min, ttf, txpn);
	print_common(s, accepted_honest_run(s));
	return 0;
}

/* Scenario membership. */
static int run_membership(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = SC(s);
	uint64_t end = dur_ms(o, 60);
	uint32_t kills = o->nodes / 100 ? o->nodes / 100 : 1;
	double detect = 0;

	boot_all(s);
	sim_at(s, end / 2, do_kill_for_membership, kills);
	sim_run_until(s, end);
	for (uint32_t k = 0; k < c->nkl; k++) {
		/* observers that were killed themselves cannot report */
		uint32_t waiting = 0;
		uint64_t t;
		for (uint32_t u = 0; u < s->o.nodes; u++)
			waiting += c->kl[k].observer[u] == 1 && s->nodes[u].alive;
		t = waiting ? end : c->kl[k].detected ? c->kl[k].last_detect : c->kl[k].t;
		detect += (double)(t - c->kl[k].t);
	}
	printf("{\"scenario\":\"membership\",\"nodes\":%u,\"detect_ms\":%.1f", o->nodes,
	       c->nkl ? detect / c->nkl : 0);
	print_common(s, accepted_honest_run(s));
	return 0;
}

/* Scenario queen. */
static int run_queen(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = SC(s);
	uint64_t end = dur_ms(o, 50);
	double cov, ttf, txpn, cov_min;

	s->queen_index = 0;
	boot_all(s);
	adversary_setup(s, "queen");
	for (uint32_t k = 0; k < 5; k++)
		sim_at(s, 2000 + 2000 * k, do_queen_cmd, k);
	sim_run_until(s, end);
	spread_metrics(s, &cov, &ttf, &txpn, &cov_min);
	printf("{\"scenario\":\"queen\",\"nodes\":%u,\"reach\":%.4f,\"forged_accepted\":%llu,"
	       "\"replayed_accepted\":%llu", o->nodes, cov,
	       (unsigned long long)(c->untracked_acted + c->die_acted),
	       (unsigned long long)(c->replay_acted + c->stale_acted));
	print_common(s, accepted_honest_run(s));
	return 0;
}

/* Scenario state. */
static int run_state(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = SC(s);
	uint64_t end = dur_ms(o, 30);

	boot_all(s);
	kv_init(&c->reference);
	sim_at(s, 1000, do_partition, 1);
	for (uint32_t k = 0; k < 8; k++) {
		sim_at(s, 2000 + 500 * k, do_state_write, 0);
		sim_at(s, 2250 + 500 * k, do_state_write, 1);
	}
	sim_at(s, 7000, do_kill_writers, 0);
	sim_at(s, 8000, do_partition, 0);
	sim_at(s, 8000, do_kill_writers, 1);
	sim_at(s, 8000, check_converged, 0);
	sim_run_until(s, end);
	printf("{\"scenario\":\"state\",\"nodes\":%u,\"converged\":%s,\"converge_ms\":%.1f",
	       o->nodes, c->converged ? "true" : "false",
	       c->converged ? (double)(c->converge_t - c->heal_t) : (double)(end - c->heal_t));
	print_common(s, accepted_honest_run(s));
	return 0;
}

/* gc: node arg + 1 writes key arg (the first GC_KEYS nodes after the queen). */
static void do_gc_write(struct sim *s, uint32_t arg)
{
	uint8_t v[8];

	for (size_t i = 0; i < sizeof v; i++)
		v[i] = (uint8_t)sim_rand(s);
	swarm_state_set(&s->nodes[arg + 1].node, (uint16_t)arg, v, sizeof v, sim_clock(s, arg + 1));
	sim_reschedule(s, arg + 1);
}

/* gc: kill the writers of keys 0..GC_DEAD-1, revoke the writer of key GC_DEAD. */
static void do_gc_end_writers(struct sim *s, uint32_t arg)
{
	(void)arg;
	for (uint32_t k = 0; k < GC_DEAD; k++)
		sim_kill(s, k + 1);
	track(s, 0, PH_QUEEN_CMD, swarm_queen_revoke(&s->nodes[0].node,
						     s->nodes[GC_DEAD + 1].node.id, CERT_DAY_MS,
						     sim_clock(s, 0)));
	sim_reschedule(s, 0);
	SC(s)->heal_t = s->now;
}

/*
 * gc, every 250 ms: do all live nodes of the main component hold no live
 * entry of a dead or revoked writer (collected), and still every live
 * writer's (kept)?  Also counts their tombstones and floors.
 */
static void check_collected(struct sim *s, uint32_t arg)
{
	struct scen *c = SC(s);
	bool all = true;

	if (!c->main_comp)
		c->main_comp = largest_component(s);
	c->gc_kept = true;
	c->gc_tombstones = c->gc_floors = 0;
	for (uint32_t i = 0; i < s->o.nodes; i++) {
		const struct kvstore *kv = &s->nodes[i].node.kv;
		if (!s->nodes[i].alive || !c->main_comp[i] || i == GC_DEAD + 1)
			continue;
		for (uint32_t k = 0; k < GC_KEYS; k++) {
			const struct kv_entry *e = &kv->e[k];
			bool live = e->stamp && !e->tombstone && e->writer == s->nodes[k + 1].node.id;
			if (k <= GC_DEAD && live)
				all = false;
			if (k > GC_DEAD && !live)
				c->gc_kept = false;
			c->gc_tombstones += e->stamp && e->tombstone;
			c->gc_floors += kv->floor[k] != 0;
		}
	}
	if (all && !c->converged) {
		c->converged = true;
		c->converge_t = s->now;
	}
	c->converged = all;
	sim_at(s, s->now + 250, check_collected, arg);
}

/* Scenario gc: writers die or are revoked; their entries must go
 * everywhere (after the grace period), the others' stay, and the
 * tombstones expire. */
static int run_gc(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = SC(s);
	uint64_t end = dur_ms(o, 70);

	s->queen_index = 0;
	s->cfg.kv_gc_grace_ms = 10000;
	s->cfg.kv_tombstone_ms = 20000;
	boot_all(s);
	for (uint32_t k = 0; k < GC_KEYS; k++)
		sim_at(s, 2000 + 200 * k, do_gc_write, k);
	sim_at(s, 5000, do_gc_end_writers, 0);
	sim_at(s, 5000, check_collected, 0);
	sim_run_until(s, end);
	printf("{\"scenario\":\"gc\",\"nodes\":%u,\"collected\":%s,\"collect_ms\":%.1f,"
	       "\"kept\":%s,\"tombstones\":%llu,\"floors\":%llu", o->nodes,
	       c->converged ? "true" : "false",
	       c->converged ? (double)(c->converge_t - c->heal_t) : -1.0,
	       c->gc_kept ? "true" : "false", (unsigned long long)c->gc_tombstones,
	       (unsigned long long)c->gc_floors);
	print_common(s, accepted_honest_run(s));
	return 0;
}

/* Scenario attack. */
static int run_attack(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = SC(s);
	const char *a = o->attack ? o->attack : "forge";
	bool longer = !strcmp(a, "stale-frame") || !strcmp(a, "rejoin");
	uint64_t end = dur_ms(o, longer ? 45 : !strcmp(a, "kv-poison") ? 10 : 6);
	double cov, ttf, txpn, cov_min, secs = (double)end / 1000.0, allowed;
	uint64_t accepted, blacklisted = 0, excess = 0, frozen, flood_max = 0;
	static const char *const known[] = { "replay", "forge", "fake-queen", "flood", "sybil",
		"eclipse", "spoof-frame", "stale-frame", "flood-rotate", "kv-poison", "rejoin", "none" };
	bool ok = false;

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		ok |= !strcmp(a, known[i]);
	if (!ok) {
		fprintf(stderr, "swarm-sim: unknown --attack %s\n", a);
		return 2;
	}
	s->queen_index = 0;
	boot_all(s);
	adversary_setup(s, a);
	if (!strcmp(a, "kv-poison"))
		for (uint32_t k = 0; k < POISON_KEYS; k++)
			sim_at(s, 2500 + 300 * k, do_poison_write, k);
	if (!strcmp(a, "rejoin"))     /* early restarts, and late ones that pull old messages */
		for (uint32_t k = 0; k < REJOINS && k + 1 < o->nodes; k++)
			sim_at(s, (k < REJOINS / 2 ? 3000 : 32000) + 400 * (k % (REJOINS / 2)),
			       do_restart, 1 + (uint32_t)((uint64_t)k * (o->nodes - 1) / REJOINS));
	for (uint32_t b = 0; b < 6; b++)      /* honest traffic during the attack */
		sim_at(s, 2000 + b * 300, do_broadcast, UINT32_MAX);
	sim_at(s, 2100, do_queen_cmd, 1);
	sim_at(s, 3100, do_queen_cmd, 2);
	sim_run_until(s, end);
	spread_metrics(s, &cov, &ttf, &txpn, &cov_min);
	/* the rate contract: per author, swarm-wide (ids cannot be rotated) */
	allowed = s->cfg.gossip.rate_burst + s->cfg.gossip.rate_per_s * secs;
	for (uint32_t i = 0; i < o->nodes; i++) {
		blacklisted += c->blacklisted[i];
		for (uint32_t k = 0; k < c->nids; k++) {
			uint32_t got = c->attacker_delivered[i * ADV_IDS + k];
			if (got > flood_max)
				flood_max = got;
			/* flood and flood-rotate: at most the budget per author and node,
			 * relays included */
			if ((!strcmp(a, "flood") || !strcmp(a, "flood-rotate")) && got > allowed)
				excess += (uint64_t)(got - allowed);
		}
	}
	frozen = frozen_keys(s);
	accepted = c->untracked_acted + c->die_acted + c->replay_acted + c->stale_acted +
		   c->sybil_admitted + excess + forged_entries(s) + c->ban_escapes;
	printf("{\"scenario\":\"attack\",\"attack\":\"%s\",\"nodes\":%u,"
	       "\"coverage\":%.4f,\"blacklisted\":%llu,\"frozen\":%llu,\"flood_max\":%llu,"
	       "\"budget\":%.0f", a, o->nodes, cov,
	       (unsigned long long)blacklisted, (unsigned long long)frozen,
	       (unsigned long long)flood_max, allowed);
	if (c->moving) {
		uint32_t moves = 0;
		for (uint32_t k = 0; k < c->nadv; k++)
			moves += c->adv[k].moves;
		printf(",\"adversaries\":%u,\"moves\":%u,\"identities\":%u,\"ban_escapes\":%llu",
		       c->nadv, moves, c->nids, (unsigned long long)c->ban_escapes);
	}
	print_common(s, accepted);
	return 0;
}

/* Nodes explore a 16 x 16 maze together; solved when every node holds a
 * path that is valid in the true maze. */
static int run_maze(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = SC(s);
	static uint8_t walls[16 * 16];
	static struct maze_world world = { 16, 16, 0, 16 * 16 - 1, walls };
	uint64_t end = dur_ms(o, 120), last = 0;
	bool all = true;

	maze_generate(walls, 16, 16, o->seed);
	s->cfg.modules[0] = &maze_module;
	s->cfg.module_env = &world;
	c->solved_t = calloc(s->n, sizeof *c->solved_t);
	boot_all(s);
	sim_run_until(s, end);
	for (uint32_t i = 0; i < o->nodes; i++) {
		const struct maze_state *m = (const void *)s->nodes[i].node.module_state[0];
		if (!s->nodes[i].alive)
			continue;
		if (!m->solved || !maze_path_valid(&world, m->path, m->path_len)) {
			all = false;
			continue;
		}
		if (c->solved_t[i] > last)
			last = c->solved_t[i];
	}
	free(c->solved_t);
	printf("{\"scenario\":\"maze\",\"nodes\":%u,\"solved\":%s,\"solved_ms\":%.1f",
	       o->nodes, all ? "true" : "false", all ? (double)last : (double)end);
	print_common(s, accepted_honest_run(s));
	return 0;
}

/* Set up the simulation and run the named swarm scenario. */
int sim_scenario_swarm(struct sim *s, const struct sim_opts *o)
{
	struct scen *c = calloc(1, sizeof *c);
	int rc;
	bool adversary = !strcmp(o->scenario, "queen") || !strcmp(o->scenario, "attack");

	sim_setup(s, o, adversary ? (o->adversaries ? o->adversaries : 1) : 0);
	s->scenario = c;
	c->moving = o->adversaries || o->adversary_move_s > 0;
	s->on_event = on_event;
	s->on_transmit = on_transmit;
	c->blacklisted = calloc(s->n, 1);
	c->honest_banned = calloc(s->n, 1);
	c->attacker_delivered = calloc((size_t)s->n * ADV_IDS, sizeof *c->attacker_delivered);
	c->banned_adv = calloc((size_t)s->n * ADV_IDS, 1);
	if (!strcmp(o->scenario, "broadcast"))
		rc = run_broadcast(s, o);
	else if (!strcmp(o->scenario, "membership"))
		rc = run_membership(s, o);
	else if (!strcmp(o->scenario, "queen"))
		rc = run_queen(s, o);
	else if (!strcmp(o->scenario, "state"))
		rc = run_state(s, o);
	else if (!strcmp(o->scenario, "gc"))
		rc = run_gc(s, o);
	else if (!strcmp(o->scenario, "attack"))
		rc = run_attack(s, o);
	else
		rc = run_maze(s, o);
	for (uint32_t i = 0; i < c->ntr; i++) {
		free(c->tr[i].elig);
		free(c->tr[i].got);
		free(c->tr[i].got_t);
	}
	for (uint32_t k = 0; k < c->nkl; k++)
		free(c->kl[k].observer);
	free(c->cap);
	free(c->main_comp);
	free(c->blacklisted);
	free(c->honest_banned);
	free(c->attacker_delivered);
	free(c->banned_adv);
	free(c);
	sim_free(s);
	return rc;
}
