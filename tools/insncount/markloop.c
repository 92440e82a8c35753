/*
 * The guest side of tests/suites/29-insncount.sh: windows between two
 * markers (insnmark.h) whose instruction counts are known exactly, to
 * check what tools/insncount/insncount.so records.  Each window is one asm
 * statement, so the compiler puts nothing inside it: the first marker,
 * `mov $N, %ecx`, N rounds of `dec %ecx; jnz`, the second marker, that is
 * 2N + 2 instructions counted from after the first marker through the
 * second.  Window 1 runs five times with N = 1000 (ids 1, 2), window 2
 * once with N = 10,000,000 (ids 3, 4).
 */
#include "insnmark.h"

#include <stdio.h>

#define MARK_BYTES(id) ".byte 0x0f, 0x1f, 0x80\n\t.long " #id "\n\t"
#define WINDOW(first, second, n) \
	__asm__ volatile(MARK_BYTES(first) "mov $" #n ", %%ecx\n" \
			 "1:\tdec %%ecx\n\tjnz 1b\n\t" MARK_BYTES(second) ::: "ecx", "cc", "memory")

/* The ids as displacements: INSNMARK_MAGIC << 16 | id. */
#define ID1 0x4d4b0001
#define ID2 0x4d4b0002
#define ID3 0x4d4b0003
#define ID4 0x4d4b0004
_Static_assert(ID1 == (INSNMARK_MAGIC << 16 | 1), "the window's marker ids follow insnmark.h");

int main(void)
{
	for (int i = 0; i < 5; i++)
		WINDOW(ID1, ID2, 1000);
	WINDOW(ID3, ID4, 10000000);
	INSNMARK(5);
	printf("markloop done\n");
	return 0;
}
