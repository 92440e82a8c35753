/*
 * Helper threads for cfs_config.parallel on the host: workers_run splits
 * n items between the calling thread and the helpers and returns when all
 * are done.  Between jobs the helpers spin briefly, then sleep, so batches
 * that follow each other closely pay no wake-up.  A call made while
 * another is running (another FUSE thread) runs its items itself.
 */
#ifndef EXO_FS_TOOL_WORKERS_H
#define EXO_FS_TOOL_WORKERS_H

#include <stddef.h>

struct workers;

/* Start one helper per CPU beyond the first (at most 7); NULL when there
 * is only one CPU or a thread cannot start (then run work in the caller). */
struct workers *workers_start(void);
void workers_stop(struct workers *w);
/* cfs_config.parallel; ctx is the struct workers. */
void workers_run(void *ctx, void (*work)(void *arg, size_t i), void *arg, size_t n);

#endif
