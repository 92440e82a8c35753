/*
 * Superblocks, keys and transactions: format, mount (choosing the newest
 * authentic slot), commit (blocks, flush, superblock, flush), sync, rekey
 * and unmount.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

/* What the master-key wrapping is bound to: everything but the generation. */
struct wrap_ad {
	uint8_t magic[8];
	uint32_t version, key_kind, argon2_ops, argon2_mem_kib;
	uint8_t uuid[16];
	uint8_t salt[16];
};

/* The associated data of the master-key wrapping for this slot. */
static void wrap_ad_of(const struct cfs_sb *sb, struct wrap_ad *ad)
{
	memset(ad, 0, sizeof *ad);
	memcpy(ad->magic, sb->magic, 8);
	ad->version = sb->version;
	ad->key_kind = sb->key_kind;
	ad->argon2_ops = sb->argon2_ops;
	ad->argon2_mem_kib = sb->argon2_mem_kib;
	memcpy(ad->uuid, sb->uuid, 16);
	memcpy(ad->salt, sb->salt, 16);
}

/* Argon2id costs a volume may ask for.  The header is read before anything
 * is authenticated, so these bounds are all a tampered header can make a
 * mount spend: at most libsodium's SENSITIVE cost (1 GiB, 4 passes). */
static bool argon2_cost_ok(uint32_t ops, uint32_t mem_kib)
{
	return ops >= 1 && ops <= CFS_ARGON2_MAX_OPS && mem_kib >= 8 &&
	       mem_kib <= CFS_ARGON2_MAX_MEM_KIB &&
	       (uint64_t)ops * mem_kib <= CFS_ARGON2_MAX_WORK_KIB;
}

/* The key-encryption key from a passphrase (Argon2id) or a key file. */
static int derive_kek(const struct cfs_sb *sb, const struct cfs_key *key, uint8_t kek[32])
{
	cx_hash_state st;
	int rc;

	if (key->kind == CFS_KEY_PASSPHRASE && sb->key_kind == CFS_KIND_PASSPHRASE) {
		if (!argon2_cost_ok(sb->argon2_ops, sb->argon2_mem_kib))
			return -EIO;
		return cx_pwhash(kek, key->bytes, key->len, sb->salt, sb->argon2_ops,
				 (size_t)sb->argon2_mem_kib * 1024) < 0 ? -ENOMEM : 0;
	}
	if (key->kind == CFS_KEY_FILE && sb->key_kind == CFS_KIND_KEYFILE) {
		cx_hash_init(&st, NULL, 0, 32);
		cx_hash_update(&st, "cryptofs key file", 17);
		cx_hash_update(&st, sb->salt, sizeof sb->salt);
		cx_hash_update(&st, key->bytes, key->len);
		rc = cx_hash_final(&st, kek, 32);
		cx_wipe(&st, sizeof st);
		return rc;
	}
	return -EACCES;
}

/* Wrap the master key for the key kind already set in sb. */
static int wrap_master(struct cfs *fs, struct cfs_sb *sb, const struct cfs_key *key)
{
	struct wrap_ad ad;
	uint8_t kek[32];
	int rc;

	if (sb->key_kind == CFS_KIND_PASSPHRASE && !argon2_cost_ok(sb->argon2_ops, sb->argon2_mem_kib))
		return -EINVAL;
	cfs_rand(fs, sb->salt, sizeof sb->salt);
	cfs_rand(fs, sb->wrap_nonce, sizeof sb->wrap_nonce);
	rc = derive_kek(sb, key, kek);
	if (rc < 0)
		return rc == -EACCES ? -EINVAL : rc;
	wrap_ad_of(sb, &ad);
	cx_xaead_seal(sb->wrapped_master, fs->keys->master, 32, (const uint8_t *)&ad, sizeof ad,
		      sb->wrap_nonce, kek);
	cx_wipe(kek, sizeof kek);
	return 0;
}

/* Open the wrapped master key with a passphrase or key file;
 * -EACCES when it is the wrong one. */
static int unwrap_master(const struct cfs_sb *sb, const struct cfs_key *key, uint8_t master[32])
{
	struct wrap_ad ad;
	uint8_t kek[32];
	int rc = derive_kek(sb, key, kek);

	if (rc < 0)
		return rc;
	wrap_ad_of(sb, &ad);
	rc = cx_xaead_open(master, sb->wrapped_master, 32, (const uint8_t *)&ad, sizeof ad,
			   sb->wrap_nonce, kek);
	cx_wipe(kek, sizeof kek);
	return rc < 0 ? -EACCES : 0;
}

/* What the recovery wrapping is bound to: the volume, but none of the
 * passphrase fields, which passwd changes without the recovery key. */
struct recovery_ad {
	uint8_t magic[8];
	uint32_t version;
	uint8_t uuid[16];
};

static void recovery_ad_of(const struct cfs_sb *sb, struct recovery_ad *ad)
{
	memset(ad, 0, sizeof *ad);
	memcpy(ad->magic, sb->magic, 8);
	ad->version = sb->version;
	memcpy(ad->uuid, sb->uuid, 16);
}

/* Wrap the master key under a recovery key (a random 256-bit key, so a
 * plain KDF suffices) in the slot's recovery fields. */
static void wrap_recovery(struct cfs *fs, struct cfs_sb *sb, const uint8_t recovery[32])
{
	struct recovery_ad ad;
	uint8_t kek[32];

	cfs_rand(fs, sb->recovery_nonce, sizeof sb->recovery_nonce);
	cx_kdf(kek, recovery, "cryptofs recovery key", 0);
	recovery_ad_of(sb, &ad);
	cx_xaead_seal(sb->recovery_wrapped, fs->keys->master, 32, (const uint8_t *)&ad, sizeof ad,
		      sb->recovery_nonce, kek);
	cx_wipe(kek, sizeof kek);
	sb->flags |= CFS_SB_RECOVERY;
}

/* Open the recovery wrapping; -EACCES for a wrong recovery key. */
static int unwrap_recovery(const struct cfs_sb *sb, const struct cfs_key *key, uint8_t master[32])
{
	struct recovery_ad ad;
	uint8_t kek[32];
	int rc;

	if (key->len != 32 || !(sb->flags & CFS_SB_RECOVERY))
		return -EACCES;
	cx_kdf(kek, key->bytes, "cryptofs recovery key", 0);
	recovery_ad_of(sb, &ad);
	rc = cx_xaead_open(master, sb->recovery_wrapped, 32, (const uint8_t *)&ad, sizeof ad,
			   sb->recovery_nonce, kek);
	cx_wipe(kek, sizeof kek);
	return rc < 0 ? -EACCES : 0;
}

/* Two slots carry the same key wrappings (trying the second is useless). */
static bool same_wrappings(const struct cfs_sb *a, const struct cfs_sb *b)
{
	return memcmp(a->salt, b->salt, 16) == 0 &&
	       memcmp(a->wrapped_master, b->wrapped_master, 48) == 0 &&
	       memcmp(a->recovery_wrapped, b->recovery_wrapped, 48) == 0;
}

/* The unkeyed checksum that detects torn superblock writes. */
static void sb_checksum(const struct cfs_sb *sb, uint8_t out[32])
{
	cx_hash(out, 32, sb, offsetof(struct cfs_sb, checksum));
}

/* A slot is a candidate when its plain header is whole and plausible. */
static bool sb_header_ok(const struct cfs_sb *sb, uint64_t dev_blocks)
{
	uint8_t sum[32];

	if (memcmp(sb->magic, CFS_MAGIC, 8) != 0 || sb->version < CFS_FORMAT_OLDEST ||
	    sb->version > CFS_FORMAT_VERSION ||
	    sb->block_size != CFS_BLOCK_SIZE || sb->nblocks < 16 || sb->nblocks > dev_blocks ||
	    sb->nblocks > (1ull << 40))
		return false;
#ifdef FUZZING
	(void)sum;
	return true;
#else
	sb_checksum(sb, sum);
	return memcmp(sum, sb->checksum, 32) == 0;
#endif
}

/* Authenticate and decrypt a slot's payload and check its ranges. */
static int payload_open(const struct cfs *fs, const struct cfs_sb *sb, struct cfs_sb_payload *pl)
{
#ifdef FUZZING
	(void)fs;
	memcpy(pl, sb->sealed_payload, sizeof *pl);
#else
	if (cx_xaead_open((uint8_t *)pl, sb->sealed_payload, sizeof *pl, (const uint8_t *)sb,
			  CFS_SB_HEADER_BYTES, sb->payload_nonce, fs->keys->sb_key) < 0)
		return -EBADMSG;
#endif
	if (pl->itable.height > CFS_MAX_HEIGHT || pl->bitmap.height > CFS_MAX_HEIGHT ||
	    pl->inode_count < 2 || pl->inode_count > (1ull << 31) ||
	    pl->inode_count > sb->nblocks * CFS_INODES_PER_BLOCK)
		return -EBADMSG;
	return 0;
}

/* Seal the working payload into a slot with a fresh nonce. */
static void payload_seal(struct cfs *fs, struct cfs_sb *sb)
{
	cfs_rand(fs, sb->payload_nonce, sizeof sb->payload_nonce);
#ifdef FUZZING
	memcpy(sb->sealed_payload, &fs->pl, sizeof fs->pl);
#else
	cx_xaead_seal(sb->sealed_payload, (const uint8_t *)&fs->pl, sizeof fs->pl,
		      (const uint8_t *)sb, CFS_SB_HEADER_BYTES, sb->payload_nonce, fs->keys->sb_key);
#endif
	sb_checksum(sb, sb->checksum);
}

/* Blocks a commit may need for the space map, kept back from
 * ordinary allocation so a commit never runs out of space. */
static uint64_t commit_reserve(const struct cfs *fs)
{
	/* every space-map block and its pointer path may move once */
	return 2 * fs->bm_chunks + 2 * (uint64_t)fs->pl.bitmap.height + 4;
}

/* Blocks kept back so a full volume can still copy-on-write the path of an
 * unlink, rmdir or create rollback (smaller on tiny volumes). */
static uint64_t freeing_reserve(const struct cfs *fs)
{
	return fs->sb.nblocks / 16 < CFS_FREEING_RESERVE ? fs->sb.nblocks / 16 : CFS_FREEING_RESERVE;
}

/* Write the working space map into its object; writing it allocates, so
 * repeat until a pass allocates nothing. */
static int persist_bitmap(struct cfs *fs, uint8_t *written)
{
	struct cfs_obj bo;
	uint64_t before;

	cfs_obj_of(&bo, CFS_OBJ_BITMAP, &fs->pl.bitmap);
	do {
		before = fs->allocs;
		for (uint64_t i = 0; i < fs->bm_chunks; i++) {
			const uint64_t *w = fs->bm_work + i * (CFS_BLOCK_SIZE / 8);
			uint8_t *d;
			int rc;

			if (!written[i] && memcmp(w, fs->bm_commit + i * (CFS_BLOCK_SIZE / 8),
						  CFS_BLOCK_SIZE) == 0)
				continue;
			rc = cfs_obj_write(fs, &bo, i, CFS_ZERO, &d);
			if (rc < 0)
				return rc;
			memcpy(d, w, CFS_BLOCK_SIZE);
			written[i] = 1;
		}
	} while (fs->allocs != before);
	return 0;
}

/* Recount the blocks free in both maps after the committed map changed. */
static void recount(struct cfs *fs)
{
	uint64_t used = 0;

	for (uint64_t w = 0; w < fs->bm_words; w++)
		used += (uint64_t)__builtin_popcountll(fs->bm_work[w]);
	fs->used_blocks = used - (fs->bm_words * 64 - fs->sb.nblocks);
}

/* One transaction: new blocks, flush, superblock in the next slot, flush. */
int cfs_commit(struct cfs *fs)
{
	struct cfs_obj it, bo;
	struct cfs_sb sb = fs->sb;
	uint8_t *written;
	int rc;

	if (fs->broken)
		return -EIO;
	written = cfs_alloc(fs, fs->bm_chunks);
	if (!written)
		return -ENOMEM;
	if (fs->dirty)
		fs->tree_version++;
	fs->fresh_blocks = 0;
	fs->in_commit = true;
	rc = persist_bitmap(fs, written);
	fs->in_commit = false;
	cfs_free(fs, written);
	cfs_obj_of(&it, CFS_OBJ_ITABLE, &fs->pl.itable);
	cfs_obj_of(&bo, CFS_OBJ_BITMAP, &fs->pl.bitmap);
	if (rc == 0)
		rc = cfs_obj_flush(fs, &it);
	if (rc == 0)
		rc = cfs_obj_flush(fs, &bo);
	if (rc == 0 && fs->cfg.flush(fs->cfg.ctx) < 0)
		rc = -EIO;
	if (rc == 0) {
		sb.generation = fs->generation + 1;
		payload_seal(fs, &sb);
		if (fs->cfg.write(fs->cfg.ctx, sb.generation % CFS_SB_SLOTS, &sb) < 0 ||
		    fs->cfg.flush(fs->cfg.ctx) < 0)
			rc = -EIO;
	}
	if (rc < 0) {
		fs->broken = true;
		return rc == -ENOSPC ? -ENOSPC : -EIO;
	}
	fs->generation = sb.generation;
	fs->sb = sb;
	if (fs->cfg.generation_committed)
		fs->cfg.generation_committed(fs->cfg.ctx, sb.uuid, sb.generation);
	fs->slot_version[sb.generation % CFS_SB_SLOTS] = fs->tree_version;
	memcpy(fs->bm_commit, fs->bm_work, fs->bm_words * 8);
	recount(fs);
	fs->avail = fs->sb.nblocks - fs->used_blocks;
	cfs_cache_all_clean(fs);
	cfs_cache_trim(fs);
	fs->dirty = false;
	fs->committed = true;
	return 0;
}

/* True when both superblock slots name the current tree. */
static bool slots_current(const struct cfs *fs)
{
	return fs->slot_version[0] == fs->tree_version && fs->slot_version[1] == fs->tree_version;
}

/* Commit what is pending; after an unlink commit again so that neither
 * superblock slot still leads to the deleted file's key. */
int cfs_sync(struct cfs *fs)
{
	int rc = 0;

	if (fs->broken)
		return -EIO;
	if (fs->dirty)
		rc = cfs_commit(fs);
	if (rc == 0 && fs->shred_pending && !slots_current(fs))
		rc = cfs_commit(fs);
	if (rc == 0)
		fs->shred_pending = false;
	return rc;
}

/* End of a mutating operation: commit early when dirty blocks (which the
 * cache cannot evict) outgrow half the cache, or when the blocks written
 * straight to the device, whose old versions stay allocated until the
 * commit, reach four times the cache. */
int cfs_op_end(struct cfs *fs, int rc)
{
	if (!fs->broken && (fs->ndirty > fs->cfg.cache_blocks / 2 ||
			    fs->fresh_blocks > 4ull * fs->cfg.cache_blocks)) {
		int crc = cfs_commit(fs);

		if (rc >= 0 && crc < 0)
			return crc;
	}
	return rc;
}

/* Allocate the in-memory state of a volume of nblocks blocks. */
static int fs_create(struct cfs **out, const struct cfs_config *cfg, uint64_t nblocks)
{
	struct cfs *fs;

	if (!cfg || !cfg->read || !cfg->write || !cfg->flush || !cfg->alloc || !cfg->free ||
	    !cfg->alloc_secret != !cfg->free_secret)
		return -EINVAL;
	fs = cfg->alloc(cfg->ctx, sizeof *fs);
	if (!fs)
		return -ENOMEM;
	memset(fs, 0, sizeof *fs);
	fs->cfg = *cfg;
	if (fs->cfg.cache_blocks == 0)
		fs->cfg.cache_blocks = 256;
	if (fs->cfg.cache_blocks < 32)
		fs->cfg.cache_blocks = 32;
	fs->sb.nblocks = nblocks;
	fs->bm_chunks = (nblocks + CFS_BITS_PER_BLOCK - 1) / CFS_BITS_PER_BLOCK;
	fs->bm_words = fs->bm_chunks * (CFS_BLOCK_SIZE / 8);
	fs->bm_work = cfs_alloc(fs, fs->bm_words * 8);
	fs->bm_commit = cfs_alloc(fs, fs->bm_words * 8);
	fs->inode_hint = 2;
	fs->slot_version[0] = fs->slot_version[1] = -1;
	/* from the CSPRNG even when the host's random source is a
	 * deterministic one (tests, fuzzers): no pointer read from the disk
	 * may carry it, and the mark never reaches the disk */
	while (fs->fresh_mark == 0)
		cx_random(&fs->fresh_mark, sizeof fs->fresh_mark);
	fs->keys = cfg->alloc_secret ? cfg->alloc_secret(cfg->ctx, sizeof *fs->keys)
				     : cfs_alloc(fs, sizeof *fs->keys);
	if (fs->keys)
		memset(fs->keys, 0, sizeof *fs->keys);
	*out = fs;
	if (!fs->keys || !fs->bm_work || !fs->bm_commit || cfs_cache_init(fs) < 0)
		return -ENOMEM;
	return 0;
}

/* Free a volume's memory, wiping keys and cached plain text. */
static void fs_destroy(struct cfs *fs)
{
	if (!fs)
		return;
	if (fs->hash)
		cfs_cache_destroy(fs);
	cfs_free(fs, fs->bm_work);
	cfs_free(fs, fs->bm_commit);
	if (fs->keys) {
		cx_wipe(fs->keys, sizeof *fs->keys);
		if (fs->cfg.alloc_secret)
			fs->cfg.free_secret(fs->cfg.ctx, fs->keys);
		else
			cfs_free(fs, fs->keys);
	}
	cx_wipe(&fs->pl, sizeof fs->pl);
	fs->cfg.free(fs->cfg.ctx, fs);
}

/* Mark the superblocks and the padding past the end as always in use. */
static void reserve_fixed(struct cfs *fs)
{
	for (uint64_t b = 0; b < fs->bm_words * 64; b++) {
		if (b < CFS_FIRST_DATA_BLOCK || b >= fs->sb.nblocks) {
			fs->bm_work[b / 64] |= 1ull << (b % 64);
			fs->bm_commit[b / 64] |= 1ull << (b % 64);
		}
		if (b == CFS_FIRST_DATA_BLOCK)
			b = fs->sb.nblocks - 1;
	}
	recount(fs);
	fs->avail = fs->sb.nblocks - fs->used_blocks;
}

/* The root directory of a new volume. */
static int format_root(struct cfs *fs)
{
	struct cfs_inode *ip;
	int rc;

	fs->pl.inode_count = 2;
	rc = cfs_inode_rw(fs, CFS_ROOT_INO, &ip);
	if (rc < 0)
		return rc;
	ip->mode = CFS_S_IFDIR | 0755;
	ip->nlink = 2;
	ip->parent = CFS_ROOT_INO;
	ip->igen = 1;
	ip->mtime_ns = ip->ctime_ns = cfs_now(fs);
	cfs_rand(fs, ip->key, sizeof ip->key);
	fs->pl.files = 1;
	return cfs_dir_init(fs, CFS_ROOT_INO);
}

/* Make a new volume: fresh master key, root directory, and both
 * superblock slots written (generations 1 and 2). */
int cfs_format(const struct cfs_config *cfg, const struct cfs_format_opts *opts,
	       uint8_t master_out[CFS_KEY_BYTES])
{
	struct cfs *fs = NULL;
	int rc;

	if (!opts || !cfg || cfg->nblocks < 16 || cfg->nblocks > (1ull << 40))
		return -EINVAL;
	if (!opts->ephemeral && opts->key.kind != CFS_KEY_PASSPHRASE &&
	    opts->key.kind != CFS_KEY_FILE)
		return -EINVAL;
	rc = fs_create(&fs, cfg, cfg->nblocks);
	if (rc < 0)
		goto out;
	memcpy(fs->sb.magic, CFS_MAGIC, 8);
	fs->sb.version = opts->version ? opts->version : CFS_FORMAT_VERSION;
	rc = -EINVAL;
	if (fs->sb.version < CFS_FORMAT_OLDEST || fs->sb.version > CFS_FORMAT_VERSION)
		goto out;
	rc = -ENOTSUP;
	if (fs->sb.version >= 2 && !cx_aegis_available())
		goto out;
	fs->sb.block_size = CFS_BLOCK_SIZE;
	cfs_rand(fs, fs->sb.uuid, sizeof fs->sb.uuid);
	cfs_rand(fs, fs->keys->master, sizeof fs->keys->master);
	cx_kdf(fs->keys->sb_key, fs->keys->master, "cryptofs superblock", 0);
	if (opts->ephemeral) {
		fs->sb.key_kind = CFS_KIND_EPHEMERAL;
	} else {
		fs->sb.key_kind = opts->key.kind == CFS_KEY_PASSPHRASE ? CFS_KIND_PASSPHRASE
								       : CFS_KIND_KEYFILE;
		fs->sb.argon2_ops = opts->argon2_ops ? opts->argon2_ops : CFS_ARGON2_DEFAULT_OPS;
		fs->sb.argon2_mem_kib = opts->argon2_mem_kib ? opts->argon2_mem_kib
							     : CFS_ARGON2_DEFAULT_MEM_KIB;
		rc = wrap_master(fs, &fs->sb, &opts->key);
		if (rc < 0)
			goto out;
		if (opts->recovery_out) {
			cfs_rand(fs, opts->recovery_out, CFS_KEY_BYTES);
			wrap_recovery(fs, &fs->sb, opts->recovery_out);
		}
	}
	cfs_rand(fs, fs->pl.itable.key, 32);
	cfs_rand(fs, fs->pl.bitmap.key, 32);
	reserve_fixed(fs);
	rc = format_root(fs);
	if (rc == 0)
		rc = cfs_commit(fs);
	if (rc == 0)
		rc = cfs_commit(fs);
	if (rc == 0 && master_out)
		memcpy(master_out, fs->keys->master, 32);
out:
	fs_destroy(fs);
	return rc;
}

/* Load the committed space map into both bitmaps. */
static int load_bitmap(struct cfs *fs)
{
	struct cfs_obj bo;

	cfs_obj_of(&bo, CFS_OBJ_BITMAP, &fs->pl.bitmap);
	for (uint64_t i = 0; i < fs->bm_chunks; i++) {
		const uint8_t *d;
		int rc = cfs_obj_read(fs, &bo, i, &d);

		if (rc < 0)
			return rc;
		if (d)
			memcpy(fs->bm_work + i * (CFS_BLOCK_SIZE / 8), d, CFS_BLOCK_SIZE);
	}
	memcpy(fs->bm_commit, fs->bm_work, fs->bm_words * 8);
	reserve_fixed(fs);
	return 0;
}

/* The master key: given directly (ephemeral volumes, and volumes without
 * a recovery slot, whose recovery key is the master key itself), or
 * unwrapped from the newest slot whose wrapping opens with this
 * passphrase, key file or recovery key.  *proven says the key was
 * authenticated by an unwrapping, so that a superblock failing later is
 * damage, not a wrong key. */
static int obtain_master(struct cfs *fs, const struct cfs_sb *sbs, const int *order, int n,
			 const struct cfs_key *key, bool *proven)
{
	const struct cfs_sb *newest = &sbs[order[0]];
	int rc = -EACCES;

	*proven = false;
	if (key->kind == CFS_KEY_REMOUNT) {
		if (key->len != 32)
			return -EACCES;
		memcpy(fs->keys->master, key->bytes, 32);
		return 0;
	}
	if (key->kind == CFS_KEY_MASTER ||
	    (key->kind == CFS_KEY_RECOVERY && !(newest->flags & CFS_SB_RECOVERY))) {
		if (key->len != 32 || ((newest->flags & CFS_SB_RECOVERY) &&
				       newest->key_kind != CFS_KIND_EPHEMERAL))
			return -EACCES;
		memcpy(fs->keys->master, key->bytes, 32);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		const struct cfs_sb *sb = &sbs[order[i]];

		if (i == 1 && same_wrappings(sb, newest))
			break;
		rc = key->kind == CFS_KEY_RECOVERY ? unwrap_recovery(sb, key, fs->keys->master)
						   : unwrap_master(sb, key, fs->keys->master);
		*proven = rc == 0;
		if (rc == 0 || rc == -ENOMEM)
			return rc;
	}
	return rc;
}

void cfs_master_key(const struct cfs *fs, uint8_t out[CFS_KEY_BYTES])
{
	memcpy(out, fs->keys->master, CFS_KEY_BYTES);
}

/* Read both slots; order[] lists the whole ones, newest first. */
static int read_slots(const struct cfs_config *cfg, struct cfs_sb *sbs, int order[2])
{
	int n = 0;

	for (int i = 0; i < CFS_SB_SLOTS; i++)
		if (cfg->read(cfg->ctx, (uint64_t)i, &sbs[i]) == 0 && sb_header_ok(&sbs[i], cfg->nblocks))
			order[n++] = i;
	if (n == 2 && sbs[order[1]].generation > sbs[order[0]].generation) {
		order[0] = 1;
		order[1] = 0;
	}
	return n;
}

/* Rollback: refuse an authentic superblock older than the host has seen
 * (cfg.min_generation, and the host's own record through its hook). */
static int check_generation(const struct cfs_config *cfg, const struct cfs_sb *sb)
{
	if (sb->generation < cfg->min_generation)
		return -ESTALE;
	if (cfg->check_generation)
		return cfg->check_generation(cfg->ctx, sb->uuid, sb->generation);
	return 0;
}

/* Mount: pick the newest authentic slot, get the master key, load the
 * space map.  Everything after authentication uses the copies read and
 * authenticated here, never a second read of the device. */
int cfs_mount(struct cfs **out, const struct cfs_config *cfg, const struct cfs_key *key)
{
	struct cfs_sb *sbs = NULL;
	struct cfs_sb_payload pl, other;
	struct cfs *probe = NULL, *fs = NULL;
	int order[2], n, chosen = -1, rc;
	bool proven, other_same = false;

	*out = NULL;
	if (!key || !cfg || cfg->nblocks < 16)
		return -EINVAL;
	rc = fs_create(&probe, cfg, 16);
	if (rc < 0)
		goto fail;
	sbs = cfs_alloc(probe, 2 * sizeof *sbs);
	rc = -ENOMEM;
	if (!sbs)
		goto fail;
	n = read_slots(cfg, sbs, order);
	rc = -EIO;
	if (n == 0)
		goto fail;
	rc = obtain_master(probe, sbs, order, n, key, &proven);
	if (rc < 0)
		goto fail;
	cx_kdf(probe->keys->sb_key, probe->keys->master, "cryptofs superblock", 0);
	for (int i = 0; i < n && chosen < 0; i++)
		if (payload_open(probe, &sbs[order[i]], &pl) == 0)
			chosen = order[i];
	rc = proven ? -EIO : -EACCES;
	if (chosen < 0)
		goto fail;
	rc = check_generation(cfg, &sbs[chosen]);
	if (rc < 0)
		goto fail;
	rc = -ENOTSUP;          /* format 2 needs AES instructions */
	if (sbs[chosen].version >= 2 && !cx_aegis_available())
		goto fail;
	/* does the other slot name the same tree (both slots current)? */
	if (n == 2 && payload_open(probe, &sbs[1 - chosen], &other) == 0 &&
	    memcmp(&other.itable.root, &pl.itable.root, sizeof pl.itable.root) == 0 &&
	    memcmp(&other.bitmap.root, &pl.bitmap.root, sizeof pl.bitmap.root) == 0)
		other_same = true;
	cx_wipe(&other, sizeof other);
	/* the state for the volume's real size */
	rc = fs_create(&fs, cfg, sbs[chosen].nblocks);
	if (rc < 0)
		goto fail;
	memcpy(fs->keys->master, probe->keys->master, 32);
	memcpy(fs->keys->sb_key, probe->keys->sb_key, 32);
	fs->sb = sbs[chosen];
	fs->pl = pl;
	fs->generation = fs->sb.generation;
	fs->slot_version[chosen] = 0;
	if (other_same)
		fs->slot_version[1 - chosen] = 0;
	rc = load_bitmap(fs);
	if (rc < 0) {
		rc = rc == -EIO ? -EUCLEAN : rc;
		goto fail;
	}
	cfs_free(probe, sbs);
	fs_destroy(probe);
	cx_wipe(&pl, sizeof pl);
	*out = fs;
	return 0;
fail:
	cx_wipe(&pl, sizeof pl);
	if (probe) {
		cfs_free(probe, sbs);
		fs_destroy(probe);
	}
	fs_destroy(fs);
	return rc;
}

/* Commit what is pending (and make both slots current if this mount
 * wrote anything), then free the volume. */
int cfs_unmount(struct cfs *fs)
{
	int rc = 0;

	if (!fs)
		return -EINVAL;
	if (!fs->broken) {
		rc = cfs_sync(fs);
		if (rc == 0 && fs->committed && !slots_current(fs))
			rc = cfs_commit(fs);
	}
	fs_destroy(fs);
	return rc;
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Write a changed header into both slots (commit what is pending, then
 * two commits carrying the new header). */
static int write_header(struct cfs *fs, const struct cfs_sb *sb)
{
	int rc = cfs_sync(fs);

	if (rc < 0)
		return rc;
	fs->sb = *sb;
	rc = cfs_commit(fs);
	if (rc == 0)
		rc = cfs_commit(fs);
	return rc;
}

/* passwd: wrap the same master key under a new KEK in both slots. */
int cfs_rekey(struct cfs *fs, const struct cfs_key *key, uint32_t ops, uint32_t mem_kib)
{
	struct cfs_sb sb = fs->sb;
	int rc;

	if (fs->broken)
		return -EIO;
	if (sb.key_kind == CFS_KIND_EPHEMERAL || !key ||
	    (key->kind != CFS_KEY_PASSPHRASE && key->kind != CFS_KEY_FILE))
		return -EINVAL;
	sb.key_kind = key->kind == CFS_KEY_PASSPHRASE ? CFS_KIND_PASSPHRASE : CFS_KIND_KEYFILE;
	/* by default never below MODERATE, nor below what the volume had */
	sb.argon2_ops = ops ? ops : max32(sb.argon2_ops, CFS_ARGON2_DEFAULT_OPS);
	sb.argon2_mem_kib = mem_kib ? mem_kib : max32(sb.argon2_mem_kib, CFS_ARGON2_DEFAULT_MEM_KIB);
	rc = wrap_master(fs, &sb, key);
	if (rc < 0)
		return rc;
	return write_header(fs, &sb);
}

/* passwd --new-recovery-key: a new recovery key in both slots. */
int cfs_set_recovery(struct cfs *fs, uint8_t recovery_out[CFS_KEY_BYTES])
{
	struct cfs_sb sb = fs->sb;
	int rc;

	if (fs->broken)
		return -EIO;
	if (sb.key_kind == CFS_KIND_EPHEMERAL || !recovery_out)
		return -EINVAL;
	cfs_rand(fs, recovery_out, CFS_KEY_BYTES);
	wrap_recovery(fs, &sb, recovery_out);
	rc = write_header(fs, &sb);
	if (rc < 0)
		cx_wipe(recovery_out, CFS_KEY_BYTES);
	return rc;
}

/* Sizes and counts; free blocks exclude the reserves. */
int cfs_statfs(struct cfs *fs, struct cfs_statfs *st)
{
	st->block_size = CFS_BLOCK_SIZE;
	st->blocks = fs->sb.nblocks;
	uint64_t keep = commit_reserve(fs) + freeing_reserve(fs);

	st->free_blocks = fs->avail > keep ? fs->avail - keep : 0;
	st->files = fs->pl.files;
	st->generation = fs->generation;
	st->version = fs->sb.version;
	memcpy(st->volume_id, fs->sb.uuid, sizeof st->volume_id);
	st->passphrase = fs->sb.key_kind == CFS_KIND_PASSPHRASE;
	st->argon2_ops = st->passphrase ? fs->sb.argon2_ops : 0;
	st->argon2_mem_kib = st->passphrase ? fs->sb.argon2_mem_kib : 0;
	st->recovery_slot = (fs->sb.flags & CFS_SB_RECOVERY) != 0;
	return 0;
}

/* Before a multi-step change: when ordinary allocation is already down to
 * the reserves, commit, which turns the blocks freed in this transaction
 * into free space and restores the reserve a freeing step may use. */
int cfs_make_room(struct cfs *fs)
{
	if (fs->broken)
		return -EIO;
	if (!cfs_may_allocate(fs) && fs->dirty)
		return cfs_commit(fs);
	return 0;
}

/* Blocks an ordinary operation may still allocate (the rest is kept for
 * the commit's own space-map blocks). */
bool cfs_may_allocate(const struct cfs *fs)
{
	uint64_t keep = commit_reserve(fs) + (fs->freeing ? 0 : freeing_reserve(fs));

	return fs->in_commit || fs->avail > keep;
}
