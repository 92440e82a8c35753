/*
 * The swarm node's reactive loop: receive path (decode, authenticate,
 * admit, act, relay), timers (heartbeats, membership, relays, state sync,
 * modules, apoptosis) and the originating calls.  docs/PROTOCOL.md
 * describes the state machine and every payload.
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/swarm.h"

enum {
	HELLO_FIXED = 12,         /* role u8, n u8, period u16, digest u64 */
	PROBE_BYTES = 12,         /* target u32, nonce u32, reply_to u32 */
	PINGREQ_BYTES = 8,        /* target u32, nonce u32 */
	SUSPECT_BYTES = 8,        /* target u32, incarnation heard u32 */
	ALIVE_BYTES = 4,          /* incarnation suspected u32 */
	MEMBER_TTL = 2,           /* SUSPECT and ALIVE reach two hops */
	ALIVE_GAP_MS = 500,
	REBIRTH_BYTES = 5,        /* reason u8, new incarnation u32 */
	REVOKE_ARGS = 12,         /* id u32, until u64 */
	DIE_BODY_BYTES = 5,       /* target u32, reason u8 */
	SYNC_MIN_GAP_MS = 2000,
	SYNC_BACKOFF_MS = 1000,
	PULL_HOLD_MS = 300,
	PULL_DELAY_MS = 250,
	PULL_RETRY_MS = 400,
	PULL_TRIES = 4,
	REPAIR_HOLD_MS = 300,
	KV_CHECK_MS = 1000,       /* tombstone expiry and expired writers */
};

static void send_pulls(struct swarm_node *n, uint64_t now);

static const uint32_t role_period_ms[4] = { 1000, 500, 2000, 3000 };

/* Heartbeat period of a role. */
uint32_t swarm_role_period(uint8_t role)
{
	return role_period_ms[role & 3];
}

/* Map 10 random bits onto the role probabilities. */
uint8_t swarm_draw_role(uint64_t rnd)
{
	uint32_t v = (uint32_t)(rnd % 1024);

	if (v < 4)
		return ROLE_QUEEN;        /* 4/1024 = 0.39 % */
	if (v < 4 + 128)
		return ROLE_EXPLORER;     /* 12.5 % */
	if (v < 4 + 256)
		return ROLE_SENTINEL;     /* 12.5 % */
	return ROLE_WORKER;               /* the rest, 74.6 % */
}

/* The environment's randomness, for modules too. */
uint64_t swarm_random(struct swarm_node *n)
{
	return n->env.random(n->env.ctx);
}

/* Report an event if the environment listens. */
void swarm_emit(struct swarm_node *n, const struct swarm_event *ev)
{
	if (n->env.event)
		n->env.event(n->env.ctx, ev);
}

/* Count and hand a packet to the environment. */
static void transmit(struct swarm_node *n, uint32_t dst, const uint8_t *pkt, size_t len)
{
	n->tx_packets++;
	n->env.send(n->env.ctx, dst, pkt, len);
}

/* A role drawn at random, or the configured one; the worker role where the
 * certificate does not permit the drawn one. */
static uint8_t pick_role(struct swarm_node *n)
{
	uint8_t r = n->cfg.role >= 0 ? (uint8_t)n->cfg.role : swarm_draw_role(swarm_random(n));

	return (n->roles >> r) & 1 ? r : ROLE_WORKER;
}

/* Start a new life: incarnation, role and all per-life tables. */
static void begin_life(struct swarm_node *n, uint64_t now)
{
	uint32_t period;

	n->role = pick_role(n);
	n->seq = n->incarnation << SEQ_COUNTER_BITS;
	n->born_ms = now;
	period = swarm_role_period(n->role);
	n->next_hello_ms = now + swarm_random(n) % period;
	n->hellos = 0;
	n->sync_due_ms = UINT64_MAX;
	n->flood_due_ms = UINT64_MAX;
	n->sync_sent_ms = 0;
	n->alive_sent_ms = 0;
	n->memory_check_ms = now;
	gossip_init(&n->gossip, &n->cfg.gossip, now);
	membership_init(&n->members);
	kv_init(&n->kv);
	if (n->cfg.kv_tombstone_ms)
		n->kv.tombstone_ms = n->cfg.kv_tombstone_ms;
	n->kv_check_ms = now + KV_CHECK_MS;
	memset(n->gc, 0, sizeof n->gc);
	sentinel_init(&n->sentinel);
	memset(n->pingreqs, 0, sizeof n->pingreqs);
	memset(n->wants, 0, sizeof n->wants);
	memset(n->module_state, 0, sizeof n->module_state);
	for (int i = 0; i < SWARM_MODULES; i++)
		if (n->cfg.modules[i] && n->cfg.modules[i]->init)
			n->cfg.modules[i]->init(n->module_state[i], n, now);
}

/*
 * The node's own certificate must be the queen's, unexpired, for the key
 * pair configured, and permit a configured role: 0 or -EACCES.
 */
static int own_certificate_valid(const struct swarm_config *cfg, uint64_t now)
{
	uint8_t msg[64 + CERT_BODY_BYTES];
	struct node_cert c;
	const struct swarm_identity *me = &cfg->identity;

	if (cert_decode(&c, me->cert) || memcmp(c.pk, me->pk, sizeof c.pk) ||
	    memcmp(me->sk + CX_SIGN_SEED_BYTES, me->pk, sizeof c.pk) || c.expiry_ms <= now ||
	    (cfg->role >= 0 && cfg->role != ROLE_WORKER && !((c.roles >> cfg->role) & 1)) ||
	    cx_verify(me->cert + CERT_BODY_BYTES, msg, cert_signed_bytes(msg, me->cert),
		      cfg->queen_pk))
		return -EACCES;
	return 0;
}

/* See swarm.h; cfg and env are copied first, as they may live inside n. */
int swarm_init(struct swarm_node *n, const struct swarm_config *cfg_in,
	       const struct swarm_env *env_in, uint64_t now_ms)
{
	struct swarm_config copy_cfg = *cfg_in;      /* they may live inside n */
	struct swarm_env copy_env = *env_in;
	const struct swarm_config *cfg = &copy_cfg;
	const struct swarm_env *env = &copy_env;

	memset(n, 0, sizeof *n);
	if (!env->random || !env->send || cfg->role > ROLE_QUEEN)
		return -EINVAL;
	for (int i = 0; i < SWARM_MODULES; i++)
		if (cfg->modules[i] && cfg->modules[i]->state_size > SWARM_MODULE_STATE)
			return -EINVAL;
	if (pheromone_mac_key(n->mac_key, cfg->swarm_key) ||
	    cx_key_is_zero(cfg->queen_pk, CX_SIGN_PUBLIC_BYTES) ||
	    cfg->incarnation > SWARM_MAX_INCARNATION)
		return -EINVAL;
	if (own_certificate_valid(cfg, now_ms))
		return -EACCES;
	n->cfg = *cfg;
	if (!n->cfg.ttl || n->cfg.ttl > PHEROMONE_MAX_TTL)
		n->cfg.ttl = SWARM_DEFAULT_TTL;
	n->env = *env;
	n->id = get_u32(cfg->identity.cert + 4);
	n->roles = cfg->identity.cert[1] | 1u << ROLE_WORKER;
	n->incarnation = cfg->incarnation;
	begin_life(n, now_ms);
	return 0;
}

/* Encode a fresh pheromone from this node (signature already in payload). */
static int originate(struct swarm_node *n, uint8_t type, uint8_t ttl, uint8_t flags,
		     uint32_t dst, const void *payload, size_t len, uint64_t now)
{
	uint8_t buf[PHEROMONE_MAX_BYTES];
	struct pheromone h = { .type = type, .ttl = ttl, .sender = n->id,
			       .seq = n->seq, .timestamp_ms = now, .flags = flags };
	struct pheromone dec;
	int k = pheromone_encode(buf, sizeof buf, &h, payload, len, &n->cfg.identity, n->mac_key);

	if (k < 0)
		return k;
	if (pheromone_type_relayed(type) && pheromone_decode(&dec, buf, (size_t)k) == 0) {
		gossip_mark(&n->gossip, &dec, now);
		if (pheromone_type_repaired(type) && ttl > 1)   /* not link-scope syncs */
			gossip_store_copy(&n->gossip, pheromone_id(&dec), buf, (size_t)k);
	}
	transmit(n, dst, buf, (size_t)k);
	return (int)n->seq;
}

/* Next sequence number; a life that exhausts its counter must be reborn. */
static int next_seq(struct swarm_node *n)
{
	uint32_t mask = (1u << SEQ_COUNTER_BITS) - 1;

	if ((n->seq & mask) == mask)
		return -EOVERFLOW;
	n->seq++;
	return 0;
}

/* Originate an unsigned pheromone with the next sequence number. */
static int send_plain(struct swarm_node *n, uint8_t type, uint8_t ttl, uint32_t dst,
		      const void *payload, size_t len, uint64_t now)
{
	int err = next_seq(n);

	return err ? err : originate(n, type, ttl, 0, dst, payload, len, now);
}

/* See swarm.h; queen types must go through the signing calls. */
int swarm_broadcast(struct swarm_node *n, uint8_t type, const void *payload, size_t len,
		    uint64_t now_ms)
{
	if (!pheromone_type_relayed(type) || type == PH_QUEEN_CMD || type == PH_DIE)
		return -EINVAL;
	return send_plain(n, type, n->cfg.ttl, SWARM_BROADCAST, payload, len, now_ms);
}

/* Prefix the module id and flood. */
int swarm_module_send(struct swarm_node *n, uint8_t module_id, const void *data, size_t len,
		      uint64_t now_ms)
{
	uint8_t buf[PHEROMONE_MAX_PAYLOAD];

	if (len + 1 > sizeof buf)
		return -EMSGSIZE;
	buf[0] = module_id;
	memcpy(buf + 1, data, len);
	return swarm_broadcast(n, PH_MODULE, buf, len + 1, now_ms);
}

/* Sign body as the queen and flood it as type (QUEEN_CMD or DIE). */
static int send_signed(struct swarm_node *n, uint8_t type, const uint8_t *body, size_t len,
		       uint64_t now)
{
	uint8_t payload[PHEROMONE_MAX_PAYLOAD];
	struct pheromone h = { .type = type, .ttl = n->cfg.ttl, .sender = n->id,
			       .timestamp_ms = now, .flags = PHF_SIGNED };
	int err;

	if (!n->cfg.queen_sk)
		return -EPERM;
	if (len + CX_SIGNATURE_BYTES > sizeof payload)
		return -EMSGSIZE;
	if ((err = next_seq(n)))
		return err;
	h.seq = n->seq;
	memcpy(payload, body, len);
	if ((err = pheromone_queen_sign(payload + len, &h, body, len, n->cfg.queen_sk)))
		return err;
	return originate(n, type, n->cfg.ttl, PHF_SIGNED, SWARM_BROADCAST, payload,
			 len + CX_SIGNATURE_BYTES, now);
}

/* Build a command body and flood it signed. */
int swarm_queen_command(struct swarm_node *n, uint16_t cmd, const void *arg, size_t arg_len,
			uint64_t now_ms)
{
	uint8_t body[PHEROMONE_MAX_PAYLOAD];

	if (arg_len + 4 + CX_SIGNATURE_BYTES > sizeof body)
		return -EMSGSIZE;
	put_u16(body, cmd);
	put_u16(body + 2, (uint16_t)arg_len);
	memcpy(body + 4, arg, arg_len);
	return send_signed(n, PH_QUEEN_CMD, body, arg_len + 4, now_ms);
}

/* Take a revocation: refuse the id, forget it as a neighbour, drop its
 * store entries at the next tick. */
static void apply_revocation(struct swarm_node *n, uint32_t target, uint64_t until_ms,
			     uint64_t now)
{
	revocation_add(&n->revoked, target, until_ms, now);
	membership_remove(&n->members, target);
	n->kv_check_ms = now;
}

/* Revoke a node's certificate swarm-wide, as a signed command (and here:
 * a node never receives its own flood). */
int swarm_queen_revoke(struct swarm_node *n, uint32_t target, uint64_t until_ms, uint64_t now_ms)
{
	uint8_t arg[REVOKE_ARGS];
	int seq;

	put_u32(arg, target);
	put_u64(arg + 4, until_ms);
	seq = swarm_queen_command(n, QC_REVOKE, arg, sizeof arg, now_ms);
	if (seq >= 0)
		apply_revocation(n, target, until_ms, now_ms);
	return seq;
}

/* Order one node to die, signed. */
int swarm_queen_die(struct swarm_node *n, uint32_t target, uint64_t now_ms)
{
	uint8_t body[DIE_BODY_BYTES];

	put_u32(body, target);
	body[4] = DIE_ORDERED;
	return send_signed(n, PH_DIE, body, sizeof body, now_ms);
}

/* Write locally (NULL: a tombstone), sign as writer, report, and flood the entry. */
int swarm_state_set(struct swarm_node *n, uint16_t key, const void *value, size_t len,
		    uint64_t now_ms)
{
	uint8_t buf[PHEROMONE_MAX_PAYLOAD], msg[KV_SIGNED_MAX];
	int k, err = kv_set(&n->kv, key, value, len, n->id, now_ms);
	struct kv_entry *e = &n->kv.e[key];

	if (err)
		return err;
	cx_sign(e->sig, msg, kv_signed_bytes(msg, key, e), n->cfg.identity.sk);
	memcpy(e->cert, n->cfg.identity.cert, CERT_BYTES);
	swarm_emit(n, &(struct swarm_event){ .kind = SE_STATE, .about = n->id });
	k = kv_encode(&n->kv, key, n->id, buf, sizeof buf);
	return k < 0 ? k : swarm_broadcast(n, PH_STATE, buf, (size_t)k, now_ms);
}

/* True when the store holds a live (not deleted) entry by writer. */
static bool kv_has_writer(const struct kvstore *kv, uint32_t writer)
{
	for (int k = 0; k < KV_KEYS; k++)
		if (kv->e[k].stamp && !kv->e[k].tombstone && kv->e[k].writer == writer)
			return true;
	return false;
}

/*
 * Membership declared a writer dead: collect its entries after the grace
 * period, jittered by up to a quarter so that usually one neighbour's
 * tombstones arrive first and the others find nothing left to delete.
 */
static void gc_note_dead(struct swarm_node *n, uint32_t id, uint64_t now)
{
	uint64_t grace = n->cfg.kv_gc_grace_ms ? n->cfg.kv_gc_grace_ms : SWARM_KV_GC_GRACE_MS;
	struct kv_gc *slot = &n->gc[0];

	if (!kv_has_writer(&n->kv, id))
		return;
	for (int i = 0; i < SWARM_KV_GC; i++) {
		if (n->gc[i].id == id)
			return;
		if (!n->gc[i].id || n->gc[i].due_ms < slot->due_ms)
			slot = &n->gc[i];
		if (!slot->id)
			break;
	}
	slot->id = id;
	slot->due_ms = now + grace + swarm_random(n) % (grace / 4 + 1);
}

/* An authenticated message from id: it lives, so nothing of it is collected. */
static void gc_note_alive(struct swarm_node *n, uint32_t id)
{
	for (int i = 0; i < SWARM_KV_GC; i++)
		if (n->gc[i].id == id)
			n->gc[i].id = 0;
}

/*
 * Due collections: every key whose entry is still the dead writer's gets
 * a tombstone signed by this node (a write like any other, so it
 * replicates and wins by its stamp).  Then tombstones past their life
 * expire into floors, and entries whose writer's certificate expired or
 * was revoked are dropped (every node refuses those alike).
 */
static void run_kv_gc(struct swarm_node *n, uint64_t now)
{
	bool changed = false;

	for (int i = 0; i < SWARM_KV_GC; i++) {
		if (!n->gc[i].id || n->gc[i].due_ms > now)
			continue;
		for (uint16_t k = 0; k < KV_KEYS; k++) {
			const struct kv_entry *e = &n->kv.e[k];
			if (e->stamp && !e->tombstone && e->writer == n->gc[i].id)
				swarm_state_set(n, k, NULL, 0, now);
		}
		n->gc[i].id = 0;
	}
	if (now < n->kv_check_ms)
		return;
	n->kv_check_ms = now + KV_CHECK_MS;
	changed = kv_expire(&n->kv, now) > 0;
	for (uint16_t k = 0; k < KV_KEYS; k++) {
		const struct kv_entry *e = &n->kv.e[k];
		if (e->stamp && e->writer != n->id &&
		    (get_u64(e->cert + 8) <= now || revoked(&n->revoked, e->writer, now))) {
			kv_drop(&n->kv, k);
			changed = true;
		}
	}
	if (changed)
		swarm_emit(n, &(struct swarm_event){ .kind = SE_STATE, .about = n->id });
}

/*
 * Emit REBIRTH from the old life, then start the next incarnation: its
 * sequence numbers are all larger, so nothing of the old life can be
 * replayed into it.  The last incarnation has no successor; that node
 * needs a new key and certificate.
 */
void swarm_apoptosis(struct swarm_node *n, uint8_t reason, uint64_t now_ms)
{
	uint8_t payload[REBIRTH_BYTES];

	if (n->incarnation < SWARM_MAX_INCARNATION)
		n->incarnation++;
	payload[0] = reason;
	put_u32(payload + 1, n->incarnation);
	send_plain(n, PH_REBIRTH, n->cfg.ttl, SWARM_BROADCAST, payload, sizeof payload, now_ms);
	swarm_emit(n, &(struct swarm_event){ .kind = SE_REBIRTH, .sender = n->id,
					     .about = n->id, .code = reason });
	n->generation++;
	begin_life(n, now_ms);
}

/* ---------------------------------------------------------------- timers */

/*
 * Whether this HELLO carries our certificate: in the first ones of a
 * life, every SWARM_HELLO_CERT_EVERY-th, and the next one after we
 * admitted a neighbour or one asked (PHF_CERT_WANTED); otherwise the
 * neighbours, which checked it once, take it from their caches.  Every
 * node on a link hears every HELLO, so the certificate (112 of about 300
 * bytes) was most of what a node received.  Also asks for the
 * neighbours' certificates when we skipped a HELLO for want of one.
 */
static uint8_t hello_flags(struct swarm_node *n)
{
	uint8_t flags = 0;

	if (n->hellos >= SWARM_HELLO_CERT_FIRST && n->hellos % SWARM_HELLO_CERT_EVERY &&
	    !n->hello_cert_due)
		flags |= PHF_NO_CERT;
	if (n->cert_wanted)
		flags |= PHF_CERT_WANTED;
	n->hellos++;
	n->hello_cert_due = false;
	n->cert_wanted = false;
	return flags;
}

static void send_hello(struct swarm_node *n, uint64_t now)
{
	uint8_t buf[HELLO_FIXED + 8 * GOSSIP_DIGEST_IDS + 2 + 4 * MEMBER_NBRS];
	uint64_t ids[GOSSIP_DIGEST_IDS];
	uint32_t nbrs[MEMBER_MAX];
	size_t k = gossip_digest_ids(&n->gossip, ids, GOSSIP_DIGEST_IDS, now);
	size_t total = membership_list(&n->members, nbrs, MEMBER_MAX);
	size_t listed = total < MEMBER_NBRS ? total : MEMBER_NBRS;
	uint8_t *p = buf + HELLO_FIXED + 8 * k;

	buf[0] = n->role;
	buf[1] = (uint8_t)k;
	put_u16(buf + 2, (uint16_t)swarm_role_period(n->role));
	put_u64(buf + 4, kv_digest(&n->kv));
	for (size_t i = 0; i < k; i++)
		put_u64(buf + HELLO_FIXED + 8 * i, ids[i]);
	p[0] = (uint8_t)listed;
	p[1] = (uint8_t)total;
	for (size_t i = 0; i < listed; i++)
		put_u32(p + 2 + 4 * i, nbrs[i]);
	if (!next_seq(n))
		originate(n, PH_HELLO, 1, hello_flags(n), SWARM_BROADCAST, buf,
			  (size_t)(p + 2 + 4 * listed - buf), now);
}

/* Send PING, ACK or PING_REQ to one link address. */
static void send_probe(struct swarm_node *n, uint8_t type, uint32_t dst, uint32_t target,
		       uint32_t nonce, uint32_t reply_to, uint64_t now)
{
	uint8_t buf[PROBE_BYTES];

	put_u32(buf, target);
	put_u32(buf + 4, nonce);
	put_u32(buf + 8, reply_to);
	send_plain(n, type, 1, dst, buf, type == PH_PING_REQ ? PINGREQ_BYTES : PROBE_BYTES, now);
}

/* Turn membership actions into probes and death reports. */
static void run_membership(struct swarm_node *n, uint64_t now)
{
	struct member_action act[4 * (2 + MEMBER_HELPERS)];
	size_t k = membership_tick(&n->members, now, swarm_random(n), act, 4 * (2 + MEMBER_HELPERS));

	for (size_t i = 0; i < k; i++) {
		if (act[i].kind == MA_PING)
			send_probe(n, PH_PING, act[i].addr, act[i].target, act[i].nonce, 0, now);
		else if (act[i].kind == MA_PING_REQ)
			send_probe(n, PH_PING_REQ, act[i].addr, act[i].target, act[i].nonce, 0, now);
		else if (act[i].kind == MA_SUSPECT) {
			uint8_t b[SUSPECT_BYTES];
			put_u32(b, act[i].target);
			put_u32(b + 4, act[i].nonce);
			send_plain(n, PH_SUSPECT, MEMBER_TTL, SWARM_BROADCAST, b, sizeof b, now);
		} else if (act[i].kind == MA_DEAD) {
			swarm_emit(n, &(struct swarm_event){ .kind = SE_DEAD, .about = act[i].target,
							     .addr = act[i].addr });
			gc_note_dead(n, act[i].target, now);
		}
	}
}

/* Send the whole store: to the neighbours (ttl 1) or flooded to the swarm. */
static void send_sync(struct swarm_node *n, uint8_t ttl, uint64_t now)
{
	uint8_t buf[PHEROMONE_MAX_PAYLOAD];
	uint16_t from = 0;

	if (ttl == 1) {
		n->sync_due_ms = UINT64_MAX;
		n->sync_sent_ms = now;
	} else {
		n->flood_due_ms = UINT64_MAX;
	}
	while (from < KV_KEYS) {    /* parts: entries, their writers' certificates, floors */
		int k = kv_encode_sync(&n->kv, &from, n->id, buf, sizeof buf);
		if (k <= 0)
			break;
		send_plain(n, PH_STATE, ttl, SWARM_BROADCAST, buf, (size_t)k, now);
	}
}

/* Apoptosis triggers: memory above 90 % or the lifetime limit passed. */
static bool check_apoptosis(struct swarm_node *n, uint64_t now)
{
	if (n->cfg.lifetime_ms && now >= n->born_ms + n->cfg.lifetime_ms) {
		swarm_apoptosis(n, DIE_LIFETIME, now);
		return true;
	}
	if (n->env.memory_permille && now >= n->memory_check_ms) {
		n->memory_check_ms = now + 100;
		if (n->env.memory_permille(n->env.ctx) > MEMORY_APOPTOSIS_PERMILLE) {
			swarm_apoptosis(n, DIE_MEMORY, now);
			return true;
		}
	}
	return false;
}

/* See swarm.h: apoptosis checks, heartbeat, membership, relays, pulls, state, modules. */
void swarm_tick(struct swarm_node *n, uint64_t now_ms)
{
	uint8_t pkt[PHEROMONE_MAX_BYTES];
	size_t len;

	if (check_apoptosis(n, now_ms))
		return;
	if (n->cfg.heartbeats && now_ms >= n->next_hello_ms) {
		uint32_t period = swarm_role_period(n->role);
		membership_set_nodes(&n->members, n->cfg.expected_nodes ? n->cfg.expected_nodes
					  : (uint32_t)cert_cache_count(&n->certs));
		send_hello(n, now_ms);
		n->next_hello_ms = now_ms + period - period / 10 + swarm_random(n) % (period / 5);
	}
	run_membership(n, now_ms);
	while ((len = gossip_take_due(&n->gossip, now_ms, swarm_random(n), pkt)))
		transmit(n, SWARM_BROADCAST, pkt, len);
	send_pulls(n, now_ms);
	if (now_ms >= n->sync_due_ms)
		send_sync(n, 1, now_ms);
	if (now_ms >= n->flood_due_ms)
		send_sync(n, n->cfg.ttl, now_ms);
	run_kv_gc(n, now_ms);
	for (int i = 0; i < SWARM_MODULES; i++)
		if (n->cfg.modules[i] && n->cfg.modules[i]->tick)
			n->cfg.modules[i]->tick(n->module_state[i], n, now_ms);
}

/* Smaller of two times. */
static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The earliest of every timer swarm_tick() serves. */
uint64_t swarm_next_deadline(const struct swarm_node *n)
{
	uint64_t t = min64(membership_next_deadline(&n->members),
			   gossip_next_deadline(&n->gossip));

	if (n->cfg.heartbeats)
		t = min64(t, n->next_hello_ms);
	t = min64(t, n->sync_due_ms);
	t = min64(t, n->flood_due_ms);
	t = min64(t, n->kv_check_ms);
	for (int i = 0; i < SWARM_KV_GC; i++)
		if (n->gc[i].id)
			t = min64(t, n->gc[i].due_ms);
	for (int i = 0; i < SWARM_WANTS; i++)
		if (n->wants[i].id)
			t = min64(t, n->wants[i].due_ms);
	if (n->cfg.lifetime_ms)
		t = min64(t, n->born_ms + n->cfg.lifetime_ms);
	if (n->env.memory_permille)
		t = min64(t, n->memory_check_ms);
	for (int i = 0; i < SWARM_MODULES; i++)
		if (n->cfg.modules[i] && n->cfg.modules[i]->next_deadline)
			t = min64(t, n->cfg.modules[i]->next_deadline(n->module_state[i]));
	return t;
}

/* --------------------------------------------------------------- receive */

/* Log a security event; blame (a reject) charges the authenticated author. */
static void security(struct swarm_node *n, enum sec_event kind, uint32_t addr, bool blame,
		     uint32_t id, const struct pheromone *p, uint64_t now)
{
	bool banned = sentinel_report(&n->sentinel, kind, addr, id, blame, now);
	struct swarm_event ev = { .kind = SE_REJECT, .addr = addr, .about = id, .code = kind };

	if (p) {
		ev.type = p->type;
		ev.sender = p->sender;
		ev.seq = p->seq;
	}
	swarm_emit(n, &ev);
	if (banned) {
		ev.kind = SE_BLACKLIST;
		swarm_emit(n, &ev);
		if (n->role == ROLE_SENTINEL) {
			uint8_t alarm[9];
			alarm[0] = (uint8_t)kind;
			put_u32(alarm + 1, addr);
			put_u32(alarm + 5, id);
			swarm_broadcast(n, PH_ALARM, alarm, sizeof alarm, now);
		}
	}
}

/*
 * Per-type checks of an authenticated message before it is marked as seen:
 * its author signed it, so a failure is the author's fault.  Returns 0 or
 * the security event to blame it for.
 */
static int validate(struct swarm_node *n, const struct pheromone *p)
{
	size_t len = p->payload_len;

	switch (p->type) {
	case PH_HELLO: {
		size_t off = HELLO_FIXED + 8u * (len >= HELLO_FIXED ? p->payload[1] : 0);
		if (len < HELLO_FIXED || p->payload[1] > GOSSIP_DIGEST_IDS || p->payload[0] > ROLE_QUEEN ||
		    len < off + 2)
			return SEC_MALFORMED;
		if (p->payload[0] != ROLE_WORKER && !((p->cert[1] >> p->payload[0]) & 1))
			return SEC_UNAUTHORISED;   /* a role its certificate does not grant */
		return p->payload[off] <= MEMBER_NBRS && p->payload[off] <= p->payload[off + 1] &&
		       len == off + 2 + 4u * p->payload[off] ? 0 : SEC_MALFORMED;
	}
	case PH_PING: case PH_ACK:
		return len == PROBE_BYTES ? 0 : SEC_MALFORMED;
	case PH_PING_REQ:
		return len == PINGREQ_BYTES ? 0 : SEC_MALFORMED;
	case PH_PULL:
		return len >= 13 && len == 5 + 8u * p->payload[4] && p->payload[4] <= GOSSIP_DIGEST_IDS
		       ? 0 : SEC_MALFORMED;
	case PH_REBIRTH:
		return len == REBIRTH_BYTES ? 0 : SEC_MALFORMED;
	case PH_SUSPECT:
		return len == SUSPECT_BYTES ? 0 : SEC_MALFORMED;
	case PH_ALIVE:
		return len == ALIVE_BYTES ? 0 : SEC_MALFORMED;
	case PH_MODULE:
		return len >= 1 ? 0 : SEC_MALFORMED;
	case PH_QUEEN_CMD:
		if (len < 4 + CX_SIGNATURE_BYTES ||
		    get_u16(p->payload + 2) != len - 4 - CX_SIGNATURE_BYTES)
			return SEC_MALFORMED;
		if (get_u16(p->payload) == QC_REVOKE && get_u16(p->payload + 2) != REVOKE_ARGS)
			return SEC_MALFORMED;
		return pheromone_queen_verify(p, n->cfg.queen_pk) ? SEC_BAD_SIGNATURE : 0;
	case PH_DIE:
		if (len != DIE_BODY_BYTES + CX_SIGNATURE_BYTES)
			return SEC_MALFORMED;
		return pheromone_queen_verify(p, n->cfg.queen_pk) ? SEC_BAD_SIGNATURE : 0;
	default:
		return 0;
	}
}

/* A PING_REQ we serve: remember where to forward the target's ACK. */
static void pingreq_remember(struct swarm_node *n, uint32_t target, uint32_t nonce,
			     uint32_t requester_addr, uint64_t now)
{
	struct pingreq *slot = &n->pingreqs[0];

	for (int i = 0; i < SWARM_PINGREQS; i++)
		if (n->pingreqs[i].expire_ms < slot->expire_ms)
			slot = &n->pingreqs[i];
	*slot = (struct pingreq){ target, nonce, requester_addr, now + 2000 };
}

/* Forward an ACK that answers a PING we sent on someone's behalf. */
static void pingreq_forward(struct swarm_node *n, const struct pheromone *p, const uint8_t *pkt,
			    size_t len, uint64_t now)
{
	uint32_t nonce = get_u32(p->payload + 4);
	uint8_t copy[PHEROMONE_MAX_BYTES];

	for (int i = 0; i < SWARM_PINGREQS; i++) {
		struct pingreq *r = &n->pingreqs[i];
		if (r->expire_ms > now && r->target == p->sender && r->nonce == nonce) {
			memcpy(copy, pkt, len);
			pheromone_set_route(copy, 1, 1);
			transmit(n, r->requester_addr, copy, len);
			r->expire_ms = 0;
			return;
		}
	}
}

/* True the first time addr is refused for this identity (restarts repeat one id). */
static bool sybil_new_identity(struct swarm_node *n, uint32_t addr, uint32_t id)
{
	struct refused_identity *slot = &n->refused[addr % SWARM_REFUSED];

	if (slot->addr == addr && slot->id == id && slot->used)
		return false;
	*slot = (struct refused_identity){ addr, id, true };
	return true;
}

/* True when id is held in a small timed table (PULLs and repairs). */
static bool recently(const struct timed_id *t, uint64_t id, uint64_t now)
{
	for (int i = 0; i < SWARM_TIMED_IDS; i++)
		if (t[i].id == id && t[i].until_ms > now)
			return true;
	return false;
}

/* Insert or refresh id in a small timed table, replacing the oldest. */
static void remember(struct timed_id *t, uint64_t id, uint64_t until)
{
	struct timed_id *slot = &t[0];

	for (int i = 0; i < SWARM_TIMED_IDS; i++) {
		if (t[i].id == id) {
			slot = &t[i];
			break;
		}
		if (t[i].until_ms < slot->until_ms)
			slot = &t[i];
	}
	slot->id = id;
	slot->until_ms = until;
}

/*
 * A neighbour advertised a message we lack (IHAVE): ask it a little later,
 * or, when we already asked someone in vain, make it the next one asked.
 */
static void want_note(struct swarm_node *n, uint64_t id, uint32_t responder, uint64_t now)
{
	struct want *slot = NULL;

	for (int i = 0; i < SWARM_WANTS; i++) {
		struct want *w = &n->wants[i];
		if (w->id == id) {
			if (w->tries)
				w->responder = responder;
			return;
		}
		if (!w->id && !slot)
			slot = w;
	}
	if (slot)
		*slot = (struct want){ id, responder, now + PULL_DELAY_MS, 0 };
}

/* Someone else asked for id: hold our own PULL while its repair travels. */
static void want_hold(struct swarm_node *n, uint64_t id, uint64_t now)
{
	for (int i = 0; i < SWARM_WANTS; i++)
		if (n->wants[i].id == id && n->wants[i].due_ms < now + PULL_HOLD_MS)
			n->wants[i].due_ms = now + PULL_HOLD_MS;
}

/* A HELLO: membership, state digest comparison and PULL repair. */
static void on_hello(struct swarm_node *n, uint32_t addr, const struct pheromone *p, uint64_t now)
{
	const uint8_t *b = p->payload;
	uint8_t role = b[0], count = b[1];
	uint64_t ids[GOSSIP_DIGEST_IDS];
	bool refuted;
	bool known = membership_find(&n->members, p->sender) != NULL;
	int err;

	if (p->hops != 0)
		return;
	err = membership_heard(&n->members, p->sender, addr, role, get_u16(b + 2), now, &refuted);
	if (err == -EEXIST) {
		/* logged, not blamed: an honest restart looks the same, and
		 * a relocated copy of someone's HELLO makes any address look so */
		if (sybil_new_identity(n, addr, p->sender))
			security(n, SEC_SYBIL, addr, false, 0, p, now);
		return;
	}
	if (err == -EADDRINUSE)
		return;   /* its HELLO, relayed from elsewhere: not our neighbour */
	if (refuted)
		swarm_emit(n, &(struct swarm_event){ .kind = SE_REFUTED, .about = p->sender });
	if (!err && !known) {
		swarm_emit(n, &(struct swarm_event){ .kind = SE_ADMITTED, .about = p->sender,
						     .addr = addr });
		n->hello_cert_due = true;    /* a newcomer may not have our certificate */
	}
	if (p->flags & PHF_CERT_WANTED)
		n->hello_cert_due = true;
	if (!err) {
		const uint8_t *nb = b + HELLO_FIXED + 8 * count;
		membership_note_seq(&n->members, p->sender, p->seq);
		uint32_t nonce = membership_challenge(&n->members, p->sender, swarm_random(n));
		membership_set_neighbours(&n->members, p->sender, nb + 2, nb[0], nb[1]);
		if (nonce)   /* prove the binding before its death could be reported */
			send_probe(n, PH_PING, addr, p->sender, nonce, n->id, now);
	}
	if (get_u64(b + 4) != kv_digest(&n->kv) && n->sync_due_ms == UINT64_MAX &&
	    now >= n->sync_sent_ms + SYNC_MIN_GAP_MS)
		n->sync_due_ms = now + 20 + swarm_random(n) % SYNC_BACKOFF_MS;
	for (uint8_t i = 0; i < count; i++) {
		ids[i] = get_u64(b + HELLO_FIXED + 8 * i);
		if (gossip_wanted(&n->gossip, ids[i]) && (uint32_t)(ids[i] >> 32) != n->id)
			want_note(n, ids[i], p->sender, now);
	}
}

/*
 * Send the PULLs that are due (IWANT), one per responder: a missing message
 * is only asked for after PULL_DELAY_MS, because most of the time it is
 * still on its way, and asked again every PULL_RETRY_MS (of whichever
 * neighbour advertised it last) until it arrives or PULL_TRIES were spent.
 */
static void send_pulls(struct swarm_node *n, uint64_t now)
{
	for (int i = 0; i < SWARM_WANTS; i++) {
		struct want *w = &n->wants[i];
		uint8_t pull[5 + 8 * GOSSIP_DIGEST_IDS];
		size_t k = 0;
		if (!w->id || w->due_ms > now)
			continue;
		put_u32(pull, w->responder);
		for (int j = i; j < SWARM_WANTS && k < GOSSIP_DIGEST_IDS; j++) {
			struct want *x = &n->wants[j];
			if (!x->id || x->due_ms > now || x->responder != w->responder)
				continue;
			if (!gossip_wanted(&n->gossip, x->id) || x->tries >= PULL_TRIES) {
				x->id = 0;
				continue;
			}
			put_u64(pull + 5 + 8 * k++, x->id);
			x->tries++;
			x->due_ms = now + PULL_RETRY_MS;
		}
		if (k) {
			pull[4] = (uint8_t)k;
			send_plain(n, PH_PULL, 1, SWARM_BROADCAST, pull, 5 + 8 * k, now);
		}
	}
}

/*
 * A PULL names a responder and the IDs it should repair.  The responder
 * rebroadcasts each stored copy once per hold time, so one repair serves
 * every neighbour that missed it; others who miss the same IDs hold back
 * their own PULL meanwhile.
 */
static void on_pull(struct swarm_node *n, const struct pheromone *p, uint64_t now)
{
	uint8_t copy[PHEROMONE_MAX_BYTES];
	bool mine = get_u32(p->payload) == n->id;

	for (uint8_t i = 0; i < p->payload[4]; i++) {
		uint64_t id = get_u64(p->payload + 5 + 8 * i);
		size_t len;
		const uint8_t *pkt;
		if (!mine) {
			want_hold(n, id, now);
			continue;
		}
		pkt = gossip_stored(&n->gossip, id, now, &len);
		if (!pkt || recently(n->repaired, id, now))
			continue;
		remember(n->repaired, id, now + REPAIR_HOLD_MS);
		memcpy(copy, pkt, len);
		/* a repair starts a new wave with a full TTL, so a broadcast's
		 * reach is not bounded by its first wave's TTL; and never pose as
		 * the originator's neighbour */
		pheromone_set_route(copy, n->cfg.ttl,
				    copy[3] || get_u32(copy + 4) == n->id ? copy[3] : 1);
		transmit(n, SWARM_BROADCAST, copy, len);
	}
}

/*
 * PING: answer or refresh; ACK: proof of life or forward; PING_REQ: probe
 * for a neighbour.
 */
static void on_probe(struct swarm_node *n, uint32_t addr, const struct pheromone *p,
		     const uint8_t *pkt, size_t len, uint64_t now)
{
	uint32_t target = get_u32(p->payload), nonce = get_u32(p->payload + 4);
	uint32_t reply_to = p->type == PH_PING_REQ ? 0 : get_u32(p->payload + 8);
	const struct member *m;

	switch (p->type) {
	case PH_PING:
		if (target == n->id)
			send_probe(n, PH_ACK, addr, n->id, nonce, reply_to, now);
		if (p->hops == 0)
			membership_touch(&n->members, p->sender, now);
		break;
	case PH_ACK:
		if (target != p->sender)
			break;
		if (reply_to == 0 || reply_to == n->id) {
			membership_probe_answered(&n->members, p->sender, nonce, now);
			membership_touch(&n->members, p->sender, now);
			if (p->hops == 0)
				membership_confirm(&n->members, p->sender, addr, nonce);
		}
		else if (p->hops == 0)
			pingreq_forward(n, p, pkt, len, now);
		break;
	case PH_PING_REQ:
		m = membership_find(&n->members, target);
		if (m && target != n->id) {
			pingreq_remember(n, target, nonce, addr, now);
			send_probe(n, PH_PING, m->addr, target, nonce, p->sender, now);
		}
		break;
	}
}

/*
 * SUSPECT about us: refute it at once with an ALIVE (its sequence number
 * is newer than the incarnation the suspecter heard), at most every
 * 500 ms; about another: a confirmation if we suspect it too.  ALIVE:
 * its author refutes our suspicion.
 */
static void on_suspicion(struct swarm_node *n, const struct pheromone *p, uint64_t now)
{
	uint32_t target = get_u32(p->payload);

	if (p->type == PH_ALIVE) {
		membership_refuted(&n->members, p->sender, p->seq, now);
	} else if (target != n->id) {
		membership_confirm_suspicion(&n->members, target, p->sender);
	} else if (!n->alive_sent_ms || now >= n->alive_sent_ms + ALIVE_GAP_MS) {
		uint8_t b[ALIVE_BYTES];
		n->alive_sent_ms = now;
		membership_self_suspected(&n->members);
		put_u32(b, get_u32(p->payload + 4));
		send_plain(n, PH_ALIVE, MEMBER_TTL, SWARM_BROADCAST, b, sizeof b, now);
	}
}

static int check_cert(struct swarm_node *n, const uint8_t *cert, uint32_t id, uint64_t now,
		      struct node_cert *c);
static int check_signature(struct swarm_node *n, const uint8_t *sig, const uint8_t *msg,
			   size_t len, const uint8_t *pk);

/* What check_entry needs, and what it refused. */
struct entry_check {
	struct swarm_node *n;
	const struct pheromone *p;
	uint64_t now;
	int bad_cert, bad_sig;
};

/*
 * kv_check_fn: the entry's writer must be certified (the author's own
 * certificate, or one carried beside the entry, checked like an
 * author's) and must have signed the entry.  So a relay, even an insider,
 * can pass on entries but never alter one or make one up under another
 * writer's id.
 */
static int check_entry(void *ctx, uint16_t key, struct kv_entry *e, const uint8_t *cert)
{
	struct entry_check *ec = ctx;
	uint8_t msg[KV_SIGNED_MAX];
	struct node_cert c;

	if (e->writer == ec->p->sender)
		cert = ec->p->cert;
	if (!cert || check_cert(ec->n, cert, e->writer, ec->now, &c)) {
		ec->bad_cert++;
		return -EACCES;
	}
	if (check_signature(ec->n, e->sig, msg, kv_signed_bytes(msg, key, e), c.pk)) {
		ec->bad_sig++;
		return -EBADMSG;
	}
	memcpy(e->cert, cert, CERT_BYTES);
	return 0;
}

/*
 * Merge STATE entries; cancel our sync when the sender already holds our
 * store.  An entry with a bad writer signature is its author's fault (an
 * honest node sends only entries it checked); one whose writer's
 * certificate is refused is nobody's (it may have been revoked since).
 */
static void on_state(struct swarm_node *n, uint32_t addr, const struct pheromone *p, uint64_t now)
{
	uint8_t flags;
	uint64_t digest;
	struct entry_check ec = { n, p, now, 0, 0 };
	int changed = kv_decode_merge(&n->kv, p->payload, p->payload_len, &flags, &digest, now,
				      check_entry, &ec, NULL);

	if (changed < 0) {
		security(n, SEC_MALFORMED, addr, false, p->sender, p, now);
		return;
	}
	if (ec.bad_cert)
		security(n, SEC_BAD_CERT, addr, false, 0, p, now);
	if (ec.bad_sig)
		security(n, SEC_BAD_SIGNATURE, addr, true, p->sender, p, now);
	if (changed > 0) {
		swarm_emit(n, &(struct swarm_event){ .kind = SE_STATE, .sender = p->sender });
		/* news from across a healed partition: spread it swarm-wide */
		if (p->ttl == 1 && n->flood_due_ms == UINT64_MAX)
			n->flood_due_ms = now + swarm_random(n) % SYNC_BACKOFF_MS;
	}
	if ((flags & KV_FLAG_SYNC) && digest == kv_digest(&n->kv)) {
		n->sync_due_ms = UINT64_MAX;   /* the sender already holds what we hold */
		if (p->ttl > 1 || p->hops > 0)
			n->flood_due_ms = UINT64_MAX;
	}
}

/* Hand a MODULE payload to the module with that id. */
static void on_module(struct swarm_node *n, const struct pheromone *p, uint64_t now)
{
	for (int i = 0; i < SWARM_MODULES; i++) {
		const struct swarm_module *m = n->cfg.modules[i];
		if (m && m->id == p->payload[0] && m->process)
			m->process(n->module_state[i], n, p->sender, p->payload + 1,
				   p->payload_len - 1u, now);
	}
}

/* Act on an accepted message. */
static void dispatch(struct swarm_node *n, uint32_t addr, const struct pheromone *p,
		     const uint8_t *pkt, size_t len, uint64_t now)
{
	struct swarm_event ev = { .type = p->type, .sender = p->sender, .seq = p->seq,
				  .timestamp_ms = p->timestamp_ms, .addr = addr };

	switch (p->type) {
	case PH_HELLO:
		on_hello(n, addr, p, now);
		break;
	case PH_PING: case PH_ACK: case PH_PING_REQ:
		on_probe(n, addr, p, pkt, len, now);
		break;
	case PH_PULL:
		on_pull(n, p, now);
		break;
	case PH_SUSPECT: case PH_ALIVE:
		on_suspicion(n, p, now);
		break;
	case PH_DATA: case PH_ALARM:
		ev.kind = SE_DELIVER;
		ev.data = p->payload;
		ev.len = p->payload_len;
		swarm_emit(n, &ev);
		break;
	case PH_QUEEN_CMD:
		if (get_u16(p->payload) == QC_REVOKE)
			apply_revocation(n, get_u32(p->payload + 4), get_u64(p->payload + 8), now);
		ev.kind = SE_COMMAND;
		ev.code = get_u16(p->payload);
		ev.data = p->payload;
		ev.len = p->payload_len - CX_SIGNATURE_BYTES;
		swarm_emit(n, &ev);
		break;
	case PH_DIE:
		if (get_u32(p->payload) == n->id) {
			ev.kind = SE_COMMAND;
			ev.code = 0x100 | PH_DIE;
			ev.about = n->id;
			swarm_emit(n, &ev);
			swarm_apoptosis(n, DIE_ORDERED, now);
		}
		break;
	case PH_REBIRTH:
		membership_remove(&n->members, p->sender);
		break;
	case PH_STATE:
		on_state(n, addr, p, now);
		break;
	case PH_MODULE:
		on_module(n, p, now);
		break;
	}
}

/*
 * Queue a relay with the neighbours the first copy did not cover.  Nodes
 * with a larger share of uncovered neighbours draw shorter backoffs (down
 * to half the window), so the relays that reach the most new nodes tend
 * to go first and suppress the others.
 */
static void schedule_relay(struct swarm_node *n, uint32_t src_addr, const struct pheromone *p,
			   const uint8_t *pkt, size_t len, uint64_t now)
{
	uint64_t alive = membership_alive_mask(&n->members), uncovered = 0;
	uint64_t window = n->cfg.gossip.relay_max_ms + 1, r = swarm_random(n) % window;
	uint64_t count = 0, total = 0;

	if (alive && !n->cfg.gossip.flood) {
		uncovered = alive & ~membership_cover(&n->members, src_addr);
		for (uint64_t u = uncovered; u; u &= u - 1)
			count++;
		for (uint64_t u = alive; u; u &= u - 1)
			total++;
		r = r * (2 * total - count) / (2 * total);   /* all uncovered: half the window */
	}
	gossip_schedule_relay(&n->gossip, p, pkt, len, now, r);
	if (alive && !n->cfg.gossip.flood)
		gossip_set_uncovered(&n->gossip, pheromone_id(p), uncovered);
}

/* An Ed25519 check through the environment's hook, counted. */
static int check_signature(struct swarm_node *n, const uint8_t *sig, const uint8_t *msg,
			   size_t len, const uint8_t *pk)
{
	n->verify_ops++;
	return n->env.verify ? n->env.verify(n->env.ctx, sig, msg, len, pk)
			     : cx_verify(sig, msg, len, pk);
}

/*
 * The author's certificate (the queen's, unexpired, for the sender id, not
 * revoked; checked once per certificate) and its signature over the
 * message.  Returns 0 or the security event: none of these failures can be
 * blamed on anyone, since anyone may attach any certificate to anything.
 */
static int authenticate(struct swarm_node *n, const struct pheromone *p, uint64_t now)
{
	uint8_t msg[PHEROMONE_MAX_BYTES + 32];
	struct node_cert c;
	int fault = check_cert(n, p->cert, p->sender, now, &c);

	if (fault)
		return fault;
	return check_signature(n, p->sig, msg, pheromone_signed_bytes(msg, p), c.pk)
	       ? SEC_BAD_SIGNATURE : 0;
}

/*
 * A certificate for id: parses, names id, unexpired, not revoked, and
 * signed by the queen (checked once, then cached).  0 (c filled) or the
 * security event.
 */
static int check_cert(struct swarm_node *n, const uint8_t *cert, uint32_t id, uint64_t now,
		      struct node_cert *c)
{
	uint8_t msg[64 + CERT_BODY_BYTES];

	if (cert_decode(c, cert) || c->id != id || c->expiry_ms <= now)
		return SEC_BAD_CERT;
	if (revoked(&n->revoked, c->id, now))
		return SEC_REVOKED;
	if (!cert_cache_has(&n->certs, cert, c->id)) {
		if (check_signature(n, cert + CERT_BODY_BYTES, msg, cert_signed_bytes(msg, cert),
				    n->cfg.queen_pk))
			return SEC_BAD_CERT;
		cert_cache_put(&n->certs, cert, c->id, now);
	}
	return 0;
}

/* The cached certificate of id copied into out, or NULL (and ask for it). */
static const uint8_t *cached_cert(struct swarm_node *n, uint32_t id, uint8_t out[CERT_BYTES],
				  uint64_t now)
{
	const uint8_t *c = cert_cache_get(&n->certs, id, now);

	if (!c) {
		n->certless_skipped++;
		n->cert_wanted = true;
		return NULL;
	}
	memcpy(out, c, CERT_BYTES);
	return out;
}

/* See swarm.h and docs/PROTOCOL.md, "Receive pipeline". */
void swarm_receive(struct swarm_node *n, uint32_t src_addr, const uint8_t *pkt, size_t len,
		   uint64_t now_ms)
{
	struct pheromone p;
	uint8_t cert[CERT_BYTES];
	int v, fault;

	n->rx_packets++;
	/* link addresses are unauthenticated: nothing is ever blamed on one */
	if (pheromone_decode(&p, pkt, len)) {
		security(n, SEC_MALFORMED, src_addr, false, 0, NULL, now_ms);
		return;
	}
	if (sentinel_id_banned(&n->sentinel, p.sender, now_ms))
		return;
	/* A full table cannot admit a stranger: skip its HELLO before any check. */
	if (p.type == PH_HELLO && !membership_has_room(&n->members) &&
	    !membership_find(&n->members, p.sender))
		return;
	if (pheromone_verify(&p, n->mac_key)) {
		security(n, SEC_BAD_MAC, src_addr, false, 0, &p, now_ms);
		return;
	}
	v = gossip_classify(&n->gossip, &p, now_ms);
	if (v == GV_DUP) {
		if (gossip_relay_pending(&n->gossip, pheromone_id(&p))) {
			gossip_note_duplicate(&n->gossip, pheromone_id(&p));
			gossip_note_covered(&n->gossip, pheromone_id(&p),
					    membership_cover(&n->members, src_addr));
		}
		return;
	}
	/* ignored: a relay cannot know that a copy it holds went stale on the
	 * way, and anyone can replay an old capture */
	if (v == GV_STALE || v == GV_REPLAY) {
		security(n, v == GV_STALE ? SEC_STALE : SEC_REPLAY, src_addr, false, 0, &p, now_ms);
		return;
	}
	/* ignored, blamed on nobody: a HELLO without the certificate we lack
	 * (we ask for it in our next HELLO) */
	if (!p.cert && !(p.cert = cached_cert(n, p.sender, cert, now_ms)))
		return;
	/* rejected, blamed on nobody: the sender id is only a claim until here */
	if ((fault = authenticate(n, &p, now_ms))) {
		security(n, (enum sec_event)fault, src_addr, false, 0, &p, now_ms);
		return;
	}
	/* ignored: a replayer can bunch up an honest author's messages */
	if (gossip_admit(&n->gossip, &p, now_ms) == GV_RATE) {
		security(n, SEC_RATE, src_addr, false, p.sender, &p, now_ms);
		return;
	}
	/* rejected and blamed: the author signed it */
	if ((fault = validate(n, &p))) {
		security(n, (enum sec_event)fault, src_addr, true, p.sender, &p, now_ms);
		return;
	}
	gc_note_alive(n, p.sender);
	gossip_mark(&n->gossip, &p, now_ms);
	if (pheromone_type_relayed(p.type))
		schedule_relay(n, src_addr, &p, pkt, len, now_ms);
	dispatch(n, src_addr, &p, pkt, len, now_ms);
}
