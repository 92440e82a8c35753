/*
 * Model-based random test: random operation sequences over several seeds,
 * each step checked against the in-memory model, with remounts (and fsck)
 * along the way: 100,000 operations in all.
 */
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/tool/workers.h"
#include "tests/check.h"
#include "tests/fs/model.h"
#include "tests/fs/ramdev.h"

enum { SEEDS = 5, OPS_PER_SEED = 20000, REMOUNT_EVERY = 2500 };

static struct workers *pool;        /* helper threads for some seeds */

static void report_print(void *ctx, const char *path, uint64_t blkno, const char *what)
{
	(void)ctx;
	printf("  fsck: %s: block %llu: %s\n", path, (unsigned long long)blkno, what);
}

static void run_seed(uint64_t seed)
{
	static const struct cfs_key pass = { CFS_KEY_FILE, "model key", 9 };
	struct cfs_format_opts o = { .key = pass };
	struct ramdev d;
	struct cfs_config cfg;
	struct model m;
	struct cfs *fs = NULL;
	long ok = 0;

	ramdev_init(&d, 8192);
	d.deterministic = true;
	d.rng ^= seed;
	ramdev_config(&d, &cfg);
	cfg.cache_blocks = 48 + (uint32_t)(seed % 3) * 100;
	/* each seed takes another way to the device: format 1, helper
	 * threads, the device mapped in place, both */
	o.version = seed % 5 == 2 ? 1 : 0;
	if (seed % 5 == 3 || seed % 5 == 0) {
		cfg.parallel = workers_run;
		cfg.parallel_ctx = pool;
	}
	if (seed % 5 == 4 || seed % 5 == 0)
		cfg.map = ramdev_map;
	model_init(&m, seed);
	CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
	CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
	for (int i = 1; i <= OPS_PER_SEED && fs; i++) {
		if (!model_step(&m, fs)) {
			printf("  seed %llu step %d: %s\n", (unsigned long long)seed, i, m.last_op);
			CHECK(0);
			break;
		}
		ok++;
		if (i % 97 == 0)
			CHECK_EQ(cfs_sync(fs), 0);
		if (i % REMOUNT_EVERY == 0) {
			CHECK(model_verify_all(&m, fs));
			CHECK_EQ(cfs_unmount(fs), 0);
			fs = NULL;
			CHECK_EQ(cfs_mount(&fs, &cfg, &pass), 0);
			CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
			if (!model_verify_all(&m, fs)) {
				printf("  seed %llu after remount: %s\n", (unsigned long long)seed, m.last_op);
				CHECK(0);
				break;
			}
		}
	}
	CHECK_EQ(ok, OPS_PER_SEED);
	printf("  seed %llu (format %u%s%s): %ld ops, %ld writes or namespace changes, "
	       "%d paths at the end, %llu device writes\n", (unsigned long long)seed,
	       o.version ? o.version : CFS_FORMAT_VERSION, cfg.parallel ? ", threads" : "",
	       cfg.map ? ", mapped" : "", ok, m.mutations, m.n, (unsigned long long)d.writes);
	if (fs) {
		CHECK_EQ(cfs_fsck(fs, report_print, NULL, NULL), 0);
		CHECK_EQ(cfs_unmount(fs), 0);
	}
	model_free(&m);
	ramdev_free(&d);
}

static void test_model_random_ops(void)
{
	for (uint64_t seed = 1; seed <= SEEDS; seed++)
		run_seed(seed);
}

int main(void)
{
	cx_init();
	pool = workers_start();
	RUN(test_model_random_ops);
	return CHECK_EXIT_STATUS();
}
