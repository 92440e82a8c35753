/*
 * The ELF parser of execve (libos/exec.c) and of the personality's loader
 * (libos/foreign.c): portable C with no OS calls, so the host unit test
 * (tests/host/test_elf.c) and the fuzzer (tests/fuzz/fuzz_elf.c) run it
 * on hostile files.  It checks every header field against the file's size
 * with overflow-safe arithmetic and describes what to map; it maps nothing.
 */
#ifndef EXO_LIBOS_ELF_H
#define EXO_LIBOS_ELF_H

#include <stdint.h>

#define ELF_MAX_PHNUM 64		/* more program headers: ENOEXEC */
#define ELF_MAX_RUNS 16			/* page runs of loadable segments */
/* Segments must end below this: from here up lie what the library OS keeps
 * across execve (the shared segment at 0x7d0000000000, its heap at
 * 0x7e0000000000, the initramfs, execve's own windows and the private
 * block), which an image's segment must never be mapped over. */
#define ELF_USER_END 0x00007d0000000000ull
#define ELF_PIE_BASE 0x0000555555554000ull	/* where a static-PIE is put */

/* Linux PROT_* bits */
#define ELF_PROT_R 1
#define ELF_PROT_W 2
#define ELF_PROT_X 4

/* Bytes of one loadable segment: [vaddr, vaddr+filesz) from the file at
 * offset, then zeros up to vaddr+memsz (already relocated by base). */
struct elf_seg {
	uint64_t vaddr, memsz, offset, filesz;
};

/* Pages to map: [va, va + pages*4096) with Linux PROT_* bits, the union of
 * the segments that touch them (never write and execute together). */
struct elf_run {
	uint64_t va, pages;
	int prot;
};

struct elf_image {
	uint64_t base;			/* load bias: 0 for ET_EXEC */
	uint64_t entry;			/* relocated */
	uint64_t phdr;			/* the program headers' address once loaded, or 0 */
	uint16_t phnum, type;		/* ET_EXEC (2) or ET_DYN (3) */
	uint64_t end;			/* page above the highest segment */
	int exo;			/* carries the ExoSwarm note: built by tools/exo-cc */
	int nseg, nrun;
	struct elf_seg seg[ELF_MAX_PHNUM];
	struct elf_run run[ELF_MAX_RUNS];
};

/* Parses a whole file of size bytes: 0, -ENOEXEC (not a static x86_64
 * ELF executable we can load: bad magic, class, machine, type, a program
 * interpreter, a header or segment outside the file or out of order), or
 * -EACCES (a page both writable and executable, refused as W^X).
 * ET_DYN images are placed at ELF_PIE_BASE. */
int elf_parse(const uint8_t *file, uint64_t size, struct elf_image *img);
/* The same from the first head bytes of a file of size bytes, when its
 * program headers and notes lie there; else ELF_NEED_WHOLE (positive):
 * parse the whole file. */
#define ELF_NEED_WHOLE 1
int elf_parse_head(const uint8_t *head_bytes, uint64_t head, uint64_t size, struct elf_image *img);

/* The note tools/exo-cc's images carry (libos/exec_stub.S): name and type. */
#define ELF_EXO_NOTE_NAME "ExoSwarm"
#define ELF_EXO_NOTE_TYPE 0x4578

#endif
