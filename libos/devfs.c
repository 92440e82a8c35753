/*
 * devfs: a tmpfs mounted on /dev holding character-device nodes, and the
 * device files behind them, found by device number as on Linux (a node
 * made anywhere with the same number opens the same device):
 *   null (1,3), zero (1,5), full (1,7), random (1,8), urandom (1,9),
 *   tty (5,0), console (5,1), ttyS0 (4,64).
 * The console devices write to the console (libos/console.c): stdout's
 * stream, or stderr's for descriptor 2 opened at start-up.  When that is
 * the kernel console they are a terminal (libos/tty.c): reads take typed
 * input through the line discipline and the termios ioctls work.  Under
 * tools/exo-run (stdout and stderr are files on the host) reading them
 * gives end of file and ioctl ENOTTY, as a program on Linux sees with
 * stdin from /dev/null and its output redirected.
 */
#include "libos/libos.h"
#include "libos/thread.h"
#include "libos/tty.h"
#include "libos/vfs.h"
#include "include/exo/native.h"

/* devfs_fops[DEV_x] is kind FK_DEV_NULL + DEV_x */
enum { DEV_NULL, DEV_ZERO, DEV_FULL, DEV_RANDOM, DEV_CONSOLE };
_Static_assert(FK_DEV_CONSOLE - FK_DEV_NULL == DEV_CONSOLE, "devfs kinds in order");

static const struct {
	const char *name;
	uint32_t major, minor, perm;
} nodes[] = {
	{ "null", 1, 3, 0666 }, { "zero", 1, 5, 0666 }, { "full", 1, 7, 0666 },
	{ "random", 1, 8, 0666 }, { "urandom", 1, 9, 0666 }, { "tty", 5, 0, 0666 },
	{ "console", 5, 1, 0600 }, { "ttyS0", 4, 64, 0660 },
};

static int kind_of(uint64_t rdev)
{
	uint32_t ma = lx_major(rdev), mi = lx_minor(rdev);
	if (ma == 1)
		return mi == 3 ? DEV_NULL : mi == 5 ? DEV_ZERO : mi == 7 ? DEV_FULL :
		       mi == 8 || mi == 9 ? DEV_RANDOM : -1;
	if ((ma == 5 && mi <= 1) || (ma == 4 && mi == 64))
		return DEV_CONSOLE;
	return -1;
}

static int dev_stat(struct file *f, struct lx_stat *st)
{
	vfs_fill_stat(f->vn, st);
	return 0;
}

static int64_t dev_lseek(struct file *f, int64_t off, int whence)
{
	(void)off;
	(void)whence;
	f->pos = 0;
	return 0;
}

static int64_t null_read(struct file *f, void *ubuf, uint64_t len)
{
	(void)f, (void)ubuf, (void)len;
	return 0;
}

static int64_t sink_write(struct file *f, const void *ubuf, uint64_t len)
{
	(void)f, (void)ubuf;
	return (int64_t)len;
}

static int64_t full_write(struct file *f, const void *ubuf, uint64_t len)
{
	(void)f, (void)ubuf;
	return len ? -ENOSPC : 0;
}

/* Fills the program's buffer with zeros or random bytes, a chunk at a time. */
static int64_t fill_read(void *ubuf, uint64_t len, int random)
{
	uint8_t chunk[512];
	uint64_t done = 0;
	if (!random)
		lo_memset(chunk, 0, sizeof chunk);
	while (done < len) {
		uint64_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
		if (random && exo_call(EXO_SYS_RANDOM, chunk, n) < 0)
			return done ? (int64_t)done : -EIO;
		if (lo_copy_out((uint8_t *)ubuf + done, chunk, n))
			return done ? (int64_t)done : -EFAULT;
		done += n;
	}
	return (int64_t)done;
}

static int64_t zero_read(struct file *f, void *ubuf, uint64_t len)
{
	(void)f;
	return fill_read(ubuf, len, 0);
}

static int64_t random_read(struct file *f, void *ubuf, uint64_t len)
{
	(void)f;
	return fill_read(ubuf, len, 1);
}

/* The console: the program's bytes go through a local buffer, so a bad
 * pointer gives EFAULT before anything is written. */
/* A write gives the lock up this often (lo_lock_breather): the whole
 * count under it stopped every other process for as long (545 MB of a
 * fuzzer's zeros stalled the machine). */
#define CONSOLE_BREATH 65536u

static int64_t console_file_write(struct file *f, const void *ubuf, uint64_t len)
{
	uint8_t chunk[512];
	uint64_t done = 0;
	int stream = f->priv ? (int)(uintptr_t)f->priv : 1;
	while (done < len) {
		uint64_t n = len - done < sizeof chunk ? len - done : sizeof chunk;
		if (lo_copy_in(chunk, (const uint8_t *)ubuf + done, n))
			return done ? (int64_t)done : -EFAULT;
		int64_t r = console_write(stream, chunk, n);
		if (r < 0)
			return done ? (int64_t)done : r;
		done += n;
		if (done % CONSOLE_BREATH == 0 && done < len && lo_lock_breather())
			break;
	}
	return (int64_t)done;
}

static int64_t console_file_read(struct file *f, void *ubuf, uint64_t len)
{
	return tty_active() ? tty_read(f, ubuf, len) : 0;
}

static int64_t console_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	return tty_active() ? tty_ioctl(f, cmd, arg) : -ENOTTY;
}

static int console_poll(struct file *f)
{
	return tty_active() ? tty_poll(f) : LX_POLLIN | LX_POLLOUT;
}

static int console_fsync(struct file *f)
{
	(void)f;
	return -EINVAL;
}

const struct file_ops devfs_fops[5] = {
	[DEV_NULL] = { .read = null_read, .write = sink_write, .lseek = dev_lseek, .stat = dev_stat },
	[DEV_ZERO] = { .read = zero_read, .write = sink_write, .lseek = dev_lseek, .stat = dev_stat },
	[DEV_FULL] = { .read = zero_read, .write = full_write, .lseek = dev_lseek, .stat = dev_stat },
	[DEV_RANDOM] = { .read = random_read, .write = sink_write, .lseek = dev_lseek, .stat = dev_stat },
	[DEV_CONSOLE] = { .read = console_file_read, .write = console_file_write, .stat = dev_stat,
			  .ioctl = console_ioctl, .poll = console_poll, .fsync = console_fsync },
};

int devfs_open(struct vnode *v, struct file *f)
{
	int k = kind_of(v->rdev);
	if (k < 0)
		return -ENODEV;		/* ENXIO would name a missing unit */
	f->kind = FK_DEV_NULL + (uint32_t)k;
	return 0;
}

int devfs_mount(const char *path)
{
	struct vnode *root = tmpfs_new();
	if (!root)
		return -ENOMEM;
	int r = vfs_mount(path, root, "devtmpfs", 0x01021994);
	if (r)
		return r;
	for (uint64_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
		struct vnode *v;
		vops(root)->create(root, nodes[i].name, lo_strlen(nodes[i].name), LX_S_IFCHR | nodes[i].perm,
				  lx_makedev(nodes[i].major, nodes[i].minor), 0, 0, &v);
	}
	return 0;
}

/* fds 0-2: the console, read-write; descriptor 2 writes stderr's stream. */
void devfs_open_stdio(void)
{
	struct vnode *con;
	if (vfs_lookup_k(vfs_root(), "/dev/console", 1, &con))
		return;
	for (int fd = 0; fd < 3; fd++) {
		struct file *f;
		if (vfs_open_node(con, LX_O_RDWR | LX_O_LARGEFILE, &f))
			return;
		f->priv = (void *)(uintptr_t)(fd == 2 ? 2 : 1);
		fd_install_at(f, fd, 0);
		file_put(f);
	}
}
