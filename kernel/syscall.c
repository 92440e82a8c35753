/*
 * The native system calls and the reflection of Linux ones.  Every handler
 * first checks all of its arguments (slots, types, rights, ranges, user
 * pointers) and only then acts, so a call that fails changes nothing.
 */
#include "include/exo/abi.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/env.h"
#include "kernel/futex.h"
#include "kernel/heap.h"
#include "kernel/smp.h"
#include "kernel/random.h"
#include "kernel/ring.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"

void syscall_entry(void);

#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_SFMASK 0xc0000084
#define MSR_FS_BASE 0xc0000100

typedef int64_t (*syscall_fn)(struct trapframe *tf);
#define A0 (tf->rdi)
#define A1 (tf->rsi)
#define A2 (tf->rdx)
#define A3 (tf->r10)
#define A4 (tf->r8)
#define A5 (tf->r9)

static struct env *self(void) { return current->env; }

/* -EBADF for an empty slot, -EINVAL for a wrong type, -EACCES for missing rights. */
static int64_t cap_error(uint64_t slot, int type)
{
	struct cap *c = cap_get(self(), slot, EXO_CAP_NONE, 0);
	if (!c)
		return -EXO_EBADF;
	return c->type != type ? -EXO_EINVAL : -EXO_EACCES;
}

/* A live env named by slot, with rights; NULL and *err otherwise. */
static struct env *env_arg(uint64_t slot, uint32_t rights, int64_t *err)
{
	struct cap *c = cap_get(self(), slot, EXO_CAP_ENV, rights);
	if (!c) {
		*err = cap_error(slot, EXO_CAP_ENV);
		return NULL;
	}
	struct env *e = c->obj;
	if (e->state == ENV_DEAD) {
		*err = -EXO_ESRCH;
		return NULL;
	}
	return e;
}

static int user_address(uint64_t va) { return va < EXO_USER_TOP; }
static int mappable_address(uint64_t va) { return va < EXO_USER_MAP_END; }

static int64_t sys_null(struct trapframe *tf) { (void)tf; return 0; }

static int64_t sys_cap_inspect(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NONE, 0);
	if (!c)
		return -EXO_EBADF;
	struct exo_cap_info info = { .type = c->type, .rights = c->rights, .first = c->first,
				     .count = c->type == EXO_CAP_MEMORY ? mem_source(c)->count : c->count };
	if (c->type == EXO_CAP_ENV) {
		info.object = ((struct env *)c->obj)->id;
		info.count = (uint64_t)((struct env *)c->obj)->nthreads_alive;
	}
	else if (c->type == EXO_CAP_THREAD)
		info.object = ((struct thread *)c->obj)->id;
	else if (c->type == EXO_CAP_FRAME)
		info.object = (uint64_t)cap_frames_shared(c);
	return copy_to_user(A1, &info, sizeof info);
}

static int64_t sys_cap_derive(struct trapframe *tf)
{
	uint64_t slot = A0, first = A2, count = A3;
	uint32_t rights = (uint32_t)A1;
	struct cap *c = cap_get(self(), slot, EXO_CAP_NONE, EXO_R_DERIVE);

	if (!c)
		return cap_get(self(), slot, EXO_CAP_NONE, 0) ? -EXO_EACCES : -EXO_EBADF;
	if (A1 > EXO_R_ALL || (rights & ~c->rights))
		return -EXO_EACCES;
	if (c->type == EXO_CAP_FRAME || c->type == EXO_CAP_IOPORT) {
		if (count == 0 || first < c->first || first - c->first > c->count ||
		    count > c->count - (first - c->first))
			return -EXO_EINVAL;
	} else if (c->type == EXO_CAP_MEMORY) {
		if (first > EXO_MEM_DRAW || (first == EXO_MEM_DRAW && count))
			return -EXO_EINVAL;
		if (count > mem_source(c)->count)
			return -EXO_ENOMEM;
	} else if (c->type == EXO_CAP_NIC || c->type == EXO_CAP_BLOCK) {
		int err = ring_derive_check(c, first, count);
		if (err)
			return err;
		if (c->type == EXO_CAP_NIC)
			count = 0;
	} else {
		first = c->first;
		count = c->count;
	}
	int s = cap_free_slot(self());
	if (s < 0)
		return s;
	void *obj = c->obj;
	if (c->type == EXO_CAP_NIC || c->type == EXO_CAP_BLOCK) {
		int err = 0;
		if (!(obj = ring_derive(self(), c, first, count, &err)))
			return err;
		if (c->type == EXO_CAP_NIC && first == 0)
			first = c->first;	/* a copy keeps the filter */
	}
	if (c->type == EXO_CAP_MEMORY)
		mem_source(c)->count -= count;	/* the budget moves to the child */
	cap_install(self(), s, c, c->type, rights, first, count, obj);
	return s;
}

static int64_t sys_cap_grant(struct trapframe *tf)
{
	int64_t err = 0;
	struct cap *c = cap_get(self(), A0, EXO_CAP_NONE, EXO_R_GRANT);
	if (!c)
		return cap_get(self(), A0, EXO_CAP_NONE, 0) ? -EXO_EACCES : -EXO_EBADF;
	struct env *to = env_arg(A1, EXO_R_CONTROL, &err);
	if (!to)
		return err;
	if (A2 > EXO_R_ALL || ((uint32_t)A2 & ~c->rights))
		return -EXO_EACCES;
	int s;
	if (A3) {			/* a chosen slot, plus one */
		if (A3 > CAP_SLOTS)
			return -EXO_EINVAL;
		if (to->caps[A3 - 1].type != EXO_CAP_NONE)
			return -EXO_EEXIST;
		s = (int)(A3 - 1);
	} else if ((s = cap_free_slot(to)) < 0) {
		return s;
	}
	uint64_t count = c->count;
	if (c->type == EXO_CAP_MEMORY && c->first == EXO_MEM_DRAW)
		count = 0;			/* the copy draws on this cap */
	else if (c->type == EXO_CAP_MEMORY)
		c->count = 0;			/* a memory budget moves whole */
	cap_install(to, s, c, c->type, (uint32_t)A2, c->first, count, c->obj);
	return s;
}

/* CAP_GRANT of the n caps in slots A0.. to the same-sized run of slots
 * A3 - 1.. of env A1, all or none: every source and destination is
 * checked before any cap moves.  A budget (MEMORY) moves only by
 * CAP_GRANT, one at a time.  fork grants the shared segment's chunks
 * with one call instead of one each. */
static int64_t sys_cap_grant_range(struct trapframe *tf)
{
	int64_t err = 0;
	uint64_t first = A0, dest = A3, n = A4;

	if (n == 0 || n > CAP_SLOTS || first >= CAP_SLOTS || n > CAP_SLOTS - first)
		return -EXO_EINVAL;
	struct env *to = env_arg(A1, EXO_R_CONTROL, &err);
	if (!to)
		return err;
	if (A2 > EXO_R_ALL)
		return -EXO_EACCES;
	if (dest == 0 || dest > CAP_SLOTS || n > CAP_SLOTS - (dest - 1))
		return -EXO_EINVAL;
	for (uint64_t i = 0; i < n; i++) {
		struct cap *c = cap_get(self(), first + i, EXO_CAP_NONE, 0);
		if (!c)
			return -EXO_EBADF;
		if (c->type == EXO_CAP_MEMORY)
			return -EXO_EINVAL;
		if (!(c->rights & EXO_R_GRANT) || ((uint32_t)A2 & ~c->rights))
			return -EXO_EACCES;
	}
	for (uint64_t i = 0; i < n; i++)
		if (to->caps[dest - 1 + i].type != EXO_CAP_NONE)
			return -EXO_EEXIST;
	for (uint64_t i = 0; i < n; i++) {
		struct cap *c = &self()->caps[first + i];
		cap_install(to, (int)(dest - 1 + i), c, c->type, (uint32_t)A2, c->first, c->count, c->obj);
	}
	return 0;
}

static int64_t sys_cap_revoke(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NONE, 0);
	if (!c)
		return -EXO_EBADF;
	cap_revoke(c);
	return 0;
}

static int64_t sys_cap_delete(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NONE, 0);
	if (!c)
		return -EXO_EBADF;
	cap_delete(c);
	return 0;
}

/* The caller's used slots as a bitmap (bit i of word i / 64: slot i), so
 * execve finds the caps to delete with one call instead of a CAP_INSPECT
 * per slot; the number of slots in use. */
static int64_t sys_cap_list(struct trapframe *tf)
{
	uint64_t used[CAP_SLOTS / 64] = { 0 };
	int64_t n = 0;

	for (int i = 0; i < self()->cap_top; i++)
		if (self()->caps[i].type != EXO_CAP_NONE) {
			used[i / 64] |= 1ull << (i % 64);
			n++;
		}
	if (copy_to_user(A0, used, sizeof used))
		return -EXO_EFAULT;
	return n;
}

/* CAP_DELETE of each of n slots of the caller, in one entry: every slot is
 * checked (in range, used, named once) before any cap goes.  The list is
 * read into a buffer that the kernel lock guards. */
static int64_t sys_cap_delete_list(struct trapframe *tf)
{
	static uint64_t slots[CAP_SLOTS];
	uint64_t seen[CAP_SLOTS / 64] = { 0 }, n = A1;

	if (n > CAP_SLOTS)
		return -EXO_EINVAL;
	if (copy_from_user(slots, A0, n * sizeof slots[0]))
		return -EXO_EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		if (!cap_get(self(), slots[i], EXO_CAP_NONE, 0))
			return -EXO_EBADF;
		if (seen[slots[i] / 64] & (1ull << (slots[i] % 64)))
			return -EXO_EINVAL;
		seen[slots[i] / 64] |= 1ull << (slots[i] % 64);
	}
	for (uint64_t i = 0; i < n; i++) {
		struct cap *c = &self()->caps[slots[i]];
		if (c->type != EXO_CAP_NONE)	/* no delete empties another slot; checked anyway */
			cap_delete(c);
	}
	return 0;
}

/* The MEMORY cap in slot with room for pages (1..512) and a free slot
 * for the FRAME cap: the cap, or NULL and *err. */
static struct cap *mem_alloc_check(uint64_t slot, uint64_t pages, int *s, int64_t *err)
{
	struct cap *m = cap_get(self(), slot, EXO_CAP_MEMORY, 0);

	if (!m)
		*err = cap_error(slot, EXO_CAP_MEMORY);
	else if (pages == 0 || pages > 512)
		*err = -EXO_EINVAL;
	else if (pages > mem_source(m)->count)
		*err = -EXO_ENOMEM;
	else if ((*s = cap_free_slot(self())) < 0)
		*err = *s;
	else
		return m;
	return NULL;
}

/* Contiguous frames for pages, their contents not yet set: 0 when none. */
static uint64_t frames_take(uint64_t pages)
{
	return pages == 1 ? frame_alloc(&kframes) : frame_alloc_contig(&kframes, pages, UINT64_MAX);
}

/* Charges m for the frames at pa and installs their FRAME cap in slot s. */
static int64_t frames_install(struct cap *m, int s, uint64_t pa, uint64_t pages)
{
	mem_source(m)->count -= pages;
	struct cap *f = cap_install(self(), s, m, EXO_CAP_FRAME,
				    m->rights | EXO_R_READ | EXO_R_WRITE | EXO_R_EXEC | EXO_R_GRANT | EXO_R_DERIVE,
				    pa / PAGE_SIZE, pages, NULL);
	cap_count_frames(f);
	return s;
}

static int64_t sys_mem_alloc(struct trapframe *tf)
{
	int64_t err = 0;
	int s = 0;
	struct cap *m = mem_alloc_check(A0, A1, &s, &err);

	if (!m)
		return err;
	uint64_t pa = frames_take(A1);
	if (!pa)
		return -EXO_ENOMEM;
	memset(phys_to_virt(pa), 0, A1 * PAGE_SIZE);	/* never leak old contents */
	return frames_install(m, s, pa, A1);
}

/* The error for a FRAME cap of holder in slot that lacks the rights asked:
 * -EBADF (empty), -EINVAL (another type) or -EACCES. */
static int64_t frame_error(struct env *holder, uint64_t slot)
{
	return cap_get(holder, slot, EXO_CAP_NONE, 0) ?
		(cap_get(holder, slot, EXO_CAP_FRAME, 0) ? -EXO_EACCES : -EXO_EINVAL) : -EXO_EBADF;
}

/* Checks MEM_ALLOC_COPY's pieces for new frames of bytes bytes: each names
 * a FRAME cap of ours with READ, lies inside its range and inside the new
 * frames, after the piece before it.  0 or -errno. */
static int64_t copy_pieces_check(const struct exo_mem_copy *p, uint64_t n, uint64_t bytes)
{
	uint64_t end = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct cap *f = cap_get(self(), p[i].slot, EXO_CAP_FRAME, EXO_R_READ);
		if (!f)
			return frame_error(self(), p[i].slot);
		uint64_t size = f->count * PAGE_SIZE;
		if (p[i].length == 0 || p[i].offset > size || p[i].length > size - p[i].offset ||
		    p[i].dest < end || p[i].dest > bytes || p[i].length > bytes - p[i].dest)
			return -EXO_EINVAL;
		end = p[i].dest + p[i].length;
	}
	return 0;
}

/* Fills the frames at pa: each piece copied from its cap's frames, every
 * byte between and after them zeroed. */
static void copy_pieces(uint8_t *dst, const struct exo_mem_copy *p, uint64_t n, uint64_t bytes)
{
	uint64_t at = 0;

	for (uint64_t i = 0; i < n; i++) {
		struct cap *f = cap_get(self(), p[i].slot, EXO_CAP_FRAME, EXO_R_READ);
		memset(dst + at, 0, p[i].dest - at);
		memcpy(dst + p[i].dest, (uint8_t *)phys_to_virt(f->first * PAGE_SIZE) + p[i].offset, p[i].length);
		at = p[i].dest + p[i].length;
	}
	memset(dst + at, 0, bytes - at);
}

/* MEM_ALLOC whose frames come filled from frames the caller may read (an
 * executable's pages, for execve), so nothing is zeroed that is then
 * overwritten and the caller maps nothing to copy.  The pieces are copied
 * in and checked whole before any frame is taken. */
static int64_t sys_mem_alloc_copy(struct trapframe *tf)
{
	int64_t err = 0;
	int s = 0;
	uint64_t pages = A1, n = A3;
	struct cap *m = mem_alloc_check(A0, pages, &s, &err);

	if (!m)
		return err;
	if (n > EXO_MEM_COPY_MAX)
		return -EXO_EINVAL;
	struct exo_mem_copy *p = n ? kmalloc(n * sizeof *p) : NULL;
	if (n && !p)
		return -EXO_ENOMEM;
	if (n && copy_from_user(p, A2, n * sizeof *p))
		err = -EXO_EFAULT;
	if (!err)
		err = copy_pieces_check(p, n, pages * PAGE_SIZE);
	uint64_t pa = err ? 0 : frames_take(pages);
	if (!err && !pa)
		err = -EXO_ENOMEM;
	if (!err)
		copy_pieces(phys_to_virt(pa), p, n, pages * PAGE_SIZE);
	kfree(p);
	return err ? err : frames_install(m, s, pa, pages);
}

static uint32_t prot_rights(uint64_t prot)
{
	return EXO_R_READ | (prot & EXO_PROT_WRITE ? EXO_R_WRITE : 0) |
	       (prot & EXO_PROT_EXEC ? EXO_R_EXEC : 0);
}

/* Maps pages frames of a FRAME cap, index on, at va on (A5 pages, 0 for
 * one).  Every check comes first and covers the whole run: the cap (in
 * our table or, with EXO_MAP_TARGET_CAP, the target's) grants the rights
 * prot asks on every frame of the run, since a cap names one contiguous
 * range; a refused call maps nothing (env_map_run: nor one that runs
 * out of quota). */
static int64_t sys_page_map(struct trapframe *tf)
{
	int64_t err = 0;
	uint64_t va = A1, index = A3, prot = A4, pages = A5 ? A5 : 1;
	struct env *e = env_arg(A0, EXO_R_MAP, &err);

	if (!e)
		return err;
	struct env *holder = prot & EXO_MAP_TARGET_CAP ? e : self();
	prot &= ~(uint64_t)EXO_MAP_TARGET_CAP;
	if (va % PAGE_SIZE || !mappable_address(va) || prot > 7 || !(prot & EXO_PROT_READ) ||
	    ((prot & EXO_PROT_WRITE) && (prot & EXO_PROT_EXEC)) || pages > EXO_PAGE_RANGE_MAX ||
	    pages > (EXO_USER_MAP_END - va) / PAGE_SIZE)
		return -EXO_EINVAL;
	struct cap *f = cap_get(holder, A2, EXO_CAP_FRAME, prot_rights(prot));
	if (!f)
		return frame_error(holder, A2);
	if (index >= f->count || pages > f->count - index)
		return -EXO_EINVAL;
	return env_map_run(e, va, (f->first + index) * PAGE_SIZE, pages, (uint32_t)prot, f);
}

static int64_t sys_page_unmap(struct trapframe *tf)
{
	int64_t err = 0;
	struct env *e = env_arg(A0, EXO_R_MAP, &err);
	return e ? env_unmap(e, A1, A2 ? A2 : 1) : err;
}

static int64_t sys_page_protect(struct trapframe *tf)
{
	int64_t err = 0;
	struct env *e = env_arg(A0, EXO_R_MAP, &err);
	if (!e)
		return err;
	if (A2 > 7 || !(A2 & EXO_PROT_READ))
		return -EXO_EINVAL;
	return env_protect(e, A1, (uint32_t)A2, A3 ? A3 : 1);
}

int loader_map_kinfo(struct env *e);

static int64_t sys_env_create(struct trapframe *tf)
{
	struct cap *m = cap_get(self(), A0, EXO_CAP_MEMORY, 0);
	int err = 0;

	if (!m)
		return cap_error(A0, EXO_CAP_MEMORY);
	int s = cap_free_slot(self());
	if (s < 0)
		return s;
	struct env *e = env_create(mem_source(m), A1, &err);
	if (!e)
		return err;
	/* the new env knows itself (slot 0) and sees the kernel info page */
	cap_install(e, EXO_SLOT_SELF_ENV, NULL, EXO_CAP_ENV, EXO_R_ALL, 0, 0, e);
	err = loader_map_kinfo(e);
	cap_install(self(), s, NULL, EXO_CAP_ENV, EXO_R_ALL, 0, 0, e);
	if (err) {
		env_kill(e, EXO_STATUS_SIGNALED(9));
		cap_delete(&self()->caps[s]);
		return err;
	}
	return s;
}

static int64_t sys_env_kill(struct trapframe *tf)
{
	int64_t err = 0;
	struct env *e = env_arg(A0, EXO_R_CONTROL, &err);
	if (!e)
		return err;
	env_kill(e, A1 & 0xffff);
	return 0;
}

static int64_t sys_env_status(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_ENV, 0);
	if (!c)
		return cap_error(A0, EXO_CAP_ENV);
	struct env *e = c->obj;
	return e->state == ENV_DEAD ? (int64_t)e->status : -EXO_EAGAIN;
}

static int64_t sys_env_watch(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_ENV, EXO_R_CONTROL);
	struct cap *n = cap_get(self(), A1, EXO_CAP_NOTIFY, EXO_R_WRITE);
	if (!c)
		return cap_error(A0, EXO_CAP_ENV);
	if (!n)
		return cap_error(A1, EXO_CAP_NOTIFY);
	if (A2 == 0 || A2 >> 63)
		return -EXO_EINVAL;
	struct env *e = c->obj;
	if (e->state == ENV_DEAD) {
		notify_signal(n->obj, A2);
		return 0;
	}
	if (e->watch)
		notify_put(e->watch);
	e->watch = n->obj;
	e->watch->refs++;
	e->watch_badge = A2;
	return 0;
}

static int64_t sys_thread_create(struct trapframe *tf)
{
	int64_t err = 0;
	int e2 = 0;
	struct env *e = env_arg(A0, EXO_R_CONTROL, &err);
	if (!e)
		return err;
	int s = cap_free_slot(self());
	if (s < 0)
		return s;
	struct thread *t = thread_create(e, &e2);
	if (!t)
		return e2;
	cap_install(self(), s, NULL, EXO_CAP_THREAD, EXO_R_ALL, 0, 0, t);
	return s;
}

static int64_t sys_thread_set_regs(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_THREAD, EXO_R_CONTROL);
	struct exo_regs r;

	if (!c)
		return cap_error(A0, EXO_CAP_THREAD);
	struct thread *t = c->obj;
	if (t->state == T_DEAD)
		return -EXO_ESRCH;
	if (copy_from_user(&r, A1, sizeof r))
		return -EXO_EFAULT;
	if (!user_address(r.rip) || !user_address(r.rsp) || !user_address(r.fsbase))
		return -EXO_EINVAL;
	if (t->on_cpu >= 0 && t != current) {
		smp_set_regs(t, &r);	/* in user mode there: it must stop first */
		return 0;
	}
	/* anything but a new thread is inside a kernel entry (a wait, a
	 * preemption, this call) whose way out must not touch the frame */
	thread_apply_regs(t, &r, t->state == T_BLOCKED || t == current ||
			  (t->state == T_RUNNABLE && t->last_cpu >= 0));
	/* a thread blocked in a call leaves it at once for the new registers:
	 * left waiting, it would sit in a futex or notification queue taking
	 * wake-ups meant for others, and run the new code only whenever some
	 * wake-up came */
	if (t->state == T_BLOCKED && t != current)
		thread_wake(t, r.rax);
	return 0;
}

static int64_t sys_thread_set_affinity(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_THREAD, EXO_R_CONTROL);
	if (!c)
		return cap_error(A0, EXO_CAP_THREAD);
	struct thread *t = c->obj;
	if (t->state == T_DEAD)
		return -EXO_ESRCH;
	return thread_set_affinity(t, A1);
}

static int64_t sys_thread_start(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_THREAD, EXO_R_CONTROL);
	if (!c)
		return cap_error(A0, EXO_CAP_THREAD);
	struct thread *t = c->obj;
	if (t->state != T_NEW)
		return -EXO_EBUSY;
	thread_start(t);
	return 0;
}

/* Ends a thread of the caller's own env other than the caller: execve
 * ends the old image's threads with it (an env's other threads cannot be
 * reached through a cap some other env holds, and the caller uses EXIT to
 * end itself).  A thread running on another CPU has left user mode when
 * the call returns. */
static int64_t sys_thread_end(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_THREAD, EXO_R_CONTROL);
	if (!c)
		return cap_error(A0, EXO_CAP_THREAD);
	struct thread *t = c->obj;
	if (t->env != self())
		return -EXO_EPERM;
	if (t == current)
		return -EXO_EINVAL;
	if (t->state == T_DEAD)
		return -EXO_ESRCH;
	int cpu = t->on_cpu;
	thread_end(t);
	if (cpu >= 0 && cpu != this_cpu()->id)
		smp_stop_thread(t, cpu);
	return 0;
}

static int64_t sys_exit(struct trapframe *tf)
{
	env_kill(self(), EXO_STATUS_EXITED(A0));
	return 0;
}

static int64_t sys_yield(struct trapframe *tf)
{
	(void)tf;
	need_resched = 1;
	return 0;
}

static int64_t sys_yield_to(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_THREAD, 0);
	if (!c)
		return cap_error(A0, EXO_CAP_THREAD);
	struct thread *t = c->obj;
	if (t->state != T_RUNNABLE)
		return t->state == T_DEAD ? -EXO_ESRCH : -EXO_EAGAIN;
	tf->rax = 0;
	sched_yield_to(t);
	return 0;
}

static int64_t sys_notify_create(struct trapframe *tf)
{
	(void)tf;
	int s = cap_free_slot(self());
	if (s < 0)
		return s;
	struct notify *n = notify_create(self());
	if (!n)
		return -EXO_ENOMEM;
	cap_install(self(), s, NULL, EXO_CAP_NOTIFY,
		    EXO_R_READ | EXO_R_WRITE | EXO_R_GRANT | EXO_R_DERIVE, 0, 0, n);
	return s;
}

static int64_t sys_notify_signal(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NOTIFY, EXO_R_WRITE);
	if (!c)
		return cap_error(A0, EXO_CAP_NOTIFY);
	if (A1 == 0 || A1 >> 63)
		return -EXO_EINVAL;
	notify_signal(c->obj, A1);
	return 0;
}

static int64_t sys_notify_wait(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NOTIFY, EXO_R_READ);
	if (!c)
		return cap_error(A0, EXO_CAP_NOTIFY);
	struct notify *n = c->obj;
	if (n->bits) {
		uint64_t b = n->bits;
		n->bits = 0;
		return (int64_t)b;
	}
	if (A1 == 0)
		return -EXO_ETIMEDOUT;
	thread_block(n, deadline_after(A1));
	return (int64_t)current->wait_result;
}

static int64_t sys_notify_poll(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NOTIFY, EXO_R_READ);
	if (!c)
		return cap_error(A0, EXO_CAP_NOTIFY);
	struct notify *n = c->obj;
	uint64_t b = n->bits;
	n->bits = 0;
	return (int64_t)b;
}

static int64_t sys_futex_wait(struct trapframe *tf)
{
	if (A1 > UINT32_MAX)
		return -EXO_EINVAL;
	return futex_wait(A0, (uint32_t)A1, A2);
}

static int64_t sys_futex_wake(struct trapframe *tf)
{
	return futex_wake(self(), A0, A1);
}

static int64_t sys_irq_bind(struct trapframe *tf)
{
	struct cap *irq = cap_get(self(), A0, EXO_CAP_IRQ, EXO_R_CONTROL);
	struct cap *n = cap_get(self(), A1, EXO_CAP_NOTIFY, EXO_R_WRITE);
	if (!irq)
		return cap_error(A0, EXO_CAP_IRQ);
	if (!n)
		return cap_error(A1, EXO_CAP_NOTIFY);
	if (A2 == 0 || A2 >> 63)
		return -EXO_EINVAL;
	return irq_bind(irq, n->obj, A2);
}

static int64_t sys_irq_ack(struct trapframe *tf)
{
	struct cap *irq = cap_get(self(), A0, EXO_CAP_IRQ, EXO_R_CONTROL);
	return irq ? irq_ack(irq) : cap_error(A0, EXO_CAP_IRQ);
}

static int64_t sys_ioport_enable(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_IOPORT, EXO_R_READ | EXO_R_WRITE);
	if (!c)
		return cap_error(A0, EXO_CAP_IOPORT);
	return env_ioport_enable(self(), c->first, c->count);
}

static int64_t sys_set_fault_handler(struct trapframe *tf)
{
	uint64_t size = A2 ? A2 : EXO_FAULT_STACK_DEFAULT;
	if (!user_address(A0) || !user_address(A1) || A1 % 16 || size % 16 ||
	    size > EXO_FAULT_STACK_MAX)
		return -EXO_EINVAL;
	/* the handler is the env's; the stack is the calling thread's (two
	 * threads faulting at once on two CPUs need two), and the env's
	 * default for threads that never set one.  Its size tells a fault
	 * of the handler itself (nested below its frame) from any other */
	self()->fault_entry = A0;
	current->fault_stack = A1;
	current->fault_stack_size = size;
	if (!self()->fault_stack) {
		self()->fault_stack = A1;
		self()->fault_stack_size = size;
	}
	return 0;
}

static int64_t sys_set_personality(struct trapframe *tf)
{
	if (!user_address(A0) || A1 % 8 || !user_range_ok(A1, sizeof(struct exo_reflect)))
		return -EXO_EINVAL;
	current->personality = A0;
	current->reflect_slot = A1;
	return 0;
}

static int64_t sys_set_fsbase(struct trapframe *tf)
{
	if (!user_address(A0))
		return -EXO_EINVAL;
	current->fsbase = A0;
	wrmsr(MSR_FS_BASE, A0);
	return 0;
}

static int64_t sys_random(struct trapframe *tf)
{
	uint8_t buf[256];
	uint64_t len = A1;

	if (len > 4096)
		return -EXO_EINVAL;
	if (!user_range_ok(A0, len))
		return -EXO_EFAULT;
	for (uint64_t off = 0; off < len; off += sizeof buf) {
		uint64_t n = len - off < sizeof buf ? len - off : sizeof buf;
		random_bytes(buf, n);
		if (copy_to_user(A0 + off, buf, n))
			return -EXO_EFAULT;
	}
	memset(buf, 0, sizeof buf);
	return (int64_t)len;
}

static int64_t sys_console_write(struct trapframe *tf)
{
	char buf[256];
	uint64_t len = A2;

	if (!cap_get(self(), A0, EXO_CAP_CONSOLE, EXO_R_WRITE))
		return cap_error(A0, EXO_CAP_CONSOLE);
	if (len > 4096)
		return -EXO_EINVAL;
	if (!user_range_ok(A1, len))
		return -EXO_EFAULT;
	for (uint64_t off = 0; off < len; off += sizeof buf) {
		uint64_t n = len - off < sizeof buf ? len - off : sizeof buf;
		if (copy_from_user(buf, A1 + off, n))
			return -EXO_EFAULT;
		for (uint64_t i = 0; i < n; i++)
			console_putc(buf[i]);
	}
	return (int64_t)len;
}

/* Whether the user byte at va can be written: it is read and written back
 * unchanged (the kernel lock keeps the page where it is meanwhile). */
static int user_byte_writable(uint64_t va)
{
	uint8_t b;
	return copy_from_user(&b, va, 1) == 0 && copy_to_user(va, &b, 1) == 0;
}

static int64_t sys_console_read(struct trapframe *tf)
{
	uint8_t buf[256];
	size_t max = A2 < sizeof buf ? A2 : sizeof buf;

	if (!cap_get(self(), A0, EXO_CAP_CONSOLE, EXO_R_READ))
		return cap_error(A0, EXO_CAP_CONSOLE);
	if (A2 > 4096)
		return -EXO_EINVAL;
	if (!user_range_ok(A1, A2))
		return -EXO_EFAULT;
	/* one chunk of at most two pages, both checked before any typed byte
	 * leaves the ring, so none is lost to a fault */
	if (max && (!user_byte_writable(A1) || !user_byte_writable(A1 + max - 1)))
		return -EXO_EFAULT;
	size_t n = console_input_read(buf, max);
	if (n && copy_to_user(A1, buf, n))
		return -EXO_EFAULT;
	return (int64_t)n;
}

static int64_t sys_console_bind(struct trapframe *tf)
{
	if (!cap_get(self(), A0, EXO_CAP_CONSOLE, EXO_R_READ))
		return cap_error(A0, EXO_CAP_CONSOLE);
	if (A2 == 0) {
		console_input_bind(NULL, 0);
		return 0;
	}
	struct cap *n = cap_get(self(), A1, EXO_CAP_NOTIFY, EXO_R_WRITE);
	if (!n)
		return cap_error(A1, EXO_CAP_NOTIFY);
	if (A2 >> 63)
		return -EXO_EINVAL;
	console_input_bind(n->obj, A2);
	return 0;
}

static int64_t sys_clock_set(struct trapframe *tf)
{
	if (!cap_get(self(), A0, EXO_CAP_CLOCK, EXO_R_WRITE))
		return cap_error(A0, EXO_CAP_CLOCK);
	if (A1 < time_ns() || A1 >> 63)
		return -EXO_EINVAL;	/* before boot, or past year 2262 */
	time_set_realtime(A1);
	return 0;
}

static int64_t sys_nic_info(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NIC, 0);
	return c ? nic_info(c, A1) : cap_error(A0, EXO_CAP_NIC);
}

static int64_t sys_nic_post(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_NIC, 0);
	return c ? nic_post(self(), c, A1, A2) : cap_error(A0, EXO_CAP_NIC);
}

static int64_t sys_blk_info(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_BLOCK, 0);
	return c ? blk_info(c, A1) : cap_error(A0, EXO_CAP_BLOCK);
}

static int64_t sys_blk_submit(struct trapframe *tf)
{
	struct cap *c = cap_get(self(), A0, EXO_CAP_BLOCK, 0);
	return c ? blk_submit(self(), c, A1, A2) : cap_error(A0, EXO_CAP_BLOCK);
}

/* A NIC or block cap in slot; NULL and *err otherwise. */
static struct cap *ring_arg(uint64_t slot, int64_t *err)
{
	struct cap *c = cap_get(self(), slot, EXO_CAP_NONE, 0);
	if (!c)
		*err = -EXO_EBADF;
	else if (c->type != EXO_CAP_NIC && c->type != EXO_CAP_BLOCK)
		*err = -EXO_EINVAL;
	else
		return c;
	return NULL;
}

static int64_t sys_ring_bind(struct trapframe *tf)
{
	int64_t err = 0;
	struct cap *c = ring_arg(A0, &err);
	struct cap *n = cap_get(self(), A1, EXO_CAP_NOTIFY, EXO_R_WRITE);
	if (!c)
		return err;
	if (!n)
		return cap_error(A1, EXO_CAP_NOTIFY);
	return ring_bind(c, n->obj, A2);
}

static int64_t sys_ring_reap(struct trapframe *tf)
{
	int64_t err = 0;
	struct cap *c = ring_arg(A0, &err);
	return c ? ring_reap(c, A1, A2) : err;
}

static const syscall_fn syscalls[EXO_SYS_END - EXO_SYS_BASE] = {
	[EXO_SYS_NULL - EXO_SYS_BASE] = sys_null,
	[EXO_SYS_CAP_INSPECT - EXO_SYS_BASE] = sys_cap_inspect,
	[EXO_SYS_CAP_DERIVE - EXO_SYS_BASE] = sys_cap_derive,
	[EXO_SYS_CAP_GRANT - EXO_SYS_BASE] = sys_cap_grant,
	[EXO_SYS_CAP_REVOKE - EXO_SYS_BASE] = sys_cap_revoke,
	[EXO_SYS_CAP_DELETE - EXO_SYS_BASE] = sys_cap_delete,
	[EXO_SYS_MEM_ALLOC - EXO_SYS_BASE] = sys_mem_alloc,
	[EXO_SYS_PAGE_MAP - EXO_SYS_BASE] = sys_page_map,
	[EXO_SYS_PAGE_UNMAP - EXO_SYS_BASE] = sys_page_unmap,
	[EXO_SYS_PAGE_PROTECT - EXO_SYS_BASE] = sys_page_protect,
	[EXO_SYS_ENV_CREATE - EXO_SYS_BASE] = sys_env_create,
	[EXO_SYS_ENV_KILL - EXO_SYS_BASE] = sys_env_kill,
	[EXO_SYS_ENV_STATUS - EXO_SYS_BASE] = sys_env_status,
	[EXO_SYS_ENV_WATCH - EXO_SYS_BASE] = sys_env_watch,
	[EXO_SYS_THREAD_CREATE - EXO_SYS_BASE] = sys_thread_create,
	[EXO_SYS_THREAD_SET_REGS - EXO_SYS_BASE] = sys_thread_set_regs,
	[EXO_SYS_THREAD_START - EXO_SYS_BASE] = sys_thread_start,
	[EXO_SYS_EXIT - EXO_SYS_BASE] = sys_exit,
	[EXO_SYS_YIELD - EXO_SYS_BASE] = sys_yield,
	[EXO_SYS_YIELD_TO - EXO_SYS_BASE] = sys_yield_to,
	[EXO_SYS_NOTIFY_CREATE - EXO_SYS_BASE] = sys_notify_create,
	[EXO_SYS_NOTIFY_SIGNAL - EXO_SYS_BASE] = sys_notify_signal,
	[EXO_SYS_NOTIFY_WAIT - EXO_SYS_BASE] = sys_notify_wait,
	[EXO_SYS_NOTIFY_POLL - EXO_SYS_BASE] = sys_notify_poll,
	[EXO_SYS_IRQ_BIND - EXO_SYS_BASE] = sys_irq_bind,
	[EXO_SYS_IRQ_ACK - EXO_SYS_BASE] = sys_irq_ack,
	[EXO_SYS_IOPORT_ENABLE - EXO_SYS_BASE] = sys_ioport_enable,
	[EXO_SYS_SET_FAULT_HANDLER - EXO_SYS_BASE] = sys_set_fault_handler,
	[EXO_SYS_SET_PERSONALITY - EXO_SYS_BASE] = sys_set_personality,
	[EXO_SYS_SET_FSBASE - EXO_SYS_BASE] = sys_set_fsbase,
	[EXO_SYS_RANDOM - EXO_SYS_BASE] = sys_random,
	[EXO_SYS_CONSOLE_WRITE - EXO_SYS_BASE] = sys_console_write,
	[EXO_SYS_CLOCK_SET - EXO_SYS_BASE] = sys_clock_set,
	[EXO_SYS_NIC_INFO - EXO_SYS_BASE] = sys_nic_info,
	[EXO_SYS_NIC_POST - EXO_SYS_BASE] = sys_nic_post,
	[EXO_SYS_BLK_INFO - EXO_SYS_BASE] = sys_blk_info,
	[EXO_SYS_BLK_SUBMIT - EXO_SYS_BASE] = sys_blk_submit,
	[EXO_SYS_RING_BIND - EXO_SYS_BASE] = sys_ring_bind,
	[EXO_SYS_RING_REAP - EXO_SYS_BASE] = sys_ring_reap,
	[EXO_SYS_THREAD_SET_AFFINITY - EXO_SYS_BASE] = sys_thread_set_affinity,
	[EXO_SYS_FUTEX_WAIT - EXO_SYS_BASE] = sys_futex_wait,
	[EXO_SYS_FUTEX_WAKE - EXO_SYS_BASE] = sys_futex_wake,
	[EXO_SYS_CONSOLE_READ - EXO_SYS_BASE] = sys_console_read,
	[EXO_SYS_CONSOLE_BIND - EXO_SYS_BASE] = sys_console_bind,
	[EXO_SYS_MEM_ALLOC_COPY - EXO_SYS_BASE] = sys_mem_alloc_copy,
	[EXO_SYS_THREAD_END - EXO_SYS_BASE] = sys_thread_end,
	[EXO_SYS_CAP_LIST - EXO_SYS_BASE] = sys_cap_list,
	[EXO_SYS_CAP_DELETE_LIST - EXO_SYS_BASE] = sys_cap_delete_list,
	[EXO_SYS_CAP_GRANT_RANGE - EXO_SYS_BASE] = sys_cap_grant_range,
};

/* A Linux call: leave the return address and flags in the thread's slot
 * and continue at its personality entry.  Not inlined: its stack frame
 * would cost every native call two instructions. */
static __attribute__((noinline)) void reflect(struct trapframe *tf)
{
	struct exo_reflect r = { tf->rip, tf->rflags };

	if (!current->personality) {
		tf->rax = (uint64_t)-EXO_ENOSYS;
		return;
	}
	if (copy_to_user(current->reflect_slot, &r, sizeof r)) {
		klog(LOG_WARN, "env %lu: reflection slot %#lx is not writable; killed\n",
		     self()->id, current->reflect_slot);
		env_kill(self(), EXO_STATUS_SIGNALED(11));
		return;
	}
	tf->rip = current->personality;
}

int64_t syscall_native(struct trapframe *tf)
{
	return syscalls[tf->rax - EXO_SYS_BASE](tf);
}

/* Called from syscallentry.S; returns non-zero when the way back must
 * restore every register (iretq) rather than use sysret.  The thread is
 * looked up once: whatever schedule() does, it returns only when this
 * thread runs again (perhaps on another CPU). */
int syscall_dispatch(struct trapframe *tf)
{
	bkl_lock();
	struct thread *t = this_cpu_cur();
	if (t->state == T_DEAD)		/* killed from another CPU meanwhile */
		schedule();
	/* read under the lock, as the arguments are: nothing held in a
	 * register across the lock (two pushes, two pops) */
	uint64_t nr = tf->rax;
	if (t->regs_replaced) {
		/* replaced from another CPU while this call waited for the
		 * lock: the call was the old code's, and is dropped */
	} else if (EXO_IS_NATIVE(nr)) {
		int64_t ret = syscalls[nr - EXO_SYS_BASE](tf);
		if (!t->regs_replaced)		/* else replaced while it blocked */
			tf->rax = (uint64_t)ret;
	} else {
		reflect(tf);
	}
	env_reap_orphans();
	if (this_cpu_resched() || t->state != T_RUNNABLE)
		schedule();
	/* SYSRET to a non-canonical rip faults in ring 0 on Intel CPUs; no
	 * page is mapped where a syscall could return there, and a thread's
	 * rip is never set there, but a stray one must not reach SYSRET */
	if (tf->rip >= EXO_USER_TOP) {		/* tf is t->tf: the entry built it there */
		env_kill(t->env, EXO_STATUS_SIGNALED(11));
		env_reap_orphans();
		schedule();
	}
	int full = t->full_restore;
	t->full_restore = 0;
	t->regs_replaced = 0;
	bkl_unlock();
	return full;
}

void syscall_init(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1);			/* SCE */
	wrmsr(MSR_STAR, (0x18ull << 48) | (0x08ull << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_SFMASK, 0x47700);	/* TF IF DF IOPL NT AC cleared on entry */
}
