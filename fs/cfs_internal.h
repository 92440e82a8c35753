/*
 * CryptoFS internals shared by the core's files: on-disk structures (all
 * little-endian), the block cache, objects (radix trees of blocks) and the
 * mounted-volume state.  Nothing outside fs/ includes this.
 */
#ifndef EXO_FS_CFS_INTERNAL_H
#define EXO_FS_CFS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fs/cfs.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "on-disk structures are little-endian and stored natively");

enum {
	CFS_SB_SLOTS = 2,
	CFS_FIRST_DATA_BLOCK = 2,
	CFS_FANOUT_SHIFT = 6,
	CFS_FANOUT = 64,
	CFS_MAX_HEIGHT = 6,
	CFS_INODE_SIZE = 256,
	CFS_INODES_PER_BLOCK = CFS_BLOCK_SIZE / CFS_INODE_SIZE,
	CFS_BITS_PER_BLOCK = CFS_BLOCK_SIZE * 8,
	CFS_ROOT_INO = 1,
	CFS_OBJ_ITABLE = 0,                 /* object id of the inode table */
	CFS_OBJ_BITMAP = UINT32_MAX,        /* object id of the space map */
	CFS_BATCH = 64,                     /* blocks sealed or opened at once */
};
#define CFS_MAX_FILE_SIZE (1ull << 46)
/* At most this many blocks are kept back from ordinary allocation for
 * operations that free space (see freeing_reserve in super.c). */
#define CFS_FREEING_RESERVE 32

/* A pointer to a child block: its address, the random secret its key is
 * derived from and its AEAD tag.  blkno 0 is a hole (reads as zeros). */
struct cfs_ptr {
	uint64_t blkno;
	uint8_t secret[32];
	uint8_t tag[16];
	uint64_t reserved;
};
_Static_assert(sizeof(struct cfs_ptr) == 64, "ptr size");

/* An inode: a file, directory or symlink, or (in the superblock) the inode
 * table or space map.  key is the object's own key; root and height
 * describe its radix tree of blocks. */
struct cfs_inode {
	uint32_t mode;
	uint32_t nlink;
	uint64_t size;
	uint64_t mtime_ns;
	uint64_t ctime_ns;
	uint64_t parent;
	uint32_t igen;
	uint8_t height;
	uint8_t pad[3];
	uint8_t key[32];
	struct cfs_ptr root;
	uint8_t reserved[112];
};
_Static_assert(sizeof(struct cfs_inode) == CFS_INODE_SIZE, "inode size");

/* The encrypted part of a superblock. */
struct cfs_sb_payload {
	struct cfs_inode itable;
	struct cfs_inode bitmap;
	uint64_t inode_count;       /* inode slots in use (highest + 1) */
	uint64_t files;             /* live inodes */
	uint8_t reserved[48];
};
_Static_assert(sizeof(struct cfs_sb_payload) == 576, "payload size");

enum { CFS_KIND_PASSPHRASE = 1, CFS_KIND_KEYFILE = 2, CFS_KIND_EPHEMERAL = 3 };

/* A superblock slot (blocks 0 and 1). The header is plain text and is the
 * associated data of the sealed payload; checksum (unkeyed BLAKE2b) catches
 * torn writes before any key is tried. */
struct cfs_sb {
	uint8_t magic[8];
	uint32_t version;
	uint32_t block_size;
	uint64_t generation;
	uint64_t nblocks;
	uint8_t uuid[16];
	uint32_t key_kind;
	uint32_t argon2_ops;
	uint32_t argon2_mem_kib;
	uint32_t flags;
	uint8_t salt[16];
	uint8_t wrap_nonce[24];
	uint8_t wrapped_master[48];
	uint8_t payload_nonce[24];
	uint8_t sealed_payload[sizeof(struct cfs_sb_payload) + 16];
	uint8_t recovery_nonce[24];         /* the recovery slot, when flags has */
	uint8_t recovery_wrapped[48];       /* CFS_SB_RECOVERY */
	uint8_t reserved[CFS_BLOCK_SIZE - 176 - sizeof(struct cfs_sb_payload) - 16 - 72 - 32];
	uint8_t checksum[32];
};
_Static_assert(sizeof(struct cfs_sb) == CFS_BLOCK_SIZE, "superblock size");
_Static_assert(offsetof(struct cfs_sb, recovery_nonce) == 768, "recovery slot offset");
#define CFS_SB_HEADER_BYTES 176u
/* flags: the master key is also wrapped under a recovery key (bytes
 * 768..839); the raw master key then opens nothing */
#define CFS_SB_RECOVERY 1u
#define CFS_MAGIC "CRYPTOFS"

/* A cached block: plain text of one block.  A dirty block was allocated in
 * the running transaction, so no committed tree points to it. */
struct cfs_cblock {
	uint64_t blkno;
	struct cfs_cblock *hnext;
	struct cfs_cblock *prev, *next;     /* clean LRU list or dirty list */
	bool dirty;
	int level;                          /* where a dirty block sits: */
	uint64_t owner;                     /* its object and level */
	uint8_t *data;
};

/* An object: where its root pointer and height live, its key and id. */
struct cfs_obj {
	uint64_t id;
	struct cfs_ptr *root;
	uint8_t *height;
	const uint8_t *key;
	bool file;                          /* a regular file (see cfs_seal_blocks) */
};

struct cfs_list { struct cfs_cblock head; };

/* A mounted volume's own keys, apart from the rest of its state so that
 * the host can keep them in locked memory (cfs_config.alloc_secret). */
struct cfs_keys {
	uint8_t master[32];
	uint8_t sb_key[32];
	uint8_t secret_key[32];             /* seeds block secrets (see cfs_new_secret) */
	uint8_t secret_pool[64 * 32];
};

struct cfs {
	struct cfs_config cfg;
	struct cfs_keys *keys;              /* from cfg.alloc_secret: locked memory */
	uint64_t secret_counter;
	size_t secret_left;
	struct cfs_sb sb;                   /* last committed header */
	struct cfs_sb_payload pl;           /* working payload */
	uint64_t generation;
	int slot_version[CFS_SB_SLOTS];     /* tree version each slot holds */
	int tree_version;
	bool dirty;
	bool shred_pending;
	bool broken;                        /* a commit failed: read-only */
	bool in_commit;
	bool freeing;                       /* an unlink may use the freeing reserve */
	bool committed;                     /* this mount wrote a superblock */
	/* space map: working and committed bitmaps (1 = in use) */
	uint64_t *bm_work, *bm_commit;
	uint64_t bm_words, bm_chunks, alloc_cursor, used_blocks, allocs;
	uint64_t avail;                     /* free in both maps */
	/* cache */
	struct cfs_cblock **hash;
	uint64_t hash_mask;
	struct cfs_list clean, dirty_list;
	uint64_t ncached, ndirty;
	uint8_t *batch;                     /* CFS_BATCH blocks + 16 bytes */
	/* leaves written straight to the device in this transaction carry
	 * fresh_mark in their pointer's reserved field until the commit */
	uint64_t fresh_mark, fresh_blocks;
	uint8_t *zero;
	uint64_t inode_hint;
	uint64_t err_blkno, err_ino;
};

/* env.c: memory and environment */
void *cfs_alloc(struct cfs *fs, size_t size);
void cfs_free(struct cfs *fs, void *p);
void cfs_rand(struct cfs *fs, void *buf, size_t len);
uint64_t cfs_now(struct cfs *fs);

/* cache.c: the block cache (see also cfs_cache_* below) */
int cfs_cache_init(struct cfs *fs);
void cfs_cache_destroy(struct cfs *fs);

/* seal.c: sealing and opening blocks, block secrets.
 * One block for cfs_seal_blocks (from in) or cfs_open_blocks (into out):
 * its object, place in the object's tree and pointer. */
struct cfs_blockio {
	uint64_t obj;
	const uint8_t *key;
	bool file;
	int level;
	uint64_t index;
	struct cfs_ptr *p;
	const uint8_t *in;
	uint8_t *out;
};
int cfs_seal_blocks(struct cfs *fs, struct cfs_blockio *io, size_t n);
int cfs_open_blocks(struct cfs *fs, struct cfs_blockio *io, size_t n);
int cfs_seal_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const uint8_t *plain, struct cfs_ptr *p);
int cfs_open_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const struct cfs_ptr *p, uint8_t *plain);
void cfs_new_secret(struct cfs *fs, uint8_t out[32]);

/* cache.c */
struct cfs_cblock *cfs_cache_lookup(struct cfs *fs, uint64_t blkno);
int cfs_cache_get(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		  const struct cfs_ptr *p, struct cfs_cblock **out);
int cfs_cache_new_dirty(struct cfs *fs, uint64_t blkno, struct cfs_cblock **out);
void cfs_cache_make_dirty(struct cfs *fs, struct cfs_cblock *b, uint64_t newblk);
void cfs_cache_drop(struct cfs *fs, uint64_t blkno);
bool cfs_dirty_owned(const struct cfs_cblock *b, const struct cfs_obj *o, int level);
void cfs_cache_all_clean(struct cfs *fs);
void cfs_cache_trim(struct cfs *fs);

/* space.c: allocation over the working and committed space maps */
int cfs_block_alloc(struct cfs *fs, uint64_t *blkno);
void cfs_block_free(struct cfs *fs, uint64_t blkno);
bool cfs_block_in_use(const struct cfs *fs, uint64_t blkno);
bool cfs_block_committed(const struct cfs *fs, uint64_t blkno);

/* env.c (with cfs_alloc etc. above) */
void cfs_set_error(struct cfs *fs, uint64_t blkno, uint64_t ino);

/* object.c: radix trees */
enum cfs_fill { CFS_LOAD, CFS_ZERO };
int cfs_obj_read(struct cfs *fs, const struct cfs_obj *o, uint64_t index, const uint8_t **data);
int cfs_obj_leaf_ptr(struct cfs *fs, const struct cfs_obj *o, uint64_t index, struct cfs_ptr *out);
int cfs_obj_read_into(struct cfs *fs, const struct cfs_obj *o, uint64_t index, uint8_t *out);
int cfs_obj_write(struct cfs *fs, struct cfs_obj *o, uint64_t index, enum cfs_fill fill,
		  uint8_t **data);
int cfs_obj_leaf_run(struct cfs *fs, const struct cfs_obj *o, uint64_t first, size_t max,
		     struct cfs_ptr *out, size_t *n);
int cfs_obj_write_direct(struct cfs *fs, struct cfs_obj *o, uint64_t first, size_t n,
			 const uint8_t *src, size_t *done);
int cfs_obj_truncate(struct cfs *fs, struct cfs_obj *o, uint64_t keep_blocks);
int cfs_obj_flush(struct cfs *fs, struct cfs_obj *o);
typedef int (*cfs_block_visit)(void *ctx, uint64_t blkno, int level, uint64_t index,
			       int err);
int cfs_obj_walk(struct cfs *fs, const struct cfs_obj *o, cfs_block_visit fn, void *ctx);
uint64_t cfs_obj_capacity(int height);

/* inode.c */
void cfs_obj_of(struct cfs_obj *o, uint64_t ino, struct cfs_inode *ip);
int cfs_inode_get(struct cfs *fs, uint64_t ino, struct cfs_inode *out);
int cfs_inode_rw(struct cfs *fs, uint64_t ino, struct cfs_inode **out);
int cfs_inode_alloc(struct cfs *fs, uint32_t mode, uint64_t parent, uint64_t *ino);
int cfs_inode_free(struct cfs *fs, uint64_t ino);
int cfs_file_read(struct cfs *fs, uint64_t ino, const struct cfs_inode *ip, void *buf,
		  size_t len, uint64_t off);
int cfs_file_write(struct cfs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off);
int cfs_file_truncate(struct cfs *fs, uint64_t ino, uint64_t size);

/* dir.c */
struct cfs_dirent { uint64_t ino; uint8_t type; uint8_t namelen; char name[CFS_NAME_MAX + 1]; };
int cfs_dir_init(struct cfs *fs, uint64_t ino);
int cfs_dir_lookup(struct cfs *fs, uint64_t dir, const char *name, size_t len, uint64_t *ino);
int cfs_dir_insert(struct cfs *fs, uint64_t dir, const char *name, size_t len, uint64_t ino,
		   uint8_t type);
int cfs_dir_remove(struct cfs *fs, uint64_t dir, const char *name, size_t len);
int cfs_dir_set(struct cfs *fs, uint64_t dir, const char *name, size_t len, uint64_t ino,
		uint8_t type);
int cfs_dir_is_empty(struct cfs *fs, uint64_t dir);
typedef int (*cfs_dir_visit)(void *ctx, const struct cfs_dirent *e, uint64_t next_cookie);
int cfs_dir_iterate(struct cfs *fs, uint64_t dir, uint64_t cookie, cfs_dir_visit fn, void *ctx);
/* fsck of one directory's structure; report per problem */
int cfs_dir_check(struct cfs *fs, uint64_t dir, void (*bad)(void *ctx, const char *what),
		  void *ctx);

/* super.c */
int cfs_commit(struct cfs *fs);
int cfs_op_end(struct cfs *fs, int rc);
bool cfs_may_allocate(const struct cfs *fs);
int cfs_make_room(struct cfs *fs);

#endif
