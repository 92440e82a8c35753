/*
 * A test's way to end its own process at a chosen point of fork, vfork or
 * exit
 * (docs/LIBOS.md, "A process that dies holding the lock"):
 * prctl(EXO_PR_DIE_AT, point) makes the process's next pass through that
 * point end its env through the kernel, holding the library OS's lock, as
 * a native ENV_KILL from outside or a fault the library OS cannot serve
 * would end it there: nothing is unwound.  0 turns it off.  0, or -1 with
 * errno EINVAL for an unknown point.  Only tests use it
 * (user/tests/lockdead.c).
 */
#ifndef EXO_DIEPOINT_H
#define EXO_DIEPOINT_H

#define EXO_PR_DIE_AT 0x45784401
/* prctl(EXO_PR_GROW_AT, point): the process's next pass through a fork
 * point grows its memory pool by a chunk there instead (as a fault of the
 * library OS in the middle of a fork would); prctl(EXO_PR_MM_CHECK, 0):
 * 0 when every chunk of the pool is a FRAME cap the process holds with
 * at least the chunk's pages and the resident-page counts /proc shows
 * match the memory tables' records, else -1 with errno EIO.  Tests only
 * (user/tests/lockdead.c's pool_grows_in_fork). */
#define EXO_PR_GROW_AT 0x45784402
#define EXO_PR_MM_CHECK 0x45784403

/* fork (libos/fork.c), in the order it passes them */
#define EXO_DIE_FORK_FILES	1	/* the child's descriptor table copied */
#define EXO_DIE_FORK_ENV	2	/* its env made */
#define EXO_DIE_FORK_GRANTS	3	/* its caps granted */
#define EXO_DIE_FORK_ENTRY	4	/* its process-table entry made */
#define EXO_DIE_FORK_MAPPINGS	5	/* its private block and pages mapped */
#define EXO_DIE_FORK_START	6	/* just before its thread starts */
#define EXO_DIE_FORK_STARTED	7	/* its thread started, fork not done */
#define EXO_DIE_FORK_DONE	8	/* fork done, lock still held */
/* vfork and posix_spawn (libos/spawn.c) */
#define EXO_DIE_VFORK_ENV	9	/* the child's empty env made */
#define EXO_DIE_VFORK_FILES	10	/* its descriptor table copied */
#define EXO_DIE_VFORK_ENTRY	11	/* its entry made */
#define EXO_DIE_VFORK_CHILD	12	/* the child runs on our thread */
#define EXO_DIE_VFORK_IMAGE	13	/* its execve: the image granted to its env */
#define EXO_DIE_VFORK_CAPS	14	/* its execve: env caps given, not started */
#define EXO_DIE_VFORK_STARTED	15	/* its execve: the image started */
#define EXO_DIE_VFORK_EXIT	16	/* its exit: marked dead, parent not back */
/* exit (libos/proc.c) */
#define EXO_DIE_EXIT		17	/* our entry a zombie, the lock not given up */
#define EXO_DIE_LAST		17

#endif
