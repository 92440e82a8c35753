/*
 * Power loss: record every block write and flush of random workloads, then
 * replay each prefix of the log onto the starting image (a power cut after
 * that write), and also the prefix followed by a torn write (a block only
 * partly written).  Every cut must mount, check clean, and hold exactly the
 * model's state at some commit no older than the last completed fsync.
 * A third variant models a device that reorders or loses writes it has not
 * flushed yet: each block written since the last flush keeps either its new
 * or its old contents, chosen at random.
 */
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "tests/check.h"
#include "tests/fs/model.h"
#include "tests/fs/ramdev.h"

enum { WORKLOADS = 10, OPS = 850, NBLOCKS = 384, MAX_GENS = 4096, MAX_SYNCS = 1024 };

static const struct cfs_key key = { CFS_KEY_FILE, "power key", 9 };

struct recording {
	uint64_t digest[MAX_GENS];
	uint64_t first_gen, last_gen;
	size_t sync_at[MAX_SYNCS];      /* log length when an fsync returned */
	uint64_t sync_gen[MAX_SYNCS];
	int nsync;
};

static long cut_points, torn_points, lost_points;

/* Blocks written since the last flush, with their contents before. */
struct epoch { uint64_t blk[4096]; uint8_t *old[4096]; int n; };

static void epoch_clear(struct epoch *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->old[i]);
	e->n = 0;
}

static void epoch_note(struct epoch *e, const uint8_t *img, uint64_t blkno)
{
	for (int i = 0; i < e->n; i++)
		if (e->blk[i] == blkno)
			return;
	if (e->n == 4096)
		return;
	e->blk[e->n] = blkno;
	e->old[e->n] = malloc(CFS_BLOCK_SIZE);
	memcpy(e->old[e->n], img + blkno * CFS_BLOCK_SIZE, CFS_BLOCK_SIZE);
	e->n++;
}

static void report_print(void *ctx, const char *path, uint64_t blkno, const char *what)
{
	(void)ctx;
	if (strncmp(what, "warning", 7) != 0)
		printf("  fsck: %s: block %llu: %s\n", path, (unsigned long long)blkno, what);
}

static uint64_t generation(struct cfs *fs)
{
	struct cfs_statfs st;

	cfs_statfs(fs, &st);
	return st.generation;
}

/* Note the model's digest for every generation committed since *seen. */
static void note_commits(struct recording *r, struct cfs *fs, struct model *m)
{
	uint64_t g = generation(fs);

	for (uint64_t x = r->last_gen + 1; x <= g && x < MAX_GENS; x++)
		r->digest[x] = model_digest(m);
	r->last_gen = g;
}

static void record_workload(struct ramdev *d, uint64_t seed, struct recording *r)
{
	struct cfs_config cfg;
	struct model m;
	struct cfs *fs;

	ramdev_config(d, &cfg);
	cfg.cache_blocks = 40;
	model_init(&m, seed * 7919);
	CHECK_EQ(cfs_mount(&fs, &cfg, &key), 0);
	r->first_gen = r->last_gen = generation(fs);
	r->digest[r->first_gen] = model_digest(&m);
	d->recording = true;
	for (int i = 0; i < OPS; i++) {
		if (!model_step(&m, fs)) {
			printf("  workload %llu step %d: %s\n", (unsigned long long)seed, i, m.last_op);
			CHECK(0);
			break;
		}
		note_commits(r, fs, &m);
		if (ramdev_rand(&d->rng) % 6 == 0 && r->nsync < MAX_SYNCS) {
			CHECK_EQ(cfs_sync(fs), 0);
			note_commits(r, fs, &m);
			r->sync_at[r->nsync] = d->nlog;
			r->sync_gen[r->nsync++] = generation(fs);
		}
	}
	CHECK_EQ(cfs_sync(fs), 0);
	note_commits(r, fs, &m);
	/* unmount may commit once more (same tree) so both slots are current */
	r->digest[r->last_gen + 1] = model_digest(&m);
	r->last_gen++;
	CHECK_EQ(cfs_unmount(fs), 0);
	d->recording = false;
	model_free(&m);
}

/* Mount the image as it is after a cut at log position k and check it. */
static bool check_cut(struct ramdev *img, const struct recording *r, size_t k)
{
	struct cfs_config cfg;
	struct cfs *fs = NULL;
	uint64_t want_min = r->first_gen, g, dg, writes = img->writes;
	bool ok = true;
	int rc;

	for (int i = 0; i < r->nsync; i++)
		if (r->sync_at[i] <= k)
			want_min = r->sync_gen[i];
	ramdev_config(img, &cfg);
	cfg.cache_blocks = 40;
	rc = cfs_mount(&fs, &cfg, &key);
	if (rc != 0) {
		printf("  cut %zu: mount failed %d\n", k, rc);
		return false;
	}
	g = generation(fs);
	if (g < want_min || g > r->last_gen) {
		printf("  cut %zu: generation %llu, want %llu..%llu\n", k, (unsigned long long)g,
		       (unsigned long long)want_min, (unsigned long long)r->last_gen);
		ok = false;
	}
	if (cfs_fsck(fs, report_print, NULL, NULL) != 0) {
		printf("  cut %zu: fsck not clean\n", k);
		ok = false;
	}
	if (fs_digest(fs, &dg) != 0 || (g < MAX_GENS && dg != r->digest[g])) {
		printf("  cut %zu: contents differ from the model at generation %llu\n", k,
		       (unsigned long long)g);
		ok = false;
	}
	CHECK_EQ(cfs_unmount(fs), 0);
	CHECK_EQ(img->writes, writes);
	return ok;
}

static void replay(const struct ramdev *rec, const uint8_t *start, const struct recording *r,
		   uint64_t seed)
{
	struct ramdev img;
	uint64_t rng = seed;
	uint8_t old[CFS_BLOCK_SIZE];
	int failures = 0;

	static struct epoch ep;
	static uint8_t saved[64][CFS_BLOCK_SIZE];

	ramdev_init(&img, NBLOCKS);
	memcpy(img.data, start, (size_t)NBLOCKS * CFS_BLOCK_SIZE);
	for (size_t k = 0; k <= rec->nlog && failures < 3; k++) {
		const struct ramdev_op *op = k < rec->nlog ? &rec->log[k] : NULL;
		bool is_write = op && op->blkno != RAMDEV_FLUSH;

		if (!check_cut(&img, r, k))
			failures++;
		cut_points++;
		if (ep.n > 1 && ep.n <= 64 && k % 2 == 0) {
			/* unflushed writes lost at random */
			for (int i = 0; i < ep.n; i++) {
				uint8_t *blk = img.data + ep.blk[i] * CFS_BLOCK_SIZE;

				memcpy(saved[i], blk, CFS_BLOCK_SIZE);
				if (ramdev_rand(&rng) & 1)
					memcpy(blk, ep.old[i], CFS_BLOCK_SIZE);
			}
			if (!check_cut(&img, r, k))
				failures++;
			lost_points++;
			for (int i = 0; i < ep.n; i++)
				memcpy(img.data + ep.blk[i] * CFS_BLOCK_SIZE, saved[i], CFS_BLOCK_SIZE);
		}
		if (op && !is_write)
			epoch_clear(&ep);
		else if (is_write)
			epoch_note(&ep, img.data, op->blkno);
		if (is_write) {
			uint8_t *blk = img.data + op->blkno * CFS_BLOCK_SIZE;
			size_t torn = 512 * (1 + ramdev_rand(&rng) % 7);

			memcpy(old, blk, sizeof old);
			memcpy(blk, op->data, torn);
			if (!check_cut(&img, r, k))
				failures++;
			torn_points++;
			memcpy(blk, old, sizeof old);
			memcpy(blk, op->data, CFS_BLOCK_SIZE);
		}
	}
	CHECK_EQ(failures, 0);
	epoch_clear(&ep);
	ramdev_free(&img);
}

static void test_power_loss(void)
{
	for (uint64_t seed = 1; seed <= WORKLOADS; seed++) {
		struct cfs_format_opts o = { .key = key };
		struct recording *r = calloc(1, sizeof *r);
		struct cfs_config cfg;
		struct ramdev d;
		uint8_t *start;

		ramdev_init(&d, NBLOCKS);
		d.deterministic = true;
		d.rng ^= seed;
		ramdev_config(&d, &cfg);
		CHECK_EQ(cfs_format(&cfg, &o, NULL), 0);
		start = malloc((size_t)NBLOCKS * CFS_BLOCK_SIZE);
		memcpy(start, d.data, (size_t)NBLOCKS * CFS_BLOCK_SIZE);
		record_workload(&d, seed, r);
		replay(&d, start, r, seed);
		free(start);
		free(r);
		ramdev_free(&d);
	}
	printf("  %ld cut points; at %ld of them also a torn final write, at %ld also lost "
	       "unflushed writes\n", cut_points, torn_points, lost_points);
	CHECK(cut_points >= 10000 && torn_points >= 5000 && lost_points >= 1000);
}

int main(void)
{
	cx_init();
	RUN(test_power_loss);
	return CHECK_EXIT_STATUS();
}
