/* Unit tests of CryptoFS: format, keys, files, directories, the tree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs.h"
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

int main(void)
{
	cx_init();
	RUN(test_format_mount_basic);
	return CHECK_EXIT_STATUS();
}
