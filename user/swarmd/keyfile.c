/*
 * Key and state files (see keyfile.h).  POSIX only: open, read, write,
 * fsync, rename.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "user/swarmd/keyfile.h"

/* See keyfile.h. */
int kf_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t have = 0;

	if (fd < 0)
		return -errno;
	while (have + 1 < cap) {
		ssize_t k = read(fd, buf + have, cap - 1 - have);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	close(fd);
	buf[have] = 0;
	return (int)have;
}

/* See keyfile.h: a crash leaves the old file or the new one, never half. */
int kf_write_bytes(const char *path, const void *data, size_t len, mode_t mode, int durable)
{
	const char *text = data;
	char tmp[1024];
	size_t done = 0;
	int fd, err = 0;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	while (done < len) {
		ssize_t k = write(fd, text + done, len - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			err = -errno;
			break;
		}
		done += (size_t)k;
	}
	if (!err && durable && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* See keyfile.h. */
int kf_write(const char *path, const char *text, mode_t mode)
{
	return kf_write_bytes(path, text, strlen(text), mode, 1);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* See keyfile.h: -ENOENT when there is no such line, -EINVAL when its
 * value is not exactly len bytes of hex. */
int kf_get(const char *text, const char *name, uint8_t *out, size_t len)
{
	size_t nl = strlen(name);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, name, nl) && p[nl] == ' ') {
			const char *h = p + nl + 1;
			for (size_t i = 0; i < len; i++) {
				int a = hexval(h[2 * i]), b = a < 0 ? -1 : hexval(h[2 * i + 1]);
				if (a < 0 || b < 0)
					return -EINVAL;
				out[i] = (uint8_t)(a << 4 | b);
			}
			if (h[2 * len] != '\n' && h[2 * len] != 0)
				return -EINVAL;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

/* See keyfile.h. */
int kf_load(const char *path, const char *name, uint8_t *out, size_t len)
{
	char text[KF_MAX];
	int err = kf_read(path, text, sizeof text);

	if (err < 0)
		return err;
	err = kf_get(text, name, out, len);
	cx_wipe(text, sizeof text);
	return err;
}

/* See keyfile.h. */
int kf_put(char *buf, size_t cap, const char *name, const uint8_t *in, size_t len)
{
	size_t at = strlen(buf), need = strlen(name) + 2 + 2 * len;

	if (at + need + 1 > cap)
		return -ENOSPC;
	at += (size_t)sprintf(buf + at, "%s ", name);
	for (size_t i = 0; i < len; i++)
		at += (size_t)sprintf(buf + at, "%02x", in[i]);
	strcpy(buf + at, "\n");
	return 0;
}

/* See keyfile.h: the public key is the second half of the secret key. */
int kf_load_node(const char *path, struct node_keys *k)
{
	char text[KF_MAX];
	int err = kf_read(path, text, sizeof text);

	if (err < 0)
		return err;
	err = kf_get(text, "sk", k->ident.sk, sizeof k->ident.sk);
	if (!err)
		err = kf_get(text, "cert", k->ident.cert, sizeof k->ident.cert);
	if (!err)
		err = kf_get(text, "nert_sk", k->nert_sk, sizeof k->nert_sk);
	cx_wipe(text, sizeof text);
	memcpy(k->ident.pk, k->ident.sk + CX_SIGN_SEED_BYTES, sizeof k->ident.pk);
	return err;
}

/* See keyfile.h. */
int kf_read_u64(const char *path, uint64_t *v)
{
	char text[64];
	int err = kf_read(path, text, sizeof text);
	char *end;

	*v = 0;
	if (err == -ENOENT)
		return 0;
	if (err < 0)
		return err;
	*v = strtoull(text, &end, 10);
	return end == text ? -EINVAL : 0;
}

/* See keyfile.h. */
int kf_write_u64(const char *path, uint64_t v)
{
	char text[32];

	snprintf(text, sizeof text, "%" PRIu64 "\n", v);
	return kf_write(path, text, 0644);
}
