/*
 * Capabilities.  A cap lives in one env's table; caps derived or granted
 * from it are its children in the derivation tree, so revoking a cap reaches
 * every copy made from it, in whatever env it now lives.  Revocation runs
 * without recursion: it repeatedly finds a leaf below the cap and releases it.
 */
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/env.h"
#include "kernel/string.h"

struct cap *cap_get(struct env *e, uint64_t slot, int type, uint32_t rights)
{
	if (!e || slot >= CAP_SLOTS)
		return NULL;
	struct cap *c = &e->caps[slot];
	if (c->type == EXO_CAP_NONE || (type != EXO_CAP_NONE && c->type != type))
		return NULL;
	if ((c->rights & rights) != rights)
		return NULL;
	return c;
}

int cap_free_slot(struct env *e)
{
	for (int i = EXO_SLOT_FIRST_FREE; i < CAP_SLOTS; i++)
		if (e->caps[i].type == EXO_CAP_NONE)
			return i;
	for (int i = 0; i < EXO_SLOT_FIRST_FREE; i++)
		if (e->caps[i].type == EXO_CAP_NONE)
			return i;
	return -EXO_ENOSPC;
}

int cap_slot_of(const struct cap *c)
{
	return (int)(c - c->owner->caps);
}

struct cap *cap_install(struct env *e, int slot, struct cap *parent, int type,
			uint32_t rights, uint64_t first, uint64_t count, void *obj)
{
	struct cap *c = &e->caps[slot];

	*c = (struct cap){ .type = (uint8_t)type, .rights = rights, .first = first,
			   .count = count, .obj = obj, .owner = e, .parent = parent };
	if (parent) {
		c->next = parent->child;
		if (parent->child)
			parent->child->prev = c;
		parent->child = c;
	}
	if (type == EXO_CAP_ENV && obj != e)	/* an env's cap to itself is no reference */
		((struct env *)obj)->refs++;
	else if (type == EXO_CAP_THREAD)
		((struct thread *)obj)->refs++;
	else if (type == EXO_CAP_NOTIFY)
		((struct notify *)obj)->refs++;
	return c;
}

/* Drops what the cap holds, unlinks it from the tree and frees its slot.
 * The cap must have no children. */
static void cap_release(struct cap *c)
{
	switch (c->type) {
	case EXO_CAP_FRAME:
		while (c->maps)
			env_unmap_mapping(c->maps);
		if (c->owns_frames && c->own_count)
			env_free_frames(c->own_first, c->own_count);
		if (c->owns_frames && c->parent && c->parent->type == EXO_CAP_MEMORY)
			c->parent->count += c->own_count;	/* budget back */
		break;
	case EXO_CAP_MEMORY:
		if (c->parent && c->parent->type == EXO_CAP_MEMORY)
			c->parent->count += c->count;
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
	while (c->child) {
		struct cap *leaf = c->child;
		while (leaf->child)
			leaf = leaf->child;
		cap_release(leaf);
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
 * Deleting a cap removes only it: its children move up to its parent, and
 * frames it owned pass to its first frame child, so copies granted to
 * other envs outlive the cap they came from (a forked child keeps its pages
 * when the parent exits).  cap_revoke is what reaches every copy.
 */
void cap_delete(struct cap *c)
{
	struct cap *heir = NULL;

	while (c->child) {
		struct cap *k = c->child;
		if (!heir && c->owns_frames && k->type == EXO_CAP_FRAME && !k->owns_frames)
			heir = k;
		reparent(k, c->parent);
	}
	if (heir) {
		heir->owns_frames = 1;
		heir->own_first = c->own_first;
		heir->own_count = c->own_count;
		c->owns_frames = 0;
	}
	cap_release(c);
}
