/*
 * Blocks: sealing and opening (AEGIS-256 in format 2, XChaCha20-Poly1305
 * in format 1), the bounded block
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

/* A fresh block secret: 24 random bytes drawn at mount followed by a
 * counter.  It is the AEGIS-256 nonce of a format-2 block and the input
 * of a format-1 block's key, which need only never repeat under one key:
 * the counter does not repeat within a mount, the random part across
 * mounts (a collision needs about 2^96 mounts). */
void cfs_new_secret(struct cfs *fs, uint8_t out[32])
{
	if (fs->secret_counter == 0)
		cfs_rand(fs, fs->secret_key, sizeof fs->secret_key);
	fs->secret_counter++;
	memcpy(out, fs->secret_key, 24);
	memcpy(out + 24, &fs->secret_counter, 8);
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

/* The associated data binding a block to its address and place in the tree
 * and to the format version. */
struct block_ad { uint64_t blkno, obj, index; uint32_t level, version; };
_Static_assert(sizeof(struct block_ad) == 32, "ad size");

static struct block_ad block_ad_of(const struct cfs *fs, const struct cfs_blockio *io)
{
	return (struct block_ad){ io->p->blkno, io->obj, io->index, (uint32_t)io->level,
				  fs->sb.version };
}

#ifndef FUZZING
/* Format 1: the one-time key of a block, keyed BLAKE2b of its secret under
 * the object's key, sealing with XChaCha20-Poly1305 under a zero nonce. */
static void block_key_v1(uint8_t out[32], const uint8_t objkey[32], const struct cfs_ptr *p)
{
	cx_hash_state st;

	cx_hash_init(&st, objkey, CX_KEY_BYTES, CX_KEY_BYTES);
	cx_hash_update(&st, p->secret, sizeof p->secret);
	cx_hash_final(&st, out, CX_KEY_BYTES);
}

static const uint8_t zero_nonce[CX_XNONCE_BYTES];

static void seal_v1(const struct cfs_blockio *io, const struct block_ad *ad, uint8_t *out)
{
	uint8_t key[32], sealed[CFS_BLOCK_SIZE + CX_TAG_BYTES];

	block_key_v1(key, io->key, io->p);
	cx_xaead_seal(sealed, io->in, CFS_BLOCK_SIZE, (const uint8_t *)ad, sizeof *ad,
		      zero_nonce, key);
	cx_wipe(key, sizeof key);
	memcpy(out, sealed, CFS_BLOCK_SIZE);
	memcpy(io->p->tag, sealed + CFS_BLOCK_SIZE, CX_TAG_BYTES);
}

static int open_v1(const struct cfs_blockio *io, const struct block_ad *ad, const uint8_t *block)
{
	uint8_t key[32], sealed[CFS_BLOCK_SIZE + CX_TAG_BYTES];
	int rc;

	memcpy(sealed, block, CFS_BLOCK_SIZE);
	memcpy(sealed + CFS_BLOCK_SIZE, io->p->tag, CX_TAG_BYTES);
	block_key_v1(key, io->key, io->p);
	rc = cx_xaead_open(io->out, sealed, CFS_BLOCK_SIZE, (const uint8_t *)ad, sizeof *ad,
			   zero_nonce, key);
	cx_wipe(key, sizeof key);
	return rc;
}
#endif

/*
 * Encrypt n blocks (at most CFS_BATCH) under fresh secrets and write them
 * to their pointers' addresses, recording each secret and tag in its
 * pointer (which lives in the parent).  Format 2 seals them together,
 * several per AES register (AEGIS-256: the object's key, the secret as
 * nonce).  -EIO when the device refuses a write.
 */
int cfs_seal_blocks(struct cfs *fs, struct cfs_blockio *io, size_t n)
{
	struct block_ad ad[CFS_BATCH];
	struct cx_aegis_msg m[CFS_BATCH];
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		cfs_new_secret(fs, io[i].p->secret);
		ad[i] = block_ad_of(fs, &io[i]);
		m[i] = (struct cx_aegis_msg){ fs->batch + i * CFS_BLOCK_SIZE, io[i].in,
					      (const uint8_t *)&ad[i], io[i].p->secret, io[i].key,
					      io[i].p->tag, 0 };
	}
#ifdef FUZZING
	(void)m;
	for (size_t i = 0; i < n; i++) {
		memcpy(fs->batch + i * CFS_BLOCK_SIZE, io[i].in, CFS_BLOCK_SIZE);
		memset(io[i].p->tag, 0, sizeof io[i].p->tag);
	}
#else
	if (fs->sb.version == 1)
		for (size_t i = 0; i < n; i++)
			seal_v1(&io[i], &ad[i], fs->batch + i * CFS_BLOCK_SIZE);
	else if (cx_aegis_seal_many(m, n, CFS_BLOCK_SIZE, sizeof ad[0]) < 0)
		return -EIO;
#endif
	for (size_t i = 0; i < n; i++)
		if (fs->cfg.write(fs->cfg.ctx, io[i].p->blkno, fs->batch + i * CFS_BLOCK_SIZE) < 0)
			rc = -EIO;
	return rc;
}

/* Seal one block (see cfs_seal_blocks); p->reserved is cleared, as every
 * pointer on disk has it. */
int cfs_seal_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const uint8_t *plain, struct cfs_ptr *p)
{
	struct cfs_blockio io = { o->id, o->key, level, index, p, plain, NULL };

	p->reserved = 0;
	return cfs_seal_blocks(fs, &io, 1);
}

/* Read n blocks into the scratch space (n * CFS_BLOCK_SIZE + 16 bytes) and
 * authenticate and decrypt each into its out, using only state that never
 * changes after mount (so it may run on several threads at once).  Returns
 * 0, or -EIO with *bad the first block that failed. */
static int unseal_many(const struct cfs *fs, struct cfs_blockio *io, size_t n,
		       uint8_t *scratch, size_t *bad)
{
	struct block_ad ad[CFS_BATCH];
	struct cx_aegis_msg m[CFS_BATCH];

	for (size_t i = 0; i < n; i++) {
		const struct cfs_ptr *p = io[i].p;
		uint8_t *sealed = scratch + i * CFS_BLOCK_SIZE;

		if (p->blkno < CFS_FIRST_DATA_BLOCK || p->blkno >= fs->sb.nblocks ||
		    fs->cfg.read(fs->cfg.ctx, p->blkno, sealed) < 0) {
			*bad = i;
			return -EIO;
		}
		ad[i] = block_ad_of(fs, &io[i]);
		m[i] = (struct cx_aegis_msg){ io[i].out, sealed, (const uint8_t *)&ad[i],
					      p->secret, io[i].key, (uint8_t *)p->tag, 0 };
	}
#ifdef FUZZING
	(void)m;
	for (size_t i = 0; i < n; i++)
		memcpy(io[i].out, scratch + i * CFS_BLOCK_SIZE, CFS_BLOCK_SIZE);
	return 0;
#else
	if (fs->sb.version == 1) {
		for (size_t i = 0; i < n; i++)
			if (open_v1(&io[i], &ad[i], scratch + i * CFS_BLOCK_SIZE) < 0) {
				*bad = i;
				return -EIO;
			}
		return 0;
	}
	int rc = cx_aegis_open_many(m, n, CFS_BLOCK_SIZE, sizeof ad[0]);

	for (size_t i = 0; rc < 0 && i < n; i++)
		if (m[i].rc < 0 || rc == -ENOTSUP) {
			*bad = i;
			return -EIO;
		}
	return 0;
#endif
}

/* Read, authenticate and decrypt n blocks (at most CFS_BATCH) into their
 * outs; -EIO (and the error record) when one was changed, moved or cannot
 * be read. */
int cfs_open_blocks(struct cfs *fs, struct cfs_blockio *io, size_t n)
{
	size_t bad;
	int rc = unseal_many(fs, io, n, fs->batch, &bad);

	if (rc < 0)
		cfs_set_error(fs, io[bad].p->blkno, io[bad].obj);
	return rc;
}

/* Read and authenticate the block p points to into plain. */
int cfs_open_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const struct cfs_ptr *p, uint8_t *plain)
{
	struct cfs_blockio io = { o->id, o->key, level, index, (struct cfs_ptr *)p, NULL, plain };

	return cfs_open_blocks(fs, &io, 1);
}

/* Decrypt a block cfs_read_plan described; see cfs.h. */
int cfs_read_block(const struct cfs *fs, const struct cfs_block_ref *ref, void *out,
		   void *scratch)
{
	struct cfs_ptr p = { .blkno = ref->blkno };
	struct cfs_blockio io = { ref->obj, ref->key, 0, ref->index, &p, NULL, out };
	size_t bad;

	memcpy(p.secret, ref->secret, sizeof p.secret);
	memcpy(p.tag, ref->tag, sizeof p.tag);
	return unseal_many(fs, &io, 1, scratch, &bad);
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
	fs->batch = cfs_alloc(fs, CFS_BATCH * CFS_BLOCK_SIZE + CX_TAG_BYTES);
	fs->zero = cfs_alloc(fs, CFS_BLOCK_SIZE);
	if (!fs->hash || !fs->batch || !fs->zero)
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
