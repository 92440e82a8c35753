/*
 * tmpfs: a file system in the shared segment (libos/shared.h), so every
 * process of the machine sees the same files.  A directory is a growable array
 * of entries (removal leaves a hole that keeps readdir positions stable
 * until the array is compacted to make room); a regular file is a sparse
 * two-level table of 4 KiB pages (leaves of 512 page pointers, so a huge
 * sparse file costs only the leaves it uses; a hole reads as zeros); a
 * symlink keeps its target.
 * A page that MAP_SHARED maps must be page-aligned in the segment (the
 * fault handler maps its frame): such a page is carved from a block of two
 * pages (its leaf entry has bit 0 set, and the block's address is kept in
 * the 8 bytes before the page); other pages are plain blocks, moved to a
 * carved page when first mapped.
 * Sizes grow from memory, with no fixed table: the limits are the program's
 * memory budget and its 65,536 resident pages (docs/LIBOS.md).
 */
#include "libos/libos.h"
#include "libos/shared.h"
#include "libos/proc.h"
#include "libos/vfs.h"

#define PAGE 4096ull
#define MAX_FILE_SIZE (1ull << 44)	/* 16 TiB, as ext4 allows */
#define LEAF 512			/* page pointers per leaf */
#define BOGO_DIRENT 20		/* Linux tmpfs counts a directory's size so */

struct tentry {
	char *name;		/* NULL: a hole */
	size_t len;
	struct tnode *node;
};

struct tnode {
	struct vnode v;
	struct tentry *ents;	/* directories */
	uint64_t nents, cap, live;
	uint8_t ***leaves;	/* regular files: leaf i / LEAF, or NULL */
	uint64_t nleaves;
	char *target;		/* symlinks, NUL-terminated */
	uint64_t maps;		/* regions mapping it, in every process */
	uint32_t seals;		/* LX_F_SEAL_* */
	int tail_kept;		/* pages past the end kept for mappings */
	struct tmpfs_image *image;	/* execve's copy of its first pages, or NULL */
};

/* A copy of a regular file's pages [0, pages), page-aligned in the shared
 * segment, that execve maps read-only into every image of the file
 * (libos/exec.c), so text and read-only data are copied once, not at
 * every execve.  The file holds a reference while it is unchanged, each
 * process whose image maps it holds one (its process-table entry's
 * `image`); a write, truncate or shared mapping of the file detaches it,
 * so the running images keep what they were started with and the next
 * execve copies the file anew. */
struct tmpfs_image {
	uint64_t refs, pages;
	uint8_t *raw;			/* the sh_alloc'd block */
	uint8_t *at;			/* its first page-aligned byte: file page 0 */
	struct tnode *node;		/* the file it copies, while unchanged */
	struct tmpfs_image *next;	/* every image of the machine */
};

static const uint8_t zero_page[PAGE];

static void image_detach(struct tnode *t);
static int images_drop_idle(void);

/* A block for a file's pages: when the segment is full, the copies of
 * executables no process runs make room first. */
static void *file_alloc(size_t size)
{
	void *p = sh_alloc(size);
	return p || !images_drop_idle() ? p : sh_alloc(size);
}

static struct tnode *tn(struct vnode *v)
{
	return (struct tnode *)v;
}

static void touch(struct vnode *v, int modified)
{
	struct lx_timespec now = vfs_now();
	v->ctime = now;
	if (modified)
		v->mtime = now;
}

static struct tentry *find(struct tnode *d, const char *name, size_t len)
{
	for (uint64_t i = 0; i < d->nents; i++) {
		struct tentry *e = &d->ents[i];
		if (e->name && e->len == len && lo_memcmp(e->name, name, len) == 0)
			return e;
	}
	return 0;
}

static int t_lookup(struct vnode *dir, const char *name, size_t len, struct vnode **out)
{
	struct tentry *e = find(tn(dir), name, len);
	if (!e)
		return -ENOENT;
	*out = &e->node->v;
	return 0;
}

/* Adds an entry, compacting holes or growing the array when it is full;
 * a removed directory takes no new names. */
static int add_entry(struct tnode *d, const char *name, size_t len, struct tnode *node)
{
	if (!d->v.nlink)
		return -ENOENT;		/* the directory was removed */
	if (d->nents == d->cap && d->live < d->nents) {
		uint64_t j = 0;
		for (uint64_t i = 0; i < d->nents; i++)
			if (d->ents[i].name)
				d->ents[j++] = d->ents[i];
		d->nents = j;
	}
	if (d->nents == d->cap) {
		uint64_t cap = d->cap ? d->cap * 2 : 8;
		struct tentry *e = sh_realloc(d->ents, cap * sizeof *e);
		if (!e)
			return -ENOSPC;
		d->ents = e;
		d->cap = cap;
	}
	char *copy = sh_alloc(len + 1);
	if (!copy)
		return -ENOSPC;
	lo_memcpy(copy, name, len);
	d->ents[d->nents++] = (struct tentry){ copy, len, node };
	d->live++;
	d->v.size += BOGO_DIRENT;
	touch(&d->v, 1);
	return 0;
}

static void remove_entry(struct tnode *d, struct tentry *e)
{
	sh_free(e->name);
	e->name = 0;
	e->node = 0;
	d->live--;
	d->v.size -= BOGO_DIRENT;
	touch(&d->v, 1);
}

static struct tnode *node_new(struct vnode *dir, uint32_t mode)
{
	struct tnode *t = sh_alloc(sizeof *t);
	if (!t)
		return 0;
	t->v.kind = VK_TMPFS;
	t->v.mode = mode;
	t->v.nlink = 1;
	t->seals = LX_F_SEAL_SEAL;
	struct lx_timespec now = vfs_now();
	t->v.atime = t->v.mtime = t->v.ctime = now;
	if (dir) {
		t->v.mnt = dir->mnt;
		t->v.ino = dir->mnt->next_ino++;
		dir->mnt->used_nodes++;
	}
	if (LX_S_ISDIR(mode)) {
		t->v.nlink = 2;
		t->v.parent = dir;
		t->v.size = 2 * BOGO_DIRENT;
	}
	return t;
}

#define CARVED 1ull

/* The page a leaf entry names (NULL stays NULL). */
static uint8_t *page_ptr(uint8_t *e)
{
	return (uint8_t *)((uint64_t)e & ~CARVED);
}

static void page_free(uint8_t *e)
{
	sh_free((uint64_t)e & CARVED ? ((void **)page_ptr(e))[-1] : e);
}

/* A zeroed page-aligned page, as a leaf entry (CARVED), or NULL. */
static uint8_t *page_alloc_aligned(void)
{
	uint8_t *raw = file_alloc(2 * PAGE);
	if (!raw)
		return 0;
	uint64_t a = ((uint64_t)raw + 16 + PAGE - 1) & ~(PAGE - 1);	/* <= raw + PAGE */
	((void **)a)[-1] = raw;
	return (uint8_t *)(a | CARVED);
}

/* Page pi of a file, or NULL for a hole. */
static uint8_t *page_at(struct tnode *t, uint64_t pi)
{
	uint64_t li = pi / LEAF;
	return li < t->nleaves && t->leaves[li] ? page_ptr(t->leaves[li][pi % LEAF]) : 0;
}

/* The leaf entry of page pi, made (zeroed) if it is a hole, page-aligned
 * when aligned is set: NULL when memory is short. */
static uint8_t **page_slot(struct tnode *t, uint64_t pi, int aligned)
{
	uint64_t li = pi / LEAF;
	if (li >= t->nleaves) {
		uint64_t n = t->nleaves ? t->nleaves : 1;
		while (n <= li)
			n *= 2;
		uint8_t ***l = sh_realloc(t->leaves, n * sizeof *l);
		if (!l)
			return 0;
		t->leaves = l;
		t->nleaves = n;
	}
	if (!t->leaves[li] && !(t->leaves[li] = file_alloc(PAGE)))
		return 0;
	uint8_t **slot = &t->leaves[li][pi % LEAF];
	if (!*slot) {
		if (!(*slot = aligned ? page_alloc_aligned() : file_alloc(PAGE)))
			return 0;
		t->v.mnt->used_pages++;
	}
	if (aligned && (uint64_t)page_ptr(*slot) % PAGE) {	/* a plain block: move it */
		uint8_t *e = page_alloc_aligned();
		if (!e)
			return 0;
		lo_memcpy(page_ptr(e), *slot, PAGE);
		page_free(*slot);
		*slot = e;
	}
	return slot;
}

static uint8_t *page_make(struct tnode *t, uint64_t pi)
{
	uint8_t **slot = page_slot(t, pi, 0);
	return slot ? page_ptr(*slot) : 0;
}

/* Frees every page from index first on, and the leaves left empty. */
static void drop_pages(struct tnode *t, uint64_t first)
{
	for (uint64_t li = first / LEAF; li < t->nleaves; li++) {
		uint8_t **leaf = t->leaves[li];
		if (!leaf)
			continue;
		uint64_t from = li == first / LEAF ? first % LEAF : 0;
		for (uint64_t i = from; i < LEAF; i++) {
			if (leaf[i]) {
				page_free(leaf[i]);
				t->v.mnt->used_pages--;
			}
			leaf[i] = 0;
		}
		if (from == 0) {
			sh_free(leaf);
			t->leaves[li] = 0;
		}
	}
}

static void t_destroy(struct vnode *v)
{
	struct tnode *t = tn(v);
	image_detach(t);
	drop_pages(t, 0);
	if (v->mnt && v->mnt->used_nodes)
		v->mnt->used_nodes--;
	sh_free(t->leaves);
	for (uint64_t i = 0; i < t->nents; i++)
		sh_free(t->ents[i].name);
	sh_free(t->ents);
	sh_free(t->target);
	sh_free(t);
}

static int t_create(struct vnode *dir, const char *name, size_t len, uint32_t mode, uint64_t rdev,
		    const char *target, size_t tlen, struct vnode **out)
{
	struct tnode *t = node_new(dir, mode);
	if (!t)
		return -ENOSPC;
	t->v.rdev = rdev;
	if (LX_S_ISLNK(mode)) {
		t->target = sh_alloc(tlen + 1);
		if (!t->target) {
			t_destroy(&t->v);
			return -ENOSPC;
		}
		lo_memcpy(t->target, target, tlen);
		t->v.size = tlen;
	}
	int r = add_entry(tn(dir), name, len, t);
	if (r) {
		t_destroy(&t->v);
		return r;
	}
	if (LX_S_ISDIR(mode))
		dir->nlink++;
	*out = &t->v;
	return 0;
}

static int t_link(struct vnode *dir, const char *name, size_t len, struct vnode *v)
{
	int r = add_entry(tn(dir), name, len, tn(v));
	if (r)
		return r;
	v->nlink++;
	touch(v, 0);
	return 0;
}

static int t_unlink(struct vnode *dir, const char *name, size_t len)
{
	struct tentry *e = find(tn(dir), name, len);
	if (!e)
		return -ENOENT;
	struct vnode *v = &e->node->v;
	remove_entry(tn(dir), e);
	if (LX_S_ISDIR(v->mode)) {
		v->nlink = 0;
		dir->nlink--;
	} else {
		v->nlink--;
	}
	touch(v, 0);
	if (!v->nlink && !v->refs)
		t_destroy(v);
	return 0;
}

static int t_rename(struct vnode *odir, const char *oname, size_t olen,
		    struct vnode *ndir, const char *nname, size_t nlen)
{
	struct tentry *e = find(tn(odir), oname, olen);
	if (!e)
		return -ENOENT;
	struct tnode *t = e->node;
	int r = add_entry(tn(ndir), nname, nlen, t);
	if (r)
		return r;
	e = find(tn(odir), oname, olen);	/* add_entry may have moved it */
	remove_entry(tn(odir), e);
	if (LX_S_ISDIR(t->v.mode)) {
		t->v.parent = ndir;
		odir->nlink--;
		ndir->nlink++;
	}
	touch(&t->v, 0);
	return 0;
}

static int t_exchange(struct vnode *odir, const char *oname, size_t olen,
		      struct vnode *ndir, const char *nname, size_t nlen)
{
	struct tentry *a = find(tn(odir), oname, olen), *b = find(tn(ndir), nname, nlen);
	if (!a || !b)
		return -ENOENT;
	struct tnode *an = a->node, *bn = b->node;
	a->node = bn;
	b->node = an;
	if (LX_S_ISDIR(an->v.mode) != LX_S_ISDIR(bn->v.mode)) {
		int delta = LX_S_ISDIR(an->v.mode) ? 1 : -1;	/* a directory moved to ndir */
		ndir->nlink += (uint32_t)delta;
		odir->nlink -= (uint32_t)delta;
	}
	if (LX_S_ISDIR(an->v.mode))
		an->v.parent = ndir;
	if (LX_S_ISDIR(bn->v.mode))
		bn->v.parent = odir;
	touch(&an->v, 0);
	touch(&bn->v, 0);
	touch(odir, 1);
	touch(ndir, 1);
	return 0;
}

static int t_readdir(struct vnode *dir, uint64_t *pos, struct vfs_dirent *out)
{
	struct tnode *d = tn(dir);
	for (uint64_t i = *pos; i < d->nents; i++) {
		struct tentry *e = &d->ents[i];
		if (!e->name)
			continue;
		*out = (struct vfs_dirent){ e->node->v.ino, (uint8_t)(e->node->v.mode >> 12), e->name, e->len };
		*pos = i + 1;
		return 1;
	}
	*pos = d->nents;
	return 0;
}

/* Zeroes the bytes of [from, to) that pages hold (past the end of a file
 * whose cut-off pages were kept for its mappings). */
static void scrub(struct tnode *t, uint64_t from, uint64_t to)
{
	uint64_t limit = t->nleaves * LEAF * PAGE;
	to = to < limit ? to : limit;
	for (uint64_t pos = from; pos < to; ) {
		uint64_t pi = pos / PAGE, in = pos % PAGE, n = PAGE - in;
		if (!t->leaves[pi / LEAF]) {
			pos = (pi / LEAF + 1) * LEAF * PAGE;
			continue;
		}
		n = n < to - pos ? n : to - pos;
		uint8_t *page = page_at(t, pi);
		if (page)
			lo_memset(page + in, 0, n);
		pos += n;
	}
}

/* Page pi for a copy to or from the program's memory (made if make, else
 * NULL for a hole; *err -ENOMEM when memory is short).  While the file is
 * mapped, a fault inside that copy may be on a mapping of this very page
 * and carve it (tmpfs_map_page), freeing the block the copy works on: so
 * it is carved first. */
static uint8_t *page_for_copy(struct tnode *t, uint64_t pi, int make, int64_t *err)
{
	uint8_t *page = make ? page_make(t, pi) : page_at(t, pi);
	if (page && t->maps && (uint64_t)page % PAGE) {
		uint8_t **slot = page_slot(t, pi, 1);
		page = slot ? page_ptr(*slot) : 0;
	}
	*err = page || (!make && !page_at(t, pi)) ? 0 : -ENOMEM;
	return page;
}

static int64_t t_read(struct vnode *v, void *ubuf, uint64_t len, uint64_t off)
{
	struct tnode *t = tn(v);
	if (off >= v->size)
		return 0;
	if (len > v->size - off)
		len = v->size - off;
	uint64_t done = 0;
	while (done < len) {
		uint64_t pos = off + done, in = pos % PAGE, n = PAGE - in;
		if (n > len - done)
			n = len - done;
		uint64_t pi = pos / PAGE;
		int64_t err;
		const uint8_t *page = page_for_copy(t, pi, 0, &err), *src = page ? page + in : zero_page;
		if (err || lo_copy_out((uint8_t *)ubuf + done, src, n))
			return done ? (int64_t)done : err ? err : -EFAULT;
		done += n;
	}
	return (int64_t)done;
}

static int64_t t_write(struct vnode *v, const void *ubuf, uint64_t len, uint64_t off)
{
	struct tnode *t = tn(v);
	if (len == 0)
		return 0;
	if ((t->seals & LX_F_SEAL_WRITE) || ((t->seals & LX_F_SEAL_GROW) && off + len > v->size))
		return -EPERM;
	if (off >= MAX_FILE_SIZE)
		return -EFBIG;
	if (len > MAX_FILE_SIZE - off)
		len = MAX_FILE_SIZE - off;
	image_detach(t);
	uint64_t done = 0;
	int64_t err = 0;
	if (t->tail_kept && off > v->size)
		scrub(t, v->size, off);
	while (done < len) {
		uint64_t pos = off + done, in = pos % PAGE, n = PAGE - in, pi = pos / PAGE;
		if (n > len - done)
			n = len - done;
		uint8_t *page = page_for_copy(t, pi, 1, &err);
		if (!page) {
			err = -ENOSPC;
			break;
		}
		if (lo_copy_in(page + in, (const uint8_t *)ubuf + done, n)) {
			err = -EFAULT;
			break;
		}
		done += n;
	}
	if (done) {
		if (off + done > v->size)
			v->size = off + done;
		touch(v, 1);
	}
	return done ? (int64_t)done : err;
}

static int t_truncate(struct vnode *v, uint64_t len)
{
	struct tnode *t = tn(v);
	if (len > MAX_FILE_SIZE)
		return -EFBIG;
	if ((len < v->size && (t->seals & LX_F_SEAL_SHRINK)) || (len > v->size && (t->seals & LX_F_SEAL_GROW)))
		return -EPERM;
	image_detach(t);
	if (len < v->size && t->maps) {
		/* another process may map the pages: they stay, zeroed */
		scrub(t, len, v->size);
		t->tail_kept = 1;
		mm_file_truncated(v, len);
	} else if (len < v->size) {
		uint8_t *last = page_at(t, len / PAGE);
		drop_pages(t, (len + PAGE - 1) / PAGE);
		if (len % PAGE && last)
			lo_memset(last + len % PAGE, 0, PAGE - len % PAGE);
	} else if (t->tail_kept) {
		scrub(t, v->size, len);
	}
	v->size = len;
	touch(v, 1);
	return 0;
}

static int t_readlink(struct vnode *v, const char **target, size_t *len)
{
	if (!LX_S_ISLNK(v->mode))
		return -EINVAL;
	*target = tn(v)->target;
	*len = v->size;
	return 0;
}

/* Every tmpfs keeps its nodes and pages in the shared segment: a mount's
 * size is what it uses plus what the segment has free (shared by all). */
static int t_statfs(struct vnode *v, struct lx_statfs *out)
{
	uint64_t free_bytes, heap_bytes;
	sh_usage(&free_bytes, &heap_bytes);
	uint64_t free_pages = free_bytes / PAGE;
	lo_memset(out, 0, sizeof *out);
	out->type = v->mnt->magic;
	out->bsize = out->frsize = PAGE;
	out->blocks = v->mnt->used_pages + free_pages;
	out->bfree = out->bavail = free_pages;
	out->ffree = free_bytes / sizeof(struct tnode);
	out->files = v->mnt->used_nodes + 1 + out->ffree;
	out->fsid[0] = (int32_t)v->mnt->dev;
	out->namelen = LX_NAME_MAX;
	return 0;
}

const struct vnode_ops tmpfs_vnode_ops = {
	.lookup = t_lookup, .create = t_create, .link = t_link, .unlink = t_unlink,
	.rename = t_rename, .exchange = t_exchange, .readdir = t_readdir, .read = t_read, .write = t_write,
	.truncate = t_truncate, .readlink = t_readlink, .statfs = t_statfs, .destroy = t_destroy,
};

int64_t tmpfs_map_page(struct vnode *v, uint64_t pi)
{
	if (pi >= (v->size + PAGE - 1) / PAGE)
		return MM_FAULT_SIGBUS;
	uint8_t **slot = page_slot(tn(v), pi, 1);
	return slot ? (int64_t)(((uint64_t)page_ptr(*slot) - SH_VA) / PAGE) : -ENOMEM;
}

const uint8_t *tmpfs_file_page(struct vnode *v, uint64_t pi)
{
	return page_at(tn(v), pi);
}

void tmpfs_map_ref(struct vnode *v, int d)
{
	struct tnode *t = tn(v);
	if (d > 0)
		image_detach(t);	/* a shared mapping may write the file */
	if (d > 0 && t->maps++ == 0)
		vfs_ref(v);
	if (d > 0 || --t->maps)
		return;
	if (t->tail_kept)
		drop_pages(t, (v->size + PAGE - 1) / PAGE);
	t->tail_kept = 0;
	vfs_put(v);
}

uint32_t tmpfs_seals(struct vnode *v)
{
	return tn(v)->seals;
}

int tmpfs_add_seals(struct vnode *v, uint32_t seals)
{
	if (tn(v)->seals & LX_F_SEAL_SEAL)
		return -EPERM;
	tn(v)->seals |= seals;
	return 0;
}

void tmpfs_unseal(struct vnode *v)
{
	tn(v)->seals = 0;
}

struct vnode *tmpfs_anon(struct vnode *dir, uint32_t mode)
{
	struct tnode *t = node_new(dir, LX_S_IFREG | (mode & 07777));
	if (t)
		t->v.nlink = 0;
	return t ? &t->v : 0;
}

struct vnode *tmpfs_new(void)
{
	struct tnode *t = node_new(0, LX_S_IFDIR | 0755);
	return t ? &t->v : 0;
}

/* ---- execve's copies of executables (struct tmpfs_image, above) */

#define IMAGE_SHARE 8	/* images take at most this fraction of the segment */

void tmpfs_image_ref(struct tmpfs_image *img)
{
	if (img)
		img->refs++;
}

void tmpfs_image_put(struct tmpfs_image *img)
{
	if (!img || --img->refs)
		return;
	struct sh_header *h = sh_seg();
	struct tmpfs_image **pp = (struct tmpfs_image **)&h->exec_images;
	while (*pp && *pp != img)
		pp = &(*pp)->next;
	if (*pp)
		*pp = img->next;
	h->exec_image_pages -= img->pages;
	sh_free(img->raw);
	sh_free(img);
}

/* The file lets its image go; the processes that map it keep it. */
static void image_detach(struct tnode *t)
{
	struct tmpfs_image *img = t->image;
	if (!img)
		return;
	t->image = 0;
	img->node = 0;
	tmpfs_image_put(img);
}

/* Drops the images no process maps (only their file holds them) until
 * at most keep pages of images are left: whether any went. */
static int images_trim(uint64_t keep)
{
	struct sh_header *h = sh_seg();
	struct tmpfs_image *next;
	int dropped = 0;
	for (struct tmpfs_image *i = h->exec_images; i && h->exec_image_pages > keep; i = next) {
		next = i->next;
		if (i->refs == 1 && i->node) {
			image_detach(i->node);
			dropped = 1;
		}
	}
	return dropped;
}

static int images_drop_idle(void)
{
	return images_trim(0);
}

/* Whether pages more fit the images' share of the segment, once the
 * images no process maps have made room. */
static int image_room(uint64_t pages)
{
	struct sh_header *h = sh_seg();
	uint64_t budget = h->layout_size / PAGE / IMAGE_SHARE;
	if (pages > budget)
		return 0;
	images_trim(budget - pages);
	return h->exec_image_pages + pages <= budget;
}

struct tmpfs_image *tmpfs_image_get(struct vnode *v, uint64_t pages)
{
	struct tnode *t = tn(v);
	if (t->maps || pages == 0 || pages > (v->size + PAGE - 1) / PAGE)
		return 0;
	if (t->image && t->image->pages >= pages) {
		t->image->refs++;
		return t->image;
	}
	image_detach(t);
	if (!image_room(pages))
		return 0;
	struct tmpfs_image *img = sh_alloc(sizeof *img);
	uint8_t *raw = img ? sh_alloc((pages + 1) * PAGE) : 0;	/* zeroed */
	if (!raw) {
		sh_free(img);
		return 0;
	}
	uint8_t *at = (uint8_t *)(((uint64_t)raw + PAGE - 1) & ~(PAGE - 1));
	for (uint64_t pi = 0; pi < pages; pi++) {
		const uint8_t *page = page_at(t, pi);
		uint64_t n = v->size - pi * PAGE < PAGE ? v->size - pi * PAGE : PAGE;
		if (page)
			lo_memcpy(at + pi * PAGE, page, n);
	}
	struct sh_header *h = sh_seg();
	*img = (struct tmpfs_image){ .refs = 2, .pages = pages, .raw = raw, .at = at, .node = t,
				     .next = h->exec_images };
	h->exec_images = img;
	h->exec_image_pages += pages;
	t->image = img;
	return img;
}

uint64_t tmpfs_image_bytes(void)
{
	uint64_t n = 0;
	if (!lp.shared_pages)
		return 0;
	for (const struct tmpfs_image *i = sh_seg()->exec_images; i; i = i->next)
		n += (i->pages + 1) * PAGE + sizeof *i;
	return n;
}

const uint8_t *tmpfs_image_page(const struct tmpfs_image *img, uint64_t pi)
{
	return pi < img->pages ? img->at + pi * PAGE : 0;
}
