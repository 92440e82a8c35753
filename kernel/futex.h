/*
 * Waiting on a word of user memory (EXO_SYS_FUTEX_WAIT and FUTEX_WAKE),
 * keyed by the word's physical address: envs that map one frame, at any
 * address, meet there.  The caller's mapping is the authority.
 */
#ifndef EXO_KERNEL_FUTEX_H
#define EXO_KERNEL_FUTEX_H

#include <stdint.h>

#include "kernel/object.h"

/* Blocks the calling thread while the 32-bit word at va still holds
 * expected, until a wake (0), the timeout (-ETIMEDOUT at once for 0;
 * EXO_FOREVER: none) or its page going from its env (-EFAULT).  -EINVAL
 * unaligned, -EFAULT not mapped, -EAGAIN when the word differs. */
int64_t futex_wait(uint64_t va, uint32_t expected, uint64_t timeout_ns);
/* Wakes up to n threads waiting on the word at va in e, oldest first;
 * returns how many, or the errors of futex_wait. */
int64_t futex_wake(struct env *e, uint64_t va, uint64_t n);
/* Takes a waiting thread off its queue (its wait ends some other way). */
void futex_dequeue(struct thread *t);
/* Page va of e no longer maps frame pa: its waiters there wake with
 * -EFAULT, so no record names a frame through a mapping that is gone. */
void futex_unmapped(struct env *e, uint64_t va, uint64_t pa);
/* Threads waiting on any word (for checks and tests). */
uint64_t futex_waiting_count(void);

#endif
