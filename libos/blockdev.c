/*
 * A disk of 4 KiB blocks over a BLOCK capability (see blockdev.h).  The
 * core writes one block per call; those are staged in DMA frames and sent
 * in one BLK_SUBMIT (one doorbell) when the stage is full, when a flush
 * asks for durability, or before a read of a block not staged.  Requests
 * are waited for on the ring's notification (RING_BIND), never by spinning.
 */
#include "libos/blockdev.h"
#include "libos/libos.h"
#include "libos/lx.h"
#include "include/exo/native.h"

#define BLOCK 4096u
#define READ_SLOT BLOCKDEV_STAGE		/* the first page reads land in */
#define WAIT_NS 1000000000ull			/* one wait on the notification */
#define DEVICE_PATIENCE 30			/* waits without a completion (30 s): EIO */
#define EROFS 30

/* Reaps until n requests completed: 0, or -EIO when one failed or the
 * device stayed silent for 30 s.  Between reaps it sleeps on the
 * notification, which the disk's interrupt signals (the kernel leaves a
 * disk's interrupts on whenever no holder is reaping); a wait that ends
 * without a signal is counted in silent_waits. */
static int wait_done(struct blockdev *d, uint32_t n)
{
	struct exo_ring_done done[EXO_RING_BATCH];
	int rc = 0, idle = 0;

	if (mm_prepare_write((uint64_t)done, sizeof done))
		return -EIO;
	while (n > 0) {
		int64_t k = exo_call(EXO_SYS_RING_REAP, d->cap, done, EXO_RING_BATCH);
		if (k < 0)
			return -EIO;
		for (int64_t i = 0; i < k; i++)
			if (done[i].status != 0)
				rc = -EIO;
		n -= (uint32_t)k;
		if (k > 0) {
			idle = 0;
			continue;
		}
		if (n > 0 && exo_call(EXO_SYS_NOTIFY_WAIT, d->note, WAIT_NS) == -EXO_ETIMEDOUT) {
			d->silent_waits++;
			if (++idle >= DEVICE_PATIENCE)
				return -EIO;
		}
	}
	return rc;
}

/* Submits n requests in batches, one doorbell per batch, and waits for
 * all of them.  A device without room answers -EAGAIN: reap what is in
 * flight, or try smaller batches. */
static int submit(struct blockdev *d, const struct exo_blk_req *req, uint32_t n)
{
	uint32_t in_flight = 0;
	int rc = 0;

	while (n > 0) {
		uint32_t k = n < d->batch ? n : d->batch;
		int64_t r = exo_call(EXO_SYS_BLK_SUBMIT, d->cap, req, k);
		if (r == -EXO_EAGAIN && (in_flight > 0 || d->batch > 1)) {
			if (in_flight > 0) {
				rc |= wait_done(d, in_flight);
				in_flight = 0;
			} else {
				d->batch /= 2;
			}
			continue;
		}
		if (r < 0)
			return rc ? rc : -EIO;
		d->doorbells++;
		d->requests += k;
		in_flight += k;
		req += k;
		n -= k;
	}
	rc |= wait_done(d, in_flight);
	return rc ? -EIO : 0;
}

/* Staging page i. */
static uint8_t *page(struct blockdev *d, uint32_t i)
{
	return d->mem + (uint64_t)i * BLOCK;
}

static struct exo_blk_req request(struct blockdev *d, uint32_t op, uint32_t slot, uint64_t blkno,
				  uint32_t blocks)
{
	return (struct exo_blk_req){ .frame_slot = (uint32_t)d->frames, .op = op,
				     .offset = (uint64_t)slot * BLOCK, .length = blocks * BLOCK,
				     .sector = blkno * d->sectors_per_block, .cookie = slot };
}

/* Sends every staged block to the disk (one batch, neighbours merged) and
 * empties the stage. */
static int drain(struct blockdev *d)
{
	struct exo_blk_req req[BLOCKDEV_STAGE];

	if (d->staged == 0)
		return 0;
	uint32_t n = 0;
	for (uint32_t i = 0, run; i < d->staged; i += run) {
		/* blocks in consecutive slots and sectors: one request, <= 64 KiB */
		for (run = 1; i + run < d->staged && run < BLOCKDEV_AHEAD &&
			      d->staged_blk[i + run] == d->staged_blk[i] + run; run++)
			;
		req[n++] = request(d, EXO_BLK_WRITE, i, d->staged_blk[i], run);
	}
	int rc = submit(d, req, n);
	d->staged = 0;
	return rc;
}

int blockdev_open(struct blockdev *d, int64_t cap, uint64_t va)
{
	return blockdev_reopen(d, cap, va, 0);
}

int blockdev_reopen(struct blockdev *d, int64_t cap, uint64_t va, int64_t note)
{
	struct exo_blk_info info;
	uint32_t pages = BLOCKDEV_PAGES;

	lo_memset(d, 0, sizeof *d);
	if (mm_prepare_write((uint64_t)&info, sizeof info) ||
	    exo_call(EXO_SYS_BLK_INFO, cap, &info) < 0)
		return -ENODEV;
	if (info.sector_size == 0 || info.sector_size > BLOCK || BLOCK % info.sector_size)
		return -EINVAL;
	d->cap = cap;
	d->sectors_per_block = BLOCK / info.sector_size;
	d->nblocks = info.sectors / d->sectors_per_block;
	d->can_flush = info.flush;
	d->read_only = info.read_only;
	d->batch = EXO_RING_BATCH;
	d->note = note > 0 ? note : exo_call0(EXO_SYS_NOTIFY_CREATE);
	if (d->note < 0 || exo_call(EXO_SYS_RING_BIND, cap, d->note, 1) < 0)
		return -ENODEV;
	d->frames = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, pages);
	if (d->frames < 0)	/* mapped outside the regions fork shares */
		return -ENOMEM;
	for (uint32_t i = 0; i < pages; i++)
		if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, va + (uint64_t)i * BLOCK, d->frames, i,
			     EXO_PROT_READ | EXO_PROT_WRITE))
			return -ENOMEM;
	d->mem = (uint8_t *)va;
	return 0;
}

int64_t blockdev_close(struct blockdev *d)
{
	int64_t note = d->note;
	for (uint32_t i = 0; d->mem && i < BLOCKDEV_PAGES; i++)
		exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, (uint64_t)d->mem + (uint64_t)i * BLOCK);
	if (d->frames > 0)
		exo_call(EXO_SYS_CAP_DELETE, d->frames);
	lo_memset(d, 0, sizeof *d);
	return note;
}

/* One block: from the stage when it is waiting there, else from the
 * read-ahead pages, else from the disk, with the blocks after it when the
 * reads go in order (one request of up to BLOCKDEV_AHEAD blocks: files
 * written in order lie in order, so the next reads find them). */
int blockdev_read(void *ctx, uint64_t blkno, void *out)
{
	struct blockdev *d = ctx;

	if (blkno >= d->nblocks)
		return -EIO;
	for (uint32_t i = d->staged; i-- > 0;)
		if (d->staged_blk[i] == blkno) {
			lo_memcpy(out, page(d, i), BLOCK);
			return 0;
		}
	if (blkno - d->ahead_first >= d->ahead_count) {
		uint64_t n = blkno == d->last_read + 1 ? BLOCKDEV_AHEAD : 1;	/* in order? */
		if (n > d->nblocks - blkno)
			n = d->nblocks - blkno;
		struct exo_blk_req req = request(d, EXO_BLK_READ, READ_SLOT, blkno, (uint32_t)n);
		d->ahead_count = 0;
		int rc = submit(d, &req, 1);
		if (rc)
			return rc;
		d->ahead_first = blkno;
		d->ahead_count = n;
	}
	lo_memcpy(out, page(d, READ_SLOT + (uint32_t)(blkno - d->ahead_first)), BLOCK);
	d->last_read = blkno;
	return 0;
}

/* Stages one block; a full stage goes to the disk first.  A block staged
 * twice keeps one slot, so the batch never writes it out of order. */
int blockdev_write(void *ctx, uint64_t blkno, const void *in)
{
	struct blockdev *d = ctx;
	uint32_t i = 0;

	if (blkno >= d->nblocks || d->read_only)
		return d->read_only ? -EROFS : -EIO;
	if (blkno - d->ahead_first < d->ahead_count)
		d->ahead_count = 0;		/* read ahead before this write */
	while (i < d->staged && d->staged_blk[i] != blkno)
		i++;
	if (i == d->staged) {
		if (d->staged == BLOCKDEV_STAGE) {
			int rc = drain(d);
			if (rc)
				return rc;
			i = 0;
		}
		d->staged_blk[i] = blkno;
		d->staged = i + 1;
	}
	lo_memcpy(page(d, i), in, BLOCK);
	return 0;
}

/* Every write so far is on the disk and durable: the stage goes out, then
 * a FLUSH where the disk has a volatile cache that takes one. */
int blockdev_flush(void *ctx)
{
	struct blockdev *d = ctx;
	int rc = drain(d);

	if (rc || !d->can_flush)
		return rc;
	struct exo_blk_req req = request(d, EXO_BLK_FLUSH, 0, 0, 0);
	req.frame_slot = 0;
	req.offset = 0;
	req.sector = 0;
	return submit(d, &req, 1);
}
