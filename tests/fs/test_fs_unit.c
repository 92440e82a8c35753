/* Unit tests of CryptoFS: format, keys, files, directories, the tree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs.h"
#include "fs/cfs_internal.h"
#include "fs/tool/workers.h"
#include "tests/check.h"
#include "tests/fs/ramdev.h"

static const struct cfs_key pass = { CFS_KEY_PASSPHRASE, "correct horse", 13 };

static struct cfs *fresh(struct ramdev *d, uint64_t nblocks)
{
	struct cfs_config cfg;
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8 };
	struct cfs *fs = NULL;

	ramdev_init(d, nblocks);
	ramdev_config(d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	return fs;
}

static struct cfs *remount(struct ramdev *d, struct cfs *fs)
{
	struct cfs_config cfg;

	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_config(d, &cfg);
	fs = NULL;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	return fs;
}

static void report_print(void *ctx, const char *path, uint64_t blkno, const char *what)
{
	(void)ctx;
	printf("  fsck: %s: block %llu: %s\n", path, (unsigned long long)blkno, what);
}

static void test_format_mount_basic(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 256);
	struct cfs_stat st;
	char buf[64];
	int64_t fh;

	CHECK_EQ(cfs_stat(fs, "/", &st), 0);
	CHECK_EQ(st.mode & CFS_S_IFMT, CFS_S_IFDIR);
	fh = cfs_open(fs, "/hello", CFS_O_CREAT, 0644);
	CHECK_EQ(fh >= 0 ? 0 : fh, 0);
	CHECK_EQ(cfs_write(fs, fh, "hello world", 11, 0), 11);
	CHECK_EQ(cfs_close(fs, fh), 0);
	fs = remount(&d, fs);
	fh = cfs_open(fs, "/hello", 0, 0);
	CHECK(fh >= 0);
	CHECK_EQ(cfs_read(fs, fh, buf, sizeof buf, 0), 11);
	CHECK(memcmp(buf, "hello world", 11) == 0);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

static int64_t create(struct cfs *fs, const char *path)
{
	return cfs_open(fs, path, CFS_O_CREAT, 0644);
}

/* Holes read as zeros; a file reaches 64 GiB with a handful of blocks. */
static void test_sparse_64g(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 512);
	uint64_t big = 64ull << 30;
	uint8_t buf[8192], ones[4096];
	struct cfs_statfs sf0, sf1;
	struct cfs_stat st;
	int64_t fh;

	memset(ones, 0xA5, sizeof ones);
	cfs_statfs(fs, &sf0);
	fh = create(fs, "/sparse");
	CHECK_EQ(cfs_write(fs, fh, ones, 4096, big - 4096), 4096);
	CHECK_EQ(cfs_write(fs, fh, ones, 100, 5), 100);
	fs = remount(&d, fs);
	fh = cfs_open(fs, "/sparse", 0, 0);
	CHECK_EQ(cfs_fstat(fs, fh, &st), 0);
	CHECK_EQ(st.size, big);
	CHECK_EQ(cfs_read(fs, fh, buf, sizeof buf, big / 2), sizeof buf);
	for (size_t i = 0; i < sizeof buf; i++)
		CHECK(buf[i] == 0);
	CHECK_EQ(cfs_read(fs, fh, buf, 8192, big - 8192), 8192);
	CHECK(buf[0] == 0 && buf[4095] == 0 && memcmp(buf + 4096, ones, 4096) == 0);
	CHECK_EQ(cfs_read(fs, fh, buf, 200, 0), 200);
	CHECK(buf[4] == 0 && buf[5] == 0xA5 && buf[104] == 0xA5 && buf[105] == 0);
	CHECK_EQ(cfs_read(fs, fh, buf, 10, big), 0);
	cfs_statfs(fs, &sf1);
	CHECK(sf0.free_blocks - sf1.free_blocks < 20);
	CHECK_EQ(cfs_ftruncate(fs, fh, 3), 0);
	CHECK_EQ(cfs_ftruncate(fs, fh, 8), 0);
	CHECK_EQ(cfs_read(fs, fh, buf, 20, 0), 8);
	CHECK(buf[3] == 0 && buf[5] == 0 && buf[2] == 0);
	CHECK_EQ(cfs_write(fs, fh, ones, 1, big + 1), 1);
	CHECK_EQ(cfs_write(fs, fh, ones, 1, 1ull << 47), -EFBIG);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

static int count_entry(void *ctx, const char *name, size_t len, const struct cfs_stat *st,
		       uint64_t next)
{
	(void)name; (void)len; (void)st; (void)next;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* 100,000 entries in one directory; a lookup then reads a few blocks. */
static void test_big_directory(void)
{
	enum { N = 100000 };
	struct ramdev d;
	struct cfs *fs = fresh(&d, 16384);
	struct cfs_stat st;
	uint64_t count = 0, reads;
	char name[64];

	CHECK_EQ(cfs_mkdir(fs, "/big", 0755), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "/big/entry-%06d", i);
		if (i % 1000 == 3)
			CHECK_EQ(cfs_mkdir(fs, name, 0755), 0);
		else
			CHECK(create(fs, name) >= 0);
	}
	fs = remount(&d, fs);
	CHECK_EQ(cfs_readdir(fs, "/big", 0, count_entry, &count), 0);
	CHECK_EQ(count, N);
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof name, "/big/entry-%06d", (i * 7919) % N);
		reads = d.reads;
		CHECK_EQ(cfs_stat(fs, name, &st), 0);
		CHECK(d.reads - reads <= 16);
	}
	CHECK_EQ(cfs_stat(fs, "/big", &st), 0);
	CHECK_EQ(st.nlink, 2 + N / 1000);
	reads = d.reads;
	CHECK_EQ(cfs_stat(fs, "/big/missing", &st), -ENOENT);
	CHECK(d.reads - reads <= 16);
	CHECK_EQ(cfs_rmdir(fs, "/big/entry-000003"), 0);
	CHECK_EQ(cfs_unlink(fs, "/big/entry-000004"), 0);
	CHECK_EQ(cfs_stat(fs, "/big/entry-000004", &st), -ENOENT);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* Namespace semantics: errors, rename over targets, symlinks, rmdir. */
static void test_namespace(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 512);
	struct cfs_stat st;
	char buf[64];
	int64_t fh;

	CHECK_EQ(cfs_mkdir(fs, "/a", 0755), 0);
	CHECK_EQ(cfs_mkdir(fs, "/a", 0755), -EEXIST);
	CHECK_EQ(cfs_mkdir(fs, "/a/b", 0700), 0);
	CHECK_EQ(cfs_mkdir(fs, "/x/y", 0700), -ENOENT);
	fh = create(fs, "/a/f");
	CHECK(fh >= 0);
	CHECK_EQ(cfs_write(fs, fh, "one", 3, 0), 3);
	CHECK_EQ(cfs_mkdir(fs, "/a/f/z", 0700), -ENOTDIR);
	CHECK_EQ(cfs_open(fs, "/a/f", CFS_O_CREAT | CFS_O_EXCL, 0644), -EEXIST);
	CHECK_EQ(cfs_open(fs, "/a", 0, 0), -EISDIR);
	CHECK_EQ(cfs_rmdir(fs, "/a"), -ENOTEMPTY);
	CHECK_EQ(cfs_unlink(fs, "/a/b"), -EISDIR);
	CHECK_EQ(cfs_rmdir(fs, "/a/f"), -ENOTDIR);
	CHECK_EQ(cfs_rename(fs, "/a", "/a/b/c"), -EINVAL);
	fh = create(fs, "/g");
	CHECK_EQ(cfs_write(fs, fh, "two!", 4, 0), 4);
	CHECK_EQ(cfs_rename(fs, "/g", "/a/f"), 0);
	CHECK_EQ(cfs_stat(fs, "/g", &st), -ENOENT);
	CHECK_EQ(cfs_stat(fs, "/a/f", &st), 0);
	CHECK_EQ(st.size, 4);
	CHECK_EQ(cfs_rename(fs, "/a/f", "/a/b"), -EISDIR);
	CHECK_EQ(cfs_rename(fs, "/a/b", "/a/f"), -ENOTDIR);
	CHECK_EQ(cfs_rename(fs, "/a/b", "/b"), 0);
	CHECK_EQ(cfs_stat(fs, "/a", &st), 0);
	CHECK_EQ(st.nlink, 2);
	CHECK_EQ(cfs_stat(fs, "/", &st), 0);
	CHECK_EQ(st.nlink, 4);
	CHECK_EQ(cfs_symlink(fs, "/a/f", "/ln"), 0);
	CHECK_EQ(cfs_readlink(fs, "/ln", buf, sizeof buf), 4);
	CHECK(memcmp(buf, "/a/f", 4) == 0);
	CHECK_EQ(cfs_stat(fs, "/ln", &st), 0);
	CHECK_EQ(st.mode & CFS_S_IFMT, CFS_S_IFLNK);
	CHECK_EQ(cfs_readlink(fs, "/a/f", buf, sizeof buf), -EINVAL);
	CHECK_EQ(cfs_stat(fs, "/a/../b/./", &st), 0);
	CHECK_EQ(st.mode & CFS_S_IFMT, CFS_S_IFDIR);
	CHECK_EQ(cfs_rmdir(fs, "/b"), 0);
	CHECK_EQ(cfs_rmdir(fs, "/"), -EBUSY);
	CHECK_EQ(cfs_chmod(fs, "/a/f", 0600), 0);
	CHECK_EQ(cfs_stat(fs, "/a/f", &st), 0);
	CHECK_EQ(st.mode, CFS_S_IFREG | 0600);
	fs = remount(&d, fs);
	fh = cfs_open(fs, "/a/f", CFS_O_TRUNC, 0);
	CHECK(fh >= 0);
	CHECK_EQ(cfs_fstat(fs, fh, &st), 0);
	CHECK_EQ(st.size, 0);
	CHECK_EQ(cfs_unlink(fs, "/a/f"), 0);
	CHECK_EQ(cfs_read(fs, fh, buf, 4, 0), -EBADF);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* Passphrase, key file, recovery key, rekey without rewriting data. */
static void test_keys(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint8_t master[32];
	const struct cfs_key wrong = { CFS_KEY_PASSPHRASE, "wrong", 5 };
	const struct cfs_key newp = { CFS_KEY_PASSPHRASE, "new pass", 8 };
	const struct cfs_key kf = { CFS_KEY_FILE, "key file bytes", 14 };
	struct cfs_key rec = { CFS_KEY_MASTER, master, 32 };
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8 };
	uint64_t writes;

	ramdev_init(&d, 256);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, master), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &wrong), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &kf), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &rec), 0);
	int64_t fh = create(fs, "/data");
	uint8_t blk[4096];

	memset(blk, 7, sizeof blk);
	for (int i = 0; i < 20; i++)
		cfs_write(fs, fh, blk, sizeof blk, (uint64_t)i * 4096);
	CHECK_EQ(cfs_sync(fs), 0);
	writes = d.writes;
	CHECK_EQ(cfs_rekey(fs, &newp, 1, 8), 0);
	CHECK(d.writes - writes <= 2);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &newp), 0);
	CHECK_EQ(cfs_rekey(fs, &kf, 0, 0), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &newp), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &kf), 0);
	CHECK_EQ(cfs_stat(fs, "/data", &(struct cfs_stat){ 0 }), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	master[0] ^= 1;
	CHECK_EQ(cfs_mount(&fs, &cfg, &rec), -EACCES);
	ramdev_free(&d);
}

static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

/* An ephemeral volume's master key is never written; only the RAM copy opens it. */
static void test_ephemeral(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint8_t master[32];
	struct cfs_format_opts o = { .ephemeral = 1 };
	struct cfs_key rec = { CFS_KEY_MASTER, master, 32 };

	ramdev_init(&d, 128);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, master), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &rec), 0);
	CHECK(create(fs, "/tmpfile") >= 0);
	CHECK_EQ(cfs_rekey(fs, &pass, 1, 8), -EINVAL);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK(!contains(d.data, 128 * 4096, master, 32));
	cx_wipe(master, sizeof master);
	CHECK_EQ(cfs_mount(&fs, &cfg, &rec), -EACCES);
	ramdev_free(&d);
}

/* A mounted volume's master key (cfs_master_key) mounts it again as
 * CFS_KEY_REMOUNT, even one with a recovery slot where CFS_KEY_MASTER is
 * refused; a changed key does not. */
static void test_remount_key(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct cfs *fs;
	uint8_t recovery[32], master[32];
	struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8,
				     .recovery_out = recovery };
	const struct cfs_key again = { CFS_KEY_REMOUNT, master, 32 }, raw = { CFS_KEY_MASTER, master, 32 };

	ramdev_init(&d, 128);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_format(&cfg, &o, 0), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK(create(fs, "/kept") >= 0);
	cfs_master_key(fs, master);
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &raw), -EACCES);
	CHECK_EQ(cfs_mount(&fs, &cfg, &again), 0);
	CHECK_EQ(cfs_stat(fs, "/kept", &(struct cfs_stat){ 0 }), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	master[5] ^= 1;
	CHECK(cfs_mount(&fs, &cfg, &again) < 0);
	cx_wipe(master, sizeof master);
	ramdev_free(&d);
}

/* Slots alternate, generations grow, and an old image is refused when the
 * reader remembers a newer generation. */
static void test_generations_rollback(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 256);
	struct cfs_statfs sf;
	struct cfs_config cfg;
	uint8_t *old = malloc(256 * 4096);
	uint64_t g0;

	cfs_statfs(fs, &sf);
	g0 = sf.generation;
	CHECK_EQ(cfs_unmount(fs), 0);
	memcpy(old, d.data, 256 * 4096);
	ramdev_config(&d, &cfg);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_mkdir(fs, "/n", 0755), 0);
	CHECK_EQ(cfs_sync(fs), 0);
	cfs_statfs(fs, &sf);
	CHECK_EQ(sf.generation, g0 + 1);
	CHECK_EQ(cfs_mkdir(fs, "/m", 0755), 0);
	CHECK_EQ(cfs_sync(fs), 0);
	cfs_statfs(fs, &sf);
	CHECK_EQ(sf.generation, g0 + 2);
	/* raw format: magic, version 2 (AEGIS-256), 4 KiB blocks, slot = generation mod 2 */
	for (int slot = 0; slot < 2; slot++) {
		const struct cfs_sb *sb = (const void *)(d.data + slot * 4096);

		CHECK(memcmp(sb->magic, "CRYPTOFS", 8) == 0);
		CHECK_EQ(sb->version, 2);
		CHECK_EQ(sb->block_size, 4096);
		CHECK_EQ(sb->nblocks, 256);
		CHECK_EQ(sb->generation % 2, slot);
		CHECK(sb->generation == g0 + 1 || sb->generation == g0 + 2);
		CHECK_EQ(memcmp(d.data + slot * 4096, "CRYPTOFS", 8), 0);
		CHECK_EQ(d.data[slot * 4096 + 8], 2);   /* version at byte 8, little-endian */
	}
	CHECK_EQ(cfs_unmount(fs), 0);
	memcpy(d.data, old, 256 * 4096);
	cfg.min_generation = g0 + 2;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -ESTALE);
	cfg.min_generation = g0;
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	free(old);
	ramdev_free(&d);
}

/* A full volume says ENOSPC and still commits and checks clean. */
static void test_full_volume(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 64);
	uint8_t blk[4096] = { 1 };
	int64_t fh = create(fs, "/fill"), rc = 0;

	for (int i = 0; i < 100 && rc >= 0; i++)
		rc = cfs_write(fs, fh, blk, sizeof blk, (uint64_t)i * 4096);
	CHECK_EQ(rc, -ENOSPC);
	CHECK_EQ(cfs_sync(fs), 0);
	CHECK_EQ(cfs_unlink(fs, "/fill"), 0);
	CHECK_EQ(cfs_sync(fs), 0);
	CHECK(create(fs, "/again") >= 0);
	fs = remount(&d, fs);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* The split read (plan under the lock, decrypt anywhere) returns what
 * cfs_read returns, and a damaged block fails to decrypt. */
static void test_read_plan(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 512);
	static uint8_t data[100000], a[110000], b[110000];
	struct cfs_block_ref refs[8];
	uint8_t scratch[CFS_BLOCK_SIZE + 16];
	size_t n = 0, total = 0;
	int64_t fh = create(fs, "/f");

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 13 + 5);
	CHECK_EQ(cfs_write(fs, fh, data, 30000, 0), 30000);
	CHECK_EQ(cfs_write(fs, fh, data, 20000, 80000), 20000);   /* hole in between */
	fs = remount(&d, fs);
	fh = cfs_open(fs, "/f", 0, 0);
	CHECK_EQ(cfs_read(fs, fh, a, sizeof a, 0), 100000);
	for (uint64_t off = 0; off < 100000; off += 32768) {
		int64_t got = cfs_read_plan(fs, fh, b + off, 32768, off, refs, 8, &n);

		CHECK(got > 0);
		total += (size_t)got;
		for (size_t i = 0; i < n; i++)
			CHECK_EQ(cfs_read_block(fs, &refs[i], b + off + refs[i].buf_offset, scratch), 0);
	}
	CHECK_EQ(total, 100000);
	CHECK(memcmp(a, b, 100000) == 0);
	CHECK_EQ(cfs_read_plan(fs, fh, b, 4096, 10, refs, 8, &n), -EINVAL);
	CHECK(cfs_read_plan(fs, fh, b, 4096, 0, refs, 8, &n) == 4096 && n == 1);
	d.data[refs[0].blkno * CFS_BLOCK_SIZE + 7] ^= 1;
	CHECK_EQ(cfs_read_block(fs, &refs[0], b, scratch), -EIO);
	CHECK_EQ(cfs_read(fs, fh, b, 4096, 0), -EIO);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* Random operations on a volume that keeps running out of space: every
 * ENOSPC leaves a consistent tree (fsck clean, commits succeed). */
static void test_enospc_consistency(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 160);
	static uint8_t buf[30000];
	uint64_t rng = 5;
	int enospc = 0;

	memset(buf, 9, sizeof buf);
	for (int i = 1; i <= 3000; i++) {
		char a[32], b[48];
		int op = (int)(ramdev_rand(&rng) % 10), rc = 0;

		snprintf(a, sizeof a, "/%s%d", ramdev_rand(&rng) % 2 ? "d" : "",
			 (int)(ramdev_rand(&rng) % 6));
		snprintf(b, sizeof b, "%s/f%d", ramdev_rand(&rng) % 2 ? a : "",
			 (int)(ramdev_rand(&rng) % 8));
		if (op < 4) {
			int64_t fh = cfs_open(fs, b, CFS_O_CREAT, 0644);

			rc = fh < 0 ? (int)fh : (int)cfs_write(fs, fh, buf,
						 (size_t)(ramdev_rand(&rng) % sizeof buf),
						 ramdev_rand(&rng) % 20000);
		} else if (op < 5) {
			rc = cfs_mkdir(fs, a, 0755);
		} else if (op < 7) {
			rc = cfs_unlink(fs, b);
		} else if (op < 8) {
			rc = cfs_rmdir(fs, a);
		} else {
			char c[32];

			snprintf(c, sizeof c, "/f%d", (int)(ramdev_rand(&rng) % 8));
			rc = cfs_rename(fs, b, c);
		}
		enospc += rc == -ENOSPC;
		if (rc == -ENOSPC)
			CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
		if (i % 150 == 0) {
			CHECK_EQ(cfs_sync(fs), 0);
			CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
		}
	}
	printf("  %d operations hit ENOSPC\n", enospc);
	CHECK(enospc > 50);
	fs = remount(&d, fs);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

struct one_entry { char name[300]; uint64_t next; int got; };

static int take_one(void *ctx, const char *name, size_t len, const struct cfs_stat *st,
		    uint64_t next)
{
	struct one_entry *e = ctx;

	(void)st;
	snprintf(e->name, sizeof e->name, "%.*s", (int)len, name);
	e->next = next;
	e->got = 1;
	return 1;
}

/* A listing resumed by cookie while each listed entry is removed still
 * returns every entry exactly once (rm -rf of a big directory). */
static void test_readdir_while_removing(void)
{
	enum { N = 3000 };
	struct ramdev d;
	struct cfs *fs = fresh(&d, 2048);
	static char seen[N];
	struct one_entry e = { .next = 0 };
	char path[320];
	int listed = 0;

	CHECK_EQ(cfs_mkdir(fs, "/d", 0755), 0);
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof path, "/d/name-%d", i);
		CHECK(create(fs, path) >= 0);
	}
	for (;;) {
		e.got = 0;
		CHECK_EQ(cfs_readdir(fs, "/d", e.next, take_one, &e), 0);
		if (!e.got)
			break;
		int i = atoi(e.name + 5);

		CHECK(i >= 0 && i < N && !seen[i]);
		if (i >= 0 && i < N)
			seen[i] = 1;
		listed++;
		snprintf(path, sizeof path, "/d/%s", e.name);
		CHECK_EQ(cfs_unlink(fs, path), 0);
	}
	CHECK_EQ(listed, N);
	CHECK_EQ(cfs_rmdir(fs, "/d"), 0);
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* Copy-on-write: a transaction never writes a block the committed tree
 * uses, and only the superblock slot of the next generation changes. */
static void test_cow_never_overwrites_committed(void)
{
	struct ramdev d;
	struct cfs *fs = fresh(&d, 1024);
	uint8_t buf[10000];
	bool committed[1024];

	memset(buf, 3, sizeof buf);
	for (int round = 0; round < 20; round++) {
		struct cfs_statfs sf;
		char name[32];

		for (uint64_t b = 0; b < 1024; b++)
			committed[b] = cfs_block_committed(fs, b);
		cfs_statfs(fs, &sf);
		d.recording = true;
		snprintf(name, sizeof name, "/f%d", round % 5);
		int64_t fh = cfs_open(fs, name, CFS_O_CREAT, 0644);

		CHECK_EQ(cfs_write(fs, fh, buf, sizeof buf, (uint64_t)round * 3000), (int64_t)sizeof buf);
		if (round % 3 == 0) {
			int rc = cfs_unlink(fs, "/f0");

			CHECK(rc == 0 || rc == -ENOENT);
		}
		CHECK_EQ(cfs_mkdir(fs, "/dir", 0755) == 0 || round > 0, 1);
		CHECK_EQ(cfs_sync(fs), 0);
		d.recording = false;
		uint64_t next_slot = (sf.generation + 1) % 2;

		for (size_t i = 0; i < d.nlog; i++) {
			uint64_t b = d.log[i].blkno;

			if (b == RAMDEV_FLUSH)
				continue;
			if (b < 2)
				CHECK(b == next_slot || round % 3 == 0);
			else
				CHECK(!committed[b]);
		}
		ramdev_log_clear(&d);
	}
	CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

/* Both formats, through read/write or mapped in place, on one thread or
 * with helpers, take whole-block
 * writes (batched, straight to the device),
 * partial writes over them in the same transaction, a truncate into them
 * and a second overwrite; after a remount everything reads back and fsck is
 * clean.  Format 2 needs AES instructions: without them format and mount
 * say -ENOTSUP. */
static void test_formats_and_direct_writes(void)
{
	enum { LEN = 40 * 4096 + 1000 };
	static uint8_t want[LEN], got[LEN];
	uint64_t rng = 3;

	struct workers *pool = workers_start();

	for (int run = 0; run < 8; run++) {
		uint32_t version = 1 + run % 2;
		struct cfs_format_opts o = { .key = pass, .argon2_ops = 1, .argon2_mem_kib = 8,
					     .version = version };
		struct cfs_config cfg;
		struct cfs_statfs sf;
		struct cfs *fs = NULL;
		struct ramdev d;
		int64_t fh;

		ramdev_init(&d, 1024);
		ramdev_config(&d, &cfg);
		if (run & 2)
			cfg.map = ramdev_map;   /* sealed and opened in place */
		if (run & 4) {
			cfg.parallel = workers_run;     /* on helper threads */
			cfg.parallel_ctx = pool;
		}
		CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
		CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
		for (size_t i = 0; i < LEN; i++)
			want[i] = (uint8_t)(ramdev_rand(&rng) >> 32);
		fh = cfs_open(fs, "/f", CFS_O_CREAT, 0644);
		CHECK_EQ(cfs_write(fs, fh, want, LEN, 0), LEN);
		memset(want + 5000, 0xab, 300);                 /* inside direct blocks */
		CHECK_EQ(cfs_write(fs, fh, want + 5000, 300, 5000), 300);
		CHECK_EQ(cfs_ftruncate(fs, fh, 30 * 4096 + 77), 0);
		memset(want + 30 * 4096 + 77, 0, LEN - (30 * 4096 + 77));
		CHECK_EQ(cfs_write(fs, fh, want + 8192, 8 * 4096, 8192), 8 * 4096);
		CHECK_EQ(cfs_read(fs, fh, got, LEN, 0), 30 * 4096 + 77);
		CHECK(memcmp(got, want, 30 * 4096 + 77) == 0);
		CHECK_EQ(cfs_unmount(fs), 0);
		fs = NULL;
		CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
		fh = cfs_open(fs, "/f", 0, 0);
		memset(got, 0, sizeof got);
		CHECK_EQ(cfs_read(fs, fh, got, LEN, 0), 30 * 4096 + 77);
		CHECK(memcmp(got, want, 30 * 4096 + 77) == 0);
		CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
		CHECK_EQ(cfs_statfs(fs, &sf), 0);
		CHECK_EQ(sf.version, version);
		CHECK_EQ(cfs_unmount(fs), 0);
		if (version == 2) {
			cx_aegis_limit_lanes(0);
			fs = NULL;
			CHECK_EQ(cfs_mount(&fs, &cfg, &pass), -ENOTSUP);
			CHECK_EQ(cfs_format(&cfg, &o, NULL), -ENOTSUP);
			cx_aegis_limit_lanes(4);
		}
		o.version = 3;
		CHECK_EQ(cfs_format(&cfg, &o, NULL), -EINVAL);
		ramdev_free(&d);
	}
	workers_stop(pool);
}

/* Blocks written straight to the device keep their old versions allocated
 * until a commit, so past four times the cache (64 blocks here) the core
 * commits on its own; a stream of whole-block writes never needs a sync. */
static void test_direct_writes_commit_on_their_own(void)
{
	static uint8_t buf[32 * 4096];
	struct ramdev d;
	struct cfs *fs = fresh(&d, 2048);
	struct cfs_statfs before, after;
	int64_t fh = cfs_open(fs, "/stream", CFS_O_CREAT, 0644);

	CHECK_EQ(cfs_statfs(fs, &before), 0);
	for (int i = 0; i < 8; i++)     /* 256 blocks: not yet past the bound */
		CHECK_EQ(cfs_write(fs, fh, buf, sizeof buf, (uint64_t)i * sizeof buf), sizeof buf);
	CHECK_EQ(cfs_statfs(fs, &after), 0);
	CHECK_EQ(after.generation, before.generation);
	CHECK_EQ(cfs_write(fs, fh, buf, sizeof buf, 8 * sizeof buf), sizeof buf);
	CHECK_EQ(cfs_statfs(fs, &after), 0);
	CHECK_EQ(after.generation, before.generation + 1);
	CHECK_EQ(cfs_unmount(fs), 0);
	ramdev_free(&d);
}

int main(void)
{
	cx_init();
	RUN(test_format_mount_basic);
	RUN(test_formats_and_direct_writes);
	RUN(test_direct_writes_commit_on_their_own);
	RUN(test_sparse_64g);
	RUN(test_namespace);
	RUN(test_keys);
	RUN(test_ephemeral);
	RUN(test_remount_key);
	RUN(test_generations_rollback);
	RUN(test_full_volume);
	RUN(test_cow_never_overwrites_committed);
	RUN(test_readdir_while_removing);
	RUN(test_read_plan);
	RUN(test_enospc_consistency);
	RUN(test_big_directory);
	return CHECK_EXIT_STATUS();
}
