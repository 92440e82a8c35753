/* Usable physical memory ranges; see memmap.h. */
#include "kernel/memmap.h"

#include <string.h>

#define PAGE 4096ull

static uint64_t round_up(uint64_t v) { return v > UINT64_MAX - (PAGE - 1) ? UINT64_MAX & ~(PAGE - 1) : (v + PAGE - 1) & ~(PAGE - 1); }
static uint64_t round_down(uint64_t v) { return v & ~(PAGE - 1); }

static void remove_at(struct memmap *m, int i)
{
	memmove(&m->r[i], &m->r[i + 1], (size_t)(m->n - i - 1) * sizeof m->r[0]);
	m->n--;
}

static void insert_at(struct memmap *m, int i, uint64_t start, uint64_t end)
{
	if (m->n == MEMMAP_MAX) {
		m->dropped++;
		return;
	}
	memmove(&m->r[i + 1], &m->r[i], (size_t)(m->n - i) * sizeof m->r[0]);
	m->r[i] = (struct mem_range){ start, end };
	m->n++;
}

void memmap_add(struct memmap *m, uint64_t start, uint64_t end)
{
	start = round_up(start);
	end = round_down(end);
	if (end <= start)
		return;
	int i = 0;
	while (i < m->n && m->r[i].end < start)
		i++;
	/* absorb every range that overlaps or touches [start, end) */
	while (i < m->n && m->r[i].start <= end) {
		if (m->r[i].start < start)
			start = m->r[i].start;
		if (m->r[i].end > end)
			end = m->r[i].end;
		remove_at(m, i);
	}
	insert_at(m, i, start, end);
}

void memmap_reserve(struct memmap *m, uint64_t start, uint64_t end)
{
	if (end <= start)
		return;
	start = round_down(start);
	end = round_up(end);
	for (int i = 0; i < m->n;) {
		struct mem_range r = m->r[i];
		if (r.end <= start || r.start >= end) {
			i++;
			continue;
		}
		remove_at(m, i);
		if (r.start < start)
			insert_at(m, i++, r.start, start);
		if (r.end > end)
			insert_at(m, i++, end, r.end);
	}
}

/* EFI types usable once boot services have exited: loader code/data,
 * boot-services code/data and conventional memory. */
static int efi_usable(uint32_t type)
{
	return type == 1 || type == 2 || type == 3 || type == 4 || type == 7;
}

void memmap_from_boot(struct memmap *m, const struct boot_info *bi)
{
	memset(m, 0, sizeof *m);
	if (bi->efi_mmap && bi->efi_mmap_count) {
		for (uint32_t i = 0; i < bi->efi_mmap_count; i++) {
			struct efi_mem_desc d = bootinfo_efi_entry(bi, i);
			if (efi_usable(d.type) && d.pages < (UINT64_MAX - d.phys) / PAGE)
				memmap_add(m, d.phys, d.phys + d.pages * PAGE);
		}
		return;
	}
	for (uint32_t i = 0; i < bi->mmap_count; i++) {
		struct e820_entry e = bootinfo_mmap_entry(bi, i);
		if (e.type == 1 && e.len <= UINT64_MAX - e.base)
			memmap_add(m, e.base, e.base + e.len);
	}
	/* e820 entries may overlap with reserved ones; reserved wins */
	for (uint32_t i = 0; i < bi->mmap_count; i++) {
		struct e820_entry e = bootinfo_mmap_entry(bi, i);
		if (e.type != 1 && e.len <= UINT64_MAX - e.base)
			memmap_reserve(m, e.base, e.base + e.len);
	}
}

uint64_t memmap_total(const struct memmap *m)
{
	uint64_t total = 0;

	for (int i = 0; i < m->n; i++)
		total += m->r[i].end - m->r[i].start;
	return total;
}

uint64_t memmap_highest(const struct memmap *m)
{
	return m->n ? m->r[m->n - 1].end : 0;
}

uint64_t memmap_carve(struct memmap *m, uint64_t size, uint64_t limit)
{
	size = round_up(size);
	for (int i = 0; i < m->n; i++) {
		struct mem_range *r = &m->r[i];
		if (r->end - r->start >= size && r->start + size <= limit) {
			uint64_t start = r->start;
			memmap_reserve(m, start, start + size);
			return start;
		}
	}
	return 0;
}
