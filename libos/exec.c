/*
 * execve in place (libos/exec.h has the hand-over; docs/LIBOS.md "execve").
 *
 * Everything that can fail is done while the old image still runs: the
 * path is resolved and read through the VFS, `#!` lines are followed,
 * argv and envp are copied in, the ELF file is checked (libos/elf.c) and
 * the new image's pages, stack and record are built in frames of their
 * own.  Only then do other threads end and the stub at EXEC_STUB_VA delete
 * the old image's caps (which unmaps all of its pages and gives its frames
 * back), map the new pages and jump to the new entry.  A program not built
 * by tools/exo-cc is run by the personality image PERSONALITY_PATH, which
 * loads it next to its own library OS (libos/foreign.c).
 */
#include "libos/libos.h"
#include "libos/cfs_vfs.h"
#include "libos/elf.h"
#include "libos/exec.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/shared.h"
#include "libos/spawn.h"
#include "libos/thread.h"
#include "libos/vfs.h"
#include "include/exo/native.h"

_Static_assert(ELF_USER_END <= SH_VA, "no image segment may be mapped over the shared segment");

#define PAGE 4096ull
/* The new image builds its initial stack in the top 64 KiB of its stack
 * (libos/entry.S), with up to 1024 strings (libos/init.c): E2BIG beyond. */
#define ARG_MAX_BYTES (56 * 1024ull)	/* strings and their pointers */
#define ARG_MAX_COUNT 1024
#define ARG_STRLEN_MAX ARG_MAX_BYTES
#define SCRIPT_DEPTH 5			/* #! interpreters followed, as Linux */
#define SCRIPT_LINE 256			/* bytes of a #! line looked at */
#define FILE_MAX (256ull << 20)
#define WINDOW_MAX (4ull << 30)		/* an image spans at most this */
#define ENOEXEC 8
#define E2BIG 7
#define RLIMIT_AS 9
#define SIGBUS_NR 7
#define SIGSEGV_NR 11
#define PERSONALITY_PATH "/lib/exo/ld-exo"

_Static_assert(EXO_SYS_CAP_DELETE_LIST == 0x4578 + 47 && EXO_SYS_PAGE_MAP == 0x4578 + 7 &&
	       EXO_SYS_SET_FAULT_HANDLER == 0x4578 + 27,
	       "exec_stub.S uses these numbers");
_Static_assert(__builtin_offsetof(struct exec_plan, nrun) == 4104 &&
	       __builtin_offsetof(struct exec_plan, run) == 4112 && sizeof(struct exec_run) == 32 &&
	       __builtin_offsetof(struct exec_plan, entry) == 4112 + 32 * EXEC_MAX_RUNS,
	       "exec_stub.S reads the plan by offset");

/* argv and envp in libOS memory: NUL-terminated strings one after another. */
struct strs {
	char *buf;
	uint64_t len, cap;
	uint32_t argc, envc;
};

static struct exo_start start_copy;	/* the first program's, kept across fork */
static struct exec_handover adopted;	/* this image's record, when exec'd */
static int exec_started;
static int64_t vfork_notify;	/* a vfork child: signalled at its execve */

/* Start-up keeps the start information, which fork's children and exec'd
 * images no longer find at EXO_START_VA. */
void exec_note_start(const struct exo_start *st)
{
	if (st != &start_copy)
		lo_memcpy(&start_copy, st, sizeof start_copy);
}

const struct exec_handover *exec_handover(void)
{
	return exec_started ? &adopted : 0;
}

/* The default until the file layer provides it: descriptors do not outlive
 * the image yet, so there is nothing to close. */
__attribute__((weak)) void fd_close_on_exec(void)
{
}

static int strs_add(struct strs *s, const char *str, uint64_t n)
{
	if (n + 1 > ARG_STRLEN_MAX)
		return -E2BIG;
	if (s->len + n + 1 > s->cap) {
		uint64_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + n + 1)
			cap *= 2;
		char *b = lo_realloc(s->buf, cap);
		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = cap;
	}
	lo_memcpy(s->buf + s->len, str, n);
	s->buf[s->len + n] = 0;
	s->len += n + 1;
	return 0;
}

/* The size Linux counts against the limit: strings and their pointers. */
static int strs_check(const struct strs *s)
{
	uint64_t words = (uint64_t)s->argc + s->envc + 2;
	return s->len + words * 8 > ARG_MAX_BYTES || s->argc + s->envc > ARG_MAX_COUNT ? -E2BIG : 0;
}

/* Appends the program's NULL-terminated string array: 0, -EFAULT, -E2BIG. */
static int copy_vector(struct strs *s, uint64_t uvec, uint32_t *count)
{
	static char tmp[ARG_STRLEN_MAX];	/* under the libOS lock */
	for (uint64_t i = 0; uvec; i++) {
		uint64_t p;
		if (lo_copy_in(&p, (const void *)(uvec + i * 8), 8))
			return -EFAULT;
		if (!p)
			return 0;
		int64_t n = lo_strncpy_in(tmp, (const char *)p, sizeof tmp);
		if (n < 0)
			return -EFAULT;
		if ((uint64_t)n == sizeof tmp)
			return -E2BIG;
		int r = strs_add(s, tmp, (uint64_t)n);
		if (r)
			return r;
		(*count)++;
		if (s->len + ((uint64_t)s->argc + s->envc + *count) * 8 > ARG_MAX_BYTES)
			return -E2BIG;
	}
	return 0;
}

/* The i-th string of s. */
static const char *strs_at(const struct strs *s, uint32_t i)
{
	const char *p = s->buf;
	while (i--)
		p += lo_strlen(p) + 1;
	return p;
}

/* A regular file the program may execute, by path: 0, -ENOENT, -EACCES
 * (not a regular file, no execute bit), -ENOMEM (too large). */
static int exe_lookup(const char *path, struct vnode **v)
{
	int r = vfs_lookup_k(vfs_cwd(), path, 1, v);
	if (r)
		return r;
	if (!LX_S_ISREG((*v)->mode) || !((*v)->mode & 0111) || !vops(*v)->read)
		return -EACCES;
	return (*v)->size > FILE_MAX ? -ENOMEM : 0;
}

/* Reads len bytes of v from off into buf: 0, or -errno (-EIO when the
 * file ends first). */
static int exe_read(struct vnode *v, uint8_t *buf, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		int64_t n = vops(v)->read(v, buf + done, len - done, off + done);
		if (n <= 0)
			return n < 0 ? (int)n : -EIO;
		done += (uint64_t)n;
	}
	return 0;
}

int exec_read_exe(const char *path, uint8_t **out, uint64_t *size)
{
	struct vnode *v;
	int r = exe_lookup(path, &v);
	if (r)
		return r;
	uint8_t *buf = lo_alloc(v->size ? v->size : 1);
	if (!buf)
		return -ENOMEM;
	if ((r = exe_read(v, buf, v->size, 0))) {
		lo_free(buf);
		return r;
	}
	*out = buf;
	*size = v->size;
	return 0;
}

/*
 * The file execve loads: its first bytes (the ELF and program headers, a
 * `#!` line), and the whole file only when its headers reach past them.
 * The segments are read from the file straight into the new image's
 * frames (build_image), not through a copy in the library OS's heap.
 */
#define EXE_HEAD 4096
struct exe {
	struct vnode *v;
	uint64_t size, head_len;
	uint8_t *whole;		/* lo_alloc'd, or 0 */
	uint8_t head[EXE_HEAD];
};

static int exe_open(const char *path, struct exe *x)
{
	lo_free(x->whole);
	x->whole = 0;
	int r = exe_lookup(path, &x->v);
	if (r)
		return r;
	x->size = x->v->size;
	x->head_len = x->size < EXE_HEAD ? x->size : EXE_HEAD;
	return exe_read(x->v, x->head, x->head_len, 0);
}

/* Parses x's ELF headers from its first bytes, or from the whole file. */
static int exe_parse(struct exe *x, struct elf_image *img)
{
	int r = elf_parse_head(x->head, x->head_len, x->size, img);
	if (r != ELF_NEED_WHOLE)
		return r;
	if (!(x->whole = lo_alloc(x->size)))
		return -ENOMEM;
	r = exe_read(x->v, x->whole, x->size, 0);
	return r ? r : elf_parse(x->whole, x->size, img);
}

/* Copies [off, off + len) of x to dst. */
static int exe_copy(const struct exe *x, uint8_t *dst, uint64_t len, uint64_t off)
{
	if (!x->whole)
		return exe_read(x->v, dst, len, off);
	lo_memcpy(dst, x->whole + off, len);
	return 0;
}

static int blank(char c) { return c == ' ' || c == '\t'; }

/* A `#!` line: the new argv is interpreter, its optional argument, the
 * script's path, then the old argv without argv[0] (as Linux does). */
static int script_argv(const uint8_t *f, uint64_t size, const char *path, struct strs *s)
{
	char line[SCRIPT_LINE];
	uint64_t n = 0;
	for (uint64_t i = 2; i < size && i < SCRIPT_LINE && f[i] != '\n'; i++)
		line[n++] = (char)f[i];
	uint64_t a = 0;
	while (a < n && blank(line[a]))
		a++;
	uint64_t b = a;
	while (b < n && !blank(line[b]) && line[b])
		b++;
	if (b == a)
		return -ENOEXEC;
	uint64_t c = b, e = n;
	while (c < e && blank(line[c]))
		c++;
	while (e > c && (blank(line[e - 1]) || line[e - 1] == 0))
		e--;
	struct strs t = { 0 };
	int r = strs_add(&t, line + a, b - a);
	t.argc = 1;
	if (!r && e > c) {
		r = strs_add(&t, line + c, e - c);
		t.argc++;
	}
	if (!r) {
		r = strs_add(&t, path, lo_strlen(path));
		t.argc++;
	}
	const char *old = s->argc ? strs_at(s, 1) : s->buf + s->len;
	if (!r && s->buf + s->len > old) {
		uint64_t rest = (uint64_t)(s->buf + s->len - old);
		if (t.len + rest > t.cap && !(t.buf = lo_realloc(t.buf, t.cap = t.len + rest)))
			r = -ENOMEM;
		if (!r) {
			lo_memcpy(t.buf + t.len, old, rest);
			t.len += rest;
			t.argc += s->argc ? s->argc - 1 : 0;
		}
	}
	t.envc = s->envc;
	if (r) {
		lo_free(t.buf);
		return r;
	}
	lo_free(s->buf);
	*s = t;
	return strs_check(s);
}

/* Puts the personality in front: argv becomes PERSONALITY_PATH, the
 * program's path, then its own argv. */
static int personality_argv(const char *path, struct strs *s)
{
	struct strs t = { 0 };
	int r = strs_add(&t, PERSONALITY_PATH, sizeof PERSONALITY_PATH - 1);
	if (!r)
		r = strs_add(&t, path, lo_strlen(path));
	if (!r && s->len && t.len + s->len > t.cap && !(t.buf = lo_realloc(t.buf, t.cap = t.len + s->len)))
		r = -ENOMEM;
	if (r) {
		lo_free(t.buf);
		return r;
	}
	lo_memcpy(t.buf + t.len, s->buf, s->len);
	t.len += s->len;
	t.argc = s->argc + 2;
	t.envc = s->envc;
	lo_free(s->buf);
	*s = t;
	return strs_check(s);
}

/* Follows `#!` lines and foreign programs to the exo image to load:
 * the file, parsed, and the path it was found at (execfn stays the
 * caller's). */
static int resolve(char *path, struct strs *s, struct exe *x, struct elf_image *img)
{
	for (int depth = 0;; depth++) {
		int r = exe_open(path, x);
		if (r)
			return r;
		if (x->head_len >= 2 && x->head[0] == '#' && x->head[1] == '!') {
			if (depth == SCRIPT_DEPTH)
				return -ELOOP;
			if ((r = script_argv(x->head, x->head_len, path, s)))
				return r;
			uint64_t n = lo_strlen(s->buf);
			if (n >= LX_PATH_MAX)
				return -ENAMETOOLONG;
			lo_memcpy(path, s->buf, n + 1);
			continue;
		}
		r = exe_parse(x, img);
		if (r == 0 && !img->exo) {
			if (depth == SCRIPT_DEPTH + 1 || lo_memcmp(path, PERSONALITY_PATH, sizeof PERSONALITY_PATH) == 0)
				return -ENOEXEC;
			if ((r = personality_argv(path, s)))
				return r;
			lo_memcpy(path, PERSONALITY_PATH, sizeof PERSONALITY_PATH);
			r = exe_open(path, x);
			if (r)
				return r == -ENOENT ? -ENOEXEC : r;
			r = exe_parse(x, img);
			if (r == 0 && !img->exo)
				r = -ENOEXEC;
		}
		return r;
	}
}

static uint32_t exo_prot(int prot)
{
	return EXO_PROT_READ | (prot & ELF_PROT_W ? EXO_PROT_WRITE : 0) | (prot & ELF_PROT_X ? EXO_PROT_EXEC : 0);
}

/* Frames for pages [va, va+pages) in pieces of at most 512: plan runs. */
static int alloc_run(struct exec_plan *p, uint64_t va, uint64_t pages, int prot)
{
	while (pages) {
		uint64_t n = pages < 512 ? pages : 512;
		if (p->nrun == EXEC_MAX_RUNS)
			return -ENOMEM;
		int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, n);
		if (slot < 0)
			return -ENOMEM;
		p->run[p->nrun++] = (struct exec_run){ va, n, (uint64_t)slot, exo_prot(prot) };
		va += n * PAGE;
		pages -= n;
	}
	return 0;
}

/* The pages of run i execve fills: up to the one holding the last byte
 * the file gives its segments (that page's tail is zeroed).  The pages
 * after it are bss, demand-zero in the new image (plan_zero). */
static uint64_t run_file_pages(const struct elf_image *img, int i)
{
	const struct elf_run *r = &img->run[i];
	uint64_t end = r->va, run_end = r->va + r->pages * PAGE;
	for (int k = 0; k < img->nseg; k++) {
		const struct elf_seg *g = &img->seg[k];
		uint64_t hi = g->vaddr + g->filesz;
		if (g->filesz && g->vaddr < run_end && hi > r->va && hi > end)
			end = hi < run_end ? hi : run_end;
	}
	return (end - r->va + PAGE - 1) / PAGE;
}

/* Maps or unmaps the image's runs at the window, lo at its start: one
 * call a run. */
static int window(const struct exec_plan *p, uint64_t nrun, uint64_t lo, int map)
{
	for (uint64_t i = 0; i < nrun; i++) {
		uint64_t va = EXEC_WINDOW_VA + p->run[i].va - lo;
		if (!map)
			exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, va, p->run[i].pages);
		else if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, p->run[i].slot, 0,
				  EXO_PROT_READ | EXO_PROT_WRITE, p->run[i].pages))
			return -ENOMEM;
	}
	return 0;
}

/* The new image's pages with the file's bytes, read into its frames
 * (which come zeroed) through the window: files not in tmpfs. */
static int build_by_window(struct exec_plan *p, const struct exe *x, const struct elf_image *img)
{
	uint64_t lo = img->run[0].va;
	if (img->end - lo > WINDOW_MAX)
		return -ENOMEM;
	for (int i = 0; i < img->nrun; i++) {
		int r = alloc_run(p, img->run[i].va, run_file_pages(img, i), img->run[i].prot);
		if (r)
			return r;
	}
	uint64_t nimg = p->nrun;
	int r = window(p, nimg, lo, 1);
	for (int i = 0; i < img->nseg && r == 0; i++)
		r = exe_copy(x, (uint8_t *)(EXEC_WINDOW_VA + img->seg[i].vaddr - lo), img->seg[i].filesz,
			     img->seg[i].offset);
	window(p, nimg, lo, 0);
	return r;
}

/* MEM_ALLOC_COPY's pieces for one run of frames (libOS memory, under the
 * libOS lock). */
static struct exo_mem_copy pieces[EXO_MEM_COPY_MAX];
static uint64_t npieces;

/* Adds len bytes of the shared segment at a as the piece for dest, split
 * where a chunk's cap ends and joined to the piece before when they run on
 * in one cap: 0, or -ENOMEM past EXO_MEM_COPY_MAX pieces. */
static int piece_add(uint64_t a, uint64_t len, uint64_t dest)
{
	const uint64_t chunk = SH_CHUNK_PAGES * PAGE;
	while (len) {
		uint64_t slot = SH_SLOT0 + (a - SH_VA) / chunk, off = (a - SH_VA) % chunk;
		uint64_t n = chunk - off < len ? chunk - off : len;
		struct exo_mem_copy *last = npieces ? &pieces[npieces - 1] : 0;
		if (last && last->slot == slot && last->offset + last->length == off &&
		    last->dest + last->length == dest) {
			last->length += n;
		} else {
			if (npieces == EXO_MEM_COPY_MAX)
				return -ENOMEM;
			pieces[npieces++] = (struct exo_mem_copy){ slot, off, n, dest };
		}
		a += n;
		dest += n;
		len -= n;
	}
	return 0;
}

/* The pieces of [va, va + bytes) of the image: the segments' file bytes
 * there, page by page of the tmpfs file (a hole adds none: it is zeroed). */
static int run_pieces(const struct exe *x, const struct elf_image *img, uint64_t va, uint64_t bytes)
{
	npieces = 0;
	for (int i = 0; i < img->nseg; i++) {
		const struct elf_seg *g = &img->seg[i];
		uint64_t lo = g->vaddr > va ? g->vaddr : va;
		uint64_t hi = g->vaddr + g->filesz < va + bytes ? g->vaddr + g->filesz : va + bytes;
		for (uint64_t at = lo; at < hi;) {
			uint64_t off = g->offset + (at - g->vaddr), n = PAGE - off % PAGE;
			n = n < hi - at ? n : hi - at;
			const uint8_t *page = tmpfs_file_page(x->v, off / PAGE);
			int r = page ? piece_add((uint64_t)page + off % PAGE, n, at - va) : 0;
			if (r)
				return r;
			at += n;
		}
	}
	return 0;
}

/* Whether the segments' file bytes come in order of address, apart: what
 * MEM_ALLOC_COPY's pieces must be (else the window copies them). */
static int segments_apart(const struct elf_image *img)
{
	for (int i = 1; i < img->nseg; i++)
		if (img->seg[i].vaddr < img->seg[i - 1].vaddr + img->seg[i - 1].filesz)
			return 0;
	return 1;
}

/* Run i's pages [va, va + left pages) from a tmpfs file: each 512 pages'
 * frames come from the kernel filled with the file's bytes, copied from
 * the shared segment's frames, and zeroed only where no byte of the file
 * goes (bss, the page tails): nothing zeroed is overwritten, nothing is
 * mapped to copy. */
static int copy_run(struct exec_plan *p, const struct exe *x, const struct elf_image *img, int i)
{
	for (uint64_t va = img->run[i].va, left = run_file_pages(img, i); left;) {
		uint64_t n = left < 512 ? left : 512;
		if (p->nrun == EXEC_MAX_RUNS)
			return -ENOMEM;
		int r = run_pieces(x, img, va, n * PAGE);
		if (r)
			return r;
		int64_t slot = exo_call(EXO_SYS_MEM_ALLOC_COPY, EXO_SLOT_MEMORY, n, pieces, npieces);
		if (slot < 0)
			return slot == -EXO_ENOMEM ? -ENOMEM : -EIO;
		p->run[p->nrun++] = (struct exec_run){ va, n, (uint64_t)slot, exo_prot(img->run[i].prot) };
		va += n * PAGE;
		left -= n;
	}
	return 0;
}

/* The copy of the executable this execve maps (libos/tmpfs.c), with our
 * reference, until the process's entry takes it (under the libOS lock). */
static struct tmpfs_image *image_copy;

/*
 * Whether run i maps the file's pages as they are, as Linux maps them
 * (the bytes around the segments in their first and last pages
 * included): it is not writable, and every segment in it has no bss and
 * lies at one distance from its file offset, so its pages are the file's
 * pages [*first, *first + pages).
 */
static int run_shareable(const struct elf_image *img, int i, uint64_t size, uint64_t *first)
{
	const struct elf_run *r = &img->run[i];
	uint64_t end = r->va + r->pages * PAGE, delta = 0;
	int found = 0;
	if (r->prot & ELF_PROT_W)
		return 0;
	for (int k = 0; k < img->nseg; k++) {
		const struct elf_seg *g = &img->seg[k];
		if (g->vaddr >= end || g->vaddr + g->memsz <= r->va)
			continue;
		if (g->memsz != g->filesz || g->offset > g->vaddr || (found && g->vaddr - g->offset != delta))
			return 0;
		delta = g->vaddr - g->offset;
		found = 1;
	}
	if (!found || delta % PAGE || r->va < delta || run_file_pages(img, i) != r->pages)
		return 0;
	*first = (r->va - delta) / PAGE;
	return *first + r->pages <= (size + PAGE - 1) / PAGE;
}

uint32_t exec_run_rights(int64_t prot)
{
	if (prot & ELF_PROT_W)
		return EXO_R_ALL;
	return EXO_R_READ | EXO_R_GRANT | (prot & ELF_PROT_X ? EXO_R_EXEC : 0);
}

/* Plan runs for run i from the copy's pages [first, first + pages): one
 * cap per chunk of the shared segment they lie in, derived without
 * WRITE, so no mapping through it can change them; the stub maps it as
 * any run, and deleting it (the next execve, the end of the env) unmaps
 * it. */
static int share_run(struct exec_plan *p, const struct elf_run *run, uint64_t first)
{
	for (uint64_t k = 0; k < run->pages;) {
		uint64_t page = ((uint64_t)tmpfs_image_page(image_copy, first + k) - SH_VA) / PAGE;
		uint64_t slot = SH_SLOT0 + page / SH_CHUNK_PAGES, at = page % SH_CHUNK_PAGES;
		uint64_t n = run->pages - k < SH_CHUNK_PAGES - at ? run->pages - k : SH_CHUNK_PAGES - at;
		struct exo_cap_info chunk;
		if (p->nrun == EXEC_MAX_RUNS || lo_cap_inspect((int64_t)slot, &chunk))
			return -ENOMEM;
		int64_t s = exo_call(EXO_SYS_CAP_DERIVE, slot, exec_run_rights(run->prot), chunk.first + at, n);
		if (s < 0)
			return -ENOMEM;
		p->run[p->nrun++] = (struct exec_run){ run->va + k * PAGE, n, (uint64_t)s, exo_prot(run->prot) };
		k += n;
	}
	return 0;
}

/* The new image's pages from a tmpfs file: the runs that map the file's
 * pages as they are (text, read-only data) from the file's copy, made at
 * its first execve and kept while it is unchanged; the others copied. */
static int build_by_copy(struct exec_plan *p, const struct exe *x, const struct elf_image *img)
{
	uint64_t first[ELF_MAX_RUNS], want = 0;
	int share[ELF_MAX_RUNS];
	for (int i = 0; i < img->nrun; i++) {
		share[i] = run_shareable(img, i, x->size, &first[i]);
		if (share[i] && first[i] + img->run[i].pages > want)
			want = first[i] + img->run[i].pages;
	}
	image_copy = want ? tmpfs_image_get(x->v, want) : 0;
	for (int i = 0; i < img->nrun; i++) {
		int r = share[i] && image_copy ? share_run(p, &img->run[i], first[i]) : copy_run(p, x, img, i);
		if (r)
			return r;
	}
	return 0;
}

/*
 * The pages no byte of the file fills (bss past the page holding the
 * file's last byte) and the whole stack: not allocated here but planned
 * as demand-zero runs, which the new image records as anonymous memory
 * with the segment's protection, as Linux maps them.  As Linux, the
 * image and stack must fit RLIMIT_AS, and, as its overcommit heuristic
 * refuses a mapping larger than memory, the demand-zero pages must not
 * exceed what the memory budget holds: -ENOMEM, before the switch.
 */
static int plan_zero(struct exec_plan *p, const struct elf_image *img)
{
	uint64_t zero = EXO_STACK_PAGES, all = EXO_STACK_PAGES;
	for (int i = 0; i < img->nrun; i++) {
		uint64_t f = run_file_pages(img, i), n = img->run[i].pages - f;
		all += img->run[i].pages;
		zero += n;
		if (n)
			p->zero[p->nzero++] = (struct exec_run){ img->run[i].va + f * PAGE, n, 0, img->run[i].prot };
	}
	p->zero[p->nzero++] = (struct exec_run){ EXO_STACK_TOP - EXO_STACK_PAGES * PAGE, EXO_STACK_PAGES, 0,
						 ELF_PROT_R | ELF_PROT_W };
	struct exo_cap_info mem;
	uint64_t as = rlimit_cur(RLIMIT_AS);
	if ((as != ~0ull && all > as / PAGE) || lo_cap_inspect(EXO_SLOT_MEMORY, &mem) || zero > mem.count)
		return -ENOMEM;
	return 0;
}

/* The new image's start-up maps its private block from the reserve and
 * touches about 14 more pages before its own fault handler takes over;
 * what is left is the pool's first chunk, and a program that only
 * returns takes 11 more pages, so it allocates no other (a chunk of 64
 * zeroed frames, ~35,000 instructions, where 8 more in the reserve cost
 * ~4,000). */
_Static_assert(sizeof(struct libos_private) / PAGE + 16 + 12 <= EXEC_RESERVE_PAGES,
	       "the reserve holds the private block, the start-up's first touches and a few faults");

/* The frames the new image's first touches of demand-zero pages take
 * before its memory tables exist (exec_boot_fault): later its pool's. */
static int plan_reserve(struct exec_plan *p)
{
	int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, EXEC_RESERVE_PAGES);
	if (slot < 0)
		return -ENOMEM;
	p->reserve_slot = (uint64_t)slot;
	p->reserve_pages = EXEC_RESERVE_PAGES;
	return 0;
}

/* The new image's pages with the file's bytes (plan runs), its
 * demand-zero bss and stack (plan zero runs) and the reserve. */
static int build_image(struct exec_plan *p, const struct exe *x, const struct elf_image *img)
{
	int r = plan_zero(p, img);
	if (r)
		return r;
	r = !x->whole && x->v->kind == VK_TMPFS && segments_apart(img) ? build_by_copy(p, x, img)
								      : build_by_window(p, x, img);
	return r ? r : plan_reserve(p);
}

/* The record's pages for its size in bytes: the record, then the new
 * image's first fault handler's stack (libos/entry.S finds it so). */
static uint64_t record_pages(uint64_t size)
{
	return (size + PAGE - 1) / PAGE + EXEC_BOOT_STACK / PAGE;
}

/* The record's frames, mapped at EXEC_RECORD_VA, and the stub's page at
 * EXEC_STUB_VA (none for a vfork child's image, which starts in an env of
 * its own: libos/spawn.c): the record, or NULL. */
static struct exec_handover *map_record(uint64_t pages, int64_t *rslot, int64_t *sslot)
{
	*rslot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, pages);
	if (*rslot < 0)
		return 0;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, EXEC_RECORD_VA, *rslot, 0,
		     EXO_PROT_READ | EXO_PROT_WRITE, pages))
		return 0;
	if (!sslot)
		return (struct exec_handover *)EXEC_RECORD_VA;
	if ((*sslot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1)) < 0)
		return 0;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, EXEC_STUB_VA, *sslot, 0, EXO_PROT_READ | EXO_PROT_WRITE))
		return 0;
	lo_memcpy((void *)EXEC_STUB_VA, exec_stub_begin, (size_t)(exec_stub_end - exec_stub_begin));
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, EXEC_STUB_VA, *sslot, 0, EXO_PROT_READ | EXO_PROT_EXEC))
		return 0;
	return (struct exec_handover *)EXEC_RECORD_VA;
}

/* Marks slot (and the n - 1 after it) as one the process keeps. */
static void keep_range(uint8_t *keep, uint64_t slot, uint64_t n)
{
	for (uint64_t i = 0; i < n && slot + i < EXEC_MAX_DELETE; i++)
		keep[slot + i] = 1;
}

/* Marks the slots the process keeps across execve, but the shared
 * segment's, the process table's (proc_keeps_slot) and a CryptoFS mount's
 * handed to the next image (cfs_mount_keeps_slot): what the kernel
 * gave the first program, the thread, the record and stub, the new image's
 * frames, the UARTs, the children, the modules and device ranges. */
static void mark_kept(const struct exec_handover *h, uint8_t *keep)
{
	const struct exo_start *st = &h->start;
	lo_memset(keep, 0, EXEC_MAX_DELETE);
	for (uint64_t slot = 0; slot <= EXO_SLOT_CLOCK; slot++)
		keep[slot] = slot != EXO_SLOT_IMAGE && slot != EXO_SLOT_STACK && slot != EXO_SLOT_SELF_THREAD;
	keep_range(keep, h->thread_slot, 1);
	keep_range(keep, h->record_slot, 1);
	keep_range(keep, h->stub_slot, 1);
	for (uint64_t i = 0; i < h->plan.nrun; i++)
		keep_range(keep, h->plan.run[i].slot, 1);
	keep_range(keep, h->plan.reserve_slot, 1);
	for (int i = 1; i <= 2; i++)
		if (h->uart_slot[i])
			keep_range(keep, (uint64_t)h->uart_slot[i], 1);
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (h->children[i].pid) {
			keep_range(keep, (uint64_t)h->children[i].env, 1);
			keep_range(keep, (uint64_t)h->children[i].thread, 1);
			keep_range(keep, (uint64_t)h->children[i].budget, 1);
		}
	for (uint64_t i = 0; i < st->nmodules; i++)
		keep_range(keep, st->modules[i].slot, 1);
	keep_range(keep, st->irq_slot_first, st->irq_count);
	keep_range(keep, st->pci_slot_first, st->pci_count);
	keep_range(keep, st->ioport_slot_first, st->ioport_count);
	keep_range(keep, st->nic_slot_first, st->nic_count);
	keep_range(keep, st->blk_slot_first, st->blk_count);
}

/* Every cap of the old image goes: its frames (which unmaps its pages),
 * notifications, threads, device ports it derived.  The slots kept are
 * marked once, and one CAP_LIST tells which slots are used at all. */
static void plan_deletes(struct exec_handover *h)
{
	static uint8_t keep[EXEC_MAX_DELETE];
	static uint64_t used[EXO_CAP_SLOTS / 64];
	_Static_assert(EXEC_MAX_DELETE == EXO_CAP_SLOTS, "the plan names every slot");
	mark_kept(h, keep);
	if (mm_prepare_write((uint64_t)used, sizeof used) || exo_call(EXO_SYS_CAP_LIST, used) < 0)
		return;
	for (uint64_t slot = 0; slot < EXEC_MAX_DELETE; slot++)
		if (!keep[slot] && (used[slot / 64] >> (slot % 64) & 1) && !proc_keeps_slot(slot) &&
		    !cfs_mount_keeps_slot(slot))
			h->plan.delete[h->plan.ndelete++] = slot;
}

/* The start information the new image gets: devices only for the first
 * program (a forked child holds none of those slots), no args module (the
 * record has them), no CryptoFS request (the volume was unmounted). */
static void handover_start(struct exo_start *st)
{
	lo_memcpy(st, &start_copy, sizeof *st);
	if (!libos_start_info) {
		st->irq_count = st->pci_count = st->ioport_count = st->nic_count = st->blk_count = 0;
	}
	uint64_t n = 0;
	for (uint64_t i = 0; i < st->nmodules && i < EXO_START_MAX_MODULES; i++)
		if (lo_memcmp(st->modules[i].name, "initramfs", 10) == 0)
			st->modules[n++] = st->modules[i];
	st->nmodules = n;
}

/* Other threads end, in the kernel (THREAD_END): the caller is the only
 * thread of the env the new image starts with, and the ended threads'
 * kernel stacks and quota go back when the stub deletes their caps. */
static void end_other_threads(struct exec_handover *h)
{
	struct lo_thread *self = lo_thread_self();
	for (struct lo_thread *t = lo_threads(); t; t = t->next)
		if (t != self && t->slot && t->slot != (int64_t)h->thread_slot) {
			exo_call(EXO_SYS_THREAD_END, t->slot);
			/* what its call held goes now, while this image can
			 * still release it (a socket of its own stack) */
			if (t->waker)
				lo_waker_holds_drop(t->waker, 0);
		}
}

/* Gives back what an execve that failed before the switch allocated. */
static void undo(struct exec_plan *p, int64_t rslot, int64_t sslot)
{
	tmpfs_image_put(image_copy);
	image_copy = 0;
	for (uint64_t i = 0; i < p->nrun; i++)
		exo_call(EXO_SYS_CAP_DELETE, p->run[i].slot);
	if (p->reserve_slot)
		exo_call(EXO_SYS_CAP_DELETE, p->reserve_slot);
	if (rslot > 0)
		exo_call(EXO_SYS_CAP_DELETE, rslot);
	if (sslot > 0)
		exo_call(EXO_SYS_CAP_DELETE, sslot);
}

/* Fills the record: who the process is, what it keeps, the strings. */
static void fill_record(struct exec_handover *h, const struct strs *s, const char *execfn,
			const struct elf_image *img)
{
	h->magic = EXEC_MAGIC;
	h->pid = libos_pid();
	h->thread_slot = (uint64_t)lo_thread_self()->slot;
	h->cpu_mask = lo_thread_self()->cpu_mask;
	h->uart_slot[1] = lp.uart_slot[1];
	h->uart_slot[2] = lp.uart_slot[2];
	lo_signal_exec_state(&h->sig_ignored, &h->sig_mask, &h->sig_pending);
	h->proc_files = 0;	/* per image until the shared segment holds it */
	lo_memcpy(h->children, lp.children, sizeof h->children);
	rlimit_exec_state(h->rlim);
	h->rlim_valid = 1;
	h->shared_chunks = (lp.shared_pages + SH_CHUNK_PAGES - 1) / SH_CHUNK_PAGES;
	handover_start(&h->start);
	h->start.entry = img->entry;
	h->start.phdr = img->phdr;
	h->start.phent = 56;
	h->start.phnum = img->phnum;
	h->start.image_end = img->end;
	h->start.stack_top = EXO_STACK_TOP;
	h->argc = s->argc;
	h->envc = s->envc;
	h->strings_off = sizeof *h;
	uint8_t *str = (uint8_t *)h + h->strings_off;
	lo_memcpy(str, &h->argc, 4);
	lo_memcpy(str + 4, &h->envc, 4);
	lo_memcpy(str + 8, s->buf, s->len);
	h->execfn_off = h->strings_off + 8 + s->len;
	lo_memcpy((uint8_t *)h + h->execfn_off, execfn, lo_strlen(execfn) + 1);
	h->strings_len = 8 + s->len + lo_strlen(execfn) + 1;
	h->size = h->strings_off + h->strings_len;
}

/* execve after the arguments are in libOS memory: returns only on error. */
static int64_t do_exec(char *path, struct strs *s)
{
	static char execfn[LX_PATH_MAX];
	static struct exe x;		/* under the libOS lock */
	struct elf_image img;
	lo_memcpy(execfn, path, lo_strlen(path) + 1);
	int r = resolve(path, s, &x, &img);
	if (r) {
		lo_free(x.whole);
		x.whole = 0;
		return r;
	}
	static struct exec_plan plan;
	lo_memset(&plan, 0, sizeof plan);
	int64_t rslot = 0, sslot = 0;
	struct exec_handover *h = 0;
	r = build_image(&plan, &x, &img);
	lo_free(x.whole);
	x.whole = 0;
	int vforked = spawn_child_active();
	uint64_t pages = record_pages(sizeof(struct exec_handover) + 8 + s->len + lo_strlen(execfn) + 1);
	if (r == 0 && !(h = map_record(pages, &rslot, vforked ? 0 : &sslot)))
		r = -ENOMEM;
	if (r) {
		undo(&plan, rslot, sslot);
		return r;
	}
	fill_record(h, s, execfn, &img);
	h->record_slot = (uint64_t)rslot;
	h->stub_slot = (uint64_t)sslot;
	lo_memcpy(&h->plan, &plan, sizeof plan);
	h->plan.entry = img.entry;
	h->plan.rsp = EXO_STACK_TOP;
	h->plan.record = EXEC_RECORD_VA;
	if (vforked) {			/* into the child's fresh env */
		proc_set_image(proc_self(), image_copy);	/* the child's entry */
		image_copy = 0;
		if ((r = spawn_child_exec(h, rslot, pages))) {
			proc_set_image(proc_self(), 0);
			undo(&plan, rslot, 0);
		}
		return r;
	}
	/* the point of no return */
	fd_close_on_exec();
	sysv_detach_all();
	mm_files_detach();
	cfs_mount_at_exec();
	if (vfork_notify > 0)			/* a vfork parent goes on */
		exo_call(EXO_SYS_NOTIFY_SIGNAL, vfork_notify, 1);
	end_other_threads(h);
	plan_deletes(h);
	/* the old image's copy goes last, when no other thread runs on it and
	 * nothing here allocates: the lock we hold until the stub has unmapped
	 * it keeps anyone from reusing its pages */
	proc_set_image(proc_self(), image_copy);
	image_copy = 0;
	lo_lock_hand_over((uint64_t)h->pid);	/* the new image's first thread */
	((void (*)(struct exec_plan *))EXEC_STUB_VA)(&h->plan);
	__builtin_unreachable();
}

/* execve(path, argv, envp).  A vfork child on its parent's memory gets
 * the error back (libos/spawn.c); a forked vfork child whose execve fails
 * ends with status 127, as musl's posix_spawn child would after reporting
 * the error through its pipe. */
LO_CALL(sys_execve)
{
	UNUSED_ARGS;
	static char path[LX_PATH_MAX];
	int64_t n = lo_strncpy_in(path, (const char *)a0, sizeof path);
	if (n < 0)
		return -EFAULT;
	if (n == (int64_t)sizeof path)
		return -ENAMETOOLONG;
	if (n == 0)
		return -ENOENT;
	struct strs s = { 0 };
	int r = copy_vector(&s, a1, &s.argc);
	if (!r)
		r = copy_vector(&s, a2, &s.envc);
	if (!r)
		r = strs_check(&s);
	if (!r)
		r = (int)do_exec(path, &s);
	lo_free(s.buf);
	if (vfork_notify > 0)
		libos_exit(127);	/* a vfork child: see above */
	return r;
}

/* execveat(dirfd, path, argv, envp, flags): paths relative to the working
 * directory only, for now. */
LO_CALL(sys_execveat)
{
	UNUSED_ARGS;
	if ((int)a0 != LX_AT_FDCWD || a4)
		return -ENOSYS;
	return sys_execve(a1, a2, a3, 0, 0, 0);
}

/* ---- the new image's side */

const struct exo_start *exec_adopt(const struct exec_handover *rec)
{
	exec_boot_map((uint64_t)&adopted, sizeof adopted);	/* one call, not a fault a page */
	/* the image's last page, where the C library's exit-time state lies
	 * (it is linked last: stdio's list of open files and its lock, the
	 * thread list's lock), which a program touches first at its exit */
	exec_boot_map(rec->start.image_end - 1, 1);
	lo_memcpy(&adopted, rec, sizeof adopted);
	exec_started = 1;
	lp.uart_slot[1] = adopted.uart_slot[1];
	lp.uart_slot[2] = adopted.uart_slot[2];
	lo_memcpy(lp.children, adopted.children, sizeof lp.children);
	exec_note_start(&adopted.start);
	return &adopted.start;
}

/* The new image's frames become fixed chunks of the memory tables, with
 * their permissions, so fork shares them and the next execve frees them. */
void exec_adopt_memory(void)
{
	static uint8_t prot[512];
	lo_thread0.slot = (int64_t)adopted.thread_slot;
	lo_thread0.cpu_mask = adopted.cpu_mask;
	lo_signal_adopt(adopted.sig_ignored, adopted.sig_mask, adopted.sig_pending);
	for (uint64_t i = 0; i < adopted.plan.nrun; i++) {
		const struct exec_run *r = &adopted.plan.run[i];
		for (uint64_t k = 0; k < r->pages; k++)
			prot[k] = (uint8_t)r->prot;
		mm_adopt((int64_t)r->slot, r->va, r->pages, prot);
	}
	for (uint64_t i = 0; i < adopted.plan.nzero; i++) {
		const struct exec_run *z = &adopted.plan.zero[i];
		if (z->va + z->pages * PAGE == EXO_STACK_TOP)
			mm_reserve(z->va, z->pages * PAGE, (int)z->prot);	/* joins the stack's */
		else
			mm_add_bss(z->va, z->pages * PAGE, (int)z->prot);
	}
}

/* The live record: what the first fault handler has taken from the
 * reserve since exec_adopt copied it. */
static struct exec_plan *boot_plan(void)
{
	return &((struct exec_handover *)EXEC_RECORD_VA)->plan;
}

void exec_adopt_reserve(void)
{
	const struct exec_plan *p = boot_plan();
	mm_adopt_pool((int64_t)p->reserve_slot, p->reserve_pages, p->reserve_va, p->reserve_used);
}

/* The demand-zero run's Linux protection at va, or -1 outside them. */
static int boot_zero_prot(const struct exec_plan *p, uint64_t va)
{
	for (uint64_t i = 0; i < p->nzero && i < EXEC_MAX_ZERO; i++)
		if (va >= p->zero[i].va && va - p->zero[i].va < p->zero[i].pages * PAGE)
			return (int)p->zero[i].prot;
	return -1;
}

/* Maps the next n pages of the reserve at va: 0, or -1 when it is spent. */
static int boot_take(struct exec_plan *p, uint64_t va, uint64_t n, int prot)
{
	if (p->reserve_used > p->reserve_pages || n > p->reserve_pages - p->reserve_used ||
	    exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va, p->reserve_slot, p->reserve_used, exo_prot(prot), n))
		return -1;
	for (uint64_t i = 0; i < n; i++)
		p->reserve_va[p->reserve_used++] = va + i * PAGE;
	return 0;
}

/* Whether the first fault handler has mapped va already. */
static int boot_mapped(const struct exec_plan *p, uint64_t va)
{
	for (uint64_t i = 0; i < p->reserve_used && i < EXEC_RESERVE_PAGES; i++)
		if (p->reserve_va[i] == va)
			return 1;
	return 0;
}

void exec_boot_map(uint64_t va, uint64_t len)
{
	struct exec_plan *p = boot_plan();
	uint64_t end = (va + len + PAGE - 1) & ~(PAGE - 1);
	for (va &= ~(PAGE - 1); va < end;) {
		int prot = boot_zero_prot(p, va);
		uint64_t n = 0;
		while (prot >= 0 && va + n * PAGE < end && !boot_mapped(p, va + n * PAGE) &&
		       boot_zero_prot(p, va + n * PAGE) == prot)
			n++;
		if (n && boot_take(p, va, n, prot))
			exo_call(EXO_SYS_EXIT, EXO_STATUS_SIGNALED(SIGBUS_NR));
		va += (n ? n : 1) * PAGE;
	}
}

/*
 * The new image's fault handler from its first instruction until its
 * memory tables exist (libos/entry.S registers it, on a stack in the
 * record's last pages): the first touch of a demand-zero page gets the
 * reserve's next frame.  It reads and writes only the record, which is
 * mapped, so it never faults itself.  Any other fault, or a spent
 * reserve, ends the program with SIGSEGV, as nothing can report it yet.
 */
void exec_boot_fault(struct exo_fault *f)
{
	struct exec_plan *p = boot_plan();
	uint64_t va = f->addr & ~(PAGE - 1);
	int prot = f->vector == 14 && !(f->error & 1) ? boot_zero_prot(p, va) : -1;
	if (prot < 0 || boot_take(p, va, 1, prot))
		exo_call(EXO_SYS_EXIT, EXO_STATUS_SIGNALED(SIGSEGV_NR));
}

/* The arguments, in the args module's format, and the path given. */
const uint8_t *exec_args(uint64_t *size, const char **execfn)
{
	*size = adopted.strings_len;
	*execfn = (const char *)EXEC_RECORD_VA + adopted.execfn_off;
	return (const uint8_t *)EXEC_RECORD_VA + adopted.strings_off;
}

void exec_release_record(void)
{
	uint64_t pages = record_pages(adopted.size);
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, EXEC_RECORD_VA, pages);
	exo_call(EXO_SYS_CAP_DELETE, adopted.record_slot);
	if (adopted.stub_slot)		/* none for a vfork child's image */
		exo_call(EXO_SYS_CAP_DELETE, adopted.stub_slot);	/* unmaps the stub */
}

/* fork: the child gets the initramfs module's cap in the same slot, so it
 * can unpack it again after an execve, and a vfork child the notification
 * its parent waits on. */
int exec_fork_grant(int64_t env)
{
	if (vfork_notify > 0 &&
	    exo_call(EXO_SYS_CAP_GRANT, vfork_notify, env, EXO_R_WRITE, vfork_notify + 1) < 0)
		return -1;
	for (uint64_t i = 0; i < start_copy.nmodules && i < EXO_START_MAX_MODULES; i++) {
		uint64_t slot = start_copy.modules[i].slot;
		if (lo_memcmp(start_copy.modules[i].name, "initramfs", 10) == 0 &&
		    exo_call(EXO_SYS_CAP_GRANT, slot, env, EXO_R_READ | EXO_R_GRANT, slot + 1) < 0)
			return -1;
	}
	return 0;
}

/*
 * vfork, and clone with CLONE_VFORK as musl's posix_spawn uses it (with
 * CLONE_VM and a stack of its own), the child on the given stack (0: the
 * caller's): on the parent's memory when the caller has no other thread
 * (libos/spawn.c).  Else a fork, and the parent waits until the child has
 * called execve or ended; the child then runs on a copy of the parent's
 * memory: what it writes there before execve is not seen by the parent.
 */
int64_t libos_vfork(uint64_t stack)
{
	if (spawn_child_active())
		return -EAGAIN;			/* a vfork child on our memory */
	if (spawn_can_share())
		return spawn_vfork(stack);	/* no fork: libos/spawn.c */
	struct lo_thread *self = lo_thread_self();
	int64_t notify = exo_call0(EXO_SYS_NOTIFY_CREATE);
	if (notify < 0)
		return -EAGAIN;
	uint64_t rsp = self->at_call.rsp;
	if (stack)
		self->at_call.rsp = stack;		/* the child's registers at the call */
	vfork_notify = notify;
	int64_t pid = libos_fork();
	vfork_notify = 0;
	self->at_call.rsp = rsp;
	if (pid > 0) {
		int64_t env = proc_env_cap(pid);	/* the process table's */
		if (env > 0 && exo_call(EXO_SYS_ENV_WATCH, env, notify, 2) == 0) {
			uint32_t depth = lo_unlock_all();
			while (exo_call(EXO_SYS_NOTIFY_WAIT, notify, EXO_FOREVER) <= 0)
				;
			lo_relock(depth);
		}
	}
	exo_call(EXO_SYS_CAP_DELETE, notify);
	return pid;
}
