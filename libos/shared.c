/*
 * The shared segment's interface (libos/shared.h), first version: one
 * process only.  Blocks come from the library OS's own heap and waits poll
 * the word every millisecond, so the file layer can be written against the
 * interface before processes share memory; the process layer replaces this
 * file with the segment every process maps.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/shared.h"
#include "libos/thread.h"

#define POLL_NS 1000000ull

/* Tells the file layer (libos/fd.c) that each process holds a private copy
 * of these blocks, so a fork's copies of its files are not shared. */
const int sh_single_process = 1;

void *sh_alloc(size_t size)
{
	return lo_alloc(size);
}

void *sh_realloc(void *p, size_t size)
{
	return lo_realloc(p, size);
}

void sh_free(void *p)
{
	lo_free(p);
}

int64_t sh_wait(const volatile uint32_t *word, uint32_t expected, uint64_t deadline_ns)
{
	while (*word == expected) {
		uint64_t now = time_now_ns();
		if (deadline_ns && now >= deadline_ns)
			return -EXO_ETIMEDOUT;
		uint64_t until = now + POLL_NS;
		if (deadline_ns && deadline_ns < until)
			until = deadline_ns;
		if (lo_sleep_until(until) == -EINTR)
			return -EINTR;
	}
	return 0;
}

void sh_wake(const volatile uint32_t *word)
{
	(void)word;
}

struct lo_proc_files *proc_files(void)
{
	static struct lo_proc_files files = { .umask = 022 };
	return &files;
}
