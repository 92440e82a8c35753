/*
 * The initramfs: a cpio archive in the "newc" format (magic 070701), loaded
 * by GRUB as the module named "initramfs" (tools/exo-run --file writes
 * one), unpacked into the root tmpfs at start-up.  Each member is a
 * 110-byte header of ASCII hex fields, its name and then its data, each
 * padded to 4 bytes; "TRAILER!!!" ends the archive.  Directories, regular
 * files and symlinks are made with the archive's mode, owner and mtime;
 * other types (devices, fifos) are skipped with a line on stderr, and hard
 * links are not kept (each name is a file of its own).
 */
#include "libos/libos.h"
#include "libos/vfs.h"
#include "include/exo/native.h"

#define HEADER 110

enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_DEVMAJOR, F_DEVMINOR,
       F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK, F_COUNT };

static int hex_field(const uint8_t *p, uint32_t *out)
{
	uint32_t v = 0;
	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		uint32_t d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			     c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
		if (d == 16)
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* Makes one member; the name is NUL-terminated inside the archive. */
static void make_member(const char *name, const uint32_t *f, const uint8_t *data)
{
	char path[LX_PATH_MAX];
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	while (name[0] == '/')
		name++;
	size_t n = lo_strlen(name);
	if (n == 0 || (n == 1 && name[0] == '.') || n + 2 > sizeof path)
		return;
	path[0] = '/';
	lo_memcpy(path + 1, name, n + 1);
	uint32_t type = f[F_MODE] & LX_S_IFMT;
	struct vnode *v = 0;
	int r;
	if (type == LX_S_IFLNK)
		r = vfs_make_k(path, f[F_MODE], 0, (const char *)data, f[F_FILESIZE], &v);
	else if (type == LX_S_IFDIR || type == LX_S_IFREG)
		r = vfs_make_k(path, f[F_MODE], 0, 0, 0, &v);
	else
		r = -EINVAL;
	if (r == -EEXIST && type == LX_S_IFDIR && vfs_lookup_k(vfs_root(), path, 1, &v) == 0)
		r = LX_S_ISDIR(v->mode) ? 0 : -EEXIST;
	if (r == 0 && type == LX_S_IFREG && f[F_FILESIZE])
		r = vops(v)->write(v, data, f[F_FILESIZE], 0) == (int64_t)f[F_FILESIZE] ? 0 : -ENOSPC;
	if (r) {
		lo_report("exoswarm: initramfs: %s: not unpacked (error %d)\n", path, (int64_t)-r);
		return;
	}
	v->mode = (v->mode & LX_S_IFMT) | (f[F_MODE] & 07777);
	v->uid = f[F_UID];
	v->gid = f[F_GID];
	v->mtime = v->ctime = (struct lx_timespec){ f[F_MTIME], 0 };
}

/* Walks the archive; stops at the trailer or at the first malformed member. */
static void unpack(const uint8_t *a, uint64_t size)
{
	uint64_t off = 0;
	while (off + HEADER <= size) {
		uint32_t f[F_COUNT];
		const uint8_t *h = a + off;
		if (lo_memcmp(h, "070701", 6) && lo_memcmp(h, "070702", 6))
			break;
		int bad = 0;
		for (int i = 0; i < F_COUNT; i++)
			bad |= hex_field(h + 6 + 8 * i, &f[i]);
		uint64_t name_off = off + HEADER, data_off = (name_off + f[F_NAMESIZE] + 3) & ~3ull;
		if (bad || f[F_NAMESIZE] == 0 || data_off > size || f[F_FILESIZE] > size - data_off ||
		    a[name_off + f[F_NAMESIZE] - 1] != 0)
			break;
		const char *name = (const char *)a + name_off;
		if (f[F_NAMESIZE] == 11 && lo_memcmp(name, "TRAILER!!!", 11) == 0)
			return;
		make_member(name, f, a + data_off);
		off = (data_off + f[F_FILESIZE] + 3) & ~3ull;
	}
	lo_report("exoswarm: initramfs: malformed at byte %d; the rest is not unpacked\n", (int64_t)off);
}

void initramfs_load(void)
{
	const struct exo_start *st = libos_start_info;
	for (uint64_t i = 0; i < st->nmodules; i++) {
		const struct exo_start_module *m = &st->modules[i];
		if (lo_memcmp(m->name, "initramfs", 10) != 0)
			continue;
		uint64_t mapped = 0;
		for (; mapped < m->size; mapped += 4096)
			if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, INITRAMFS_VA + mapped, m->slot,
				     mapped / 4096, EXO_PROT_READ))
				break;
		if (mapped >= m->size)
			unpack((const uint8_t *)INITRAMFS_VA, m->size);
		for (uint64_t off = 0; off < mapped; off += 4096)
			exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, INITRAMFS_VA + off);
		return;
	}
}
