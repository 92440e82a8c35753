/*
 * libFuzzer target: a NERT responder session.  First byte's low two bits:
 * 0, the input is a raw packet to the responder (header parser, INIT with
 * mac1/mac2 and the cookie check, RESP, COOKIE, replay window, AEAD), its
 * endpoint under load when bit 2 is set; 1, a plaintext frame sealed with
 * the real session keys, so the frame parsers (DATA, PARITY, ACK,
 * datagrams and their fragments, CLOSE, REKEY) see it; 2, a raw packet to
 * the initiator, whose re-handshake may be in flight (COOKIE and RESP
 * parsers); 3, the initiator's INIT with the input as its tail (mac1,
 * mac2), given to the responder under load.
 */
#include <stdint.h>
#include <string.h>

#include "net/bytes.h"
#include "net/nert.h"

static struct nert_session a, b;
static struct nert_endpoint ep, epa;
static uint8_t rxa[1 << 16], rxb[1 << 16], dgb[1 << 16];
static uint8_t last[NERT_MAX_PACKET];
static size_t last_len;
static uint64_t counter, now = 1;
static const uint8_t src[6] = { 127, 0, 0, 1, 0x1f, 0x90 };

/* Deterministic randomness for the fuzzer. */
static void f_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)mix64(++counter);
}

/* Packets sent by the node under test are dropped. */
static void f_send(void *ctx, const uint8_t *p, size_t len)
{
	(void)ctx;
	memcpy(last, p, len);
	last_len = len;
}

/* Deliveries are ignored; the fuzzer looks for crashes. */
static void f_deliver(void *ctx, uint8_t cls, const uint8_t *m, size_t len)
{
	(void)ctx;
	(void)cls;
	(void)m;
	(void)len;
}

/* A fresh established pair: a (initiator) and b (responder). */
static void pair(void)
{
	uint8_t sk[2][32], pk[2][32];
	struct nert_config c = { .rx_cap = sizeof rxa, .fec_k = 4, .random = f_random,
				 .send = f_send, .deliver = f_deliver };
	struct nert_config ca = c, cb = c;

	for (int i = 0; i < 2; i++) {
		memset(sk[i], 0x41 + i, 32);
		cx_dh_public(pk[i], sk[i]);
	}
	ca.rx_buf = rxa;
	cb.rx_buf = rxb;
	cb.dgram_buf = dgb;             /* the datagram fragment reassembly path */
	cb.dgram_cap = sizeof dgb;
	memset(&ep, 0, sizeof ep);
	memset(&epa, 0, sizeof epa);
	cb.endpoint = &ep;
	ca.endpoint = &epa;
	memcpy(ca.static_sk, sk[0], 32);
	memcpy(ca.peer_pk, pk[1], 32);
	memcpy(cb.static_sk, sk[1], 32);
	memcpy(cb.peer_pk, pk[0], 32);
	nert_init(&a, &ca, true, now);
	nert_init(&b, &cb, false, now);
	nert_connect(&a, now);
	nert_receive(&b, last, last_len, src, sizeof src, now);
	nert_receive(&a, last, last_len, src, sizeof src, now);
	nert_receive(&b, last, last_len, src, sizeof src, now);      /* a's key confirmation */
}

/* libFuzzer entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned runs;
	uint8_t pkt[NERT_MAX_PACKET];

	if (!runs++)
		cx_init();
	/* a fresh pair when the last input ended the session, and now and then */
	if (runs == 1 || b.state != NERT_ESTABLISHED || a.state != NERT_ESTABLISHED || runs % 4096 == 0)
		pair();
	now += 3;
	if (size < 1)
		return 0;
	ep.force_load = (data[0] & 4) != 0;
	switch (data[0] & 3) {
	case 0:
		nert_receive(&b, data + 1, size - 1, src, (data[0] >> 3) % (sizeof src + 1), now);
		break;
	case 1: {
		int n = nert_seal(&a, data + 1, size - 1, pkt, sizeof pkt, now);
		if (n > 0)
			nert_receive(&b, pkt, (size_t)n, src, sizeof src, now);
		break;
	}
	case 2:
		if (data[0] & 8 && !a.rekeying)
			a.cfg.rekey_ms = 1;          /* a re-handshake is in flight */
		nert_on_timer(&a, now);
		nert_receive(&a, data + 1, size - 1, src, sizeof src, now);
		break;
	default:
		memcpy(pkt, a.init_pkt, NERT_INIT_BYTES);
		memcpy(pkt + NERT_INIT_BYTES - 32, data + 1, size - 1 < 32 ? size - 1 : 32);
		ep.force_load = true;
		nert_receive(&b, pkt, NERT_INIT_BYTES, src, sizeof src, now);
	}
	if (nert_next_deadline(&b) <= now)
		nert_on_timer(&b, now);
	return 0;
}
