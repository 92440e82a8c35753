/*
 * `cryptofs mount`: the FUSE front end (libfuse3 high-level API).  FUSE
 * runs several threads; a mounted volume is not thread-safe, so one lock
 * serialises every call into the core, except that reads decrypt their
 * blocks outside it (cfs_read_plan / cfs_read_block), so the kernel's
 * parallel read-ahead requests decrypt on several cores.  Every fsync
 * commits, a thread commits once a second when something changed, and
 * unmounting commits the rest.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "crypto/crypto.h"
#include "fs/tool/tool.h"

/* The volume this FUSE session serves. */
static pthread_mutex_t core_lock = PTHREAD_MUTEX_INITIALIZER;

enum { COMMIT_INTERVAL_S = 1 };

static struct cfs *volume(void)
{
	return fuse_get_context()->private_data;
}

/* A core stat as struct stat, owned by the mounting user. */
static void to_stat(const struct cfs_stat *cs, struct stat *st)
{
	memset(st, 0, sizeof *st);
	st->st_ino = cs->ino;
	st->st_mode = cs->mode;
	st->st_nlink = cs->nlink;
	st->st_size = (off_t)cs->size;
	st->st_blocks = (blkcnt_t)((cs->size + 511) / 512);
	st->st_blksize = CFS_BLOCK_SIZE;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtim.tv_sec = (time_t)(cs->mtime_ns / 1000000000);
	st->st_mtim.tv_nsec = (long)(cs->mtime_ns % 1000000000);
	st->st_ctim.tv_sec = (time_t)(cs->ctime_ns / 1000000000);
	st->st_ctim.tv_nsec = (long)(cs->ctime_ns % 1000000000);
	st->st_atim = st->st_mtim;
}

/* Log damage with the path so the person at the mount knows what was lost. */
static int report(const char *path, int rc)
{
	if (rc == -EIO)
		tool_fail(volume(), path, rc);
	return rc;
}

/* FUSE getattr: by handle when open, else by path. */
static int op_getattr_unlocked(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct cfs_stat cs;
	int rc = fi ? cfs_fstat(volume(), (int64_t)fi->fh, &cs) : cfs_stat(volume(), path, &cs);

	if (rc == 0)
		to_stat(&cs, st);
	return report(path, rc);
}

/* FUSE offsets: 1 after ".", 2 after "..", core cookie + 2 after an entry
 * (core cookies are never 0). */
enum { FIRST_COOKIE = 2 };

struct fill { void *buf; fuse_fill_dir_t filler; };

/* Pass one directory entry to FUSE with its resume cookie. */
static int fill_one(void *ctx, const char *name, size_t len, const struct cfs_stat *cs,
		    uint64_t next)
{
	struct fill *f = ctx;
	char n[CFS_NAME_MAX + 1];
	struct stat st;

	memcpy(n, name, len);
	n[len] = 0;
	memset(&st, 0, sizeof st);
	st.st_ino = cs->ino;
	st.st_mode = cs->mode;
	return f->filler(f->buf, n, &st, (off_t)(next + FIRST_COOKIE), 0);
}

/* FUSE readdir: ".", ".." then the entries, resumable by offset. */
static int op_readdir_unlocked(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fill f = { buf, filler };

	(void)fi; (void)flags;
	if (off == 0 && filler(buf, ".", NULL, 1, 0))
		return 0;
	if (off <= 1 && filler(buf, "..", NULL, FIRST_COOKIE, 0))
		return 0;
	return report(path, cfs_readdir(volume(), path, off <= FIRST_COOKIE ? 0 :
					(uint64_t)off - FIRST_COOKIE, fill_one, &f));
}

/* FUSE open: the core handle goes into fi->fh. */
static int op_open_unlocked(const char *path, struct fuse_file_info *fi)
{
	int flags = (fi->flags & O_TRUNC) ? CFS_O_TRUNC : 0;
	int64_t fh = cfs_open(volume(), path, flags, 0);

	if (fh < 0)
		return report(path, (int)fh);
	fi->fh = (uint64_t)fh;
	return 0;
}

/* FUSE create: create and open a regular file. */
static int op_create_unlocked(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	int flags = CFS_O_CREAT | ((fi->flags & O_EXCL) ? CFS_O_EXCL : 0) |
		    ((fi->flags & O_TRUNC) ? CFS_O_TRUNC : 0);
	int64_t fh = cfs_open(volume(), path, flags, mode);

	if (fh < 0)
		return report(path, (int)fh);
	fi->fh = (uint64_t)fh;
	return 0;
}

/* After a batch failed: open its blocks one by one, and read any that
 * still fails under the lock (a commit may have recycled it). */
static int64_t retry_failed(const char *path, char *buf, off_t off, struct fuse_file_info *fi,
			    const struct cfs_block_ref *refs, size_t n, uint8_t *scratch)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t *dst = (uint8_t *)buf + refs[i].buf_offset;
		int64_t rc;

		if (cfs_read_block(volume(), &refs[i], dst, scratch) == 0)
			continue;
		pthread_mutex_lock(&core_lock);
		rc = cfs_read(volume(), (int64_t)fi->fh, dst, CFS_BLOCK_SIZE,
			      (uint64_t)off + refs[i].buf_offset);
		if (rc < 0)
			report(path, (int)rc);
		pthread_mutex_unlock(&core_lock);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* FUSE read: plan under the lock, decrypt outside it, and retry under the
 * lock any block a concurrent commit recycled. */
static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	enum { MAX_REFS = 64 };
	struct cfs_block_ref refs[MAX_REFS];
	static _Thread_local uint8_t scratch[CFS_READ_SCRATCH];
	size_t n = 0;
	int64_t got;

	pthread_mutex_lock(&core_lock);
	if (off % CFS_BLOCK_SIZE)
		got = cfs_read(volume(), (int64_t)fi->fh, buf, size, (uint64_t)off);
	else
		got = cfs_read_plan(volume(), (int64_t)fi->fh, buf, size, (uint64_t)off, refs,
				    MAX_REFS, &n);
	if (got < 0)
		report(path, (int)got);
	pthread_mutex_unlock(&core_lock);
	if (got >= 0 && cfs_read_blocks(volume(), refs, n, buf, scratch) < 0) {
		int64_t rc = retry_failed(path, buf, off, fi, refs, n, scratch);

		if (rc < 0)
			got = rc;
	}
	cx_wipe(refs, n * sizeof refs[0]);      /* they hold the file's key */
	return (int)got;
}

/* FUSE write. */
static int op_write_unlocked(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	int64_t n = cfs_write(volume(), (int64_t)fi->fh, buf, size, (uint64_t)off);

	return n < 0 ? report(path, (int)n) : (int)n;
}

/* FUSE truncate, by handle when open. */
static int op_truncate_unlocked(const char *path, off_t size, struct fuse_file_info *fi)
{
	if (fi)
		return report(path, cfs_ftruncate(volume(), (int64_t)fi->fh, (uint64_t)size));
	return report(path, cfs_truncate(volume(), path, (uint64_t)size));
}

/* FUSE fsync: commit. */
static int op_fsync_unlocked(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	return report(path, cfs_fsync(volume(), (int64_t)fi->fh));
}

/* FUSE release (last close); the committer makes it durable. */
static int op_release_unlocked(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	return cfs_close(volume(), (int64_t)fi->fh);
}

/* FUSE mkdir. */
static int op_mkdir_unlocked(const char *path, mode_t mode)
{
	return report(path, cfs_mkdir(volume(), path, mode));
}

/* FUSE rmdir. */
static int op_rmdir_unlocked(const char *path)
{
	return report(path, cfs_rmdir(volume(), path));
}

/* FUSE unlink. */
static int op_unlink_unlocked(const char *path)
{
	return report(path, cfs_unlink(volume(), path));
}

/* FUSE rename; RENAME_NOREPLACE is honoured, RENAME_EXCHANGE refused. */
static int op_rename_unlocked(const char *from, const char *to, unsigned int flags)
{
	struct cfs_stat st;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if ((flags & RENAME_NOREPLACE) && cfs_stat(volume(), to, &st) == 0)
		return -EEXIST;
	return report(from, cfs_rename(volume(), from, to));
}

/* FUSE symlink. */
static int op_symlink_unlocked(const char *target, const char *path)
{
	return report(path, cfs_symlink(volume(), target, path));
}

/* FUSE readlink: NUL-terminated, truncated to the buffer. */
static int op_readlink_unlocked(const char *path, char *buf, size_t size)
{
	int64_t n;

	if (size == 0)
		return -EINVAL;
	n = cfs_readlink(volume(), path, buf, size - 1);
	if (n < 0)
		return report(path, (int)n);
	buf[n] = 0;
	return 0;
}

/* FUSE chmod. */
static int op_chmod_unlocked(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return report(path, cfs_chmod(volume(), path, mode));
}

/* Owners are not stored: only no-op changes succeed. */
static int op_chown_unlocked(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	(void)path; (void)fi;
	return (uid == (uid_t)-1 || uid == getuid()) && (gid == (gid_t)-1 || gid == getgid())
	       ? 0 : -EPERM;
}

/* FUSE utimens: sets mtime (atime is not kept). */
static int op_utimens_unlocked(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct timespec now;
	uint64_t ns;

	(void)fi;
	clock_gettime(CLOCK_REALTIME, &now);
	if (!tv || tv[1].tv_nsec == UTIME_NOW)
		ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	else if (tv[1].tv_nsec == UTIME_OMIT)
		return 0;
	else
		ns = (uint64_t)tv[1].tv_sec * 1000000000ull + (uint64_t)tv[1].tv_nsec;
	return report(path, cfs_set_mtime(volume(), path, ns));
}

/* FUSE statfs. */
static int op_statfs_unlocked(const char *path, struct statvfs *sv)
{
	struct cfs_statfs sf;

	(void)path;
	cfs_statfs(volume(), &sf);
	memset(sv, 0, sizeof *sv);
	sv->f_bsize = sv->f_frsize = CFS_BLOCK_SIZE;
	sv->f_blocks = sf.blocks;
	sv->f_bfree = sv->f_bavail = sf.free_blocks;
	sv->f_files = sf.files;
	sv->f_namemax = CFS_NAME_MAX;
	return 0;
}

/* Use the core's inode numbers. */
/* The committer: a thread that commits once a second when the volume
 * changed, so a crash of the host loses at most about a second of work
 * that nobody fsynced (like a journaling file system's commit interval),
 * while closing a file costs no commit. */
static pthread_t committer;
static bool committer_running, stopping;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;

static void *committer_main(void *arg)
{
	struct cfs *fs = arg;
	struct timespec t;
	int reported = 0;

	pthread_mutex_lock(&core_lock);
	while (!stopping) {
		clock_gettime(CLOCK_REALTIME, &t);
		t.tv_sec += COMMIT_INTERVAL_S;
		pthread_cond_timedwait(&stop_cond, &core_lock, &t);
		int rc = cfs_sync(fs);

		/* one line per new failure, not one a second while it lasts
		 * (a failed commit leaves the volume read-only) */
		if (rc < 0 && rc != reported)
			tool_fail(fs, "commit", rc);
		reported = rc;
	}
	pthread_mutex_unlock(&core_lock);
	return NULL;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct cfs *fs = fuse_get_context()->private_data;

	(void)conn;
	cfg->use_ino = 1;
	/* started here: FUSE has forked into the background by now */
	committer_running = pthread_create(&committer, NULL, committer_main, fs) == 0;
	if (!committer_running)
		fprintf(stderr, "cryptofs: no commit thread: changes are committed on fsync "
			"and unmount only\n");
	return fs;
}

/* Unmount: stop the committer, commit and free the volume. */
static bool destroyed;

static void op_destroy(void *data)
{
	if (committer_running) {
		pthread_mutex_lock(&core_lock);
		stopping = true;
		pthread_cond_signal(&stop_cond);
		pthread_mutex_unlock(&core_lock);
		pthread_join(committer, NULL);
	}
	int rc = cfs_unmount(data);

	destroyed = true;
	if (rc < 0)
		tool_fail(NULL, "unmount", rc);
}

/* The entry points FUSE calls: each holds the core lock around one call. */
static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_getattr_unlocked(path, st, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_readdir_unlocked(path, buf, filler, off, fi, flags);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_open_unlocked(path, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_create_unlocked(path, mode, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_write_unlocked(path, buf, size, off, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_truncate_unlocked(path, size, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_fsync_unlocked(path, datasync, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_release_unlocked(path, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_mkdir(const char *path, mode_t mode)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_mkdir_unlocked(path, mode);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_rmdir(const char *path)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_rmdir_unlocked(path);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_unlink(const char *path)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_unlink_unlocked(path);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_rename_unlocked(from, to, flags);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_symlink(const char *target, const char *path)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_symlink_unlocked(target, path);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_readlink_unlocked(path, buf, size);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_chmod_unlocked(path, mode, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_chown_unlocked(path, uid, gid, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_utimens_unlocked(path, tv, fi);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static int op_statfs(const char *path, struct statvfs *sv)
{
	pthread_mutex_lock(&core_lock);
	int rc = op_statfs_unlocked(path, sv);

	pthread_mutex_unlock(&core_lock);
	return rc;
}

static const struct fuse_operations ops = {
	.getattr = op_getattr, .readdir = op_readdir, .open = op_open, .create = op_create,
	.read = op_read, .write = op_write, .truncate = op_truncate, .fsync = op_fsync,
	.release = op_release, .mkdir = op_mkdir, .rmdir = op_rmdir, .unlink = op_unlink,
	.rename = op_rename, .symlink = op_symlink, .readlink = op_readlink, .chmod = op_chmod,
	.chown = op_chown, .utimens = op_utimens, .statfs = op_statfs, .init = op_init,
	.destroy = op_destroy,
};

/* Run FUSE on dir with the caller's extra options. */
int tool_fuse_main(struct cfs *fs, const char *dir, int argc, char **argv)
{
	char *args[64];
	struct stat st;
	int n = 0, rc;

	errno = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "cryptofs: %s: %s\n", dir, strerror(errno ? errno : ENOTDIR));
		cfs_unmount(fs);
		return EXIT_ERROR;
	}
	args[n++] = "cryptofs";
	args[n++] = (char *)dir;
	args[n++] = "-o";
	args[n++] = "fsname=cryptofs,subtype=cryptofs,default_permissions,max_threads=4,max_idle_threads=4";
	for (int i = 0; i < argc && n < 63; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	rc = fuse_main(n, args, &ops, fs);
	if (!destroyed)     /* FUSE never started: the volume is still ours */
		cfs_unmount(fs);
	return rc == 0 ? 0 : EXIT_ERROR;
}
