/* Physical frame allocator; see frame.h. */
#include "kernel/frame.h"

#include <errno.h>
#include <string.h>

#define FRAME 4096ull

static int test_bit(const uint64_t *bm, uint64_t i) { return (bm[i / 64] >> (i % 64)) & 1; }
static void set_bit(uint64_t *bm, uint64_t i) { bm[i / 64] |= 1ull << (i % 64); }
static void clear_bit(uint64_t *bm, uint64_t i) { bm[i / 64] &= ~(1ull << (i % 64)); }

/* Sets (set) or clears bits [first, end): whole words at a time in the
 * middle (one bit at a time, clearing was most of the boot's time with
 * 512 MiB). */
static void fill_range(uint64_t *bm, uint64_t first, uint64_t end, int set)
{
	for (; first < end && first % 64; first++)
		set ? set_bit(bm, first) : clear_bit(bm, first);
	for (; first + 64 <= end; first += 64)
		bm[first / 64] = set ? ~0ull : 0;
	for (; first < end; first++)
		set ? set_bit(bm, first) : clear_bit(bm, first);
}

static size_t bitmap_only_bytes(uint64_t frames) { return (size_t)((frames + 63) / 64 * 8); }

size_t frames_bitmap_bytes(const struct memmap *m)
{
	uint64_t frames = memmap_highest(m) / FRAME;
	return bitmap_only_bytes(frames) + (size_t)frames * sizeof(uint32_t);
}

void frames_init(struct frames *f, const struct memmap *m, uint64_t *bitmap)
{
	f->bitmap = bitmap;
	f->nframes = memmap_highest(m) / FRAME;
	f->nfree = 0;
	f->hint = 0;
	f->usable = *m;
	f->refs = (uint32_t *)((uint8_t *)bitmap + bitmap_only_bytes(f->nframes));
	memset(bitmap, 0xff, bitmap_only_bytes(f->nframes));
	memset(f->refs, 0, (size_t)f->nframes * sizeof(uint32_t));
	for (int i = 0; i < m->n; i++) {
		uint64_t first = m->r[i].start / FRAME, end = m->r[i].end / FRAME;
		fill_range(bitmap, first, end, 0);
		f->nfree += end - first;
	}
	/* frame 0 is never handed out: 0 is the allocator's "none left" */
	if (f->nframes && !test_bit(bitmap, 0)) {
		set_bit(bitmap, 0);
		f->nfree--;
	}
}

uint64_t frame_alloc(struct frames *f)
{
	uint64_t words = (f->nframes + 63) / 64;

	for (uint64_t k = 0; k < words; k++) {
		uint64_t w = (f->hint + k) % words;
		if (f->bitmap[w] == ~0ull)
			continue;
		uint64_t bit = (uint64_t)__builtin_ctzll(~f->bitmap[w]);
		uint64_t i = w * 64 + bit;
		if (i >= f->nframes)
			continue;
		set_bit(f->bitmap, i);
		f->nfree--;
		f->hint = w;
		return i * FRAME;
	}
	return 0;
}

/* The first frame of the lowest run of n free frames below top, or top
 * when there is none.  The search starts at word f->hint (every word below
 * it is full: frame_alloc moves it only past full words, a free lowers
 * it) and takes a word at a time, its free and used stretches measured by
 * counting trailing bits, not a bit at a time (a fork's MEM_ALLOC_COPYs
 * spent about 7,000 instructions each here, most of a fork's frames). */
static uint64_t contig_find(const struct frames *f, uint64_t n, uint64_t top)
{
	uint64_t run = 0;

	for (uint64_t i = f->hint * 64; i < top; i += 64) {
		uint64_t w = f->bitmap[i / 64];
		if (top - i < 64)
			w |= ~0ull << (top - i);	/* past top: taken as used */
		if (w == ~0ull) {
			run = 0;
			continue;
		}
		for (uint64_t b = 0; b < 64;) {
			uint64_t rest = w >> b;
			if (rest & 1) {		/* used up to the next free bit */
				run = 0;
				b += (uint64_t)__builtin_ctzll(~rest);
				continue;
			}
			uint64_t free = rest ? (uint64_t)__builtin_ctzll(rest) : 64 - b;
			if (run + free >= n)
				return i + b - run;
			run += free;
			b += free;
		}
	}
	return top;
}

uint64_t frame_alloc_contig(struct frames *f, uint64_t n, uint64_t limit)
{
	uint64_t top = limit / FRAME < f->nframes ? limit / FRAME : f->nframes;

	if (n == 0)
		return 0;
	uint64_t first = contig_find(f, n, top);
	if (first >= top)
		return 0;
	fill_range(f->bitmap, first, first + n, 1);
	f->nfree -= n;
	return first * FRAME;
}

/* Whether [pa, pa + len) lies inside one usable range (a binary search). */
static int run_usable(const struct frames *f, uint64_t pa, uint64_t len)
{
	int lo = 0, hi = f->usable.n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (pa < f->usable.r[mid].start)
			hi = mid;
		else if (pa >= f->usable.r[mid].end)
			lo = mid + 1;
		else
			return len <= f->usable.r[mid].end - pa;
	}
	return 0;
}

int frame_free(struct frames *f, uint64_t pa)
{
	uint64_t i = pa / FRAME;

	if (pa % FRAME || pa == 0 || i >= f->nframes || !run_usable(f, pa, 1) ||
	    !test_bit(f->bitmap, i) || f->refs[i])
		return -EINVAL;
	clear_bit(f->bitmap, i);
	f->nfree++;
	if (i / 64 < f->hint)
		f->hint = i / 64;
	return 0;
}

int frame_is_free(const struct frames *f, uint64_t pa)
{
	uint64_t i = pa / FRAME;
	return pa % FRAME == 0 && i < f->nframes && !test_bit(f->bitmap, i);
}

void frame_ref(struct frames *f, uint64_t first_pfn, uint64_t count)
{
	for (uint64_t i = first_pfn; i < first_pfn + count; i++)
		f->refs[i]++;
}

/* Bits set in w (no popcnt instruction is assumed). */
static uint64_t bits_set(uint64_t w)
{
	w = w - ((w >> 1) & 0x5555555555555555ull);
	w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
	w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (w * 0x0101010101010101ull) >> 56;
}

/* Frees the n frames from pfn on, whose counts just reached zero: a word
 * of the bitmap at a time when they lie in one usable range (a frame not
 * in use stays as it is and is not counted), else frame by frame.  The
 * number freed. */
static uint64_t free_run(struct frames *f, uint64_t pfn, uint64_t n)
{
	uint64_t freed = 0;

	if (pfn == 0 || !run_usable(f, pfn * FRAME, n * FRAME)) {
		for (uint64_t i = pfn; i < pfn + n; i++)
			freed += frame_free(f, i * FRAME) == 0;
		return freed;
	}
	for (uint64_t i = pfn; i < pfn + n;) {
		uint64_t bit = i % 64, take = 64 - bit < pfn + n - i ? 64 - bit : pfn + n - i;
		uint64_t mask = (take == 64 ? ~0ull : (1ull << take) - 1) << bit;
		freed += bits_set(f->bitmap[i / 64] & mask);
		f->bitmap[i / 64] &= ~mask;
		i += take;
	}
	f->nfree += freed;
	if (pfn / 64 < f->hint)
		f->hint = pfn / 64;
	return freed;
}

/* Frames whose count reaches zero are freed by runs: a cap's frames are
 * contiguous, so deleting the only holder of 512 of them is a few bitmap
 * words, not 512 searches of the usable ranges (execve's and an env's
 * teardown free hundreds at a time). */
uint64_t frame_unref(struct frames *f, uint64_t first_pfn, uint64_t count)
{
	uint64_t freed = 0, run = 0;

	for (uint64_t i = first_pfn; i < first_pfn + count; i++) {
		if (f->refs[i] && --f->refs[i] == 0) {
			run++;
			continue;
		}
		if (run)
			freed += free_run(f, i - run, run);
		run = 0;
	}
	if (run)
		freed += free_run(f, first_pfn + count - run, run);
	return freed;
}

uint32_t frame_refs(const struct frames *f, uint64_t pfn)
{
	return pfn < f->nframes ? f->refs[pfn] : 0;
}
