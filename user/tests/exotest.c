/*
 * The native ABI in a real VM: capabilities and rights, isolation between
 * envs, revocation taking effect at once, sharing, notifications between
 * envs, preemption of a spinning env, quotas, and bad arguments of every
 * kind returning errors with nothing changed.
 */
#include "check.h"
#include "exo.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#define E(x) (-(int64_t)(x))

static int64_t call(uint64_t nr, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e)
{
	return exo_call(nr, a, b, c, d, e);
}

static struct exo_cap_info inspect(int64_t slot)
{
	struct exo_cap_info i;
	memset(&i, 0, sizeof i);
	exo_call(EXO_SYS_CAP_INSPECT, slot, &i);
	return i;
}

/* --- bodies run in child envs: only arguments, stack and native calls --- */

/* Tries to reach the parent's memory without caps; reports through a
 * notification badge: bit 0 map refused, bit 1 unmap refused, bit 2 grant
 * refused; then reads addr, which must kill it. */
static void body_trespass(uint64_t notify, uint64_t addr, uint64_t unused)
{
	(void)unused;
	uint64_t bits = 0;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, 0x500000000, EXO_SLOT_IMAGE, 0, EXO_PROT_READ) < 0)
		bits |= 1;
	if (exo_call(EXO_SYS_PAGE_UNMAP, 9, addr & ~4095ull) < 0 &&
	    exo_call(EXO_SYS_PAGE_MAP, 1, addr & ~4095ull, EXO_SLOT_MEMORY, 0, EXO_PROT_READ) < 0)
		bits |= 2;
	if (exo_call(EXO_SYS_CAP_GRANT, EXO_SLOT_MEMORY, 9, EXO_R_ALL) < 0)
		bits |= 4;
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, bits | 8);
	volatile uint64_t v = *(volatile uint64_t *)addr;	/* not mapped here */
	exo_call(EXO_SYS_EXIT, v & 0x7f);
}

/* Counts in the shared page forever; dies when the page is revoked. */
static void body_counter(uint64_t shared_va, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	volatile uint64_t *p = (volatile uint64_t *)shared_va;
	p[1] = 0x1234;
	for (;;)
		p[0]++;
}

/* Ping-pong: waits on mine, signals theirs, rounds times. */
static void body_pong(uint64_t mine, uint64_t theirs, uint64_t rounds)
{
	for (uint64_t i = 0; i < rounds; i++) {
		if (exo_call(EXO_SYS_NOTIFY_WAIT, mine, EXO_FOREVER) < 0)
			exo_call(EXO_SYS_EXIT, 2);
		exo_call(EXO_SYS_NOTIFY_SIGNAL, theirs, 1);
	}
	exo_call(EXO_SYS_EXIT, 0);
}

/* Counts one step per turn, giving the CPU back after each. */
static void body_step(uint64_t shared_va, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	volatile uint64_t *p = (volatile uint64_t *)shared_va;
	for (;;) {
		p[0]++;
		exo_call0(EXO_SYS_YIELD);
	}
}

/* A Linux call with no personality entry registered: -ENOSYS, reported
 * through the notification as the badge (the error, negated, plus 1). */
static void body_linux_call(uint64_t notify, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	int64_t r = exo_call6(39, 0, 0, 0, 0, 0, 0);	/* getpid */
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, (uint64_t)(-r) + 1);
	exo_call(EXO_SYS_EXIT, 0);
}

/* Signals notify with 4 after sleeping 20 ms on a notification of its own. */
static void body_late_signal(uint64_t notify, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	int64_t mine = exo_call0(EXO_SYS_NOTIFY_CREATE);
	exo_call(EXO_SYS_NOTIFY_WAIT, mine, 20000000);
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, 4);
	exo_call(EXO_SYS_EXIT, 0);
}

/* Allocates one page at a time through the MEMORY cap in slot mem until
 * the kernel refuses, then a whole run and a plain child of more than is
 * left; reports the pages it got (plus 1) and bit 16 when both were
 * refused, and keeps them. */
static void body_overdraw(uint64_t mem, uint64_t notify, uint64_t a2)
{
	(void)a2;
	uint64_t got = 0;
	while (got < 4096 && exo_call(EXO_SYS_MEM_ALLOC, mem, 1) >= 0)
		got++;
	uint64_t refused = exo_call(EXO_SYS_MEM_ALLOC, mem, 2) == E(EXO_ENOMEM) &&
			   exo_call(EXO_SYS_CAP_DERIVE, mem, EXO_R_ALL, 0, 1) == E(EXO_ENOMEM);
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, (got + 1) | refused << 16);
	for (;;)		/* holding the pages until the parent ends it */
		exo_call0(EXO_SYS_YIELD);
}

static void body_spin(uint64_t a0, uint64_t a1, uint64_t a2)
{
	(void)a0; (void)a1; (void)a2;
	for (volatile uint64_t i = 0;; i++)
		;
}

/* --- tests in the root env --- */

static void root_caps(void)
{
	struct exo_cap_info m = inspect(EXO_SLOT_MEMORY), con = inspect(EXO_SLOT_CONSOLE);
	struct exo_cap_info self = inspect(EXO_SLOT_SELF_ENV), img = inspect(EXO_SLOT_IMAGE);
	EXPECT("root-memory-cap", m.type == EXO_CAP_MEMORY && m.count > 1000);
	EXPECT("root-console-cap", con.type == EXO_CAP_CONSOLE && con.rights == EXO_R_ALL);
	EXPECT("root-env-cap", self.type == EXO_CAP_ENV && self.rights == EXO_R_ALL && self.object == 1);
	EXPECT("root-image-cap", img.type == EXO_CAP_FRAME && img.count > 0);
	struct exo_cap_info irq = inspect(8);
	EXPECT("root-irq-caps", irq.type == EXO_CAP_IRQ && irq.first == 0);
}

static void derive_and_rights(void)
{
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 4);
	EXPECT("mem-alloc", f >= 0 && inspect(f).count == 4);
	int64_t ro = exo_call(EXO_SYS_CAP_DERIVE, f, EXO_R_READ | EXO_R_DERIVE, inspect(f).first + 1, 2);
	EXPECT("derive-smaller", ro >= 0 && inspect(ro).count == 2 && inspect(ro).rights == (EXO_R_READ | EXO_R_DERIVE));
	EXPECT("derive-cannot-add-rights", call(EXO_SYS_CAP_DERIVE, ro, EXO_R_ALL, inspect(ro).first, 1, 0) == E(EXO_EACCES));
	EXPECT("derive-cannot-grow", call(EXO_SYS_CAP_DERIVE, ro, EXO_R_READ, inspect(ro).first, 3, 0) == E(EXO_EINVAL));
	EXPECT("derive-outside", call(EXO_SYS_CAP_DERIVE, ro, EXO_R_READ, inspect(ro).first - 1, 1, 0) == E(EXO_EINVAL));
	uint64_t va = 0x0000500000000000ull;
	EXPECT("map-needs-write-right", call(EXO_SYS_PAGE_MAP, 0, va, ro, 0, EXO_PROT_READ | EXO_PROT_WRITE) == E(EXO_EACCES));
	EXPECT("map-readonly", call(EXO_SYS_PAGE_MAP, 0, va, ro, 0, EXO_PROT_READ) == 0);
	EXPECT("protect-cannot-add-write", call(EXO_SYS_PAGE_PROTECT, 0, va, EXO_PROT_READ | EXO_PROT_WRITE, 0, 0) == E(EXO_EACCES));
	EXPECT("map-index-range", call(EXO_SYS_PAGE_MAP, 0, va + 4096, ro, 2, EXO_PROT_READ) == E(EXO_EINVAL));
	/* revoking f deletes ro and unmaps what was mapped through it */
	EXPECT("revoke", call(EXO_SYS_CAP_REVOKE, f, 0, 0, 0, 0) == 0);
	EXPECT("revoke-deleted-child", inspect(ro).type == EXO_CAP_NONE);
	EXPECT("revoke-unmapped", call(EXO_SYS_PAGE_UNMAP, 0, va, 0, 0, 0) == E(EXO_ENOENT));
	uint64_t before = inspect(EXO_SLOT_MEMORY).count;
	EXPECT("delete-returns-budget", call(EXO_SYS_CAP_DELETE, f, 0, 0, 0, 0) == 0 &&
	       inspect(EXO_SLOT_MEMORY).count == before + 4);
}

static void bad_arguments(void)
{
	uint64_t budget = inspect(EXO_SLOT_MEMORY).count;
	int64_t n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	EXPECT("empty-slot-ebadf", call(EXO_SYS_CAP_INSPECT, 400, (uint64_t)&budget, 0, 0, 0) == E(EXO_EBADF));
	EXPECT("huge-slot-ebadf", call(EXO_SYS_CAP_DELETE, ~0ull, 0, 0, 0, 0) == E(EXO_EBADF));
	EXPECT("wrong-type-einval", call(EXO_SYS_MEM_ALLOC, n, 1, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("env-slot-not-env", call(EXO_SYS_PAGE_MAP, n, 0x500000000, EXO_SLOT_IMAGE, 0, EXO_PROT_READ) == E(EXO_EINVAL));
	int64_t weak = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_SELF_ENV, EXO_R_DERIVE, 0, 0);
	EXPECT("env-without-map-right", call(EXO_SYS_PAGE_MAP, weak, 0x500000000, EXO_SLOT_IMAGE, 0, EXO_PROT_READ) == E(EXO_EACCES));
	exo_call(EXO_SYS_CAP_DELETE, weak);
	EXPECT("kernel-pointer-efault", call(EXO_SYS_CAP_INSPECT, 0, 0xffff800000001000ull, 0, 0, 0) == E(EXO_EFAULT));
	EXPECT("unmapped-pointer-efault", call(EXO_SYS_CAP_INSPECT, 0, 0x10, 0, 0, 0) == E(EXO_EFAULT));
	EXPECT("wrapping-pointer-efault", call(EXO_SYS_RANDOM, 0x00007ffffffff000ull, 4096, 0, 0, 0) == E(EXO_EFAULT));
	EXPECT("readonly-pointer-efault", call(EXO_SYS_CAP_INSPECT, 0, (uint64_t)__executable_start, 0, 0, 0) == E(EXO_EFAULT));
	EXPECT("console-bad-pointer", call(EXO_SYS_CONSOLE_WRITE, EXO_SLOT_CONSOLE, 0x1000, 10, 0, 0) == E(EXO_EFAULT));
	EXPECT("random-too-long", call(EXO_SYS_RANDOM, (uint64_t)&budget, 5000, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("alloc-zero", call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 0, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("alloc-huge", call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1ull << 40, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("map-unaligned", call(EXO_SYS_PAGE_MAP, 0, 0x500000001, EXO_SLOT_IMAGE, 0, EXO_PROT_READ) == E(EXO_EINVAL));
	EXPECT("map-kernel-va", call(EXO_SYS_PAGE_MAP, 0, 0xffff800000000000ull, EXO_SLOT_IMAGE, 0, EXO_PROT_READ) == E(EXO_EINVAL));
	EXPECT("map-write-exec", call(EXO_SYS_PAGE_MAP, 0, 0x500000000, EXO_SLOT_IMAGE, 0, 7) == E(EXO_EINVAL));
	EXPECT("signal-zero-bits", call(EXO_SYS_NOTIFY_SIGNAL, n, 0, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("signal-top-bit", call(EXO_SYS_NOTIFY_SIGNAL, n, 1ull << 63, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("wait-timeout", call(EXO_SYS_NOTIFY_WAIT, n, 1000000, 0, 0, 0) == E(EXO_ETIMEDOUT));
	EXPECT("poll-empty", call(EXO_SYS_NOTIFY_POLL, n, 0, 0, 0, 0) == 0);
	EXPECT("signal-then-poll", call(EXO_SYS_NOTIFY_SIGNAL, n, 5, 0, 0, 0) == 0 &&
	       call(EXO_SYS_NOTIFY_SIGNAL, n, 2, 0, 0, 0) == 0 && call(EXO_SYS_NOTIFY_POLL, n, 0, 0, 0, 0) == 7);
	EXPECT("fault-handler-kernel", call(EXO_SYS_SET_FAULT_HANDLER, 0xffff800000000000ull, 0x1000, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("personality-unaligned-slot", call(EXO_SYS_SET_PERSONALITY, 0x401000, 0x1003, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("fsbase-kernel", call(EXO_SYS_SET_FSBASE, 0xffff800000000000ull, 0, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("irq-bad-badge", call(EXO_SYS_IRQ_BIND, 8 + 5, n, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("irq-cascade-busy", call(EXO_SYS_IRQ_BIND, 8 + 2, n, 1, 0, 0) == E(EXO_EBUSY));
	EXPECT("irq-console-busy", call(EXO_SYS_IRQ_BIND, 8 + 4, n, 1, 0, 0) == E(EXO_EBUSY));
	/* console input: nothing is typed under exo-run */
	char in[16];
	int64_t wo = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_CONSOLE, EXO_R_WRITE, 0, 0);
	EXPECT("console-read-empty", call(EXO_SYS_CONSOLE_READ, EXO_SLOT_CONSOLE, (uint64_t)in, sizeof in, 0, 0) == 0);
	EXPECT("console-read-bad-pointer", call(EXO_SYS_CONSOLE_READ, EXO_SLOT_CONSOLE, 0x1000, 10, 0, 0) == E(EXO_EFAULT));
	EXPECT("console-read-too-long", call(EXO_SYS_CONSOLE_READ, EXO_SLOT_CONSOLE, (uint64_t)in, 5000, 0, 0) == E(EXO_EINVAL));
	EXPECT("console-read-needs-read", wo > 0 &&
	       call(EXO_SYS_CONSOLE_READ, wo, (uint64_t)in, sizeof in, 0, 0) == E(EXO_EACCES) &&
	       call(EXO_SYS_CONSOLE_BIND, wo, n, 1, 0, 0) == E(EXO_EACCES));
	EXPECT("console-bind-not-notify", call(EXO_SYS_CONSOLE_BIND, EXO_SLOT_CONSOLE, EXO_SLOT_MEMORY, 1, 0, 0) == E(EXO_EINVAL));
	EXPECT("console-bind-top-bit", call(EXO_SYS_CONSOLE_BIND, EXO_SLOT_CONSOLE, n, 1ull << 63, 0, 0) == E(EXO_EINVAL));
	EXPECT("console-bind-unbind", call(EXO_SYS_CONSOLE_BIND, EXO_SLOT_CONSOLE, n, 1, 0, 0) == 0 &&
	       call(EXO_SYS_CONSOLE_BIND, EXO_SLOT_CONSOLE, 0, 0, 0, 0) == 0 &&
	       call(EXO_SYS_NOTIFY_POLL, n, 0, 0, 0, 0) == 0);
	exo_call(EXO_SYS_CAP_DELETE, wo);
	EXPECT("env-create-tiny-quota", call(EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, 3, 0, 0, 0) == E(EXO_EINVAL));
	EXPECT("env-create-too-big", call(EXO_SYS_ENV_CREATE, EXO_SLOT_MEMORY, budget + 1, 0, 0, 0) == E(EXO_ENOMEM));
	int64_t d = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, 3);
	EXPECT("alloc-beyond-derived-budget", call(EXO_SYS_MEM_ALLOC, d, 4, 0, 0, 0) == E(EXO_ENOMEM) && inspect(d).count == 3);
	EXPECT("failed-calls-leave-state", inspect(EXO_SLOT_MEMORY).count == budget - 3 &&
	       inspect(400).type == EXO_CAP_NONE);
	exo_call(EXO_SYS_CAP_DELETE, d);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

/* A cap that draws on its parent's budget (EXO_MEM_DRAW): it holds no
 * pages, allocates from the parent's, and frees back to it; a parent
 * bounds it by making it draw on a plain cap of a fixed size, and a child
 * env holding only the drawing cap gets exactly that many pages. */
static void memory_draw(void)
{
	uint64_t budget = inspect(EXO_SLOT_MEMORY).count;
	EXPECT("draw-with-pages", call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, EXO_MEM_DRAW, 1, 0) == E(EXO_EINVAL));
	EXPECT("draw-bad-first", call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 2, 0, 0) == E(EXO_EINVAL));
	int64_t d = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, EXO_MEM_DRAW, 0);
	EXPECT("draw-derive", d >= 0 && inspect(d).first == EXO_MEM_DRAW && inspect(d).count == inspect(EXO_SLOT_MEMORY).count);
	/* no output between the counts: printing may grow our own pool */
	budget = inspect(EXO_SLOT_MEMORY).count;
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, d, 5);
	int took = f >= 0 && inspect(EXO_SLOT_MEMORY).count == budget - 5;
	exo_call(EXO_SYS_CAP_DELETE, f);
	int back = inspect(EXO_SLOT_MEMORY).count == budget && inspect(d).count == budget;
	EXPECT("draw-alloc-from-parent", took);
	EXPECT("draw-free-to-parent", back);
	exo_call(EXO_SYS_CAP_DELETE, d);

	int64_t thread, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t bound = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, 8);
	int64_t draw = exo_call(EXO_SYS_CAP_DERIVE, bound, EXO_R_ALL, EXO_MEM_DRAW, 0);
	int64_t in_child = exo_call(EXO_SYS_CAP_GRANT, draw, env, EXO_R_ALL);
	int64_t nn = exo_call(EXO_SYS_CAP_GRANT, n, env, EXO_R_WRITE);
	EXPECT("draw-grant", bound >= 0 && draw >= 0 && in_child >= 0 && nn >= 0);
	child_start(thread, body_overdraw, (uint64_t)in_child, (uint64_t)nn, 0);
	int64_t bits = exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull);
	EXPECT("draw-child-gets-its-bound", bits > 0 && (bits & 0xffff) == 8 + 1 && (bits >> 16) == 1);
	EXPECT("draw-bound-spent", inspect(bound).count == 0 && inspect(draw).count == 0);
	child_destroy(env);
	EXPECT("draw-frames-back-to-bound", inspect(bound).count == 8 && inspect(draw).count == 8);
	exo_call(EXO_SYS_CAP_DELETE, draw);
	exo_call(EXO_SYS_CAP_DELETE, bound);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static void isolation(void)
{
	static volatile uint64_t secret = 0x5ec2e7;
	int64_t thread, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 0, &thread, NULL);
	EXPECT("child-create", env >= 0 && thread >= 0);
	int64_t n_in_child = exo_call(EXO_SYS_CAP_GRANT, n, env, EXO_R_WRITE);
	EXPECT("grant-notify", n_in_child >= 0);
	EXPECT("child-start", child_start(thread, body_trespass, (uint64_t)n_in_child, (uint64_t)&secret, 0) == 0);
	int64_t bits = exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull);
	EXPECT("child-map-refused", bits > 0 && (bits & 1));
	EXPECT("child-unmap-refused", bits > 0 && (bits & 2));
	EXPECT("child-grant-refused", bits > 0 && (bits & 4));
	int64_t st = child_wait(env, 5000000000ull);
	EXPECT("child-read-killed-sigsegv", st == EXO_STATUS_SIGNALED(11));
	EXPECT("secret-intact", secret == 0x5ec2e7);
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static void share_and_revoke(void)
{
	int64_t thread;
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	EXPECT("share-map-parent", call(EXO_SYS_PAGE_MAP, 0, SHARED_VA, f, 0, EXO_PROT_READ | EXO_PROT_WRITE) == 0);
	int64_t g = exo_call(EXO_SYS_CAP_GRANT, f, env, EXO_R_READ | EXO_R_WRITE);
	/* the parent maps the granted copy into the child through its env cap:
	 * the child's mapping hangs on the child's cap */
	EXPECT("share-grant", g >= 0);
	volatile uint64_t *p = (volatile uint64_t *)SHARED_VA;
	p[0] = 0;
	EXPECT("share-map-child", call(EXO_SYS_PAGE_MAP, env, SHARED_VA, f, 0, EXO_PROT_READ | EXO_PROT_WRITE) == 0);
	child_start(thread, body_counter, SHARED_VA, 0, 0);
	for (int i = 0; i < 200 && p[0] < 1000; i++)
		exo_call(EXO_SYS_YIELD, 0);
	EXPECT("share-child-writes-seen", p[1] == 0x1234 && p[0] >= 1000);
	/* the child's mapping was made through f (the parent's cap, with MAP
	 * on the child): revoking f's copies leaves it; unmapping ends it */
	EXPECT("share-revoke", call(EXO_SYS_CAP_REVOKE, f, 0, 0, 0, 0) == 0);
	EXPECT("share-unmap-child-now", call(EXO_SYS_PAGE_UNMAP, env, SHARED_VA, 0, 0, 0) == 0);
	int64_t st = child_wait(env, 5000000000ull);
	EXPECT("share-child-killed-after-unmap", st == EXO_STATUS_SIGNALED(11));
	uint64_t last = p[0];
	EXPECT("share-no-writes-after", p[0] == last && p[1] == 0x1234);
	exo_call(EXO_SYS_CAP_DELETE, env);
	exo_call(EXO_SYS_CAP_DELETE, f);
}

/* Revocation reaching a copy that lives in another env: the child maps the
 * granted copy itself, so revoking the parent's cap unmaps it there. */
static void body_map_and_count(uint64_t slot, uint64_t notify, uint64_t a2)
{
	(void)a2;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, SHARED_VA, slot, 0, EXO_PROT_READ | EXO_PROT_WRITE))
		exo_call(EXO_SYS_EXIT, 3);
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, 1);
	body_counter(SHARED_VA, 0, 0);
}

static void revoke_reaches_other_env(void)
{
	int64_t thread, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	call(EXO_SYS_PAGE_MAP, 0, SHARED_VA, f, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	int64_t g = exo_call(EXO_SYS_CAP_GRANT, f, env, EXO_R_READ | EXO_R_WRITE);
	int64_t nn = exo_call(EXO_SYS_CAP_GRANT, n, env, EXO_R_WRITE);
	child_start(thread, body_map_and_count, (uint64_t)g, (uint64_t)nn, 0);
	EXPECT("revoke-child-mapped", exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull) == 1);
	volatile uint64_t *p = (volatile uint64_t *)SHARED_VA;
	for (int i = 0; i < 200 && p[0] < 1000; i++)
		exo_call(EXO_SYS_YIELD, 0);
	EXPECT("revoke-child-counting", p[0] >= 1000);
	EXPECT("revoke-call", call(EXO_SYS_CAP_REVOKE, f, 0, 0, 0, 0) == 0);
	int64_t st = child_wait(env, 5000000000ull);
	EXPECT("revoke-child-faults-at-once", st == EXO_STATUS_SIGNALED(11));
	uint64_t last = p[0];
	for (int i = 0; i < 10; i++)
		exo_call(EXO_SYS_YIELD, 0);
	EXPECT("revoke-parent-keeps-page", p[0] == last && p[1] == 0x1234);
	exo_call(EXO_SYS_CAP_DELETE, env);
	exo_call(EXO_SYS_CAP_DELETE, f);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

/* Writes to each of RANGE_PAGES shared pages in turn, forever; dies at the
 * first write the kernel no longer allows. */
#define RANGE_PAGES 16
static void body_range_writer(uint64_t shared_va, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	volatile uint64_t *p = (volatile uint64_t *)shared_va;
	for (;;)
		for (int i = 0; i < RANGE_PAGES; i++)
			p[i * 512]++;
}

/* Sums the first word of each shared page. */
static uint64_t range_sum(void)
{
	volatile uint64_t *p = (volatile uint64_t *)SHARED_VA;
	uint64_t sum = 0;
	for (int i = 0; i < RANGE_PAGES; i++)
		sum += p[i * 512];
	return sum;
}

/*
 * One PAGE_PROTECT or PAGE_UNMAP over a range, one TLB flush round for all
 * of it: once the call returns, no CPU may write through an old
 * translation.  A child writes to 16 shared pages in a loop (on -smp 4 on
 * another CPU); the call over its range must stop its writes at once.
 */
static void range_calls(int unmap)
{
	int64_t thread;
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, RANGE_PAGES);
	for (int i = 0; i < RANGE_PAGES; i++) {
		call(EXO_SYS_PAGE_MAP, 0, SHARED_VA + i * 4096ull, f, i, EXO_PROT_READ);
		call(EXO_SYS_PAGE_MAP, env, SHARED_VA + i * 4096ull, f, i, EXO_PROT_READ | EXO_PROT_WRITE);
	}
	/* on several CPUs, the writer runs on another CPU than this one
	 * throughout, so only a shootdown can stop it */
	int several = ((const struct exo_kinfo *)EXO_KINFO_VA)->cpus_running >= 2;
	if (several) {
		exo_call(EXO_SYS_THREAD_SET_AFFINITY, EXO_SLOT_SELF_THREAD, 1ull);
		exo_call(EXO_SYS_THREAD_SET_AFFINITY, thread, 2ull);
	}
	child_start(thread, body_range_writer, SHARED_VA, 0, 0);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (several)
			__builtin_ia32_pause();
		else
			exo_call(EXO_SYS_YIELD, 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (range_sum() < 1000 * RANGE_PAGES && t.tv_sec - t0.tv_sec < 10);
	EXPECT(unmap ? "range-unmap-child-writes" : "range-protect-child-writes",
	       range_sum() >= 1000 * RANGE_PAGES);
	int64_t r = unmap ? call(EXO_SYS_PAGE_UNMAP, env, SHARED_VA, RANGE_PAGES, 0, 0) :
			    call(EXO_SYS_PAGE_PROTECT, env, SHARED_VA, EXO_PROT_READ, RANGE_PAGES, 0);
	uint64_t at_return = range_sum();
	EXPECT(unmap ? "range-unmap-call" : "range-protect-call", r == 0);
	int64_t st = child_wait(env, 5000000000ull);
	EXPECT(unmap ? "range-unmap-child-faults" : "range-protect-child-faults",
	       st == EXO_STATUS_SIGNALED(11));
	EXPECT(unmap ? "range-unmap-no-write-after-return" : "range-protect-no-write-after-return",
	       range_sum() == at_return);
	exo_call(EXO_SYS_THREAD_SET_AFFINITY, EXO_SLOT_SELF_THREAD, ~0ull);
	exo_call(EXO_SYS_CAP_DELETE, env);
	for (int i = 0; i < RANGE_PAGES; i++)
		call(EXO_SYS_PAGE_UNMAP, 0, SHARED_VA + i * 4096ull, 0, 0, 0);
	exo_call(EXO_SYS_CAP_DELETE, f);
}

/* Range arguments: refused ranges change nothing. */
static void range_arguments(void)
{
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 2);
	int64_t ro = exo_call(EXO_SYS_CAP_DERIVE, f, EXO_R_READ | EXO_R_GRANT, inspect(f).first + 1, 1);
	call(EXO_SYS_PAGE_MAP, 0, SHARED_VA, f, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	call(EXO_SYS_PAGE_MAP, 0, SHARED_VA + 4096, ro, 0, EXO_PROT_READ);
	EXPECT("range-too-long", call(EXO_SYS_PAGE_UNMAP, 0, SHARED_VA, EXO_PAGE_RANGE_MAX + 1, 0, 0) == E(EXO_EINVAL));
	EXPECT("range-past-user-top", call(EXO_SYS_PAGE_UNMAP, 0, 0x00007ffffffff000ull, 2, 0, 0) == E(EXO_EINVAL));
	EXPECT("range-nothing-mapped", call(EXO_SYS_PAGE_UNMAP, 0, SHARED_VA + 0x100000, 8, 0, 0) == E(EXO_ENOENT));
	/* the second page's cap has no write right: nothing changes */
	EXPECT("range-protect-refused", call(EXO_SYS_PAGE_PROTECT, 0, SHARED_VA, EXO_PROT_READ | EXO_PROT_WRITE, 2, 0) == E(EXO_EACCES));
	EXPECT("range-protect-read", call(EXO_SYS_PAGE_PROTECT, 0, SHARED_VA, EXO_PROT_READ, 2, 0) == 0);
	EXPECT("range-unmap-both", call(EXO_SYS_PAGE_UNMAP, 0, SHARED_VA, 4, 0, 0) == 0);
	EXPECT("range-unmap-gone", call(EXO_SYS_PAGE_UNMAP, 0, SHARED_VA, 0, 0, 0) == E(EXO_ENOENT) &&
				   call(EXO_SYS_PAGE_UNMAP, 0, SHARED_VA + 4096, 0, 0, 0) == E(EXO_ENOENT));
	exo_call(EXO_SYS_CAP_DELETE, ro);
	exo_call(EXO_SYS_CAP_DELETE, f);
}

static void ping_pong(void)
{
	int64_t thread, mine = exo_call0(EXO_SYS_NOTIFY_CREATE), theirs = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t t_in = exo_call(EXO_SYS_CAP_GRANT, theirs, env, EXO_R_READ);
	int64_t m_in = exo_call(EXO_SYS_CAP_GRANT, mine, env, EXO_R_WRITE);
	const uint64_t rounds = 2000;
	child_start(thread, body_pong, (uint64_t)t_in, (uint64_t)m_in, rounds);
	uint64_t ok = 0, t0 = __builtin_ia32_rdtsc();
	for (uint64_t i = 0; i < rounds; i++) {
		exo_call(EXO_SYS_NOTIFY_SIGNAL, theirs, 1);
		ok += exo_call(EXO_SYS_NOTIFY_WAIT, mine, 5000000000ull) == 1;
	}
	uint64_t t1 = __builtin_ia32_rdtsc();
	printf("info ping-pong: %llu TSC ticks per round trip (TCG: not a cycle count)\n",
	       (unsigned long long)((t1 - t0) / rounds));
	EXPECT("ping-pong-rounds", ok == rounds);
	EXPECT("ping-pong-child-exit", child_wait(env, 5000000000ull) == EXO_STATUS_EXITED(0));
	exo_call(EXO_SYS_CAP_DELETE, env);
}

/* Directed yield: each YIELD_TO runs the target at once (it counts a step
 * and yields back); without it the target would wait for a time slice. */
static void directed_yield_and_enosys(void)
{
	int64_t thread;
	int64_t env = child_create(256, 0, &thread, NULL);
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	call(EXO_SYS_PAGE_MAP, 0, SHARED_VA, f, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	call(EXO_SYS_PAGE_MAP, env, SHARED_VA, f, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	volatile uint64_t *p = (volatile uint64_t *)SHARED_VA;
	p[0] = 0;
	/* on several CPUs, both on CPU 0: a directed yield hands over only
	 * the caller's CPU (YIELD_TO returns 0 and does nothing when the
	 * target may not run there), and a target running on another CPU
	 * would count (or stall, on a loaded host) on its own.  CPU 0 always
	 * runs; this thread moves there as the call returns, with no window
	 * (pinning to the CPU RDTSCP named, as before, depended on RDTSCP) */
	exo_call(EXO_SYS_THREAD_SET_AFFINITY, EXO_SLOT_SELF_THREAD, 1);
	exo_call(EXO_SYS_THREAD_SET_AFFINITY, thread, 1);
	child_start(thread, body_step, SHARED_VA, 0, 0);
	const volatile struct exo_kinfo *k = (const volatile struct exo_kinfo *)EXO_KINFO_VA;
	uint64_t before = p[0], t0 = exo_kinfo_now_ns(k);
	int ok = 0;
	for (int i = 0; i < 100; i++)
		ok += exo_call(EXO_SYS_YIELD_TO, thread) == 0;
	uint64_t steps = p[0] - before, slices = (exo_kinfo_now_ns(k) - t0) / 20000000ull;
	exo_call(EXO_SYS_THREAD_SET_AFFINITY, EXO_SLOT_SELF_THREAD, ~0ull);
	/* a directed yield is one step, unless the target's 20 ms slice ends
	 * before it counts (the vCPU stalled on a loaded host, guest time
	 * went on): preempted after the return to user mode and before its
	 * increment, it gives the CPU back having counted nothing.  That
	 * takes a whole slice of the loop's time each, so the loop may lose
	 * one step per 20 ms it took, never more */
	if (ok != 100 || steps < 100)
		printf("info yield-to: %d of 100 calls returned 0, the target counted %llu steps in %llu slices' time\n",
		       ok, (unsigned long long)steps, (unsigned long long)slices);
	EXPECT("yield-to-runs-target", ok == 100 && steps + slices >= 100);
	EXPECT("yield-to-bad-slot", exo_call(EXO_SYS_YIELD_TO, 400) == E(EXO_EBADF));
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, f);

	int64_t n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env2 = child_create(256, 0, &thread, NULL);
	int64_t n_in = exo_call(EXO_SYS_CAP_GRANT, n, env2, EXO_R_WRITE);
	child_start(thread, body_linux_call, (uint64_t)n_in, 0, 0);
	EXPECT("linux-call-without-personality-enosys",
	       exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull) == EXO_ENOSYS + 1);
	child_destroy(env2);

	/* a timeout so long that now + timeout would wrap: it must block until
	 * the signal, not time out at once */
	int64_t env3 = child_create(256, 0, &thread, NULL);
	n_in = exo_call(EXO_SYS_CAP_GRANT, n, env3, EXO_R_WRITE);
	child_start(thread, body_late_signal, (uint64_t)n_in, 0, 0);
	EXPECT("wait-huge-timeout-blocks-until-signal", exo_call(EXO_SYS_NOTIFY_WAIT, n, UINT64_MAX - 5) == 4);
	child_destroy(env3);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static void preemption_and_quota(void)
{
	int64_t thread;
	int64_t env = child_create(256, 0, &thread, NULL);
	child_start(thread, body_spin, 0, 0, 0);
	int64_t n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	uint64_t t0 = __builtin_ia32_rdtsc();
	int64_t r = exo_call(EXO_SYS_NOTIFY_WAIT, n, 50000000);	/* 50 ms */
	EXPECT("spinner-does-not-stop-others", r == E(EXO_ETIMEDOUT) && __builtin_ia32_rdtsc() > t0);
	int64_t more = 0;
	for (int i = 0; i < 100; i++)
		more += exo_call(EXO_SYS_YIELD, 0) == 0;
	EXPECT("yield-with-spinner", more == 100);
	/* threads until the quota says no; the kernel stays fine */
	int64_t made = 0, last = 0;
	for (int i = 0; i < 100 && (last = exo_call(EXO_SYS_THREAD_CREATE, env)) >= 0; i++)
		made++;
	EXPECT("quota-stops-threads", last == E(EXO_ENOMEM) && made > 0);
	EXPECT("kill-spinner", exo_call(EXO_SYS_ENV_KILL, env, 9) == 0 && exo_call(EXO_SYS_ENV_STATUS, env) == 9);
	uint64_t before = inspect(child_memory_slot).count;
	for (int s = 8; s < 512; s++) {
		struct exo_cap_info i = inspect(s);
		if (i.type == EXO_CAP_THREAD && s != thread)
			exo_call(EXO_SYS_CAP_DELETE, s);
	}
	exo_call(EXO_SYS_CAP_DELETE, thread);
	exo_call(EXO_SYS_CAP_DELETE, env);
	EXPECT("quota-returned", inspect(child_memory_slot).count == before + 256);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static inline void port_out(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }

/* A real interrupt through an IRQ cap: COM2's transmitter-empty interrupt
 * (IRQ 3) fires as soon as it is enabled, while the THR is empty.  The
 * library OS has enabled COM2's ports (stdout goes there). */
static void irq_delivery(void)
{
	int64_t n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t irq = exo_call(EXO_SYS_CAP_DERIVE, 8 + 3, EXO_R_ALL, 3, 1);
	EXPECT("irq-derive", irq >= 0);
	EXPECT("irq-bind", exo_call(EXO_SYS_IRQ_BIND, irq, n, 0x40) == 0);
	EXPECT("irq-bind-twice-busy", exo_call(EXO_SYS_IRQ_BIND, 8 + 3, n, 0x40) == E(EXO_EBUSY));
	port_out(0x2f8 + 1, 0x02);				/* IER: THR empty */
	EXPECT("irq-delivered", exo_call(EXO_SYS_NOTIFY_WAIT, n, 2000000000ull) == 0x40);
	EXPECT("irq-masked-until-ack", exo_call(EXO_SYS_NOTIFY_WAIT, n, 50000000ull) == E(EXO_ETIMEDOUT));
	port_out(0x2f8 + 1, 0x00);
	EXPECT("irq-ack", exo_call(EXO_SYS_IRQ_ACK, irq) == 0);
	port_out(0x2f8 + 1, 0x02);	/* a new edge (one arriving while masked is lost) */
	EXPECT("irq-delivered-again", exo_call(EXO_SYS_NOTIFY_WAIT, n, 2000000000ull) == 0x40);
	port_out(0x2f8 + 1, 0x00);
	EXPECT("irq-unbind-on-delete", exo_call(EXO_SYS_CAP_DELETE, irq) == 0 &&
	       exo_call(EXO_SYS_IRQ_BIND, 8 + 3, n, 1) == 0 && exo_call(EXO_SYS_CAP_REVOKE, 8 + 3) == 0);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

int main(void)
{
	root_caps();
	derive_and_rights();
	bad_arguments();
	memory_draw();
	isolation();
	share_and_revoke();
	revoke_reaches_other_env();
	range_calls(0);
	range_calls(1);
	range_arguments();
	ping_pong();
	directed_yield_and_enosys();
	preemption_and_quota();
	irq_delivery();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
