/*
 * swarm-sim core: PRNG, event heap, packet pool, topologies, the network
 * model (loss, duplication, reordering, delay with jitter, partitions,
 * kill and restart), per-node clocks with skew and drift, and the glue
 * that drives swarm_node objects.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "net/bytes.h"
#include "net/sim/sim.h"

enum {
	BASE_DELAY_MS = 1,
	JITTER_MS = 4,
	REORDER_MIN_MS = 5,
	LAN_SLOT_US = 320,        /* --lan-kbps: CSMA backoff slot (802.15.4's) */
	LAN_CW_SLOTS = 16,        /* backoff drawn from 0..15 slots */
	LAN_QUEUE_US = 500000,    /* a packet that would wait longer is dropped */
	REORDER_SPAN_MS = 45,
};

/* xoshiro256** */
static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the one generator behind every random choice of a run. */
uint64_t sim_rand(struct sim *s)
{
	uint64_t *r = s->rng, result = rotl(r[1] * 5, 7) * 9, t = r[1] << 17;

	r[2] ^= r[0];
	r[3] ^= r[1];
	r[1] ^= r[2];
	r[0] ^= r[3];
	r[2] ^= t;
	r[3] = rotl(r[3], 45);
	return result;
}

/* A double in [0, 1) from the generator. */
double sim_uniform(struct sim *s)
{
	return (double)(sim_rand(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* calloc or exit: the simulator cannot continue without memory. */
static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "swarm-sim: out of memory\n");
		exit(2);
	}
	return p;
}

/* Zeroed memory backed by transparent huge pages where the kernel allows:
 * a thousand 100 KiB nodes otherwise cost a TLB miss per packet. */
static void *huge_calloc(size_t size)
{
	size_t align = 2u << 20, rounded = (size + align - 1) / align * align;
	void *p = NULL;

	if (posix_memalign(&p, align, rounded))
		return xcalloc(1, size);
	madvise(p, rounded, MADV_HUGEPAGE);
	memset(p, 0, rounded);
	return p;
}

/* ------------------------------------------------------------ event heap */

static bool before(const struct sim_event *a, const struct sim_event *b)
{
	return a->t < b->t || (a->t == b->t && a->order < b->order);
}

/* Insert an event; ties keep insertion order, so runs are deterministic. */
static void heap_push(struct sim *s, struct sim_event ev)
{
	size_t i;

	if (s->heap_len == s->heap_cap) {
		s->heap_cap = s->heap_cap ? 2 * s->heap_cap : 4096;
		s->heap = realloc(s->heap, s->heap_cap * sizeof *s->heap);
		if (!s->heap)
			exit(2);
	}
	ev.order = s->order++;
	i = s->heap_len++;
	while (i > 0 && before(&ev, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = ev;
}

/* Remove the earliest event. */
static struct sim_event heap_pop(struct sim *s)
{
	struct sim_event top = s->heap[0], last = s->heap[--s->heap_len];
	size_t i = 0, n = s->heap_len;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

/* ----------------------------------------------------------- packet pool */

static uint32_t pkt_alloc(struct sim *s, uint32_t src, const uint8_t *p, size_t len)
{
	uint32_t idx;

	if (!s->pool_nfree) {
		size_t old = s->pool_cap, cap = old ? 2 * old : 1024;
		s->pool = realloc(s->pool, cap * sizeof *s->pool);
		s->pool_free = realloc(s->pool_free, cap * sizeof *s->pool_free);
		if (!s->pool || !s->pool_free)
			exit(2);
		for (size_t i = old; i < cap; i++)
			s->pool_free[s->pool_nfree++] = (uint32_t)(cap - 1 - (i - old));
		s->pool_cap = cap;
	}
	idx = s->pool_free[--s->pool_nfree];
	s->pool[idx].refs = 0;
	s->pool[idx].src = src;
	s->pool[idx].addr = src;
	s->pool[idx].len = (uint16_t)len;
	s->pool[idx].collided = false;
	s->pool[idx].txno = s->transmissions + 1;
	memcpy(s->pool[idx].data, p, len);
	return idx;
}

/* Drop one reference to a pooled packet, freeing it at zero. */
static void pkt_release(struct sim *s, uint32_t idx)
{
	if (--s->pool[idx].refs == 0)
		s->pool_free[s->pool_nfree++] = idx;
}

/* ------------------------------------------------------------- topology */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Random geometric graph in the unit square with the requested mean degree. */
static void build_mesh(struct sim *s, uint32_t n)
{
	double r = sqrt(s->o.degree / (M_PI * n));
	uint32_t cells, *count, *start, *order;
	uint64_t edges = 0;

	for (uint32_t i = 0; i < n; i++) {
		s->nodes[i].x = sim_uniform(s);
		s->nodes[i].y = sim_uniform(s);
	}
	for (int iter = 0; iter < 6; iter++) {
		cells = (uint32_t)(1.0 / r);
		if (cells < 1)
			cells = 1;
		count = xcalloc((size_t)cells * cells + 1, sizeof *count);
		start = xcalloc((size_t)cells * cells + 1, sizeof *start);
		order = xcalloc(n, sizeof *order);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t cx = (uint32_t)(s->nodes[i].x * cells), cy = (uint32_t)(s->nodes[i].y * cells);
			if (cx >= cells) cx = cells - 1;
			if (cy >= cells) cy = cells - 1;
			count[cy * cells + cx]++;
		}
		for (uint32_t c = 1; c <= cells * cells; c++)
			start[c] = start[c - 1] + count[c - 1];
		memset(count, 0, ((size_t)cells * cells + 1) * sizeof *count);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t cx = (uint32_t)(s->nodes[i].x * cells), cy = (uint32_t)(s->nodes[i].y * cells);
			if (cx >= cells) cx = cells - 1;
			if (cy >= cells) cy = cells - 1;
			order[start[cy * cells + cx] + count[cy * cells + cx]++] = i;
		}
		edges = 0;
		for (uint32_t i = 0; i < n; i++) {
			struct sim_node *a = &s->nodes[i];
			int cx = (int)(a->x * cells), cy = (int)(a->y * cells);
			uint32_t cap = 16;
			free(a->nbrs);
			a->nbrs = xcalloc(cap, sizeof *a->nbrs);
			a->nnbr = 0;
			if (cx >= (int)cells) cx = (int)cells - 1;
			if (cy >= (int)cells) cy = (int)cells - 1;
			for (int dy = -1; dy <= 1; dy++)
				for (int dx = -1; dx <= 1; dx++) {
					int x = cx + dx, y = cy + dy;
					if (x < 0 || y < 0 || x >= (int)cells || y >= (int)cells)
						continue;
					uint32_t c = (uint32_t)y * cells + (uint32_t)x;
					for (uint32_t k = start[c]; k < start[c + 1]; k++) {
						uint32_t j = order[k];
						double ddx = a->x - s->nodes[j].x, ddy = a->y - s->nodes[j].y;
						if (j == i || ddx * ddx + ddy * ddy > r * r)
							continue;
						if (a->nnbr == cap) {
							cap *= 2;
							a->nbrs = realloc(a->nbrs, cap * sizeof *a->nbrs);
						}
						a->nbrs[a->nnbr++] = j;
					}
				}
			qsort(a->nbrs, a->nnbr, sizeof *a->nbrs, cmp_u32);
			edges += a->nnbr;
		}
		free(count);
		free(start);
		free(order);
		double mean = (double)edges / n;
		s->mesh_r = r;
		if (fabs(mean - s->o.degree) < 0.05 * s->o.degree || mean == 0)
			break;
		r *= sqrt(s->o.degree / mean);   /* edge effects lower the mean */
	}
}

/* Remove b from a's sorted neighbour list, or add it in order. */
static void nbr_set(struct sim_node *a, uint32_t b, bool linked)
{
	uint32_t k = 0;

	while (k < a->nnbr && a->nbrs[k] < b)
		k++;
	if (!linked) {
		if (k < a->nnbr && a->nbrs[k] == b)
			memmove(&a->nbrs[k], &a->nbrs[k + 1], (--a->nnbr - k) * sizeof *a->nbrs);
		return;
	}
	if (k < a->nnbr && a->nbrs[k] == b)
		return;
	a->nbrs = realloc(a->nbrs, (a->nnbr + 1) * sizeof *a->nbrs);
	if (!a->nbrs)
		exit(2);
	memmove(&a->nbrs[k + 1], &a->nbrs[k], (a->nnbr - k) * sizeof *a->nbrs);
	a->nbrs[k] = b;
	a->nnbr++;
}

/*
 * See sim.h: a moving node leaves every link it had and links, at a new
 * uniformly random place in the unit square, with every node within the
 * mesh's radius.  Packets in flight to or from it are dropped on arrival
 * when the link is gone (sim_run_until checks the link at delivery).
 */
void sim_relocate(struct sim *s, uint32_t i)
{
	struct sim_node *a = &s->nodes[i];

	if (s->lan)
		return;
	for (uint32_t k = 0; k < a->nnbr; k++)
		nbr_set(&s->nodes[a->nbrs[k]], i, false);
	a->nnbr = 0;
	a->x = sim_uniform(s);
	a->y = sim_uniform(s);
	for (uint32_t j = 0; j < s->n; j++) {
		double dx = a->x - s->nodes[j].x, dy = a->y - s->nodes[j].y;
		if (j == i || dx * dx + dy * dy > s->mesh_r * s->mesh_r)
			continue;
		nbr_set(a, j, true);
		nbr_set(&s->nodes[j], i, true);
	}
}

/* True when a and b can hear each other now (topology and partition). */
bool sim_linked(const struct sim *s, uint32_t a, uint32_t b)
{
	const struct sim_node *na = &s->nodes[a];
	uint32_t lo = 0, hi;

	if (a == b)
		return false;
	if (s->partitioned && na->group != s->nodes[b].group)
		return false;
	if (s->lan)
		return true;
	hi = na->nnbr;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (na->nbrs[mid] == b)
			return true;
		if (na->nbrs[mid] < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Breadth-first search over live honest nodes from src. */
uint32_t sim_component(const struct sim *s, uint32_t src, uint8_t *reach)
{
	uint32_t *queue = xcalloc(s->n, sizeof *queue), head = 0, tail = 0, count = 0;

	memset(reach, 0, s->n);
	reach[src] = 1;
	queue[tail++] = src;
	while (head < tail) {
		uint32_t u = queue[head++];
		count++;
		if (s->lan) {
			for (uint32_t v = 0; v < s->n; v++)
				if (!reach[v] && s->nodes[v].alive && !s->nodes[v].adversary &&
				    sim_linked(s, u, v)) {
					reach[v] = 1;
					queue[tail++] = v;
				}
			continue;
		}
		for (uint32_t k = 0; k < s->nodes[u].nnbr; k++) {
			uint32_t v = s->nodes[u].nbrs[k];
			if (!reach[v] && s->nodes[v].alive && !s->nodes[v].adversary &&
			    sim_linked(s, u, v)) {
				reach[v] = 1;
				queue[tail++] = v;
			}
		}
	}
	free(queue);
	return count;
}

/* ------------------------------------------------------------- nodes */

enum { VERIFIED_SLOTS = 1 << 16, CERT_LIFETIME_MS = 86400000 };

struct sim_verified {
	uint8_t key[16];          /* BLAKE2b of public key, signature and message */
	uint8_t valid;            /* 1 valid, 2 invalid, 0 empty */
};

/* The memo slot for a check: BLAKE2b of key, signature and message. */
static struct sim_verified *verified_slot(struct sim *s, const uint8_t *sig, const uint8_t *msg,
					  size_t len, const uint8_t *pk, uint8_t key[16])
{
	cx_hash_state st;

	cx_hash_init(&st, NULL, 0, 16);
	cx_hash_update(&st, pk, CX_SIGN_PUBLIC_BYTES);
	cx_hash_update(&st, sig, CX_SIGNATURE_BYTES);
	cx_hash_update(&st, msg, len);
	cx_hash_final(&st, key, 16);
	if (!s->verified)
		s->verified = calloc(VERIFIED_SLOTS, sizeof *s->verified);
	return &s->verified[get_u32(key) % VERIFIED_SLOTS];
}

/*
 * swarm_env.verify: a check is a pure function of (key, signature,
 * message), and a flooded message is checked alike by every node, so the
 * simulator computes each distinct one once; a signature it watched the
 * key's holder make (note_signed) is known valid without computing it.
 */
static int env_verify(void *ctx, const uint8_t sig[CX_SIGNATURE_BYTES], const uint8_t *msg,
		      size_t len, const uint8_t pk[CX_SIGN_PUBLIC_BYTES])
{
	struct sim *s = ((struct sim_node *)ctx)->sim;
	uint8_t key[16];
	struct sim_verified *v = verified_slot(s, sig, msg, len, pk, key);

	s->verify_calls++;
	if (v->valid && !memcmp(v->key, key, sizeof key))
		return v->valid == 1 ? 0 : -EBADMSG;
	s->verify_computed++;
	memcpy(v->key, key, sizeof key);
	v->valid = cx_verify(sig, msg, len, pk) ? 2 : 1;
	return v->valid == 1 ? 0 : -EBADMSG;
}

/* An honest node sent a packet it authored: its signature is genuine. */
static void note_signed(struct sim *s, const struct sim_node *sn, const uint8_t *pkt, size_t len)
{
	uint8_t msg[PHEROMONE_MAX_BYTES + 32], key[16];
	struct pheromone p;
	struct sim_verified *v;

	if (pheromone_decode(&p, pkt, len) || p.sender != sn->node.id)
		return;
	if (!p.cert)
		p.cert = sn->ident.cert;    /* a HELLO that left it out signed it all the same */
	s->signed_count++;
	v = verified_slot(s, p.sig, msg, pheromone_signed_bytes(msg, &p), sn->ident.pk, key);
	memcpy(v->key, key, sizeof key);
	v->valid = 1;
}

static uint64_t env_random(void *ctx)
{
	return sim_rand(((struct sim_node *)ctx)->sim);
}

/* swarm_env.send: hand the packet to the network model. */
static void env_send(void *ctx, uint32_t dst, const uint8_t *pkt, size_t len)
{
	struct sim_node *sn = ctx;

	note_signed(sn->sim, sn, pkt, len);
	sim_transmit(sn->sim, sn->index, dst, pkt, len);
}

/* swarm_env.event: forward to the scenario. */
static void env_event(void *ctx, const struct swarm_event *ev)
{
	struct sim_node *sn = ctx;

	if (sn->sim->on_event)
		sn->sim->on_event(sn->sim, sn, ev);
}

/* swarm_env.memory_permille: the node's simulated memory use. */
static uint32_t env_memory(void *ctx)
{
	return ((struct sim_node *)ctx)->memory_permille;
}

/* See sim.h: deterministic keys from the run's generator. */
void sim_issue_identity(struct sim *s, struct swarm_identity *out, uint8_t roles)
{
	uint8_t seed[CX_SIGN_SEED_BYTES];

	for (int i = 0; i < CX_SIGN_SEED_BYTES; i++)
		seed[i] = (uint8_t)sim_rand(s);
	if (identity_issue(out, seed, roles, CERT_LIFETIME_MS, s->queen_sk)) {
		fprintf(stderr, "swarm-sim: cannot issue a certificate\n");
		exit(2);
	}
}

/* Node sn's clock at simulated time t: offset plus t scaled by its drift (monotonic). */
static uint64_t clock_at(const struct sim_node *sn, uint64_t t)
{
	return sn->clock_off + t + (uint64_t)((int64_t)t * sn->drift_ppm / 1000000);
}

/* See sim.h. */
uint64_t sim_clock(const struct sim *s, uint32_t i)
{
	return clock_at(&s->nodes[i], s->now);
}

/*
 * The earliest simulated time at which node i's clock reads at least
 * local: an estimate from the inverse rate, corrected by stepping, so a
 * timer never fires before the node's own deadline.
 */
static uint64_t global_time(const struct sim *s, uint32_t i, uint64_t local)
{
	const struct sim_node *sn = &s->nodes[i];
	uint64_t g;

	if (local == UINT64_MAX || (!sn->clock_off && !sn->drift_ppm))
		return local;
	if (local <= clock_at(sn, 0))
		return 0;
	g = (uint64_t)((double)(local - sn->clock_off) * 1e6 / (1e6 + sn->drift_ppm));
	while (g && clock_at(sn, g - 1) >= local)
		g--;
	while (clock_at(sn, g) < local)
		g++;
	return g;
}

/* Make sure a timer event exists for node i's next deadline. */
void sim_reschedule(struct sim *s, uint32_t i)
{
	struct sim_node *sn = &s->nodes[i];
	uint64_t t;

	if (!sn->alive || sn->adversary)
		return;
	t = global_time(s, i, swarm_next_deadline(&sn->node));
	if (t <= s->now)
		t = s->now + 1;
	if (t < sn->timer_at) {
		sn->timer_at = t;
		heap_push(s, (struct sim_event){ .t = t, .kind = EV_TIMER, .node = i,
						 .arg = ++sn->timer_gen });
	}
}

/* Start (or restart) node i as a fresh boot. */
void sim_boot(struct sim *s, uint32_t i)
{
	struct sim_node *sn = &s->nodes[i];
	struct swarm_env env = { sn, env_random, env_send, env_event,
				 s->memory_model ? env_memory : NULL, env_verify };
	struct swarm_config cfg = s->cfg;

	sn->alive = true;
	sn->timer_at = UINT64_MAX;
	if (sn->adversary)
		return;
	if (!sn->ident.cert[0])
		sim_issue_identity(s, &sn->ident, ROLES_ALL);
	cfg.identity = sn->ident;
	cfg.incarnation = sn->boots++;     /* the owner persists it across boots */
	if ((int32_t)i == s->queen_index) {
		cfg.role = ROLE_QUEEN;
		cfg.queen_sk = s->queen_sk;
	}
	if (swarm_init(&sn->node, &cfg, &env, sim_clock(s, i))) {
		fprintf(stderr, "swarm-sim: swarm_init failed\n");
		exit(2);
	}
	sim_reschedule(s, i);
}

/* Stop node i; its pending timer events become stale. */
void sim_kill(struct sim *s, uint32_t i)
{
	s->nodes[i].alive = false;
	s->nodes[i].timer_gen++;
	s->nodes[i].timer_at = UINT64_MAX;
}

/* Seed the generator, create nodes and topology, and the swarm keys. */
int sim_setup(struct sim *s, const struct sim_opts *o, uint32_t extra)
{
	uint64_t x = o->seed;
	uint8_t seed[CX_SIGN_SEED_BYTES];

	memset(s, 0, sizeof *s);
	s->o = *o;
	for (int i = 0; i < 4; i++) {            /* splitmix64 seeding */
		x += 0x9e3779b97f4a7c15ULL;
		s->rng[i] = mix64(x);
	}
	s->n = o->nodes + extra;
	s->lan = strcmp(o->topology, "lan") == 0;
	s->nodes = huge_calloc(s->n * sizeof *s->nodes);
	for (uint32_t i = 0; i < s->n; i++) {
		s->nodes[i].sim = s;
		s->nodes[i].index = i;
		s->nodes[i].adversary = i >= o->nodes;
	}
	for (uint32_t i = 0; i < s->n && (o->skew_ms || o->drift_ppm); i++) {
		s->nodes[i].clock_off = o->skew_ms ? sim_rand(s) % (o->skew_ms + 1ull) : 0;
		s->nodes[i].drift_ppm = o->drift_ppm ?
			(int32_t)(sim_rand(s) % (2ull * o->drift_ppm + 1)) - (int32_t)o->drift_ppm : 0;
	}
	if (!s->lan)
		build_mesh(s, s->n);
	for (int i = 0; i < CX_KEY_BYTES; i++)
		s->cfg.swarm_key[i] = (uint8_t)sim_rand(s);
	for (int i = 0; i < CX_SIGN_SEED_BYTES; i++)
		seed[i] = (uint8_t)sim_rand(s);
	cx_sign_keypair(s->cfg.queen_pk, s->queen_sk, seed);
	s->cfg.role = -1;
	s->queen_index = -1;
	s->cfg.heartbeats = true;
	s->cfg.expected_nodes = o->nodes;   /* the suspicion timeout scales with log N */
	gossip_default_params(&s->cfg.gossip);
	s->cfg.gossip.flood = o->flood;
	if (o->echo_cap >= 0)
		s->cfg.gossip.echo_cap = (uint8_t)o->echo_cap;
	if (o->relay_prob >= 0)
		s->cfg.gossip.relay_prob = (uint32_t)(o->relay_prob * 65536);
	if (o->relay_decay >= 0)
		s->cfg.gossip.relay_decay = (uint32_t)(o->relay_decay * 65536);
	if (o->relay_window >= 0)
		s->cfg.gossip.relay_max_ms = (uint32_t)o->relay_window;
	return 0;
}

/* Release everything sim_setup() and the run allocated. */
void sim_free(struct sim *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		free(s->nodes[i].nbrs);
	free(s->nodes);
	free(s->heap);
	free(s->pool);
	free(s->pool_free);
	free(s->verified);
}

/* Schedule a scenario callback at time t. */
void sim_at(struct sim *s, uint64_t t, sim_call_fn fn, uint32_t arg)
{
	uint32_t k;

	for (k = 0; k < s->ncalls && s->calls[k] != fn; k++)
		;
	if (k == s->ncalls)
		s->calls[s->ncalls++] = fn;
	heap_push(s, (struct sim_event){ .t = t, .kind = EV_CALL, .node = k, .arg = arg });
}

/* Drop the airtime records that ended before now_us. */
static void air_expire(struct sim *s, uint64_t now_us)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < s->nair; i++)
		if (s->air[i].end_us > now_us)
			s->air[k++] = s->air[i];
	s->nair = k;
}

/*
 * The start of a transmission of air_us that wants the medium at t:
 * CSMA defers past every transmission it would sense (on air for more
 * than a slot, or already scheduled by an earlier sender), then backs off
 * 0..LAN_CW_SLOTS-1 slots again.
 */
static uint64_t air_start(struct sim *s, uint64_t t, uint64_t air_us)
{
	bool moved = true;

	for (int round = 0; moved && round < SIM_AIR_SLOTS; round++) {
		moved = false;
		for (uint32_t i = 0; i < s->nair; i++) {
			const struct sim_airtime *a = &s->air[i];
			bool sensed = a->start_us + LAN_SLOT_US <= t && t < a->end_us;
			bool cuts_in = t + LAN_SLOT_US <= a->start_us && a->start_us < t + air_us;
			if (sensed || cuts_in) {
				t = a->end_us + (sim_rand(s) % LAN_CW_SLOTS) * LAN_SLOT_US;
				moved = true;
			}
		}
	}
	return t;
}

/*
 * --lan-kbps: the lan is one shared medium of that bit rate.  A sender
 * backs off 0..LAN_CW_SLOTS-1 slots and defers while it senses the medium
 * busy (CSMA); transmissions that start within one slot of each other
 * cannot sense each other, collide, and nobody hears either; a packet
 * that would wait more than LAN_QUEUE_US, or find SIM_AIR_SLOTS others
 * pending, is dropped.  Returns the delay in ms until the end of its
 * airtime, or -1 when it is dropped.
 */
static int64_t lan_medium(struct sim *s, uint32_t idx)
{
	uint64_t now_us = s->now * 1000, air_us, start;

	air_expire(s, now_us);
	air_us = (uint64_t)s->pool[idx].len * 8000 / s->o.lan_kbps;
	start = air_start(s, now_us + (sim_rand(s) % LAN_CW_SLOTS) * LAN_SLOT_US, air_us);
	if (start - now_us > LAN_QUEUE_US || s->nair == SIM_AIR_SLOTS) {
		s->lan_dropped++;
		return -1;
	}
	for (uint32_t i = 0; i < s->nair; i++) {
		struct sim_airtime *a = &s->air[i];
		struct sim_packet *other = &s->pool[a->idx];
		if (start < a->start_us + LAN_SLOT_US && a->start_us < start + LAN_SLOT_US) {
			s->lan_collisions += !s->pool[idx].collided;
			s->pool[idx].collided = true;
			if (other->txno == a->txno && !other->collided) {
				s->lan_collisions++;
				other->collided = true;
			}
		}
	}
	s->air[s->nair++] = (struct sim_airtime){ start, start + air_us, s->pool[idx].txno, idx };
	return (int64_t)((start + air_us + 999) / 1000 - s->now);
}

/* Schedule delivery of packet idx to dst through the loss/dup/reorder model. */
static void deliver_later(struct sim *s, uint32_t idx, uint32_t dst, uint64_t extra)
{
	int copies = 1;

	if (s->o.loss > 0 && sim_uniform(s) < s->o.loss)
		return;
	if (s->o.dup > 0 && sim_uniform(s) < s->o.dup)
		copies = 2;
	for (int c = 0; c < copies; c++) {
		uint64_t d = extra + BASE_DELAY_MS + sim_rand(s) % (JITTER_MS + 1);
		if (s->o.reorder > 0 && sim_uniform(s) < s->o.reorder)
			d += REORDER_MIN_MS + sim_rand(s) % REORDER_SPAN_MS;
		s->pool[idx].refs++;
		heap_push(s, (struct sim_event){ .t = s->now + d, .kind = EV_DELIVER,
						 .node = dst, .arg = idx });
	}
}

/* Send a packet from src to dst (or broadcast) through the model. */
void sim_transmit(struct sim *s, uint32_t src, uint32_t dst, const uint8_t *p, size_t len)
{
	sim_transmit_as(s, src, src, dst, p, len);
}

/* The network model behind sim_transmit; addr is what receivers are told. */
void sim_transmit_as(struct sim *s, uint32_t src, uint32_t addr, uint32_t dst,
		     const uint8_t *p, size_t len)
{
	uint32_t idx = pkt_alloc(s, src, p, len);
	int64_t extra = 0;

	s->pool[idx].addr = addr;

	s->transmissions++;
	if (s->on_transmit)
		s->on_transmit(s, src, dst, p, len);
	s->pool[idx].refs = 1;          /* held while fanning out */
	if (s->lan && s->o.lan_kbps)
		extra = lan_medium(s, idx);
	if (extra < 0) {
		/* dropped at the sender: the medium's queue is full */
	} else if (dst != SWARM_BROADCAST) {
		if (dst < s->n && sim_linked(s, src, dst))
			deliver_later(s, idx, dst, (uint64_t)extra);
	} else if (s->lan) {
		/* one shared-medium event; per-receiver fates are drawn when it fires */
		s->pool[idx].refs++;
		heap_push(s, (struct sim_event){ .t = s->now + (uint64_t)extra + BASE_DELAY_MS +
							 sim_rand(s) % (JITTER_MS + 1),
						 .kind = EV_DELIVER_ALL, .node = src, .arg = idx });
	} else {
		for (uint32_t k = 0; k < s->nodes[src].nnbr; k++) {
			uint32_t v = s->nodes[src].nbrs[k];
			if (sim_linked(s, src, v))
				deliver_later(s, idx, v, 0);
		}
	}
	pkt_release(s, idx);
}

/* Hand packet idx to node v now (it must be alive and linked). */
static void deliver_now(struct sim *s, uint32_t v, uint32_t idx)
{
	struct sim_node *sn = &s->nodes[v];
	uint8_t copy[PHEROMONE_MAX_BYTES];
	uint32_t addr = s->pool[idx].addr;
	uint16_t len = s->pool[idx].len;

	if (s->pool[idx].collided)
		return;
	/* a copy: the receiver may transmit while it reads, which can grow the pool */
	memcpy(copy, s->pool[idx].data, len);
	s->deliveries++;
	if (sn->adversary) {   /* adversaries collude out of band, not by echoing each other */
		if (s->on_adversary_rx && !s->nodes[s->pool[idx].src].adversary)
			s->on_adversary_rx(s, sn, copy, len);
		return;
	}
	swarm_receive(&sn->node, addr, copy, len, sim_clock(s, v));
	sim_reschedule(s, v);
}

/* A lan broadcast reaches its receivers: loss, duplication and reordering
 * are drawn per receiver; the undisturbed ones hear it at this instant. */
static void deliver_all(struct sim *s, uint32_t idx)
{
	uint32_t src = s->pool[idx].src;

	if (s->pool[idx].collided)
		return;
	for (uint32_t v = 0; v < s->n; v++) {
		if (v == src || !s->nodes[v].alive || !sim_linked(s, src, v))
			continue;
		if (s->o.loss > 0 && sim_uniform(s) < s->o.loss)
			continue;
		if (s->o.dup > 0 && sim_uniform(s) < s->o.dup) {
			s->pool[idx].refs++;
			heap_push(s, (struct sim_event){ .t = s->now + 1 + sim_rand(s) % (JITTER_MS + 1),
							 .kind = EV_DELIVER, .node = v, .arg = idx });
		}
		if (s->o.reorder > 0 && sim_uniform(s) < s->o.reorder) {
			s->pool[idx].refs++;
			heap_push(s, (struct sim_event){ .t = s->now + REORDER_MIN_MS +
							 sim_rand(s) % REORDER_SPAN_MS,
							 .kind = EV_DELIVER, .node = v, .arg = idx });
			continue;
		}
		deliver_now(s, v, idx);
	}
}

/* Process events in time order up to t_end. */
void sim_run_until(struct sim *s, uint64_t t_end)
{
	while (s->heap_len && s->heap[0].t <= t_end) {
		struct sim_event ev = heap_pop(s);
		struct sim_node *sn = &s->nodes[ev.node];

		s->now = ev.t;
		switch (ev.kind) {
		case EV_DELIVER:
			if (sn->alive && sim_linked(s, s->pool[ev.arg].src, ev.node))
				deliver_now(s, ev.node, ev.arg);
			pkt_release(s, ev.arg);
			break;
		case EV_DELIVER_ALL:
			deliver_all(s, ev.arg);
			pkt_release(s, ev.arg);
			break;
		case EV_TIMER:
			if (!sn->alive || ev.arg != sn->timer_gen)
				break;
			sn->timer_at = UINT64_MAX;
			swarm_tick(&sn->node, sim_clock(s, ev.node));
			sim_reschedule(s, ev.node);
			break;
		case EV_CALL:
			s->calls[ev.node](s, ev.arg);
			break;
		}
	}
	s->now = t_end;
}
