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

/* mm.c */
void mm_init(uint64_t image_end);
int64_t mm_brk(uint64_t addr);
int64_t mm_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off);
int64_t mm_munmap(uint64_t addr, uint64_t len);
int64_t mm_mprotect(uint64_t addr, uint64_t len, int prot);
/* Maps a fresh zeroed page at va with Linux PROT_* bits: 0 or -errno. */
int mm_fault_in(uint64_t va);

/* time.c */
uint64_t time_now_ns(void);

/* dispatch.c */
int64_t libos_dispatch(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5);
_Noreturn void libos_exit(uint64_t status);

#endif
