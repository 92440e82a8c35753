/*
 * Directories: extendible hashing over the directory's object.  Block 0 is
 * a header with the slot array (inline up to 512 slots, then in blocks from
 * DIR_SLOT_BASE); bucket b is block 1 + b and holds packed entries.  Names
 * are hashed with a key derived from the directory's own key, so the layout
 * reveals nothing, and lookups read two or three blocks whatever the size.
 * Names are secret because every block is encrypted.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

enum {
	DIR_MAGIC = 0x52494443,         /* "CDIR" */
	BUCKET_MAGIC = 0x544b4243,      /* "CBKT" */
	DIR_INLINE_DEPTH = 9,
	DIR_MAX_DEPTH = 20,
	DIR_SLOTS_PER_BLOCK = CFS_BLOCK_SIZE / 4,
	DIR_SLOT_BASE = 1 << 22,
	DIR_MAX_BUCKETS = DIR_SLOT_BASE - 1,
	ENTRY_FIXED = 18,
	COOKIE_HASH_BITS = 40,
	BUCKET_SPACE = CFS_BLOCK_SIZE - 16,
};

struct dir_header {
	uint32_t magic;
	uint32_t depth;
	uint32_t nbuckets;
	uint32_t reserved0;
	uint64_t entries;
	uint8_t reserved[40];
	uint32_t slots[1008];
};
_Static_assert(sizeof(struct dir_header) == CFS_BLOCK_SIZE, "dir header size");

struct bucket {
	uint32_t magic;
	uint16_t local_depth;
	uint16_t count;
	uint32_t used;
	uint32_t reserved;
	uint8_t bytes[BUCKET_SPACE];
};
_Static_assert(sizeof(struct bucket) == CFS_BLOCK_SIZE, "bucket size");

/* A directory opened for one operation: its object over a record that is
 * either a private copy (reads) or the pinned table entry (writes). */
struct dir {
	struct cfs_inode copy;
	struct cfs_inode *ip;
	struct cfs_obj o;
	uint8_t hash_key[32];
};

/* Open directory ino for one operation, for reading or writing. */
static int dir_open(struct cfs *fs, uint64_t ino, bool write, struct dir *d)
{
	int rc;

	if (write) {
		rc = cfs_inode_rw(fs, ino, &d->ip);
	} else {
		rc = cfs_inode_get(fs, ino, &d->copy);
		d->ip = &d->copy;
	}
	if (rc < 0)
		return rc;
	if ((d->ip->mode & CFS_S_IFMT) != CFS_S_IFDIR)
		return d->ip->mode ? -ENOTDIR : -EIO;
	cfs_obj_of(&d->o, ino, d->ip);
	return cx_kdf(d->hash_key, d->ip->key, "cryptofs directory names", 0);
}

/* The keyed 64-bit hash that places a name in the table. */
static uint64_t name_hash(const struct dir *d, const char *name, size_t len)
{
	uint8_t out[16];
	uint64_t h;
	cx_hash_state st;

	cx_hash_init(&st, d->hash_key, sizeof d->hash_key, sizeof out);
	cx_hash_update(&st, name, len);
	cx_hash_final(&st, out, sizeof out);
	cx_wipe(&st, sizeof st);
	memcpy(&h, out, sizeof h);
	return h;
}

/* A directory whose structure is impossible: -EIO, naming its root block. */
static int dir_corrupt(struct cfs *fs, const struct dir *d)
{
	cfs_set_error(fs, d->o.root->blkno, d->o.id);
	return -EIO;
}

/* Read-only copies of the header fields (the cache may move on). */
static int header_read(struct cfs *fs, struct dir *d, struct dir_header *out)
{
	const uint8_t *p;
	int rc = cfs_obj_read(fs, &d->o, 0, &p);

	if (rc < 0)
		return rc;
	if (!p)
		return dir_corrupt(fs, d);
	memcpy(out, p, sizeof *out);
	if (out->magic != DIR_MAGIC || out->depth > DIR_MAX_DEPTH || out->nbuckets == 0 ||
	    out->nbuckets > DIR_MAX_BUCKETS || out->nbuckets > fs->sb.nblocks)
		return dir_corrupt(fs, d);
	return 0;
}

/* The bucket slot s points to (inline or in a slot block), checked. */
static int slot_get(struct cfs *fs, struct dir *d, const struct dir_header *h, uint64_t s,
		    uint32_t *bucket)
{
	const uint8_t *p;
	int rc;

	if (h->depth <= DIR_INLINE_DEPTH) {
		*bucket = h->slots[s];
	} else {
		rc = cfs_obj_read(fs, &d->o, DIR_SLOT_BASE + s / DIR_SLOTS_PER_BLOCK, &p);
		if (rc < 0)
			return rc;
		if (!p)
			return dir_corrupt(fs, d);
		memcpy(bucket, p + (s % DIR_SLOTS_PER_BLOCK) * 4, 4);
	}
	if (*bucket >= h->nbuckets)
		return dir_corrupt(fs, d);
	return 0;
}

/* Store slot s in the slot blocks (global depth above 9). */
static int slot_set_ext(struct cfs *fs, struct dir *d, uint64_t s, uint32_t bucket)
{
	uint8_t *p;
	int rc = cfs_obj_write(fs, &d->o, DIR_SLOT_BASE + s / DIR_SLOTS_PER_BLOCK, CFS_LOAD, &p);

	if (rc < 0)
		return rc;
	memcpy(p + (s % DIR_SLOTS_PER_BLOCK) * 4, &bucket, 4);
	return 0;
}

/* Store slot s wherever the current global depth keeps slots. */
static int slot_set(struct cfs *fs, struct dir *d, struct dir_header *h, uint64_t s,
		    uint32_t bucket)
{
	if (h->depth <= DIR_INLINE_DEPTH) {
		h->slots[s] = bucket;
		return 0;
	}
	return slot_set_ext(fs, d, s, bucket);
}

/* Check a bucket's packing so entry parsing never leaves the block. */
static bool bucket_valid(const struct bucket *b)
{
	uint32_t off = 0;

	if (b->magic != BUCKET_MAGIC || b->used > BUCKET_SPACE || b->local_depth > 64)
		return false;
	for (uint32_t i = 0; i < b->count; i++) {
		if (off + ENTRY_FIXED > b->used || b->bytes[off + 17] == 0 ||
		    off + ENTRY_FIXED + b->bytes[off + 17] > b->used)
			return false;
		off += ENTRY_FIXED + b->bytes[off + 17];
	}
	return off == b->used;
}

/* Unpack the entry at e (bucket_valid checked its bounds). */
static void entry_decode(const uint8_t *e, uint64_t *hash, struct cfs_dirent *out)
{
	memcpy(hash, e, 8);
	memcpy(&out->ino, e + 8, 8);
	out->type = e[16];
	out->namelen = e[17];
	memcpy(out->name, e + ENTRY_FIXED, out->namelen);
	out->name[out->namelen] = 0;
}

/* Offset of name's entry in the bucket, or -ENOENT. */
static int bucket_find(const struct bucket *b, uint64_t hash, const char *name, size_t len)
{
	uint32_t off = 0;

	for (uint32_t i = 0; i < b->count; i++) {
		uint64_t h;
		uint8_t n = b->bytes[off + 17];

		memcpy(&h, b->bytes + off, 8);
		if (h == hash && n == len && memcmp(b->bytes + off + ENTRY_FIXED, name, len) == 0)
			return (int)off;
		off += ENTRY_FIXED + n;
	}
	return -ENOENT;
}

/* The bucket index that holds hash. */
static int bucket_of(struct cfs *fs, struct dir *d, const struct dir_header *h, uint64_t hash,
		     uint32_t *bucket)
{
	return slot_get(fs, d, h, hash & ((1ull << h->depth) - 1), bucket);
}

/* Give a new directory inode its header and first, empty bucket. */
int cfs_dir_init(struct cfs *fs, uint64_t ino)
{
	struct cfs_inode *ip;
	struct cfs_obj o;
	uint8_t *p;
	int rc = cfs_inode_rw(fs, ino, &ip);

	if (rc < 0)
		return rc;
	cfs_obj_of(&o, ino, ip);
	rc = cfs_obj_write(fs, &o, 0, CFS_ZERO, &p);
	if (rc < 0)
		return rc;
	((struct dir_header *)(void *)p)->magic = DIR_MAGIC;
	((struct dir_header *)(void *)p)->nbuckets = 1;
	rc = cfs_obj_write(fs, &o, 1, CFS_ZERO, &p);
	if (rc < 0)
		return rc;
	((struct bucket *)(void *)p)->magic = BUCKET_MAGIC;
	return 0;
}

/* The inode a name refers to in directory ino, or -ENOENT. */
int cfs_dir_lookup(struct cfs *fs, uint64_t ino, const char *name, size_t len, uint64_t *out)
{
	struct dir_header h;
	struct dir d;
	const uint8_t *p;
	uint32_t b;
	uint64_t hash;
	int rc = dir_open(fs, ino, false, &d);

	if (rc < 0)
		return rc;
	hash = name_hash(&d, name, len);
	if ((rc = header_read(fs, &d, &h)) < 0 || (rc = bucket_of(fs, &d, &h, hash, &b)) < 0)
		return rc;
	rc = cfs_obj_read(fs, &d.o, 1 + (uint64_t)b, &p);
	if (rc < 0)
		return rc;
	if (!p || !bucket_valid((const struct bucket *)(const void *)p))
		return dir_corrupt(fs, &d);
	rc = bucket_find((const struct bucket *)(const void *)p, hash, name, len);
	if (rc < 0)
		return rc;
	memcpy(out, p + 16 + rc + 8, 8);
	return 0;
}

/* Writable header and the writable bucket that holds hash. */
static int dir_locate_rw(struct cfs *fs, struct dir *d, uint64_t hash, struct dir_header **hp,
			 struct bucket **bp, uint32_t *bidx)
{
	struct dir_header copy;
	uint8_t *p;
	int rc = header_read(fs, d, &copy);

	if (rc < 0)
		return rc;
	rc = cfs_obj_write(fs, &d->o, 0, CFS_LOAD, &p);
	if (rc < 0)
		return rc;
	*hp = (struct dir_header *)(void *)p;
	rc = bucket_of(fs, d, *hp, hash, bidx);
	if (rc < 0)
		return rc;
	rc = cfs_obj_write(fs, &d->o, 1 + (uint64_t)*bidx, CFS_LOAD, &p);
	if (rc < 0)
		return rc;
	*bp = (struct bucket *)(void *)p;
	if (!bucket_valid(*bp))
		return dir_corrupt(fs, d);
	return 0;
}

/* Double the slot array, moving it out of the header when it outgrows it. */
static int dir_double(struct cfs *fs, struct dir *d, struct dir_header *h)
{
	uint64_t n = 1ull << h->depth;
	int rc = 0;

	if (h->depth >= DIR_MAX_DEPTH)
		return -ENOSPC;
	if (h->depth < DIR_INLINE_DEPTH) {
		memcpy(h->slots + n, h->slots, n * 4);
	} else if (h->depth == DIR_INLINE_DEPTH) {
		for (uint64_t s = 0; s < n && rc == 0; s++) {
			rc = slot_set_ext(fs, d, s, h->slots[s]);
			if (rc == 0)
				rc = slot_set_ext(fs, d, s + n, h->slots[s]);
		}
		memset(h->slots, 0, sizeof h->slots);
	} else {
		for (uint64_t s = 0; s < n && rc == 0; s++) {
			uint32_t v;

			rc = slot_get(fs, d, h, s, &v);
			if (rc == 0)
				rc = slot_set_ext(fs, d, s + n, v);
		}
	}
	if (rc == 0)
		h->depth++;
	return rc;
}

/* Split a full bucket on its next hash bit into a new bucket. */
static int bucket_split(struct cfs *fs, struct dir *d, struct dir_header *h, struct bucket *b,
			uint32_t bidx, uint64_t hash)
{
	uint32_t ld = b->local_depth, nidx = h->nbuckets, off = 0, keep = 0;
	uint8_t old[BUCKET_SPACE];
	struct bucket *nb;
	uint8_t *p;
	int rc;

	if (ld >= 63 || nidx >= DIR_MAX_BUCKETS)
		return -ENOSPC;
	if (ld == h->depth && (rc = dir_double(fs, d, h)) < 0)
		return rc;
	rc = cfs_obj_write(fs, &d->o, 1 + (uint64_t)nidx, CFS_ZERO, &p);
	if (rc < 0)
		return rc;
	nb = (struct bucket *)(void *)p;
	h->nbuckets++;
	nb->magic = BUCKET_MAGIC;
	nb->local_depth = b->local_depth = (uint16_t)(ld + 1);
	memcpy(old, b->bytes, b->used);
	uint32_t count = b->count, used = b->used;

	b->count = 0;
	b->used = 0;
	for (uint32_t i = 0; i < count && off < used; i++) {
		uint64_t eh;
		uint32_t sz = ENTRY_FIXED + old[off + 17];
		struct bucket *to;

		memcpy(&eh, old + off, 8);
		to = (eh >> ld) & 1 ? nb : b;
		memcpy(to->bytes + to->used, old + off, sz);
		to->used += sz;
		to->count++;
		off += sz;
		keep++;
	}
	uint64_t low = hash & ((1ull << ld) - 1), span = 1ull << (h->depth - ld);

	for (uint64_t j = 1; j < span; j += 2) {
		rc = slot_set(fs, d, h, low | (j << ld), nidx);
		if (rc < 0)
			return rc;
	}
	(void)bidx;
	return 0;
}

/* Add a name that is not present yet, splitting full buckets. */
int cfs_dir_insert(struct cfs *fs, uint64_t ino, const char *name, size_t len, uint64_t child,
		   uint8_t type)
{
	struct dir_header *h;
	struct bucket *b;
	struct dir d;
	uint32_t bidx;
	uint64_t hash;
	int rc = dir_open(fs, ino, true, &d);

	if (rc < 0)
		return rc;
	if (len == 0 || len > CFS_NAME_MAX)
		return -ENAMETOOLONG;
	hash = name_hash(&d, name, len);
	for (;;) {
		rc = dir_locate_rw(fs, &d, hash, &h, &b, &bidx);
		if (rc < 0)
			return rc;
		if (b->used + ENTRY_FIXED + len <= BUCKET_SPACE)
			break;
		rc = bucket_split(fs, &d, h, b, bidx, hash);
		if (rc < 0)
			return rc;
	}
	uint32_t at = 0, sz = ENTRY_FIXED + (uint32_t)len;

	for (uint32_t i = 0; i < b->count; i++) {   /* keep the bucket sorted by hash */
		uint64_t eh;

		memcpy(&eh, b->bytes + at, 8);
		if (eh > hash)
			break;
		at += ENTRY_FIXED + b->bytes[at + 17];
	}
	uint8_t *e = b->bytes + at;

	memmove(e + sz, e, b->used - at);
	memcpy(e, &hash, 8);
	memcpy(e + 8, &child, 8);
	e[16] = type;
	e[17] = (uint8_t)len;
	memcpy(e + ENTRY_FIXED, name, len);
	b->used += sz;
	b->count++;
	h->entries++;
	d.ip->mtime_ns = d.ip->ctime_ns = cfs_now(fs);
	return 0;
}

/* Remove a name, compacting its bucket. */
int cfs_dir_remove(struct cfs *fs, uint64_t ino, const char *name, size_t len)
{
	struct dir_header *h;
	struct bucket *b;
	struct dir d;
	uint32_t bidx, sz;
	uint64_t hash;
	int off, rc = dir_open(fs, ino, true, &d);

	if (rc < 0)
		return rc;
	hash = name_hash(&d, name, len);
	rc = dir_locate_rw(fs, &d, hash, &h, &b, &bidx);
	if (rc < 0)
		return rc;
	off = bucket_find(b, hash, name, len);
	if (off < 0)
		return off;
	sz = ENTRY_FIXED + b->bytes[off + 17];
	memmove(b->bytes + off, b->bytes + off + sz, b->used - (uint32_t)off - sz);
	b->used -= sz;
	memset(b->bytes + b->used, 0, sz);
	b->count--;
	if (h->entries)
		h->entries--;
	d.ip->mtime_ns = d.ip->ctime_ns = cfs_now(fs);
	return 0;
}

/* Point an existing name at another inode (rename over a target). */
int cfs_dir_set(struct cfs *fs, uint64_t ino, const char *name, size_t len, uint64_t child,
		uint8_t type)
{
	struct dir_header *h;
	struct bucket *b;
	struct dir d;
	uint32_t bidx;
	uint64_t hash;
	int off, rc = dir_open(fs, ino, true, &d);

	if (rc < 0)
		return rc;
	hash = name_hash(&d, name, len);
	rc = dir_locate_rw(fs, &d, hash, &h, &b, &bidx);
	if (rc < 0)
		return rc;
	off = bucket_find(b, hash, name, len);
	if (off < 0)
		return off;
	memcpy(b->bytes + off + 8, &child, 8);
	b->bytes[off + 16] = type;
	d.ip->mtime_ns = d.ip->ctime_ns = cfs_now(fs);
	return 0;
}

/* 1 when the directory has no entries, 0 when it has, < 0 on error. */
int cfs_dir_is_empty(struct cfs *fs, uint64_t ino)
{
	struct dir_header h;
	struct dir d;
	int rc = dir_open(fs, ino, false, &d);

	if (rc < 0)
		return rc;
	rc = header_read(fs, &d, &h);
	if (rc < 0)
		return rc;
	return h.entries == 0;
}

/* Readdir cookies: bucket index in the high bits, then the top 40 bits of
 * the next hash to return.  Buckets keep entries sorted by hash, so removing
 * entries during a listing never makes it skip the others. */
static uint64_t next_cookie(uint64_t bucket, uint64_t hash)
{
	return (bucket << COOKIE_HASH_BITS) + (hash >> (64 - COOKIE_HASH_BITS)) + 1;
}

/* Call fn for every entry from cookie on, in bucket and hash order; a copy
 * of each bucket is taken first, so fn may use the file system. */
int cfs_dir_iterate(struct cfs *fs, uint64_t ino, uint64_t cookie, cfs_dir_visit fn, void *ctx)
{
	struct dir_header h;
	struct bucket b;
	struct dir d;
	uint64_t start = cookie >> COOKIE_HASH_BITS;
	int rc = dir_open(fs, ino, false, &d);

	if (rc < 0)
		return rc;
	rc = header_read(fs, &d, &h);
	if (rc < 0)
		return rc;
	for (uint64_t bi = start; bi < h.nbuckets; bi++) {
		uint64_t min = bi == start ? cookie & ((1ull << COOKIE_HASH_BITS) - 1) : 0;
		const uint8_t *p;
		uint32_t off = 0;

		rc = cfs_obj_read(fs, &d.o, 1 + bi, &p);
		if (rc < 0)
			return rc;
		if (!p)
			return dir_corrupt(fs, &d);
		memcpy(&b, p, sizeof b);
		if (!bucket_valid(&b))
			return dir_corrupt(fs, &d);
		for (uint32_t i = 0; i < b.count; i++) {
			struct cfs_dirent e;
			uint64_t eh;

			entry_decode(b.bytes + off, &eh, &e);
			off += ENTRY_FIXED + e.namelen;
			if (eh >> (64 - COOKIE_HASH_BITS) < min)
				continue;
			rc = fn(ctx, &e, next_cookie(bi, eh));
			if (rc)
				return rc < 0 ? rc : 0;
		}
	}
	return 0;
}

/* fsck of the hashing structure: every bucket parses, every entry sits in
 * the bucket its hash selects, slots are consistent and counts add up. */
int cfs_dir_check(struct cfs *fs, uint64_t ino, void (*bad)(void *ctx, const char *what),
		  void *ctx)
{
	struct dir_header h;
	struct bucket b;
	struct dir d;
	uint64_t total = 0;
	int problems = 0, rc = dir_open(fs, ino, false, &d);

	if (rc < 0)
		return rc;
	rc = header_read(fs, &d, &h);
	if (rc < 0)
		return rc;
	for (uint64_t bi = 0; bi < h.nbuckets; bi++) {
		const uint8_t *p;
		uint32_t off = 0;

		rc = cfs_obj_read(fs, &d.o, 1 + bi, &p);
		if (rc < 0)
			return rc;
		if (!p) {
			bad(ctx, "directory bucket missing");
			problems++;
			continue;
		}
		memcpy(&b, p, sizeof b);
		if (!bucket_valid(&b) || b.local_depth > h.depth) {
			bad(ctx, "directory bucket malformed");
			problems++;
			continue;
		}
		uint64_t prev = 0;

		for (uint32_t i = 0; i < b.count; i++) {
			struct cfs_dirent e;
			uint64_t eh, s;
			uint32_t owner;

			entry_decode(b.bytes + off, &eh, &e);
			off += ENTRY_FIXED + e.namelen;
			total++;
			if (eh < prev) {
				bad(ctx, "directory bucket not sorted by hash");
				problems++;
			}
			prev = eh;
			if (eh != name_hash(&d, e.name, e.namelen) || memchr(e.name, '/', e.namelen)) {
				bad(ctx, "directory entry hash or name wrong");
				problems++;
				continue;
			}
			s = eh & ((1ull << h.depth) - 1);
			rc = slot_get(fs, &d, &h, s, &owner);
			if (rc < 0)
				return rc;
			if (owner != bi) {
				bad(ctx, "directory entry in the wrong bucket");
				problems++;
			}
		}
	}
	if (total != h.entries) {
		bad(ctx, "directory entry count wrong");
		problems++;
	}
	return problems;
}
