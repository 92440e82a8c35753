/*
 * The bounded block cache: plain text of blocks by address, clean blocks
 * on an LRU list, dirty blocks (allocated in the running transaction) on
 * their own list until the commit.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"


static void list_init(struct cfs_list *l)
{
	l->head.prev = l->head.next = &l->head;
}

/* Take a cache block out of whichever list holds it. */
static void list_unlink(struct cfs_cblock *b)
{
	b->prev->next = b->next;
	b->next->prev = b->prev;
	b->prev = b->next = b;
}

/* Put a cache block at the most recently used end of a list. */
static void list_push_front(struct cfs_list *l, struct cfs_cblock *b)
{
	b->next = l->head.next;
	b->prev = &l->head;
	l->head.next->prev = b;
	l->head.next = b;
}

/* Fibonacci hashing of a block address into the cache's table. */
static uint64_t hash_slot(const struct cfs *fs, uint64_t blkno)
{
	return (blkno * 0x9E3779B97F4A7C15ull >> 20) & fs->hash_mask;
}

/* Make a cache block findable by its address. */
static void hash_insert(struct cfs *fs, struct cfs_cblock *b)
{
	uint64_t s = hash_slot(fs, b->blkno);

	b->hnext = fs->hash[s];
	fs->hash[s] = b;
}

/* Make a cache block unfindable (before it moves or dies). */
static void hash_remove(struct cfs *fs, struct cfs_cblock *b)
{
	struct cfs_cblock **pp = &fs->hash[hash_slot(fs, b->blkno)];

	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
}

/* Set up an empty cache with a hash table sized for its soft bound. */
int cfs_cache_init(struct cfs *fs)
{
	uint64_t n = 1024;

	while (n < 4ull * fs->cfg.cache_blocks)
		n <<= 1;
	fs->hash = cfs_alloc(fs, n * sizeof *fs->hash);
	fs->zero = cfs_alloc(fs, CFS_BLOCK_SIZE);
	/* staging for a batch of sealed blocks, unless the device is mapped;
	 * not zeroed, so its pages cost nothing until used */
	if (!fs->cfg.map)
		fs->batch = fs->cfg.alloc(fs->cfg.ctx, CFS_BATCH * CFS_BLOCK_SIZE + CX_TAG_BYTES);
	if (!fs->hash || !fs->zero || (!fs->cfg.map && !fs->batch))
		return -ENOMEM;
	fs->hash_mask = n - 1;
	list_init(&fs->clean);
	list_init(&fs->dirty_list);
	return 0;
}

/* Unlink a cache block from everything and free it. */
static void cblock_destroy(struct cfs *fs, struct cfs_cblock *b)
{
	hash_remove(fs, b);
	list_unlink(b);
	if (b->dirty)
		fs->ndirty--;
	fs->ncached--;
	cfs_free(fs, b->data);
	cfs_free(fs, b);
}

/* Free every cached block and the cache itself (plain text is wiped). */
void cfs_cache_destroy(struct cfs *fs)
{
	struct cfs_list *lists[2] = { &fs->clean, &fs->dirty_list };

	for (int i = 0; i < 2; i++) {
		if (!lists[i]->head.next)
			continue;
		while (lists[i]->head.next != &lists[i]->head) {
			struct cfs_cblock *b = lists[i]->head.next;

			cx_wipe(b->data, CFS_BLOCK_SIZE);
			cblock_destroy(fs, b);
		}
	}
	cfs_free(fs, fs->hash);
	cfs_free(fs, fs->batch);
	cfs_free(fs, fs->zero);
	fs->hash = NULL;
	fs->batch = fs->zero = NULL;
}

/* The cached block at an address, or NULL. */
struct cfs_cblock *cfs_cache_lookup(struct cfs *fs, uint64_t blkno)
{
	struct cfs_cblock *b = fs->hash[hash_slot(fs, blkno)];

	while (b && b->blkno != blkno)
		b = b->hnext;
	return b;
}

/* A cache entry to fill: the least recently used clean block once the soft
 * bound is reached, else a new one (dirty blocks are never evicted). */
static struct cfs_cblock *cache_slot(struct cfs *fs)
{
	struct cfs_cblock *b;

	if (fs->ncached >= fs->cfg.cache_blocks && fs->clean.head.prev != &fs->clean.head) {
		b = fs->clean.head.prev;
		hash_remove(fs, b);
		list_unlink(b);
		return b;
	}
	b = cfs_alloc(fs, sizeof *b);
	if (!b)
		return NULL;
	b->data = fs->cfg.alloc(fs->cfg.ctx, CFS_BLOCK_SIZE);
	if (!b->data) {
		cfs_free(fs, b);
		return NULL;
	}
	b->prev = b->next = b;
	fs->ncached++;
	return b;
}

/* The cached plain text of the block p points to, reading and
 * authenticating it on a miss. */
int cfs_cache_get(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		  const struct cfs_ptr *p, struct cfs_cblock **out)
{
	struct cfs_cblock *b = cfs_cache_lookup(fs, p->blkno);
	int rc;

	if (b) {
		if (!b->dirty) {
			list_unlink(b);
			list_push_front(&fs->clean, b);
		}
		*out = b;
		return 0;
	}
	b = cache_slot(fs);
	if (!b)
		return -ENOMEM;
	rc = cfs_open_block(fs, o, level, index, p, b->data);
	if (rc < 0) {
		fs->ncached--;
		cfs_free(fs, b->data);
		cfs_free(fs, b);
		return rc;
	}
	b->blkno = p->blkno;
	b->dirty = false;
	hash_insert(fs, b);
	list_push_front(&fs->clean, b);
	*out = b;
	return 0;
}

/* A zero-filled dirty block for a freshly allocated address. */
int cfs_cache_new_dirty(struct cfs *fs, uint64_t blkno, struct cfs_cblock **out)
{
	struct cfs_cblock *b;

	cfs_cache_drop(fs, blkno);  /* stale copy read through a corrupt pointer */
	b = cache_slot(fs);

	if (!b)
		return -ENOMEM;
	memset(b->data, 0, CFS_BLOCK_SIZE);
	b->blkno = blkno;
	b->dirty = true;
	fs->ndirty++;
	hash_insert(fs, b);
	list_push_front(&fs->dirty_list, b);
	*out = b;
	return 0;
}

/* Copy-on-write: a clean cached block moves to its new address and becomes
 * dirty (pinned until the commit). */
void cfs_cache_make_dirty(struct cfs *fs, struct cfs_cblock *b, uint64_t newblk)
{
	hash_remove(fs, b);
	list_unlink(b);
	b->blkno = newblk;
	b->dirty = true;
	fs->ndirty++;
	hash_insert(fs, b);
	list_push_front(&fs->dirty_list, b);
}

/* A dirty block reached through a pointer must belong to that pointer's
 * object and level; anything else is a corrupt pointer (which, followed,
 * could free or overwrite a block that another part of the tree holds). */
bool cfs_dirty_owned(const struct cfs_cblock *b, const struct cfs_obj *o, int level)
{
	return b->owner == o->id && b->level == level;
}

/* Forget a freed address so a later reuse never sees stale plain text. */
void cfs_cache_drop(struct cfs *fs, uint64_t blkno)
{
	struct cfs_cblock *b = cfs_cache_lookup(fs, blkno);

	if (b) {
		cx_wipe(b->data, CFS_BLOCK_SIZE);
		cblock_destroy(fs, b);
	}
}

/* After a commit every dirty block is clean (and evictable). */
void cfs_cache_all_clean(struct cfs *fs)
{
	while (fs->dirty_list.head.next != &fs->dirty_list.head) {
		struct cfs_cblock *b = fs->dirty_list.head.next;

		list_unlink(b);
		b->dirty = false;
		list_push_front(&fs->clean, b);
	}
	fs->ndirty = 0;
}

/* Shrink the cache back to its soft bound. */
void cfs_cache_trim(struct cfs *fs)
{
	while (fs->ncached > fs->cfg.cache_blocks && fs->clean.head.prev != &fs->clean.head)
		cblock_destroy(fs, fs->clean.head.prev);
}
