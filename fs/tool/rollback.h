/*
 * The host tool's rollback protection: the newest generation seen of each
 * volume, kept under the user's XDG state directory.
 */
#ifndef EXO_FS_TOOL_ROLLBACK_H
#define EXO_FS_TOOL_ROLLBACK_H

#include <stdbool.h>
#include <stdint.h>

struct rollback {
	bool allow;             /* --allow-rollback: accept (and record) older */
	bool warned, disabled;
	uint64_t recorded;      /* generation in the state file (0 = none) */
	uint64_t seen;          /* generation found at mount */
	char path[4096];        /* the volume's state file ("" = none) */
};

/* At mount: refuse (-ESTALE) a generation older than recorded for this
 * volume unless rb->allow; otherwise record it. */
int rollback_check(struct rollback *rb, const uint8_t id[16], uint64_t generation);
/* After a commit (mkfs's too): record the new generation. */
void rollback_committed(struct rollback *rb, const uint8_t id[16], uint64_t generation);

#endif
