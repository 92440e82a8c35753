/*
 * NERT: an encrypted, reliable transport between two nodes over UDP, as a
 * sans-I/O session object.  A Noise-IK-like handshake authenticates both
 * ends from their static X25519 keys and mixes in ephemeral keys for
 * forward secrecy; data then travels under ChaCha20-Poly1305 with a packet
 * number replay window, selective acknowledgements, RFC 6298 RTO, XOR
 * parity FEC over groups of k segments, AIMD congestion control, flow
 * control, periodic re-handshakes with fresh ephemeral keys, a cookie reply
 * under load (mac1/mac2, as WireGuard), clean close and idle timeout.  Messages of
 * up to NERT_MAX_MESSAGE bytes travel in four delivery classes.  Wire
 * format and state machine: docs/PROTOCOL.md, "NERT".
 */
#ifndef EXO_NET_NERT_H
#define EXO_NET_NERT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "crypto/crypto.h"

enum {
	NERT_VERSION = 4,
	NERT_HEADER_BYTES = 12,      /* version, type, epoch u16, sid u32, pn u32 */
	NERT_MAX_PACKET = 1200,
	NERT_SEG_DATA = 1024,        /* message bytes per segment */
	NERT_SEG_BODY = 11 + NERT_SEG_DATA, /* msg_off, msg_len, class, len, data */
	NERT_WINDOW = 256,           /* segments in flight / buffered */
	NERT_REPLAY_WINDOW = 2048,   /* packet numbers: a 1 MiB datagram burst may be reordered */
	NERT_MAX_MESSAGE = 16u << 20,
	NERT_SEND_QUEUE = 8,         /* reliable messages queued */
	NERT_DGRAMS = 16,            /* best-effort datagrams awaiting ACK */
	NERT_PARITY_SLOTS = 16,
	NERT_MAX_RETRIES = 40,       /* retransmissions of one segment before the session fails */
	NERT_BE_RETRIES = 3,         /* best-effort resends of every unacknowledged fragment */
	NERT_DGRAM_FRAGS = NERT_MAX_MESSAGE / NERT_SEG_DATA,  /* fragments of the largest datagram */
	NERT_REASM_MS = 10000,       /* a partial datagram older than this is dropped */
	NERT_DGRAM_WINDOW = 1024,    /* datagram ids remembered for at-most-once delivery */
	NERT_MIN_RTO_MS = 200,       /* RFC 6298 says 1 s; a swarm LAN is faster */
	NERT_MAX_RTO_MS = 60000,
	NERT_BACKOFF_CAP_MS = 1000,  /* a backed-off timer never waits longer (unless RTO does) */
	NERT_PROBES = 2,             /* tail-loss probes between two acknowledgements of progress */
	NERT_MIN_PTO_MS = 10,
	NERT_RTT_RECENT = 8,         /* RTT samples whose minimum tells a queue from reordering */
	NERT_HS_GIVEUP_MS = 90000,   /* an initiator gives up a handshake unanswered this long */
	NERT_INIT_COPIES = 4,        /* INIT copies whose send time the initiator keeps (RTT from RESP) */
	NERT_INIT_BODY = NERT_HEADER_BYTES + 32 + 32 + 16 + 16 + 16,  /* what mac1 covers */
	NERT_INIT_BYTES = NERT_INIT_BODY + 2 * CX_MAC_BYTES,          /* + mac1, mac2 */
	NERT_PEERS = 256,            /* initiators whose latest INIT timestamp an endpoint remembers */
	NERT_RESP_BYTES = NERT_HEADER_BYTES + 32 + 9 + 16,
	NERT_COOKIE_BYTES = NERT_HEADER_BYTES + CX_XNONCE_BYTES + CX_MAC_BYTES + CX_TAG_BYTES,
	NERT_ADDR_MAX = 32,          /* source address blob a cookie is bound to */
	NERT_LOAD_INITS = 32,        /* mac1-valid INITs per second that put an endpoint under load */
	NERT_COOKIE_MS = 120000,     /* cookie secret lifetime (and a cookie's, at the initiator) */
	NERT_REKEY_MS = 120000,      /* re-handshake with fresh ephemeral keys this often */
	NERT_KEY_OVERLAP_MS = 10000, /* the previous keys still open late packets this long */
};

/* Re-handshake after this many packets under one key (see docs: pn is 32 bits). */
#define NERT_REKEY_PACKETS (1u << 31)

enum nert_class {
	NERT_FIRE_AND_FORGET = 0,  /* any size, each fragment sent once, whole or not at all */
	NERT_BEST_EFFORT = 1,      /* any size, a few resends until acknowledged, at most once */
	NERT_RELIABLE = 2,         /* any size, exactly once, in order */
	NERT_CRITICAL = 3,         /* reliable, with FEC always on */
};

enum nert_state {
	NERT_IDLE = 0, NERT_HS_SENT, NERT_ESTABLISHED, NERT_CLOSING, NERT_CLOSED, NERT_FAILED,
	NERT_RESP_SENT,     /* responder: keys derived, waiting for the initiator's key confirmation */
};

enum nert_ptype { NP_INIT = 1, NP_RESP = 2, NP_DATA = 3, NP_COOKIE = 4 };

/*
 * What a node's responder side remembers across session objects: the
 * newest INIT timestamp accepted from each initiator static key, so an INIT
 * replayed after its session was freed is still refused (as WireGuard's
 * TAI64N check).  One per node, shared by its sessions, never freed while
 * the node runs.  The table holds NERT_PEERS keys; the least recently
 * accepted is forgotten first (docs/PROTOCOL.md says what that allows).
 */
struct nert_peer_ts {
	uint8_t pk[CX_DH_BYTES];
	uint64_t ts;
	uint64_t used_ms;
	bool used;
};

/*
 * The endpoint also holds the cookie defence: the secret cookies are made
 * from (a new one every NERT_COOKIE_MS) and the count of mac1-valid INITs
 * per second that decides when it is under load.
 */
struct nert_endpoint {
	struct nert_peer_ts peers[NERT_PEERS];
	uint64_t inits_refused;        /* stale or replayed INITs */
	uint8_t cookie_secret[CX_KEY_BYTES];
	uint64_t secret_ms;            /* when cookie_secret was made */
	bool has_secret;
	bool force_load;               /* the owner says it is under load */
	uint64_t load_sec;             /* the second load_count counts */
	uint32_t load_count, load_last; /* mac1-valid INITs in that second and the one before */
	uint64_t dh_ops;               /* X25519 operations spent answering INITs */
	uint64_t cookies_sent, mac1_failures;
};

struct nert_config {
	uint8_t static_sk[CX_DH_BYTES];
	uint8_t peer_pk[CX_DH_BYTES];   /* the only peer this session accepts */
	uint8_t fec_k;                  /* 0: FEC off for RELIABLE (CRITICAL uses 4) */
	uint32_t max_inflight;          /* 0: no cap beyond cwnd/rwnd (1 = stop-and-wait) */
	uint32_t rekey_packets;         /* 0: default NERT_REKEY_PACKETS */
	uint32_t rekey_ms;              /* 0: default NERT_REKEY_MS */
	uint32_t idle_ms;               /* 0: default 30 s */
	struct nert_endpoint *endpoint; /* required to answer INITs (any session may) */
	uint8_t *rx_buf;                /* reassembly buffer for one message */
	size_t rx_cap;
	uint8_t *dgram_buf;             /* reassembly buffer for one multi-packet datagram */
	size_t dgram_cap;               /* 0: datagrams over one packet are dropped */
	void *ctx;
	void (*random)(void *ctx, void *buf, size_t len);
	void (*send)(void *ctx, const uint8_t *pkt, size_t len);
	/* optional: send to the source address of a received INIT (cookie replies); NULL: send */
	void (*send_to)(void *ctx, const uint8_t *addr, size_t addr_len, const uint8_t *pkt,
			size_t len);
	void (*deliver)(void *ctx, uint8_t cls, const uint8_t *msg, size_t len);
	void (*closed)(void *ctx, int reason);   /* 0 clean, <0 failure */
	/* optional: the peer started a new session (it rebooted); the streams restart */
	void (*restarted)(void *ctx);
	/* optional: INIT timestamp, increasing across reboots (wall clock); NULL: now_ms */
	uint64_t (*clock)(void *ctx);
	/* optional: a best-effort message was given up (reason < 0); msg is what was sent */
	void (*undelivered)(void *ctx, uint8_t cls, const uint8_t *msg, size_t len, int reason);
};

struct nert_stats {
	uint64_t packets_sent, packets_received, retransmits, fec_recovered;
	uint64_t replays_dropped, auth_failures, rekeys, bytes_delivered, timeouts;
	uint64_t dgrams_undelivered, dgrams_dropped;  /* sender gave up; receiver discarded partial */
	uint64_t restarts;             /* sessions replaced by a confirmed fresh INIT */
	uint64_t dh_ops;               /* X25519 operations of this session */
	uint64_t cookies_sent, cookies_received;
	uint64_t probes;               /* tail-loss probes sent */
};

struct nert_txmsg {
	const uint8_t *data;
	uint32_t len;
	uint32_t first_seg;     /* segment of offset 0 */
	uint8_t cls;
	bool used;
};

struct nert_txseg {
	uint32_t seg;
	uint8_t msg;            /* index into txq */
	uint8_t retries;
	bool sent, acked, lost, fec;
	uint64_t sent_ms;
	uint32_t off, len;
};

struct nert_rxseg {
	uint32_t seg;
	bool present;
	uint8_t body[NERT_SEG_BODY];
};

struct nert_parity {
	uint32_t start;
	uint8_t count;
	bool used;
	uint8_t body[NERT_SEG_BODY];
};

struct nert_dgram {              /* a best-effort message awaiting its DGRAM_ACK */
	uint32_t id;
	uint8_t retries;
	uint8_t cls;
	uint32_t len;
	uint64_t due_ms;
	bool used;
	bool waiting;           /* over one packet: queued behind another such message */
	const uint8_t *ext;     /* over one packet: the caller's data, sent in place */
	uint8_t data[NERT_SEG_DATA];
};

struct nert_reasm {              /* the multi-packet datagram being reassembled */
	uint32_t id, len, have;
	uint8_t cls;
	bool active;
	uint64_t progress_ms;   /* when the latest new fragment arrived */
	uint8_t bits[NERT_DGRAM_FRAGS / 8];
};

struct nert_keys {                /* one handshake's keys and packet numbers */
	uint8_t tx[CX_KEY_BYTES], rx[CX_KEY_BYTES];
	uint8_t tx_salt[4], rx_salt[4];
	uint32_t local_sid, peer_sid; /* DATA to us carries local_sid; ours carry peer_sid */
	uint16_t gen;                 /* key generation: header epoch field, in the nonce */
	uint32_t next_pn;             /* last packet number sent */
	uint32_t rx_max_pn;
	uint64_t rx_bits[NERT_REPLAY_WINDOW / 64];   /* bit pn % window */
	uint64_t born_ms;             /* when these keys began */
	bool valid;
};

struct nert_pending {             /* an accepted INIT awaiting key confirmation */
	bool active;
	bool continues;               /* a re-handshake of the current session */
	struct nert_keys k;
	uint8_t init_pkt[NERT_INIT_BYTES];
	uint8_t resp_pkt[NERT_RESP_BYTES];
	uint64_t init_ms;             /* the latest copy of its INIT */
};

struct nert_session {
	struct nert_config cfg;
	uint8_t state;
	bool initiator;
	uint8_t own_pk[CX_DH_BYTES];
	uint8_t mac1_in[CX_KEY_BYTES], cookie_in[CX_KEY_BYTES];   /* INITs to us, our COOKIEs */
	uint8_t mac1_out[CX_KEY_BYTES], cookie_out[CX_KEY_BYTES]; /* our INITs, the peer's COOKIEs */
	/* handshake */
	uint8_t e_sk[CX_DH_BYTES], e_pk[CX_DH_BYTES];
	uint8_t ck[CX_KEY_BYTES], h[CX_HASH_BYTES];
	uint8_t init_pkt[NERT_INIT_BYTES];   /* initiator: ours; responder: accepted */
	uint8_t resp_pkt[NERT_RESP_BYTES];
	uint32_t hs_sid;             /* initiator: the sid of the handshake in flight */
	uint8_t hs_salt[4];          /* initiator: our nonce salt for its keys */
	bool rekeying;               /* initiator: a re-handshake is in flight */
	uint64_t hs_sent_ms;
	uint8_t hs_tries;
	uint32_t init_copy;          /* initiator: copies of this INIT sent (the header's pn) */
	uint64_t init_copy_ms[NERT_INIT_COPIES];  /* ...and when, by copy number mod NERT_INIT_COPIES */
	uint64_t hs_start_ms;
	uint64_t own_ts;             /* initiator: timestamp of our latest INIT */
	uint8_t cookie[CX_MAC_BYTES];  /* initiator: the responder's latest cookie */
	uint64_t cookie_ms;
	bool has_cookie, init_has_cookie;  /* ...and whether the INIT last sent used it */
	uint64_t rekey_asked_ms;     /* responder: when it last asked for a re-handshake */
	struct nert_pending pend;
	/* keys: the current handshake's, and the previous one's for late packets */
	struct nert_keys cur, prev;
	uint64_t prev_until_ms;
	struct nert_stats stats;
	/* streams: everything from here on restarts when a peer reboots */
	/* sender */
	struct nert_txmsg txq[NERT_SEND_QUEUE];
	struct nert_txseg txw[NERT_WINDOW];
	uint32_t snd_una, snd_nxt, snd_end; /* segments: oldest unacked, next new, end of queued */
	uint32_t cwnd_milli, ssthresh;
	uint32_t peer_rwnd;
	uint32_t recover_seg;         /* no second decrease before this is acked */
	uint32_t srtt, rttvar, rto, min_rtt;
	uint32_t rtt_recent[NERT_RTT_RECENT]; /* the latest samples, for queue_building */
	uint32_t rtt_recent_n;        /* samples taken (the ring's next slot, mod its size) */
	uint8_t rto_backoff;          /* timer doublings since the last progress */
	uint8_t probes;               /* tail-loss probes since the last progress */
	uint32_t fresh_samples;       /* RTT samples since a timeout last cut the window */
	uint64_t probe_base_ms;       /* last segment sent or acknowledged */
	uint64_t rack_ms;             /* send time of the latest acknowledged segment */
	uint64_t progress_ms;         /* latest ACK of new data (restarts the RTO timer) */
	bool rtt_valid;
	uint32_t ack_echo;            /* receiver: newest DATA segment that arrived directly */
	uint64_t ack_echo_ms;
	bool ack_echo_valid;
	uint32_t fec_start, fec_count;
	uint8_t fec_body[NERT_SEG_BODY];
	uint32_t fec_k_active;
	uint64_t last_tx_ms, last_rx_ms;
	struct nert_dgram dgrams[NERT_DGRAMS];
	uint32_t next_dgram;
	bool close_sent;
	uint8_t close_tries;
	uint64_t close_ms;            /* when CLOSE was last sent */
	/* receiver */
	struct nert_rxseg rxw[NERT_WINDOW];
	uint32_t rcv_nxt;
	uint32_t rx_msg_expect;       /* next offset in the message being reassembled */
	struct nert_parity parity[NERT_PARITY_SLOTS];
	uint32_t dgram_max;           /* highest datagram id delivered */
	uint64_t dgram_bits[NERT_DGRAM_WINDOW / 64];  /* delivered ids, bit id % window */
	struct nert_reasm reasm;
	bool ack_due;
	uint32_t unacked_rx;
	uint64_t ack_due_ms;
};

/* Initialise a session; 0 or -EINVAL (zero or weak keys, missing callbacks). */
int nert_init(struct nert_session *s, const struct nert_config *cfg, bool initiator,
	      uint64_t now_ms);

/* Initiator: send the handshake's first message. */
int nert_connect(struct nert_session *s, uint64_t now_ms);

/*
 * Feed one received UDP payload from source address src (an opaque blob
 * of up to NERT_ADDR_MAX bytes, e.g. the sockaddr; cookies are bound to
 * it).  0, or a negative errno for a dropped packet (-EAGAIN: an INIT
 * answered with a cookie because the endpoint is under load).
 */
int nert_receive(struct nert_session *s, const uint8_t *pkt, size_t len, const void *src,
		 size_t src_len, uint64_t now_ms);

/* Timers: retransmissions, acks, FEC, keepalive, idle timeout. */
void nert_on_timer(struct nert_session *s, uint64_t now_ms);
uint64_t nert_next_deadline(const struct nert_session *s);

/*
 * Queue a message of up to NERT_MAX_MESSAGE bytes.  Reliable and critical
 * messages, and best-effort ones over NERT_SEG_DATA bytes, are sent from
 * data in place, which must stay valid until nert_send_idle() is true;
 * other messages are copied or sent at once.  Datagram classes need an
 * established session.  -EAGAIN when the queue is full, or while a pending
 * best-effort message is NERT_DGRAM_WINDOW datagram ids old; -EMSGSIZE,
 * -ENOTCONN.  A best-effort message given up is reported to cfg.undelivered.
 */
int nert_send(struct nert_session *s, uint8_t cls, const void *data, size_t len,
	      uint64_t now_ms);

/* True when every reliable and best-effort message was acknowledged or given up. */
bool nert_send_idle(const struct nert_session *s);

/* Close after the queued data is acknowledged. */
int nert_close(struct nert_session *s, uint64_t now_ms);

/*
 * Protect one plaintext frame as the next DATA packet into pkt without
 * sending it (tests and fuzzers use it to reach the frame parsers).
 * Returns the packet length or a negative errno.
 */
int nert_seal(struct nert_session *s, const uint8_t *pt, size_t len, uint8_t *pkt,
	      size_t cap, uint64_t now_ms);

/* Parse only the cleartext header (fuzzing, demultiplexing by sid). */
int nert_parse_header(const uint8_t *pkt, size_t len, uint8_t *type, uint16_t *epoch,
		      uint32_t *sid, uint32_t *pn);

#endif
