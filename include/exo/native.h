/* Native ExoSwarm calls (see abi.h), for the library OS and for programs
 * that use the exokernel directly (tools/exo-cc puts include/ on the path:
 * #include <exo/native.h>). */
#ifndef EXO_NATIVE_H
#define EXO_NATIVE_H

#include <stdint.h>

#include "abi.h"

static inline int64_t exo_call6(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
				uint64_t a3, uint64_t a4, uint64_t a5)
{
	int64_t ret;
	register uint64_t r10 __asm__("r10") = a3;
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;
	__asm__ volatile("syscall" : "=a"(ret)
			 : "a"(nr), "D"(a0), "S"(a1), "d"(a2), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define exo_call(nr, ...) exo_call_n(nr, __VA_ARGS__, 0, 0, 0, 0, 0, 0)
#define exo_call_n(nr, a, b, c, d, e, f, ...) \
	exo_call6((nr), (uint64_t)(a), (uint64_t)(b), (uint64_t)(c), (uint64_t)(d), (uint64_t)(e), (uint64_t)(f))
#define exo_call0(nr) exo_call6((nr), 0, 0, 0, 0, 0, 0)

#endif
