/*
 * CryptoFS hardening: each test performs an attack on the superblocks or
 * the keys and checks the core refuses it (the authenticated superblock
 * is the one used, Argon2id costs are bounded, tampering is told apart
 * from a wrong key, a damaged tree at mount is named as such).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs.h"
#include "fs/cfs_internal.h"
#include "tests/check.h"
#include "tests/fs/ramdev.h"

static const struct cfs_key pass = { CFS_KEY_PASSPHRASE, "correct horse", 13 };

/* A fresh passphrase volume at the lowest Argon2id cost (tests stay fast). */
static void make_volume(struct ramdev *d, struct cfs_config *cfg, uint64_t nblocks)
{
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8 };

	ramdev_init(d, nblocks);
	ramdev_config(d, cfg);
	CHECK_EQ(cfs_format(cfg, &o, NULL), 0);
}

/* The superblock in slot i of a device. */
static struct cfs_sb *slot(struct ramdev *d, int i)
{
	return (struct cfs_sb *)(void *)(d->data + (size_t)i * CFS_BLOCK_SIZE);
}

/* Make a changed header whole again (the unkeyed checksum is public). */
static void fix_checksum(struct cfs_sb *sb)
{
	cx_hash(sb->checksum, 32, sb, offsetof(struct cfs_sb, checksum));
}

/* The generation of the newest slot on the device. */
static uint64_t newest_generation(struct ramdev *d)
{
	uint64_t g0 = slot(d, 0)->generation, g1 = slot(d, 1)->generation;

	return g0 > g1 ? g0 : g1;
}

/* A device that answers the first two superblock reads honestly and every
 * later one with a forged header (generation 1, checksum made whole). */
static int (*honest_read)(void *ctx, uint64_t blkno, void *buf);
static int sb_reads;

static int forging_read(void *ctx, uint64_t blkno, void *buf)
{
	int rc = honest_read(ctx, blkno, buf);

	if (rc == 0 && blkno < CFS_SB_SLOTS && ++sb_reads > CFS_SB_SLOTS) {
		struct cfs_sb *sb = buf;

		sb->generation = 1;
		fix_checksum(sb);
	}
	return rc;
}

/* Mount must use the superblock it authenticated, not a second read of
 * the device (which can differ: a hostile or failing disk). */
static void test_mount_uses_the_authenticated_superblock(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs_statfs sf;
	struct cfs *fs;
	uint64_t real;

	make_volume(&d, &cfg, 128);
	real = newest_generation(&d);
	CHECK(real >= 2);
	honest_read = cfg.read;
	cfg.read = forging_read;
	sb_reads = 0;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_statfs(fs, &sf), 0);
	CHECK_EQ(sf.generation, real);
	CHECK_EQ(cfs_mkdir(fs, "/after", 0755), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	cfg.read = honest_read;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_statfs(fs, &sf), 0);
	CHECK(sf.generation > real);
	CHECK_EQ(cfs_stat(fs, "/after", &(struct cfs_stat){ 0 }), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* A header whose Argon2id cost was raised (checksum made whole) is refused
 * as damage before any Argon2id runs: it must not hang the mount or
 * allocate gigabytes.  Each case would take minutes or 4 GiB unbounded. */
static void test_argon2_cost_is_bounded(void)
{
	static const uint32_t ops[] = { UINT32_MAX, 1, 11, 8 };
	static const uint32_t mem[] = { 8, 4u << 20, 1024, 1u << 20 };
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;

	make_volume(&d, &cfg, 64);
	for (size_t c = 0; c < sizeof ops / sizeof ops[0]; c++) {
		uint8_t saved[2 * CFS_BLOCK_SIZE];

		memcpy(saved, d.data, sizeof saved);
		for (int i = 0; i < CFS_SB_SLOTS; i++) {
			slot(&d, i)->argon2_ops = ops[c];
			slot(&d, i)->argon2_mem_kib = mem[c];
			fix_checksum(slot(&d, i));
		}
		CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EIO);
		memcpy(d.data, saved, sizeof saved);
	}
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* A damaged space map under an authentic superblock is reported as a
 * damaged tree (-EUCLEAN), not as "no superblock" or a wrong key. */
static void test_damaged_tree_at_mount(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint64_t root;

	make_volume(&d, &cfg, 64);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	root = fs->pl.bitmap.root.blkno;
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK(root >= CFS_FIRST_DATA_BLOCK && root < 64);
	d.data[root * CFS_BLOCK_SIZE + 7] ^= 0x10;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EUCLEAN);
	ramdev_free(&d);
}

/* The recovery key is its own wrapping of the master key: it opens the
 * volume, the raw master key does not, and a new recovery key revokes the
 * old one.  A volume made without a recovery slot still opens with its
 * old recovery key (the master key) until a recovery slot is added. */
static void test_recovery_slot(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint8_t master[32], rec1[32], rec2[32];
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8,
				     .recovery_out = rec1 };
	const struct cfs_key r1 = { CFS_KEY_RECOVERY, rec1, 32 }, r2 = { CFS_KEY_RECOVERY, rec2, 32 };
	const struct cfs_key m = { CFS_KEY_MASTER, master, 32 };
	const struct cfs_key m_as_rec = { CFS_KEY_RECOVERY, master, 32 };
	struct cfs_statfs sf;

	ramdev_init(&d, 64);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, master), 0);
	CHECK(memcmp(rec1, master, 32) != 0);
	CHECK(slot(&d, 0)->flags & CFS_SB_RECOVERY);
	CHECK_EQ(cfs_mount(&fs, &cfg, &m), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &m_as_rec), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &r1), 0);
	CHECK_EQ(cfs_statfs(fs, &sf), 0);
	CHECK_EQ(sf.recovery_slot, 1);
	CHECK_EQ(cfs_set_recovery(fs, rec2), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &r1), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &r2), 0);
	CHECK_EQ(cfs_rekey(fs, &(struct cfs_key){ CFS_KEY_PASSPHRASE, "other", 5 }, 1, 8), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &r2), 0);       /* passwd keeps the recovery key */
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EACCES);
	ramdev_free(&d);

	/* no recovery slot: the master key is the recovery key, until one is set */
	o.recovery_out = NULL;
	ramdev_init(&d, 64);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, master), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &m_as_rec), 0);
	CHECK_EQ(cfs_statfs(fs, &sf), 0);
	CHECK_EQ(sf.recovery_slot, 0);
	CHECK_EQ(cfs_set_recovery(fs, rec2), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &m_as_rec), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &m), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &r2), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* A header changed outside the key wrappings (its checksum made whole)
 * is damage (-EIO) for every kind of key that opens a wrapping: the key
 * is proven right, so the failing superblock is not a wrong key. */
static void test_tampered_header_is_damage(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint8_t rec[32];
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8,
				     .recovery_out = rec };
	const struct cfs_key r = { CFS_KEY_RECOVERY, rec, 32 };

	ramdev_init(&d, 64);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	for (int i = 0; i < CFS_SB_SLOTS; i++) {
		slot(&d, i)->generation += 100;
		fix_checksum(slot(&d, i));
	}
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EIO);
	CHECK_EQ(cfs_mount(&fs, &cfg, &r), -EIO);
	CHECK_EQ(cfs_mount(&fs, &cfg, &(struct cfs_key){ CFS_KEY_PASSPHRASE, "wrong", 5 }),
		 -EACCES);
	ramdev_free(&d);
}

/* The host's rollback hook sees the authenticated generation at mount
 * and every committed one after; refusing a restored older image keeps
 * a deleted file deleted. */
struct seen { uint8_t id[16]; uint64_t newest; int checks; };
static struct seen seen;

static int hook_check(void *ctx, const uint8_t id[16], uint64_t generation)
{
	(void)ctx;
	seen.checks++;
	if (memcmp(id, seen.id, 16) != 0)
		return -EINVAL;
	return generation < seen.newest ? -ESTALE : 0;
}

static void hook_committed(void *ctx, const uint8_t id[16], uint64_t generation)
{
	(void)ctx;
	memcpy(seen.id, id, 16);
	if (generation > seen.newest)
		seen.newest = generation;
}

static void test_rollback_hook(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs_statfs sf;
	struct cfs *fs;
	uint8_t *old = malloc(64 * CFS_BLOCK_SIZE);
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8 };

	memset(&seen, 0, sizeof seen);
	ramdev_init(&d, 64);
	ramdev_config(&d, &cfg);
	cfg.check_generation = hook_check;
	cfg.generation_committed = hook_committed;
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	CHECK_EQ(seen.newest, 2);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(seen.checks, 1);
	CHECK_EQ(cfs_statfs(fs, &sf), 0);
	CHECK(memcmp(sf.volume_id, seen.id, 16) == 0);
	CHECK(cfs_open(fs, "/secret", CFS_O_CREAT, 0600) >= 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	memcpy(old, d.data, 64 * CFS_BLOCK_SIZE);       /* the attacker's copy */
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_unlink(fs, "/secret"), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(newest_generation(&d), seen.newest);
	memcpy(d.data, old, 64 * CFS_BLOCK_SIZE);       /* restored: brings /secret back */
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -ESTALE);
	cfg.check_generation = NULL;                    /* without a record it would open */
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_stat(fs, "/secret", &(struct cfs_stat){ 0 }), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	free(old);
	ramdev_free(&d);
}

/* Without an explicit cost a passphrase volume gets at least libsodium's
 * MODERATE Argon2id cost (256 MiB); costs above the bound are refused. */
static void test_default_argon2_cost(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs_format_opts o = { .key = pass };

	ramdev_init(&d, 64);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	CHECK(slot(&d, 0)->argon2_mem_kib >= 256u << 10);
	CHECK(slot(&d, 0)->argon2_ops >= 3);
	o.argon2_mem_kib = CFS_ARGON2_MAX_MEM_KIB * 2;
	CHECK_EQ(cfs_format(&cfg, &o, NULL), -EINVAL);
	o.argon2_mem_kib = 8;
	o.argon2_ops = CFS_ARGON2_MAX_OPS + 1;
	CHECK_EQ(cfs_format(&cfg, &o, NULL), -EINVAL);
	ramdev_free(&d);
}

/* The volume's keys live in the host's secret memory (alloc_secret), and
 * are wiped before it is given back. */
static void *secret_block;
static int secret_allocs, secret_frees, secret_dirty_at_free;

static void *test_alloc_secret(void *ctx, size_t size)
{
	(void)ctx;
	secret_allocs++;
	secret_block = calloc(1, size);
	return secret_block;
}

static void test_free_secret(void *ctx, void *p)
{
	(void)ctx;
	secret_frees++;
	for (size_t i = 0; i < sizeof(struct cfs_keys); i++)
		secret_dirty_at_free += ((uint8_t *)p)[i] != 0;
	free(p);
}

static void test_keys_in_secret_memory(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;

	make_volume(&d, &cfg, 64);
	cfg.alloc_secret = test_alloc_secret;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EINVAL);        /* both or neither */
	cfg.free_secret = test_free_secret;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(secret_allocs, 2);                             /* probe, then the volume */
	CHECK(fs->keys == secret_block);
	CHECK(!cx_key_is_zero(fs->keys->master, 32));
	CHECK_EQ(cfs_mkdir(fs, "/k", 0755), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(secret_frees, 2);
	CHECK_EQ(secret_dirty_at_free, 0);
	ramdev_free(&d);
}

int main(void)
{
	cx_init();
	RUN(test_mount_uses_the_authenticated_superblock);
	RUN(test_argon2_cost_is_bounded);
	RUN(test_damaged_tree_at_mount);
	RUN(test_recovery_slot);
	RUN(test_tampered_header_is_damage);
	RUN(test_rollback_hook);
	RUN(test_default_argon2_cost);
	RUN(test_keys_in_secret_memory);
	return CHECK_EXIT_STATUS();
}
