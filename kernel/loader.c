/*
 * Starts the first program: the static ELF64 in the first GRUB module, or,
 * when that module is a cpio (newc) initramfs, its /sbin/init.  The
 * kernel loads it into one contiguous frame range, maps a stack, and gives
 * the new env (the root task) capabilities to all free memory, the kernel
 * console, every IRQ line and PCI function, the I/O ports of the legacy
 * devices that cannot master the bus, a NIC or block cap per network
 * device or disk (drivers started here), and every other module.  All
 * later envs are created by user space.  Also keeps the kernel info page
 * that every env sees read-only at EXO_KINFO_VA.
 */
#include "include/exo/abi.h"
#include "kernel/boottime.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/ring.h"
#include "kernel/selftest.h"
#include "kernel/smp.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/vm.h"
#include "drivers/pci.h"

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
_Static_assert(sizeof(struct elf64_ehdr) == 64, "ehdr");
_Static_assert(sizeof(struct elf64_phdr) == 56, "phdr");

#define PT_LOAD 1
#define PT_PHDR 6
#define PF_X 1
#define PF_W 2
#define PF_R 4
/* Kept back for kernel objects no env pays for (idle stacks, device rings,
 * heap blocks): 1/32 of free memory, within these bounds, so a small
 * machine is not refused for a reserve sized for a large one. */
#define KERNEL_RESERVE_MIN 256
#define KERNEL_RESERVE_MAX 4096
/* The first env's quota of kernel memory: 1/32 of free memory, at least
 * this.  Its tables, thread and mapping records peak at 47 pages for hello
 * world and 55 for the fork test, measured 2026-11-30 (the exit line
 * reports the peak). */
#define ROOT_QUOTA_MIN 256

/*
 * The only I/O ports user space ever gets: devices that cannot master the
 * bus.  PCI configuration space (0xcf8-0xcff) and every PCI device stay
 * with the kernel, since a bus-mastering device's registers would let their
 * holder DMA over all of memory.  COM1 and the PS/2 keyboard are the
 * kernel's console, the PIT and the CMOS clock are the kernel's timers.
 */
static const struct { uint32_t first, count; } legacy_ports[] = {
	{ 0x2f8, 8 },	/* COM2 */
	{ 0x3e8, 8 },	/* COM3 */
	{ 0x2e8, 8 },	/* COM4 */
};

static uint64_t kinfo_pa;
static int onexit_poweroff;

int loader_map_kinfo(struct env *e)
{
	return env_map(e, EXO_KINFO_VA, kinfo_pa, EXO_PROT_READ, NULL);
}

static void kinfo_init(void)
{
	kinfo_pa = page_alloc_zeroed();
	if (!kinfo_pa)
		panic("loader: no memory for the kernel info page");
	struct exo_kinfo *k = phys_to_virt(kinfo_pa);
	k->magic = EXO_KINFO_MAGIC;
	k->page_size = PAGE_SIZE;
	time_publish(k);
	smp_publish(k);
	memcpy(k->version, EXO_VERSION, sizeof EXO_VERSION < 16 ? sizeof EXO_VERSION : 15);
}

/* Checks the ELF image and finds the span of its loadable segments. */
static const char *elf_check(const uint8_t *img, uint64_t size, uint64_t *lo, uint64_t *hi)
{
	const struct elf64_ehdr *h = (const void *)img;

	if (size < sizeof *h || memcmp(h->ident, "\177ELF", 4) || h->ident[4] != 2 || h->ident[5] != 1)
		return "not a 64-bit little-endian ELF file";
	if (h->type != 2 || h->machine != 62)
		return "not an x86_64 executable (ET_EXEC); build it with tools/exo-cc";
	if (h->phentsize != sizeof(struct elf64_phdr) || h->phnum == 0 || h->phnum > 64 ||
	    h->phoff > size || (uint64_t)h->phnum * sizeof(struct elf64_phdr) > size - h->phoff)
		return "bad program header table";
	*lo = UINT64_MAX;
	*hi = 0;
	const struct elf64_phdr *ph = (const void *)(img + h->phoff);
	for (int i = 0; i < h->phnum; i++) {
		if (ph[i].type != PT_LOAD || ph[i].memsz == 0)
			continue;
		if (ph[i].filesz > ph[i].memsz || ph[i].offset > size || ph[i].filesz > size - ph[i].offset)
			return "a segment lies outside the file";
		if (ph[i].vaddr >= EXO_KINFO_VA || ph[i].memsz > EXO_KINFO_VA - ph[i].vaddr ||
		    ph[i].vaddr < PAGE_SIZE)
			return "a segment lies outside the user address range";
		if ((ph[i].flags & PF_W) && (ph[i].flags & PF_X))
			return "a segment is writable and executable (W^X)";
		if (ph[i].vaddr < *lo)
			*lo = ph[i].vaddr;
		if (ph[i].vaddr + ph[i].memsz > *hi)
			*hi = ph[i].vaddr + ph[i].memsz;
	}
	if (*hi == 0)
		return "no loadable segment";
	*lo &= ~(uint64_t)(PAGE_SIZE - 1);
	*hi = (*hi + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);
	if ((*hi - *lo) / PAGE_SIZE > 65536)
		return "the image is larger than 256 MiB";
	if (h->entry < *lo || h->entry >= *hi)
		return "the entry point is outside the image";
	return NULL;
}

/* The union of the permissions of the segments covering page va. */
static uint32_t page_prot(const struct elf64_phdr *ph, int n, uint64_t va)
{
	uint32_t prot = 0;

	for (int i = 0; i < n; i++) {
		if (ph[i].type != PT_LOAD || ph[i].memsz == 0)
			continue;
		uint64_t s = ph[i].vaddr & ~(uint64_t)(PAGE_SIZE - 1), e = ph[i].vaddr + ph[i].memsz;
		if (va >= s && va < e)
			prot |= EXO_PROT_READ | (ph[i].flags & PF_W ? EXO_PROT_WRITE : 0) |
				(ph[i].flags & PF_X ? EXO_PROT_EXEC : 0);
	}
	return prot;
}

/* Zeroes the bytes of the image [lo, hi) at base that no segment's file
 * bytes will cover (gaps, .bss, the ends of pages): the copy fills the
 * rest, so nothing is written twice. */
static void zero_uncovered(uint8_t *base, uint64_t lo, uint64_t hi, const struct elf64_phdr *ph, int n)
{
	uint64_t at = lo;

	while (at < hi) {
		uint64_t next = hi, covered_to = 0;
		for (int i = 0; i < n; i++) {
			if (ph[i].type != PT_LOAD || ph[i].filesz == 0)
				continue;
			uint64_t s = ph[i].vaddr, e = ph[i].vaddr + ph[i].filesz;
			if (s <= at && at < e && e > covered_to)
				covered_to = e;
			else if (s > at && s < next)
				next = s;
		}
		if (covered_to) {
			at = covered_to;
			continue;
		}
		memset(base + (at - lo), 0, next - at);
		at = next;
	}
}

static _Noreturn void refuse(const char *what)
{
	kprintf("exoswarm: cannot start the first program: %s\n", what);
	kprintf("exoswarm: first program exited with status 0x%x\n", EXO_STATUS_SIGNALED(9));
	selftest_on_fatal();
	if (onexit_poweroff)
		qemu_exit(QEMU_EXIT_PROGRAM);
	halt_forever();
}

static struct env *root_env;

/* Eight hex digits of a cpio header field; UINT64_MAX if one is not. */
static uint64_t cpio_hex(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return UINT64_MAX;
		v = v << 4 | (uint64_t)d;
	}
	return v;
}

/* The regular file named path (no leading slash; "./" before it is
 * allowed) in a cpio newc archive: its bytes and length, or NULL. */
static const uint8_t *cpio_find(const uint8_t *a, uint64_t size, const char *path, uint64_t *len)
{
	size_t plen = strlen(path);
	uint64_t off = 0;

	while (off <= size && size - off >= 110) {
		const uint8_t *h = a + off;
		if (memcmp(h, "070701", 6) != 0 && memcmp(h, "070702", 6) != 0)
			return NULL;
		uint64_t mode = cpio_hex(h + 14), fsize = cpio_hex(h + 54), nsize = cpio_hex(h + 94);
		if (mode == UINT64_MAX || fsize == UINT64_MAX || nsize == UINT64_MAX || nsize == 0 ||
		    nsize > size - off - 110)
			return NULL;
		const char *name = (const char *)h + 110;
		uint64_t data = (off + 110 + nsize + 3) & ~3ull;
		if (data > size || fsize > size - data)
			return NULL;
		uint64_t n = nsize - 1;
		if (n >= 2 && name[0] == '.' && name[1] == '/') {
			name += 2;
			n -= 2;
		}
		if (n == 10 && memcmp(name, "TRAILER!!!", 10) == 0)
			return NULL;
		if (n == plen && memcmp(name, path, plen) == 0 && (mode & 0170000) == 0100000) {
			*len = fsize;
			return a + data;
		}
		off = (data + fsize + 3) & ~3ull;
	}
	return NULL;
}

void loader_set_onexit(int poweroff)
{
	onexit_poweroff = poweroff;
}

/* Called when an env ends: the machine's life is the first program's. */
void loader_env_ended(struct env *e)
{
	if (e != root_env)
		return;
	/* what sizes ROOT_QUOTA_MIN: the first env's kernel memory at its peak */
	kprintf("exoswarm: first program used at most %lu of its %lu pages of kernel memory\n",
		e->peak_pages, e->quota_pages);
	kprintf("exoswarm: first program exited with status 0x%lx\n", e->status);
	if (onexit_poweroff)
		qemu_exit(QEMU_EXIT_PROGRAM);
}

/* The first program's image, copied into its frames by loader_load_image. */
static struct {
	int done, first_module;
	const uint8_t *img;
	const char *name;
	uint64_t lo, hi, pages, image_pa, stack_pa;
} ld;

void loader_load_image(const struct boot_info *bi)
{
	const struct boot_module *mod = &bi->modules[0];
	const uint8_t *img = phys_to_virt(mod->start);
	uint64_t size = mod->end - mod->start;

	if (ld.done)
		return;
	ld.name = mod->cmdline ? mod->cmdline : "";
	ld.first_module = 1;
	if (size >= 6 && memcmp(img, "07070", 5) == 0) {
		/* no program given, only an initramfs: its /sbin/init, and the
		 * archive goes to the program like any other module */
		img = cpio_find(img, size, "sbin/init", &size);
		if (!img)
			refuse("the first module is an initramfs without /sbin/init");
		ld.name = "/sbin/init";
		ld.first_module = 0;
	}
	const char *bad = elf_check(img, size, &ld.lo, &ld.hi);
	if (bad)
		refuse(bad);
	const struct elf64_ehdr *h = (const void *)img;
	const struct elf64_phdr *ph = (const void *)(img + h->phoff);
	ld.img = img;
	ld.pages = (ld.hi - ld.lo) / PAGE_SIZE;
	ld.image_pa = frame_alloc_contig(&kframes, ld.pages, UINT64_MAX);
	ld.stack_pa = frame_alloc_contig(&kframes, EXO_STACK_PAGES, UINT64_MAX);
	if (!ld.image_pa || !ld.stack_pa)
		refuse("not enough memory for its image");
	zero_uncovered(phys_to_virt(ld.image_pa), ld.lo, ld.hi, ph, h->phnum);
	memset(phys_to_virt(ld.stack_pa), 0, EXO_STACK_PAGES * PAGE_SIZE);
	for (int i = 0; i < h->phnum; i++)
		if (ph[i].type == PT_LOAD && ph[i].filesz)
			memcpy((uint8_t *)phys_to_virt(ld.image_pa) + (ph[i].vaddr - ld.lo),
			       img + ph[i].offset, ph[i].filesz);
	ld.done = 1;
}

void loader_start_first(const struct boot_info *bi)
{
	int err = 0;

	loader_load_image(bi);
	kinfo_init();
	ring_probe_devices();
	boot_mark("drivers");
	const struct elf64_ehdr *h = (const void *)ld.img;
	const struct elf64_phdr *ph = (const void *)(ld.img + h->phoff);
	uint64_t lo = ld.lo, hi = ld.hi, pages = ld.pages, image_pa = ld.image_pa, stack_pa = ld.stack_pa;
	const char *name = ld.name;
	int first_module = ld.first_module;
	uint64_t start_pa = page_alloc_zeroed();
	if (!start_pa)
		refuse("not enough memory for its start page");
	uint64_t quota = kframes.nfree / 32 > ROOT_QUOTA_MIN ? kframes.nfree / 32 : ROOT_QUOTA_MIN;
	struct env *e = env_create(NULL, quota, &err);
	if (!e)
		refuse("no memory for its environment");
	root_env = e;
	uint64_t reserve = kframes.nfree / 32;
	reserve = reserve < KERNEL_RESERVE_MIN ? KERNEL_RESERVE_MIN :
		  reserve > KERNEL_RESERVE_MAX ? KERNEL_RESERVE_MAX : reserve;
	if (kframes.nfree < quota + reserve + 64)
		refuse("too little memory left");
	uint64_t budget = kframes.nfree - quota - reserve;

	cap_install(e, EXO_SLOT_SELF_ENV, NULL, EXO_CAP_ENV, EXO_R_ALL, 0, 0, e);
	cap_install(e, EXO_SLOT_MEMORY, NULL, EXO_CAP_MEMORY, EXO_R_ALL, 0, budget, NULL);
	cap_install(e, EXO_SLOT_CONSOLE, NULL, EXO_CAP_CONSOLE, EXO_R_ALL, 0, 0, NULL);
	cap_install(e, EXO_SLOT_CLOCK, NULL, EXO_CAP_CLOCK, EXO_R_ALL, 0, 0, NULL);
	struct cap *imgcap = cap_install(e, EXO_SLOT_IMAGE, NULL, EXO_CAP_FRAME, EXO_R_ALL,
					 image_pa / PAGE_SIZE, pages, NULL);
	struct cap *stkcap = cap_install(e, EXO_SLOT_STACK, NULL, EXO_CAP_FRAME, EXO_R_ALL,
					 stack_pa / PAGE_SIZE, EXO_STACK_PAGES, NULL);
	cap_count_frames(imgcap);
	cap_count_frames(stkcap);

	struct exo_start *st = phys_to_virt(start_pa);
	st->magic = EXO_START_MAGIC;
	st->entry = h->entry;
	st->phent = h->phentsize;
	st->phnum = h->phnum;
	st->stack_top = EXO_STACK_TOP;
	st->image_end = hi;
	for (int i = 0; i < h->phnum; i++) {
		if (ph[i].type == PT_PHDR)
			st->phdr = ph[i].vaddr;
		else if (ph[i].type == PT_LOAD && ph[i].offset == 0 && !st->phdr)
			st->phdr = ph[i].vaddr + h->phoff;
	}
	if (bi->cmdline)
		memcpy(st->cmdline, bi->cmdline, strlen(bi->cmdline) < 255 ? strlen(bi->cmdline) : 255);

	int slot = EXO_SLOT_FIRST_FREE;
	st->irq_slot_first = (uint64_t)slot;
	st->irq_count = 24;
	for (int irq = 0; irq < 24; irq++)
		cap_install(e, slot++, NULL, EXO_CAP_IRQ, EXO_R_ALL, (uint64_t)irq, 1, NULL);
	st->pci_slot_first = (uint64_t)slot;
	st->pci_count = (uint64_t)pci_count;
	for (int i = 0; i < pci_count; i++) {
		const struct pci_device *d = &pci_devices[i];
		cap_install(e, slot++, NULL, EXO_CAP_PCI, EXO_R_ALL,
			    (uint64_t)d->bus << 8 | (uint64_t)d->dev << 3 | d->fn, 1, NULL);
	}
	st->ioport_slot_first = (uint64_t)slot;
	for (size_t i = 0; i < sizeof legacy_ports / sizeof legacy_ports[0]; i++) {
		if (pci_io_overlaps(legacy_ports[i].first, legacy_ports[i].count)) {
			klog(LOG_WARN, "loader: ports %#x-%#x belong to a PCI device; not granted\n",
			     legacy_ports[i].first, legacy_ports[i].first + legacy_ports[i].count - 1);
			continue;
		}
		cap_install(e, slot++, NULL, EXO_CAP_IOPORT, EXO_R_ALL, legacy_ports[i].first,
			    legacy_ports[i].count, NULL);
		st->ioport_count++;
	}
	/* devices that can DMA only through their rings (ring.h) */
	st->nic_slot_first = (uint64_t)slot;
	st->nic_count = (uint64_t)ring_nic_count();
	for (int i = 0; i < ring_nic_count(); i++)
		cap_install(e, slot++, NULL, EXO_CAP_NIC, EXO_R_ALL, 0, 0, ring_nic_root(i));
	st->blk_slot_first = (uint64_t)slot;
	st->blk_count = (uint64_t)ring_blk_count();
	for (int i = 0; i < ring_blk_count(); i++)
		cap_install(e, slot++, NULL, EXO_CAP_BLOCK, EXO_R_ALL, 0,
			    ((struct blk_dev *)ring_blk_root(i)->dev)->sectors, ring_blk_root(i));
	for (int i = first_module; i < bi->nmodules && st->nmodules < EXO_START_MAX_MODULES; i++) {
		const struct boot_module *m = &bi->modules[i];
		struct exo_start_module *sm = &st->modules[st->nmodules++];
		uint64_t first = m->start / PAGE_SIZE;
		uint64_t count = (m->end + PAGE_SIZE - 1) / PAGE_SIZE - first;
		cap_install(e, slot, NULL, EXO_CAP_FRAME, EXO_R_READ | EXO_R_GRANT | EXO_R_DERIVE,
			    first, count ? count : 1, NULL);
		sm->slot = (uint64_t)slot++;
		sm->size = m->end - m->start;
		if (m->cmdline)
			memcpy(sm->name, m->cmdline, strlen(m->cmdline) < 47 ? strlen(m->cmdline) : 47);
	}

	boot_mark("caps");
	for (uint64_t p = 0; p < pages; p++) {
		uint32_t prot = page_prot(ph, h->phnum, lo + p * PAGE_SIZE);
		if (prot && env_map(e, lo + p * PAGE_SIZE, image_pa + p * PAGE_SIZE, prot, imgcap))
			refuse("out of kernel memory while mapping it");
	}
	for (uint64_t p = 0; p < EXO_STACK_PAGES; p++)
		if (env_map(e, EXO_STACK_TOP - (EXO_STACK_PAGES - p) * PAGE_SIZE,
			    stack_pa + p * PAGE_SIZE, EXO_PROT_READ | EXO_PROT_WRITE, stkcap))
			refuse("out of kernel memory while mapping its stack");
	if (loader_map_kinfo(e) || env_map(e, EXO_START_VA, start_pa, EXO_PROT_READ, NULL))
		refuse("out of kernel memory");

	struct thread *t = thread_create(e, &err);
	if (!t)
		refuse("no memory for its thread");
	cap_install(e, EXO_SLOT_SELF_THREAD, NULL, EXO_CAP_THREAD, EXO_R_ALL, 0, 0, t);
	t->tf->rip = h->entry;
	t->tf->rsp = EXO_STACK_TOP;
	t->tf->rdi = EXO_START_VA;
	thread_start(t);
	klog(LOG_INFO, "loader: first program '%s': %lu KiB at %#lx, entry %#lx, %lu MiB of memory to hand out\n",
	     name, pages * 4, lo, h->entry, budget >> 8);
}
