/*
 * lwIP's platform header for the library OS: types from the compiler's
 * headers, diagnostics through lo_report, randomness from the kernel's
 * CSPRNG, and the string routines redirected to the libOS's own (handlers
 * never call musl: the program may be inside it when it traps).
 */
#ifndef EXO_LWIP_ARCH_CC_H
#define EXO_LWIP_ARCH_CC_H

#include <stddef.h>
#include <stdint.h>

#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_INTTYPES_H 0
#ifndef BYTE_ORDER
#define BYTE_ORDER LITTLE_ENDIAN
#endif

void *lo_memcpy(void *dst, const void *src, size_t n);
void *lo_memset(void *dst, int c, size_t n);
size_t lo_strlen(const char *s);
int lo_memcmp(const void *a, const void *b, size_t n);
void *netstack_memmove(void *dst, const void *src, size_t n);
int netstack_strncmp(const char *a, const char *b, size_t n);
int netstack_atoi(const char *s);
void netstack_assert(const char *msg, const char *file, int line);
uint32_t netstack_rand(void);

#define memcpy lo_memcpy
#define memset lo_memset
#define memcmp lo_memcmp
#define memmove netstack_memmove
#define strlen lo_strlen
#define strncmp netstack_strncmp
#define atoi netstack_atoi

#define LWIP_PLATFORM_DIAG(x) do { } while (0)
#define LWIP_PLATFORM_ASSERT(x) netstack_assert((x), __FILE__, __LINE__)
#define LWIP_RAND() netstack_rand()

#endif
