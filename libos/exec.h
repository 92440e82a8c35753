/*
 * execve in place: the hand-over from the old image's library OS to the
 * new image's (libos/exec.c, libos/exec_stub.S, docs/LIBOS.md "execve").
 *
 * The process keeps its env, so its pid, its caps (but the old image's
 * frames) and the shared segment survive.  The old library OS builds the
 * new image's pages and a record, struct exec_handover, in frames of their
 * own at EXEC_RECORD_VA; a stub at EXEC_STUB_VA (outside every image)
 * deletes the old image's caps, maps the new pages and jumps to the new
 * entry with rdi pointing at the record, where the first program gets its
 * struct exo_start.  The new library OS sees the magic, adopts the record
 * (libos/init.c) and then frees its frames.
 */
#ifndef EXO_LIBOS_EXEC_H
#define EXO_LIBOS_EXEC_H

#include <stdint.h>

#include "include/exo/abi.h"
#include "libos/libos.h"

#define EXEC_MAGIC 0x3163657845787845ull	/* "ExExec1" */
#define EXEC_MAX_RUNS 32			/* image runs (512 pages at most each), the stack */
#define EXEC_MAX_DELETE 512			/* every slot */
#define EXEC_MAX_ZERO 24			/* demand-zero runs: bss past the file, the stack */
#define EXEC_RESERVE_PAGES 48			/* frames for the new image's first touches */
#define EXEC_BOOT_STACK 8192			/* its first fault handler's stack, in the record */

/* Frames of the new image: pages at va with Linux PROT_* bits. */
struct exec_run {
	uint64_t va, pages, slot;
	int64_t prot;
};

/* What the stub does, in this order: delete caps (one CAP_DELETE_LIST),
 * map runs, jump. */
struct exec_plan {
	uint64_t ndelete;
	uint64_t delete[EXEC_MAX_DELETE];
	uint64_t nrun;
	struct exec_run run[EXEC_MAX_RUNS];
	uint64_t entry, rsp, record;
	/* not read by the stub: pages execve does not allocate (va, pages,
	 * slot 0, Linux PROT_* bits), which the new image records as
	 * anonymous demand-zero memory, and the reserve its start draws on
	 * for their first touches before its memory tables exist (the pages
	 * used, at reserve_va[0..reserve_used)) */
	uint64_t nzero;
	struct exec_run zero[EXEC_MAX_ZERO];
	uint64_t reserve_slot, reserve_pages, reserve_used;
	uint64_t reserve_va[EXEC_RESERVE_PAGES];
};

struct exec_handover {
	uint64_t magic;			/* EXEC_MAGIC: the first word, where exo_start's is */
	uint64_t size;			/* bytes of the record and its strings */
	uint64_t record_slot;		/* its frames (and the stub's): the new image frees them */
	uint64_t stub_slot;
	int64_t pid;
	uint64_t thread_slot;		/* the calling thread, the new image's only one */
	int64_t uart_slot[3];		/* COM2, COM3 caps for fds 1, 2 */
	uint64_t sig_ignored;		/* SIG_IGN dispositions kept (bit n-1: signal n) */
	uint64_t sig_mask, sig_pending;
	uint64_t proc_files;		/* the process's struct lo_proc_files in the shared
					   segment; 0 while the segment is per image */
	struct child children[MAX_CHILDREN];
	struct exo_start start;		/* the first program's, with this image's entry,
					   headers and end; devices only in the first env */
	uint32_t argc, envc;		/* then the strings, from strings_off */
	uint64_t strings_off, strings_len;
	uint64_t execfn_off;		/* the path as given */
	struct exec_plan plan;
	struct lo_rlimit rlim[LO_RLIMITS];	/* the resource limits kept (libos/resource.c) */
	uint64_t rlim_valid;
	uint64_t shared_chunks;		/* the shared segment's caps, from SH_SLOT0 */
	uint64_t cpu_mask;		/* the calling thread's affinity, kept (0: every CPU) */
};

/* The record this image was started with (copied), or NULL after a boot
 * or a fork: where the process and file layers find what they keep. */
const struct exec_handover *exec_handover(void);

/* Start-up (libos/init.c), in this order: */
/* keeps the start information (for fork's children and the next execve) */
void exec_note_start(const struct exo_start *st);
/* an exec'd image copies the record: the start information to use */
const struct exo_start *exec_adopt(const struct exec_handover *rec);
/* first (libos/entry.S registers exec_boot_fault_entry): maps the pages
 * of [va, va + len) that lie in the image's demand-zero runs and are not
 * mapped yet from execve's reserve at once, with one call a run (the
 * private block, which the fault handler itself uses; what start-up is
 * sure to touch, instead of a fault a page) */
void exec_boot_map(uint64_t va, uint64_t len);
/* until then its fault handler (from libos/entry.S): maps a demand-zero
 * page's first touch from the reserve, or ends the program */
void exec_boot_fault(struct exo_fault *f);
/* after mm_init: its frames, demand-zero regions, thread slot and signal
 * dispositions */
void exec_adopt_memory(void);
/* once the library OS's own fault handler is registered: the reserve's
 * frames join the pool, those touched as resident pages */
void exec_adopt_reserve(void);
/* the arguments (the args module's format) and the path execve was given */
const uint8_t *exec_args(uint64_t *size, const char **execfn);
/* once the initial stack is built: the record's frames go */
void exec_release_record(void);

/* Reads a whole regular file the program may execute (path in libOS
 * memory, from the working directory): its bytes in the libOS heap. */
int exec_read_exe(const char *path, uint8_t **out, uint64_t *size);

_Static_assert(EXO_PROT_WRITE == 2 && EXO_PROT_EXEC == 4, "Linux's PROT_* bits and the kernel's agree");
/* The rights a cap on frames of an image run with protection prot (Linux's
 * or the kernel's bits) is granted with (fork, posix_spawn): a run not writable may map the
 * copy of its file that every image of it shares, whose caps have no
 * WRITE (libos/exec.c). */
uint32_t exec_run_rights(int64_t prot);

/* fork.c: the child gets the initramfs module's cap in the same slot */
int exec_fork_grant(int64_t env);

/* libos/exec_stub.S: position-independent, copied to EXEC_STUB_VA. */
extern const uint8_t exec_stub_begin[], exec_stub_end[];

/* The file layer closes O_CLOEXEC descriptors before the switch (weak
 * default here until it provides its own). */
void fd_close_on_exec(void);

/* signal.c: dispositions across execve */
void lo_signal_exec_state(uint64_t *ignored, uint64_t *mask, uint64_t *pending);
void lo_signal_adopt(uint64_t ignored, uint64_t mask, uint64_t pending);

/* vfork and clone(CLONE_VFORK): the child on stack (0: the caller's);
 * returns once the child has called execve or ended. */
int64_t libos_vfork(uint64_t stack);
int64_t libos_fork(void);

/* libos/foreign.c: the personality's loader (user/ld-exo/ld-exo.c) */
int exo_run_foreign(const char *path, int argc, char **argv, char **envp);

LO_CALL(sys_execve);
LO_CALL(sys_execveat);

#endif
