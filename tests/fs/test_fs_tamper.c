/*
 * Tampering and crypto-shredding.  Random bit flips in random blocks of a
 * valid image: every read either returns the right bytes or -EIO naming the
 * damaged block, and fsck reports the damage with its path; nothing
 * crashes.  After unlink and sync, nothing the passphrase unlocks leads to
 * the deleted file's key or blocks.  White-box: uses fs internals.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"
#include "tests/check.h"
#include "tests/fs/ramdev.h"

enum { NBLOCKS = 160, TRIALS = 400, NFILES = 6 };

static const struct cfs_key key = { CFS_KEY_FILE, "tamper key", 10 };
static const char *paths[NFILES] = { "/a", "/docs/b", "/docs/big", "/docs/sub/c", "/e", "/link" };
static uint8_t contents[NFILES][40000];
static size_t sizes[NFILES] = { 100, 5000, 40000, 4096, 1, 0 };

struct reports { int n, warnings; uint64_t blk[64]; char path[64][128]; };

static void collect_report(void *ctx, const char *path, uint64_t blkno, const char *what)
{
	struct reports *r = ctx;

	if (strncmp(what, "warning", 7) == 0)
		r->warnings++;
	if (r->n < 64) {
		r->blk[r->n] = blkno;
		snprintf(r->path[r->n], sizeof r->path[0], "%s", path);
		r->n++;
	}
}

static void build_image(struct ramdev *d)
{
	struct cfs_format_opts o = { .key = key };
	struct cfs_config cfg;
	struct cfs *fs;

	ramdev_init(d, NBLOCKS);
	ramdev_config(d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &key), 0);
	CHECK_EQ(cfs_mkdir(fs, "/docs", 0755), 0);
	CHECK_EQ(cfs_mkdir(fs, "/docs/sub", 0755), 0);
	for (int i = 0; i < NFILES; i++) {
		for (size_t j = 0; j < sizes[i]; j++)
			contents[i][j] = (uint8_t)(j * 31 + (size_t)i * 7 + (j >> 8));
		if (i == 5) {
			CHECK_EQ(cfs_symlink(fs, "/docs/big", paths[i]), 0);
			continue;
		}
		int64_t fh = cfs_open(fs, paths[i], CFS_O_CREAT, 0644);

		CHECK_EQ(cfs_write(fs, fh, contents[i], sizes[i], 0), (int64_t)sizes[i]);
	}
	CHECK_EQ(cfs_unmount(fs), 0);
}

/* Read every file of the tampered image; true when some read failed. */
static bool read_all(struct cfs *fs, uint64_t flipped, int *wrong)
{
	static uint8_t buf[50000];
	bool failed = false;

	for (int i = 0; i < NFILES; i++) {
		struct cfs_stat st;
		uint64_t eb, ei;
		int64_t n;

		if (i == 5) {
			n = cfs_readlink(fs, paths[i], (char *)buf, sizeof buf);
			if (n >= 0 && (n != 9 || memcmp(buf, "/docs/big", 9) != 0))
				(*wrong)++;
		} else {
			int rc = cfs_stat(fs, paths[i], &st);

			n = rc;
			if (rc == 0) {
				int64_t fh = cfs_open(fs, paths[i], 0, 0);

				n = fh < 0 ? fh : cfs_read(fs, fh, buf, sizeof buf, 0);
				if (n >= 0 && ((size_t)n != sizes[i] || memcmp(buf, contents[i], sizes[i])))
					(*wrong)++;
			}
		}
		if (n < 0) {
			failed = true;
			if (n != -EIO)
				(*wrong)++;
			cfs_last_error(fs, &eb, &ei);
			if (eb != flipped)
				(*wrong)++;
		}
	}
	return failed;
}

static void test_tamper_bit_flips(void)
{
	struct ramdev pristine, img;
	struct cfs_config cfg;
	struct cfs *fs;
	uint64_t rng = 99;
	int wrong = 0, undetected = 0, used_hits = 0, free_hits = 0, sb_hits = 0, named = 0;
	bool in_use[NBLOCKS];

	build_image(&pristine);
	ramdev_config(&pristine, &cfg);
	CHECK_EQ(cfs_mount(&fs, &cfg, &key), 0);
	for (uint64_t b = 0; b < NBLOCKS; b++)
		in_use[b] = cfs_block_in_use(fs, b);
	CHECK_EQ(cfs_fsck(fs, collect_report, &(struct reports){ 0 }, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_init(&img, NBLOCKS);
	for (int t = 0; t < TRIALS; t++) {
		uint64_t b = ramdev_rand(&rng) % NBLOCKS;
		int flips = 1 + (int)(ramdev_rand(&rng) % 8);
		struct reports rep = { 0 };
		int rc;

		if (t % 3 == 0) {   /* bias towards blocks in use */
			while (!in_use[b])
				b = ramdev_rand(&rng) % NBLOCKS;
		}
		memcpy(img.data, pristine.data, (size_t)NBLOCKS * CFS_BLOCK_SIZE);
		for (int f = 0; f < flips; f++) {
			uint64_t bit = ramdev_rand(&rng) % (CFS_BLOCK_SIZE * 8);

			img.data[b * CFS_BLOCK_SIZE + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		ramdev_config(&img, &cfg);
		rc = cfs_mount(&fs, &cfg, &key);
		if (rc < 0) {
			/* only the space map can stop a mount: a damaged tree */
			CHECK(rc == -EUCLEAN && in_use[b]);
			used_hits++;
			continue;
		}
		bool failed = read_all(fs, b, &wrong);
		int problems = cfs_fsck(fs, collect_report, &rep, NULL);

		for (int i = 0; i < rep.n && i < 64; i++)
			if (rep.blk[i] == b)
				named++;
		if (b < CFS_FIRST_DATA_BLOCK) {
			sb_hits++;
			CHECK(!failed);
			CHECK(rep.warnings == 1);
		} else if (in_use[b]) {
			used_hits++;
			if (problems <= 0)
				undetected++;
			bool path_named = false;

			for (int i = 0; i < NFILES; i++) {
				struct cfs_stat st;
				int64_t fh = cfs_open(fs, paths[i], 0, 0);
				uint8_t tmp[1];

				if (i == 5 || cfs_stat(fs, paths[i], &st) < 0 || fh < 0 ||
				    cfs_read(fs, fh, tmp, 1, sizes[i] ? sizes[i] - 1 : 0) != -EIO)
					continue;
				for (int r = 0; r < rep.n; r++)
					if (rep.blk[r] == b && strcmp(rep.path[r], paths[i]) == 0)
						path_named = true;
				CHECK(path_named);
			}
		} else {
			free_hits++;
			CHECK(!failed);
			CHECK_EQ(problems, 0);
		}
		CHECK_EQ(cfs_unmount(fs), 0);
	}
	printf("  %d trials: %d in used blocks, %d in free blocks, %d in superblocks; "
	       "%d reports named the block\n", TRIALS, used_hits, free_hits, sb_hits, named);
	CHECK_EQ(wrong, 0);
	CHECK_EQ(undetected, 0);
	CHECK(used_hits > 100 && free_hits > 10 && sb_hits > 0);
	ramdev_free(&img);
	ramdev_free(&pristine);
}

/* ---------------------------------------------------------- shredding */

struct loot { uint8_t keys[256][32]; int nkeys; uint8_t secrets[1024][32]; int nsecrets; };

static void loot_ptrs(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t nidx,
		      const struct cfs_ptr *p, struct loot *l)
{
	struct cfs_cblock *b;
	struct cfs_ptr kids[CFS_FANOUT];

	if (p->blkno == 0)
		return;
	if (l->nsecrets < 1024)
		memcpy(l->secrets[l->nsecrets++], p->secret, 32);
	if (cfs_cache_get(fs, o, level, nidx, p, &b) < 0)
		return;
	if (level == 0) {
		if (o->id == CFS_OBJ_ITABLE) {
			struct cfs_inode in[CFS_INODES_PER_BLOCK];

			memcpy(in, b->data, sizeof in);
			for (int j = 0; j < CFS_INODES_PER_BLOCK; j++) {
				struct cfs_obj sub;

				if (in[j].mode == 0)
					continue;
				if (l->nkeys < 256)
					memcpy(l->keys[l->nkeys++], in[j].key, 32);
				cfs_obj_of(&sub, nidx * CFS_INODES_PER_BLOCK + (uint64_t)j, &in[j]);
				loot_ptrs(fs, &sub, in[j].height, 0, &in[j].root, l);
			}
		}
		return;
	}
	memcpy(kids, b->data, sizeof kids);
	for (int i = 0; i < CFS_FANOUT; i++)
		loot_ptrs(fs, o, level - 1, nidx * CFS_FANOUT + (uint64_t)i, &kids[i], l);
}

/* Everything an attacker with the key learns from one superblock slot. */
static void loot_slot(struct ramdev *d, int slot, struct loot *l)
{
	struct ramdev copy;
	struct cfs_config cfg;
	struct cfs *fs;
	struct cfs_obj o;

	ramdev_init(&copy, d->nblocks);
	memcpy(copy.data, d->data, d->nblocks * CFS_BLOCK_SIZE);
	memset(copy.data + (1 - slot) * CFS_BLOCK_SIZE, 0, CFS_BLOCK_SIZE);
	ramdev_config(&copy, &cfg);
	CHECK_EQ(cfs_mount(&fs, &cfg, &key), 0);
	CHECK_EQ(cfs_stat(fs, "/secret", &(struct cfs_stat){ 0 }), -ENOENT);
	memcpy(l->keys[l->nkeys++], fs->pl.itable.key, 32);
	memcpy(l->keys[l->nkeys++], fs->pl.bitmap.key, 32);
	cfs_obj_of(&o, CFS_OBJ_ITABLE, &fs->pl.itable);
	loot_ptrs(fs, &o, fs->pl.itable.height, 0, &fs->pl.itable.root, l);
	cfs_obj_of(&o, CFS_OBJ_BITMAP, &fs->pl.bitmap);
	loot_ptrs(fs, &o, fs->pl.bitmap.height, 0, &fs->pl.bitmap.root, l);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&copy);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

static void test_crypto_shredding(void)
{
	struct cfs_format_opts o = { .key = key };
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint8_t file_key[32], data[6 * 4096];
	struct cfs_ptr old[6];
	static struct loot l;
	int found = 0, opened = 0;

	ramdev_init(&d, 128);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &key), 0);
	memset(data, 0x5A, sizeof data);
	int64_t fh = cfs_open(fs, "/secret", CFS_O_CREAT, 0600);

	CHECK_EQ(cfs_write(fs, fh, data, sizeof data, 0), (int64_t)sizeof data);
	CHECK(cfs_open(fs, "/keep", CFS_O_CREAT, 0600) >= 0);
	CHECK_EQ(cfs_sync(fs), 0);
	CHECK_EQ(cfs_debug_file_key(fs, "/secret", file_key), 0);
	{
		struct cfs_inode in;
		struct cfs_cblock *b;
		struct cfs_obj fo;

		CHECK_EQ(cfs_inode_get(fs, (uint64_t)fh & 0xffffffff, &in), 0);
		cfs_obj_of(&fo, (uint64_t)fh & 0xffffffff, &in);
		CHECK_EQ(in.height, 1);
		CHECK_EQ(cfs_cache_get(fs, &fo, 1, 0, &in.root, &b), 0);
		memcpy(old, b->data, sizeof old);
	}
	CHECK_EQ(cfs_unlink(fs, "/secret"), 0);
	CHECK_EQ(cfs_sync(fs), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK(!contains(d.data, 128 * 4096, file_key, 32));
	loot_slot(&d, 0, &l);
	loot_slot(&d, 1, &l);
	for (int i = 0; i < l.nkeys; i++)
		found += memcmp(l.keys[i], file_key, 32) == 0;
	for (int i = 0; i < l.nsecrets; i++)
		for (int j = 0; j < 6; j++)
			found += memcmp(l.secrets[i], old[j].secret, 32) == 0;
	CHECK_EQ(found, 0);
	/* try every key and secret the passphrase unlocks on the old blocks;
	 * the real key and secret (known only to this test) still would */
	struct cfs *probe;
	int control = 0;

	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_mount(&probe, &cfg, &key), 0);
	for (int j = 0; j < 6; j++) {
		uint8_t plain[4096];
		struct cfs_obj fo = { .id = (uint64_t)fh & 0xffffffff, .key = file_key, .file = true };

		control += cfs_open_block(probe, &fo, 0, (uint64_t)j, &old[j], plain) == 0;
		for (int k = 0; k < l.nkeys; k++) {
			for (int s = 0; s < l.nsecrets; s++) {
				struct cfs_ptr p = old[j];

				memcpy(p.secret, l.secrets[s], 32);
				fo.key = l.keys[k];
				for (uint64_t id = 0; id < 8; id++) {
					fo.id = id / 2;     /* either key schedule */
					fo.file = id % 2;
					opened += cfs_open_block(probe, &fo, 0, (uint64_t)j, &p, plain) == 0;
				}
			}
		}
	}
	cfs_unmount(probe);
	printf("  %d keys and %d secrets reachable with the key; old blocks opened with them: %d; "
	       "with the destroyed key: %d of 6\n", l.nkeys, l.nsecrets, opened, control);
	CHECK(l.nkeys >= 4 && l.nsecrets >= 4);
	CHECK_EQ(control, 6);
	CHECK_EQ(opened, 0);
	ramdev_free(&d);
}

int main(void)
{
	cx_init();
	RUN(test_tamper_bit_flips);
	RUN(test_crypto_shredding);
	return CHECK_EXIT_STATUS();
}
