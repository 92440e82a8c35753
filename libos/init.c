/*
 * Start-up: registers the personality entry and the fault handler, sets up
 * the console and memory, then builds the initial stack a Linux program
 * expects (argc, argv, envp, auxv) so musl's _start runs unchanged.  argv
 * and envp come from a GRUB module named "args" (tools/exo-run writes it):
 *   u32 argc, u32 envc, then argc + envc NUL-terminated strings,
 * so empty arguments and arguments with spaces arrive intact.
 */
#include "libos/libos.h"
#include "libos/vfs.h"
#include "libos/proc.h"
#include "libos/thread.h"
#include "libos/exec.h"
#include "net/lwip/netstack.h"
#include "include/exo/native.h"

#define MAX_ARGS 1024
#define AT_NULL 0
#define AT_PHDR 3
#define AT_PHENT 4
#define AT_PHNUM 5
#define AT_PAGESZ 6
#define AT_ENTRY 9
#define AT_UID 11
#define AT_EUID 12
#define AT_GID 13
#define AT_EGID 14
#define AT_HWCAP 16
#define AT_CLKTCK 17
#define AT_SECURE 23
#define AT_RANDOM 25
#define AT_EXECFN 31
#define AT_SYSINFO_EHDR 33

extern const char libos_vdso[];

const struct exo_start *libos_start_info;
const volatile struct exo_kinfo *libos_kinfo;
struct libos_private lp;

void libos_fault_entry(void);

/* Maps the "args" module read-only; returns its address and size. */
static const uint8_t *map_args(uint64_t *size)
{
	const struct exo_start *st = libos_start_info;

	for (uint64_t i = 0; i < st->nmodules; i++) {
		const struct exo_start_module *m = &st->modules[i];
		if (lo_memcmp(m->name, "args", 5) != 0)
			continue;
		for (uint64_t off = 0; off < m->size; off += 4096)
			if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, INIT_ARGS_VA + off, m->slot,
				     off / 4096, EXO_PROT_READ))
				return 0;
		*size = m->size;
		return (const uint8_t *)INIT_ARGS_VA;
	}
	return 0;
}

/* Splits the args blob into string pointers; returns argc, or -1 if bad. */
static int parse_args(const uint8_t *blob, uint64_t size, const char **strs, uint32_t *envc)
{
	uint32_t argc, ec;

	if (!blob || size < 8)
		return -1;
	lo_memcpy(&argc, blob, 4);
	lo_memcpy(&ec, blob + 4, 4);
	if (argc == 0 || argc + ec > MAX_ARGS)
		return -1;
	uint64_t off = 8;
	for (uint32_t i = 0; i < argc + ec; i++) {
		uint64_t end = off;
		while (end < size && blob[end])
			end++;
		if (end == size)
			return -1;
		strs[i] = (const char *)blob + off;
		off = end + 1;
	}
	*envc = ec;
	return (int)argc;
}

/* Copies s below *top; returns its new address. */
static char *push_string(uint64_t *top, const char *s)
{
	size_t n = lo_strlen(s) + 1;
	*top -= n;
	lo_memcpy((void *)*top, s, n);
	return (char *)*top;
}

/* Records the pages the kernel mapped for the image and the stack, with
 * the permissions of their segments, so fork can share them. */
static void adopt_image_and_stack(const struct exo_start *st)
{
	static uint8_t prot[65536];	/* bytes: the loader gives bss frames at boot */
	const struct { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; } *ph =
		(const void *)st->phdr;
	uint64_t lo = ~0ull;

	for (uint64_t i = 0; i < st->phnum; i++)
		if (ph[i].type == 1 && ph[i].memsz && ph[i].vaddr < lo)
			lo = ph[i].vaddr;
	lo &= ~4095ull;
	uint64_t pages = (st->image_end - lo) / 4096;
	if (pages > 65536)
		return;
	for (uint64_t i = 0; i < st->phnum; i++) {
		if (ph[i].type != 1 || !ph[i].memsz)
			continue;
		for (uint64_t va = ph[i].vaddr & ~4095ull; va < ph[i].vaddr + ph[i].memsz; va += 4096)
			prot[(va - lo) / 4096] |= 1 | (ph[i].flags & 2 ? 2 : 0) | (ph[i].flags & 1 ? 4 : 0);
	}
	mm_adopt(EXO_SLOT_IMAGE, lo, pages, prot);
	for (int i = 0; i < EXO_STACK_PAGES; i++)
		prot[i] = 3;
	mm_adopt(EXO_SLOT_STACK, EXO_STACK_TOP - EXO_STACK_PAGES * 4096ull, EXO_STACK_PAGES, prot);
}

/* The library OS's fault handler, on the private block's stack. */
static void fault_handler_set(void)
{
	exo_call(EXO_SYS_SET_FAULT_HANDLER, libos_fault_entry,
		 lp.exception_stack + sizeof lp.exception_stack, sizeof lp.exception_stack);
}

/* The stack start-up writes below its top (the strings, this frame's
 * pointer array, the calls it makes): an exec'd image maps it at once. */
#define BOOT_STACK_TOUCHED 16384ull

uint64_t libos_init(const struct exo_start *st, uint64_t stack_top)
{
	static const char *strs[MAX_ARGS];
	static const char *fallback[1] = { "program" };
	uint64_t size = 0;
	uint32_t envc = 0;
	const char *execfn = 0;
	int exec = ((const struct exec_handover *)st)->magic == EXEC_MAGIC;

	if (exec) {
		/* first the block the fault handler works in, at once */
		exec_boot_map((uint64_t)&lp, sizeof lp);
		exec_boot_map(stack_top - BOOT_STACK_TOUCHED, BOOT_STACK_TOUCHED);
		st = exec_adopt((const struct exec_handover *)st);	/* execve's record */
	} else {
		exec_note_start(st);
	}
	libos_start_info = st;
	libos_kinfo = (const volatile struct exo_kinfo *)EXO_KINFO_VA;
	lo_threads_init();
	if (!exec)
		fault_handler_set();
	console_init();
	mm_init(st->image_end);
	if (exec) {
		/* execve's first fault handler served the demand-zero pages
		 * touched so far (libos/entry.S): ours takes over once the
		 * tables know them, and its frames join the pool */
		exec_adopt_memory();
		fault_handler_set();
		exec_adopt_reserve();
	} else {
		adopt_image_and_stack(st);
	}

	const char **argv = strs;
	const uint8_t *blob = exec ? exec_args(&size, &execfn) : map_args(&size);
	int argc = parse_args(blob, size, strs, &envc);
	if (argc < 0) {
		/* no arguments: a program the kernel took from an initramfs is
		 * its /sbin/init (docs/ABI.md), named so as Linux names it */
		for (uint64_t i = 0; i < st->nmodules; i++)
			if (lo_memcmp(st->modules[i].name, "initramfs", 10) == 0)
				fallback[0] = "/sbin/init";
		argv = fallback;
		argc = 1;
		envc = 0;
	}
	/* an exec'd image finds the segment and holds the lock execve held */
	if (exec ? shared_adopt() : shared_init(argv + argc, envc)) {
		lo_report("exoswarm: no shared segment\n");
		exo_call(EXO_SYS_EXIT, 127);
	}
	vfs_init();
	procfs_note_start(argc, argv, argv + argc, envc, execfn, stack_top);
	netstack_boot(argv + argc, envc);

	/* strings and AT_RANDOM at the top, then the pointer arrays */
	uint64_t top = stack_top;
	char *sargv[MAX_ARGS + 1];
	for (int i = 0; i < argc + (int)envc; i++)
		sargv[i] = push_string(&top, argv[i]);
	char *sexecfn = execfn ? push_string(&top, execfn) : sargv[0];
	top -= 16;
	uint8_t *random = (uint8_t *)top;
	exo_call(EXO_SYS_RANDOM, random, 16);
	top &= ~15ull;

	uint64_t auxv[][2] = {
		{ AT_PHDR, st->phdr }, { AT_PHENT, st->phent }, { AT_PHNUM, st->phnum },
		{ AT_PAGESZ, 4096 }, { AT_ENTRY, st->entry }, { AT_UID, 0 }, { AT_EUID, 0 },
		{ AT_GID, 0 }, { AT_EGID, 0 }, { AT_HWCAP, 0 }, { AT_CLKTCK, 100 },
		{ AT_SECURE, 0 }, { AT_RANDOM, (uint64_t)random },
		{ AT_EXECFN, (uint64_t)sexecfn }, { AT_SYSINFO_EHDR, (uint64_t)libos_vdso },
		{ AT_NULL, 0 },
	};
	uint64_t words = 1 + (uint64_t)argc + 1 + envc + 1 + sizeof auxv / 8;
	top -= words * 8;
	top &= ~15ull;
	uint64_t *sp = (uint64_t *)top;
	*sp++ = (uint64_t)argc;
	for (int i = 0; i < argc; i++)
		*sp++ = (uint64_t)sargv[i];
	*sp++ = 0;
	for (uint32_t i = 0; i < envc; i++)
		*sp++ = (uint64_t)sargv[argc + (int)i];
	*sp++ = 0;
	lo_memcpy(sp, auxv, sizeof auxv);
	if (exec)
		exec_release_record();
	lo_unlock_all();
	return top;
}

/* A user-level fault: demand-zero pages are mapped and the program goes
 * on; a fault inside a copy routine (libos/uaccess.S) makes it return
 * -EFAULT; anything else is reported and ends the program with the signal a
 * Linux program would die of. */
void libos_fault(struct exo_fault *f)
{
	int err = -13;
	if (f->vector == 14 && !(f->error & 1) && shared_fault(f->addr))
		return;					/* the shared segment: no lock needed */
	lo_lock();
	if (f->vector == 14 && !(f->error & 1))
		err = mm_fault_in(f->addr);		/* not present: demand-zero */
	else if (f->vector == 14 && (f->error & 3) == 3)
		err = mm_cow_fault(f->addr);		/* write to a present page */
	if (err == 0) {
		lo_unlock();
		return;
	}
	if (f->regs.rip >= (uint64_t)lo_uaccess_begin && f->regs.rip < (uint64_t)lo_uaccess_end) {
		f->regs.rip = (uint64_t)lo_uaccess_fault;	/* a bad pointer: -EFAULT */
		lo_unlock();
		return;
	}
	int sig = f->vector == 0 || f->vector == 16 || f->vector == 19 ? 8 :
		  f->vector == 6 ? 4 : f->vector == 3 ? 5 : err == MM_FAULT_SIGBUS ? 7 : 11;
	if (err != -12 && lo_signal_fault(&f->regs, sig, f->addr) == 0) {
		lo_unlock();
		return;					/* on to the program's handler */
	}
	const char *what = f->vector == 14 ? (f->error & 16 ? "execute" : f->error & 2 ? "write" : "read")
					   : "fault";
	lo_report("exoswarm: %s: signal %d: exception %d (%s) at address %p, rip %p%s\n",
		  "program", (int64_t)sig, (int64_t)f->vector, what, f->addr, f->regs.rip,
		  err == -12 ? ": out of memory" : "");
	proc_end_self(EXO_STATUS_SIGNALED(sig));
}
