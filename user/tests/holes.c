/*
 * Regression programs for the isolation holes an attacker found in the
 * kernel (issue 9).  Each check performs the attack the way it was done,
 * with short deliberate sequences of native calls, and fails while the hole
 * is open:
 *   freed-while-mapped   frames freed while a sibling copy still maps them
 *   last-user-page       a syscall at the top of user space returning to a
 *                        non-canonical address (SYSRET #GP in ring 0)
 *   pci-config-ports     port access to PCI configuration space (DMA escape)
 *   ports-per-env        another env's ports left allowed in the TSS bitmap
 *                        after a switch (the switch copies only the part of
 *                        an env's bitmap that allows ports)
 *   kinfo-read-only      the shared kernel-info page made writable
 *   gs-base              GS base leaking from one env to the next
 *   fault-fs-base        the fault frame's FS base stale after wrfsbase
 *   console-cap          kernel log lines forged without a capability
 *   env-cycle            envs holding caps to each other never reaped
 *   irq-alias            IRQ lines 16-23 aliasing PIC lines 8-15 without an
 *                        IOAPIC (run with the argument "pic" on a CPU without
 *                        an APIC)
 */
#include "check.h"
#include "exo.h"

#include <stdint.h>

#define E(x) (-(int64_t)(x))
#define TOP_PAGE (EXO_USER_MAP_END - 4096)	/* the highest page that may be mapped */

static struct exo_cap_info inspect(int64_t slot)
{
	struct exo_cap_info i;
	memset(&i, 0, sizeof i);
	exo_call(EXO_SYS_CAP_INSPECT, slot, &i);
	return i;
}

static inline uint64_t rd_gsbase(void) { uint64_t v; __asm__ volatile("rdgsbase %0" : "=r"(v)); return v; }
static inline void wr_gsbase(uint64_t v) { __asm__ volatile("wrgsbase %0" :: "r"(v)); }
static inline void wr_fsbase(uint64_t v) { __asm__ volatile("wrfsbase %0" :: "r"(v)); }

/* ------------------------------------------------ bodies for child envs */

#define PATTERN 0x5a5aa5a55a5aa5a5ull
#define ATTACK_VA 0x0000500000000000ull

/*
 * The five-call exploit: two copies b and c of a fresh 64-page frame cap f,
 * b mapped; delete f, then c; then make the kernel allocate (threads: kernel
 * stacks and XSAVE areas).  Reports bit 0 when a page b maps changed under
 * us (the kernel reused a frame we still map), bit 1 when the budget did not
 * come back whole once b went too, bit 3 always (done).
 */
static void body_freed_while_mapped(uint64_t notify, uint64_t mem, uint64_t unused)
{
	(void)unused;
	struct exo_cap_info mi, fi;
	uint64_t bits = 8;

	exo_call(EXO_SYS_CAP_INSPECT, mem, &mi);
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, mem, 64);
	exo_call(EXO_SYS_CAP_INSPECT, f, &fi);
	int64_t b = exo_call(EXO_SYS_CAP_DERIVE, f, EXO_R_ALL, fi.first, 64);
	int64_t c = exo_call(EXO_SYS_CAP_DERIVE, f, EXO_R_ALL, fi.first, 64);
	if (f < 0 || b < 0 || c < 0)
		exo_call(EXO_SYS_EXIT, 2);
	volatile uint64_t *p = (volatile uint64_t *)ATTACK_VA;
	for (uint64_t i = 0; i < 64; i++)
		if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, ATTACK_VA + i * 4096, b, i,
			     EXO_PROT_READ | EXO_PROT_WRITE))
			exo_call(EXO_SYS_EXIT, 3);
	for (uint64_t i = 0; i < 64 * 512; i++)
		p[i] = PATTERN;
	exo_call(EXO_SYS_CAP_DELETE, f);
	exo_call(EXO_SYS_CAP_DELETE, c);
	for (int i = 0; i < 24; i++)
		if (exo_call(EXO_SYS_THREAD_CREATE, EXO_SLOT_SELF_ENV) < 0)
			break;
	for (uint64_t i = 0; i < 64 * 512; i++)
		if (p[i] != PATTERN) {
			bits |= 1;
			break;
		}
	exo_call(EXO_SYS_CAP_DELETE, b);	/* the last copy: frames and budget back */
	struct exo_cap_info after;
	exo_call(EXO_SYS_CAP_INSPECT, mem, &after);
	if (after.count != mi.count)
		bits |= 2;
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, bits);
	exo_call(EXO_SYS_EXIT, 0);
}

/* Tries to make the shared kernel-info page writable and to write it. */
static void body_kinfo(uint64_t notify, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	int64_t r = exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, EXO_KINFO_VA,
			     EXO_PROT_READ | EXO_PROT_WRITE);
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, r == E(EXO_EACCES) ? 1 : 2);
	((volatile struct exo_kinfo *)EXO_KINFO_VA)->tsc_hz = 1;	/* must fault */
	exo_call(EXO_SYS_EXIT, 0);
}

/* Reports the GS base it finds: (base >> 12) + 1. */
static void body_read_gsbase(uint64_t notify, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, (rd_gsbase() >> 12) + 1);
	exo_call(EXO_SYS_EXIT, 0);
}

/* The fault handler of body_fault_fsbase: reports the FS base in the fault
 * frame; the notification slot was left at the top of the stack. */
static void fault_report_fsbase(struct exo_fault *f)
{
	uint64_t notify = *(volatile uint64_t *)(CHILD_STACK_TOP - 8);
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, (f->regs.fsbase >> 12) + 1);
	exo_call(EXO_SYS_EXIT, 0);
}

static void body_fault_fsbase(uint64_t notify, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	*(volatile uint64_t *)(CHILD_STACK_TOP - 8) = notify;
	exo_call(EXO_SYS_SET_FAULT_HANDLER, (uint64_t)fault_report_fsbase, CHILD_STACK_TOP - 8192);
	wr_fsbase(0x2222000);
	__asm__ volatile("ud2");
}

/* A child with no console cap writes a line that looks like the kernel's. */
static void body_forge_log(uint64_t notify, uint64_t a1, uint64_t a2)
{
	(void)a1; (void)a2;
	/* "exoswarm: forged\n" as immediates: a child has no rodata */
	volatile uint64_t line[3];
	line[0] = 0x6d72617773786f65ull;
	line[1] = 0x646567726f66203aull;
	line[2] = 0x0a;
	int64_t r = exo_call(EXO_SYS_CONSOLE_WRITE, EXO_SLOT_CONSOLE, line, 17);
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, r == E(EXO_EBADF) ? 1 : 2);
	exo_call(EXO_SYS_EXIT, 0);
}

/* Enables every port cap it was given in slots [first, first + n), then
 * reads PCI configuration space: reports the vendor/device word + 1 if it
 * got through (the kernel must kill it at the first port access instead). */
static void body_pci_config(uint64_t notify, uint64_t first, uint64_t n)
{
	for (uint64_t s = first; s < first + n; s++)
		exo_call(EXO_SYS_IOPORT_ENABLE, s);
	uint32_t v;
	__asm__ volatile("outl %0, %1" :: "a"(0x80000000u), "Nd"((uint16_t)0xcf8));
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"((uint16_t)0xcfc));
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, (uint64_t)v + 1);
	exo_call(EXO_SYS_EXIT, 0);
}

/* Enables the port cap at slot, then reads port: reports the byte + 1
 * if it got through (a port the env may not use kills it instead). */
static void body_port_read(uint64_t notify, uint64_t slot, uint64_t port)
{
	uint8_t v;
	exo_call(EXO_SYS_IOPORT_ENABLE, slot);
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"((uint16_t)port));
	exo_call(EXO_SYS_NOTIFY_SIGNAL, notify, (uint64_t)v + 1);
	exo_call(EXO_SYS_EXIT, 0);
}

/* ------------------------------------------------------------- checks */

/* A child env able to run one body, with notify granted into it. */
static int64_t child_with_notify(int64_t n, int64_t *thread, int64_t *n_in_child)
{
	int64_t env = child_create(256, 0, thread, NULL);
	*n_in_child = env >= 0 ? exo_call(EXO_SYS_CAP_GRANT, n, env, EXO_R_WRITE) : -1;
	return env;
}

static void freed_while_mapped(void)
{
	int64_t thread, mem = -1, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_create(256, 64, &thread, &mem);
	int64_t nn = exo_call(EXO_SYS_CAP_GRANT, n, env, EXO_R_WRITE);
	EXPECT("freed-while-mapped-setup", env >= 0 && mem >= 0 && nn >= 0);
	child_start(thread, body_freed_while_mapped, (uint64_t)nn, (uint64_t)mem, 0);
	int64_t bits = exo_call(EXO_SYS_NOTIFY_WAIT, n, 20000000000ull);
	EXPECT("freed-while-mapped-ran", bits > 0 && (bits & 8));
	EXPECT("freed-while-mapped-frames-kept", bits > 0 && !(bits & 1));
	EXPECT("freed-while-mapped-budget-back", bits > 0 && !(bits & 2));
	EXPECT("freed-while-mapped-child-exited", child_wait(env, 5000000000ull) == EXO_STATUS_EXITED(0));
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static void last_user_page(void)
{
	int64_t f = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	EXPECT("last-user-page-unmappable",
	       exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, EXO_USER_MAP_END, f, 0, EXO_PROT_READ) == E(EXO_EINVAL));
	/* the page below may be mapped: a child runs `syscall` in its last two
	 * bytes; the return lands on the unmapped first byte of the top page
	 * and the child dies of SIGSEGV, the kernel unharmed */
	int64_t thread, code = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	int64_t env = child_create(256, 0, &thread, NULL);
	uint64_t window = 0x0000580000000000ull;
	exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, window, code, 0, EXO_PROT_READ | EXO_PROT_WRITE);
	((volatile uint8_t *)window)[4094] = 0x0f;
	((volatile uint8_t *)window)[4095] = 0x05;
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, window);
	EXPECT("below-top-page-mappable",
	       exo_call(EXO_SYS_PAGE_MAP, env, TOP_PAGE, code, 0, EXO_PROT_READ | EXO_PROT_EXEC) == 0);
	struct exo_regs r;
	memset(&r, 0, sizeof r);
	r.rip = TOP_PAGE + 4094;
	r.rax = EXO_SYS_NULL;
	r.rsp = CHILD_STACK_TOP - 8;
	r.rflags = 0x202;
	exo_call(EXO_SYS_THREAD_SET_REGS, thread, &r);
	exo_call(EXO_SYS_THREAD_START, thread);
	EXPECT("syscall-at-top-killed-not-kernel", child_wait(env, 5000000000ull) == EXO_STATUS_SIGNALED(11));
	r.rip = EXO_USER_TOP;
	EXPECT("thread-rip-non-canonical-refused", exo_call(EXO_SYS_THREAD_SET_REGS, thread, &r) == E(EXO_EINVAL) ||
						   exo_call(EXO_SYS_THREAD_SET_REGS, thread, &r) == E(EXO_ESRCH));
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, code);
	exo_call(EXO_SYS_CAP_DELETE, f);
}

static void pci_config_ports(void)
{
	const struct exo_start *st = (const struct exo_start *)EXO_START_VA;
	int covered = 0, derived = 0;

	/* no slot of ours reaches the configuration ports, whatever we try */
	for (int64_t s = 0; s < 512; s++) {
		struct exo_cap_info i = inspect(s);
		if (i.type != EXO_CAP_IOPORT)
			continue;
		if (i.first < 0xd00 && i.first + i.count > 0xcf8)
			covered++;
		int64_t d = exo_call(EXO_SYS_CAP_DERIVE, s, EXO_R_READ | EXO_R_WRITE, 0xcf8, 8);
		if (d >= 0) {
			derived++;
			exo_call(EXO_SYS_CAP_DELETE, d);
		}
	}
	EXPECT("pci-config-ports-not-granted", covered == 0);
	EXPECT("pci-config-ports-not-derivable", derived == 0);
	EXPECT("legacy-port-caps-listed", st->ioport_count >= 2);

	/* a child given every port cap we hold still cannot reach them */
	int64_t thread, nn, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_with_notify(n, &thread, &nn);
	int64_t first = -1, given = 0;
	for (int64_t s = 0; s < 512; s++)
		if (inspect(s).type == EXO_CAP_IOPORT) {
			int64_t g = exo_call(EXO_SYS_CAP_GRANT, s, env, EXO_R_READ | EXO_R_WRITE);
			if (g >= 0 && first < 0)
				first = g;
			given += g >= 0;
		}
	/* grants landed in consecutive free slots of the fresh child */
	child_start(thread, body_pci_config, (uint64_t)nn, (uint64_t)first, (uint64_t)given);
	int64_t st2 = child_wait(env, 5000000000ull);
	int64_t got = exo_call(EXO_SYS_NOTIFY_POLL, n);
	EXPECT("pci-config-port-access-killed", st2 == EXO_STATUS_SIGNALED(11) && got == 0);
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

/* We enable our first legacy port cap; a child given only the second
 * reads that one's port, and is killed reading ours, though the TSS
 * bitmap held ours until the child ran. */
static void ports_per_env(void)
{
	const struct exo_start *st = (const struct exo_start *)EXO_START_VA;
	if (st->ioport_count < 2)
		return;				/* legacy-port-caps-listed fails then */
	int64_t ours = (int64_t)st->ioport_slot_first, theirs = ours + 1;
	uint64_t our_port = inspect(ours).first, their_port = inspect(theirs).first;
	EXPECT("ports-per-env-setup", exo_call(EXO_SYS_IOPORT_ENABLE, ours) == 0 && our_port / 8 != their_port / 8);
	for (int own = 1; own >= 0; own--) {
		int64_t thread, nn, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
		int64_t env = child_with_notify(n, &thread, &nn);
		int64_t g = exo_call(EXO_SYS_CAP_GRANT, theirs, env, EXO_R_READ | EXO_R_WRITE);
		child_start(thread, body_port_read, (uint64_t)nn, (uint64_t)g, own ? their_port : our_port);
		int64_t status = child_wait(env, 5000000000ull);
		int64_t got = exo_call(EXO_SYS_NOTIFY_POLL, n);
		if (own)
			EXPECT("ports-per-env-own-port-readable", status == 0 && got != 0);
		else
			EXPECT("ports-per-env-other-port-killed", status == EXO_STATUS_SIGNALED(11) && got == 0);
		child_destroy(env);
		exo_call(EXO_SYS_CAP_DELETE, n);
	}
}

static void kinfo_read_only(void)
{
	volatile const struct exo_kinfo *k = (const struct exo_kinfo *)EXO_KINFO_VA;
	uint64_t hz = k->tsc_hz;

	EXPECT("kinfo-protect-refused", exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, EXO_KINFO_VA,
						 EXO_PROT_READ | EXO_PROT_WRITE) == E(EXO_EACCES));
	EXPECT("start-protect-refused", exo_call(EXO_SYS_PAGE_PROTECT, EXO_SLOT_SELF_ENV, EXO_START_VA,
						 EXO_PROT_READ | EXO_PROT_WRITE) == E(EXO_EACCES));
	int64_t thread, nn, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_with_notify(n, &thread, &nn);
	child_start(thread, body_kinfo, (uint64_t)nn, 0, 0);
	EXPECT("kinfo-protect-refused-in-child", exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull) == 1);
	EXPECT("kinfo-write-killed", child_wait(env, 5000000000ull) == EXO_STATUS_SIGNALED(11));
	/* the kernel itself may refine tsc_hz meanwhile (clock_seq): only
	 * the child's 1 must not be there */
	EXPECT("kinfo-unchanged", k->tsc_hz != 1 && hz != 1);
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static int have_fsgsbase(void)
{
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
	return b & 1;
}

static void gs_and_fs_base(void)
{
	/* the test VM's CPU model has FSGSBASE, and the kernel enables it */
	EXPECT("fsgsbase-available", have_fsgsbase());
	if (!have_fsgsbase())
		return;
	int64_t thread, nn, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	/* the library OS keeps its thread block in GS base: native calls
	 * only until it is back */
	uint64_t libos_gs = rd_gsbase();
	wr_gsbase(0x1111000);
	int64_t env = child_with_notify(n, &thread, &nn);
	child_start(thread, body_read_gsbase, (uint64_t)nn, 0, 0);
	int64_t seen = exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull);
	int kept = rd_gsbase() == 0x1111000;
	wr_gsbase(libos_gs);
	EXPECT("gs-base-not-leaked", seen == 1);
	EXPECT("gs-base-kept", kept);
	child_wait(env, 5000000000ull);
	child_destroy(env);

	env = child_with_notify(n, &thread, &nn);
	child_start(thread, body_fault_fsbase, (uint64_t)nn, 0, 0);
	seen = exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull);
	EXPECT("fault-frame-fs-base-current", seen == (0x2222000 >> 12) + 1);
	child_wait(env, 5000000000ull);
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

static void console_cap(void)
{
	int64_t thread, nn, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t env = child_with_notify(n, &thread, &nn);
	child_start(thread, body_forge_log, (uint64_t)nn, 0, 0);
	EXPECT("console-write-needs-cap", exo_call(EXO_SYS_NOTIFY_WAIT, n, 5000000000ull) == 1);
	child_wait(env, 5000000000ull);
	child_destroy(env);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

/* Two envs that hold caps to each other, and nothing else holds them:
 * both must end, and their quotas come back. */
static void env_cycle(void)
{
	int64_t ta, tb, n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t a = child_create(256, 0, &ta, NULL);
	int64_t b = child_create(256, 0, &tb, NULL);
	if (!child_memory_slot || a < 0 || b < 0) {
		EXPECT("env-cycle-setup", 0);
		return;
	}
	uint64_t before = inspect(child_memory_slot).count + 2 * 256;
	EXPECT("env-cycle-grants", exo_call(EXO_SYS_CAP_GRANT, a, b, EXO_R_CONTROL) >= 0 &&
				    exo_call(EXO_SYS_CAP_GRANT, b, a, EXO_R_CONTROL) >= 0);
	exo_call(EXO_SYS_ENV_WATCH, a, n, 1);
	exo_call(EXO_SYS_ENV_WATCH, b, n, 2);
	exo_call(EXO_SYS_CAP_DELETE, a);
	exo_call(EXO_SYS_CAP_DELETE, b);
	uint64_t seen = 0;
	for (int i = 0; i < 2 && seen != 3; i++) {
		int64_t r = exo_call(EXO_SYS_NOTIFY_WAIT, n, 2000000000ull);
		if (r > 0)
			seen |= (uint64_t)r;
	}
	EXPECT("env-cycle-both-ended", seen == 3);
	/* our thread and stack caps for them are all that is left */
	int64_t slots[4] = { ta, tb, child_slots[a].stack, child_slots[b].stack };
	for (int i = 0; i < 4; i++)
		exo_call(EXO_SYS_CAP_DELETE, slots[i]);
	memset(&child_slots[a], 0, sizeof child_slots[a]);
	memset(&child_slots[b], 0, sizeof child_slots[b]);
	EXPECT("env-cycle-quota-returned", inspect(child_memory_slot).count == before + 2 * CHILD_STACK_PAGES);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

/* Without an IOAPIC, line 16 + n would be routed to PIC line 8 + n (the
 * real-time clock, the FPU, the disks...): refused.  With one, it binds. */
static void irq_alias(int pic)
{
	int64_t n = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int64_t r = exo_call(EXO_SYS_IRQ_BIND, EXO_SLOT_FIRST_FREE + 16, n, 1);
	if (pic)
		EXPECT("irq-16-refused-without-ioapic", r == E(EXO_EINVAL));
	else
		EXPECT("irq-16-binds-with-ioapic", r == 0);
	exo_call(EXO_SYS_CAP_REVOKE, EXO_SLOT_FIRST_FREE + 16);
	exo_call(EXO_SYS_CAP_DELETE, n);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "pic") == 0) {
		irq_alias(1);
		printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
		return failures ? 1 : 0;
	}
	irq_alias(0);
	freed_while_mapped();
	last_user_page();
	pci_config_ports();
	ports_per_env();
	kinfo_read_only();
	gs_and_fs_base();
	console_cap();
	env_cycle();
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
