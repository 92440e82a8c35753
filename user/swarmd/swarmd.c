/*
 * swarmd: one swarm node on a real network.  It drives the sans-I/O swarm
 * core (net/swarm.h: roles, heartbeats, gossip, membership, the store,
 * queen commands, the maze module) with UDP sockets (link.h: multicast on
 * the local link, or swarm-hub in relay mode), answers the operator over
 * NERT (nertlink.h), persists its incarnation, logs to stderr and keeps a
 * black box and a status file in its state directory.  POSIX only, so the
 * same source builds for Linux and for the library OS.
 * Usage and files: docs/PROTOCOL.md, "swarmd".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/bytes.h"
#include "net/maze.h"
#include "net/swarm.h"
#include "user/swarmd/blackbox.h"
#include "user/swarmd/keyfile.h"
#include "user/swarmd/link.h"
#include "user/swarmd/nertlink.h"

enum { MARKS = 8, MARK_LEN = 64, STATUS_MS = 500, BLACKBOX_MS = 1000, LOG_REJECTS = 200,
       MAZE_SIDE = 8, STATUS_MAX = 16384, RX_BURST = 256 };

struct opts {
	const char *key, *queen, *swarm_key, *state_dir, *ctl_pub, *name, *txlog;
	struct sockaddr_in bind, group, hub, ctl;
	int role;
	uint64_t maze_seed;
	bool maze;
	double duration_s;
};

struct daemon {
	struct opts o;
	struct node_keys keys;
	struct link link;
	struct nlink ctl;
	bool ctl_on;
	struct swarm_node node;
	FILE *txlog;              /* --txlog: one line per pheromone sent */
	struct blackbox bb;
	struct maze_world world;
	uint8_t walls[MAZE_SIDE * MAZE_SIDE];
	uint64_t start_ms, next_status_ms, next_bb_ms, maze_solved_ms;
	uint64_t delivered, commands, rejects, bans, deaths;
	uint64_t rejects_by[SEC_KINDS];   /* per enum sec_event, for the status file */
	char marks[MARKS][MARK_LEN];
	uint32_t nmarks;
	uint32_t write_failed;    /* bit 0 status, bit 1 black box: last write failed */
	uint8_t reply[STATUS_MAX];
};

static struct daemon D;
static volatile sig_atomic_t stop_signal;

static const char *const role_names[] = { "worker", "explorer", "sentinel", "queen" };

/* A log line on stderr, prefixed with the node id and uptime. */
static void logf_(const char *fmt, ...)
{
	va_list ap;
	uint64_t t = nl_wall_ms() - D.start_ms;

	fprintf(stderr, "swarmd[%08x] %6" PRIu64 ".%03u ", D.node.id, t / 1000, (unsigned)(t % 1000));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void on_signal(int sig)
{
	stop_signal = sig;
}

/*
 * Send through the link; with --txlog, also note the header fields of
 * what was sent (type sender seq ttl hops payload_len), so a capture can
 * be checked against what the nodes really sent.
 */
static void env_send(void *ctx, uint32_t dst, const uint8_t *pkt, size_t len)
{
	struct daemon *d = ctx;

	if (d->txlog && len >= PHEROMONE_HEADER_BYTES)
		fprintf(d->txlog, "%u %08x %u %u %u %u\n", pkt[1], get_u32(pkt + 4), get_u32(pkt + 8),
			pkt[2], pkt[3], get_u16(pkt + 20));
	link_send(&d->link, dst, pkt, len, nl_wall_ms());
}

/* Path of a file in the state directory. */
static const char *state_path(const char *name)
{
	static char path[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/%s", D.o.state_dir, name);
	return path[k];
}

/* A queen's MARK: keep its argument as text for the status file. */
static void note_mark(struct daemon *d, const struct swarm_event *ev)
{
	size_t n = ev->len > 4 ? ev->len - 4 : 0;
	char *m = d->marks[d->nmarks++ % MARKS];

	if (n > get_u16(ev->data + 2))
		n = get_u16(ev->data + 2);
	if (n >= MARK_LEN)
		n = MARK_LEN - 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = ev->data[4 + i];
		m[i] = c > ' ' && c < 0x7f ? (char)c : '_';
	}
	m[n] = 0;
	logf_("command mark '%s' from %08x seq %u", m, ev->sender, ev->seq);
}

/* Record what the core reports: black box, log, counters. */
static void env_event(void *ctx, const struct swarm_event *ev)
{
	struct daemon *d = ctx;
	struct bb_record r = { .time_ms = nl_wall_ms(), .kind = ev->kind, .type = ev->type,
			       .code = (uint16_t)ev->code, .sender = ev->sender, .about = ev->about };

	if (ev->kind == SE_DELIVER) {
		d->delivered++;
		return;
	}
	if (ev->kind == SE_STATE)
		return;
	link_peer_addr(&d->link, ev->addr, &r.ip, &r.port);
	bb_add(&d->bb, &r);
	switch (ev->kind) {
	case SE_COMMAND:
		d->commands++;
		if (ev->code == QC_MARK && ev->len >= 4)
			note_mark(d, ev);
		else
			logf_("command %#x from %08x", ev->code, ev->sender);
		break;
	case SE_REJECT:
		if (ev->code < SEC_KINDS)
			d->rejects_by[ev->code]++;
		if (d->rejects++ < LOG_REJECTS)
			logf_("reject %s about %08x", bb_sec_name((uint16_t)ev->code), ev->about);
		break;
	case SE_REBIRTH:
		d->bb.incarnation = d->node.incarnation;
		if (kf_write_u64(state_path("incarnation"), d->node.incarnation))
			logf_("cannot persist incarnation %u", d->node.incarnation);
		logf_("rebirth (reason %u), incarnation %u", ev->code, d->node.incarnation);
		break;
	case SE_MODULE:
		if (ev->code == MAZE_SOLVED_EVENT && !d->maze_solved_ms) {
			d->maze_solved_ms = r.time_ms;
			logf_("maze solved");
		}
		break;
	default:
		d->bans += ev->kind == SE_BLACKLIST;
		d->deaths += ev->kind == SE_DEAD;
		logf_("%s %08x", bb_kind_name(ev->kind), ev->about);
	}
}

/*
 * The status text: identity, counters, rejects by kind, marks and the
 * neighbour table (tools/swarm-dash and the tests read it).
 */
static size_t status_text(struct daemon *d, char *out, size_t cap)
{
	uint64_t now = nl_wall_ms(), up = now - d->start_ms;
	uint32_t ids[MEMBER_MAX];
	size_t n = membership_list(&d->node.members, ids, MEMBER_MAX), at;
	struct link *l = &d->link;

	at = (size_t)snprintf(out, cap,
		"id %08x\nname %s\nrole %s\nincarnation %u\ngeneration %u\naddr %u.%u.%u.%u:%u\n"
		"uptime_ms %" PRIu64 "\ntx_packets %" PRIu64 "\nrx_packets %" PRIu64 "\n"
		"tx_bytes %" PRIu64 "\nrx_bytes %" PRIu64 "\ndelivered %" PRIu64 "\n"
		"commands %" PRIu64 "\nrejects %" PRIu64 "\nbans %" PRIu64 "\ndeaths %" PRIu64 "\n"
		"maze %s\nmembers %zu\n",
		d->node.id, d->o.name, role_names[d->node.role & 3], d->node.incarnation,
		d->node.generation, l->self_ip >> 24, l->self_ip >> 16 & 255, l->self_ip >> 8 & 255,
		l->self_ip & 255, l->self_port, up, l->tx_packets, l->rx_packets, l->tx_bytes,
		l->rx_bytes, d->delivered, d->commands, d->rejects, d->bans, d->deaths,
		!d->o.maze ? "off" : d->maze_solved_ms ? "solved" : "exploring", n);
	for (uint16_t k = 1; k < SEC_KINDS && at < cap; k++)
		if (d->rejects_by[k])
			at += (size_t)snprintf(out + at, cap - at, "reject %s %" PRIu64 "\n",
					       bb_sec_name(k), d->rejects_by[k]);
	for (uint32_t i = 0; i < MARKS && i < d->nmarks && at < cap; i++)
		at += (size_t)snprintf(out + at, cap - at, "mark %s\n", d->marks[i]);
	for (size_t i = 0; i < n && at < cap; i++) {
		const struct member *m = membership_find(&d->node.members, ids[i]);
		if (m)
			at += (size_t)snprintf(out + at, cap - at, "member %08x %s %s\n", m->id,
					       m->state == MS_ALIVE ? "alive" : "suspect",
					       role_names[m->role & 3]);
	}
	return at < cap ? at : cap - 1;
}

/* A state file could not be written: say so once per file, not every time. */
static int note_write(struct daemon *d, int which, const char *name, int err)
{
	if (err && !(d->write_failed & 1u << which))
		logf_("cannot write %s: %s", state_path(name), strerror(-err));
	d->write_failed = err ? d->write_failed | 1u << which : d->write_failed & ~(1u << which);
	return err;
}

/* Write the status file (often) and the black box (when it changed). */
static void write_files(struct daemon *d, uint64_t now, bool force)
{
	static uint8_t img[BB_HEADER + BB_EVENTS * BB_RECORD];
	static char text[STATUS_MAX];

	if (force || now >= d->next_status_ms) {
		d->next_status_ms = now + STATUS_MS;
		status_text(d, text, sizeof text);
		note_write(d, 0, "status",
			   kf_write_bytes(state_path("status"), text, strlen(text), 0644, 0));
	}
	if ((force || now >= d->next_bb_ms) && d->bb.dirty) {
		int k = bb_encode(&d->bb, now, img, sizeof img);
		d->next_bb_ms = now + BLACKBOX_MS;
		if (k > 0 && !note_write(d, 1, "blackbox",
					 kf_write_bytes(state_path("blackbox"), img, (size_t)k, 0644, 0)))
			d->bb.dirty = false;
	}
}

/* The operator asked something over NERT: answer status or black box. */
static void ctl_answer(struct daemon *d, uint64_t now)
{
	struct nlink *c = &d->ctl;
	int len;

	c->msg_ready = false;
	if (c->msg_len == 6 && !memcmp(c->msg, "status", 6)) {
		len = (int)status_text(d, (char *)d->reply, sizeof d->reply);
	} else if (c->msg_len == 8 && !memcmp(c->msg, "blackbox", 8)) {
		len = bb_encode(&d->bb, now, d->reply, sizeof d->reply);
	} else {
		len = snprintf((char *)d->reply, sizeof d->reply, "error: unknown request\n");
	}
	if (len < 0 || nert_send(&c->s, NERT_RELIABLE, d->reply, (size_t)len, now))
		logf_("ctl: cannot answer");
}

/* Drive the operator channel; a finished session makes room for the next. */
static void ctl_poll(struct daemon *d, uint64_t now, bool readable)
{
	struct nlink *c = &d->ctl;

	if (!d->ctl_on)
		return;
	if (readable)
		nl_readable(c, now);
	if (c->msg_ready && nert_send_idle(&c->s))   /* the reply is sent from d->reply in place */
		ctl_answer(d, now);
	nl_tick(c, now);
	if (c->closed) {
		if (c->reason)
			logf_("ctl: session ended (%d)", c->reason);
		nl_start(c, false, NULL, now);
	}
}

/* Read every waiting pheromone from one socket into the core. */
static void drain(struct daemon *d, int fd)
{
	uint8_t buf[LINK_MAX_PACKET];

	for (int i = 0; i < RX_BURST; i++) {
		uint64_t now = nl_wall_ms();
		uint32_t src;
		int k = link_recv(&d->link, fd, buf, sizeof buf, &src, now);
		if (k == -EAGAIN || (k < 0 && k != -EPROTO))
			break;
		if (k >= 0)
			swarm_receive(&d->node, src, buf, (size_t)k, now);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The reactive loop: poll sockets until the next deadline, then act. */
static int run(struct daemon *d)
{
	uint64_t end = d->o.duration_s > 0 ? d->start_ms + (uint64_t)(d->o.duration_s * 1000) : UINT64_MAX;

	while (!stop_signal) {
		struct pollfd fds[3] = { { .fd = d->link.ufd, .events = POLLIN },
					 { .fd = d->link.mfd, .events = POLLIN },
					 { .fd = d->ctl_on ? d->ctl.fd : -1, .events = POLLIN } };
		uint64_t now = nl_wall_ms(), next;
		int timeout;

		if (now >= end)
			break;
		next = min_u64(swarm_next_deadline(&d->node), min_u64(d->next_status_ms, end));
		if (d->ctl_on && !d->ctl.closed)
			next = min_u64(next, nert_next_deadline(&d->ctl.s));
		timeout = next <= now ? 0 : (int)min_u64(next - now, 1000);
		if (poll(fds, 3, timeout) < 0 && errno != EINTR)
			return -errno;
		if (fds[0].revents & POLLIN)
			drain(d, d->link.ufd);
		if (fds[1].revents & POLLIN)
			drain(d, d->link.mfd);
		now = nl_wall_ms();
		ctl_poll(d, now, fds[2].revents & POLLIN);
		if (swarm_next_deadline(&d->node) <= now)
			swarm_tick(&d->node, now);
		write_files(d, now, false);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: swarmd --key NODE.key --queen QUEEN.pub --swarm-key SWARM.key --state DIR\n"
		"              [--bind IP:PORT] [--group IP:PORT | --hub IP:PORT] [--ctl IP:PORT\n"
		"              --ctl-pub CTL.pub] [--role worker|explorer|sentinel|queen|random]\n"
		"              [--maze SEED] [--duration SECONDS] [--name NAME] [--txlog FILE]\n");
	exit(2);
}

/* Parse the command line into o; exits with usage on errors. */
static void parse(int argc, char **argv, struct opts *o)
{
	const uint32_t lo = 0x7f000001;

	memset(o, 0, sizeof *o);
	o->role = -1;
	o->name = "-";
	link_parse_addr("127.0.0.1:0", lo, &o->bind);
	link_parse_addr("239.255.77.1:7700", lo, &o->group);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int bad = 0;
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--key")) o->key = v;
		else if (!strcmp(a, "--queen")) o->queen = v;
		else if (!strcmp(a, "--swarm-key")) o->swarm_key = v;
		else if (!strcmp(a, "--state")) o->state_dir = v;
		else if (!strcmp(a, "--ctl-pub")) o->ctl_pub = v;
		else if (!strcmp(a, "--name")) o->name = v;
		else if (!strcmp(a, "--txlog")) o->txlog = v;
		else if (!strcmp(a, "--bind")) bad = link_parse_addr(v, lo, &o->bind);
		else if (!strcmp(a, "--group")) bad = link_parse_addr(v, lo, &o->group);
		else if (!strcmp(a, "--hub")) bad = link_parse_addr(v, lo, &o->hub);
		else if (!strcmp(a, "--ctl")) bad = link_parse_addr(v, lo, &o->ctl);
		else if (!strcmp(a, "--maze")) { o->maze = true; o->maze_seed = strtoull(v, NULL, 0); }
		else if (!strcmp(a, "--duration")) o->duration_s = atof(v);
		else if (!strcmp(a, "--role")) {
			o->role = -2;
			for (int r = 0; r < 4; r++)
				if (!strcmp(v, role_names[r]))
					o->role = r;
			if (!strcmp(v, "random"))
				o->role = -1;
			bad = o->role == -2;
		} else
			usage();
		if (bad)
			usage();
	}
	if (!o->key || !o->queen || !o->swarm_key || !o->state_dir ||
	    (o->ctl.sin_port && !o->ctl_pub))
		usage();
}

/*
 * mkdir -p: the state directory and its parents, made on first use (0700),
 * so a fresh VM whose root holds only the key files needs no setup.
 */
static int make_dirs(const char *path)
{
	char p[512];
	size_t n = strlen(path);

	if (n == 0)
		return -EINVAL;
	if (n >= sizeof p)
		return -ENAMETOOLONG;
	memcpy(p, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != 0)
			continue;
		p[i] = 0;
		if (mkdir(p, 0700) && errno != EEXIST)
			return -errno;
		p[i] = i < n ? '/' : 0;
	}
	return 0;
}

/* Keys, incarnation, sockets and the swarm node: 0 or an exit status. */
static int setup(struct daemon *d)
{
	struct swarm_env env = { .ctx = d, .random = nl_random64, .send = env_send, .event = env_event };
	struct swarm_config cfg = { .role = d->o.role, .heartbeats = true };
	struct link_config lc = { d->o.bind, d->o.group, d->o.hub };
	uint8_t ctl_pk[CX_DH_BYTES];
	uint64_t inc;
	int err;

	if ((err = kf_load_node(d->o.key, &d->keys)) ||
	    (err = kf_load(d->o.queen, "pk", cfg.queen_pk, sizeof cfg.queen_pk)) ||
	    (err = kf_load(d->o.swarm_key, "key", cfg.swarm_key, sizeof cfg.swarm_key)) ||
	    (d->o.ctl_pub && (err = kf_load(d->o.ctl_pub, "nert_pk", ctl_pk, sizeof ctl_pk)))) {
		fprintf(stderr, "swarmd: cannot read keys: %s\n", strerror(-err));
		return 1;
	}
	if ((err = make_dirs(d->o.state_dir))) {
		fprintf(stderr, "swarmd: %s: %s\n", d->o.state_dir, strerror(-err));
		return 1;
	}
	/* every boot takes a larger incarnation, persisted before first use */
	if ((err = kf_read_u64(state_path("incarnation"), &inc)) ||
	    (err = kf_write_u64(state_path("incarnation"), inc + 1))) {
		fprintf(stderr, "swarmd: incarnation file: %s\n", strerror(-err));
		return 1;
	}
	if (inc + 1 > SWARM_MAX_INCARNATION) {
		fprintf(stderr, "swarmd: incarnations exhausted: this key needs replacing\n");
		return 1;
	}
	cfg.incarnation = (uint32_t)inc + 1;
	cfg.identity = d->keys.ident;
	gossip_default_params(&cfg.gossip);
	if (d->o.maze) {
		maze_generate(d->walls, MAZE_SIDE, MAZE_SIDE, d->o.maze_seed);
		d->world = (struct maze_world){ MAZE_SIDE, MAZE_SIDE, 0, MAZE_SIDE * MAZE_SIDE - 1,
						d->walls };
		cfg.modules[0] = &maze_module;
		cfg.module_env = &d->world;
	}
	if (d->o.txlog) {
		if (!(d->txlog = fopen(d->o.txlog, "a"))) {
			fprintf(stderr, "swarmd: %s: %s\n", d->o.txlog, strerror(errno));
			return 1;
		}
		setvbuf(d->txlog, NULL, _IOLBF, 0);   /* whole lines, even on SIGKILL */
	}
	if ((err = link_open(&d->link, &lc))) {
		fprintf(stderr, "swarmd: sockets: %s\n", strerror(-err));
		return 1;
	}
	if (d->o.ctl.sin_port) {
		if ((err = nl_open(&d->ctl, &d->o.ctl, d->keys.nert_sk, ctl_pk)) ||
		    (err = nl_start(&d->ctl, false, NULL, nl_wall_ms()))) {
			fprintf(stderr, "swarmd: operator channel: %s\n", strerror(-err));
			return 1;
		}
		d->ctl_on = true;
	}
	if ((err = swarm_init(&d->node, &cfg, &env, nl_wall_ms()))) {
		fprintf(stderr, "swarmd: %s\n", err == -EACCES ?
			"certificate refused (not the queen's, expired, or not for this key)" :
			strerror(-err));
		return 1;
	}
	cx_wipe(&cfg, sizeof cfg);
	d->bb.id = d->node.id;
	d->bb.incarnation = d->node.incarnation;
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon *d = &D;
	struct sigaction sa = { .sa_handler = on_signal };
	int rc;

	parse(argc, argv, &d->o);
	if (cx_init()) {
		fprintf(stderr, "swarmd: crypto init failed\n");
		return 1;
	}
	d->start_ms = nl_wall_ms();
	if ((rc = setup(d)))
		return rc;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	logf_("up: %s, role %s, incarnation %u, %s %u.%u.%u.%u:%u", d->o.name,
	      role_names[d->node.role & 3], d->node.incarnation,
	      d->o.hub.sin_port ? "relay via hub, unicast" : "multicast, unicast",
	      d->link.self_ip >> 24, d->link.self_ip >> 16 & 255, d->link.self_ip >> 8 & 255,
	      d->link.self_ip & 255, d->link.self_port);
	rc = run(d);
	write_files(d, nl_wall_ms(), true);
	logf_("down (%s)", stop_signal ? "signal" : rc ? strerror(-rc) : "duration over");
	link_close(&d->link);
	if (d->ctl_on)
		nl_close(&d->ctl);
	cx_wipe(&d->keys, sizeof d->keys);
	return rc ? 1 : 0;
}
