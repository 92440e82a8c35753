/*
 * The file seam of the library OS.  Two small ops tables carry it:
 *
 * - struct file_ops: what one kind of open file description does (a file
 *   of a file system, a device, a pipe, a socket, eventfd, epoll).
 *   One struct file per open file description, shared by the descriptors
 *   dup'ed from it; the descriptor table (fd.c) maps numbers to them.
 * - struct vnode_ops: what one file system does with its nodes (tmpfs.c;
 *   devfs.c builds on tmpfs; CryptoFS).  vfs.c resolves paths across the
 *   mount table and serves the calls common to all.
 *
 * Files, nodes, the mount table and pipes live in the shared segment
 * (libos/shared.h), where another process, or another program image after
 * execve, reaches them.  So they name their ops by kind, a small number
 * indexing file_kinds or vnode_kinds (tables each image builds the same
 * way, fd.c and vfs.c), and hold no other pointer into a program's image.
 * Kinds whose state is one process's own (FK_SOCKET, FK_EVENTFD, FK_EPOLL)
 * keep it in private memory behind priv; another process never sees them
 * (fork gives the child an FK_STALE description in their place).
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
struct pipe;
struct lock_rec;

/* Kinds of open file description: indexes of file_kinds (fd.c). */
enum file_kind {
	FK_STALE,		/* a process-local kind seen from another process: ENXIO */
	FK_NODE,		/* a file system's node (vfs.c) */
	FK_DEV_NULL, FK_DEV_ZERO, FK_DEV_FULL, FK_DEV_RANDOM, FK_DEV_CONSOLE,	/* devfs.c */
	FK_PIPE,		/* pipe.c: pipes and FIFOs, either end by the access mode */
	FK_SOCKET,		/* net/lwip/socket.c: process-local */
	FK_EVENTFD,		/* eventfd.c: process-local */
	FK_EPOLL,		/* epoll.c: process-local */
	FK_COUNT
};

/* Kinds of file system: indexes of vnode_kinds (vfs.c). */
enum vnode_kind { VK_TMPFS, VK_CFS, VK_PROC, VK_COUNT };

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

/* An open file description (shared segment). */
struct file {
	uint32_t kind;		/* enum file_kind */
	uint32_t refs;		/* descriptors naming it, in every process */
	uint32_t flags;		/* O_ACCMODE and the status flags (O_APPEND, O_NONBLOCK...) */
	uint64_t pos;
	struct vnode *vn;	/* the node it was opened from; NULL for pipes, sockets */
	void *priv;		/* the kind's own state (shared, or private for local kinds) */
	uint64_t serial;	/* no other description of the machine has it (epoll's key) */
};

extern const struct file_ops *const file_kinds[FK_COUNT];
extern const struct vnode_ops *const vnode_kinds[VK_COUNT];
/* The kinds' ops, for the two tables. */
extern const struct file_ops vfs_node_fops, stale_fops, pipe_fops;
extern const struct file_ops devfs_fops[5], sock_fops, eventfd_fops, epoll_fops;
extern const struct vnode_ops tmpfs_vnode_ops, cfs_vnode_ops, procfs_vnode_ops;

/* The description's ops.  Descriptions live in the shared segment, which
 * every process of the VM can write, so the kind is read once and a kind
 * out of range reads as FK_STALE (ENXIO) rather than indexing past the
 * table into a function pointer. */
static inline const struct file_ops *fops(const struct file *f)
{
	uint32_t kind = *(const volatile uint32_t *)&f->kind;

	return file_kinds[kind < FK_COUNT ? kind : FK_STALE];
}

/* Whether a kind's state lives in one process's private memory. */
static inline int file_kind_local(uint32_t kind)
{
	return kind == FK_SOCKET || kind == FK_EVENTFD || kind == FK_EPOLL;
}

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

/* A node (shared segment). */
struct vnode {
	uint32_t kind;			/* enum vnode_kind */
	struct mount *mnt;
	struct vnode *parent;		/* directories: the directory naming it */
	struct vnode *mounted;		/* the root of a file system mounted here */
	struct pipe *fifo;		/* FIFOs: the pipe while it is open (pipe.c) */
	struct lock_rec *locks;		/* advisory locks (flock.c) */
	volatile uint32_t lock_changes;	/* moved and woken when a lock goes */
	uint64_t ino, rdev, size;
	uint32_t mode, uid, gid;
	uint32_t nlink;			/* names (directories: 2 + subdirectories) */
	uint32_t refs;			/* open files, the cwd, mounts */
	struct lx_timespec atime, mtime, ctime;
};

static inline const struct vnode_ops *vops(const struct vnode *v)
{
	return vnode_kinds[v->kind];
}

/* A mounted file system (shared segment). */
struct mount {
	struct vnode *root;
	struct vnode *covered;		/* the directory it is mounted on */
	uint64_t dev;
	uint64_t next_ino;
	int64_t magic;			/* statfs f_type */
	char type[16];			/* /proc/mounts' name, NUL-terminated */
	uint64_t used_pages, used_nodes;	/* tmpfs: data pages and nodes, for statfs */
	struct mount *next;
};

/* What the processes that share a file system share (shared segment): the
 * root, the mount table, the numbering of devices and pipes, and a word
 * that changes (and is woken) whenever a pipe's readiness does, for poll. */
struct vfs_ns {
	struct vnode *root;
	struct mount *mounts;
	uint64_t next_dev, next_pipe_ino;
	volatile uint32_t changes;
	void *tty;			/* the terminal's state (libos/tty.c) */
	uint64_t next_file_serial;	/* struct file's serial */
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
uint32_t vfs_umask(void);
uint32_t vfs_set_umask(uint32_t mask);
/* The calling process's file system (NULL before vfs_init). */
struct vfs_ns *vfs_ns(void);
/* A pipe (or another shared kind) changed readiness: wakes the poll
 * waiters of ns in every process. */
void vfs_changed(struct vfs_ns *ns);
/* Builds the root and the devices at the first program's start; a process
 * that already has files (after execve) keeps them. */
void vfs_init(void);

/* fd.c: the descriptor table */
struct file *file_new(uint32_t kind, uint32_t flags);
/* A reference on f, and its drop; the last drop releases the kind's state
 * and the node (file_release). Inline: read and write take and drop one
 * around every call, and the pipe round trip is measured against Linux's. */
void file_release(struct file *f);
static inline void file_ref(struct file *f) { f->refs++; }
static inline void file_put(struct file *f)
{
	if (f->refs > 1)
		f->refs--;
	else
		file_release(f);
}
/* A reference for a call that may sleep with the lock given up: noted in
 * the calling thread's waker, so that if the thread never comes back
 * (its process ends, an execve ends it) the reference is dropped for it
 * (lo_waker_holds_drop) instead of keeping the description open for good.
 * file_unhold forgets the note (the reference stays the caller's);
 * file_let_go forgets it and drops the reference. */
void file_hold(struct file *f);
void file_unhold(struct file *f);
void file_let_go(struct file *f);
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
/* A new, empty table for the first process, on the file system ns. */
int fd_table_init(struct vfs_ns *ns);
/* execve (before the old image goes): closes the O_CLOEXEC descriptors and
 * gives the process-local kinds' state back (their descriptors stay open,
 * as FK_STALE: ENXIO), since the next image cannot reach it. */
void fd_close_on_exec(void);
/* fork, in the parent before the child's memory is copied: the child's
 * copy of the descriptor table (same descriptions, references raised;
 * process-local kinds as FK_STALE), its cwd and umask: 0 or -ENOMEM. */
int files_fork_prepare(void);
/* fork, in the parent afterwards: ok says whether the child exists. */
void files_fork_done(int ok);
/* fork, in the child before it returns: takes the copy. */
void files_fork_child(void);
/* Closes every descriptor and lets the cwd go: the calling process's at
 * exit (pf == proc_files()), or a dead process's, from the process that
 * reaps it (its process-local descriptions are freed without their
 * release op, which only the dead image could run). */
struct lo_proc_files;
void files_release(struct lo_proc_files *pf);
void files_exit(void);
/* files_release, as the process layer calls it for any ended process. */
void lo_proc_files_exit(struct lo_proc_files *files);

/* tmpfs.c */
struct vnode *tmpfs_new(void);
/* A regular file with no name on the mount of dir (memfd_create): it lives
 * while something holds it. */
struct vnode *tmpfs_anon(struct vnode *dir, uint32_t mode);
/* MAP_SHARED: page pi of the file (made if a hole), page-aligned in the
 * shared segment: its segment page index, MM_FAULT_SIGBUS past the end of
 * the file, or -ENOMEM. */
int64_t tmpfs_map_page(struct vnode *v, uint64_t pi);
/* Page pi of regular file v where the shared segment holds it (execve
 * copies from its frames), or NULL for a hole. */
const uint8_t *tmpfs_file_page(struct vnode *v, uint64_t pi);
/* A region mapping v came (+1) or went (-1), in any process: while some
 * do, the file holds a reference and pages cut off by truncate are kept
 * (zeroed) rather than freed, since another process may still map them. */
void tmpfs_map_ref(struct vnode *v, int d);
/* execve's copy of file pages [0, pages) of v, page-aligned in the shared
 * segment, with a reference for the caller: the one the file keeps while
 * it is unchanged, else a new one (which the file keeps too).  NULL when
 * v is mapped shared (a store there could change it unseen), pages pass
 * its end, or the images' share of the segment (an eighth) or the segment
 * is full.  tmpfs_image_page gives page pi's address (NULL past it). */
struct tmpfs_image;
struct tmpfs_image *tmpfs_image_get(struct vnode *v, uint64_t pages);
const uint8_t *tmpfs_image_page(const struct tmpfs_image *img, uint64_t pi);
void tmpfs_image_ref(struct tmpfs_image *img);
/* Drops a reference: the last frees the copy. */
void tmpfs_image_put(struct tmpfs_image *img);
/* About the bytes of the segment the copies take (/proc/meminfo). */
uint64_t tmpfs_image_bytes(void);
/* File seals (fcntl F_ADD_SEALS, memfd_create): every tmpfs file starts
 * with F_SEAL_SEAL, which memfd_create(MFD_ALLOW_SEALING) takes off. */
#define LX_F_ADD_SEALS 1033
#define LX_F_GET_SEALS 1034
#define LX_F_SEAL_SEAL 1
#define LX_F_SEAL_SHRINK 2
#define LX_F_SEAL_GROW 4
#define LX_F_SEAL_WRITE 8
#define LX_F_SEAL_ALL 15
uint32_t tmpfs_seals(struct vnode *v);
/* 0, or -EPERM once F_SEAL_SEAL is set. */
int tmpfs_add_seals(struct vnode *v, uint32_t seals);
void tmpfs_unseal(struct vnode *v);

/* devfs.c */
/* Mounts a devfs on path and makes its device nodes. */
int devfs_mount(const char *path);
/* Device files: chooses f's ops by the node's device number. */
int devfs_open(struct vnode *v, struct file *f);
/* Opens the console as stdin, stdout and stderr (fds 0-2). */
void devfs_open_stdio(void);

/* procfs.c */
/* Mounts the procfs on path (made if missing) and links /etc/mtab to it. */
int procfs_mount(const char *path);
/* Start-up of an image (and a program ld-exo runs): what /proc/PID shows
 * of the calling process. */
void procfs_note_start(int argc, const char *const *argv, const char *const *envp, uint32_t envc,
		       const char *execfn, uint64_t stack_top);
/* The open descriptor of pf (any process's) at fd or the first above it:
 * the number and *f, or -1 when there is none (fd.c). */
int fd_next_open(const struct lo_proc_files *pf, int fd, struct file **f);
/* For a server: whether another process's descriptors (pf, read in place,
 * where they lie inside the shared segment) name f. */
int fd_table_holds(const struct lo_proc_files *pf, const struct file *f);

/* initramfs.c: unpacks the "initramfs" module, if any, into the root. */
void initramfs_load(void);

/* flock.c: advisory locks */
/* fcntl F_GETLK, F_SETLK, F_SETLKW on f; uarg: the program's struct flock. */
int64_t flock_fcntl(struct file *f, int cmd, uint64_t uarg);
/* Process pid closed a descriptor of v: its record locks on v go. */
void flock_close(struct vnode *v, int64_t pid);
/* f's last descriptor closed: its flock lock goes. */
void flock_release(struct file *f);

/* pipe.c */
int pipe_create(struct file **rd, struct file **wr, uint32_t flags);
/* Opens the FIFO node v as f (its access mode and O_NONBLOCK); may wait
 * for the other end (-EINTR). */
int fifo_open(struct vnode *v, struct file *f);

#endif
