/* Model of a CryptoFS namespace for random and power-loss tests (model.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crypto/crypto.h"
#include "tests/fs/model.h"
#include "tests/fs/ramdev.h"

static uint64_t rnd(struct model *m, uint64_t n)
{
	return ramdev_rand(&m->rng) % n;
}

void model_init(struct model *m, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	m->rng = seed * 0x9E3779B97F4A7C15ull + 1;
}

void model_free(struct model *m)
{
	for (int i = 0; i < m->n; i++)
		free(m->nodes[i].data);
	m->n = 0;
}

static struct model_node *find(struct model *m, const char *path)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->nodes[i].path, path) == 0)
			return &m->nodes[i];
	return NULL;
}

static void drop(struct model *m, struct model_node *nd)
{
	free(nd->data);
	*nd = m->nodes[--m->n];
}

static struct model_node *add(struct model *m, const char *path, uint32_t type)
{
	struct model_node *nd = &m->nodes[m->n++];

	memset(nd, 0, sizeof *nd);
	snprintf(nd->path, sizeof nd->path, "%s", path);
	nd->type = type;
	return nd;
}

/* Resolve the parent of path like the file system does: ENOENT for a
 * missing component, ENOTDIR for one that is not a directory. */
static int parent_err(struct model *m, const char *path)
{
	char pre[MODEL_PATH];

	for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		struct model_node *nd;

		memcpy(pre, path, (size_t)(p - path));
		pre[p - path] = 0;
		nd = find(m, pre);
		if (!nd)
			return -ENOENT;
		if (nd->type != CFS_S_IFDIR)
			return -ENOTDIR;
	}
	return 0;
}

static bool has_children(struct model *m, const char *path)
{
	size_t n = strlen(path);

	for (int i = 0; i < m->n; i++)
		if (strncmp(m->nodes[i].path, path, n) == 0 && m->nodes[i].path[n] == '/')
			return true;
	return false;
}

static void random_path(struct model *m, char *out)
{
	static const char *names[] = { "a", "b", "c", "d" };
	int depth = 1 + (int)rnd(m, 3);

	out[0] = 0;
	for (int i = 0; i < depth; i++) {
		strcat(out, "/");
		strcat(out, names[rnd(m, 4)]);
	}
}

static bool fail(struct model *m, const char *what, long long got, long long want)
{
	size_t n = strlen(m->last_op);

	snprintf(m->last_op + n, sizeof m->last_op - n, ": %s got %lld want %lld", what, got, want);
	return false;
}

/* Compare one path of the model with the file system. */
static bool check_path(struct model *m, struct cfs *fs, const char *path)
{
	struct model_node *nd = find(m, path);
	struct cfs_stat st;
	int rc = cfs_stat(fs, path, &st);

	if (!nd)
		return rc == -ENOENT || rc == -ENOTDIR ? true : fail(m, "stat of absent", rc, -ENOENT);
	if (rc < 0)
		return fail(m, "stat", rc, 0);
	if ((st.mode & CFS_S_IFMT) != nd->type)
		return fail(m, "type", st.mode & CFS_S_IFMT, nd->type);
	if (nd->type == CFS_S_IFLNK) {
		char buf[MODEL_PATH];
		int64_t n = cfs_readlink(fs, path, buf, sizeof buf);

		if (n != (int64_t)strlen(nd->target) || memcmp(buf, nd->target, (size_t)n) != 0)
			return fail(m, "readlink", n, (long long)strlen(nd->target));
	}
	if (nd->type != CFS_S_IFREG)
		return true;
	if (st.size != nd->size)
		return fail(m, "size", (long long)st.size, (long long)nd->size);
	int64_t fh = cfs_open(fs, path, 0, 0);
	static uint8_t buf[MODEL_MAX_FILE + 16];
	int64_t n = cfs_read(fs, fh, buf, sizeof buf, 0);

	if (n != (int64_t)nd->size)
		return fail(m, "read length", n, (long long)nd->size);
	if (nd->size && memcmp(buf, nd->data, nd->size) != 0)
		return fail(m, "content", 0, 1);
	return true;
}

static int op_create(struct model *m, struct cfs *fs, const char *path)
{
	struct model_node *nd = find(m, path);
	int want = parent_err(m, path);
	int64_t rc;

	if (!nd && m->n >= MODEL_MAX_NODES)
		return 0;
	rc = cfs_open(fs, path, CFS_O_CREAT, 0644);

	if (want == 0 && nd)
		want = nd->type == CFS_S_IFDIR ? -EISDIR : nd->type == CFS_S_IFLNK ? -ELOOP : 0;
	if (want == 0 && !nd && m->n < MODEL_MAX_NODES)
		add(m, path, CFS_S_IFREG);
	if ((rc < 0 ? rc : 0) != want)
		return fail(m, "create", rc, want), -1;
	return 0;
}

static int op_write(struct model *m, struct cfs *fs, const char *path)
{
	struct model_node *nd = find(m, path);
	uint64_t off = rnd(m, 5) == 0 ? rnd(m, 48000) : rnd(m, 12000);
	size_t len = 1 + (size_t)rnd(m, rnd(m, 4) == 0 ? 12000 : 300);
	uint8_t buf[20 * 4096];

	if (rnd(m, 8) == 0) {   /* whole blocks: the direct, batched path */
		off = rnd(m, 12) * 4096;
		len = (1 + (size_t)rnd(m, 20)) * 4096;
	}
	int64_t fh = cfs_open(fs, path, 0, 0), want = len;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(ramdev_rand(&m->rng) >> 40);
	snprintf(m->last_op, sizeof m->last_op, "write %s off %llu len %zu", path,
		 (unsigned long long)off, len);
	if (!nd || nd->type != CFS_S_IFREG)
		return 0;   /* open errors are covered by op_create */
	if (fh < 0)
		return fail(m, "open", fh, 0), -1;
	if (off + len > MODEL_MAX_FILE)
		return 0;
	int64_t rc = cfs_write(fs, fh, buf, len, off);

	if (rc != want)
		return fail(m, "write", rc, want), -1;
	if (off + len > nd->size) {
		nd->data = realloc(nd->data, off + len);
		memset(nd->data + nd->size, 0, off + len - nd->size);
		nd->size = off + len;
	}
	memcpy(nd->data + off, buf, len);
	m->ok_flag = true;
	return 0;
}

static int op_truncate(struct model *m, struct cfs *fs, const char *path)
{
	struct model_node *nd = find(m, path);
	uint64_t size = rnd(m, 20000);
	int want = parent_err(m, path), rc = cfs_truncate(fs, path, size);

	if (want == 0)
		want = !nd ? -ENOENT : nd->type == CFS_S_IFDIR ? -EISDIR
			: nd->type == CFS_S_IFLNK ? -EINVAL : 0;
	if (rc != want)
		return fail(m, "truncate", rc, want), -1;
	if (want == 0) {
		nd->data = realloc(nd->data, size ? size : 1);
		if (size > nd->size)
			memset(nd->data + nd->size, 0, size - nd->size);
		nd->size = size;
	}
	return 0;
}

static int op_mkdir(struct model *m, struct cfs *fs, const char *path)
{
	struct model_node *nd = find(m, path);
	int want = parent_err(m, path), rc;

	if (want == 0 && nd)
		want = -EEXIST;
	if (want == 0 && m->n >= MODEL_MAX_NODES)
		return 0;
	rc = cfs_mkdir(fs, path, 0755);
	if (want == 0)
		add(m, path, CFS_S_IFDIR);
	if (rc != want)
		return fail(m, "mkdir", rc, want), -1;
	return 0;
}

static int op_symlink(struct model *m, struct cfs *fs, const char *path)
{
	struct model_node *nd = find(m, path);
	int want = parent_err(m, path), rc;
	char target[MODEL_PATH];

	random_path(m, target);
	if (want == 0 && nd)
		want = -EEXIST;
	if (want == 0 && m->n >= MODEL_MAX_NODES)
		return 0;
	rc = cfs_symlink(fs, target, path);
	if (want == 0)
		strcpy(add(m, path, CFS_S_IFLNK)->target, target);
	if (rc != want)
		return fail(m, "symlink", rc, want), -1;
	return 0;
}

static int op_remove(struct model *m, struct cfs *fs, const char *path, bool dir)
{
	struct model_node *nd = find(m, path);
	int want = parent_err(m, path);
	int rc = dir ? cfs_rmdir(fs, path) : cfs_unlink(fs, path);

	if (want == 0 && !nd)
		want = -ENOENT;
	if (want == 0 && dir && nd->type != CFS_S_IFDIR)
		want = -ENOTDIR;
	if (want == 0 && !dir && nd->type == CFS_S_IFDIR)
		want = -EISDIR;
	if (want == 0 && dir && has_children(m, path))
		want = -ENOTEMPTY;
	if (want == 0)
		drop(m, nd);
	if (rc != want)
		return fail(m, dir ? "rmdir" : "unlink", rc, want), -1;
	return 0;
}

static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

static int rename_want(struct model *m, const char *from, const char *to)
{
	struct model_node *s = find(m, from), *d = find(m, to);
	char tparent[MODEL_PATH];
	int want = parent_err(m, from);

	if (want == 0)
		want = parent_err(m, to);
	if (want == 0 && !s)
		want = -ENOENT;
	if (want || s == d)
		return want;
	if (d) {
		if (s->type == CFS_S_IFDIR && d->type != CFS_S_IFDIR)
			return -ENOTDIR;
		if (s->type != CFS_S_IFDIR && d->type == CFS_S_IFDIR)
			return -EISDIR;
		if (d->type == CFS_S_IFDIR && has_children(m, to))
			return -ENOTEMPTY;
	}
	snprintf(tparent, sizeof tparent, "%s", to);
	*strrchr(tparent, '/') = 0;
	if (s->type == CFS_S_IFDIR && is_below(tparent[0] ? tparent : "/", from))
		return -EINVAL;
	return 0;
}

/* Longest path a rename would create (the model keeps paths short). */
static size_t renamed_length(struct model *m, const char *from, const char *to)
{
	size_t longest = 0;

	for (int i = 0; i < m->n; i++)
		if (is_below(m->nodes[i].path, from)) {
			size_t n = strlen(to) + strlen(m->nodes[i].path) - strlen(from);

			longest = n > longest ? n : longest;
		}
	return longest;
}

static int op_rename(struct model *m, struct cfs *fs, const char *from, const char *to)
{
	int want = rename_want(m, from, to), rc;
	struct model_node *s = find(m, from), *d = find(m, to);

	if (want == 0 && renamed_length(m, from, to) > 6)
		return 0;
	rc = cfs_rename(fs, from, to);

	if (want == 0 && s != d) {
		size_t n = strlen(from);

		if (d)
			drop(m, d);
		for (int i = 0; i < m->n; i++) {
			char np[MODEL_PATH * 2];

			if (!is_below(m->nodes[i].path, from))
				continue;
			snprintf(np, sizeof np, "%s%s", to, m->nodes[i].path + n);
			if (strlen(np) >= MODEL_PATH)
				return fail(m, "rename path too long for the model", 0, 0), -1;
			strcpy(m->nodes[i].path, np);
		}
	}
	if (rc != want)
		return fail(m, "rename", rc, want), -1;
	return 0;
}

bool model_step(struct model *m, struct cfs *fs)
{
	char p1[MODEL_PATH], p2[MODEL_PATH];
	uint64_t kind = rnd(m, 100);
	int rc, before = m->n;

	bool existing = kind >= 15 && kind < 52 ? rnd(m, 10) < 8
		      : kind >= 68 ? rnd(m, 10) < 4 : false;

	if (m->n && existing)
		strcpy(p1, m->nodes[rnd(m, (uint64_t)m->n)].path);
	else
		random_path(m, p1);
	random_path(m, p2);
	snprintf(m->last_op, sizeof m->last_op, "op %llu on %s %s", (unsigned long long)kind, p1, p2);
	if (kind < 15)
		rc = op_create(m, fs, p1);
	else if (kind < 45)
		rc = op_write(m, fs, p1);
	else if (kind < 52)
		rc = op_truncate(m, fs, p1);
	else if (kind < 64)
		rc = op_mkdir(m, fs, p1);
	else if (kind < 68)
		rc = op_symlink(m, fs, p1);
	else if (kind < 78)
		rc = op_remove(m, fs, p1, false);
	else if (kind < 86)
		rc = op_remove(m, fs, p1, true);
	else
		rc = op_rename(m, fs, p1, p2);
	if (rc < 0)
		return false;
	if (m->n != before || m->ok_flag)
		m->mutations++;
	m->ok_flag = false;
	return check_path(m, fs, p1) && check_path(m, fs, p2);
}

struct count_ctx { struct model *m; const char *dir; int n; bool ok; };

static int count_visit(void *vctx, const char *name, size_t len, const struct cfs_stat *st,
		       uint64_t next)
{
	struct count_ctx *c = vctx;
	char path[MODEL_PATH * 2];

	(void)st; (void)next;
	snprintf(path, sizeof path, "%s/%.*s", strcmp(c->dir, "/") ? c->dir : "", (int)len, name);
	if (!find(c->m, path))
		c->ok = false;
	c->n++;
	return 0;
}

bool model_verify_all(struct model *m, struct cfs *fs)
{
	struct count_ctx c = { m, "/", 0, true };
	int listed = 0;

	for (int i = 0; i < m->n; i++)
		if (!check_path(m, fs, m->nodes[i].path))
			return false;
	if (cfs_readdir(fs, "/", 0, count_visit, &c) < 0)
		return fail(m, "readdir /", 0, 0);
	listed += c.n;
	for (int i = 0; i < m->n; i++) {
		if (m->nodes[i].type != CFS_S_IFDIR)
			continue;
		c.dir = m->nodes[i].path;
		c.n = 0;
		if (cfs_readdir(fs, c.dir, 0, count_visit, &c) < 0)
			return fail(m, "readdir", 0, 0);
		listed += c.n;
	}
	if (!c.ok || listed != m->n)
		return fail(m, "listing", listed, m->n);
	return true;
}

static uint64_t node_digest(const char *path, uint32_t type, const void *data, uint64_t size)
{
	cx_hash_state st;
	uint64_t h;
	uint8_t out[16];

	cx_hash_init(&st, NULL, 0, sizeof out);
	cx_hash_update(&st, path, strlen(path) + 1);
	cx_hash_update(&st, &type, sizeof type);
	cx_hash_update(&st, &size, sizeof size);
	if (size)
		cx_hash_update(&st, data, size);
	cx_hash_final(&st, out, sizeof out);
	memcpy(&h, out, sizeof h);
	return h;
}

uint64_t model_digest(const struct model *m)
{
	uint64_t sum = (uint64_t)m->n;

	for (int i = 0; i < m->n; i++) {
		const struct model_node *nd = &m->nodes[i];

		if (nd->type == CFS_S_IFLNK)
			sum += node_digest(nd->path, nd->type, nd->target, strlen(nd->target));
		else
			sum += node_digest(nd->path, nd->type, nd->data,
					   nd->type == CFS_S_IFREG ? nd->size : 0);
	}
	return sum;
}

struct digest_ctx { struct cfs *fs; const char *dir; uint64_t sum; int rc; int depth; };

static int digest_dir(struct digest_ctx *c, const char *dir);

static int digest_visit(void *vctx, const char *name, size_t len, const struct cfs_stat *st,
			uint64_t next)
{
	struct digest_ctx *c = vctx;
	char path[MODEL_PATH * 2];
	static uint8_t buf[MODEL_MAX_FILE + 16];
	uint32_t type = st->mode & CFS_S_IFMT;
	int64_t n = 0;

	(void)next;
	snprintf(path, sizeof path, "%s/%.*s", strcmp(c->dir, "/") ? c->dir : "", (int)len, name);
	if (type == CFS_S_IFREG) {
		int64_t fh = cfs_open(c->fs, path, 0, 0);

		n = fh < 0 ? fh : cfs_read(c->fs, fh, buf, sizeof buf, 0);
	} else if (type == CFS_S_IFLNK) {
		n = cfs_readlink(c->fs, path, (char *)buf, sizeof buf);
	}
	if (n < 0) {
		c->rc = (int)n;
		return 1;
	}
	c->sum += 1 + node_digest(path, type, buf, (uint64_t)n);
	if (type == CFS_S_IFDIR && c->depth < 8) {
		const char *saved = c->dir;

		c->depth++;
		c->rc = digest_dir(c, path);
		c->depth--;
		c->dir = saved;
		if (c->rc < 0)
			return 1;
	}
	return 0;
}

static int digest_dir(struct digest_ctx *c, const char *dir)
{
	c->dir = dir;
	int rc = cfs_readdir(c->fs, dir, 0, digest_visit, c);

	return rc < 0 ? rc : c->rc;
}

int fs_digest(struct cfs *fs, uint64_t *out)
{
	struct digest_ctx c = { fs, "/", 0, 0, 0 };
	int rc = digest_dir(&c, "/");

	*out = c.sum;
	return rc;
}
