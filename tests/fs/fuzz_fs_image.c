/*
 * libFuzzer target: mount, fsck, read and modify mutated CryptoFS images.
 * Fuzz builds compile the core with FUZZING, which stores blocks and the
 * superblock payload in plain text without authentication, so mutations
 * reach the metadata parsers instead of stopping at the first tag check.
 * The input is a list of (24-bit offset, xor byte) patches applied to a
 * small valid image made at start-up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs.h"
#include "tests/fs/ramdev.h"

enum { NBLOCKS = 64 };

static struct ramdev base;
static uint8_t master[32];

static void build_base(void)
{
	static const struct cfs_key kf = { CFS_KEY_FILE, "fuzz", 4 };
	struct cfs_format_opts o = { .key = kf };
	struct cfs_config cfg;
	struct cfs *fs;
	char data[9000];

	cx_init();
	ramdev_init(&base, NBLOCKS);
	base.deterministic = true;
	ramdev_config(&base, &cfg);
	if (cfs_format(&cfg, &o, master) < 0 || cfs_mount(&fs, &cfg, &kf) < 0)
		abort();
	memset(data, 'x', sizeof data);
	cfs_mkdir(fs, "/d", 0755);
	cfs_mkdir(fs, "/d/e", 0755);
	cfs_write(fs, cfs_open(fs, "/d/f", CFS_O_CREAT, 0644), data, sizeof data, 0);
	cfs_write(fs, cfs_open(fs, "/g", CFS_O_CREAT, 0644), data, 10, 70000);
	cfs_symlink(fs, "/d/f", "/l");
	for (int i = 0; i < 40; i++) {
		char name[32] = "/d/e/n";

		name[6] = (char)('A' + i);
		cfs_open(fs, name, CFS_O_CREAT, 0644);
	}
	cfs_unmount(fs);
}

static void ignore_report(void *ctx, const char *path, uint64_t blkno, const char *what)
{
	(void)ctx; (void)path; (void)blkno; (void)what;
}

static int visit(void *ctx, const char *name, size_t len, const struct cfs_stat *st, uint64_t next)
{
	(void)name; (void)len; (void)st; (void)next;
	return ++*(int *)ctx > 200;
}

/* Read, list and change the mounted image; results are irrelevant, only
 * memory safety and termination matter. */
static void exercise(struct cfs *fs)
{
	static const char *paths[] = { "/", "/d", "/d/e", "/d/f", "/g", "/l", "/d/e/nA", "/x" };
	char buf[10000];
	struct cfs_stat st;
	int n = 0;

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		int64_t fh = cfs_open(fs, paths[i], 0, 0);

		cfs_stat(fs, paths[i], &st);
		cfs_readdir(fs, paths[i], 0, visit, &n);
		cfs_readlink(fs, paths[i], buf, sizeof buf);
		if (fh >= 0)
			cfs_read(fs, fh, buf, sizeof buf, 0);
	}
	cfs_write(fs, cfs_open(fs, "/d/new", CFS_O_CREAT, 0644), buf, 5000, 100);
	/* whole blocks over existing (possibly corrupt) files: the direct path */
	cfs_write(fs, cfs_open(fs, "/d/f", 0, 0), buf, 8192, 4096);
	cfs_write(fs, cfs_open(fs, "/d/new", 0, 0), buf, 4096, 0);
	cfs_rename(fs, "/d/f", "/d/e/f2");
	cfs_unlink(fs, "/g");
	cfs_rmdir(fs, "/d/e");
	cfs_mkdir(fs, "/d/e/nB", 0755);
	cfs_truncate(fs, "/d/e/f2", 3);
	cfs_sync(fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ramdev img;
	struct cfs_key mk = { CFS_KEY_MASTER, master, 32 };
	struct cfs_config cfg;
	struct cfs *fs;

	if (!base.data) {
		build_base();
		ramdev_init(&img, NBLOCKS);
	}
	memcpy(img.data, base.data, (size_t)NBLOCKS * CFS_BLOCK_SIZE);
	for (size_t i = 0; i + 4 <= size; i += 4) {
		uint32_t off = ((uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
				(uint32_t)data[i + 2] << 16) % (NBLOCKS * CFS_BLOCK_SIZE);

		img.data[off] ^= data[i + 3];
	}
	ramdev_config(&img, &cfg);
	cfg.cache_blocks = 32;
	if (cfs_mount(&fs, &cfg, &mk) == 0) {
		cfs_fsck(fs, ignore_report, NULL, NULL);
		exercise(fs);
		cfs_fsck(fs, ignore_report, NULL, NULL);
		cfs_unmount(fs);
	}
	return 0;
}
