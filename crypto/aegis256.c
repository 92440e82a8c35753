/*
 * AEGIS-256 (the CFRG draft "The AEGIS Family of Authenticated Encryption
 * Algorithms"), with 128-bit tags.  Debian's libsodium (1.0.18) predates
 * it, so it is written here from the specification and checked against the
 * specification's test vectors (tests/host/test_aegis.c); libsodium 1.0.19
 * and later carry the same algorithm as crypto_aead_aegis256.
 *
 * It runs only on AES round instructions: on a CPU without AES-NI,
 * cx_aegis_available() is 0 and every call returns -ENOTSUP (a table-based
 * AES would leak timing).  The algorithm is written once, in
 * aegis256_lanes.h, and compiled here for 1, 2 and 4 independent messages
 * per register (AES-NI on 128 bits, VAES on 256 and 512 bits), and for 8
 * as two interleaved sets of 4; batches use the widest the CPU has.
 */
#include <errno.h>
#include <string.h>
#include <cpuid.h>
#include <immintrin.h>
#include "crypto.h"

/* ---- one lane: AES-NI on 128-bit registers */
#define LANES 1
#define vec __m128i
#define TARGET __attribute__((target("aes,sse2")))
#define NAME(x) x##_x1

static inline TARGET vec v_aesenc1(vec a, vec k) { return _mm_aesenc_si128(a, k); }
static inline TARGET vec v_xor1(vec a, vec b) { return _mm_xor_si128(a, b); }
static inline TARGET vec v_and1(vec a, vec b) { return _mm_and_si128(a, b); }
static inline TARGET vec v_bcast1(const uint8_t *p) { return _mm_loadu_si128((const vec *)(const void *)p); }
static inline TARGET vec v_load1(const uint8_t *const p[1], size_t off)
{
	return _mm_loadu_si128((const vec *)(const void *)(p[0] + off));
}
static inline TARGET void v_store1(uint8_t *const p[1], size_t off, vec v)
{
	_mm_storeu_si128((vec *)(void *)(p[0] + off), v);
}
#define v_aesenc v_aesenc1
#define v_xor v_xor1
#define v_and v_and1
#define v_bcast v_bcast1
#define v_load v_load1
#define v_store v_store1
#include "aegis256_lanes.h"

/* ---- two lanes: VAES on 256-bit registers */
#define LANES 2
#define vec __m256i
#define TARGET __attribute__((target("aes,vaes,avx2")))
#define NAME(x) x##_x2

static inline TARGET vec v_aesenc2(vec a, vec k) { return _mm256_aesenc_epi128(a, k); }
static inline TARGET vec v_xor2(vec a, vec b) { return _mm256_xor_si256(a, b); }
static inline TARGET vec v_and2(vec a, vec b) { return _mm256_and_si256(a, b); }
static inline TARGET vec v_bcast2(const uint8_t *p)
{
	return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)p));
}
static inline TARGET vec v_load2(const uint8_t *const p[2], size_t off)
{
	return _mm256_loadu2_m128i((const __m128i *)(const void *)(p[1] + off),
				   (const __m128i *)(const void *)(p[0] + off));
}
static inline TARGET void v_store2(uint8_t *const p[2], size_t off, vec v)
{
	_mm256_storeu2_m128i((__m128i *)(void *)(p[1] + off), (__m128i *)(void *)(p[0] + off), v);
}
#define v_aesenc v_aesenc2
#define v_xor v_xor2
#define v_and v_and2
#define v_bcast v_bcast2
#define v_load v_load2
#define v_store v_store2
#include "aegis256_lanes.h"

/* ---- four lanes: VAES on 512-bit registers */
#define LANES 4
#define vec __m512i
#define TARGET __attribute__((target("aes,vaes,avx512f")))
#define NAME(x) x##_x4

static inline TARGET vec v_aesenc4(vec a, vec k) { return _mm512_aesenc_epi128(a, k); }
static inline TARGET vec v_xor4(vec a, vec b) { return _mm512_xor_si512(a, b); }
static inline TARGET vec v_and4(vec a, vec b) { return _mm512_and_si512(a, b); }
static inline TARGET vec v_bcast4(const uint8_t *p)
{
	return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)p));
}
static inline TARGET vec v_load4(const uint8_t *const p[4], size_t off)
{
	vec v = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(p[0] + off)));

	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(p[1] + off)), 1);
	v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(p[2] + off)), 2);
	return _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(const void *)(p[3] + off)), 3);
}
static inline TARGET void v_store4(uint8_t *const p[4], size_t off, vec v)
{
	_mm_storeu_si128((__m128i *)(void *)(p[0] + off), _mm512_castsi512_si128(v));
	_mm_storeu_si128((__m128i *)(void *)(p[1] + off), _mm512_extracti32x4_epi32(v, 1));
	_mm_storeu_si128((__m128i *)(void *)(p[2] + off), _mm512_extracti32x4_epi32(v, 2));
	_mm_storeu_si128((__m128i *)(void *)(p[3] + off), _mm512_extracti32x4_epi32(v, 3));
}
#define v_aesenc v_aesenc4
#define v_xor v_xor4
#define v_and v_and4
#define v_bcast v_bcast4
#define v_load v_load4
#define v_store v_store4
#include "aegis256_lanes.h"

/* ---- eight lanes: two sets of four, interleaved so that each hides the
 * other's AES latency (the state update is one long dependency chain) */
#define LANES 8
#define vec struct zmm_pair
#define TARGET __attribute__((target("aes,vaes,avx512f")))
#define NAME(x) x##_x8

struct zmm_pair { __m512i lo, hi; };

static inline TARGET vec v_aesenc8(vec a, vec k)
{
	return (vec){ _mm512_aesenc_epi128(a.lo, k.lo), _mm512_aesenc_epi128(a.hi, k.hi) };
}
static inline TARGET vec v_xor8(vec a, vec b)
{
	return (vec){ _mm512_xor_si512(a.lo, b.lo), _mm512_xor_si512(a.hi, b.hi) };
}
static inline TARGET vec v_and8(vec a, vec b)
{
	return (vec){ _mm512_and_si512(a.lo, b.lo), _mm512_and_si512(a.hi, b.hi) };
}
static inline TARGET vec v_bcast8(const uint8_t *p)
{
	__m512i v = v_bcast4(p);

	return (vec){ v, v };
}
static inline TARGET vec v_load8(const uint8_t *const p[8], size_t off)
{
	return (vec){ v_load4(p, off), v_load4(p + 4, off) };
}
static inline TARGET void v_store8(uint8_t *const p[8], size_t off, vec v)
{
	v_store4(p, off, v.lo);
	v_store4(p + 4, off, v.hi);
}
#define v_aesenc v_aesenc8
#define v_xor v_xor8
#define v_and v_and8
#define v_bcast v_bcast8
#define v_load v_load8
#define v_store v_store8
#include "aegis256_lanes.h"

/* How many lanes the CPU runs at once: 0 without AES-NI.  Tests may lower
 * it (cx_aegis_limit_lanes) to exercise every width on one machine. */
static int cpu_lanes = -1, lane_limit = 4;

/* What the CPU and the OS offer: AES-NI (CPUID 1 ECX bit 25); VAES (7.0
 * ECX bit 9) with AVX2 (7.0 EBX bit 5) or AVX-512F (7.0 EBX bit 16), each
 * usable only when the OS saves the wider registers (XCR0 bits 1-2 for
 * 256 bits, 5-7 as well for 512). */
static int detect_lanes(void)
{
	unsigned a, b, c, d, xcr0_lo, xcr0_hi;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 25)))
		return 0;
	if (!(c & (1u << 27)) || !__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(c & (1u << 9)))
		return 1;
	__asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
	if ((b & (1u << 16)) && (xcr0_lo & 0xe6) == 0xe6)
		return 4;
	if ((b & (1u << 5)) && (xcr0_lo & 0x6) == 0x6)
		return 2;
	return 1;
}

static int lanes(void)
{
	if (cpu_lanes < 0)
		cpu_lanes = detect_lanes();
	return cpu_lanes < lane_limit ? cpu_lanes : lane_limit;
}

int cx_aegis_available(void)
{
	return lanes() > 0;
}

void cx_aegis_limit_lanes(int n)
{
	lane_limit = n < 0 ? 0 : n;
}

/* Run n messages through the widest lane groups that fit, then narrower. */
static int run(struct cx_aegis_msg *m, size_t n, size_t len, size_t adlen, int opening)
{
	int w = lanes(), rc = 0;
	size_t i = 0;

	if (w == 0)
		return -ENOTSUP;
	for (; w == 4 && i + 8 <= n; i += 8)
		rc |= opening ? open_x8(m + i, len, adlen) : (seal_x8(m + i, len, adlen), 0);
	for (; w == 4 && i + 4 <= n; i += 4)
		rc |= opening ? open_x4(m + i, len, adlen) : (seal_x4(m + i, len, adlen), 0);
	for (; w >= 2 && i + 2 <= n; i += 2)
		rc |= opening ? open_x2(m + i, len, adlen) : (seal_x2(m + i, len, adlen), 0);
	for (; i < n; i++)
		rc |= opening ? open_x1(m + i, len, adlen) : (seal_x1(m + i, len, adlen), 0);
	return rc ? -EBADMSG : 0;
}

int cx_aegis_seal_many(struct cx_aegis_msg *m, size_t n, size_t len, size_t adlen)
{
	return run(m, n, len, adlen, 0);
}

int cx_aegis_open_many(struct cx_aegis_msg *m, size_t n, size_t len, size_t adlen)
{
	return run(m, n, len, adlen, 1);
}

int cx_aegis_seal(uint8_t *out, uint8_t tag[CX_TAG_BYTES], const uint8_t *in, size_t len,
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_AEGIS_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES])
{
	struct cx_aegis_msg m = { out, in, ad, nonce, key, tag, 0 };

	return run(&m, 1, len, adlen, 0);
}

int cx_aegis_open(uint8_t *out, const uint8_t *in, size_t len, const uint8_t tag[CX_TAG_BYTES],
		  const uint8_t *ad, size_t adlen,
		  const uint8_t nonce[CX_AEGIS_NONCE_BYTES], const uint8_t key[CX_KEY_BYTES])
{
	struct cx_aegis_msg m = { out, in, ad, nonce, key, (uint8_t *)tag, 0 };

	return run(&m, 1, len, adlen, 1);
}
