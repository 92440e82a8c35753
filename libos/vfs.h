/*
 * The file seam of the library OS.  Two small ops tables carry it:
 *
 * - struct file_ops: what one kind of open file description does (a file
 *   of a file system, a device, a pipe; later sockets, eventfd, epoll).
 *   One struct file per open file description, shared by the descriptors
 *   dup'ed from it; the descriptor table (fd.c) maps numbers to them.
 * - struct vnode_ops: what one file system does with its nodes (tmpfs.c;
 *   devfs.c builds on tmpfs; later CryptoFS and procfs).  vfs.c resolves
 *   paths across the mount table and serves the calls common to all.
 *
 * The contract (docs/LIBOS.md has it for readers): every op returns
 * -errno (Linux values) on failure; buffers named `ubuf` are the program's
 * memory and are touched only through lo_copy_in/lo_copy_out, so a bad
 * pointer gives -EFAULT; an op left NULL gets the default Linux answer
 * named beside it.  Ops never block forever: a kind that would wait for
 * another process says so in its own comment.
 */
#ifndef EXO_LIBOS_VFS_H
#define EXO_LIBOS_VFS_H

#include <stddef.h>
#include <stdint.h>

#include "libos/lx.h"

struct file;
struct vnode;
struct mount;

struct file_ops {
	int64_t (*read)(struct file *f, void *ubuf, uint64_t len);		/* NULL: EINVAL */
	int64_t (*write)(struct file *f, const void *ubuf, uint64_t len);	/* NULL: EINVAL */
	int64_t (*pread)(struct file *f, void *ubuf, uint64_t len, uint64_t off);	/* NULL: ESPIPE */
	int64_t (*pwrite)(struct file *f, const void *ubuf, uint64_t len, uint64_t off); /* NULL: ESPIPE */
	int64_t (*lseek)(struct file *f, int64_t off, int whence);	/* NULL: ESPIPE */
	int64_t (*ioctl)(struct file *f, uint64_t cmd, uint64_t arg);	/* NULL: ENOTTY */
	int (*stat)(struct file *f, struct lx_stat *st);		/* required */
	int (*poll)(struct file *f);			/* LX_POLL* ready now; NULL: in and out */
	int (*truncate)(struct file *f, uint64_t len);		/* NULL: EINVAL */
	int64_t (*getdents)(struct file *f, void *ubuf, uint64_t len);	/* NULL: ENOTDIR */
	int (*fsync)(struct file *f);				/* NULL: EINVAL */
	void (*release)(struct file *f);	/* the last descriptor closed; may be NULL */
};

/* An open file description. */
struct file {
	const struct file_ops *ops;
	uint32_t refs;		/* descriptors naming it */
	uint32_t flags;		/* O_ACCMODE and the status flags (O_APPEND, O_NONBLOCK...) */
	uint64_t pos;
	struct vnode *vn;	/* the node it was opened from; NULL for pipes, sockets */
	void *priv;		/* the kind's own state */
};

/* One entry a directory yields. */
struct vfs_dirent {
	uint64_t ino;
	uint8_t type;		/* DT_*: the st_mode type >> 12 */
	const char *name;
	size_t len;
};

struct vnode_ops {
	/* directories; the VFS checks types, existence and emptiness first */
	int (*lookup)(struct vnode *dir, const char *name, size_t len, struct vnode **out);
	/* a new node of mode's type; target: a symlink's contents */
	int (*create)(struct vnode *dir, const char *name, size_t len, uint32_t mode,
		      uint64_t rdev, const char *target, size_t tlen, struct vnode **out);
	int (*link)(struct vnode *dir, const char *name, size_t len, struct vnode *v);
	int (*unlink)(struct vnode *dir, const char *name, size_t len);
	/* moves an entry; the VFS removed the target already */
	int (*rename)(struct vnode *odir, const char *oname, size_t olen,
		      struct vnode *ndir, const char *nname, size_t nlen);
	/* swaps two entries' nodes (RENAME_EXCHANGE); NULL: EINVAL */
	int (*exchange)(struct vnode *odir, const char *oname, size_t olen,
			struct vnode *ndir, const char *nname, size_t nlen);
	/* the entry at *pos and moves *pos on: 1, or 0 at the end */
	int (*readdir)(struct vnode *dir, uint64_t *pos, struct vfs_dirent *out);
	/* regular files */
	int64_t (*read)(struct vnode *v, void *ubuf, uint64_t len, uint64_t off);
	int64_t (*write)(struct vnode *v, const void *ubuf, uint64_t len, uint64_t off);
	int (*truncate)(struct vnode *v, uint64_t len);
	/* symbolic links: the target, valid while the node lives */
	int (*readlink)(struct vnode *v, const char **target, size_t *len);
	/* devices choose their own file ops at open; NULL: the VFS's */
	int (*open)(struct vnode *v, struct file *f);
	int (*statfs)(struct vnode *v, struct lx_statfs *out);
	/* no name and no reference is left */
	void (*destroy)(struct vnode *v);
	/* make the node's data durable; NULL: nothing to do (memory) */
	int (*fsync)(struct vnode *v);
	/* chmod, chown, utimensat changed the attributes; NULL: kept in memory */
	int (*setattr)(struct vnode *v);
	/* 1: rename replaces an existing target itself, atomically (the VFS
	 * does not unlink it first) */
	int rename_replaces;
};

struct vnode {
	const struct vnode_ops *ops;
	struct mount *mnt;
	struct vnode *parent;		/* directories: the directory naming it */
	struct vnode *mounted;		/* the root of a file system mounted here */
	uint64_t ino, rdev, size;
	uint32_t mode, uid, gid;
	uint32_t nlink;			/* names (directories: 2 + subdirectories) */
	uint32_t refs;			/* open files, the cwd, mounts */
	struct lx_timespec atime, mtime, ctime;
};

struct mount {
	struct vnode *root;
	struct vnode *covered;		/* the directory it is mounted on */
	uint64_t dev;
	uint64_t next_ino;
	int64_t magic;			/* statfs f_type */
	const char *type;
	struct mount *next;
};

/* vfs.c */
struct lx_timespec vfs_now(void);
void vfs_ref(struct vnode *v);
void vfs_put(struct vnode *v);
/* Mounts a file system root on path (which must be a directory). */
int vfs_mount(const char *path, struct vnode *root, const char *type, int64_t magic);
/* A path's node, from dirfd (AT_FDCWD or an open directory) for relative
 * paths; path is the program's memory.  flags: LX_AT_SYMLINK_NOFOLLOW,
 * LX_AT_EMPTY_PATH. */
int vfs_lookup_at(int dirfd, const char *upath, int flags, struct vnode **out);
/* The same for a path already in libOS memory. */
int vfs_lookup_k(struct vnode *start, const char *path, int follow, struct vnode **out);
/* Result of resolving all but the last component of a path. */
struct vfs_parent {
	char buf[LX_PATH_MAX];
	struct vnode *dir;		/* the directory the last name lives in */
	const char *name;		/* the last name ("" for "/") */
	size_t len;
	int trailing_slash;
	struct vnode *node;		/* what the name is now, or NULL */
};
/* follow: whether a symlink in the last place is followed (to its target's
 * parent and name). */
int vfs_parent_at(int dirfd, const char *upath, int follow, struct vfs_parent *p);
int vfs_parent_k(struct vnode *start, const char *path, int follow, struct vfs_parent *p);
/* Creates a node (regular, directory, symlink, device) in the kernel path's
 * parent; for initramfs and devfs. */
int vfs_make_k(const char *path, uint32_t mode, uint64_t rdev, const char *target, size_t tlen,
	       struct vnode **out);
void vfs_fill_stat(struct vnode *v, struct lx_stat *st);
/* An open file on a node, with the VFS's file ops (or the node's own). */
int vfs_open_node(struct vnode *v, uint32_t flags, struct file **out);
struct vnode *vfs_root(void);
struct vnode *vfs_cwd(void);
void vfs_set_cwd(struct vnode *v);
extern uint32_t vfs_umask;
void vfs_init(void);

/* fd.c: the descriptor table */
struct file *file_new(const struct file_ops *ops, uint32_t flags);
void file_ref(struct file *f);
void file_put(struct file *f);
/* The file behind fd, or NULL. */
struct file *fd_get(int fd);
/* Installs f at the lowest free descriptor >= min: the descriptor, or
 * -EMFILE; takes a reference of its own. */
int fd_install(struct file *f, int min, int cloexec);
/* 0 when a descriptor is free, else -EMFILE: calls that make something
 * check first, as Linux does, so they fail before making it. */
int fd_available(void);
/* Puts f at descriptor fd exactly, closing what was there. */
int fd_install_at(struct file *f, int fd, int cloexec);
int fd_close(int fd);
int fd_get_cloexec(int fd);
void fd_set_cloexec(int fd, int on);
uint64_t fd_limit(void);
int fd_set_limit(uint64_t soft, uint64_t hard);
uint64_t fd_hard_limit(void);

/* tmpfs.c */
struct vnode *tmpfs_new(void);

/* devfs.c */
/* Mounts a devfs on path and makes its device nodes. */
int devfs_mount(const char *path);
/* Device files: chooses f's ops by the node's device number. */
int devfs_open(struct vnode *v, struct file *f);
/* Opens the console as stdin, stdout and stderr (fds 0-2). */
void devfs_open_stdio(void);

/* initramfs.c: unpacks the "initramfs" module, if any, into the root. */
void initramfs_load(void);

/* pipe.c */
int pipe_create(struct file **rd, struct file **wr, uint32_t flags);

#endif
