/*
 * Internal interfaces of the library OS.  Handlers return -errno (Linux
 * values), take no libc locks, use no TLS and no application malloc; they
 * are built with -mgeneral-regs-only so they never touch the caller's SSE
 * registers.
 */
#ifndef EXO_LIBOS_H
#define EXO_LIBOS_H

#include <stddef.h>
#include <stdint.h>

#include "include/exo/abi.h"
#include "libos/layout.h"

extern const struct exo_start *libos_start_info;
extern const volatile struct exo_kinfo *libos_kinfo;

/* string.c: the libOS's own, never musl's */
void *lo_memcpy(void *dst, const void *src, size_t n);
void *lo_memset(void *dst, int c, size_t n);
size_t lo_strlen(const char *s);
int lo_memcmp(const void *a, const void *b, size_t n);

/* console.c: fd 1 and 2 */
void console_init(void);
int64_t console_write(int fd, const void *buf, size_t len);
/* 1 when stdout goes to the kernel console (no COM2 UART): a terminal. */
int console_is_kernel(void);
/* Formats a short diagnostic line to stderr (%s %d %x %p only). */
void lo_report(const char *fmt, ...);

/* State the fault handler writes: one page-aligned block that fork copies
 * for the child at once instead of sharing it copy-on-write. */
#define MAX_CHUNKS 256
#define MAX_CHILDREN 64
#define RES_COW 1			/* shared at a fork: copy before writing */
#define RES_SHARED 2			/* another env may map the frame */
#define RES_COPIED 4			/* fork: copied for the child, not shared */
#define RES_FRESH 8			/* fork: writable here until this fork */
#define RES_CLEAN 16			/* copied at the last fork, not shared */
#define RES_HINTED 32			/* fork, while it marks: a fork hint names it */
#define FORK_COPY_MAX 32		/* pages a fork copies for the child at once */
#define FORK_COPY_SPARE 4		/* free pages the child's copy cap brings */
#define FORK_CHILD_CHUNK 16		/* pages of a forked child's first new chunk */

struct region {
	uint64_t start, end;	/* [start, end), page aligned */
	int prot;
	uint32_t bss;		/* an exec'd image's demand-zero bss: kept apart
				   from its file's pages, unnamed in the maps */
	uint64_t shoff;		/* 0: anonymous; else 1 + the shared segment's
				   byte offset mapped at start (System V shm) */
	void *file;		/* MAP_SHARED of a tmpfs file: its vnode (shared
				   segment), else NULL; foff: the file offset at start */
	uint64_t foff;
};

struct chunk {
	int64_t slot;		/* frame cap; 0: unused */
	uint32_t pages;
	uint8_t fixed;		/* image or stack: never handed out */
	uint8_t asked;		/* share_epoch when the kernel last said shared */
	uint8_t tables;		/* holds the memory tables' pages only */
	uint8_t shared;		/* CHUNK_* below: another env may hold its frames */
	uint32_t grant;		/* the rights fork grants its cap with; 0: all */
	uint64_t used[8];	/* bit per page */
	uint64_t dirty[8];	/* free: was used, zero before reuse; used: stranded
				   (let go by us while shared, freed once it is not) */
};

/* struct chunk's shared: not shared; shared at a fork by us (asked at each
 * copy-on-write fault whether it still is); a forked child's copy of its
 * parent's chunk (asked only when the pool runs dry). */
enum { CHUNK_OWN, CHUNK_FORKED, CHUNK_COPY };

struct resident {
	uint64_t va;		/* 0: empty */
	uint16_t chunk, index;
	uint8_t flags;		/* RES_* */
};

struct child {
	int64_t pid, env, thread, budget;	/* pid 0: unused */
};

/* A resource limit, as prlimit64 copies it (libos/resource.c). */
struct lo_rlimit {
	uint64_t cur, max;
};
#define LO_RLIMITS 16

struct libos_private {
	uint8_t exception_stack[32768] __attribute__((aligned(16)));
	/* the memory tables (libos/mm.c), in frames of their own at
	 * MM_TABLES_VA, mapped as they grow: the regions, then the resident
	 * records in a radix tree (root here, nodes and leaves there) */
	struct region *regions;			/* sorted by start, no overlaps */
	uint32_t nregions, max_regions;		/* max_regions: from the budget */
	struct mm_part { uint64_t mapped, used; } tparts[3];	/* pages of each part */
	uint32_t res_root[128];			/* node + 1 per 512 GiB; 0: none */
	uint32_t private_chunk;			/* a forked child's copy of this block */
	uint64_t resident_now, resident_peak;	/* resident records; getrusage's maxrss */
	uint64_t resident_libos;		/* of them, the library OS's own heap's */
	uint64_t minflt;			/* page faults served */
	struct lo_rlimit rlim[LO_RLIMITS];	/* libos/resource.c; RLIMIT_NOFILE is fd.c's */
	int rlim_ready;
	uint64_t start_ns;			/* when the process or this image started */
	uint64_t cpus_online;			/* mask; 0: not asked yet */
	struct chunk chunks[MAX_CHUNKS];
	struct child children[MAX_CHILDREN];
	uint64_t heap_start, heap_end, mmap_next;
	uint32_t next_chunk_pages;
	uint32_t next_table_pages;	/* the same for the tables' chunks */
	uint32_t share_epoch;		/* bumped when a child is reaped (chunk asked) */
	int64_t uart_slot[3];			/* I/O-port caps of COM2, COM3 (by fd); 0: no UART */
	uint8_t uart_on[3];			/* this env may use them (console_init enabled them) */
	struct { volatile uint64_t owner; uint32_t depth, yields; } early_lock;	/* before the segment */
	uint64_t shared_pages;			/* the shared segment (libos/proc.h); 0: none yet */
	int64_t self_pid;			/* our env id, set before we first run */
	uint32_t proc_index;			/* our entry in the process table */
	/* a forked child's pages copied for it at the fork (mm_fork_mark),
	 * in this order in chunk copied_chunk */
	uint64_t copied_va[FORK_COPY_MAX];
	uint32_t ncopied, copied_chunk;
	/* the entry whose fork hints our copy-on-write faults go to (ours;
	 * a forked child's, its parent's until it execs) and that entry's
	 * pid then (mm_cow_fault) */
	uint32_t hint_index;
	int64_t hint_pid;
} __attribute__((aligned(4096)));
_Static_assert(sizeof(struct exo_regs) == 152, "entry.S stores exo_regs by offset");

extern struct libos_private lp;

/* mm.c */
void mm_init(uint64_t image_end);
int64_t mm_brk(uint64_t addr);
int64_t mm_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off);
int64_t mm_munmap(uint64_t addr, uint64_t len);
int mm_sealed(uint64_t addr, uint64_t len);	/* the library OS's own memory */
int64_t mm_mprotect(uint64_t addr, uint64_t len, int prot);
/* Maps a fresh zeroed page at va with Linux PROT_* bits: 0 or -errno. */
int mm_fault_in(uint64_t va);
/* Touches [addr, addr+len) so the kernel can write there (demand-zero and
 * copy-on-write pages become real): 0, or -EFAULT outside writable memory. */
int mm_prepare_write(uint64_t addr, uint64_t len);
/* EXO_SYS_CAP_INSPECT into memory made ready for the kernel's write. */
int64_t lo_cap_inspect(int64_t slot, struct exo_cap_info *info);
/* Gives a copy-on-write page at va a frame of its own: 0 or -errno. */
int mm_cow_fault(uint64_t va);
/* The page at va made our own if it is still copy-on-write (no kernel
 * call when it is not). */
void mm_own_page(uint64_t va);
/* Takes over pages the kernel mapped (prot_of_page: Linux PROT_* per page,
 * 0 for none) as a fixed chunk of frame cap slot. */
void mm_adopt(int64_t slot, uint64_t va, uint64_t pages, const uint8_t *prot_of_page);
/* Registers frames mapped before the memory tables existed (an exec'd
 * image's first touches, libos/exec.c): a chunk of the pool whose first
 * used pages are resident at va[0..used), the rest free. */
void mm_adopt_pool(int64_t slot, uint64_t pages, const uint64_t *va, uint64_t used);

/* Where the memory tables live: mapped, never demand-zero or shared. */
/* fork: gives env a copy of the memory tables at the same address, in
 * the frames of priv from index first on (room pages) where they fit:
 * 0 or -ENOMEM. */
int mm_tables_fork(int64_t env, int64_t priv, uint64_t first, uint64_t room);
/* Pages the memory tables take now (what mm_tables_fork copies). */
uint64_t mm_tables_pages(void);
/* fork, after mm_fork_mark and mm_tables_fork: every resident page of
 * ours mapped in env, a run of pages a call; the private block's pages
 * from priv (a frame cap env holds in the same slot), the pages copied
 * for it from copies (mm_fork_mark's cap, which env holds in the same
 * slot), the rest read-only from our frame caps (env has copies in the
 * same slots), ours made read-only too.  0 or -ENOMEM. */
int mm_fork_share(int64_t env, int64_t priv, int64_t copies);
/* A fork that failed after mm_fork_mark: the pages it had not made
 * read-only here yet are no longer taken for copy-on-write. */
void mm_fork_unmark(void);
/* fork: marks every resident page but the private block's copy-on-write
 * and shared, before the tables are copied for the child, except (when
 * may_copy) the few written since our last fork, which env gets copies of
 * at once instead: the cap of those copies (in the same slot in env; their
 * addresses in lp.copied_va, lp.ncopied), or 0 when there are none. */
int64_t mm_fork_mark(int64_t env, int may_copy);
/* fork, after mm_fork_mark: a new frame cap holding a copy of our private
 * block, and room zeroed pages after it; the pages of the block it could
 * not copy (no record) are zeroed too and set in *missing.  The slot or
 * -ENOMEM. */
int64_t mm_fork_private(uint64_t room, uint64_t *missing);
/* The forked child's first step: the records of its private block's pages
 * name its own copy (chunk c), not the parent's frames, and so do those of
 * the pages copied for it at the fork. */
void mm_adopt_private(uint32_t c);
/* The Linux PROT_* bits of the region holding va; -1 outside every region. */
int mm_prot_at(uint64_t va);
/* How many regions the program has, and how many it may have. */
uint32_t mm_region_count(void);
/* A fault mm_fault_in answers with SIGBUS: a file page past the end. */
#define MM_FAULT_SIGBUS (-1007)
/* MAP_SHARED of the tmpfs file v from byte off (page-aligned) at addr
 * (0: anywhere; else MAP_FIXED): the address or -errno. */
int64_t mm_map_file(uint64_t addr, uint64_t len, int prot, void *v, uint64_t off);
/* The file v was cut to size bytes: our pages of it past the end go, so a
 * touch there faults (SIGBUS). */
void mm_file_truncated(void *v, uint64_t size);
/* fork (in the parent, the child exists): the child's regions count too.
 * execve and the end of the process: every file and System V page is
 * unmapped and the file regions no longer count. */
void mm_files_fork(void);
void mm_files_detach(void);
/* Where the word at uaddr lives in the shared segment when a shared
 * region (a file, System V memory) maps it: its address there, else 0. */
uint64_t mm_shared_word(uint64_t uaddr);
/* mincore: one byte per page of [addr, addr+len) into the program's uvec:
 * 0, -ENOMEM outside every region, -EINVAL, -EFAULT. */
int64_t mm_mincore(uint64_t addr, uint64_t len, uint8_t *uvec);
/* 0 when every page of [addr, addr+len) is in some region, else -ENOMEM. */
int mm_range_mapped(uint64_t addr, uint64_t len);

/* Maps [addr, addr+len) onto the shared segment's pages from byte offset
 * off (page aligned), shared with every process that maps them: addr 0
 * chooses the place.  The address, or -errno. */
int64_t mm_map_shared(uint64_t addr, uint64_t len, int prot, uint64_t off);
/* The segment offset mapped at addr (a region start made by
 * mm_map_shared) and the length mapped from there on, at most max
 * (several regions when an mprotect split it); -EINVAL when there is
 * none. */
int64_t mm_shared_at(uint64_t addr, uint64_t max, uint64_t *len);

/* Reserves an anonymous region for the allocator: 0 or -errno. */
int mm_reserve(uint64_t addr, uint64_t len, int prot);
/* Records an exec'd image's bss past its file's pages: demand-zero, as
 * mm_reserve, but a region of its own, as Linux maps it. */
int mm_add_bss(uint64_t addr, uint64_t len, int prot);
/* Gives the resident pages of a range back to the pool; the region stays. */
void mm_discard(uint64_t addr, uint64_t len);

/* alloc.c: the library OS's own heap (zeroed blocks; NULL when out of
 * memory).  Pages are 4 KiB, page aligned, without a header. */
void *lo_alloc(size_t size);
void *lo_realloc(void *p, size_t size);
void lo_free(void *p);
void *lo_page_alloc(void);
void lo_page_free(void *p);

/* uaccess.S: copies to and from the program's memory; a bad pointer gives
 * -EFAULT (the fault handler resumes at lo_uaccess_fault). */
int64_t lo_copy_in(void *dst, const void *user_src, size_t n);
int64_t lo_copy_out(void *user_dst, const void *src, size_t n);
int64_t lo_strncpy_in(char *dst, const char *user_src, size_t max);
int64_t lo_touch_write(void *user);
extern const char lo_uaccess_begin[], lo_uaccess_end[], lo_uaccess_fault[];

/* time.c */
uint64_t time_now_ns(void);
int64_t time_set_realtime_ns(uint64_t ns);

/* System-call handlers outside dispatch.c take the six raw arguments. */
#define LO_CALL(name) int64_t name(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, \
				   uint64_t a4, uint64_t a5)
#define UNUSED_ARGS (void)a0, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5

/* fs_calls.c: the file system calls */
LO_CALL(sys_open);
LO_CALL(sys_openat);
LO_CALL(sys_creat);
LO_CALL(sys_close);
LO_CALL(sys_read);
LO_CALL(sys_write);
LO_CALL(sys_pread64);
LO_CALL(sys_pwrite64);
LO_CALL(sys_readv);
LO_CALL(sys_writev);
LO_CALL(sys_preadv);
LO_CALL(sys_pwritev);
LO_CALL(sys_lseek);
LO_CALL(sys_ioctl);
LO_CALL(sys_getdents64);
LO_CALL(sys_stat);
LO_CALL(sys_lstat);
LO_CALL(sys_fstat);
LO_CALL(sys_newfstatat);
LO_CALL(sys_statx);
LO_CALL(sys_mkdir);
LO_CALL(sys_mkdirat);
LO_CALL(sys_mknod);
LO_CALL(sys_mknodat);
LO_CALL(sys_flock);
LO_CALL(sys_rmdir);
LO_CALL(sys_unlink);
LO_CALL(sys_unlinkat);
LO_CALL(sys_rename);
LO_CALL(sys_renameat);
LO_CALL(sys_renameat2);
LO_CALL(sys_link);
LO_CALL(sys_linkat);
LO_CALL(sys_symlink);
LO_CALL(sys_symlinkat);
LO_CALL(sys_readlink);
LO_CALL(sys_readlinkat);
LO_CALL(sys_chdir);
LO_CALL(sys_fchdir);
LO_CALL(sys_getcwd);
LO_CALL(sys_dup);
LO_CALL(sys_dup2);
LO_CALL(sys_dup3);
LO_CALL(sys_fcntl);
LO_CALL(sys_ftruncate);
LO_CALL(sys_truncate);
LO_CALL(sys_fsync);
LO_CALL(sys_umask);
LO_CALL(sys_access);
LO_CALL(sys_faccessat);
LO_CALL(sys_faccessat2);
LO_CALL(sys_chmod);
LO_CALL(sys_fchmod);
LO_CALL(sys_fchmodat);
LO_CALL(sys_chown);
LO_CALL(sys_lchown);
LO_CALL(sys_fchown);
LO_CALL(sys_fchownat);
LO_CALL(sys_utimensat);
LO_CALL(sys_statfs);
LO_CALL(sys_fstatfs);
LO_CALL(sys_pipe);
LO_CALL(sys_pipe2);
LO_CALL(sys_sendfile);

/* resource.c: resource limits and usage */
LO_CALL(sys_prlimit64);
LO_CALL(sys_getrlimit);
LO_CALL(sys_setrlimit);
LO_CALL(sys_getrusage);
LO_CALL(sys_times);
LO_CALL(sys_sched_getaffinity);
LO_CALL(sys_sched_setaffinity);
/* A new kernel thread (slot) runs on the CPUs of the calling thread, as a
 * Linux thread or child inherits them; had is the mask it has now (0:
 * every CPU), so a fresh one costs no call.  Returns the mask given. */
uint64_t affinity_inherit(int64_t slot, uint64_t had);
/* The soft limit of an RLIMIT_* resource. */
uint64_t rlimit_cur(int resource);
/* fork: 0, or -EAGAIN at RLIMIT_NPROC. */
int rlimit_fork_check(void);
/* A forked child's usage starts afresh. */
void rlimit_after_fork(void);
/* execve: the limits the next image keeps (LO_RLIMITS entries). */
void rlimit_exec_state(struct lo_rlimit *to);

/* diepoint.c: a test's chosen point of fork or vfork to end at
 * (include/exo/diepoint.h): prctl EXO_PR_DIE_AT; each point, which ends
 * the process there when it is the chosen one; a forked child's start. */
int64_t die_point_choose(uint64_t point);
int64_t grow_point_choose(uint64_t point);
/* Tests: a new chunk in the pool now (0 or -ENOMEM); whether every chunk
 * is a FRAME cap we hold with its pages (0, or -EIO). */
int64_t mm_pool_grow(void);
int64_t mm_pool_check(void);
void die_point(uint32_t point);
void die_point_after_fork(void);

/* fmap.c: file mappings */
int64_t fmap_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off);
/* MAP_SHARED|MAP_ANONYMOUS: a file with no name, mapped. */
int64_t fmap_shared_anon(uint64_t addr, uint64_t len, int prot, int flags);
LO_CALL(sys_msync);
LO_CALL(sys_mincore);
LO_CALL(sys_memfd_create);

/* sysvipc.c: System V IPC */
LO_CALL(sys_shmget);
LO_CALL(sys_shmat);
LO_CALL(sys_shmdt);
LO_CALL(sys_shmctl);
LO_CALL(sys_semget);
LO_CALL(sys_semop);
LO_CALL(sys_semtimedop);
LO_CALL(sys_semctl);
LO_CALL(sys_msgget);
LO_CALL(sys_msgsnd);
LO_CALL(sys_msgrcv);
LO_CALL(sys_msgctl);
/* fork: counts the child's attachments of shared memory segments. */
void sysv_fork_attachments(void);
/* An ending process or execve: its attachments are gone. */
void sysv_detach_all(void);

/* dispatch.c */
/* The process id (the env id). */
int64_t libos_pid(void);
int64_t libos_dispatch(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5);
_Noreturn void libos_exit(uint64_t status);

#endif
