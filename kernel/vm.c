/*
 * Kernel page tables.  The boot code maps the first 4 GiB; vm_init replaces
 * that with: every RAM range of the boot memory map at DIRECT_BASE (read and
 * write, never executable), the kernel image at KERNEL_VMA with text
 * read-only and executable and everything else non-executable, and the
 * registered guard pages left out.  The identity map is dropped.
 */
#include "kernel/vm.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/memmap.h"
#include "kernel/heap.h"
#include "kernel/string.h"

struct frames kframes;
static uint64_t *kernel_pml4;
static uint64_t nx_bit;
static uintptr_t guards[16];
static int nguards;
static uintptr_t kstack_next = KSTACK_REGION;

extern char __kernel_phys_start[], __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[], __ksyms_start[], __ksyms_end[], __kernel_end[];
extern char boot_stack_guard[];

#define SIZE_2M (2ull << 20)

uint64_t page_alloc_zeroed(void)
{
	uint64_t pa = frame_alloc(&kframes);

	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

uint64_t mm_init(const struct boot_info *bi, uint64_t info_phys)
{
	struct memmap m;

	memmap_from_boot(&m, bi);
	memmap_reserve(&m, 0, 1ull << 20);		/* real-mode area, BIOS */
	memmap_reserve(&m, (uint64_t)__kernel_phys_start, kernel_virt_to_phys(__kernel_end));
	memmap_reserve(&m, info_phys, info_phys + bi->total_size);
	for (int i = 0; i < bi->nmodules; i++)
		memmap_reserve(&m, bi->modules[i].start, bi->modules[i].end);
	if (m.dropped)
		klog(LOG_WARN, "mm: memory map has more than %d ranges; %d ignored\n",
		     MEMMAP_MAX, m.dropped);

	/* the bitmap must be reachable through the boot map: below 4 GiB */
	size_t bytes = frames_bitmap_bytes(&m);
	uint64_t bm = memmap_carve(&m, bytes, 4ull << 30);
	if (!bm)
		panic("mm: no room below 4 GiB for the frame bitmap (%zu bytes)", bytes);
	frames_init(&kframes, &m, phys_to_virt(bm));
	return (uint64_t)kframes.nfree * PAGE_SIZE + ((bytes + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1));
}

void vm_register_guard(uintptr_t va)
{
	if (nguards == (int)(sizeof guards / sizeof guards[0]))
		panic("vm: too many guard pages");
	guards[nguards++] = va;
}

static int is_guard(uintptr_t va)
{
	for (int i = 0; i < nguards; i++)
		if (guards[i] == va)
			return 1;
	return 0;
}

#define KSTACK_SLOT ((int)((KSTACK_REGION >> 39) & 511))

/* One past the last PML4 slot of the direct map that physical addresses
 * of this CPU can reach. */
static int direct_slot_end(void)
{
	uint64_t slots = ((1ull << cpu.phys_bits) + (1ull << 39) - 1) >> 39;
	uint64_t first = (DIRECT_BASE >> 39) & 511;
	return first + slots < (uint64_t)KSTACK_SLOT ? (int)(first + slots) : KSTACK_SLOT;
}

/* The table entry for va at the given level (4 = PML4 .. 1 = PT), creating
 * intermediate tables; NULL when memory runs out. */
static uint64_t *walk(uint64_t *pml4, uintptr_t va, int level)
{
	uint64_t *table = pml4;

	for (int l = 4; l > level; l--) {
		uint64_t *e = &table[(va >> (12 + 9 * (l - 1))) & 511];
		if (!(*e & PTE_P)) {
			/* address spaces copied the kernel's top level at creation */
			if (pml4 == kernel_pml4 && l == 4)
				panic("vm: %lx lies outside the kernel's shared top-level slots", va);
			uint64_t pa = page_alloc_zeroed();
			if (!pa)
				return NULL;
			*e = pa | PTE_P | PTE_W;
		}
		if (*e & PTE_PS)
			panic("vm: walk through a large page at %lx", va);
		table = phys_to_virt(*e & PTE_ADDR);
	}
	return &table[(va >> (12 + 9 * (level - 1))) & 511];
}

/* Maps [pa, pa+size) at va with flags, using 2 MiB pages where possible. */
static void map_range(uint64_t *pml4, uintptr_t va, uint64_t pa, uint64_t size, uint64_t flags)
{
	uint64_t end = pa + size;

	while (pa < end) {
		uint64_t *e;
		if (va % SIZE_2M == 0 && pa % SIZE_2M == 0 && end - pa >= SIZE_2M) {
			e = walk(pml4, va, 2);
			if (!e)
				panic("vm: out of memory for page tables");
			*e = pa | flags | PTE_PS;
			va += SIZE_2M, pa += SIZE_2M;
		} else {
			e = walk(pml4, va, 1);
			if (!e)
				panic("vm: out of memory for page tables");
			*e = pa | flags;
			va += PAGE_SIZE, pa += PAGE_SIZE;
		}
	}
}

static void map_kernel_section(uint64_t *pml4, char *start, char *end, uint64_t flags)
{
	for (uintptr_t va = (uintptr_t)start; va < (uintptr_t)end; va += PAGE_SIZE)
		if (!is_guard(va))
			map_range(pml4, va, kernel_virt_to_phys((void *)va), PAGE_SIZE, flags);
}

/* RAM-like EFI types (everything but MMIO, MMIO port space and PAL code),
 * and e820 types 1 (RAM), 3 (ACPI tables) and 4 (ACPI NVS). */
static void direct_map_ram(uint64_t *pml4, const struct boot_info *bi)
{
	struct memmap ram = {0};

	if (bi->efi_mmap) {
		for (uint32_t i = 0; i < bi->efi_mmap_count; i++) {
			struct efi_mem_desc d = bootinfo_efi_entry(bi, i);
			if (d.type <= 10 || d.type == 14)
				memmap_add(&ram, d.phys & ~(SIZE_2M - 1),
					   (d.phys + d.pages * PAGE_SIZE + SIZE_2M - 1) & ~(SIZE_2M - 1));
		}
	} else {
		for (uint32_t i = 0; i < bi->mmap_count; i++) {
			struct e820_entry e = bootinfo_mmap_entry(bi, i);
			if (e.type == 1 || e.type == 3 || e.type == 4)
				memmap_add(&ram, e.base & ~(SIZE_2M - 1),
					   (e.base + e.len + SIZE_2M - 1) & ~(SIZE_2M - 1));
		}
	}
	/* the first MiB (BIOS data, VGA text memory) is always reachable */
	memmap_add(&ram, 0, SIZE_2M);
	for (int i = 0; i < ram.n; i++)
		map_range(pml4, DIRECT_BASE + ram.r[i].start, ram.r[i].start,
			  ram.r[i].end - ram.r[i].start, PTE_P | PTE_W | PTE_G | nx_bit);
}

void vm_init(const struct boot_info *bi)
{
	nx_bit = cpu.nx ? PTE_NX : 0;
	vm_register_guard((uintptr_t)boot_stack_guard);
	uint64_t pa = page_alloc_zeroed();
	if (!pa)
		panic("vm: no memory for the kernel page tables");
	uint64_t *pml4 = phys_to_virt(pa);

	direct_map_ram(pml4, bi);
	map_kernel_section(pml4, __text_start, __text_end, PTE_P | PTE_G);
	map_kernel_section(pml4, __rodata_start, __rodata_end, PTE_P | PTE_G | nx_bit);
	map_kernel_section(pml4, __data_start, __data_end, PTE_P | PTE_W | PTE_G | nx_bit);
	map_kernel_section(pml4, __ksyms_start, __ksyms_end, PTE_P | PTE_G | nx_bit);
	/* make the top-level kernel entries that can ever be used exist now,
	 * so later address spaces share them by copying the upper half of the
	 * PML4: the direct map's up to the highest physical address the CPU
	 * has (RAM or MMIO), the kernel stacks' and the image's */
	for (int i = 256; i < 512; i++)
		if (!(pml4[i] & PTE_P) && (i < direct_slot_end() || i >= KSTACK_SLOT)) {
			uint64_t t = page_alloc_zeroed();
			if (!t)
				panic("vm: out of memory for page tables");
			pml4[i] = t | PTE_P | PTE_W;
		}
	kernel_pml4 = pml4;
	write_cr3(pa);
}

void *vm_map_mmio(uint64_t pa, uint64_t size)
{
	uint64_t start = pa & ~(uint64_t)(PAGE_SIZE - 1);
	uint64_t end = (pa + size + PAGE_SIZE - 1) & ~(uint64_t)(PAGE_SIZE - 1);

	if (!kernel_pml4)
		return phys_to_virt(pa);	/* boot map: all of the low 4 GiB */
	for (uint64_t p = start; p < end; p += PAGE_SIZE) {
		uint64_t size2;
		uint64_t e = vm_lookup(DIRECT_BASE + p, &size2);
		if (e & PTE_P)
			continue;	/* already reachable (inside the direct map) */
		map_range(kernel_pml4, DIRECT_BASE + p, p, PAGE_SIZE,
			  PTE_P | PTE_W | PTE_PCD | PTE_PWT | nx_bit);
		invlpg(DIRECT_BASE + p);
	}
	return phys_to_virt(pa);
}

/*
 * Kernel stacks: slots of a guard page plus KSTACK_SIZE in the stack region.
 * A freed stack keeps its frames and mapping and is handed out again whole:
 * its global TLB entries may linger on other CPUs, so remapping the slot to
 * other frames would need a shootdown.  The region, its page tables and the
 * frames grow only with the most threads alive at once.  The free list has
 * room for every slot ever made, so freeing never allocates.
 */
static uintptr_t *kstack_free_tops;
static uint64_t kstack_nfree, kstack_cap, kstack_made;

/* Room in the free list for one more slot; 0, or -1 when out of memory. */
static int kstack_reserve(void)
{
	if (kstack_made < kstack_cap)
		return 0;
	uint64_t cap = kstack_cap ? kstack_cap * 2 : 64;
	uintptr_t *tops = kmalloc(cap * sizeof *tops);
	if (!tops)
		return -1;
	if (kstack_nfree)
		memcpy(tops, kstack_free_tops, kstack_nfree * sizeof *tops);
	kfree(kstack_free_tops);
	kstack_free_tops = tops;
	kstack_cap = cap;
	return 0;
}

uintptr_t kstack_alloc(void)
{
	if (kstack_nfree)
		return kstack_free_tops[--kstack_nfree];
	uintptr_t top = kstack_next + PAGE_SIZE + KSTACK_SIZE;
	if (top > KSTACK_REGION + KSTACK_REGION_SIZE || kstack_reserve())
		return 0;
	for (uintptr_t va = top - KSTACK_SIZE; va < top; va += PAGE_SIZE) {
		uint64_t pa = page_alloc_zeroed();
		uint64_t *pte = pa ? walk(kernel_pml4, va, 1) : NULL;
		if (!pte) {
			if (pa)
				frame_free(&kframes, pa);
			/* undo: nothing else has seen this slot yet */
			for (uintptr_t v = top - KSTACK_SIZE; v < va; v += PAGE_SIZE) {
				uint64_t *p = walk(kernel_pml4, v, 1);
				frame_free(&kframes, *p & PTE_ADDR);
				*p = 0;
				invlpg(v);
			}
			return 0;
		}
		*pte = pa | PTE_P | PTE_W | PTE_G | nx_bit;
	}
	kstack_next = top;
	kstack_made++;
	return top;
}

uint64_t vm_lookup(uintptr_t va, uint64_t *page_size)
{
	uint64_t *table = phys_to_virt(read_cr3() & PTE_ADDR);

	for (int l = 4; l >= 1; l--) {
		uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
		if (!(e & PTE_P))
			return 0;
		if (l == 1 || (l <= 3 && (e & PTE_PS))) {
			*page_size = 1ull << (12 + 9 * (l - 1));
			return e;
		}
		table = phys_to_virt(e & PTE_ADDR);
	}
	return 0;
}

uint64_t vm_kernel_pml4(void)
{
	return (uint64_t)kernel_pml4 - DIRECT_BASE;
}

void kstack_free(uintptr_t top)
{
	kstack_free_tops[kstack_nfree++] = top;
}
