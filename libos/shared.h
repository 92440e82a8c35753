/*
 * What the processes of one machine share: the seam between the process
 * layer (shared segment, process table, cross-process waits) and the file
 * layer (VFS, tmpfs, open file descriptions, pipes), and what execve keeps.
 *
 * The rule: an object that another process may reach (a vnode, an open file
 * description, a pipe, the mount table, a process entry) lives in the
 * shared segment, allocated with sh_alloc, and holds no pointer into a
 * program's image (code or data), because after execve, or in another
 * process, a different program with its own copy of the library OS runs.
 * Kinds of file and file system are named by small integers (an index into
 * a table every image builds the same way), never by a function pointer.
 * State of one process only (threads, memory tables, lwIP, a CryptoFS
 * mount's cache) stays in that process's own memory.
 *
 * Every function here is called with the libOS lock held (libos/thread.h),
 * which is one lock for all processes of the machine.
 */
#ifndef EXO_LIBOS_SHARED_H
#define EXO_LIBOS_SHARED_H

#include <stddef.h>
#include <stdint.h>

/* Zeroed memory in the shared segment, mapped at the same address in every
 * process of the machine: NULL when the segment is full. */
void *sh_alloc(size_t size);
void *sh_realloc(void *p, size_t size);
void sh_free(void *p);
/* The heap's free bytes and its size. */
void sh_usage(uint64_t *free_bytes, uint64_t *heap_bytes);

/* Waits, with the libOS lock released, while *word == expected, until
 * sh_wake(word) in any process, or deadline_ns (time_now_ns's clock; 0:
 * none): 0 when woken (perhaps spuriously: callers check their state),
 * -ETIMEDOUT, or -EINTR when a signal is pending for the calling thread. */
int64_t sh_wait(const volatile uint32_t *word, uint32_t expected, uint64_t deadline_ns);
/* Wakes every waiter on word, in every process. */
void sh_wake(const volatile uint32_t *word);

/* The calling process's per-process file state.  It lives in the process's
 * entry in the shared segment, so it survives execve and a parent can see a
 * child's.  The file layer owns its contents; the process layer copies
 * nothing in it at fork (the file layer's fork hook does). */
struct lo_proc_files {
	void *fdtab;		/* the descriptor table (libos/fd.c) */
	void *cwd;		/* the working directory's vnode */
	uint32_t umask;
};
struct lo_proc_files *proc_files(void);
/* Where fork records the child's copy of the files while it runs
 * (libos/proc.h, `forking`); 0 before the shared segment exists. */
struct lo_proc_files *proc_forking_files(void);
/* Called with the lock held when a process has ended (by itself, or
 * killed by another process, which then calls it on the victim's behalf):
 * the file layer drops what files holds.  The process layer's weak default
 * does nothing; the file layer defines it once its state is shared. */
void lo_proc_files_exit(struct lo_proc_files *files);
/* Called with the lock held for a thread that will not return to its
 * call (its process ended, or an execve ended it), with its waker
 * (libos/proc.h): the file layer drops the descriptions the call held.
 * foreign: the thread's process is another (a killer drops a victim's). */
struct sh_waker;
void lo_waker_holds_drop(struct sh_waker *w, int foreign);

#endif
