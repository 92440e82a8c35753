/*
 * Copying between kernel and user memory.  The user range is checked to lie
 * below EXO_USER_TOP without wrapping; a fault during the copy (unmapped or
 * protected page) is caught by the trap handler, which resumes at the
 * copy's fixup, so the call returns -EXO_EFAULT instead of crashing the
 * kernel.  SMAP is lifted only for the copy itself.
 */
#ifndef EXO_KERNEL_UACCESS_H
#define EXO_KERNEL_UACCESS_H

#include <stddef.h>
#include <stdint.h>

struct trapframe;

int copy_from_user(void *dst, uint64_t user_src, size_t len);
int copy_to_user(uint64_t user_dst, const void *src, size_t len);
int user_range_ok(uint64_t addr, size_t len);
/* Called by the trap handler for a kernel-mode page fault: 1 when the fault
 * is in a user copy (rip is then moved to the fixup). */
int uaccess_fixup(struct trapframe *tf);

#endif
