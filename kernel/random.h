/*
 * The kernel CSPRNG: ChaCha20 keyed from RDSEED or RDRAND, or, on CPUs with
 * neither, from TSC jitter.  Fast key erasure: every request ends by
 * replacing the key with fresh keystream, so earlier output cannot be
 * recomputed from a later state.
 */
#ifndef EXO_KERNEL_RANDOM_H
#define EXO_KERNEL_RANDOM_H

#include <stddef.h>

/* Seeds the generator; returns the name of the entropy source used. */
const char *random_init(void);
void random_bytes(void *buf, size_t len);

#endif
