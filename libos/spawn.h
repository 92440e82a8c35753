/*
 * vfork without a fork (libos/spawn.c, docs/LIBOS.md "vfork and
 * posix_spawn"): the child runs on its parent's thread and memory, as a
 * process of its own, until it calls execve (its image goes into a fresh
 * env) or ends; then the parent goes on.
 */
#ifndef EXO_LIBOS_SPAWN_H
#define EXO_LIBOS_SPAWN_H

#include <stdint.h>

#include "libos/exec.h"

/* Whether the caller may vfork on its own memory: a process with the
 * shared segment and no other thread running. */
int spawn_can_share(void);
/* The vfork: returns 0 as the child; the parent's return comes later,
 * when the child has called execve or ended.  -errno when no child was
 * made. */
int64_t spawn_vfork(uint64_t stack);
/* A vfork child runs on our thread now. */
int spawn_child_active(void);
/* The child ends with a wait status: the parent goes on (lock held). */
_Noreturn void spawn_child_exit(int32_t status);
/* The child's execve, once its image and record are built (the record h
 * at EXEC_RECORD_VA in frames rslot, `pages` of them): the image starts in
 * the child's own env and the parent's call returns (0); -errno and
 * nothing started when it cannot. */
int spawn_child_exec(struct exec_handover *h, int64_t rslot, uint64_t pages);

/* signal.c: the parent's dispositions kept while its child runs */
void lo_signal_vfork_save(void);
void lo_signal_vfork_restore(void);

#endif
