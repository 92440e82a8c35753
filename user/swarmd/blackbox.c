/*
 * The black box ring and its file format (see blackbox.h).
 */
#include <errno.h>
#include <string.h>

#include "net/bytes.h"
#include "net/sentinel.h"
#include "net/swarm.h"
#include "user/swarmd/blackbox.h"

_Static_assert(BB_HEADER == 4 + 1 + 3 + 4 + 4 + 8 + 4, "black box header layout");
_Static_assert(BB_RECORD == 8 + 1 + 1 + 2 + 4 + 4 + 4 + 2 + 2, "black box record layout");

/* See blackbox.h. */
void bb_add(struct blackbox *b, const struct bb_record *r)
{
	b->r[b->next % BB_EVENTS] = *r;
	b->next++;
	b->dirty = true;
}

/* See blackbox.h. */
int bb_encode(const struct blackbox *b, uint64_t now_ms, uint8_t *buf, size_t cap)
{
	uint32_t count = b->next < BB_EVENTS ? b->next : BB_EVENTS;
	uint8_t *p = buf + BB_HEADER;

	if (cap < BB_HEADER + (size_t)count * BB_RECORD)
		return -ENOSPC;
	memcpy(buf, "EXBB", 4);
	buf[4] = BB_VERSION;
	buf[5] = buf[6] = buf[7] = 0;
	put_u32(buf + 8, b->id);
	put_u32(buf + 12, b->incarnation);
	put_u64(buf + 16, now_ms);
	put_u32(buf + 24, count);
	for (uint32_t i = b->next - count; i != b->next; i++, p += BB_RECORD) {
		const struct bb_record *r = &b->r[i % BB_EVENTS];
		put_u64(p, r->time_ms);
		p[8] = r->kind;
		p[9] = r->type;
		put_u16(p + 10, r->code);
		put_u32(p + 12, r->sender);
		put_u32(p + 16, r->about);
		put_u32(p + 20, r->ip);
		put_u16(p + 24, r->port);
		put_u16(p + 26, 0);
	}
	return (int)(p - buf);
}

/* See blackbox.h. */
int bb_decode(struct blackbox *b, uint64_t *written_ms, uint32_t *count, const uint8_t *buf,
	      size_t len)
{
	const uint8_t *p = buf + BB_HEADER;
	uint32_t n;

	if (len < BB_HEADER || memcmp(buf, "EXBB", 4) || buf[4] != BB_VERSION)
		return -EPROTO;
	n = get_u32(buf + 24);
	if (n > BB_EVENTS || len != BB_HEADER + (size_t)n * BB_RECORD)
		return -EPROTO;
	memset(b, 0, sizeof *b);
	b->id = get_u32(buf + 8);
	b->incarnation = get_u32(buf + 12);
	*written_ms = get_u64(buf + 16);
	*count = n;
	for (uint32_t i = 0; i < n; i++, p += BB_RECORD)
		b->r[i] = (struct bb_record){ get_u64(p), p[8], p[9], get_u16(p + 10),
					      get_u32(p + 12), get_u32(p + 16), get_u32(p + 20),
					      get_u16(p + 24) };
	b->next = n;
	return 0;
}

/* See blackbox.h. */
const char *bb_kind_name(uint8_t kind)
{
	static const char *const names[] = {
		[SE_DELIVER] = "deliver", [SE_COMMAND] = "command", [SE_DEAD] = "dead",
		[SE_REFUTED] = "refuted", [SE_BLACKLIST] = "ban", [SE_REBIRTH] = "rebirth",
		[SE_STATE] = "state", [SE_REJECT] = "reject", [SE_MODULE] = "module",
		[SE_ADMITTED] = "admitted",
	};

	return kind < sizeof names / sizeof names[0] && names[kind] ? names[kind] : "?";
}

/* See blackbox.h. */
const char *bb_sec_name(uint16_t code)
{
	static const char *const names[] = {
		[SEC_BAD_MAC] = "bad-mac", [SEC_MALFORMED] = "malformed", [SEC_STALE] = "stale",
		[SEC_REPLAY] = "replay", [SEC_RATE] = "rate", [SEC_BAD_SIGNATURE] = "bad-signature",
		[SEC_SYBIL] = "sybil", [SEC_BLACKLISTED] = "blacklisted",
		[SEC_UNAUTHORISED] = "unauthorised", [SEC_BAD_CERT] = "bad-cert",
		[SEC_REVOKED] = "revoked",
	};

	return code < sizeof names / sizeof names[0] && names[code] ? names[code] : "?";
}
