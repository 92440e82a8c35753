/*
 * Capabilities.  A cap lives in one env's table; caps derived or granted
 * from it are its children in the derivation tree, so revoking a cap reaches
 * every copy made from it, in whatever env it now lives.  Revocation runs
 * without recursion, leaf first, in time linear in the caps it deletes.
 *
 * Frames handed to user space are kept by reference counts, not by one
 * owning cap.  Every counted FRAME cap (from MEM_ALLOC, the first program's
 * image and stack, and every copy of those) keeps its frames, but only a
 * holder counts: a counted cap whose parent is not a counted FRAME cap
 * holds one reference on each frame it covers.  A copy (derived or
 * granted from a counted cap) holds none: it lies within its parent's
 * range, and its parent, or the nearest holder above it, keeps the frames
 * while it exists.  When a holder is deleted, its children move up to its
 * parent, which is no counted FRAME cap, so they become holders and take
 * their references then (cap_delete); a revoke removes them first.  So
 * copying a cap of any size, and deleting a copy, costs the same, and fork
 * does not touch every frame of what it shares.  A frame is freed, and its
 * page refunded to the nearest MEMORY ancestor, only when the last holder
 * covering it goes.  Since every user mapping is recorded on the cap it was
 * made through and removed with it, a freed frame is never still mapped.
 */
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/ring.h"
#include "kernel/string.h"
#include "kernel/vm.h"

struct cap *cap_get(struct env *e, uint64_t slot, int type, uint32_t rights)
{
	if (!e || slot >= (uint64_t)e->cap_top)
		return NULL;
	struct cap *c = &e->caps[slot];
	if (c->type == EXO_CAP_NONE || (type != EXO_CAP_NONE && c->type != type))
		return NULL;
	if ((c->rights & rights) != rights)
		return NULL;
	return c;
}

/* The lowest free slot from EXO_SLOT_FIRST_FREE on (every slot from
 * cap_top on is free), else the lowest below it. */
int cap_free_slot(struct env *e)
{
	for (int i = EXO_SLOT_FIRST_FREE; i < e->cap_top; i++)
		if (e->caps[i].type == EXO_CAP_NONE)
			return i;
	if (e->cap_top < CAP_SLOTS)
		return e->cap_top > EXO_SLOT_FIRST_FREE ? e->cap_top : EXO_SLOT_FIRST_FREE;
	for (int i = 0; i < EXO_SLOT_FIRST_FREE; i++)
		if (e->caps[i].type == EXO_CAP_NONE)
			return i;
	return -EXO_ENOSPC;
}

int cap_slot_of(const struct cap *c)
{
	return (int)(c - c->owner->caps);
}

struct cap *mem_source(struct cap *c)
{
	while (c->first == EXO_MEM_DRAW && c->parent && c->parent->type == EXO_CAP_MEMORY)
		c = c->parent;
	return c;
}

/* 1 when c holds references on its frames: counted, and no copy of a
 * counted FRAME cap. */
static int cap_holds_refs(const struct cap *c)
{
	return c->type == EXO_CAP_FRAME && c->counted &&
	       !(c->parent && c->parent->type == EXO_CAP_FRAME && c->parent->counted);
}

int cap_frames_shared(const struct cap *c)
{
	if (c->child || (c->parent && c->parent->type == EXO_CAP_FRAME))
		return 1;
	for (const struct mapping *m = c->maps; m; m = m->cap_next)
		if (m->env != c->owner)
			return 1;
	if (cap_holds_refs(c))
		for (uint64_t f = c->first; f < c->first + c->count; f++)
			if (frame_refs(&kframes, f) > 1)
				return 1;
	return 0;
}

void cap_count_frames(struct cap *c)
{
	c->counted = 1;
	if (cap_holds_refs(c))
		frame_ref(&kframes, c->first, c->count);
}

/* Links c under parent (NULL: a root). */
static void cap_link(struct cap *c, struct cap *parent)
{
	c->parent = parent;
	if (parent) {
		c->next = parent->child;
		if (parent->child)
			parent->child->prev = c;
		parent->child = c;
	}
}

struct cap *cap_install(struct env *e, int slot, struct cap *parent, int type,
			uint32_t rights, uint64_t first, uint64_t count, void *obj)
{
	struct cap *c = &e->caps[slot];

	if (slot >= e->cap_top)
		e->cap_top = slot + 1;
	*c = (struct cap){ .type = (uint8_t)type, .rights = rights, .first = first,
			   .count = count, .obj = obj, .owner = e };
	cap_link(c, parent);
	if (type == EXO_CAP_FRAME && parent && parent->type == EXO_CAP_FRAME && parent->counted)
		c->counted = 1;		/* a copy: its parent keeps the frames */
	if (type == EXO_CAP_ENV && obj != e)	/* an env's cap to itself is no reference */
		((struct env *)obj)->refs++;
	else if (type == EXO_CAP_THREAD)
		((struct thread *)obj)->refs++;
	else if (type == EXO_CAP_NOTIFY)
		((struct notify *)obj)->refs++;
	else if (type == EXO_CAP_NIC || type == EXO_CAP_BLOCK)
		ring_port_get(obj);
	return c;
}

void cap_pin(struct cap *pin, struct cap *frame, uint64_t first, uint64_t count, void *req)
{
	*pin = (struct cap){ .type = EXO_CAP_FRAME, .pinned = 1, .rights = EXO_R_READ | EXO_R_WRITE,
			     .first = first, .count = count, .obj = req };
	cap_link(pin, frame);
	pin->counted = frame->counted;	/* a copy: it holds references once frame goes */
}

/* Drops what the cap holds, unlinks it from the tree and frees its slot.
 * The cap must have no children. */
static void cap_release(struct cap *c)
{
	switch (c->type) {
	case EXO_CAP_FRAME:
		if (c->pinned)
			ring_pin_release(c);	/* no DMA into the frames from here on */
		if (c->maps)
			env_unmap_cap(c);	/* before the frames can go */
		if (cap_holds_refs(c)) {
			uint64_t freed = frame_unref(&kframes, c->first, c->count);
			struct cap *m = c->parent;
			while (m && m->type != EXO_CAP_MEMORY)
				m = m->parent;
			if (m)
				mem_source(m)->count += freed;	/* budget back to who paid */
		}
		break;
	case EXO_CAP_MEMORY:
		if (c->parent && c->parent->type == EXO_CAP_MEMORY)
			mem_source(c->parent)->count += c->count;
		/* quotas it paid for are refunded to its parent from now on */
		env_quota_source_gone(c, c->parent && c->parent->type == EXO_CAP_MEMORY ? c->parent : NULL);
		break;
	case EXO_CAP_ENV:
		if (c->obj != c->owner)
			env_put(c->obj);
		break;
	case EXO_CAP_THREAD:
		thread_put(c->obj);
		break;
	case EXO_CAP_NOTIFY:
		notify_put(c->obj);
		break;
	case EXO_CAP_IRQ:
		irq_release(c);
		break;
	case EXO_CAP_IOPORT:
		env_ioport_disable(c->owner, c->first, c->count);
		break;
	case EXO_CAP_NIC:
	case EXO_CAP_BLOCK:
		ring_port_put(c->obj);
		break;
	default:
		break;
	}
	if (c->parent) {
		if (c->parent->child == c)
			c->parent->child = c->next;
		if (c->prev)
			c->prev->next = c->next;
		if (c->next)
			c->next->prev = c->prev;
	}
	memset(c, 0, sizeof *c);
}

void cap_revoke(struct cap *c)
{
	struct cap *k = c;

	/* depth first: go down to a leaf, release it, resume at its parent */
	while (c->child) {
		while (k->child)
			k = k->child;
		struct cap *up = k->parent;
		cap_release(k);
		k = up;
	}
}

/* Moves child k from its parent to newparent (NULL: a root). */
static void reparent(struct cap *k, struct cap *newparent)
{
	struct cap *old = k->parent;

	if (old->child == k)
		old->child = k->next;
	if (k->prev)
		k->prev->next = k->next;
	if (k->next)
		k->next->prev = k->prev;
	k->prev = NULL;
	k->parent = newparent;
	k->next = newparent ? newparent->child : NULL;
	if (newparent) {
		if (newparent->child)
			newparent->child->prev = k;
		newparent->child = k;
	}
}

/*
 * Deleting a cap removes only it: its children move up to its parent, so
 * copies granted to other envs outlive the cap they came from (a forked
 * child keeps its pages when the parent exits); the frames stay allocated
 * while any copy covers them.  cap_revoke is what reaches every copy.
 */
void cap_delete(struct cap *c)
{
	int holder = cap_holds_refs(c);

	while (c->child) {
		struct cap *k = c->child;
		reparent(k, c->parent);
		if (holder && k->type == EXO_CAP_FRAME && k->counted)
			frame_ref(&kframes, k->first, k->count);	/* now a holder itself */
	}
	cap_release(c);
}
