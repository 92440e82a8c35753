/*
 * swarm-ctl: the operator's tool for a swarm of swarmd processes.  Makes
 * the queen key, the swarm key and node keys with certificates, signs and
 * sends queen commands, lists nodes and roles from the swarm's heartbeats,
 * asks a node over NERT, reads black boxes and steers swarm-hub.
 * Commands and files: docs/PROTOCOL.md, "swarmd".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/bytes.h"
#include "net/pheromone.h"
#include "net/swarm.h"
#include "user/swarmd/blackbox.h"
#include "user/swarmd/hubwire.h"
#include "user/swarmd/keyfile.h"
#include "user/swarmd/link.h"
#include "user/swarmd/nertlink.h"

enum { CMD_CERT_MS = 600000, MAX_OUT = 8, LIST_MAX = 1024 };

static const char *const role_names[] = { "worker", "explorer", "sentinel", "queen" };

static int die_usage(void)
{
	fprintf(stderr,
		"usage: swarm-ctl init DIR\n"
		"       swarm-ctl node DIR NAME [--roles worker,explorer,sentinel,queen] [--seconds S]\n"
		"       swarm-ctl command DIR mark TEXT|die ID|revoke ID [--group IP:PORT|--hub IP:PORT]\n"
		"                 [--queen-key FILE] [--as NODE.key] [--out FILE]\n"
		"       swarm-ctl send FILE [--group IP:PORT|--hub IP:PORT]\n"
		"       swarm-ctl list DIR [--group IP:PORT] [--seconds S]\n"
		"       swarm-ctl ask DIR NODE.pub IP:PORT status|blackbox\n"
		"       swarm-ctl blackbox FILE\n"
		"       swarm-ctl hub IP:PORT COMMAND...\n");
	return 2;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "swarm-ctl: %s: %s\n", what, strerror(err < 0 ? -err : err));
	return 1;
}

/* "DIR/NAME" in one of a few static buffers. */
static const char *join(const char *dir, const char *name)
{
	static char path[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
	return path[k];
}

/* A file of one titled secret or public field. */
static int write_field(const char *path, const char *title, const char *name, const uint8_t *v,
		       size_t len, mode_t mode)
{
	char text[KF_MAX];

	snprintf(text, sizeof text, "%s\n", title);
	kf_put(text, sizeof text, name, v, len);
	int err = kf_write(path, text, mode);
	cx_wipe(text, sizeof text);
	return err;
}

/* init: the queen key pair, the swarm key and the operator's NERT key. */
static int cmd_init(const char *dir)
{
	uint8_t seed[CX_SIGN_SEED_BYTES], pk[CX_SIGN_PUBLIC_BYTES], sk[CX_SIGN_SECRET_BYTES];
	uint8_t swarm[CX_KEY_BYTES], csk[CX_DH_BYTES], cpk[CX_DH_BYTES];
	int err;

	if (mkdir(dir, 0700) && errno != EEXIST)
		return fail(dir, -errno);
	if (!access(join(dir, "queen.key"), F_OK))
		return fail("queen.key exists; refusing to replace it", EEXIST);
	cx_random(seed, sizeof seed);
	cx_random(swarm, sizeof swarm);
	cx_random(csk, sizeof csk);
	if ((err = cx_sign_keypair(pk, sk, seed)) || (err = cx_dh_public(cpk, csk)) ||
	    (err = write_field(join(dir, "queen.key"), "exoswarm queen key v1", "sk", sk, sizeof sk, 0600)) ||
	    (err = write_field(join(dir, "queen.pub"), "exoswarm queen public key v1", "pk", pk, sizeof pk, 0644)) ||
	    (err = write_field(join(dir, "swarm.key"), "exoswarm swarm key v1", "key", swarm, sizeof swarm, 0600)) ||
	    (err = write_field(join(dir, "ctl.key"), "exoswarm operator key v1", "nert_sk", csk, sizeof csk, 0600)) ||
	    (err = write_field(join(dir, "ctl.pub"), "exoswarm operator public key v1", "nert_pk", cpk, sizeof cpk, 0644)))
		return fail("init", err);
	cx_wipe(sk, sizeof sk);
	cx_wipe(seed, sizeof seed);
	cx_wipe(csk, sizeof csk);
	printf("queen, swarm and operator keys written to %s\n", dir);
	return 0;
}

/* Role list "worker,explorer,..." into certificate bits. */
static int parse_roles(const char *s, uint8_t *roles)
{
	*roles = 0;
	while (*s) {
		size_t n = strcspn(s, ",");
		int r;
		for (r = 0; r < 4; r++)
			if (strlen(role_names[r]) == n && !strncmp(s, role_names[r], n))
				break;
		if (r == 4)
			return -EINVAL;
		*roles |= (uint8_t)(1u << r);
		s += n + (s[n] == ',');
	}
	return 0;
}

/* node: a key pair, a NERT key and a queen-signed certificate. */
static int cmd_node(const char *dir, const char *name, int argc, char **argv)
{
	uint8_t queen_sk[CX_SIGN_SECRET_BYTES], seed[CX_SIGN_SEED_BYTES], nert_pk[CX_DH_BYTES];
	struct node_keys k;
	uint8_t roles = ROLES_ALL & ~(1u << ROLE_QUEEN);
	double seconds = 30 * 86400.0;
	char text[KF_MAX], file[256];
	uint64_t expiry;
	uint32_t id;
	int err;

	for (int i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--roles") && !parse_roles(argv[i + 1], &roles))
			continue;
		if (!strcmp(argv[i], "--seconds") && (seconds = atof(argv[i + 1])) > 0)
			continue;
		return die_usage();
	}
	if (argc % 2)
		return die_usage();
	if ((err = kf_load(join(dir, "queen.key"), "sk", queen_sk, sizeof queen_sk)))
		return fail("queen.key", err);
	expiry = nl_wall_ms() + (uint64_t)(seconds * 1000);
	cx_random(seed, sizeof seed);
	cx_random(k.nert_sk, sizeof k.nert_sk);
	if ((err = identity_issue(&k.ident, seed, roles, expiry, queen_sk)) ||
	    (err = cx_dh_public(nert_pk, k.nert_sk)))
		return fail("issue", err);
	cx_wipe(queen_sk, sizeof queen_sk);
	snprintf(text, sizeof text, "exoswarm node key v1\n");
	kf_put(text, sizeof text, "sk", k.ident.sk, sizeof k.ident.sk);
	kf_put(text, sizeof text, "cert", k.ident.cert, sizeof k.ident.cert);
	kf_put(text, sizeof text, "nert_sk", k.nert_sk, sizeof k.nert_sk);
	snprintf(file, sizeof file, "%s.key", name);
	if ((err = kf_write(join(dir, file), text, 0600)))
		return fail(file, err);
	snprintf(text, sizeof text, "exoswarm node public v1\nid %08x\nexpiry_ms %" PRIu64 "\n",
		 node_id_from_pk(k.ident.pk), expiry);
	kf_put(text, sizeof text, "pk", k.ident.pk, sizeof k.ident.pk);
	kf_put(text, sizeof text, "nert_pk", nert_pk, sizeof nert_pk);
	snprintf(file, sizeof file, "%s.pub", name);
	if ((err = kf_write(join(dir, file), text, 0644)))
		return fail(file, err);
	id = node_id_from_pk(k.ident.pk);
	cx_wipe(&k, sizeof k);
	printf("%08x\n", id);
	return 0;
}

/* Packets a transient node transmits, kept for sending or saving. */
struct captured {
	uint8_t pkt[MAX_OUT][PHEROMONE_MAX_BYTES];
	size_t len[MAX_OUT];
	int n;
};

static void cap_send(void *ctx, uint32_t dst, const uint8_t *pkt, size_t len)
{
	struct captured *c = ctx;

	(void)dst;
	if (c->n < MAX_OUT && len <= PHEROMONE_MAX_BYTES) {
		memcpy(c->pkt[c->n], pkt, len);
		c->len[c->n++] = len;
	}
}

/* Send a pheromone once to the group, or through the hub as a broadcast. */
static int transmit(const struct sockaddr_in *to, bool hub, const uint8_t *pkt, size_t len)
{
	uint8_t buf[LINK_MAX_PACKET];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned char ttl = 1, loop = 1;
	struct in_addr lo = { htonl(0x7f000001) };
	int err = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop);
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &lo, sizeof lo);
	if (hub) {
		hub_put(buf, 0, 0);
		memcpy(buf + HUB_HDR, pkt, len);
	} else {
		memcpy(buf, pkt, len);
	}
	if (sendto(fd, buf, len + (hub ? HUB_HDR : 0), 0, (const struct sockaddr *)to, sizeof *to) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* --group / --hub / --out options shared by command and send. */
struct dest {
	struct sockaddr_in to;
	bool hub;
	const char *out, *queen_key, *as;
};

static int parse_dest(int argc, char **argv, struct dest *d)
{
	link_parse_addr("239.255.77.1:7700", 0x7f000001, &d->to);
	for (int i = 0; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return -EINVAL;
		if (!strcmp(a, "--group") || !strcmp(a, "--hub")) {
			d->hub = a[2] == 'h';
			if (link_parse_addr(v, 0x7f000001, &d->to))
				return -EINVAL;
		} else if (!strcmp(a, "--out")) {
			d->out = v;
		} else if (!strcmp(a, "--queen-key")) {
			d->queen_key = v;
		} else if (!strcmp(a, "--as")) {
			d->as = v;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

/* Send a signed packet three times, 100 ms apart (copies are ignored). */
static int send_packet(const struct dest *d, const uint8_t *pkt, size_t len)
{
	int err = 0;

	for (int i = 0; i < 3 && !err; i++) {
		if (i)
			usleep(100000);
		err = transmit(&d->to, d->hub, pkt, len);
	}
	return err;
}

/*
 * The author of a command: a fresh key certified (queen role, 10 minutes)
 * by the signing queen key, or with --as an existing node's key and its
 * persisted incarnation (tests use it to play a compromised insider).
 */
static int command_author(const char *dir, const struct dest *d, struct swarm_config *cfg,
			  uint8_t queen_sk[CX_SIGN_SECRET_BYTES])
{
	uint8_t seed[CX_SIGN_SEED_BYTES];
	struct node_keys k;
	char incfile[600];
	uint64_t inc;
	int err;

	if ((err = kf_load(d->queen_key ? d->queen_key : join(dir, "queen.key"), "sk", queen_sk,
			   CX_SIGN_SECRET_BYTES)))
		return err;
	if (!d->as) {
		memcpy(cfg->queen_pk, queen_sk + CX_SIGN_SEED_BYTES, CX_SIGN_PUBLIC_BYTES);
		cx_random(seed, sizeof seed);
		return identity_issue(&cfg->identity, seed, 1u << ROLE_QUEEN,
				      nl_wall_ms() + CMD_CERT_MS, queen_sk);
	}
	if ((err = kf_load(join(dir, "queen.pub"), "pk", cfg->queen_pk, CX_SIGN_PUBLIC_BYTES)) ||
	    (err = kf_load_node(d->as, &k)))
		return err;
	cfg->identity = k.ident;
	cx_wipe(&k, sizeof k);
	snprintf(incfile, sizeof incfile, "%s.incarnation", d->as);
	if ((err = kf_read_u64(incfile, &inc)) || (err = kf_write_u64(incfile, inc + 1)))
		return err;
	cfg->incarnation = (uint32_t)(inc + 1);
	cfg->role = ROLE_WORKER;
	return 0;
}

/* command: sign a queen command (or a DIE order) and send or save it. */
static int cmd_command(const char *dir, int argc, char **argv)
{
	static struct swarm_node n;
	struct captured cap = { .n = 0 };
	struct swarm_env env = { .ctx = &cap, .random = nl_random64, .send = cap_send };
	struct swarm_config cfg = { .role = ROLE_QUEEN };
	uint8_t queen_sk[CX_SIGN_SECRET_BYTES];
	struct dest d = { .out = NULL };
	uint64_t now = nl_wall_ms();
	int err, seq;

	if (argc < 2 || parse_dest(argc - 2, argv + 2, &d))
		return die_usage();
	if ((err = kf_load(join(dir, "swarm.key"), "key", cfg.swarm_key, sizeof cfg.swarm_key)) ||
	    (err = command_author(dir, &d, &cfg, queen_sk)))
		return fail("keys", err);
	cfg.queen_sk = queen_sk;
	gossip_default_params(&cfg.gossip);
	if ((err = swarm_init(&n, &cfg, &env, now)))
		return fail("transient node", err);
	if (!strcmp(argv[0], "mark"))
		seq = swarm_queen_command(&n, QC_MARK, argv[1], strlen(argv[1]), now);
	else if (!strcmp(argv[0], "die"))
		seq = swarm_queen_die(&n, (uint32_t)strtoul(argv[1], NULL, 16), now);
	else if (!strcmp(argv[0], "revoke"))
		seq = swarm_queen_revoke(&n, (uint32_t)strtoul(argv[1], NULL, 16),
					 now + 30 * 86400000ull, now);
	else
		return die_usage();
	cx_wipe(queen_sk, sizeof queen_sk);
	if (seq < 0 || cap.n < 1)
		return fail("sign", seq < 0 ? seq : -EIO);
	if (d.out) {
		err = kf_write_bytes(d.out, cap.pkt[cap.n - 1], cap.len[cap.n - 1], 0644, 1);
		return err ? fail(d.out, err) : 0;
	}
	if ((err = send_packet(&d, cap.pkt[cap.n - 1], cap.len[cap.n - 1])))
		return fail("send", err);
	printf("sent %s from %08x seq %d\n", argv[0], n.id, seq);
	return 0;
}

/* send: transmit a packet saved by command --out. */
static int cmd_send(const char *file, int argc, char **argv)
{
	uint8_t pkt[PHEROMONE_MAX_BYTES + 1];
	struct dest d = { .out = NULL };
	int len, err;

	if (parse_dest(argc, argv, &d))
		return die_usage();
	if ((len = kf_read(file, (char *)pkt, sizeof pkt)) <= 0)
		return fail(file, len ? len : -EINVAL);
	if ((err = send_packet(&d, pkt, (size_t)len)))
		return fail("send", err);
	printf("sent %d bytes\n", len);
	return 0;
}

struct heard {
	uint32_t id, ip;
	uint16_t port;
	uint8_t role, neighbours;
	uint64_t hellos;
};

/* Record a valid HELLO (MAC under the swarm key) in the table. */
static void note_hello(struct heard *t, int *n, const uint8_t *mac_key, const uint8_t *pkt,
		       size_t len, const struct sockaddr_in *from)
{
	struct pheromone p;
	int i;

	if (pheromone_decode(&p, pkt, len) || p.type != PH_HELLO || pheromone_verify(&p, mac_key) ||
	    p.payload_len < 2)
		return;
	for (i = 0; i < *n && t[i].id != p.sender; i++)
		;
	if (i == *n) {
		if (*n == LIST_MAX)
			return;
		(*n)++;
		t[i] = (struct heard){ .id = p.sender };
	}
	t[i].ip = ntohl(from->sin_addr.s_addr);
	t[i].port = ntohs(from->sin_port);
	t[i].role = p.payload[0] & 3;
	t[i].hellos++;
	/* the neighbour list follows the recent ids: m u8, total u8 */
	size_t off = 12 + 8u * p.payload[1];
	if (off + 2 <= p.payload_len)
		t[i].neighbours = p.payload[off + 1];
}

static int cmp_heard(const void *a, const void *b)
{
	uint32_t x = ((const struct heard *)a)->id, y = ((const struct heard *)b)->id;

	return x < y ? -1 : x > y;
}

/* list: listen to the group's heartbeats and print nodes and roles. */
static int cmd_list(const char *dir, int argc, char **argv)
{
	static struct heard t[LIST_MAX];
	uint8_t key[CX_KEY_BYTES], mac_key[CX_KEY_BYTES], buf[LINK_MAX_PACKET];
	struct sockaddr_in group;
	double seconds = 3;
	int n = 0, fd, one = 1, err;

	link_parse_addr("239.255.77.1:7700", 0, &group);
	for (int i = 0; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--group"))
			link_parse_addr(argv[i + 1], 0, &group);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else
			return die_usage();
	if ((err = kf_load(join(dir, "swarm.key"), "key", key, sizeof key)) ||
	    (err = pheromone_mac_key(mac_key, key)))
		return fail("swarm.key", err);
	struct ip_mreq mreq = { .imr_multiaddr = group.sin_addr,
				.imr_interface = { htonl(0x7f000001) } };
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&group, sizeof group) ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof mreq))
		return fail("listen", -errno);
	for (uint64_t end = nl_wall_ms() + (uint64_t)(seconds * 1000), now; (now = nl_wall_ms()) < end;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		ssize_t k = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		if (k > 0)
			note_hello(t, &n, mac_key, buf, (size_t)k, &from);
	}
	close(fd);
	qsort(t, (size_t)n, sizeof t[0], cmp_heard);
	printf("%-8s  %-8s  %-21s  %s\n", "id", "role", "address", "neighbours");
	for (int i = 0; i < n; i++)
		printf("%08x  %-8s  %u.%u.%u.%u:%-11u  %u\n", t[i].id, role_names[t[i].role],
		       t[i].ip >> 24, t[i].ip >> 16 & 255, t[i].ip >> 8 & 255, t[i].ip & 255,
		       t[i].port, t[i].neighbours);
	printf("nodes %d\n", n);
	return 0;
}

/* Print a black box image. */
static int print_blackbox(const uint8_t *img, size_t len)
{
	static struct blackbox b;
	uint64_t written;
	uint32_t count;

	if (bb_decode(&b, &written, &count, img, len))
		return fail("black box", -EPROTO);
	printf("node %08x incarnation %u, %u events, written at %" PRIu64 "\n", b.id,
	       b.incarnation, count, written);
	for (uint32_t i = 0; i < count; i++) {
		const struct bb_record *r = &b.r[i];
		printf("%" PRIu64 " %-8s", r->time_ms, bb_kind_name(r->kind));
		if (r->kind == SE_REJECT)
			printf(" %-13s", bb_sec_name(r->code));
		else
			printf(" code=%-8u", r->code);
		printf(" type=%u sender=%08x about=%08x from=%u.%u.%u.%u:%u\n", r->type, r->sender,
		       r->about, r->ip >> 24, r->ip >> 16 & 255, r->ip >> 8 & 255, r->ip & 255,
		       r->port);
	}
	return 0;
}

/* blackbox: read a node's black box file. */
static int cmd_blackbox(const char *file)
{
	static uint8_t img[BB_HEADER + BB_EVENTS * BB_RECORD + 1];
	int len = kf_read(file, (char *)img, sizeof img);

	return len < 0 ? fail(file, len) : print_blackbox(img, (size_t)len);
}

/* ask: one request to a node over NERT, with a 10 s bound. */
static int cmd_ask(const char *dir, const char *pub, const char *addr, const char *req)
{
	static struct nlink nl;
	uint8_t sk[CX_DH_BYTES], pk[CX_DH_BYTES];
	struct sockaddr_in to, any;
	uint64_t end = nl_wall_ms() + 10000;
	bool sent = false;
	int err;

	if (link_parse_addr(addr, 0x7f000001, &to) || (strcmp(req, "status") && strcmp(req, "blackbox")))
		return die_usage();
	link_parse_addr("127.0.0.1:0", 0, &any);
	if ((err = kf_load(join(dir, "ctl.key"), "nert_sk", sk, sizeof sk)) ||
	    (err = kf_load(pub, "nert_pk", pk, sizeof pk)))
		return fail("keys", err);
	if ((err = nl_open(&nl, &any, sk, pk)) || (err = nl_start(&nl, true, &to, nl_wall_ms())))
		return fail("nert", err);
	cx_wipe(sk, sizeof sk);
	for (uint64_t now; (now = nl_wall_ms()) < end && !nl.closed;) {
		struct pollfd pfd = { .fd = nl.fd, .events = POLLIN };
		uint64_t next = nert_next_deadline(&nl.s);
		poll(&pfd, 1, next <= now ? 0 : (int)(next - now < 100 ? next - now : 100));
		now = nl_wall_ms();
		if (pfd.revents & POLLIN)
			nl_readable(&nl, now);
		if (!sent && nl.s.state == NERT_ESTABLISHED) {
			sent = !nert_send(&nl.s, NERT_RELIABLE, req, strlen(req), now);
		}
		if (nl.msg_ready)
			break;
		nl_tick(&nl, now);
	}
	if (!nl.msg_ready)
		return fail("no answer", nl.closed ? nl.reason : -ETIMEDOUT);
	nert_close(&nl.s, nl_wall_ms());
	for (uint64_t stop = nl_wall_ms() + 300, now; (now = nl_wall_ms()) < stop && !nl.closed;) {
		struct pollfd pfd = { .fd = nl.fd, .events = POLLIN };
		poll(&pfd, 1, 20);
		if (pfd.revents & POLLIN)
			nl_readable(&nl, now);
		nl_tick(&nl, now);
	}
	nl_close(&nl);
	if (!strcmp(req, "blackbox"))
		return print_blackbox(nl.msg, nl.msg_len);
	fwrite(nl.msg, 1, nl.msg_len, stdout);
	return 0;
}

/* hub: send a control line to swarm-hub and print its answer. */
static int cmd_hub(const char *addr, int argc, char **argv)
{
	char line[512] = "", reply[2048];
	struct sockaddr_in to;
	int fd;

	if (link_parse_addr(addr, 0x7f000001, &to))
		return die_usage();
	for (int i = 0; i < argc; i++) {
		strncat(line, argv[i], sizeof line - strlen(line) - 2);
		if (i + 1 < argc)
			strcat(line, " ");
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || sendto(fd, line, strlen(line), 0, (struct sockaddr *)&to, sizeof to) < 0)
		return fail("hub", -errno);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 3000) <= 0)
		return fail("hub: no answer", -ETIMEDOUT);
	ssize_t k = recv(fd, reply, sizeof reply - 1, 0);
	close(fd);
	if (k < 0)
		return fail("hub", -errno);
	reply[k] = 0;
	fputs(reply, stdout);
	return strncmp(reply, "ok", 2) ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (cx_init())
		return fail("crypto", -EIO);
	if (!strcmp(c, "init") && argc == 3)
		return cmd_init(argv[2]);
	if (!strcmp(c, "node") && argc >= 4)
		return cmd_node(argv[2], argv[3], argc - 4, argv + 4);
	if (!strcmp(c, "command") && argc >= 5)
		return cmd_command(argv[2], argc - 3, argv + 3);
	if (!strcmp(c, "send") && argc >= 3)
		return cmd_send(argv[2], argc - 3, argv + 3);
	if (!strcmp(c, "list") && argc >= 3)
		return cmd_list(argv[2], argc - 3, argv + 3);
	if (!strcmp(c, "ask") && argc == 6)
		return cmd_ask(argv[2], argv[3], argv[4], argv[5]);
	if (!strcmp(c, "blackbox") && argc == 3)
		return cmd_blackbox(argv[2]);
	if (!strcmp(c, "hub") && argc >= 4)
		return cmd_hub(argv[2], argc - 3, argv + 3);
	return die_usage();
}
