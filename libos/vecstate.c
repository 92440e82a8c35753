/*
 * The program's vector registers around library-OS code that uses them.
 * Handlers are built -mgeneral-regs-only so a reflected call leaves the
 * caller's SSE/AVX state alone; CryptoFS (AEGIS-256 on AES-NI, libsodium)
 * cannot be.  vec_enter saves the whole extended state (XSAVE with every
 * feature XCR0 enables, or FXSAVE) into a libOS buffer, vec_leave puts it
 * back, so the program gets its registers back as the Linux ABI promises.
 * Nesting is counted: only the outermost pair saves and restores.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/vecstate.h"

static uint8_t *area;		/* 64-byte aligned save area */
static uint32_t depth;
static int use_xsave;
static uint32_t mask_lo, mask_hi;	/* XCR0: the features to save */

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Sizes the save area for this CPU: 0 or -ENOMEM. */
int vec_init(void)
{
	uint32_t r[4], size = 512;

	if (area)
		return 0;
	cpuid(1, 0, r);
	use_xsave = (r[2] >> 27) & 1;		/* OSXSAVE: the kernel enabled XSAVE */
	if (use_xsave) {
		__asm__ volatile("xgetbv" : "=a"(mask_lo), "=d"(mask_hi) : "c"(0));
		cpuid(0xd, 0, r);
		size = r[1];			/* for the features XCR0 enables */
	}
	uint8_t *p = lo_alloc(size + 64);	/* lo_alloc aligns to 16 only */
	if (!p)
		return -ENOMEM;
	area = (uint8_t *)(((uint64_t)p + 63) & ~63ull);
	return 0;
}

void vec_enter(void)
{
	if (depth++ || !area)
		return;
	if (use_xsave)
		__asm__ volatile("xsave64 (%0)" :: "r"(area), "a"(mask_lo), "d"(mask_hi) : "memory");
	else
		__asm__ volatile("fxsave64 (%0)" :: "r"(area) : "memory");
}

void vec_leave(void)
{
	if (--depth || !area)
		return;
	if (use_xsave)
		__asm__ volatile("xrstor64 (%0)" :: "r"(area), "a"(mask_lo), "d"(mask_hi) : "memory");
	else
		__asm__ volatile("fxrstor64 (%0)" :: "r"(area) : "memory");
}
