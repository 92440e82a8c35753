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
/* Formats a short diagnostic line to stderr (%s %d %x %p only). */
void lo_report(const char *fmt, ...);

/* State the fault handler writes: one page-aligned block that fork copies
 * for the child at once instead of sharing it copy-on-write. */
#define MAX_REGIONS 256
#define MAX_CHUNKS 256
#define RESIDENT_SLOTS 65536		/* power of two */
#define MAX_CHILDREN 64
#define RES_COW 1			/* shared at a fork: copy before writing */
#define RES_SHARED 2			/* another env may map the frame */

struct region {
	uint64_t start, end;	/* [start, end), page aligned; end == 0: unused */
	int prot;
};

struct chunk {
	int64_t slot;		/* frame cap; 0: unused */
	uint32_t pages;
	uint32_t fixed;		/* image or stack: never handed out */
	uint64_t used[8];	/* bit per page */
	uint64_t dirty[8];	/* was used: zero before reuse */
};

struct resident {
	uint64_t va;		/* 0: empty, 1: deleted */
	uint16_t chunk, index;
	uint8_t flags;		/* RES_* */
};

struct child {
	int64_t pid, env, thread, budget;	/* pid 0: unused */
};

struct libos_private {
	struct exo_reflect reflect;		/* offset 0: the kernel writes it */
	struct exo_regs at_call;		/* offset 16: registers at the last
						   reflected call (libos/entry.S) */
	uint8_t exception_stack[32768] __attribute__((aligned(16)));
	struct resident resident[RESIDENT_SLOTS];
	struct region regions[MAX_REGIONS];
	struct chunk chunks[MAX_CHUNKS];
	struct child children[MAX_CHILDREN];
	uint64_t heap_start, heap_end, mmap_next;
	uint32_t next_chunk_pages;
	int64_t uart_slot[3];			/* I/O-port caps of COM2, COM3 (by fd) */
} __attribute__((aligned(4096)));
_Static_assert(__builtin_offsetof(struct libos_private, reflect) == 0, "entry.S uses lp+0");
_Static_assert(__builtin_offsetof(struct libos_private, at_call) == 16, "entry.S uses lp+16");
_Static_assert(sizeof(struct exo_regs) == 152, "entry.S stores exo_regs by offset");

extern struct libos_private lp;

/* mm.c */
void mm_init(uint64_t image_end);
int64_t mm_brk(uint64_t addr);
int64_t mm_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off);
int64_t mm_munmap(uint64_t addr, uint64_t len);
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
/* Takes over pages the kernel mapped (prot_of_page: Linux PROT_* per page,
 * 0 for none) as a fixed chunk of frame cap slot. */
void mm_adopt(int64_t slot, uint64_t va, uint64_t pages, const int *prot_of_page);

/* time.c */
uint64_t time_now_ns(void);
int64_t time_set_realtime_ns(uint64_t ns);

/* dispatch.c */
int64_t libos_dispatch(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5);
_Noreturn void libos_exit(uint64_t status);

#endif
