/*
 * The process layer's own view of the shared segment (libos/shared.h is
 * the part other layers use): the segment's header with the machine's
 * libOS lock, and the process table.  Everything here is read and written
 * with the libOS lock held, except the segment's geometry (fixed at
 * start-up) and the wait words (sh_wait reads them without it).
 */
#ifndef EXO_LIBOS_PROC_H
#define EXO_LIBOS_PROC_H

#include <stdint.h>

#include "libos/libos.h"
#include "libos/shared.h"

#define SH_VA 0x00007d0000000000ull	/* below the libOS heap (0x7e0000000000) */
#define SH_CHUNK_PAGES 512ull		/* page i is frame i % 512 of cap SH_SLOT0 + i / 512 */
#define SH_MAX_CHUNKS 128		/* 256 MiB */
#define SH_SLOT0 256			/* cap slots 256..383 hold the chunks in every process */
#define SH_MAGIC 0x6d67655368737845ull	/* "ExshSegm" */
#define SH_VERSION 5
#define MAX_PROCS 64
#define FORK_HINTS 16			/* pages a process's next fork copies by hint */
#define SH_WAIT_BUCKETS 64		/* sh_header.waiting: counts of sleepers by word */

enum { PROC_FREE, PROC_RUNNING, PROC_ZOMBIE };

/* What a siginfo says besides the number: si_code, then (by code) the
 * sender's pid and uid, a timer's id and overrun, or a child's pid, uid
 * and status; then si_value. */
struct lo_sigsrc {
	int32_t code;
	int32_t a, b;
	uint64_t value;
};

/* Where one thread sleeps: every blocked wait of the library OS is a
 * kernel FUTEX_WAIT on a word of the segment (libos/thread.c), either the
 * thread's own `word` or the one sh_wait names (`on`).  Anyone holding the
 * lock, in any process, wakes it by bumping `word` and, when it names
 * another, `*on` (sh_wait's words are change counters), then FUTEX_WAKE. */
#define SH_WAKER_HELD 4
struct sh_waker {
	volatile uint32_t word;
	volatile uint32_t sleeping;	/* between giving the lock up and taking it again */
	volatile uint32_t *volatile on;	/* the word it waits on; 0: not waiting */
	int32_t tid;			/* its thread's; 0: parked */
	struct sh_waker *next;		/* the process's other threads */
	/* descriptions its call holds while it may sleep (the file layer's
	 * file_hold): dropped for it when it never comes back, its process
	 * ended or its thread ended by an execve (lo_waker_holds_drop) */
	void *held[SH_WAKER_HELD];
	uint32_t nheld;			/* holds now, noted or not (past the room) */
};

/* One process.  The pid is its env id.  env_slot[j] is where this process
 * holds process j's env cap (with CONTROL, so it can end it), valid while
 * env_gen[j] equals process j's gen. */
struct tmpfs_image;

struct sh_proc {
	int32_t pid, ppid, pgid, sid;
	uint32_t state, gen;
	int32_t status;			/* Linux wait status, when a zombie */
	volatile uint32_t wait_word;	/* bumped when a signal or a child's end is for it */
	uint64_t sigpending;		/* sent by other processes, not yet taken */
	uint64_t sigcaught;		/* a handler is installed */
	uint64_t sigignored;		/* discarded: SIG_IGN, or ignored by default */
	uint64_t sigblocked;		/* blocked by every thread */
	struct lo_sigsrc info[64];	/* what the sender of signal n+1 said */
	int32_t to_tid[64];		/* tgkill: the thread it is for; 0: any */
	uint32_t nocldwait;		/* SIGCHLD is SIG_IGN (or SA_NOCLDWAIT): no zombies */
	uint32_t detached;		/* a zombie nobody waits for: its parent frees it */
	uint32_t detached_children;	/* how many of those this process has */
	uint32_t stopped;		/* by a stop signal, until SIGCONT */
	int32_t jc_status;		/* for WUNTRACED/WCONTINUED: a stop's wait status,
					 * 0xffff (continued), 0: nothing to report */
	struct sh_waker *wakers;	/* one per thread; the first is the main thread's */
	int32_t vfork_host;		/* a vfork child running on this pid's thread
					 * (libos/spawn.c): it ends with it, and holds
					 * the lock in its env; 0: none */
	int16_t env_slot[MAX_PROCS];
	uint32_t env_gen[MAX_PROCS];
	struct lo_proc_files files;
	/* fork, while it runs: the child's copy of the files (taken before
	 * the child's entry exists), and in the child's entry, that its
	 * thread (or for vfork, its image) has not started.  A parent that
	 * dies in the middle (the kernel ended it holding the lock) leaves
	 * them for the lock's take-over to undo (undo_half_fork); nothing
	 * else names them. */
	struct lo_proc_files forking;
	uint32_t half_made;
	uint32_t image_gen;		/* bumped by each execve (libos/chan.c's clients) */
	/* pages that took a copy-on-write fault after a fork of this
	 * image, in it or in a child before its execve: its forks copy them
	 * for the child at once (mm_fork_mark); the newest FORK_HINTS, the
	 * oldest replaced first (fork_hint_next) */
	uint64_t fork_hint[FORK_HINTS];
	uint32_t nfork_hints, fork_hint_next;
	struct tmpfs_image *image;	/* the copy of the executable its image maps
					 * (libos/tmpfs.c): a reference, dropped once
					 * its env has ended (reap) */
	uint64_t cpu_mask;		/* its main thread's sched_setaffinity mask, for
					 * other processes to read; 0: every CPU */
};

struct sh_lock {
	volatile uint64_t owner;	/* the holder's tid; 0: free */
	uint32_t depth;
	volatile uint32_t yields;	/* waiters' yields not yet answered (libos/lock.c) */
};

/* The segment's first bytes: a later image (execve) recognises the
 * segment by magic and version and finds its size here. */
struct sh_header {
	uint64_t magic;
	uint32_t version, header_size;
	uint64_t layout_size;		/* bytes of the whole segment */
	struct sh_lock lock;		/* the libOS lock of the machine */
	volatile uint32_t next_tid;	/* thread ids other than main threads */
	uint32_t reap_gen;		/* bumped when a process entry is freed */
	int32_t init_pid;		/* the first process: orphans' new parent */
	uint32_t nprocs;		/* entries not free */
	uint32_t procs_top;		/* one past the highest entry ever used */
	uint32_t waiting[SH_WAIT_BUCKETS];	/* wakers whose `on` hashes here (proc_waker_sleep) */
	uint64_t heap_first, heap_end;	/* sh_alloc's blocks: [first, end) */
	uint64_t free_list;		/* sh_alloc's free blocks (struct sh_block *) */
	struct sh_proc procs[MAX_PROCS];
	void *sysv_ipc;			/* System V IPC's tables (libos/sysvipc.c); 0: none yet */
	void *netsvc;			/* the machine's socket service (net/lwip/sockkeep.c); 0: none yet */
	void *exec_images;		/* execve's copies of executables (libos/tmpfs.c) */
	uint64_t exec_image_pages;	/* their pages */
};

/* The segment (mapped once lp.shared_pages is set). */
static inline struct sh_header *sh_seg(void)
{
	return (struct sh_header *)SH_VA;
}

/* shared.c */
/* The first process: allocates and maps the segment (envp for
 * EXO_SHARED_MB); 0 or -errno. */
int shared_init(const char *const *envp, uint32_t envc);
/* An exec'd image: finds the segment its process already has; 0 or -errno. */
int shared_adopt(void);
/* Maps the segment page at va on a fault: 1 when va is in the segment. */
int shared_fault(uint64_t va);
/* Grants the segment's caps to a new env, in the same slots: 0 or -1. */
int shared_grant(int64_t env);

/* proc.c */
/* Our entry in the process table.  Inline: every call asks for it. */
static inline struct sh_proc *proc_self(void)
{
	return &sh_seg()->procs[lp.proc_index];
}
struct sh_proc *proc_by_pid(int64_t pid);
/* Fork: a table entry for the child env (pid) the caller holds at slot env,
 * with the caps to end every process; NULL when none is left. */
struct sh_proc *proc_fork(int64_t env, int64_t pid);
/* proc_fork in two steps (libos/spawn.c gives the caps only at execve):
 * the entry, with our cap on the child; then the caps between the child
 * and every other process. */
struct sh_proc *proc_entry_new(int64_t env, int64_t pid);
void proc_give_env_caps(struct sh_proc *c, int64_t env);
/* p's image maps img now (execve): it holds the reference the caller
 * took, and drops the one it held, under the lock, before its old image
 * is unmapped but while nothing else can free or reuse those pages. */
void proc_set_image(struct sh_proc *p, struct tmpfs_image *img);
/* Undoes proc_fork for a child that never ran. */
void proc_fork_failed(struct sh_proc *c);
/* The child of proc_fork has its thread started: it owns its entry and
 * its copy of the files from now on. */
void proc_fork_started(struct sh_proc *c);
/* Marks p ended with a wait status: its children go to the first
 * process, its parent gets SIGCHLD, and its files are released. */
void proc_mark_dead(struct sh_proc *p, int32_t status);
/* The lock's take-over from a holder whose env ended (libos/lock.c). */
int64_t proc_holder_ended(uint64_t tid);
void proc_holder_dead(uint64_t tid, int64_t status);
/* Ends the calling process with a wait status, its table entry first. */
_Noreturn void proc_end_self(int32_t status);
/* Job control: the calling thread stops the process for sig (its parent
 * learns of it) and sleeps until SIGCONT; lock held. */
void proc_stop_self(int sig);
/* SIGCONT for p: a stopped p goes on (its parent learns of it). */
void proc_continue(struct sh_proc *p);
/* Signals other processes sent to this one, handed to its threads. */
void proc_take_signals(void);
/* Under the lock at every entry: deletes env caps of reaped processes. */
void proc_tidy(void);
/* The calling process's dispositions and blocked set, for senders. */
void proc_publish_signals(uint64_t caught, uint64_t ignored, uint64_t blocked, int nocldwait);
/* Sends sig from the calling process to p (kill): 0. */
int64_t proc_send(struct sh_proc *p, int sig, int code);
/* Wakes w's thread wherever it waits (lock held). */
void proc_waker_wake(struct sh_waker *w);
/* w's thread is about to sleep on word (lock held): wakers of word will
 * find it from now until proc_waker_awake. */
void proc_waker_sleep(struct sh_waker *w, const volatile uint32_t *word);
/* w's thread has taken the lock back after its sleep (or ended in it). */
void proc_waker_awake(struct sh_waker *w);
/* The bucket of sh_header.waiting that word counts in. */
static inline uint32_t *proc_waiting_of(const volatile uint32_t *word)
{
	_Static_assert(SH_WAIT_BUCKETS == 64, "the hash's top 6 bits pick the bucket");
	return &sh_seg()->waiting[((uint64_t)word * 0x9e3779b97f4a7c15ull) >> 58];
}
/* Some thread of the machine may sleep on word (lock held): one load, not
 * a search; a thread sleeping on another word with the same hash also
 * says yes, which costs the caller a kernel call and nothing else.
 * Inline: every pipe read and write asks twice. */
static inline int proc_sleeper_on(const volatile uint32_t *word)
{
	return *proc_waiting_of(word) != 0;
}
/* A waker for a new thread of ours, on our list; NULL when the segment is
 * full. */
struct sh_waker *proc_waker_new(void);
/* More than one process shares the machine. */
int proc_multi(void);
/* execve: slot holds the segment or another process's env cap. */
int proc_keeps_slot(uint64_t slot);
/* The slot of our env cap (with CONTROL) on process pid, or 0. */
int64_t proc_env_cap(int64_t pid);

LO_CALL(sys_getppid);
LO_CALL(sys_getpgid);
LO_CALL(sys_getpgrp);
LO_CALL(sys_getsid);
LO_CALL(sys_setsid);
LO_CALL(sys_setpgid);
LO_CALL(sys_wait4);
LO_CALL(sys_waitid);
int64_t proc_kill(int64_t pid, int sig);

/* The process with a thread tid, or NULL. */
struct sh_proc *proc_of_tid(int32_t tid);
/* Sends sig from the calling process to p with src, for its thread tid
 * (0: any): 0, or -ESRCH when p has no such thread. */
int64_t proc_send_info(struct sh_proc *p, int sig, const struct lo_sigsrc *src, int32_t tid);

#endif
