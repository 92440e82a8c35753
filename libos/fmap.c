/*
 * File mappings: mmap of a file descriptor, MAP_SHARED anonymous memory,
 * msync, mincore and memfd_create (with its seals).  MAP_SHARED of a tmpfs
 * file maps the file's own pages, which live in the shared segment
 * (libos/tmpfs.c, mm_map_file), so every process that maps the file, and
 * read and write, see the same bytes.  MAP_PRIVATE (and a read-only
 * MAP_SHARED of a file system that has no shared pages) copies the file
 * into fresh anonymous memory at mmap time.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/vfs.h"

#define PAGE 4096ull
#define MAP_SHARED 1
#define MAP_PRIVATE 2
#define MAP_SHARED_VALIDATE 3
#define MAP_TYPE 0xf
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define PROT_READ 1
#define PROT_WRITE 2
#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4
#define MFD_CLOEXEC 1
#define MFD_ALLOW_SEALING 2
#define MFD_NAME_MAX 249

/* MAP_PRIVATE: fresh memory holding the file's bytes from off (zeros past
 * its end), then the protection asked for. */
static int64_t map_copy(uint64_t addr, uint64_t len, int prot, int flags, struct file *f, int64_t off)
{
	int64_t at = mm_mmap(addr, len, PROT_READ | PROT_WRITE, (flags & ~MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
	if (at < 0)
		return at;
	uint64_t size = f->vn->size, n = (uint64_t)off < size ? size - (uint64_t)off : 0;
	n = n < len ? n : len;
	for (uint64_t done = 0; done < n; ) {
		int64_t r = fops(f)->pread(f, (uint8_t *)at + done, n - done, (uint64_t)off + done);
		if (r <= 0)
			break;
		done += (uint64_t)r;
	}
	if (prot != (PROT_READ | PROT_WRITE))
		mm_mprotect((uint64_t)at, len, prot);
	return at;
}

int64_t fmap_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd, int64_t off)
{
	int type = flags & MAP_TYPE;
	if (type != MAP_SHARED && type != MAP_PRIVATE && type != MAP_SHARED_VALIDATE)
		return -EINVAL;
	if (off < 0 || (uint64_t)off % PAGE || len > (1ull << 40) || (uint64_t)off > (1ull << 44))
		return -EINVAL;
	struct file *f = fd >= 0 ? fd_get(fd) : 0;
	if (!f || (f->flags & LX_O_PATH))
		return -EBADF;
	struct vnode *v = f->vn;
	if (f->kind == FK_DEV_ZERO)	/* /dev/zero: anonymous memory, as on Linux */
		return mm_mmap(addr, len, prot, flags | MAP_ANONYMOUS, -1, 0);
	if (f->kind != FK_NODE || !v || !LX_S_ISREG(v->mode) || !fops(f)->pread)
		return -ENODEV;
	if ((f->flags & LX_O_ACCMODE) == LX_O_WRONLY)
		return -EACCES;
	int shared = type != MAP_PRIVATE;
	if (shared && (prot & PROT_WRITE) && (f->flags & LX_O_ACCMODE) != LX_O_RDWR)
		return -EACCES;
	if (shared && v->kind == VK_TMPFS) {
		if ((prot & PROT_WRITE) && (tmpfs_seals(v) & LX_F_SEAL_WRITE))
			return -EPERM;
		return mm_map_file(flags & MAP_FIXED ? addr : 0, len, prot, v, (uint64_t)off);
	}
	if (shared && (prot & PROT_WRITE))
		return -ENODEV;		/* no shared pages on this file system */
	return map_copy(addr, len, prot, flags, f, off);
}

int64_t fmap_shared_anon(uint64_t addr, uint64_t len, int prot, int flags)
{
	struct vnode *v = tmpfs_anon(vfs_root(), 0600);
	if (!v)
		return -ENOMEM;
	v->size = (len + PAGE - 1) & ~(PAGE - 1);
	vfs_ref(v);			/* held until the mapping has its own */
	int64_t at = mm_map_file(flags & MAP_FIXED ? addr : 0, len, prot, v, 0);
	vfs_put(v);			/* without a mapping, the file goes */
	return at;
}

LO_CALL(sys_msync)
{
	UNUSED_ARGS;
	int flags = (int)a2;
	if (a0 % PAGE || (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) ||
	    ((flags & MS_ASYNC) && (flags & MS_SYNC)))
		return -EINVAL;
	/* the mapping is the file's own memory: nothing to write back */
	return mm_range_mapped(a0, a1);
}

LO_CALL(sys_mincore)
{
	UNUSED_ARGS;
	return mm_mincore(a0, a1, (uint8_t *)a2);
}

LO_CALL(sys_memfd_create)
{
	UNUSED_ARGS;
	char name[MFD_NAME_MAX + 1];
	int64_t n = lo_strncpy_in(name, (const char *)a0, sizeof name);
	if (n < 0)
		return n;
	if ((uint64_t)n >= sizeof name || (a1 & ~(uint64_t)(MFD_CLOEXEC | MFD_ALLOW_SEALING)))
		return -EINVAL;
	int r = fd_available();
	if (r)
		return r;
	struct vnode *v = tmpfs_anon(vfs_root(), 0777);
	struct file *f;
	if (!v)
		return -ENOMEM;
	if (!(a1 & MFD_ALLOW_SEALING))
		tmpfs_add_seals(v, LX_F_SEAL_SEAL);
	else
		tmpfs_unseal(v);
	if ((r = vfs_open_node(v, LX_O_RDWR, &f)))
		return r;
	r = fd_install(f, 0, (a1 & MFD_CLOEXEC) != 0);
	file_put(f);
	return r;
}
