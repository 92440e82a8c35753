/*
 * Sealing and opening blocks (AEGIS-256 in format 2, XChaCha20-Poly1305
 * in format 1), on helper threads for large batches, and the block
 * secrets they use.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

/* A fresh block secret: the next 32 bytes of a ChaCha20 keystream under a
 * key drawn at mount and never stored.  Secrets never repeat (one stream,
 * and streams of different mounts differ unless two random keys collide),
 * and are unpredictable even from every other secret on the disk, which
 * crypto-shredding relies on (docs/CRYPTOFS.md).  Made 64 at a time, so a
 * secret costs a few nanoseconds. */
void cfs_new_secret(struct cfs *fs, uint8_t out[32])
{
	if (fs->secret_counter == 0)
		cfs_rand(fs, fs->keys->secret_key, sizeof fs->keys->secret_key);
	if (fs->secret_left == 0) {
		cx_stream(fs->keys->secret_pool, sizeof fs->keys->secret_pool, fs->secret_counter++,
			  fs->keys->secret_key);
		fs->secret_left = sizeof fs->keys->secret_pool;
	}
	fs->secret_left -= 32;
	memcpy(out, fs->keys->secret_pool + fs->secret_left, 32);
	cx_wipe(fs->keys->secret_pool + fs->secret_left, 32);
}

/* The associated data binding a block to its address and place in the tree
 * and to the format version. */
struct block_ad { uint64_t blkno, obj, index; uint32_t level, version; };
_Static_assert(sizeof(struct block_ad) == 32, "ad size");

static struct block_ad block_ad_of(const struct cfs *fs, const struct cfs_blockio *io)
{
	return (struct block_ad){ io->p->blkno, io->obj, io->index, (uint32_t)io->level,
				  fs->sb.version };
}

#ifndef FUZZING
/* The one-time key of a block: keyed BLAKE2b of its secret under the
 * object's key (every block of format 1; in format 2 every block that is
 * not a regular file's). */
static void block_key(uint8_t out[32], const uint8_t objkey[32], const struct cfs_ptr *p)
{
	cx_hash_state st;

	cx_hash_init(&st, objkey, CX_KEY_BYTES, CX_KEY_BYTES);
	cx_hash_update(&st, p->secret, sizeof p->secret);
	cx_hash_final(&st, out, CX_KEY_BYTES);
	cx_wipe(&st, sizeof st);
}

static const uint8_t zero_nonce[CX_XNONCE_BYTES];

/* Format 1: XChaCha20-Poly1305 under the one-time key and a zero nonce. */
static void seal_v1(const struct cfs_blockio *io, const struct block_ad *ad, uint8_t *out)
{
	uint8_t key[32], sealed[CFS_BLOCK_SIZE + CX_TAG_BYTES];

	block_key(key, io->key, io->p);
	cx_xaead_seal(sealed, io->in, CFS_BLOCK_SIZE, (const uint8_t *)ad, sizeof *ad,
		      zero_nonce, key);
	cx_wipe(key, sizeof key);
	memcpy(out, sealed, CFS_BLOCK_SIZE);
	memcpy(io->p->tag, sealed + CFS_BLOCK_SIZE, CX_TAG_BYTES);
}

static int open_v1(const struct cfs_blockio *io, const struct block_ad *ad, const uint8_t *block)
{
	uint8_t key[32], sealed[CFS_BLOCK_SIZE + CX_TAG_BYTES];
	int rc;

	memcpy(sealed, block, CFS_BLOCK_SIZE);
	memcpy(sealed + CFS_BLOCK_SIZE, io->p->tag, CX_TAG_BYTES);
	block_key(key, io->key, io->p);
	rc = cx_xaead_open(io->out, sealed, CFS_BLOCK_SIZE, (const uint8_t *)ad, sizeof *ad,
			   zero_nonce, key);
	cx_wipe(key, sizeof key);
	return rc;
}
#endif

/* The AEGIS-256 key of a format-2 block, into buf: a regular file's blocks
 * take the file's key itself, which unlinking destroys; every other object
 * (inode table, directories, space map) lives on, so its blocks take
 * one-time keys, and an old copy of one opens only with the secret held in
 * its old parent. */
static const uint8_t *v2_key(const struct cfs_blockio *io, uint8_t buf[32])
{
#ifdef FUZZING
	(void)buf;
	return io->key;
#else
	if (io->file)
		return io->key;
	block_key(buf, io->key, io->p);
	return buf;
#endif
}

/* Blocks per piece of parallel work: one 8-lane AEGIS-256 call. */
enum { PIECE = 8, MAX_PIECES = CFS_BATCH / PIECE };

/* Run piece(arg, i) for each of the pieces n blocks make, on the host's
 * threads when it offers them (cfs_config.parallel), else in turn. */
static void run_pieces(const struct cfs *fs, void (*piece)(void *arg, size_t i), void *arg,
		       size_t n)
{
	size_t pieces = (n + PIECE - 1) / PIECE;

	if (fs->cfg.parallel && pieces > 1) {
		fs->cfg.parallel(fs->cfg.parallel_ctx, piece, arg, pieces);
		return;
	}
	for (size_t i = 0; i < pieces; i++)
		piece(arg, i);
}

/* The blocks of a cfs_seal_blocks call, prepared for sealing in pieces. */
struct seal_work {
	const struct cfs *fs;
	struct cfs_blockio *io;
	const struct block_ad *ad;
	struct cx_aegis_msg *m;
	uint8_t **out;
	size_t n;
	int rc[MAX_PIECES];
};

/* Seal piece i of w and, unless the device is mapped, write it. */
static void seal_piece(void *arg, size_t i)
{
	struct seal_work *w = arg;
	size_t first = i * PIECE, k = w->n - first < PIECE ? w->n - first : PIECE;
	int rc = 0;

#ifdef FUZZING
	for (size_t j = first; j < first + k; j++) {
		memcpy(w->out[j], w->io[j].in, CFS_BLOCK_SIZE);
		memset(w->io[j].p->tag, 0, sizeof w->io[j].p->tag);
	}
#else
	if (w->fs->sb.version == 1)
		for (size_t j = first; j < first + k; j++)
			seal_v1(&w->io[j], &w->ad[j], w->out[j]);
	else if (cx_aegis_seal_many(w->m + first, k, CFS_BLOCK_SIZE, sizeof w->ad[0]) < 0)
		rc = -EIO;
#endif
	for (size_t j = first; rc == 0 && !w->fs->cfg.map && j < first + k; j++)
		if (w->fs->cfg.write(w->fs->cfg.ctx, w->io[j].p->blkno, w->out[j]) < 0)
			rc = -EIO;
	w->rc[i] = rc;
}

/*
 * Encrypt n blocks (at most CFS_BATCH) under fresh secrets and write them
 * to their pointers' addresses, recording each secret and tag in its
 * pointer (which lives in the parent).  Format 2 seals them together,
 * several per AES register (AEGIS-256 with the secret as nonce, under the
 * key v2_key picks), in pieces on several threads when the host offers
 * them.  -EIO when the device refuses a write.
 */
int cfs_seal_blocks(struct cfs *fs, struct cfs_blockio *io, size_t n)
{
	struct block_ad ad[CFS_BATCH];
	struct cx_aegis_msg m[CFS_BATCH];
	uint8_t *out[CFS_BATCH], keys[CFS_BATCH][32];
	struct seal_work w = { fs, io, ad, m, out, n, { 0 } };
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		out[i] = fs->cfg.map ? fs->cfg.map(fs->cfg.ctx, io[i].p->blkno)
				     : fs->batch + i * CFS_BLOCK_SIZE;
		if (!out[i])
			return -EIO;
		cfs_new_secret(fs, io[i].p->secret);
		ad[i] = block_ad_of(fs, &io[i]);
		m[i] = (struct cx_aegis_msg){ out[i], io[i].in, (const uint8_t *)&ad[i],
					      io[i].p->secret, v2_key(&io[i], keys[i]),
					      io[i].p->tag, 0 };
	}
	run_pieces(fs, seal_piece, &w, n);
	cx_wipe(keys, sizeof keys);
	for (size_t i = 0; i < (n + PIECE - 1) / PIECE; i++)
		rc = rc < 0 ? rc : w.rc[i];
	return rc;
}

/* Seal one block (see cfs_seal_blocks); p->reserved is cleared, as every
 * pointer on disk has it. */
int cfs_seal_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const uint8_t *plain, struct cfs_ptr *p)
{
	struct cfs_blockio io = { o->id, o->key, o->file, level, index, p, plain, NULL };

	p->reserved = 0;
	return cfs_seal_blocks(fs, &io, 1);
}

/* Where block blkno's sealed bytes are: in place on a mapped device, else
 * read into slot i of scratch.  NULL for an address outside the data area
 * or a failed read. */
static const uint8_t *sealed_bytes(const struct cfs *fs, uint64_t blkno, uint8_t *scratch,
				   size_t i)
{
	if (blkno < CFS_FIRST_DATA_BLOCK || blkno >= fs->sb.nblocks)
		return NULL;
	if (fs->cfg.map)
		return fs->cfg.map(fs->cfg.ctx, blkno);
	scratch += i * CFS_BLOCK_SIZE;
	return fs->cfg.read(fs->cfg.ctx, blkno, scratch) < 0 ? NULL : scratch;
}

/* The blocks of an unseal_many call, to read and open in pieces. */
struct open_work {
	const struct cfs *fs;
	struct cfs_blockio *io;
	uint8_t *scratch;
	size_t n;
	size_t bad[MAX_PIECES];     /* first failed block of each piece, or n */
};

/* Read and open piece i of w. */
static void open_piece(void *arg, size_t i)
{
	struct open_work *w = arg;
	size_t first = i * PIECE, k = w->n - first < PIECE ? w->n - first : PIECE;
	struct block_ad ad[PIECE];
	struct cx_aegis_msg m[PIECE];
	const uint8_t *sealed[PIECE];
	uint8_t keys[PIECE][32];
	struct cfs_blockio *io = w->io + first;

	w->bad[i] = w->n;
	for (size_t j = 0; j < k; j++) {
		sealed[j] = sealed_bytes(w->fs, io[j].p->blkno, w->scratch, first + j);
		if (!sealed[j]) {
			w->bad[i] = first + j;
			return;
		}
		ad[j] = block_ad_of(w->fs, &io[j]);
		m[j] = (struct cx_aegis_msg){ io[j].out, sealed[j], (const uint8_t *)&ad[j],
					      io[j].p->secret, NULL, (uint8_t *)io[j].p->tag, 0 };
	}
#ifdef FUZZING
	(void)m;
	(void)keys;
	for (size_t j = 0; j < k; j++)
		memcpy(io[j].out, sealed[j], CFS_BLOCK_SIZE);
#else
	if (w->fs->sb.version == 1) {
		for (size_t j = 0; j < k; j++)
			if (open_v1(&io[j], &ad[j], sealed[j]) < 0) {
				w->bad[i] = first + j;
				return;
			}
		return;
	}
	for (size_t j = 0; j < k; j++)
		m[j].key = v2_key(&io[j], keys[j]);
	int rc = cx_aegis_open_many(m, k, CFS_BLOCK_SIZE, sizeof ad[0]);

	cx_wipe(keys, sizeof keys);
	for (size_t j = 0; rc < 0 && j < k; j++)
		if (m[j].rc < 0 || rc == -ENOTSUP) {
			w->bad[i] = first + j;
			return;
		}
#endif
}

/* Read n blocks (into the scratch space, n * CFS_BLOCK_SIZE + 16 bytes,
 * unless the device is mapped) and authenticate and decrypt each into its
 * out, using only state that never changes after mount (so it may run on
 * several threads at once).  Returns 0, or -EIO with *bad the first block
 * that failed. */
static int unseal_many(const struct cfs *fs, struct cfs_blockio *io, size_t n,
		       uint8_t *scratch, size_t *bad)
{
	struct open_work w = { fs, io, scratch, n, { 0 } };

	run_pieces(fs, open_piece, &w, n);
	*bad = n;
	for (size_t i = 0; i < (n + PIECE - 1) / PIECE; i++)
		if (w.bad[i] < *bad)
			*bad = w.bad[i];
	return *bad < n ? -EIO : 0;
}

/* Read, authenticate and decrypt n blocks (at most CFS_BATCH) into their
 * outs; -EIO (and the error record) when one was changed, moved or cannot
 * be read. */
int cfs_open_blocks(struct cfs *fs, struct cfs_blockio *io, size_t n)
{
	size_t bad;
	int rc;

	rc = unseal_many(fs, io, n, fs->batch, &bad);
	if (rc < 0)
		cfs_set_error(fs, io[bad].p->blkno, io[bad].obj);
	return rc;
}

/* Read and authenticate the block p points to into plain. */
int cfs_open_block(struct cfs *fs, const struct cfs_obj *o, int level, uint64_t index,
		   const struct cfs_ptr *p, uint8_t *plain)
{
	struct cfs_blockio io = { o->id, o->key, o->file, level, index, (struct cfs_ptr *)p, NULL,
				  plain };

	return cfs_open_blocks(fs, &io, 1);
}

/* Decrypt a block cfs_read_plan described; see cfs.h. */
int cfs_read_block(const struct cfs *fs, const struct cfs_block_ref *ref, void *out,
		   void *scratch)
{
	struct cfs_ptr p = { .blkno = ref->blkno };
	struct cfs_blockio io = { ref->obj, ref->key, true, 0, ref->index, &p, NULL, out };
	size_t bad;

	memcpy(p.secret, ref->secret, sizeof p.secret);
	memcpy(p.tag, ref->tag, sizeof p.tag);
	return unseal_many(fs, &io, 1, scratch, &bad);
}

/* Decrypt n blocks cfs_read_plan described into buf; see cfs.h. */
int cfs_read_blocks(const struct cfs *fs, const struct cfs_block_ref *refs, size_t n,
		    void *buf, void *scratch)
{
	_Static_assert(CFS_READ_SCRATCH >= CFS_BATCH * CFS_BLOCK_SIZE + 16, "scratch");
	struct cfs_ptr p[CFS_BATCH];
	struct cfs_blockio io[CFS_BATCH];
	int rc = 0;

	for (size_t done = 0; done < n;) {
		size_t k = n - done < CFS_BATCH ? n - done : CFS_BATCH, bad;

		for (size_t i = 0; i < k; i++) {
			const struct cfs_block_ref *r = &refs[done + i];

			p[i] = (struct cfs_ptr){ .blkno = r->blkno };
			memcpy(p[i].secret, r->secret, sizeof p[i].secret);
			memcpy(p[i].tag, r->tag, sizeof p[i].tag);
			io[i] = (struct cfs_blockio){ r->obj, r->key, true, 0, r->index, &p[i],
						      NULL, (uint8_t *)buf + r->buf_offset };
		}
		if (unseal_many(fs, io, k, scratch, &bad) < 0)
			rc = -EIO;
		done += k;
	}
	return rc;
}
