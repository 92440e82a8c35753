/*
 * libFuzzer target: random socket calls with random arguments into the
 * library OS's socket layer (net/lwip/socket.c) over lwIP on the host
 * (tests/fuzz/socket_shim.c), mixed with frames from the wire and clock
 * steps.  The input is a sequence of operations: one byte chooses the
 * call, the bytes after it its arguments.  Pointers point into the
 * program's memory (an arena the input also writes, seeded with useful
 * addresses and a message header) or outside it (-EFAULT).  Every call
 * must answer with a value or an error, with or without a default route
 * (a program without a NIC has only the loopback): no crash, no sanitizer report, no
 * lwIP assertion, no wait without an end.  Each new socket gets 200 ms
 * receive and send timeouts so a blocking call ends without a peer.
 * FUZZ_SOCKET_TRACE=1 prints each call's result (to read a crash's input).
 */
#include "tests/fuzz/netif_harness.h"
#include "tests/fuzz/socket_shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>	/* before lwIP's headers rename the routines */

#include "libos/sockcalls.h"
#include "libos/vfs.h"
#include "net/lwip/lxnet.h"

#undef memcpy
#undef memset

/* Where the seeded arena keeps what calls point at. */
enum {
	U_SIN_LO = 0, U_SIN_NIF = 16, U_SIN_ANY = 32, U_SIN6_LO = 48, U_SIN6_MAPPED = 80,
	U_INT1 = 112, U_INT0 = 116, U_LEN16 = 120, U_LEN28 = 124, U_TIMEVAL = 128,
	U_MREQ = 144, U_MREQ6 = 160, U_LINGER = 184, U_MSG = 192, U_IOV = 256,
	U_SPARE = 512, U_BUF = 4096, U_TIMEO = SHIM_USER_SIZE - 16,
};

struct input {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint32_t u16(struct input *in)
{
	return (uint32_t)u8(in) | (uint32_t)u8(in) << 8;
}

static uint32_t u32(struct input *in)
{
	return u16(in) | u16(in) << 16;
}

static void put(size_t off, const void *v, size_t n)
{
	memcpy(shim_user + off, v, n);
}

static void sin_at(size_t off, uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint16_t port)
{
	struct lx_sockaddr_in s = { .family = LX_AF_INET, .port = (uint16_t)(port << 8 | port >> 8) };
	uint8_t ip[4] = { a, b, c, d };
	memcpy(&s.addr, ip, 4);
	put(off, &s, sizeof s);
}

static void sin6_at(size_t off, int mapped, uint16_t port)
{
	struct lx_sockaddr_in6 s = { .family = LX_AF_INET6, .port = (uint16_t)(port << 8 | port >> 8) };
	if (mapped) {
		s.addr[10] = s.addr[11] = 0xff;
		s.addr[12] = 127;
		s.addr[15] = 1;
	} else {
		s.addr[15] = 1;
	}
	put(off, &s, sizeof s);
}

/* The arena at the start of each input: addresses on the loopback and on
 * the interface, option values, a group, a message header with two iovecs. */
static void seed_user(void)
{
	memset(shim_user, 0, SHIM_USER_SIZE);
	sin_at(U_SIN_LO, 127, 0, 0, 1, 7000);
	sin_at(U_SIN_NIF, 10, 0, 2, 15, 7001);
	sin_at(U_SIN_ANY, 0, 0, 0, 0, 7000);
	sin6_at(U_SIN6_LO, 0, 7000);
	sin6_at(U_SIN6_MAPPED, 1, 7000);
	int32_t one = 1, zero = 0, l16 = 16, l28 = 28;
	put(U_INT1, &one, 4);
	put(U_INT0, &zero, 4);
	put(U_LEN16, &l16, 4);
	put(U_LEN28, &l28, 4);
	struct lx_timeval tv = { 0, 300000 };
	put(U_TIMEVAL, &tv, sizeof tv);
	struct lx_ip_mreqn mr = { .ifindex = 1 };
	uint8_t group[4] = { 224, 1, 2, 3 };
	memcpy(&mr.multiaddr, group, 4);
	put(U_MREQ, &mr, sizeof mr);
	struct lx_ipv6_mreq m6 = { .multiaddr = { 0xff, 0x02, [15] = 5 }, .ifindex = 1 };
	put(U_MREQ6, &m6, sizeof m6);
	struct lx_linger lg = { 1, 0 };
	put(U_LINGER, &lg, sizeof lg);
	struct lx_iovec iov[2] = {
		{ (uint64_t)(uintptr_t)(shim_user + U_BUF), 100 },
		{ (uint64_t)(uintptr_t)(shim_user + U_BUF + 1000), 2000 },
	};
	put(U_IOV, iov, sizeof iov);
	struct lx_msghdr m = {
		.name = (uint64_t)(uintptr_t)(shim_user + U_SIN_LO), .namelen = 16,
		.iov = (uint64_t)(uintptr_t)(shim_user + U_IOV), .iovlen = 2,
	};
	put(U_MSG, &m, sizeof m);
	for (size_t i = U_BUF; i < U_TIMEO; i++)
		shim_user[i] = (uint8_t)i;
}

/* A pointer argument: mostly one of the seeded places, sometimes NULL, the
 * arena's last byte (a copy runs off its end), or outside it. */
static uint64_t ptr(struct input *in)
{
	static const uint32_t places[] = {
		U_SIN_LO, U_SIN_NIF, U_SIN_ANY, U_SIN6_LO, U_SIN6_MAPPED, U_INT1, U_INT0,
		U_LEN16, U_LEN28, U_TIMEVAL, U_MREQ, U_MREQ6, U_LINGER, U_MSG, U_IOV,
		U_SPARE, U_BUF,
	};
	uint8_t b = u8(in);
	if (b < 200)
		return (uint64_t)(uintptr_t)(shim_user + places[b % (sizeof places / sizeof *places)]);
	if (b < 210)
		return (uint64_t)(uintptr_t)(shim_user + U_SPARE + u16(in) % (SHIM_USER_SIZE - U_SPARE));
	if (b < 220)
		return 0;
	if (b < 230)
		return (uint64_t)(uintptr_t)(shim_user + SHIM_USER_SIZE - 1);
	return (uint64_t)u32(in) << 12;		/* not the program's memory */
}

/* A length: small, an address's, or anything. */
static uint64_t len(struct input *in)
{
	uint8_t b = u8(in);
	if (b < 64)
		return b;
	if (b < 128)
		return b & 1 ? 16 : 28;
	if (b < 250)
		return u16(in);
	return (uint64_t)u32(in) << (b & 7) * 4;
}

/* A descriptor: mostly a socket's, sometimes none or out of range. */
static uint64_t fd(struct input *in)
{
	return (uint64_t)(int64_t)((int)(u8(in) % (SHIM_FDS + 2)) - 1);
}

static uint64_t flags(struct input *in)
{
	static const uint64_t bits[] = {
		LX_MSG_PEEK, LX_MSG_DONTWAIT, LX_MSG_WAITALL, LX_MSG_TRUNC, LX_MSG_MORE,
		LX_MSG_NOSIGNAL, LX_MSG_OOB, LX_SOCK_NONBLOCK, LX_SOCK_CLOEXEC,
	};
	uint8_t b = u8(in);
	if (b == 0xff)
		return u32(in);
	uint64_t f = 0;
	for (unsigned i = 0; i < sizeof bits / sizeof *bits && i < 8; i++)
		if (b >> i & 1)
			f |= bits[i];
	return f;
}

static uint64_t level(struct input *in)
{
	static const uint64_t levels[] = { LX_SOL_SOCKET, LX_IPPROTO_IP, LX_IPPROTO_TCP, LX_IPPROTO_IPV6 };
	uint8_t b = u8(in);
	return b < 240 ? levels[b % 4] : u32(in);
}

/* Bounded timeouts on a socket the fuzzer just made or set options on, so
 * that every blocking call ends without a peer. */
static void bound_timeouts(int64_t s)
{
	struct lx_timeval tv = { 0, 200000 };
	put(U_TIMEO, &tv, sizeof tv);
	uint64_t p = (uint64_t)(uintptr_t)(shim_user + U_TIMEO);
	sys_setsockopt((uint64_t)s, LX_SOL_SOCKET, LX_SO_RCVTIMEO, p, sizeof tv, 0);
	sys_setsockopt((uint64_t)s, LX_SOL_SOCKET, LX_SO_SNDTIMEO, p, sizeof tv, 0);
}

static void frame(struct input *in)
{
	size_t n = u16(in) % 1515;
	if (n > in->n)
		n = in->n;
	uint8_t *f = malloc(n ? n : 1);		/* exactly n: ASan sees overreads */
	memcpy(f, in->p, n);
	in->p += n;
	in->n -= n;
	harness_input(f, n, u8(in));
	free(f);
}

static void user_write(struct input *in)
{
	size_t off = u16(in) % SHIM_USER_SIZE, n = u8(in);
	if (n > in->n)
		n = in->n;
	if (n > SHIM_USER_SIZE - off)
		n = SHIM_USER_SIZE - off;
	memcpy(shim_user + off, in->p, n);
	in->p += n;
	in->n -= n;
}

static void file_call(struct input *in, int op)
{
	struct file *f = fd_get((int)fd(in));
	if (!f)
		return;
	const struct file_ops *o = fops(f);
	struct lx_stat st;
	uint64_t p = ptr(in), n = len(in);
	switch (op) {
	case 0: o->read(f, (void *)(uintptr_t)p, n); break;
	case 1: o->write(f, (const void *)(uintptr_t)p, n); break;
	case 2: o->poll(f); break;
	case 3: o->ioctl(f, u8(in) & 1 ? 0x541b : u8(in) & 1 ? 0x5421 : u32(in), p); break;
	case 4: o->stat(f, &st); break;
	case 5: f->flags ^= LX_O_NONBLOCK; break;
	}
}

static int trace;		/* FUZZ_SOCKET_TRACE=1: each call's result on stderr */

static void one_call(struct input *in)
{
	uint8_t op = u8(in) % 25;
	int64_t r = 0;
	uint64_t a, b, c, d, e;
	shim_call_begin();
	switch (op) {
	case 0:
		a = u8(in) & 1 ? LX_AF_INET : LX_AF_INET6;
		b = (u8(in) % 4) | (flags(in) & (LX_SOCK_NONBLOCK | LX_SOCK_CLOEXEC));
		c = u8(in) < 200 ? 0 : u8(in);
		if ((r = sys_socket(a, b, c, 0, 0, 0)) >= 0)
			bound_timeouts(r);
		break;
	case 1: a = fd(in), b = ptr(in); r = sys_bind(a, b, len(in), 0, 0, 0); break;
	case 2: a = fd(in); r = sys_listen(a, u8(in) < 250 ? u8(in) : u32(in), 0, 0, 0, 0); break;
	case 3:
		a = fd(in), b = ptr(in), c = ptr(in);
		if ((r = sys_accept4(a, b, c, flags(in), 0, 0)) >= 0)
			bound_timeouts(r);
		break;
	case 4: a = fd(in), b = ptr(in); r = sys_connect(a, b, len(in), 0, 0, 0); break;
	case 5:
		a = fd(in), b = ptr(in), c = len(in), d = flags(in), e = ptr(in);
		r = sys_sendto(a, b, c, d, e, len(in));
		break;
	case 6:
		a = fd(in), b = ptr(in), c = len(in), d = flags(in), e = ptr(in);
		r = sys_recvfrom(a, b, c, d, e, ptr(in));
		break;
	case 7: a = fd(in), b = ptr(in); r = sys_sendmsg(a, b, flags(in), 0, 0, 0); break;
	case 8: a = fd(in), b = ptr(in); r = sys_recvmsg(a, b, flags(in), 0, 0, 0); break;
	case 9: a = fd(in); r = sys_shutdown(a, u8(in) % 4, 0, 0, 0, 0); break;
	case 10: a = fd(in); r = sys_getsockname(a, ptr(in), ptr(in), 0, 0, 0); break;
	case 11: a = fd(in); r = sys_getpeername(a, ptr(in), ptr(in), 0, 0, 0); break;
	case 12:
		a = fd(in), b = level(in), c = u8(in) < 250 ? u8(in) % 64 : u32(in), d = ptr(in);
		r = sys_setsockopt(a, b, c, d, len(in), 0);
		if (b == LX_SOL_SOCKET && (c == LX_SO_RCVTIMEO || c == LX_SO_SNDTIMEO))
			bound_timeouts((int64_t)a);
		break;
	case 13:
		a = fd(in), b = level(in), c = u8(in) < 250 ? u8(in) % 64 : u32(in), d = ptr(in);
		r = sys_getsockopt(a, b, c, d, ptr(in), 0);
		break;
	case 14: case 15: case 16: case 17: case 18: case 19:
		file_call(in, op - 14);
		break;
	case 20: shim_close((int)fd(in)); break;
	case 21: frame(in); break;
	case 22: harness_advance(u16(in)); break;
	case 23: user_write(in); break;
	case 24: harness_set_default(u8(in) & 1); break;
	}
	if (trace)
		fprintf(stderr, "call %u: %lld\n", op, (long long)r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	harness_init();
	trace = getenv("FUZZ_SOCKET_TRACE") != 0;
	seed_user();
	struct input in = { data, size };
	while (in.n)
		one_call(&in);
	for (int i = 0; i < SHIM_FDS; i++)	/* each input starts without sockets */
		shim_close(i);
	harness_set_default(1);
	harness_advance(1000);
	return 0;
}
