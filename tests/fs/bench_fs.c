/*
 * CryptoFS throughput through the core on a RAM block device, against the
 * same workload done directly on the same device without encryption (a
 * pass-through that reads and writes the same blocks).  Prints a table of
 * sequential MB/s and 4 KiB random operations per second, with ratios.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crypto/crypto.h"
#include "fs/cfs.h"
#include "fs/tool/workers.h"
#include "tests/fs/ramdev.h"

enum { FILE_MB = 128, NBLOCKS = (FILE_MB + 32) * 256, CHUNK = 1 << 20, RANDOM_OPS = 40000,
       RUNS = 5 };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct result { double seq_write, seq_read, rand_write, rand_read; };

/* The peer: the same bytes moved through the device callbacks directly. */
static void bench_raw(struct cfs_config *cfg, uint8_t *buf, struct result *r)
{
	uint64_t nb = (uint64_t)FILE_MB * 256, rng = 7;
	double t;

	t = now();
	for (uint64_t b = 0; b < nb; b++)
		cfg->write(cfg->ctx, 16 + b, buf + (b % 256) * 4096);
	cfg->flush(cfg->ctx);
	r->seq_write = FILE_MB / (now() - t);
	t = now();
	for (uint64_t b = 0; b < nb; b++)
		cfg->read(cfg->ctx, 16 + b, buf + (b % 256) * 4096);
	r->seq_read = FILE_MB / (now() - t);
	t = now();
	for (int i = 0; i < RANDOM_OPS; i++)
		cfg->write(cfg->ctx, 16 + ramdev_rand(&rng) % nb, buf);
	cfg->flush(cfg->ctx);
	r->rand_write = RANDOM_OPS / (now() - t);
	t = now();
	for (int i = 0; i < RANDOM_OPS; i++)
		cfg->read(cfg->ctx, 16 + ramdev_rand(&rng) % nb, buf);
	r->rand_read = RANDOM_OPS / (now() - t);
}

static void bench_cfs(struct cfs_config *cfg, uint8_t *buf, struct result *r)
{
	static const struct cfs_key key = { CFS_KEY_FILE, "bench", 5 };
	struct cfs_format_opts o = { .key = key };
	uint64_t rng = 7, nb = (uint64_t)FILE_MB * 256;
	struct cfs *fs;
	int64_t fh;
	double t;

	cfg->map = ramdev_map;      /* seal into and open from the RAM in place */
	if (cfs_format(cfg, &o, NULL) < 0 || cfs_mount(&fs, cfg, &key) < 0)
		exit(1);
	fh = cfs_open(fs, "/bench", CFS_O_CREAT, 0644);
	t = now();
	for (uint64_t off = 0; off < (uint64_t)FILE_MB << 20; off += CHUNK)
		if (cfs_write(fs, fh, buf, CHUNK, off) != CHUNK)
			exit(1);
	cfs_fsync(fs, fh);
	r->seq_write = FILE_MB / (now() - t);
	cfs_unmount(fs);
	cfs_mount(&fs, cfg, &key);
	fh = cfs_open(fs, "/bench", 0, 0);
	t = now();
	for (uint64_t off = 0; off < (uint64_t)FILE_MB << 20; off += CHUNK)
		if (cfs_read(fs, fh, buf, CHUNK, off) != CHUNK)
			exit(1);
	r->seq_read = FILE_MB / (now() - t);
	t = now();
	for (int i = 0; i < RANDOM_OPS; i++)
		if (cfs_write(fs, fh, buf, 4096, (ramdev_rand(&rng) % nb) * 4096) != 4096)
			exit(1);
	cfs_fsync(fs, fh);
	r->rand_write = RANDOM_OPS / (now() - t);
	cfs_unmount(fs);
	cfs_mount(&fs, cfg, &key);
	fh = cfs_open(fs, "/bench", 0, 0);
	t = now();
	for (int i = 0; i < RANDOM_OPS; i++)
		if (cfs_read(fs, fh, buf, 4096, (ramdev_rand(&rng) % nb) * 4096) != 4096)
			exit(1);
	r->rand_read = RANDOM_OPS / (now() - t);
	cfs_unmount(fs);
}

/* The ceiling any encrypting design meets: sealing 4 KiB blocks alone. */
static double bench_aead(uint8_t *buf)
{
	static uint8_t out[4096 + 16];
	uint8_t key[32] = { 1 }, nonce[24] = { 0 };
	double t = now();

	for (int i = 0; i < FILE_MB * 256; i++) {
		nonce[0] = (uint8_t)i;
		cx_xaead_seal(out, buf + (i % 256) * 4096, 4096, nonce, 8, nonce, key);
	}
	return FILE_MB / (now() - t);
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of each field over the runs. */
static struct result median(const struct result *runs, int n)
{
	double v[RUNS];
	struct result m;
	double *fields[4] = { &m.seq_write, &m.seq_read, &m.rand_write, &m.rand_read };

	for (int f = 0; f < 4; f++) {
		for (int i = 0; i < n; i++)
			v[i] = ((const double *)&runs[i])[f];
		qsort(v, (size_t)n, sizeof v[0], by_value);
		*fields[f] = v[n / 2];
	}
	return m;
}

/* One row: the pass-through, the core on the calling thread alone, and
 * the core with helper threads (cfs_config.parallel), with ratios. */
static void row(const char *what, const char *unit, double raw, double one, double par)
{
	printf("%-20s %9.0f %s %9.0f %s %6.2f %9.0f %s %6.2f\n", what, raw, unit, one, unit,
	       one / raw, par, unit, par / raw);
}

int main(void)
{
	struct ramdev d;
	struct cfs_config cfg;
	struct result raw_runs[RUNS], enc_runs[RUNS], par_runs[RUNS], raw, enc, par;
	struct workers *pool = workers_start();
	uint8_t *buf = malloc(CHUNK);

	cx_init();
	for (int i = 0; i < CHUNK; i++)
		buf[i] = (uint8_t)(i * 7);
	ramdev_init(&d, NBLOCKS);
	memset(d.data, 1, (size_t)NBLOCKS * 4096);   /* fault the pages in for both */
	for (int r = 0; r < RUNS; r++) {             /* interleaved, so load hits both */
		ramdev_config(&d, &cfg);
		cfg.random = NULL;
		cfg.cache_blocks = 4096;
		bench_raw(&cfg, buf, &raw_runs[r]);
		bench_cfs(&cfg, buf, &enc_runs[r]);
		cfg.parallel = workers_run;
		cfg.parallel_ctx = pool;
		bench_cfs(&cfg, buf, &par_runs[r]);
	}
	raw = median(raw_runs, RUNS);
	enc = median(enc_runs, RUNS);
	par = median(par_runs, RUNS);
	printf("CryptoFS core on a RAM block device (%d MiB file, %d random 4 KiB ops, cache %u blocks,\n"
	       "format %d (AEGIS-256), median of %d runs; +helpers: with cfs_config.parallel)\n",
	       FILE_MB, RANDOM_OPS, cfg.cache_blocks, CFS_FORMAT_VERSION, RUNS);
	printf("%-20s %14s %14s %6s %14s %6s\n", "workload", "pass-through", "cryptofs",
	       "ratio", "+helpers", "ratio");
	row("sequential write", "MB/s", raw.seq_write, enc.seq_write, par.seq_write);
	row("sequential read", "MB/s", raw.seq_read, enc.seq_read, par.seq_read);
	row("random 4 KiB write", "op/s", raw.rand_write, enc.rand_write, par.rand_write);
	row("random 4 KiB read", "op/s", raw.rand_read, enc.rand_read, par.rand_read);
	double aead = bench_aead(buf);

	printf("%-20s %14s %9.0f MB/s %6.2f  (format 1's cipher alone, for comparison)\n",
	       "XChaCha20-Poly1305", "", aead, aead / raw.seq_write);
	workers_stop(pool);
	free(buf);
	ramdev_free(&d);
	return 0;
}
