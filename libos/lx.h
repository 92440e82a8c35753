/*
 * Linux ABI constants and structures (x86_64) the library OS serves: error
 * numbers, open flags, file types, and the structs the file calls copy out.
 * Written from the Linux ABI; the libOS includes no libc header for them.
 */
#ifndef EXO_LIBOS_LX_H
#define EXO_LIBOS_LX_H

#include <stdint.h>

enum {
	EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EIO = 5, ENXIO = 6, EBADF = 9, ECHILD = 10, EAGAIN = 11,
	ENOMEM = 12, EACCES = 13, EFAULT = 14, EBUSY = 16, EEXIST = 17, EXDEV = 18,
	ENODEV = 19, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EMFILE = 24, ENOTTY = 25,
	EFBIG = 27, ENOSPC = 28, ESPIPE = 29, EMLINK = 31, EPIPE = 32, ERANGE = 34,
	ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, EOVERFLOW = 75,
	EOPNOTSUPP = 95, ENODATA = 61, EMEDIUMTYPE = 124,
};

/* open(2) flags */
#define LX_O_ACCMODE 03
#define LX_O_RDONLY 0
#define LX_O_WRONLY 01
#define LX_O_RDWR 02
#define LX_O_CREAT 0100
#define LX_O_EXCL 0200
#define LX_O_NOCTTY 0400
#define LX_O_TRUNC 01000
#define LX_O_APPEND 02000
#define LX_O_NONBLOCK 04000
#define LX_O_DSYNC 010000
#define LX_O_ASYNC 020000
#define LX_O_DIRECT 040000
#define LX_O_LARGEFILE 0100000
#define LX_O_DIRECTORY 0200000
#define LX_O_NOFOLLOW 0400000
#define LX_O_NOATIME 01000000
#define LX_O_CLOEXEC 02000000
#define LX_O_PATH 010000000
#define LX_O_TMPFILE_BIT 020000000

#define LX_AT_FDCWD (-100)
#define LX_AT_SYMLINK_NOFOLLOW 0x100
#define LX_AT_REMOVEDIR 0x200
#define LX_AT_EACCESS 0x200
#define LX_AT_SYMLINK_FOLLOW 0x400
#define LX_AT_NO_AUTOMOUNT 0x800
#define LX_AT_EMPTY_PATH 0x1000
#define LX_AT_STATX_SYNC_TYPE 0x6000

/* file types and permission bits of st_mode */
#define LX_S_IFMT 0170000
#define LX_S_IFSOCK 0140000
#define LX_S_IFLNK 0120000
#define LX_S_IFREG 0100000
#define LX_S_IFBLK 0060000
#define LX_S_IFDIR 0040000
#define LX_S_IFCHR 0020000
#define LX_S_IFIFO 0010000
#define LX_S_ISDIR(m) (((m) & LX_S_IFMT) == LX_S_IFDIR)
#define LX_S_ISREG(m) (((m) & LX_S_IFMT) == LX_S_IFREG)
#define LX_S_ISLNK(m) (((m) & LX_S_IFMT) == LX_S_IFLNK)

#define LX_PATH_MAX 4096
#define LX_NAME_MAX 255
#define LX_SYMLOOP_MAX 40

#define LX_SEEK_SET 0
#define LX_SEEK_CUR 1
#define LX_SEEK_END 2
#define LX_SEEK_DATA 3
#define LX_SEEK_HOLE 4

#define LX_POLLIN 0x001
#define LX_POLLOUT 0x004
#define LX_POLLERR 0x008
#define LX_POLLHUP 0x010

#define LX_F_DUPFD 0
#define LX_F_GETFD 1
#define LX_F_SETFD 2
#define LX_F_GETFL 3
#define LX_F_SETFL 4
#define LX_F_GETLK 5
#define LX_F_SETLK 6
#define LX_F_SETLKW 7
#define LX_F_DUPFD_CLOEXEC 1030
#define LX_FD_CLOEXEC 1

struct lx_timespec {
	int64_t sec, nsec;
};

struct lx_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode, uid, gid, pad0;
	uint64_t rdev;
	int64_t size, blksize, blocks;
	struct lx_timespec atime, mtime, ctime;
	int64_t reserved[3];
};
_Static_assert(sizeof(struct lx_stat) == 144, "x86_64 struct stat");

struct lx_statx_timestamp {
	int64_t sec;
	uint32_t nsec;
	int32_t reserved;
};

struct lx_statx {
	uint32_t mask, blksize;
	uint64_t attributes;
	uint32_t nlink, uid, gid;
	uint16_t mode, pad0;
	uint64_t ino, size, blocks, attributes_mask;
	struct lx_statx_timestamp atime, btime, ctime, mtime;
	uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
	uint64_t spare[14];
};
_Static_assert(sizeof(struct lx_statx) == 256, "struct statx");

struct lx_statfs {
	int64_t type, bsize;
	uint64_t blocks, bfree, bavail, files, ffree;
	int32_t fsid[2];
	int64_t namelen, frsize, flags, spare[4];
};
_Static_assert(sizeof(struct lx_statfs) == 120, "x86_64 struct statfs");

struct lx_iovec {
	uint64_t base, len;
};

/* Device numbers as Linux encodes them in dev_t. */
static inline uint64_t lx_makedev(uint32_t major, uint32_t minor)
{
	return ((uint64_t)(major & 0xfffff000u) << 32) | ((uint64_t)(major & 0xfff) << 8) |
	       ((uint64_t)(minor & 0xffffff00u) << 12) | (minor & 0xff);
}
static inline uint32_t lx_major(uint64_t d) { return (uint32_t)(((d >> 32) & 0xfffff000u) | ((d >> 8) & 0xfff)); }
static inline uint32_t lx_minor(uint64_t d) { return (uint32_t)(((d >> 12) & 0xffffff00u) | (d & 0xff)); }

#endif
