/* Capability tables and the derivation tree; see object.h. */
#ifndef EXO_KERNEL_CAP_H
#define EXO_KERNEL_CAP_H

#include "kernel/object.h"

/* The cap in slot of e when it has this type (or any type for
 * EXO_CAP_NONE) and all of these rights; NULL otherwise. */
struct cap *cap_get(struct env *e, uint64_t slot, int type, uint32_t rights);

/* A free slot of e, or -EXO_ENOSPC. */
int cap_free_slot(struct env *e);

/* Fills slot of e (which must be free) as a child of parent (or a root). */
struct cap *cap_install(struct env *e, int slot, struct cap *parent, int type,
			uint32_t rights, uint64_t first, uint64_t count, void *obj);

/* The MEMORY cap whose pages c spends: c, or for a cap that draws on its
 * parent (EXO_MEM_DRAW) the nearest ancestor that does not. */
struct cap *mem_source(struct cap *c);

/* Makes the new FRAME cap c (installed under a MEMORY cap or none, over
 * frames just allocated for it) hold a reference on each of its frames;
 * copies of it are counted too and kept by it (cap.c). */
void cap_count_frames(struct cap *c);
/* Whether anything but FRAME cap c can reach one of its frames: a copy of
 * it (a child), the cap it is a copy of, another holder of the same frames
 * (copies that became holders when theirs was deleted), or a mapping made
 * through it in another env. CAP_INSPECT reports it, so the library OS
 * knows when a page it shared at a fork is its own again. */
int cap_frames_shared(const struct cap *c);

/* Makes *pin (storage in no table) a FRAME child of frame over
 * [first, first + count), counted when frame is, so the frames outlive
 * frame's deletion while a device may use them; req is the ring request
 * it belongs to (ring.h).  Released by cap_delete, or by revoking an
 * ancestor, which first stops the device (ring_pin_release). */
void cap_pin(struct cap *pin, struct cap *frame, uint64_t first, uint64_t count, void *req);

/* Deletes every cap derived from c (in any env). */
void cap_revoke(struct cap *c);

/* Revokes c, then releases it and frees its slot. */
void cap_delete(struct cap *c);

int cap_slot_of(const struct cap *c);

#endif
