/*
 * Blocks: sealing and opening with XChaCha20-Poly1305, the bounded block
 * cache, and the in-memory space map used by copy-on-write allocation.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

/* Allocate zeroed memory through the host's allocator. */
void *cfs_alloc(struct cfs *fs, size_t size)
{
	void *p = fs->cfg.alloc(fs->cfg.ctx, size);

	if (p)
		memset(p, 0, size);
	return p;
}

/* Return memory to the host's allocator. */
void cfs_free(struct cfs *fs, void *p)
{
	if (p)
		fs->cfg.free(fs->cfg.ctx, p);
}

/* Random bytes for secrets and nonces: the host's source or the CSPRNG. */
void cfs_rand(struct cfs *fs, void *buf, size_t len)
{
	if (fs->cfg.random)
		fs->cfg.random(fs->cfg.ctx, buf, len);
	else
		cx_random(buf, len);
}

/* Wall-clock time in nanoseconds, 0 when the host gives none. */
uint64_t cfs_now(struct cfs *fs)
{
	return fs->cfg.now_ns ? fs->cfg.now_ns(fs->cfg.ctx) : 0;
}

/* A fresh block secret: keyed BLAKE2b of a counter under a random key
 * drawn at mount, so secrets are unpredictable, never repeat within a
 * mount (distinct counters), and cost no system call each. */
void cfs_new_secret(struct cfs *fs, uint8_t out[32])
{
	cx_hash_state st;

	if (fs->secret_counter == 0)
		cfs_rand(fs, fs->secret_key, sizeof fs->secret_key);
	fs->secret_counter++;
	cx_hash_init(&st, fs->secret_key, sizeof fs->secret_key, 32);
	cx_hash_update(&st, &fs->secret_counter, sizeof fs->secret_counter);
	cx_hash_final(&st, out, 32);
}

/* Remember where the last authentication or I/O failure happened. */
void cfs_set_error(struct cfs *fs, uint64_t blkno, uint64_t ino)
{
	fs->err_blkno = blkno;
	fs->err_ino = ino;
}

/* Report the block and inode of the last -EIO (see cfs.h). */
void cfs_last_error(struct cfs *fs, uint64_t *blkno, uint64_t *ino)
{
	*blkno = fs->err_blkno;
	*ino = fs->err_ino;
}

/* The associated data binding a block to its address and place in the tree,
 * and the one-time key derived from the object's key and the secret. */
struct block_ad { uint64_t blkno, obj, index; uint32_t level, version; };
_Static_assert(sizeof(struct block_ad) == 32, "ad size");

#ifndef FUZZING
/* The one-time key of a block: keyed BLAKE2b of its secret under the
 * object's key, so each key seals one block version only. */
static void block_key(uint8_t out[32], const struct cfs_obj *o, const struct cfs_ptr *p)
{
	cx_hash_state st;

	cx_hash_init(&st, o->key, CX_KEY_BYTES, CX_KEY_BYTES);
	cx_hash_update(&st, p->secret, sizeof p->secret);
	cx_hash_final(&st, out, CX_KEY_BYTES);
}

static const uint8_t zero_nonce[CX_XNONCE_BYTES];
#endif

/* Encrypt plain under a fresh secret, write it to p->blkno and record the
 * secret and tag in *p (which lives in the parent). */
int cfs_seal_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const uint8_t *plain, struct cfs_ptr *p)
{
	struct block_ad ad = { p->blkno, o->id, index, (uint32_t)level, CFS_FORMAT_VERSION };
	uint8_t key[32];
	int rc;

	cfs_new_secret(fs, p->secret);
#ifdef FUZZING
	(void)key; (void)ad; (void)o;
	memcpy(fs->scratch, plain, CFS_BLOCK_SIZE);
	memset(p->tag, 0, sizeof p->tag);
#else
	block_key(key, o, p);
	cx_xaead_seal(fs->scratch, plain, CFS_BLOCK_SIZE, (const uint8_t *)&ad, sizeof ad,
		      zero_nonce, key);
	cx_wipe(key, sizeof key);
	memcpy(p->tag, fs->scratch + CFS_BLOCK_SIZE, sizeof p->tag);
#endif
	p->reserved = 0;
	rc = fs->cfg.write(fs->cfg.ctx, p->blkno, fs->scratch);
	return rc < 0 ? -EIO : 0;
}

/* Read and authenticate one block into plain, using only state that never
 * changes after mount (so it may run on several threads at once). */
static int unseal(const struct cfs *fs, uint64_t obj, const uint8_t objkey[32], int level,
		  uint64_t index, const struct cfs_ptr *p, uint8_t *scratch, uint8_t *plain)
{
	struct block_ad ad = { p->blkno, obj, index, (uint32_t)level, CFS_FORMAT_VERSION };
	struct cfs_obj o = { .id = obj, .key = objkey };
	uint8_t key[32];
	int rc;

	if (p->blkno < CFS_FIRST_DATA_BLOCK || p->blkno >= fs->sb.nblocks ||
	    fs->cfg.read(fs->cfg.ctx, p->blkno, scratch) < 0)
		return -EIO;
#ifdef FUZZING
	(void)key; (void)ad; (void)rc; (void)o;
	memcpy(plain, scratch, CFS_BLOCK_SIZE);
	return 0;
#else
	memcpy(scratch + CFS_BLOCK_SIZE, p->tag, sizeof p->tag);
	block_key(key, &o, p);
	rc = cx_xaead_open(plain, scratch, CFS_BLOCK_SIZE, (const uint8_t *)&ad, sizeof ad,
			   zero_nonce, key);
	cx_wipe(key, sizeof key);
	return rc < 0 ? -EIO : 0;
#endif
}

/* Read and authenticate the block p points to; -EIO (and the error record)
 * when it was changed, moved or cannot be read. */
int cfs_open_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const struct cfs_ptr *p, uint8_t *plain)
{
	int rc = unseal(fs, o->id, o->key, level, index, p, fs->scratch, plain);

	if (rc < 0)
		cfs_set_error(fs, p->blkno, o->id);
	return rc;
}

/* Decrypt a block cfs_read_plan described; see cfs.h. */
int cfs_read_block(const struct cfs *fs, const struct cfs_block_ref *ref, void *out,
		   void *scratch)
{
	struct cfs_ptr p = { .blkno = ref->blkno };

	memcpy(p.secret, ref->secret, sizeof p.secret);
	memcpy(p.tag, ref->tag, sizeof p.tag);
	return unseal(fs, ref->obj, ref->key, 0, ref->index, &p, scratch, out);
}

/* ------------------------------------------------------------------ cache */

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
	fs->scratch = cfs_alloc(fs, CFS_BLOCK_SIZE + 16);
	fs->zero = cfs_alloc(fs, CFS_BLOCK_SIZE);
	if (!fs->hash || !fs->scratch || !fs->zero)
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
	cfs_free(fs, fs->scratch);
	cfs_free(fs, fs->zero);
	fs->hash = NULL;
	fs->scratch = fs->zero = NULL;
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

/* -------------------------------------------------------------- space map */

/* True when the committed space map holds blkno: every block a committed
 * pointer names must be, or the image is corrupt (and reusing it would
 * alias two blocks). */
bool cfs_block_committed(const struct cfs *fs, uint64_t blkno)
{
	return blkno < fs->bm_words * 64 && ((fs->bm_commit[blkno / 64] >> (blkno % 64)) & 1);
}

/* True when the working space map holds blkno. */
bool cfs_block_in_use(const struct cfs *fs, uint64_t blkno)
{
	return (fs->bm_work[blkno / 64] >> (blkno % 64)) & 1;
}

/* Allocate a block free in both the working map and the committed one, so
 * the committed tree is never overwritten before the next commit. */
int cfs_block_alloc(struct cfs *fs, uint64_t *blkno)
{
	uint64_t w = fs->alloc_cursor;

	if (!cfs_may_allocate(fs))
		return -ENOSPC;
	for (uint64_t n = 0; n < fs->bm_words; n++, w++) {
		if (w >= fs->bm_words)
			w = 0;
		uint64_t used = fs->bm_work[w] | fs->bm_commit[w];

		if (used == UINT64_MAX)
			continue;
		int bit = __builtin_ctzll(~used);

		fs->bm_work[w] |= 1ull << bit;
		fs->alloc_cursor = w;
		fs->used_blocks++;
		fs->avail--;
		fs->allocs++;
		*blkno = w * 64 + (uint64_t)bit;
		return 0;
	}
	return -ENOSPC;
}

/* Release a block in the working map and forget any cached copy. */
void cfs_block_free(struct cfs *fs, uint64_t blkno)
{
	if (blkno < CFS_FIRST_DATA_BLOCK || blkno >= fs->sb.nblocks)
		return;
	if (cfs_block_in_use(fs, blkno)) {
		fs->bm_work[blkno / 64] &= ~(1ull << (blkno % 64));
		fs->used_blocks--;
		if (!((fs->bm_commit[blkno / 64] >> (blkno % 64)) & 1))
			fs->avail++;
	}
	cfs_cache_drop(fs, blkno);
}
