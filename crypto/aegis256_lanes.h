/*
 * The AEGIS-256 algorithm over LANES independent messages at once, written
 * once and included by aegis256.c for each register width (see there).
 * The includer defines LANES, vec, TARGET, NAME(x) and the lane operations
 * v_aesenc, v_xor, v_and, v_bcast (one 16-byte value into every lane),
 * v_load and v_store (16 bytes at an offset of each lane's own buffer);
 * the end of this file undefines them all for the next width.
 */

/* One state update absorbing m (section "The Update Function"). */
static inline TARGET void NAME(update)(vec s[6], vec m)
{
	vec t5 = s[5];

	s[5] = v_aesenc(s[4], t5);
	s[4] = v_aesenc(s[3], s[4]);
	s[3] = v_aesenc(s[2], s[3]);
	s[2] = v_aesenc(s[1], s[2]);
	s[1] = v_aesenc(s[0], s[1]);
	s[0] = v_aesenc(t5, v_xor(s[0], m));
}

/* The keystream block that encrypts the next 16 bytes. */
static inline TARGET vec NAME(keystream)(const vec s[6])
{
	return v_xor(v_xor(s[1], s[4]), v_xor(s[5], v_and(s[2], s[3])));
}

/* Load 16 bytes at off of each lane's buffer, zero-padded past len. */
static inline TARGET vec NAME(load_padded)(const uint8_t *const p[LANES], size_t off, size_t len)
{
	uint8_t pad[LANES][16] = { { 0 } };
	const uint8_t *q[LANES];

	for (int i = 0; i < LANES; i++) {
		memcpy(pad[i], p[i] + off, len - off);
		q[i] = pad[i];
	}
	return v_load(q, 0);
}

/* Store the first len - off bytes of each lane of v at off. */
static inline TARGET void NAME(store_partial)(uint8_t *const p[LANES], size_t off, size_t len, vec v)
{
	uint8_t pad[LANES][16];
	uint8_t *q[LANES];

	for (int i = 0; i < LANES; i++)
		q[i] = pad[i];
	v_store(q, 0, v);
	for (int i = 0; i < LANES; i++)
		memcpy(p[i] + off, pad[i], len - off);
}

/* Init(key, nonce) and the absorption of the associated data. */
static TARGET void NAME(start)(vec s[6], const struct cx_aegis_msg *m, size_t adlen)
{
	static const uint8_t c0[16] = { 0x00, 0x01, 0x01, 0x02, 0x03, 0x05, 0x08, 0x0d,
					0x15, 0x22, 0x37, 0x59, 0x90, 0xe9, 0x79, 0x62 };
	static const uint8_t c1[16] = { 0xdb, 0x3d, 0x18, 0x55, 0x6d, 0xc2, 0x2f, 0xf1,
					0x20, 0x11, 0x31, 0x42, 0x73, 0xb5, 0x28, 0xdd };
	const uint8_t *key[LANES], *nonce[LANES], *ad[LANES];
	size_t off;

	for (int i = 0; i < LANES; i++) {
		key[i] = m[i].key;
		nonce[i] = m[i].nonce;
		ad[i] = m[i].ad;
	}
	vec k0 = v_load(key, 0), k1 = v_load(key, 16);
	vec n0 = v_load(nonce, 0), n1 = v_load(nonce, 16);
	vec C0 = v_bcast(c0), C1 = v_bcast(c1);
	vec kn0 = v_xor(k0, n0), kn1 = v_xor(k1, n1);

	s[0] = kn0;
	s[1] = kn1;
	s[2] = C1;
	s[3] = C0;
	s[4] = v_xor(k0, C0);
	s[5] = v_xor(k1, C1);
	for (int r = 0; r < 4; r++) {
		NAME(update)(s, k0);
		NAME(update)(s, k1);
		NAME(update)(s, kn0);
		NAME(update)(s, kn1);
	}
	for (off = 0; off + 16 <= adlen; off += 16)
		NAME(update)(s, v_load(ad, off));
	if (off < adlen)
		NAME(update)(s, NAME(load_padded)(ad, off, adlen));
}

/* Finalize: the 128-bit tag of every lane. */
static TARGET vec NAME(finish)(vec s[6], size_t adlen, size_t len)
{
	uint8_t lens[16];
	uint64_t bits[2] = { (uint64_t)adlen * 8, (uint64_t)len * 8 };

	memcpy(lens, bits, sizeof lens);           /* two little-endian 64-bit */
	vec t = v_xor(s[3], v_bcast(lens));

	for (int r = 0; r < 7; r++)
		NAME(update)(s, t);
	return v_xor(v_xor(v_xor(s[0], s[1]), v_xor(s[2], s[3])), v_xor(s[4], s[5]));
}

static TARGET void NAME(seal)(struct cx_aegis_msg *m, size_t len, size_t adlen)
{
	const uint8_t *in[LANES];
	uint8_t *out[LANES], *tag[LANES];
	vec s[6];
	size_t off;

	for (int i = 0; i < LANES; i++) {
		in[i] = m[i].in;
		out[i] = m[i].out;
		tag[i] = m[i].tag;
	}
	NAME(start)(s, m, adlen);
	for (off = 0; off + 16 <= len; off += 16) {
		vec x = v_load(in, off);

		v_store(out, off, v_xor(x, NAME(keystream)(s)));
		NAME(update)(s, x);
	}
	if (off < len) {
		vec x = NAME(load_padded)(in, off, len);

		NAME(store_partial)(out, off, len, v_xor(x, NAME(keystream)(s)));
		NAME(update)(s, x);
	}
	v_store(tag, 0, NAME(finish)(s, adlen, len));
}

/* Decrypt every lane and check its tag; a lane whose tag differs gets
 * rc -EBADMSG and a zeroed output.  The tag comparison is constant time. */
static TARGET int NAME(open)(struct cx_aegis_msg *m, size_t len, size_t adlen)
{
	const uint8_t *in[LANES];
	uint8_t *out[LANES], *tag[LANES], got[LANES][16];
	vec s[6];
	size_t off;
	int rc = 0;

	for (int i = 0; i < LANES; i++) {
		in[i] = m[i].in;
		out[i] = m[i].out;
		tag[i] = got[i];
	}
	NAME(start)(s, m, adlen);
	for (off = 0; off + 16 <= len; off += 16) {
		vec x = v_xor(v_load(in, off), NAME(keystream)(s));

		v_store(out, off, x);
		NAME(update)(s, x);
	}
	if (off < len) {
		/* The padding of the last plain block must be zero, not the
		 * keystream's tail: decrypt, truncate, pad, then absorb. */
		uint8_t plain[LANES][16] = { { 0 } };
		const uint8_t *pp[LANES];

		NAME(store_partial)(out, off, len, v_xor(NAME(load_padded)(in, off, len),
							 NAME(keystream)(s)));
		for (int i = 0; i < LANES; i++) {
			memcpy(plain[i], out[i] + off, len - off);
			pp[i] = plain[i];
		}
		NAME(update)(s, v_load(pp, 0));
		cx_wipe(plain, sizeof plain);
	}
	v_store(tag, 0, NAME(finish)(s, adlen, len));
	for (int i = 0; i < LANES; i++) {
		m[i].rc = cx_equal(got[i], m[i].tag, 16) ? 0 : -EBADMSG;
		if (m[i].rc < 0) {
			cx_wipe(m[i].out, len);
			rc = -EBADMSG;
		}
	}
	return rc;
}

#undef v_aesenc
#undef v_xor
#undef v_and
#undef v_bcast
#undef v_load
#undef v_store
#undef LANES
#undef vec
#undef TARGET
#undef NAME
