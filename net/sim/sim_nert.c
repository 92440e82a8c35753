/*
 * swarm-sim `nert` scenario: two NERT sessions over a simulated UDP path
 * with a bottleneck (10 Mbit/s, 64-packet drop-tail queue), 10 ms one-way
 * delay with jitter, and the --loss/--dup/--reorder model.  The transfer
 * runs twice from the same seed, without and with impairments, and the
 * goodput ratio compares the two.  `--attack ghost-init` puts an attacker
 * on the path that records the initiator's packets and replays them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/bytes.h"
#include "net/nert.h"
#include "net/sim/sim.h"

enum {
	BW_BYTES_PER_MS = 1250,   /* 10 Mbit/s */
	QUEUE_LIMIT = 64,
	PROP_US = 10000,
	JITTER_US = 2000,
	MSG_BYTES = 1u << 20,
	MAX_MSGS = 64,
};

struct npkt {
	uint64_t t, order;
	int to;
	uint16_t len;
	uint8_t data[NERT_MAX_PACKET];
};

struct link {
	uint64_t free_at;               /* transmitter idle from (us) */
	uint64_t finish[QUEUE_LIMIT];   /* serialisation end of queued packets */
	uint32_t head;
};

struct side;
struct ghost;

struct nsim {
	struct sim rngsrc;              /* only its PRNG is used */
	double loss, dup, reorder;
	uint64_t now_us, order;
	struct npkt **heap;
	size_t len, cap;
	struct link link[2];
	struct side *sides[2];
	bool failed;
	struct ghost *ghost;            /* --attack ghost-init, or NULL */
};

struct side {
	struct nsim *ns;
	int index;
	struct nert_session s;
	struct nert_endpoint ep;
	uint8_t *rx;
	uint32_t msgs_got;
	uint64_t bytes_got, done_us;
	bool intact, closed_clean;
	const uint8_t *expect[MAX_MSGS];
	uint32_t expect_len[MAX_MSGS];
	uint32_t nexpect;
};

/* Event order: time, then insertion. */
static bool pkt_before(const struct npkt *a, const struct npkt *b)
{
	return a->t < b->t || (a->t == b->t && a->order < b->order);
}

/* Insert a packet into the path's event heap. */
static void npush(struct nsim *ns, struct npkt *p)
{
	size_t i;

	if (ns->len == ns->cap) {
		ns->cap = ns->cap ? 2 * ns->cap : 256;
		ns->heap = realloc(ns->heap, ns->cap * sizeof *ns->heap);
	}
	p->order = ns->order++;
	for (i = ns->len++; i > 0 && pkt_before(p, ns->heap[(i - 1) / 2]); i = (i - 1) / 2)
		ns->heap[i] = ns->heap[(i - 1) / 2];
	ns->heap[i] = p;
}

/* Remove the earliest packet. */
static struct npkt *npop(struct nsim *ns)
{
	struct npkt *top = ns->heap[0], *last = ns->heap[--ns->len];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= ns->len)
			break;
		if (c + 1 < ns->len && pkt_before(ns->heap[c + 1], ns->heap[c]))
			c++;
		if (!pkt_before(ns->heap[c], last))
			break;
		ns->heap[i] = ns->heap[c];
		i = c;
	}
	if (ns->len)
		ns->heap[i] = last;
	return top;
}

/*
 * The ghost-init attacker: it taps the responder's link, records the
 * initiator's INITs and a sample of its DATA packets as they arrive, and replays them to the
 * responder every GHOST_TICK_MS (each INIT once it is 1 s old, from the
 * initiator's address and from a spoofed one), plus a flood of replayed
 * INITs from spoofed addresses (GHOST_FLOOD_PER_TICK per tick) between
 * 10 and 12 s.
 */
enum { GHOST_INITS = 64, GHOST_DATA = 256, GHOST_TICK_MS = 250, GHOST_FLOOD_PER_TICK = 250 };

struct ghost {
	uint8_t init[GHOST_INITS][NERT_INIT_BYTES];
	uint64_t init_us[GHOST_INITS];
	uint32_t ninit;
	uint8_t data[GHOST_DATA][NERT_MAX_PACKET];
	uint16_t data_len[GHOST_DATA];
	uint32_t ndata, seen_data;
	uint64_t next_us;
	/* metrics */
	uint64_t replayed_inits, replayed_data, accepted, dh_ops, flood_dh_loaded, spoof_replies;
	uint64_t inflight_copies;
};

/* Record what the responder received from the initiator: every distinct INIT (each copy), every 16th DATA packet. */
static void ghost_record(struct ghost *g, const uint8_t *pkt, size_t len, uint64_t now_us)
{
	if (pkt[1] == NP_INIT && len == NERT_INIT_BYTES && g->ninit < GHOST_INITS &&
	    (!g->ninit || memcmp(g->init[g->ninit - 1], pkt, NERT_INIT_BODY))) {
		memcpy(g->init[g->ninit], pkt, len);
		g->init_us[g->ninit++] = now_us;
	} else if (pkt[1] == NP_DATA && g->seen_data++ % 16 == 0) {
		uint32_t i = g->ndata < GHOST_DATA ? g->ndata++ : (uint32_t)(g->seen_data % GHOST_DATA);
		memcpy(g->data[i], pkt, len);
		g->data_len[i] = (uint16_t)len;
	}
}

/* Little-endian u32, for the pcap headers. */
static void put_le32(uint8_t *p, uint32_t v)
{
	for (int b = 0; b < 4; b++)
		p[b] = (uint8_t)(v >> (8 * b));
}

/*
 * With SIM_PCAP=FILE, every packet a side sends (before the path's loss)
 * goes to FILE as raw IPv4/UDP (link type 101) from 127.0.0.(1 + from)
 * port 7901 + from, at simulated time; with SIM_TXLOG=FILE the sender
 * also logs "type epoch sid pn length" per packet.  For the dissector
 * check (tools/wireshark/exoswarm.lua).
 */
static void capture(const struct nsim *ns, int from, const uint8_t *pkt, size_t len)
{
	static FILE *pcap, *txlog;
	static bool opened;
	uint8_t rec[16 + 28];
	uint32_t total = 28u + (uint32_t)len, sum = 0;

	if (!opened) {
		const char *p = getenv("SIM_PCAP"), *t = getenv("SIM_TXLOG");
		uint8_t h[24] = { 0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0 };
		opened = true;
		if (p && (pcap = fopen(p, "wb"))) {
			put_le32(h + 16, 65535);
			put_le32(h + 20, 101);
			fwrite(h, 1, sizeof h, pcap);
		}
		if (t)
			txlog = fopen(t, "w");
	}
	if (txlog)
		fprintf(txlog, "%u %u %u %u %zu\n", pkt[1], get_u16(pkt + 2), get_u32(pkt + 4),
			get_u32(pkt + 8), len);
	if (!pcap)
		return;
	put_le32(rec, (uint32_t)(ns->now_us / 1000000));
	put_le32(rec + 4, (uint32_t)(ns->now_us % 1000000));
	put_le32(rec + 8, total);
	put_le32(rec + 12, total);
	memset(rec + 16, 0, 28);
	rec[16] = 0x45;
	put_u16(rec + 18, (uint16_t)total);
	rec[24] = 64;
	rec[25] = 17;
	put_u32(rec + 28, 0x7f000001u + (uint32_t)from);
	put_u32(rec + 32, 0x7f000002u - (uint32_t)from);
	for (int i = 0; i < 20; i += 2)
		sum += get_u16(rec + 16 + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put_u16(rec + 26, (uint16_t)~sum);
	put_u16(rec + 36, (uint16_t)(7901 + from));
	put_u16(rec + 38, (uint16_t)(7902 - from));
	put_u16(rec + 40, (uint16_t)(8 + len));
	fwrite(rec, 1, sizeof rec, pcap);
	fwrite(pkt, 1, len, pcap);
	fflush(pcap);
	fflush(txlog);
}

/* Queue a packet on the bottleneck towards the other side. */
static void path_send(struct nsim *ns, int from, const uint8_t *pkt, size_t len)
{
	struct link *l = &ns->link[from];
	uint32_t queued = 0;
	uint64_t start, done;
	int copies = 1;

	capture(ns, from, pkt, len);
	for (int i = 0; i < QUEUE_LIMIT; i++)
		queued += l->finish[i] > ns->now_us;
	if (queued >= QUEUE_LIMIT)
		return;                                  /* drop-tail: congestion */
	start = l->free_at > ns->now_us ? l->free_at : ns->now_us;
	done = start + (uint64_t)len * 1000 / BW_BYTES_PER_MS;
	l->free_at = done;
	l->finish[l->head++ % QUEUE_LIMIT] = done;
	if (ns->loss > 0 && sim_uniform(&ns->rngsrc) < ns->loss)
		return;
	if (ns->dup > 0 && sim_uniform(&ns->rngsrc) < ns->dup)
		copies = 2;
	for (int c = 0; c < copies; c++) {
		struct npkt *p = malloc(sizeof *p);
		p->t = done + PROP_US + sim_rand(&ns->rngsrc) % JITTER_US;
		if (ns->reorder > 0 && sim_uniform(&ns->rngsrc) < ns->reorder)
			p->t += 5000 + sim_rand(&ns->rngsrc) % 45000;
		p->to = 1 - from;
		p->len = (uint16_t)len;
		memcpy(p->data, pkt, len);
		npush(ns, p);
	}
}

/* nert_config.random from the simulator's generator. */
static void cb_random(void *ctx, void *buf, size_t len)
{
	struct side *sd = ctx;

	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)sim_rand(&sd->ns->rngsrc);
}

/* nert_config.send: onto the bottleneck towards the peer. */
static void cb_send(void *ctx, const uint8_t *pkt, size_t len)
{
	struct side *sd = ctx;

	path_send(sd->ns, sd->index, pkt, len);
}

/* Check every delivered message against what was sent, in order. */
static void cb_deliver(void *ctx, uint8_t cls, const uint8_t *msg, size_t len)
{
	struct side *sd = ctx;
	uint32_t k = sd->msgs_got++;

	if (cls < NERT_RELIABLE)
		return;
	if (k >= sd->nexpect || len != sd->expect_len[k] || memcmp(msg, sd->expect[k], len))
		sd->intact = false;
	sd->bytes_got += len;
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "message %u delivered at %llu us\n", k, (unsigned long long)sd->ns->now_us);
	if (sd->msgs_got == sd->nexpect)
		sd->done_us = sd->ns->now_us;
}

/* nert_config.closed: remember a clean close or a failure. */
static void cb_closed(void *ctx, int reason)
{
	struct side *sd = ctx;

	if (reason) {
		sd->ns->failed = true;
		if (getenv("SIM_DEBUG"))
			fprintf(stderr, "side %d failed %d at %llu us\n", sd->index, reason,
				(unsigned long long)sd->ns->now_us);
	}
	else
		sd->closed_clean = true;
}

/* nert_config.send_to: cookie replies reach the other side only when sent to its address. */
static void cb_send_to(void *ctx, const uint8_t *addr, size_t alen, const uint8_t *pkt, size_t len)
{
	struct side *sd = ctx;

	if (alen == 1 && addr[0] == 1 - sd->index)
		path_send(sd->ns, sd->index, pkt, len);
	else if (sd->ns->ghost)
		sd->ns->ghost->spoof_replies++;       /* to an address the attacker made up */
}

/* Was the responder's endpoint under load before this INIT? */
static bool ghost_loaded(const struct nert_endpoint *ep, uint64_t now_ms)
{
	return ep->load_sec == now_ms / 1000 &&
	       (ep->load_count >= NERT_LOAD_INITS || ep->load_last > NERT_LOAD_INITS);
}

/*
 * Feed one attacker packet to the responder.  It counts as accepted when
 * it changed what the responder trusts or delivers: a new pending
 * handshake, new keys, a restart, a state change, a delivery.  A copy of
 * the INIT the initiator is still retrying (never answered: it met a
 * cookie or was lost) is that initiator's genuine handshake, not a ghost;
 * it is counted apart (inflight_copies).
 */
static void ghost_inject(struct nsim *ns, const uint8_t *pkt, size_t len, const uint8_t *src,
			 size_t src_len, bool flood)
{
	struct ghost *g = ns->ghost;
	struct side *b = ns->sides[1];
	struct nert_session *s = &b->s;
	uint64_t now = ns->now_us / 1000, dh = b->ep.dh_ops;
	uint64_t rekeys = s->stats.rekeys, restarts = s->stats.restarts;
	uint32_t pend_sid = s->pend.active ? s->pend.k.local_sid : 0, cur_sid = s->cur.local_sid;
	uint32_t got = b->msgs_got;
	uint8_t state = s->state;
	bool loaded = ghost_loaded(&b->ep, now);
	const struct nert_session *a = &ns->sides[0]->s;
	bool inflight = pkt[1] == NP_INIT && (a->state == NERT_HS_SENT || a->rekeying) &&
			!memcmp(pkt, a->init_pkt, 8) &&        /* any copy (pn) of that INIT */
			!memcmp(pkt + NERT_HEADER_BYTES, a->init_pkt + NERT_HEADER_BYTES,
				NERT_INIT_BODY - NERT_HEADER_BYTES);

	nert_receive(s, pkt, len, src, src_len, now);
	g->dh_ops += b->ep.dh_ops - dh;
	if (flood && loaded)
		g->flood_dh_loaded += b->ep.dh_ops - dh;
	if ((s->pend.active ? s->pend.k.local_sid : 0) != pend_sid || s->cur.local_sid != cur_sid ||
	    s->stats.rekeys != rekeys || s->stats.restarts != restarts || b->msgs_got != got ||
	    s->state != state) {
		if (inflight) {
			g->inflight_copies++;
			return;
		}
		g->accepted++;
		if (getenv("SIM_DEBUG"))
			fprintf(stderr, "accepted at %llu ms: type %u pend %x->%x cur %x->%x rekeys %llu->%llu got %u->%u state %u->%u\n",
				(unsigned long long)now, pkt[1], pend_sid, s->pend.active ? s->pend.k.local_sid : 0,
				cur_sid, s->cur.local_sid, (unsigned long long)rekeys,
				(unsigned long long)s->stats.rekeys, got, b->msgs_got, state, s->state);
	}
}

/* A made-up 4-byte source address (the sides use 1-byte ones). */
static void spoofed(struct nsim *ns, uint8_t addr[4])
{
	put_u32(addr, (uint32_t)sim_rand(&ns->rngsrc));
}

/* One attacker tick: replay old INITs and DATA; flood replayed INITs between 10 and 12 s. */
static void ghost_act(struct nsim *ns)
{
	struct ghost *g = ns->ghost;
	uint8_t a_addr = 0, spoof[4];

	g->next_us = ns->now_us + GHOST_TICK_MS * 1000;
	for (uint32_t i = 0; i < g->ninit; i++) {
		if (ns->now_us < g->init_us[i] + 1000000)
			continue;
		spoofed(ns, spoof);
		ghost_inject(ns, g->init[i], NERT_INIT_BYTES, &a_addr, 1, false);
		ghost_inject(ns, g->init[i], NERT_INIT_BYTES, spoof, sizeof spoof, false);
		g->replayed_inits += 2;
	}
	for (uint32_t i = 0; i < 8 && g->ndata; i++) {
		uint32_t k = (uint32_t)(sim_rand(&ns->rngsrc) % g->ndata);
		ghost_inject(ns, g->data[k], g->data_len[k], &a_addr, 1, false);
		g->replayed_data++;
	}
	if (ns->now_us >= 10000000 && ns->now_us < 12000000 && g->ninit)
		for (uint32_t i = 0; i < GHOST_FLOOD_PER_TICK; i++) {
			spoofed(ns, spoof);
			ghost_inject(ns, g->init[i % g->ninit], NERT_INIT_BYTES, spoof, sizeof spoof, true);
			g->replayed_inits++;
		}
}

/*
 * Where a transfer spent its time, for SIM_DEBUG's line per seed: window
 * cuts, the smallest window after slow start, when the first RTT sample
 * came, and how long the tail took (from the last new segment sent to
 * the last byte delivered).
 */
struct sender_log {
	uint32_t cuts, min_cwnd, last_ssthresh;
	uint64_t first_sample_us, all_sent_us;
};

/* Note the sender's state after an event (SIM_DEBUG summary). */
static void log_sender(struct sender_log *l, const struct nsim *ns, const struct nert_session *s)
{
	uint32_t c = s->cwnd_milli / 1000;

	if (s->ssthresh < l->last_ssthresh && l->last_ssthresh != NERT_WINDOW)
		l->cuts++;
	if (s->ssthresh < NERT_WINDOW && c < l->min_cwnd)
		l->min_cwnd = c;
	l->last_ssthresh = s->ssthresh;
	if (!l->first_sample_us && s->rtt_valid)
		l->first_sample_us = ns->now_us;
	if (!l->all_sent_us && s->snd_end && s->snd_nxt == s->snd_end)
		l->all_sent_us = ns->now_us;
}

/*
 * SIM_TRACE=1: one line per change of the sender's congestion state
 * (window, ssthresh, timeouts, backoff, probes), to see where a slow seed
 * loses its time.
 */
static void trace_sender(const struct nsim *ns, const struct nert_session *s)
{
	static uint64_t last[6];
	uint64_t now[6] = { s->cwnd_milli / 1000, s->ssthresh, s->stats.timeouts, s->rto_backoff,
			    s->stats.probes, s->snd_una / 64 };

	if (!getenv("SIM_TRACE") || !memcmp(now, last, sizeof now))
		return;
	memcpy(last, now, sizeof now);
	fprintf(stderr, "%8.3f ms una %u nxt %u cwnd %u ssthresh %u srtt %u min %u rto %u backoff %u timeouts %llu probes %llu retx %llu\n",
		ns->now_us / 1000.0, s->snd_una, s->snd_nxt, s->cwnd_milli / 1000, s->ssthresh, s->srtt,
		s->min_rtt, s->rto, s->rto_backoff, (unsigned long long)s->stats.timeouts,
		(unsigned long long)s->stats.probes, (unsigned long long)s->stats.retransmits);
}

/* A session's next deadline in microseconds. */
static uint64_t next_timer(struct side *sd)
{
	uint64_t t = nert_next_deadline(&sd->s);

	return t == UINT64_MAX ? UINT64_MAX : t * 1000;
}

/* The first MiB travels as CRITICAL (FEC always on), the rest RELIABLE. */
static uint8_t m_class(uint32_t m)
{
	return m == 0 ? NERT_CRITICAL : NERT_RELIABLE;
}

struct nert_result {
	double seconds;          /* from the handshake's end to the last byte */
	double handshake_s;
	bool intact;
	uint64_t retransmits, fec_recovered;
	uint64_t rekeys, cookies;       /* responder: re-handshakes, cookie replies */
};

/* One complete transfer of `bytes` from side 0 to side 1. */
static struct nert_result transfer(const struct sim_opts *o, double loss, double dup,
				   double reorder, const uint8_t *payload, uint32_t bytes,
				   struct ghost *g)
{
	static struct side sides[2];
	struct nsim ns = { .loss = loss, .dup = dup, .reorder = reorder, .ghost = g };
	struct nert_config cfg[2];
	uint8_t sk[2][32], pk[2][32];
	uint64_t end_us = (uint64_t)((o->duration_s >= 0 ? o->duration_s : g ? 40 : 300) * 1e6);
	struct nert_result r = { 0 };
	struct sim_opts so = *o;
	uint32_t nmsg = (bytes + MSG_BYTES - 1) / MSG_BYTES, queued = 0;
	uint64_t established_us = 0;
	struct sender_log slog = { .min_cwnd = UINT32_MAX, .last_ssthresh = NERT_WINDOW };

	so.nodes = 2;
	so.topology = "lan";
	sim_setup(&ns.rngsrc, &so, 0);
	for (int i = 0; i < 2; i++) {
		cx_random(sk[i], 32);
		cx_dh_public(pk[i], sk[i]);
	}
	for (int i = 0; i < 2; i++) {
		struct side *sd = &sides[i];
		memset(sd, 0, sizeof *sd);
		sd->ns = &ns;
		sd->index = i;
		sd->intact = true;
		sd->rx = malloc(MSG_BYTES);
		ns.sides[i] = sd;
		cfg[i] = (struct nert_config){ .fec_k = (uint8_t)(o->stop_and_wait ? 0 : o->fec_k < 0 ? 8 : o->fec_k),
					       .max_inflight = o->stop_and_wait ? 1 : 0,
					       .rx_buf = sd->rx, .rx_cap = MSG_BYTES, .ctx = sd,
					       .random = cb_random, .send = cb_send,
					       .deliver = cb_deliver, .closed = cb_closed,
					       .endpoint = &sd->ep, .send_to = cb_send_to,
					       .rekey_ms = g ? 5000 : 0 };
		memcpy(cfg[i].static_sk, sk[i], 32);
		memcpy(cfg[i].peer_pk, pk[1 - i], 32);
		nert_init(&sd->s, &cfg[i], i == 0, 0);
	}
	for (uint32_t m = 0; m < nmsg && m < MAX_MSGS; m++) {
		uint32_t len = bytes - m * MSG_BYTES < MSG_BYTES ? bytes - m * MSG_BYTES : MSG_BYTES;
		sides[1].expect[m] = payload + (size_t)m * MSG_BYTES;
		sides[1].expect_len[m] = len;
	}
	sides[1].nexpect = nmsg;
	nert_connect(&sides[0].s, 0);
	while (ns.now_us < end_us && !ns.failed && !(sides[0].closed_clean && sides[1].closed_clean)) {
		uint64_t t = ns.len ? ns.heap[0]->t : UINT64_MAX;
		int which = -1;
		if (g && g->next_us < t) {
			t = g->next_us;
			which = 2;
		}
		for (int i = 0; i < 2; i++) {
			uint64_t d = next_timer(&sides[i]);
			if (d < t) {
				t = d;
				which = i;
			}
		}
		if (t == UINT64_MAX)
			break;
		ns.now_us = t > ns.now_us ? t : ns.now_us;
		if (which == 2) {
			ghost_act(&ns);
		} else if (which >= 0) {
			nert_on_timer(&sides[which].s, ns.now_us / 1000 + (ns.now_us % 1000 != 0));
		} else {
			struct npkt *p = npop(&ns);
			if (g && p->to == 1)
				ghost_record(g, p->data, p->len, ns.now_us);
			uint8_t from = (uint8_t)(1 - p->to);     /* the source address: the side's index */
			nert_receive(&sides[p->to].s, p->data, p->len, &from, 1, ns.now_us / 1000);
			free(p);
		}
		if (!established_us && sides[0].s.state == NERT_ESTABLISHED)
			established_us = ns.now_us;
		trace_sender(&ns, &sides[0].s);
		log_sender(&slog, &ns, &sides[0].s);
		while (queued < nmsg && nert_send(&sides[0].s, o->stop_and_wait ? NERT_RELIABLE : m_class(queued),
						  payload + (size_t)queued * MSG_BYTES,
						  sides[1].expect_len[queued], ns.now_us / 1000) == 0)
			queued++;
		if (!g && queued == nmsg && sides[1].done_us && nert_send_idle(&sides[0].s) &&
		    sides[0].s.state == NERT_ESTABLISHED)
			nert_close(&sides[0].s, ns.now_us / 1000);
	}
	r.handshake_s = (double)established_us / 1e6;
	r.seconds = sides[1].done_us ? (double)(sides[1].done_us - established_us) / 1e6
				     : (double)end_us / 1e6;
	r.intact = sides[1].intact && sides[1].msgs_got == nmsg && sides[1].done_us && !ns.failed &&
		   ((sides[0].closed_clean && sides[1].closed_clean) ||
		    (g && sides[1].s.state == NERT_ESTABLISHED));
	r.rekeys = sides[1].s.stats.rekeys;
	r.cookies = sides[1].ep.cookies_sent;
	r.retransmits = sides[0].s.stats.retransmits;
	r.fec_recovered = sides[1].s.stats.fec_recovered;
	if (getenv("SIM_DEBUG"))
		fprintf(stderr, "handshake %.0f ms (%u INITs) first sample +%.0f ms, %u cuts, min cwnd %u, "
			"timeouts %llu probes %llu retx %llu fec %llu, tail %.0f ms of %.0f ms, "
			"cwnd %u ssthresh %u srtt %u min %u rto %u pkts %llu\n",
			r.handshake_s * 1000, sides[0].s.hs_tries,
			slog.first_sample_us ? (slog.first_sample_us - established_us) / 1000.0 : -1.0,
			slog.cuts, slog.min_cwnd == UINT32_MAX ? 0 : slog.min_cwnd,
			(unsigned long long)sides[0].s.stats.timeouts,
			(unsigned long long)sides[0].s.stats.probes, (unsigned long long)r.retransmits,
			(unsigned long long)r.fec_recovered,
			sides[1].done_us > slog.all_sent_us ? (sides[1].done_us - slog.all_sent_us) / 1000.0 : 0,
			r.seconds * 1000, sides[0].s.cwnd_milli, sides[0].s.ssthresh,
			sides[0].s.srtt, sides[0].s.min_rtt, sides[0].s.rto,
			(unsigned long long)sides[0].s.stats.packets_sent);
	while (ns.len)
		free(npop(&ns));
	free(ns.heap);
	for (int i = 0; i < 2; i++)
		free(sides[i].rx);
	sim_free(&ns.rngsrc);
	return r;
}

/* One seed: the transfer without and with impairments (the payload from the seed). */
struct nert_run {
	struct nert_result clean, lossy;
	double ratio;
	bool intact;
};

static struct nert_run run_seed(const struct sim_opts *o, uint32_t bytes)
{
	uint8_t *payload = malloc(bytes);
	struct nert_run r;
	struct sim src;

	sim_setup(&src, o, 0);
	for (uint32_t i = 0; i < bytes; i++)
		payload[i] = (uint8_t)sim_rand(&src);
	sim_free(&src);
	r.clean = transfer(o, 0, 0, 0, payload, bytes, NULL);
	r.lossy = transfer(o, o->loss, o->dup, o->reorder, payload, bytes, NULL);
	r.ratio = r.clean.seconds / r.lossy.seconds;
	r.intact = r.lossy.intact && r.clean.intact;
	free(payload);
	return r;
}

/* qsort order of doubles. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * --seeds N: the same transfer from N consecutive seeds; the JSON reports
 * how many were delivered intact and the smallest, median and mean
 * goodput ratio (SIM_DEBUG=1 prints each seed's).
 */
static int nert_many_seeds(const struct sim_opts *o, uint32_t bytes)
{
	struct sim_opts so = *o;
	uint32_t intact = 0;
	double clean_Bps = 0, lossy_Bps = 0;
	double min = 1e9, sum = 0, *ratios = calloc(o->seeds, sizeof *ratios), median;
	uint64_t worst = o->seed;

	for (uint32_t i = 0; i < o->seeds; i++) {
		struct nert_run r;
		so.seed = o->seed + i;
		r = run_seed(&so, bytes);
		if (getenv("SIM_DEBUG"))
			fprintf(stderr, "seed %llu ratio %.4f intact %d\n",
				(unsigned long long)so.seed, r.ratio, r.intact);
		ratios[i] = r.ratio;
		clean_Bps += bytes / r.clean.seconds / o->seeds;
		lossy_Bps += bytes / r.lossy.seconds / o->seeds;
		intact += r.intact;
		sum += r.ratio;
		if (r.ratio < min) {
			min = r.ratio;
			worst = so.seed;
		}
	}
	qsort(ratios, o->seeds, sizeof *ratios, cmp_double);
	median = o->seeds % 2 ? ratios[o->seeds / 2]
			      : (ratios[o->seeds / 2 - 1] + ratios[o->seeds / 2]) / 2;
	free(ratios);
	printf("{\"scenario\":\"nert\",\"bytes\":%u,\"seeds\":%u,\"first_seed\":%llu,"
	       "\"intact_seeds\":%u,\"goodput_ratio_min\":%.4f,\"goodput_ratio_median\":%.4f,"
	       "\"goodput_ratio_mean\":%.4f,\"goodput_mean_Bps\":%.0f,\"goodput_lossless_mean_Bps\":%.0f,"
	       "\"worst_seed\":%llu,\"delivered_intact\":%s}\n",
	       bytes, o->seeds, (unsigned long long)o->seed, intact, min, median, sum / o->seeds,
	       lossy_Bps, clean_Bps,
	       (unsigned long long)worst, intact == o->seeds ? "true" : "false");
	return 0;
}

/*
 * --attack ghost-init: the transfer with the impairments while the
 * attacker replays recorded INITs and DATA (re-handshakes every 5 s, so
 * there are many INITs to replay).  `accepted` must be 0.
 */
static int nert_ghost_init(const struct sim_opts *o, uint32_t bytes)
{
	static struct ghost g;
	uint8_t *payload = malloc(bytes);
	struct nert_result r;
	struct sim src;

	memset(&g, 0, sizeof g);
	g.next_us = 1000000;
	sim_setup(&src, o, 0);
	for (uint32_t i = 0; i < bytes; i++)
		payload[i] = (uint8_t)sim_rand(&src);
	sim_free(&src);
	r = transfer(o, o->loss, o->dup, o->reorder, payload, bytes, &g);
	printf("{\"scenario\":\"nert\",\"attack\":\"ghost-init\",\"bytes\":%u,\"inits_recorded\":%u,"
	       "\"replayed_inits\":%llu,\"replayed_data\":%llu,\"rekeys\":%llu,\"cookies\":%llu,"
	       "\"spoof_replies\":%llu,\"dh_ops_attack\":%llu,\"flood_dh_loaded\":%llu,"
	       "\"inflight_copies\":%llu,\"accepted\":%llu,\"delivered_intact\":%s}\n",
	       bytes, g.ninit, (unsigned long long)g.replayed_inits,
	       (unsigned long long)g.replayed_data, (unsigned long long)r.rekeys,
	       (unsigned long long)r.cookies, (unsigned long long)g.spoof_replies,
	       (unsigned long long)g.dh_ops, (unsigned long long)g.flood_dh_loaded,
	       (unsigned long long)g.inflight_copies, (unsigned long long)g.accepted, r.intact ? "true" : "false");
	free(payload);
	return 0;
}

/* Run the transfer without and with impairments and print the metrics. */
int sim_scenario_nert(const struct sim_opts *o)
{
	uint32_t bytes = o->bytes ? o->bytes : 4u << 20;
	struct nert_run r;

	if (bytes > (uint32_t)MAX_MSGS * MSG_BYTES)
		bytes = MAX_MSGS * MSG_BYTES;
	if (o->attack && !strcmp(o->attack, "ghost-init"))
		return nert_ghost_init(o, bytes);
	if (o->seeds > 1)
		return nert_many_seeds(o, bytes);
	r = run_seed(o, bytes);
	printf("{\"scenario\":\"nert\",\"baseline\":\"%s\",\"bytes\":%u,\"handshake_ms\":%.1f,"
	       "\"goodput_Bps\":%.0f,\"goodput_lossless_Bps\":%.0f,\"goodput_ratio\":%.4f,"
	       "\"retransmits\":%llu,\"fec_recovered\":%llu,\"delivered_intact\":%s}\n",
	       o->stop_and_wait ? "stop-and-wait" : "none", bytes, r.lossy.handshake_s * 1000,
	       bytes / r.lossy.seconds, bytes / r.clean.seconds, r.ratio,
	       (unsigned long long)r.lossy.retransmits, (unsigned long long)r.lossy.fec_recovered,
	       r.intact ? "true" : "false");
	return 0;
}
