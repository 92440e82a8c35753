/*
 * Kernel objects behind capabilities: environments (address space + cap
 * table), threads, notifications, and the capabilities themselves with the
 * derivation tree that revocation walks.
 */
#ifndef EXO_KERNEL_OBJECT_H
#define EXO_KERNEL_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "include/exo/abi.h"
#include "kernel/trap.h"

#define CAP_SLOTS EXO_CAP_SLOTS
#define MAP_BUCKETS 512
/* An env lists this many of its page-table pages, so its teardown frees
 * them without walking its tables (a process takes about 20). */
#define ENV_TABLES_LISTED 64

struct env;
struct thread;
struct mapping;

struct cap {
	uint8_t type;			/* enum exo_cap_type; EXO_CAP_NONE = free slot */
	uint8_t counted;		/* FRAME: holds a reference on each of its frames */
	uint8_t pinned;			/* FRAME: a device buffer's pin, in no table (ring.h) */
	uint32_t rights;
	uint64_t first, count;		/* see struct exo_cap_info */
	void *obj;			/* env, thread, notify, ring port; a pin's request */
	struct env *owner;		/* whose table holds this slot */
	/* derivation tree: revoking a cap deletes all of its descendants */
	struct cap *parent, *child, *next, *prev;
	struct mapping *maps;		/* FRAME: runs mapped through this cap */
};

/* A run of pages in a row of one env, all present, mapped through one cap
 * to frames in a row, within one leaf page table (kernel/env.c). */
struct mapping {
	struct env *env;
	uint64_t va;			/* its first page */
	uint64_t pages;
	struct cap *cap;		/* NULL for kernel pages (kinfo, start info) */
	struct mapping *cap_next, *cap_prev;
	struct mapping *hash_next;
};

enum env_state { ENV_RUNNING, ENV_DEAD };

struct env {
	uint64_t id;
	enum env_state state;
	int refs;			/* caps in other envs naming it, plus one until env_kill */
	uint64_t status;		/* exit status once dead */
	uint64_t pml4_pa;
	volatile uint64_t loaded_on;	/* CPUs whose CR3 holds it, a bit each */
	struct cap *caps;		/* CAP_SLOTS entries */
	int cap_top;			/* slots from here on were never used: zero */
	struct mapping **maps;		/* MAP_BUCKETS hash chains by first va */
	uint64_t quota_pages, used_pages;	/* kernel memory charged */
	uint64_t peak_pages;		/* the most ever charged at once */
	uint64_t nmappings;		/* records (runs), not pages */
	uint64_t map_charged;		/* pages of quota charged for them */
	struct cap *quota_source;	/* the MEMORY cap that paid for it */
	uint64_t fault_entry, fault_stack, fault_stack_size;
	int ntables;			/* user page-table pages made (below the PML4) */
	uint64_t tables[ENV_TABLES_LISTED];	/* the first ENV_TABLES_LISTED of them */
	uint8_t *iobitmap;		/* 8 KiB, NULL: no port access */
	uint32_t io_lo, io_hi;		/* iobitmap's bytes [lo, hi) may differ from 0xff */
	struct thread *threads;
	int nthreads_alive;
	struct notify *watch;		/* signalled with watch_badge on death */
	uint64_t watch_badge;
	struct env *next_all;
	struct env *next_orphan;
	int orphaned;			/* on the orphan list */
	int marked;			/* reached in the last cycle collection */
	struct env *mark_next;
};

enum thread_state { T_NEW, T_RUNNABLE, T_BLOCKED, T_DEAD };

struct thread {
	uint64_t id;
	struct env *env;
	enum thread_state state;
	int on_cpu;			/* the CPU running it, or -1 */
	int queue_cpu;			/* the CPU whose queue it waits on, or -1 */
	int last_cpu;			/* where it ran last, or -1 */
	uint64_t affinity;		/* CPUs it may run on, a bit each */
	int refs;
	uint64_t kstack_top;		/* trapframe sits just below */
	uint64_t ksp;			/* saved kernel rsp while switched out */
	struct trapframe *tf;
	uint64_t fsbase, gsbase;	/* user's, saved while switched out */
	uint8_t *xsave;			/* one page, 64-byte aligned */
	uint64_t personality, reflect_slot;
	uint64_t fault_stack;		/* its exception stack top (0: the env's) */
	uint64_t fault_stack_size;	/* bytes below the top that are the stack */
	int full_restore;		/* return with iretq (regs set from outside) */
	int regs_replaced;		/* set from outside during a kernel entry:
					 * that entry leaves its frame alone */
	/* blocking */
	struct notify *waiting_on;
	int futex_waiting;		/* queued on futex_pa (kernel/futex.c) */
	uint64_t futex_pa;		/* the word's physical address */
	uint64_t futex_page;		/* the user page it was found through */
	struct thread *futex_next;	/* FIFO of its futex bucket */
	uint64_t deadline_ns;		/* 0: none */
	uint64_t wait_result;
	struct thread *run_next, *run_prev;
	struct thread *wait_next;
	struct thread *sleep_next;
	struct thread *env_next;
};

struct notify {
	uint64_t bits;
	int refs;
	struct thread *waiters;		/* FIFO through wait_next */
};

#endif
