/*
 * The marker instruction tools/insncount/insncount.so records: a 7-byte
 * `nopl MARK(%rax)` (0f 1f 80 and a 32-bit displacement) whose
 * displacement's high half is INSNMARK_MAGIC and low half the marker's id.
 * A NOP never touches memory, so it is harmless in any ring, on Linux and
 * ExoSwarm, and on real hardware; compilers pad with displacement 0, never
 * with this one.  Shared by the plugin and the guests' code (plain C, no
 * OS headers).
 */
#ifndef EXO_INSNMARK_H
#define EXO_INSNMARK_H

#define INSNMARK_MAGIC 0x4d4bu	/* "KM" */

/* Marks this point in the instruction stream with ID (0..65535). */
#define INSNMARK(id) \
	__asm__ volatile(".byte 0x0f, 0x1f, 0x80\n\t.long %c0" \
			 :: "i"((INSNMARK_MAGIC << 16) | ((id) & 0xffffu)) : "memory")

#endif
