/*
 * Multiprocessor support (kernel/smp.c): the kernel lock, requests one CPU
 * makes of the others (TLB flushes, leaving an address space, reloading
 * the I/O bitmap), reschedule IPIs, and starting the other CPUs.
 */
#ifndef EXO_KERNEL_SMP_H
#define EXO_KERNEL_SMP_H

#include <stdint.h>

#include "kernel/object.h"

#define VEC_IPI_RESCHED 0xf0		/* another CPU made a thread runnable */
#define VEC_IPI_REQUEST 0xf1		/* serve this CPU's struct cpu_request */

/* The kernel lock: held by a CPU while it runs kernel code, except in the
 * idle loop and in the request handler.  Spinning for it serves requests.
 * Taking a free lock and giving it back are inline: every kernel entry
 * does both. */
extern volatile uint32_t bkl;
void bkl_lock_contended(void);

static inline void bkl_lock(void)
{
	if (__atomic_exchange_n(&bkl, 1, __ATOMIC_ACQUIRE))
		bkl_lock_contended();
}

static inline void bkl_unlock(void)
{
	__atomic_store_n(&bkl, 0, __ATOMIC_RELEASE);
}

/* Invalidates pages pages of e from va (~0: everything) on every CPU that
 * has e loaded, in one request per CPU (one IPI), waiting until each has;
 * the calling CPU does its own at once. More than SMP_FLUSH_PAGES_MAX
 * flush the whole address space instead. */
#define SMP_FLUSH_PAGES_MAX 32
void smp_flush_range(struct env *e, uint64_t va, uint64_t pages);
/* Every CPU that has e loaded switches to the kernel's page tables, so e's
 * may be freed; waits until each has. */
void smp_leave(struct env *e);
/* CPUs running e reload its I/O permission bitmap, and wait for them. */
void smp_reload_ioports(struct env *e);
/* Wakes CPU id if it is idle or running something else (reschedule IPI). */
void smp_kick(int id);
/* Serves this CPU's pending request: from the request IPI's handler
 * (in_kernel 0 when it interrupted user mode) and from the lock spin
 * (in_kernel 1: the running thread is inside a kernel entry). */
void smp_serve_request(int in_kernel);
/* Gives t, running on another CPU, the user registers r (checked), and
 * waits until that CPU has: from then on t runs no instruction of the
 * old ones (see thread_apply_regs). */
struct exo_regs;
void smp_set_regs(struct thread *t, const struct exo_regs *r);
/* t, just killed, was on CPU cpu (another one): waits until that CPU has
 * served a request, after which it runs no user instruction of t (a
 * request that interrupts a dead thread's user mode schedules away,
 * kernel/trap.c). */
void smp_stop_thread(struct thread *t, int cpu);

/* Sends INIT to the other CPUs the MADT lists (early in boot). */
void smp_send_init(void);
/* Starts the CPUs the MADT lists, without waiting for them to arrive;
 * returns how many were started, the boot CPU too. */
int smp_start_aps(void);
/* Fills the CPU counts of the kernel info page and keeps cpus_running up
 * to date as CPUs arrive. */
struct exo_kinfo;
void smp_publish(volatile struct exo_kinfo *k);
/* Set once the kernel has looked for CPUs that did not start (1 s after
 * STARTUP; the self-test waits for it). */
extern volatile int smp_checked;

#endif
