/*
 * Unmodified static Linux programs (docs/LIBOS.md "Programs not built with
 * tools/exo-cc"): the personality image, a program built by tools/exo-cc
 * and linked away from ordinary programs' addresses (user/ld-exo), calls
 * exo_run_foreign from its main.  The foreign program's segments are put
 * into this address space as anonymous mappings with its permissions, its
 * break starts after it, and it gets a stack of its own with the initial
 * stack a Linux kernel builds; then it runs, and its `syscall`
 * instructions reflect to this library OS as a linked program's do.
 */
#include "libos/libos.h"
#include "libos/elf.h"
#include "libos/exec.h"
#include "libos/lx.h"
#include "libos/thread.h"
#include "libos/vfs.h"
#include "include/exo/native.h"

#define PAGE 4096ull
#define STACK_TOP 0x00007ff000000000ull	/* the foreign program's stack */
#define STACK_SIZE (8ull << 20)
#define MAP_PRIVATE 0x02
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define ENOEXEC 8

extern char __executable_start[], _end[];

/* Copies s below *top; its address. */
static uint64_t push(uint64_t *top, const void *s, uint64_t n)
{
	*top -= n;
	lo_memcpy((void *)*top, s, n);
	return *top;
}

/* The segments at their addresses with their permissions: 0 or -errno. */
static int load(const uint8_t *file, const struct elf_image *img)
{
	uint64_t self_lo = (uint64_t)__executable_start, self_hi = (uint64_t)_end;
	for (int i = 0; i < img->nrun; i++) {
		const struct elf_run *r = &img->run[i];
		uint64_t end = r->va + r->pages * PAGE;
		if (r->va < self_hi && end > self_lo)
			return -ENOMEM;		/* over the personality itself */
		int64_t a = mm_mmap(r->va, r->pages * PAGE, 3, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0);
		if (a < 0)
			return (int)a;
	}
	for (int i = 0; i < img->nseg; i++)
		lo_memcpy((void *)img->seg[i].vaddr, file + img->seg[i].offset, img->seg[i].filesz);
	for (int i = 0; i < img->nrun; i++) {
		int64_t r = mm_mprotect(img->run[i].va, img->run[i].pages * PAGE, img->run[i].prot);
		if (r < 0)
			return (int)r;
	}
	lp.heap_start = lp.heap_end = img->end;		/* brk follows the program */
	return 0;
}

/* The initial stack a Linux kernel builds: argc, argv, envp, auxv, with the
 * strings, AT_RANDOM's bytes and the platform name above; its address. */
static uint64_t build_stack(const struct elf_image *img, int argc, char **argv, char **envp)
{
	uint64_t top = STACK_TOP - 16, envc = 0;
	while (envp[envc])
		envc++;
	uint64_t *ptrs = lo_alloc(((uint64_t)argc + envc + 1) * 8);
	if (!ptrs)
		return 0;
	for (int i = 0; i < argc; i++)
		ptrs[i] = push(&top, argv[i], lo_strlen(argv[i]) + 1);
	for (uint64_t i = 0; i < envc; i++)
		ptrs[argc + i] = push(&top, envp[i], lo_strlen(envp[i]) + 1);
	uint64_t platform = push(&top, "x86_64", 7);
	uint8_t rnd[16];
	exo_call(EXO_SYS_RANDOM, rnd, 16);
	uint64_t random = push(&top, rnd, 16);
	uint32_t a, b, c, d;
	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	uint64_t auxv[][2] = {
		{ 3, img->phdr }, { 4, 56 }, { 5, img->phnum }, { 6, PAGE }, { 7, 0 }, { 8, 0 },
		{ 9, img->entry }, { 11, 0 }, { 12, 0 }, { 13, 0 }, { 14, 0 }, { 15, platform },
		{ 16, d }, { 17, 100 }, { 23, 0 }, { 25, random }, { 26, 0 },
		{ 31, ptrs[0] }, { 0, 0 },
	};
	uint64_t words = 1 + (uint64_t)argc + 1 + envc + 1 + sizeof auxv / 8;
	top = (top - words * 8) & ~15ull;
	uint64_t *sp = (uint64_t *)top;
	*sp++ = (uint64_t)argc;
	for (int i = 0; i < argc; i++)
		*sp++ = ptrs[i];
	*sp++ = 0;
	for (uint64_t i = 0; i < envc; i++)
		*sp++ = ptrs[argc + i];
	*sp++ = 0;
	lo_memcpy(sp, auxv, sizeof auxv);
	lo_free(ptrs);
	return top;
}

/* Loads the static program at path and runs it with argv and envp (argv
 * and envp are the personality's own, in its memory).  Returns -errno
 * when the program cannot run: ENOENT, EACCES, ENOEXEC (not a static
 * x86_64 program, or one built by tools/exo-cc), ENOMEM. */
int exo_run_foreign(const char *path, int argc, char **argv, char **envp)
{
	uint8_t *file;
	uint64_t size;
	struct elf_image img;
	lo_lock();
	int r = exec_read_exe(path, &file, &size);
	if (r == 0) {
		r = elf_parse(file, size, &img);
		if (r == 0 && img.exo)
			r = -ENOEXEC;		/* it has a library OS of its own */
		if (r == 0)
			r = load(file, &img);
		lo_free(file);
	}
	uint64_t sp = 0;
	if (r == 0 && mm_mmap(STACK_TOP - STACK_SIZE, STACK_SIZE, 3, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0) < 0)
		r = -ENOMEM;
	if (r == 0 && !(sp = build_stack(&img, argc, argv, envp)))
		r = -ENOMEM;
	if (r == 0) {			/* /proc/self is the program's now */
		uint32_t envc = 0;
		while (envp[envc])
			envc++;
		procfs_note_start(argc, (const char *const *)argv, (const char *const *)envp, envc, path,
				  STACK_TOP);
	}
	lo_unlock();
	if (r)
		return r;
	__asm__ volatile("movq %%rcx, %%rsp\n\t"
			 "xorl %%ebp, %%ebp\n\t"
			 "xorl %%edx, %%edx\n\t"	/* no function for atexit */
			 "jmp *%%rax"
			 : : "c"(sp), "a"(img.entry) : "memory");
	__builtin_unreachable();
}
