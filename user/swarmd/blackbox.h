/*
 * swarmd's black box: a ring of the node's recent events (security
 * rejects, admissions, deaths, refutations, bans, rebirths, commands,
 * module reports), written to a file once a second when it changed, so an
 * operator can read what a node saw even after it crashed.
 *
 * File (big-endian): magic "EXBB", version u8 = 1, 3 reserved bytes, node
 * id u32, incarnation u32, written_ms u64, count u32 (28 bytes), then count
 * records of 28 bytes, oldest first: time_ms u64, kind u8 (enum
 * swarm_event_kind), type u8, code u16, sender u32, about u32, link IPv4
 * u32, port u16, reserved u16.
 */
#ifndef EXO_SWARMD_BLACKBOX_H
#define EXO_SWARMD_BLACKBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { BB_VERSION = 1, BB_HEADER = 28, BB_RECORD = 28, BB_EVENTS = 256 };

struct bb_record {
	uint64_t time_ms;
	uint8_t kind, type;
	uint16_t code;
	uint32_t sender, about;
	uint32_t ip;
	uint16_t port;
};

struct blackbox {
	uint32_t id, incarnation;
	struct bb_record r[BB_EVENTS];
	uint32_t next;          /* records ever added */
	bool dirty;
};

void bb_add(struct blackbox *b, const struct bb_record *r);

/* Serialise into buf (cap bytes): its length, or -ENOSPC. */
int bb_encode(const struct blackbox *b, uint64_t now_ms, uint8_t *buf, size_t cap);

/* Parse a file image: 0 or -EPROTO; records into b->r[0..count). */
int bb_decode(struct blackbox *b, uint64_t *written_ms, uint32_t *count, const uint8_t *buf,
	      size_t len);

/* Names for printing. */
const char *bb_kind_name(uint8_t kind);
const char *bb_sec_name(uint16_t code);

#endif
