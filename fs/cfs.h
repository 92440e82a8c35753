/*
 * CryptoFS: an encrypted, authenticated, copy-on-write file system core.
 * Portable C: the block device, memory, randomness and the clock come in
 * through struct cfs_config, so the same code runs in host tools, tests and
 * the libOS.  Every function returns 0 (or a count) on success and a
 * negative errno value on failure.  The on-disk format is in docs/CRYPTOFS.md.
 * A mounted volume is not thread-safe; callers serialise.
 */
#ifndef EXO_FS_CFS_H
#define EXO_FS_CFS_H

#include <stddef.h>
#include <stdint.h>

enum {
	CFS_BLOCK_SIZE = 4096,
	CFS_KEY_BYTES = 32,
	CFS_NAME_MAX = 255,
	CFS_PATH_MAX = 4096,
	CFS_FORMAT_VERSION = 2,     /* written by default: AEGIS-256 blocks */
	CFS_FORMAT_OLDEST = 1,      /* still mounted: XChaCha20-Poly1305 blocks */
	/* Argon2id: the default is libsodium's MODERATE cost; a volume may ask
	 * for at most SENSITIVE (mount refuses more as damage) */
	CFS_ARGON2_DEFAULT_OPS = 3,
	CFS_ARGON2_DEFAULT_MEM_KIB = 256 << 10,
	CFS_ARGON2_MAX_OPS = 10,
	CFS_ARGON2_MAX_MEM_KIB = 1 << 20,
	CFS_ARGON2_MAX_WORK_KIB = 4 << 20,     /* ops x memory */
};

/* File type bits of cfs_stat.mode, equal to POSIX S_IF*. */
#define CFS_S_IFMT  0170000u
#define CFS_S_IFREG 0100000u
#define CFS_S_IFDIR 0040000u
#define CFS_S_IFLNK 0120000u

/* The environment: a block device of 4 KiB blocks plus memory, randomness
 * and time.  read/write move one whole block; flush makes every completed
 * write durable.  random, now_ns, map and parallel may be NULL (cx_random,
 * time 0, no direct access, one thread). */
struct cfs_config {
	void *ctx;
	uint64_t nblocks;
	int (*read)(void *ctx, uint64_t blkno, void *buf);
	int (*write)(void *ctx, uint64_t blkno, const void *buf);
	int (*flush)(void *ctx);
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *ptr);
	void (*random)(void *ctx, void *buf, size_t len);
	/* Optional: memory for the volume's keys that the host keeps out of
	 * swap where it can (sodium_malloc on the host); NULL = alloc/free.
	 * The core wipes it before freeing it. */
	void *(*alloc_secret)(void *ctx, size_t size);
	void (*free_secret)(void *ctx, void *ptr);
	/* Optional, for devices held in memory (a RAM disk, a mapped image):
	 * the storage of block blkno, which the core then seals into and
	 * opens from in place instead of copying through write and read.
	 * Such a write is complete when the call that made it returns. */
	uint8_t *(*map)(void *ctx, uint64_t blkno);
	/* Optional: run work(arg, i) for every i < n, on several threads at
	 * once, and return when all are done; the core then seals and opens
	 * large batches of blocks on all of them.  read, write and map must
	 * then be thread-safe. */
	void (*parallel)(void *parallel_ctx, void (*work)(void *arg, size_t i), void *arg,
			 size_t n);
	void *parallel_ctx;
	uint64_t (*now_ns)(void *ctx);
	uint32_t cache_blocks;      /* soft bound on cached blocks; 0 = 256 */
	uint64_t min_generation;    /* refuse older images (rollback), 0 = any */
	/* Optional rollback guard, for a host that remembers the newest
	 * generation it has seen of each volume (by its 16-byte id):
	 * check_generation is called at mount with the authenticated
	 * superblock's generation and refuses it by returning < 0 (mount then
	 * fails with that, normally -ESTALE); generation_committed is called
	 * after every commit with the generation now on the disk. */
	int (*check_generation)(void *ctx, const uint8_t volume_id[16], uint64_t generation);
	void (*generation_committed)(void *ctx, const uint8_t volume_id[16], uint64_t generation);
};

/* How a volume is opened: a passphrase (Argon2id), the contents of a key
 * file, the 32-byte recovery key, or the raw master key (ephemeral
 * volumes; and volumes made without a recovery slot, whose recovery key is
 * the master key: CFS_KEY_RECOVERY then acts as CFS_KEY_MASTER).
 * CFS_KEY_REMOUNT is the master key cfs_master_key gave a host that had
 * the volume mounted, to mount it again without the passphrase (the guest
 * hands a mount from one program image to the next): taken for a volume of
 * any kind, as it is never typed or stored by anyone. */
enum cfs_key_kind {
	CFS_KEY_PASSPHRASE = 1, CFS_KEY_FILE = 2, CFS_KEY_MASTER = 3, CFS_KEY_RECOVERY = 4,
	CFS_KEY_REMOUNT = 5,
};
struct cfs_key {
	enum cfs_key_kind kind;
	const void *bytes;
	size_t len;
};

struct cfs_format_opts {
	struct cfs_key key;         /* passphrase or key file */
	uint32_t argon2_ops;        /* 0 = CFS_ARGON2_DEFAULT_OPS */
	uint32_t argon2_mem_kib;    /* 0 = CFS_ARGON2_DEFAULT_MEM_KIB */
	int ephemeral;              /* master key never written: RAM volumes */
	uint32_t version;           /* 0 = CFS_FORMAT_VERSION, or 1 for CPUs
				     * without AES instructions */
	uint8_t *recovery_out;      /* if set: a new recovery key, wrapped in
				     * its own slot, is written here */
};

struct cfs_stat {
	uint64_t ino;
	uint32_t mode;
	uint32_t nlink;
	uint64_t size;
	uint64_t mtime_ns;
	uint64_t ctime_ns;
};

struct cfs_statfs {
	uint64_t block_size;
	uint64_t blocks;
	uint64_t free_blocks;
	uint64_t files;
	uint64_t generation;
	uint32_t version;
	uint8_t volume_id[16];
	int passphrase;             /* 1: opened by a passphrase (Argon2id) */
	uint32_t argon2_ops;        /* passphrase volumes; 0 otherwise */
	uint32_t argon2_mem_kib;
	int recovery_slot;          /* 1: a recovery key wrapping exists */
};

/* Flags for cfs_open. */
#define CFS_O_CREAT 1
#define CFS_O_EXCL  2
#define CFS_O_TRUNC 4

struct cfs;

int cfs_format(const struct cfs_config *cfg, const struct cfs_format_opts *opts,
	       uint8_t master_out[CFS_KEY_BYTES]);
int cfs_mount(struct cfs **out, const struct cfs_config *cfg, const struct cfs_key *key);
int cfs_sync(struct cfs *fs);
int cfs_unmount(struct cfs *fs);
/* The mounted volume's master key, for CFS_KEY_REMOUNT; the caller wipes it. */
void cfs_master_key(const struct cfs *fs, uint8_t out[CFS_KEY_BYTES]);
int cfs_statfs(struct cfs *fs, struct cfs_statfs *st);
/* Rewrap the master key under a new passphrase or key file (both
 * superblock slots); no data block is rewritten. */
int cfs_rekey(struct cfs *fs, const struct cfs_key *key, uint32_t ops, uint32_t mem_kib);
/* Make a new recovery key (written to recovery_out) and wrap the master
 * key under it in both superblock slots; the previous recovery key (or, on
 * a volume without a recovery slot, the raw master key) opens nothing
 * from then on. */
int cfs_set_recovery(struct cfs *fs, uint8_t recovery_out[CFS_KEY_BYTES]);

/* Files are named by absolute paths ("/a/b").  Symlinks are not followed
 * (the caller's VFS does that with cfs_readlink).  A handle is >= 0. */
int64_t cfs_open(struct cfs *fs, const char *path, int flags, uint32_t mode);
int64_t cfs_read(struct cfs *fs, int64_t fh, void *buf, size_t len, uint64_t off);
int64_t cfs_write(struct cfs *fs, int64_t fh, const void *buf, size_t len, uint64_t off);
int cfs_ftruncate(struct cfs *fs, int64_t fh, uint64_t size);
int cfs_truncate(struct cfs *fs, const char *path, uint64_t size);
int cfs_fstat(struct cfs *fs, int64_t fh, struct cfs_stat *st);
int cfs_fsync(struct cfs *fs, int64_t fh);
int cfs_close(struct cfs *fs, int64_t fh);
int cfs_stat(struct cfs *fs, const char *path, struct cfs_stat *st);
int cfs_chmod(struct cfs *fs, const char *path, uint32_t mode);
int cfs_set_mtime(struct cfs *fs, const char *path, uint64_t mtime_ns);
int cfs_mkdir(struct cfs *fs, const char *path, uint32_t mode);
int cfs_rmdir(struct cfs *fs, const char *path);
int cfs_unlink(struct cfs *fs, const char *path);
int cfs_rename(struct cfs *fs, const char *from, const char *to);
int cfs_symlink(struct cfs *fs, const char *target, const char *path);
int64_t cfs_readlink(struct cfs *fs, const char *path, char *buf, size_t size);

/* readdir calls fn for each entry from cookie on (0 = start; "." and ".."
 * are not listed); fn returns non-zero to stop, and gets the cookie that
 * resumes after the entry. */
typedef int (*cfs_filldir)(void *ctx, const char *name, size_t namelen,
			   const struct cfs_stat *st, uint64_t next_cookie);
int cfs_readdir(struct cfs *fs, const char *path, uint64_t cookie,
		cfs_filldir fn, void *ctx);

/* Parallel reads, for a host that runs several threads (the FUSE mount):
 * cfs_read_plan, called under the host's lock like every other call,
 * serves the block-aligned range [off, off + len) of an open file into buf
 * except for whole blocks that must be read from the device; those it
 * describes in refs (up to nrefs; *nout of them) with where they go in buf.
 * cfs_read_block then decrypts one such block and may run without the lock
 * and on several threads at once (the device's read must be thread-safe),
 * needing a scratch buffer of CFS_BLOCK_SIZE + 16 bytes; cfs_read_blocks
 * does the same for n refs at once (faster: several blocks per AES
 * register), with a scratch buffer of CFS_READ_SCRATCH bytes, and returns
 * 0 when all of them were opened.  If one fails, the host retries it with
 * cfs_read under the lock (a commit may have recycled the block
 * meanwhile).  cfs_read_plan returns the bytes covered or -errno. */
struct cfs_block_ref {
	uint64_t blkno, obj, index;
	size_t buf_offset;
	uint8_t key[CFS_KEY_BYTES];
	uint8_t secret[32];
	uint8_t tag[16];
};
int64_t cfs_read_plan(struct cfs *fs, int64_t fh, void *buf, size_t len, uint64_t off,
		      struct cfs_block_ref *refs, size_t nrefs, size_t *nout);
int cfs_read_block(const struct cfs *fs, const struct cfs_block_ref *ref, void *out,
		   void *scratch);
enum { CFS_READ_SCRATCH = 64 * CFS_BLOCK_SIZE + 16 };
int cfs_read_blocks(const struct cfs *fs, const struct cfs_block_ref *refs, size_t n,
		    void *buf, void *scratch);

/* Where the last -EIO came from: the damaged block and the inode it
 * belongs to (0 for the inode table or space map). */
void cfs_last_error(struct cfs *fs, uint64_t *blkno, uint64_t *ino);

/* fsck: verify both superblocks, every reachable block and the tree's
 * invariants; report(ctx, path, blkno, problem) names each damage found.
 * Returns the number of problems (0 = clean) or a negative errno. */
typedef void (*cfs_fsck_report)(void *ctx, const char *path, uint64_t blkno,
				const char *problem);
struct cfs_fsck_stats { uint64_t files, dirs, symlinks, blocks; };
int cfs_fsck(struct cfs *fs, cfs_fsck_report report, void *ctx, struct cfs_fsck_stats *st);

/* Test hook: the raw key of a file (to check crypto-shredding). */
int cfs_debug_file_key(struct cfs *fs, const char *path, uint8_t key[CFS_KEY_BYTES]);

#endif
