/*
 * Block capabilities on a virtio-blk disk (disable-legacy=on) or an NVMe
 * controller's namespace.
 *   blktest write SEED [MODEL]  writes a pattern in batches, reads it back,
 *                        flushes, and checks partitions (range-limited
 *                        caps), rights, bad buffers, pins and revocation;
 *   blktest read SEED [MODEL]   (in a new VM on the same image) finds the
 *                        pattern.
 * MODEL is the driver the disk must be on (default virtio-blk).
 */
#include "check.h"
#include "exo.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern const struct exo_start *libos_start_info;

#define E(x) (-(int64_t)(x))
#define BUF_VA 0x0000500000000000ull
#define BUF_PAGES 16
#define LONE_VA (BUF_VA + 0x100000)
#define SECOND 1000000000ull
#define FIRST 100			/* the pattern: sectors FIRST..FIRST+31 */
#define PART_FIRST 1000			/* a partition of 64 sectors */

static uint8_t *buf = (uint8_t *)BUF_VA;
static int64_t frames, note, disk;
static unsigned seed;

static uint8_t pattern(uint64_t sector, unsigned i) { return (uint8_t)(sector * 7 + i * 13 + seed); }

static void fill(uint64_t off, uint64_t sector, unsigned sectors)
{
	for (unsigned s = 0; s < sectors; s++)
		for (unsigned i = 0; i < 512; i++)
			buf[off + s * 512 + i] = pattern(sector + s, i);
}

static int matches(uint64_t off, uint64_t sector, unsigned sectors)
{
	for (unsigned s = 0; s < sectors; s++)
		for (unsigned i = 0; i < 512; i++)
			if (buf[off + s * 512 + i] != pattern(sector + s, i))
				return 0;
	return 1;
}

static struct exo_blk_req req(int64_t frame, uint32_t op, uint64_t off, uint32_t len, uint64_t sector,
			      uint64_t cookie)
{
	return (struct exo_blk_req){ .frame_slot = (uint32_t)frame, .op = op, .offset = off,
				     .length = len, .sector = sector, .cookie = cookie };
}

static int64_t submit1(int64_t cap, struct exo_blk_req r)
{
	return exo_call(EXO_SYS_BLK_SUBMIT, cap, &r, 1);
}

/* Reaps cap until n completions came (or 5 s passed); how many had status 0. */
static int wait_done(int64_t cap, int n, uint64_t *cookies)
{
	struct exo_ring_done d[64];
	int got = 0, ok = 0;
	for (int t = 0; t < 50 && got < n; t++) {
		exo_call(EXO_SYS_NOTIFY_WAIT, note, SECOND / 10);
		int64_t k = exo_call(EXO_SYS_RING_REAP, cap, d, 64);
		for (int64_t i = 0; i < k; i++, got++) {
			if (cookies && got < 64)
				cookies[got] = d[i].cookie;
			if (d[i].status == 0)
				ok++;
		}
	}
	return got == n ? ok : -1;
}

static int64_t budget_left(void)
{
	struct exo_cap_info m;
	exo_call(EXO_SYS_CAP_INSPECT, EXO_SLOT_MEMORY, &m);
	return (int64_t)m.count;
}

static void irq_wakes_waiter(void);
static void irq_other_port(void);

static void phase_write(struct exo_blk_info *info)
{
	/* four 8 KiB writes in one batch, one doorbell */
	struct exo_blk_req w[4];
	for (int i = 0; i < 4; i++) {
		fill((uint64_t)i * 8192, FIRST + i * 16ull, 16);
		w[i] = req(frames, EXO_BLK_WRITE, (uint64_t)i * 8192, 8192, FIRST + i * 16ull, (uint64_t)i);
	}
	EXPECT("blk-write-batch", exo_call(EXO_SYS_BLK_SUBMIT, disk, w, 4) == 4);
	uint64_t cookies[64];
	EXPECT("blk-write-completed", wait_done(disk, 4, cookies) == 4);
	EXPECT("blk-flush", submit1(disk, req(0, EXO_BLK_FLUSH, 0, 0, 0, 9)) == 1 && wait_done(disk, 1, NULL) == 1);
	memset(buf, 0, 4 * 8192);
	struct exo_blk_req r[2] = { req(frames, EXO_BLK_READ, 32768, 16384, FIRST, 20),
				    req(frames, EXO_BLK_READ, 49152, 16384, FIRST + 32, 21) };
	EXPECT("blk-read-batch", exo_call(EXO_SYS_BLK_SUBMIT, disk, r, 2) == 2 && wait_done(disk, 2, NULL) == 2);
	EXPECT("blk-read-back", matches(32768, FIRST, 64));

	/* a partition: sectors PART_FIRST.. of the disk are its 0.. */
	int64_t part = exo_call(EXO_SYS_CAP_DERIVE, disk, EXO_R_ALL, PART_FIRST, 64);
	struct exo_blk_info pi;
	EXPECT("blk-part-derive", part > 0 && exo_call(EXO_SYS_BLK_INFO, part, &pi) == 0 &&
	       pi.sectors == 64 && pi.first == PART_FIRST && pi.disk_sectors == info->disk_sectors);
	exo_call(EXO_SYS_RING_BIND, part, note, 2);
	fill(0, PART_FIRST, 8);
	EXPECT("blk-part-write", submit1(part, req(frames, EXO_BLK_WRITE, 0, 4096, 0, 30)) == 1 &&
	       wait_done(part, 1, NULL) == 1);
	memset(buf + 8192, 0, 4096);
	EXPECT("blk-part-lands-at-its-offset", submit1(disk, req(frames, EXO_BLK_READ, 8192, 4096, PART_FIRST, 31)) == 1 &&
	       wait_done(disk, 1, NULL) == 1 && matches(8192, PART_FIRST, 8));
	EXPECT("blk-part-refuses-past-end", submit1(part, req(frames, EXO_BLK_READ, 0, 512, 64, 0)) == E(EXO_ERANGE));
	EXPECT("blk-part-refuses-straddle", submit1(part, req(frames, EXO_BLK_READ, 0, 8192, 60, 0)) == E(EXO_ERANGE));
	EXPECT("blk-part-refuses-huge-sector", submit1(part, req(frames, EXO_BLK_READ, 0, 512, ~0ull, 0)) == E(EXO_ERANGE));
	EXPECT("blk-part-discard-outside", submit1(part, req(0, EXO_BLK_DISCARD, 0, 65 * 512, 0, 0)) == E(EXO_ERANGE));
	EXPECT("blk-part-derive-outside", exo_call(EXO_SYS_CAP_DERIVE, part, EXO_R_ALL, PART_FIRST - 1, 2) == E(EXO_EINVAL) &&
	       exo_call(EXO_SYS_CAP_DERIVE, part, EXO_R_ALL, PART_FIRST + 32, 33) == E(EXO_EINVAL));
	int64_t sub = exo_call(EXO_SYS_CAP_DERIVE, part, EXO_R_READ | EXO_R_DERIVE, PART_FIRST + 8, 8);
	EXPECT("blk-read-only-cap-refuses-write", sub > 0 &&
	       submit1(sub, req(frames, EXO_BLK_WRITE, 0, 512, 0, 0)) == E(EXO_EACCES) &&
	       submit1(sub, req(0, EXO_BLK_FLUSH, 0, 0, 0, 0)) == E(EXO_EACCES));
	EXPECT("blk-revoke-partition", exo_call(EXO_SYS_CAP_REVOKE, part) == 0 &&
	       submit1(sub, req(frames, EXO_BLK_READ, 0, 512, 0, 0)) == E(EXO_EBADF));
	if (info->discard)
		EXPECT("blk-discard", submit1(part, req(0, EXO_BLK_DISCARD, 0, 16 * 512, 32, 40)) == 1 &&
		       wait_done(part, 1, NULL) == 1);

	/* bad buffers */
	struct exo_cap_info fi;
	exo_call(EXO_SYS_CAP_INSPECT, frames, &fi);
	int64_t ro = exo_call(EXO_SYS_CAP_DERIVE, frames, EXO_R_READ, fi.first, fi.count);
	EXPECT("blk-bad-read-into-read-only-frame", submit1(disk, req(ro, EXO_BLK_READ, 0, 512, 0, 0)) == E(EXO_EACCES));
	EXPECT("blk-bad-partial-sector", submit1(disk, req(frames, EXO_BLK_READ, 0, 100, 0, 0)) == E(EXO_ERANGE));
	EXPECT("blk-bad-offset-past-end", submit1(disk, req(frames, EXO_BLK_READ, BUF_PAGES * 4096, 512, 0, 0)) == E(EXO_EINVAL));
	EXPECT("blk-bad-length-past-end", submit1(disk, req(frames, EXO_BLK_READ, BUF_PAGES * 4096 - 512, 1024, 0, 0)) == E(EXO_EINVAL));
	EXPECT("blk-bad-too-long", submit1(disk, req(frames, EXO_BLK_READ, 0, 65 * 1024, 0, 0)) == E(EXO_ERANGE));
	EXPECT("blk-bad-empty-slot", submit1(disk, req(500, EXO_BLK_READ, 0, 512, 0, 0)) == E(EXO_EBADF));
	EXPECT("blk-bad-op", submit1(disk, req(frames, 9, 0, 512, 0, 0)) == E(EXO_EINVAL));
	EXPECT("blk-bad-flush-with-length", submit1(disk, req(0, EXO_BLK_FLUSH, 0, 512, 0, 0)) == E(EXO_EINVAL));
	struct exo_blk_req mixed[2] = { req(frames, EXO_BLK_WRITE, 0, 512, 5000, 50),
					req(frames, EXO_BLK_WRITE, 0, 512, info->sectors, 51) };
	EXPECT("blk-bad-batch-refused-whole", exo_call(EXO_SYS_BLK_SUBMIT, disk, mixed, 2) == E(EXO_ERANGE) &&
	       wait_done(disk, 1, NULL) == -1);

	/* a pin keeps the frame of a request whose cap is deleted meanwhile */
	int64_t before = budget_left();
	int64_t lone = map_new_frames(LONE_VA, 2);
	fill(LONE_VA - BUF_VA, FIRST, 16);
	EXPECT("blk-pin-submit", submit1(disk, req(lone, EXO_BLK_WRITE, 0, 8192, 6000, 61)) == 1);
	exo_call(EXO_SYS_CAP_DELETE, lone);	/* unmaps it; the pin keeps the frames */
	EXPECT("blk-pin-completes", wait_done(disk, 1, NULL) == 1);
	EXPECT("blk-pin-frames-freed-after", budget_left() == before);
	/* what the deleted frames held went to the disk: sectors 6000.. */
	memset(buf, 0, 8192);
	EXPECT("blk-pin-data-intact", submit1(disk, req(frames, EXO_BLK_READ, 0, 8192, 6000, 62)) == 1 &&
	       wait_done(disk, 1, NULL) == 1 && matches(0, FIRST, 16));

	/* revoking the budget of a frame in a request waits for the disk */
	int64_t budget = exo_call(EXO_SYS_CAP_DERIVE, EXO_SLOT_MEMORY, EXO_R_ALL, 0, 16);
	int64_t page = exo_call(EXO_SYS_MEM_ALLOC, budget, 16);
	struct exo_blk_req big[4];
	for (int i = 0; i < 4; i++)
		big[i] = req(page, EXO_BLK_READ, (uint64_t)i * 16384, 16384, (uint64_t)i * 32, 70 + (uint64_t)i);
	EXPECT("blk-revoke-submit", exo_call(EXO_SYS_BLK_SUBMIT, disk, big, 4) == 4);
	struct exo_cap_info bi;
	EXPECT("blk-revoke-in-flight", exo_call(EXO_SYS_CAP_REVOKE, budget) == 0 &&
	       exo_call(EXO_SYS_CAP_INSPECT, budget, &bi) == 0 && bi.count == 16);
	EXPECT("blk-revoked-requests-completed", wait_done(disk, 4, NULL) == 4);
	irq_wakes_waiter();
	irq_other_port();
}

/* Batches of 64 reads, each waited for only on the notification (no
 * timed polling): every wait must end by a signal, i.e. the device's
 * interrupt reached the kernel even while completions kept coming. */
static void irq_wakes_waiter(void)
{
	struct exo_ring_done d[64];
	struct exo_blk_req r[64];
	int timeouts = 0, waits = 0, got = 0, want = 0;

	for (int round = 0; round < 40 && timeouts == 0; round++) {
		for (int i = 0; i < 64; i++)
			r[i] = req(frames, EXO_BLK_READ, 0, BUF_PAGES * 4096,
				   (uint64_t)((round * 64 + i) * 128 % 8064), (uint64_t)i);
		if (exo_call(EXO_SYS_BLK_SUBMIT, disk, r, 64) != 64)
			break;
		want += 64;
		for (int left = 64; left > 0 && timeouts == 0;) {
			int64_t k = exo_call(EXO_SYS_RING_REAP, disk, d, 64);
			if (k > 0) {
				left -= (int)k;
				got += (int)k;
				continue;
			}
			waits++;
			if (exo_call(EXO_SYS_NOTIFY_WAIT, note, 3 * SECOND) == E(EXO_ETIMEDOUT))
				timeouts++;
		}
	}
	printf("info %d reads, %d waits, %d ended without a signal\n", got, waits, timeouts);
	EXPECT("blk-irq-wakes-waiter", timeouts == 0 && got == want && want == 40 * 64);
}

/* Two holders of one disk: a flood of completions for the disk's port
 * that nobody reaps must not keep a partition's waiter from its own
 * completion (the device's interrupts stay on for it). */
static void irq_other_port(void)
{
	struct exo_ring_done d[64];
	struct exo_blk_req r[64];
	int64_t part = exo_call(EXO_SYS_CAP_DERIVE, disk, EXO_R_ALL, PART_FIRST, 64);
	int64_t pnote = exo_call0(EXO_SYS_NOTIFY_CREATE);
	int missed = 0, rounds = 0;

	if (part < 0 || pnote < 0 || exo_call(EXO_SYS_RING_BIND, part, pnote, 3) < 0) {
		EXPECT("blk-irq-other-port-setup", 0);
		return;
	}
	for (; rounds < 20 && !missed; rounds++) {
		for (int i = 0; i < 63; i++)
			r[i] = req(frames, EXO_BLK_READ, 0, BUF_PAGES * 4096,
				   (uint64_t)((rounds * 63 + i) * 128 % 8064), (uint64_t)i);
		if (exo_call(EXO_SYS_BLK_SUBMIT, disk, r, 63) != 63)
			break;
		if (submit1(part, req(frames, EXO_BLK_READ, BUF_PAGES * 4096 - 4096, 4096, 0, 99)) != 1)
			break;
		/* the partition's holder waits; the disk's does not reap */
		int got = 0;
		while (got == 0) {
			int64_t k = exo_call(EXO_SYS_RING_REAP, part, d, 64);
			if (k > 0)
				got = (int)k;
			else if (exo_call(EXO_SYS_NOTIFY_WAIT, pnote, 3 * SECOND) == E(EXO_ETIMEDOUT)) {
				missed++;
				break;
			}
		}
		wait_done(disk, 63, NULL);
	}
	printf("info %d rounds, %d partition waits ended without a signal\n", rounds, missed);
	EXPECT("blk-irq-other-port-woken", missed == 0 && rounds == 20);
	exo_call(EXO_SYS_CAP_DELETE, part);
}

static void phase_read(void)
{
	memset(buf, 0, 65536);
	struct exo_blk_req r[2] = { req(frames, EXO_BLK_READ, 0, 32768, FIRST, 1),
				    req(frames, EXO_BLK_READ, 32768, 4096, PART_FIRST, 2) };
	EXPECT("blk-reboot-read", exo_call(EXO_SYS_BLK_SUBMIT, disk, r, 2) == 2 && wait_done(disk, 2, NULL) == 2);
	EXPECT("blk-reboot-pattern-survived", matches(0, FIRST, 64));
	EXPECT("blk-reboot-partition-write-survived", matches(32768, PART_FIRST, 8));
}

int main(int argc, char **argv)
{
	const struct exo_start *st = libos_start_info;
	if (argc != 3 && argc != 4)
		return 2;
	const char *model = argc == 4 ? argv[3] : "virtio-blk";
	seed = (unsigned)strtoul(argv[2], NULL, 0);
	EXPECT("blk-cap-given", st && st->blk_count == 1);
	if (!st || st->blk_count != 1)
		return 1;
	disk = (int64_t)st->blk_slot_first;
	struct exo_cap_info ci;
	struct exo_blk_info info;
	memset(&info, 0, sizeof info);
	EXPECT("blk-info", exo_call(EXO_SYS_CAP_INSPECT, disk, &ci) == 0 && ci.type == EXO_CAP_BLOCK &&
	       exo_call(EXO_SYS_BLK_INFO, disk, &info) == 0 && ci.first == 0 && ci.count == info.sectors);
	EXPECT("blk-info-geometry", info.sectors == 8192 && info.disk_sectors == 8192 && info.sector_size == 512);
	EXPECT("blk-info-cache-flush", info.flush == 1 && info.write_cache == 1 && info.read_only == 0);
	EXPECT("blk-info-model", !strcmp(info.model, model) && info.queue >= 32);
	frames = map_new_frames(BUF_VA, BUF_PAGES);
	note = exo_call0(EXO_SYS_NOTIFY_CREATE);
	EXPECT("blk-bind", exo_call(EXO_SYS_RING_BIND, disk, note, 1) == 0);
	if (!strcmp(argv[1], "write"))
		phase_write(&info);
	else
		phase_read();
	printf(failures ? "some checks failed\n" : "all checks passed\n");
	return failures ? 1 : 0;
}
