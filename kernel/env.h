/* Environments, their address spaces and kernel-memory quotas; threads,
 * scheduling and notifications (sched.c). */
#ifndef EXO_KERNEL_ENV_H
#define EXO_KERNEL_ENV_H

#include "kernel/object.h"
#include "kernel/percpu.h"

/* A new env whose kernel memory (page tables, cap table, threads) is
 * charged to quota_pages taken from the MEMORY cap src; NULL + *err. */
struct env *env_create(struct cap *src, uint64_t quota_pages, int *err);
/* Pages every env is charged from its creation: struct, tables, PML4. */
uint64_t env_fixed_pages(void);
/* Ends e: threads stop, caps are deleted, the address space is freed,
 * watchers are signalled.  status is a Linux wait status. */
void env_kill(struct env *e, uint64_t status);
void env_put(struct env *e);
/* Kills envs that lost their last outside cap (called on the way out of
 * the kernel, so nested kills never recurse).  Inline: every kernel exit
 * checks, and there is rarely anything to do. */
extern int env_reap_due;		/* orphans listed, or a cycle possible */
void env_reap_orphans_now(void);
static inline void env_reap_orphans(void)
{
	if (env_reap_due)
		env_reap_orphans_now();
}
/* Every env not yet freed (dead ones still named by a cap too), through
 * next_all; for checks and tests. */
struct env *env_list(void);
/* A MEMORY cap that paid for env quotas is going: refund heir instead
 * (its parent, or nobody). */
void env_quota_source_gone(struct cap *gone, struct cap *heir);

/* Charges or returns kernel memory against e's quota. */
int env_charge(struct env *e, uint64_t pages);
void env_uncharge(struct env *e, uint64_t pages);

/* Maps frame pa at va in e with EXO_PROT_* perms, recording that it was
 * mapped through cap (NULL: a kernel page); -ENOMEM when the records or
 * page tables it needs do not fit e's quota (nothing changed). */
int env_map(struct env *e, uint64_t va, uint64_t pa, uint32_t prot, struct cap *cap);
/* The same for pages frames in a row from pa at va on: all or none, one
 * record per leaf page table the run touches. */
int env_map_run(struct env *e, uint64_t va, uint64_t pa, uint64_t pages, uint32_t prot, struct cap *cap);
/* Unmap, or change the permissions of, every mapped page of pages pages
 * from va, with one TLB flush round for all of them; -EXO_ENOENT when
 * none is mapped.  env_protect changes nothing when it refuses a page;
 * env_unmap nothing when the record it would split (a range strictly
 * inside one run) does not fit e's quota (-EXO_ENOMEM). */
int env_unmap(struct env *e, uint64_t va, uint64_t pages);
int env_protect(struct env *e, uint64_t va, uint32_t prot, uint64_t pages);
/* The record of the page at va of e, or NULL when it is not mapped. */
struct mapping *env_mapping_at(struct env *e, uint64_t va);
/* Unmaps every page mapped through frame cap c, in every env, with one
 * TLB flush round per env; on return no CPU holds a translation of them. */
struct cap;
void env_unmap_cap(struct cap *c);
/* The leaf PTE for va in e, or 0. */
uint64_t env_pte(struct env *e, uint64_t va);

int env_ioport_enable(struct env *e, uint64_t first, uint64_t count);
void env_ioport_disable(struct env *e, uint64_t first, uint64_t count);
/* Loads e's I/O permission bitmap into this CPU's TSS (on a switch to e). */
void env_load_ioports(struct env *e);
/* Loads e's page tables on this CPU (NULL: the kernel's own). */
void env_load_address_space(struct env *e);

/* sched.c */
struct thread *thread_create(struct env *e, int *err);
void thread_put(struct thread *t);
void thread_start(struct thread *t);
/* Gives t (running on this CPU, or on none) the user registers r (checked
 * by the caller): its frame and FS base.  in_entry: t is inside a kernel
 * entry (a call, a wait, a fault, an interrupt), whose way back to user
 * mode then leaves the frame as it is (no result, no reflection, no fault
 * delivery), so the registers take effect exactly. */
struct exo_regs;
void thread_apply_regs(struct thread *t, const struct exo_regs *r, int in_entry);
void thread_kill(struct thread *t);
/* Kills t, a thread of a live env, for good (THREAD_END): off its env's
 * list, which then never names it once freed, and its stack's and XSAVE
 * page's charge back to the env; the record's page stays charged. */
void thread_end(struct thread *t);
/* Lets t run only on the CPUs in mask (at least one running): 0 or -EINVAL. */
int thread_set_affinity(struct thread *t, uint64_t mask);
void sched_init(void);
/* Frees the dead threads waiting to be (never the current one). */
void sched_reap_dead(void);
void schedule(void);
void sched_yield_to(struct thread *t);
void sched_tick(void);
_Noreturn void sched_run_first(void);
/* The deadline timeout_ns from now, for thread_block: a timeout too long
 * to add up gives 0 (none). */
uint64_t deadline_after(uint64_t timeout_ns);
/* Blocks current on n (NULL: on nothing, e.g. a futex) until deadline_ns
 * (0: none). */
void thread_block(struct notify *n, uint64_t deadline_ns);
/* Ends t's blocked wait with result r (bits, 0, or a negated error). */
void thread_wake(struct thread *t, uint64_t r);
struct notify *notify_create(struct env *charge_to);
void notify_signal(struct notify *n, uint64_t bits);
void notify_put(struct notify *n);
int irq_bind(struct cap *irq, struct notify *n, uint64_t badge);
int irq_ack(struct cap *irq);
void irq_release(struct cap *irq);
/* A kernel driver takes line for good (IRQ_BIND on it then fails with
 * -EBUSY); -EBUSY when an env holds it. */
int irq_claim(int line);

#endif
