/*
 * The file-descriptor table: descriptor numbers to open file descriptions
 * (struct file), with the close-on-exec bit per descriptor.  The table
 * grows by doubling from the libOS heap up to RLIMIT_NOFILE (1024 by
 * default, as on Linux; at most 1 << 20).  It lives in ordinary memory, so
 * a forked child starts with a copy of it.
 */
#include "libos/libos.h"
#include "libos/vfs.h"

#define NOFILE_SOFT 1024
#define NOFILE_HARD 4096
#define NOFILE_CEILING (1u << 20)

struct fd_slot {
	struct file *f;
	uint32_t cloexec;
};

static struct fd_slot *table;
static uint64_t table_len;
static uint64_t soft_limit = NOFILE_SOFT, hard_limit = NOFILE_HARD;

struct file *file_new(const struct file_ops *ops, uint32_t flags)
{
	struct file *f = lo_alloc(sizeof *f);
	if (!f)
		return 0;
	f->ops = ops;
	f->flags = flags;
	f->refs = 1;
	return f;
}

void file_ref(struct file *f)
{
	f->refs++;
}

/* Drops a reference; the last one releases the kind's state and the node. */
void file_put(struct file *f)
{
	if (--f->refs)
		return;
	if (f->ops->release)
		f->ops->release(f);
	if (f->vn)
		vfs_put(f->vn);
	lo_free(f);
}

struct file *fd_get(int fd)
{
	if (fd < 0 || (uint64_t)fd >= table_len)
		return 0;
	return table[fd].f;
}

/* Makes the table at least n slots long. */
static int grow(uint64_t n)
{
	if (n <= table_len)
		return 0;
	uint64_t len = table_len ? table_len : 64;
	while (len < n)
		len *= 2;
	struct fd_slot *t = lo_realloc(table, len * sizeof *t);
	if (!t)
		return -ENOMEM;
	lo_memset(t + table_len, 0, (len - table_len) * sizeof *t);
	table = t;
	table_len = len;
	return 0;
}

int fd_install(struct file *f, int min, int cloexec)
{
	if (min < 0)
		return -EINVAL;
	for (uint64_t fd = (uint64_t)min; fd < soft_limit; fd++) {
		if (fd >= table_len && grow(fd + 1))
			return -ENOMEM;
		if (!table[fd].f) {
			file_ref(f);
			table[fd] = (struct fd_slot){ f, cloexec ? 1u : 0u };
			return (int)fd;
		}
	}
	return -EMFILE;
}

int fd_available(void)
{
	for (uint64_t fd = 0; fd < soft_limit; fd++)
		if (fd >= table_len || !table[fd].f)
			return 0;
	return -EMFILE;
}

int fd_install_at(struct file *f, int fd, int cloexec)
{
	if (fd < 0 || (uint64_t)fd >= soft_limit)
		return -EBADF;
	if (grow((uint64_t)fd + 1))
		return -ENOMEM;
	file_ref(f);
	struct file *old = table[fd].f;
	table[fd] = (struct fd_slot){ f, cloexec ? 1u : 0u };
	if (old)
		file_put(old);
	return fd;
}

int fd_close(int fd)
{
	struct file *f = fd_get(fd);
	if (!f)
		return -EBADF;
	table[fd].f = 0;
	file_put(f);
	return 0;
}

int fd_get_cloexec(int fd)
{
	return fd_get(fd) ? (int)table[fd].cloexec : 0;
}

void fd_set_cloexec(int fd, int on)
{
	if (fd_get(fd))
		table[fd].cloexec = on ? 1u : 0u;
}

uint64_t fd_limit(void)
{
	return soft_limit;
}

uint64_t fd_hard_limit(void)
{
	return hard_limit;
}

/* RLIMIT_NOFILE: only root may raise the hard limit, and we are root. */
int fd_set_limit(uint64_t soft, uint64_t hard)
{
	if (soft > hard || hard > NOFILE_CEILING)
		return hard > NOFILE_CEILING ? -EPERM : -EINVAL;
	soft_limit = soft;
	hard_limit = hard;
	return 0;
}
