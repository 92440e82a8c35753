/*
 * fsck: authenticate every reachable block, check the tree's invariants
 * (one owner per block, space map equal to the reachable set, directory
 * hashing, link counts, no orphans) and name what each damage costs.
 */
#include <errno.h>
#include <string.h>
#include "crypto/crypto.h"
#include "fs/cfs_internal.h"

enum { FSCK_MAX_DEPTH = 128, FSCK_MAX_LEAK_REPORTS = 16 };

struct fsck {
	struct cfs *fs;
	cfs_fsck_report report;
	void *ctx;
	struct cfs_fsck_stats *st;
	uint64_t *seen_blocks;
	uint64_t *seen_inodes;
	int problems;
	char path[CFS_PATH_MAX + CFS_NAME_MAX + 2];
	const char *what;           /* label for blocks outside the namespace */
};

/* Set bit n and say whether it was already set. */
static bool test_and_set(uint64_t *map, uint64_t n)
{
	bool was = (map[n / 64] >> (n % 64)) & 1;

	map[n / 64] |= 1ull << (n % 64);
	return was;
}

/* Count and report one problem. */
static void problem(struct fsck *f, const char *path, uint64_t blkno, const char *what)
{
	f->problems++;
	f->report(f->ctx, path, blkno, what);
}

/* Each block: authentic, inside the volume and owned only once. */
static int visit_block(void *vctx, uint64_t blkno, int level, uint64_t index, int err)
{
	struct fsck *f = vctx;
	char what[96];

	(void)index;
	if (err < 0) {
		if (level == 0 && f->what == NULL) {
			uint64_t off = index * CFS_BLOCK_SIZE;
			char *p = what + sizeof what;

			*--p = 0;
			do {
				*--p = (char)('0' + off % 10);
				off /= 10;
			} while (off);
			p -= 33;
			memcpy(p, "damaged block lost data at offset", 33);
			problem(f, f->path, blkno, p);
		} else {
			problem(f, f->what ? f->what : f->path, blkno,
				"damaged block (fails authentication)");
		}
		return 0;
	}
	f->st->blocks++;
	if (blkno >= f->fs->sb.nblocks || blkno < CFS_FIRST_DATA_BLOCK) {
		problem(f, f->what ? f->what : f->path, blkno, "block address outside the volume");
		return 0;
	}
	if (test_and_set(f->seen_blocks, blkno))
		problem(f, f->what ? f->what : f->path, blkno, "block referenced twice");
	return 0;
}

/* Report a directory-structure problem under the current path. */
static void dir_problem(void *vctx, const char *what)
{
	struct fsck *f = vctx;

	problem(f, f->path, 0, what);
}

struct child_list { uint64_t ino; uint8_t type; uint8_t len; char name[CFS_NAME_MAX + 1]; };

static int check_inode(struct fsck *f, uint64_t ino, uint64_t parent, uint8_t type, int depth);

struct dir_walk { struct fsck *f; uint64_t ino; int depth; uint32_t subdirs; size_t base; int rc; };

/* Extend the path by one entry and check the inode it names. */
static int dir_child(void *vctx, const struct cfs_dirent *e, uint64_t next)
{
	struct dir_walk *w = vctx;
	struct fsck *f = w->f;
	size_t base = w->base;

	(void)next;
	if (base + 1 + e->namelen >= sizeof f->path)
		return 0;
	if (base > 1)
		f->path[base++] = '/';
	memcpy(f->path + base, e->name, e->namelen);
	f->path[base + e->namelen] = 0;
	if (e->type == (CFS_S_IFDIR >> 12))
		w->subdirs++;
	w->rc = check_inode(f, e->ino, w->ino, e->type, w->depth + 1);
	f->path[w->base] = 0;
	return w->rc < 0 ? w->rc : 0;
}

/* Check one inode reached by the path in f->path, then its children. */
static int check_inode(struct fsck *f, uint64_t ino, uint64_t parent, uint8_t type, int depth)
{
	struct cfs_inode in;
	struct cfs_obj o;
	int rc;

	if (ino == 0 || ino >= f->fs->pl.inode_count) {
		problem(f, f->path, 0, "entry names an inode outside the table");
		return 0;
	}
	rc = cfs_inode_get(f->fs, ino, &in);
	if (rc < 0) {
		problem(f, f->path, f->fs->err_blkno, "inode table block damaged");
		return 0;
	}
	if (test_and_set(f->seen_inodes, ino)) {
		problem(f, f->path, 0, "inode reached twice (hard link or loop)");
		return 0;
	}
	uint32_t fmt = in.mode & CFS_S_IFMT;

	if (in.mode == 0 || (fmt != CFS_S_IFREG && fmt != CFS_S_IFDIR && fmt != CFS_S_IFLNK)) {
		problem(f, f->path, 0, "entry names a free or invalid inode");
		return 0;
	}
	if (type != (fmt >> 12))
		problem(f, f->path, 0, "entry type differs from inode type");
	cfs_obj_of(&o, ino, &in);
	f->what = fmt == CFS_S_IFREG ? NULL : f->path;
	rc = cfs_obj_walk(f->fs, &o, visit_block, f);
	f->what = NULL;
	if (rc < 0)
		return rc;
	if (fmt == CFS_S_IFREG) {
		f->st->files++;
		return 0;
	}
	if (fmt == CFS_S_IFLNK) {
		f->st->symlinks++;
		if (in.size == 0 || in.size >= CFS_PATH_MAX)
			problem(f, f->path, 0, "symlink target length invalid");
		return 0;
	}
	f->st->dirs++;
	if (in.parent != parent)
		problem(f, f->path, 0, "directory parent link wrong");
	if (depth > FSCK_MAX_DEPTH) {
		problem(f, f->path, 0, "directories nested too deep to check");
		return 0;
	}
	rc = cfs_dir_check(f->fs, ino, dir_problem, f);
	if (rc < 0) {
		problem(f, f->path, f->fs->err_blkno, "directory unreadable (damaged block)");
		return 0;
	}
	struct dir_walk w = { f, ino, depth, 0, strlen(f->path), 0 };

	rc = cfs_dir_iterate(f->fs, ino, 0, dir_child, &w);
	if (rc < 0 && rc != -EIO)
		return rc;
	if (rc == -EIO)
		problem(f, f->path, f->fs->err_blkno, "directory unreadable (damaged block)");
	else if (in.nlink != 2 + w.subdirs)
		problem(f, f->path, 0, "directory link count wrong");
	return 0;
}

/* Read both slots again: a slot that is not authentic is reported (a torn
 * write of the older slot looks the same, so it is a warning when the
 * header checksum fails and a problem when the checksum holds). */
static void check_superblocks(struct fsck *f)
{
	struct cfs *fs = f->fs;
	struct cfs_sb sb;
	uint8_t sum[32];

	for (uint64_t s = 0; s < CFS_SB_SLOTS; s++) {
		struct cfs_sb_payload pl;

		if (fs->cfg.read(fs->cfg.ctx, s, &sb) < 0) {
			problem(f, "<superblock>", s, "superblock slot unreadable");
			continue;
		}
		cx_hash(sum, 32, &sb, offsetof(struct cfs_sb, checksum));
		if (memcmp(sum, sb.checksum, 32) != 0 || memcmp(sb.magic, CFS_MAGIC, 8) != 0) {
			f->report(f->ctx, "<superblock>", s,
				  "warning: superblock slot damaged or torn (the other slot is used)");
			continue;
		}
#ifndef FUZZING
		if (cx_xaead_open((uint8_t *)&pl, sb.sealed_payload, sizeof pl, (const uint8_t *)&sb,
				  CFS_SB_HEADER_BYTES, sb.payload_nonce, fs->keys->sb_key) < 0)
			problem(f, "<superblock>", s, "superblock slot fails authentication");
		cx_wipe(&pl, sizeof pl);
#else
		(void)pl;
#endif
	}
}

/* Inodes in use that no directory reaches. */
static int check_orphans(struct fsck *f)
{
	for (uint64_t ino = 2; ino < f->fs->pl.inode_count; ino++) {
		struct cfs_inode in;

		if ((f->seen_inodes[ino / 64] >> (ino % 64)) & 1)
			continue;
		if (cfs_inode_get(f->fs, ino, &in) < 0)
			continue;   /* the damaged table block is already reported */
		if (in.mode != 0)
			problem(f, "<orphan inode>", ino, "inode in use but in no directory");
	}
	return 0;
}

/* The space map must equal the set of reachable blocks. */
static void check_space_map(struct fsck *f)
{
	struct cfs *fs = f->fs;
	int reports = 0;

	for (uint64_t b = CFS_FIRST_DATA_BLOCK; b < fs->sb.nblocks; b++) {
		bool seen = (f->seen_blocks[b / 64] >> (b % 64)) & 1;

		if (seen == cfs_block_in_use(fs, b))
			continue;
		if (reports++ < FSCK_MAX_LEAK_REPORTS)
			problem(f, "<space map>", b, seen ? "block in use but marked free"
							  : "block marked used but unreferenced");
		else
			f->problems++;
	}
}

/* Check the mounted volume (see cfs.h); returns the number of problems. */
int cfs_fsck(struct cfs *fs, cfs_fsck_report report, void *ctx, struct cfs_fsck_stats *st)
{
	struct cfs_fsck_stats local;
	struct fsck *f;
	struct cfs_obj o;
	int rc;

	if (!st)
		st = &local;
	memset(st, 0, sizeof *st);
	f = cfs_alloc(fs, sizeof *f);
	if (!f)
		return -ENOMEM;
	f->fs = fs;
	f->report = report;
	f->ctx = ctx;
	f->st = st;
	f->seen_blocks = cfs_alloc(fs, fs->bm_words * 8);
	f->seen_inodes = cfs_alloc(fs, (fs->pl.inode_count + 63) / 64 * 8);
	rc = -ENOMEM;
	if (!f->seen_blocks || !f->seen_inodes)
		goto out;
	check_superblocks(f);
	f->what = "<inode table>";
	cfs_obj_of(&o, CFS_OBJ_ITABLE, &fs->pl.itable);
	rc = cfs_obj_walk(fs, &o, visit_block, f);
	f->what = "<space map>";
	cfs_obj_of(&o, CFS_OBJ_BITMAP, &fs->pl.bitmap);
	if (rc == 0)
		rc = cfs_obj_walk(fs, &o, visit_block, f);
	f->what = NULL;
	strcpy(f->path, "/");
	if (rc == 0)
		rc = check_inode(f, CFS_ROOT_INO, CFS_ROOT_INO, CFS_S_IFDIR >> 12, 0);
	if (rc == 0)
		rc = check_orphans(f);
	if (rc == 0)
		check_space_map(f);
	if (rc == 0)
		rc = f->problems;
out:
	cfs_free(fs, f->seen_blocks);
	cfs_free(fs, f->seen_inodes);
	cfs_free(fs, f);
	return rc;
}
