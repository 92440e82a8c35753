/*
 * Rollback protection of the host tool: the newest generation seen of each
 * volume, one small file per volume id under the user's XDG state
 * directory ($XDG_STATE_HOME/cryptofs, or ~/.local/state/cryptofs).  The
 * core asks at mount (check_generation) and reports every commit
 * (generation_committed); see docs/CRYPTOFS.md, "Rollback".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fs/tool/rollback.h"

/* The state directory, made (mode 0700) if missing; 0 or -errno. */
static int state_dir(char *dir, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char base[4096];

	if (xdg && xdg[0] == '/')
		snprintf(base, sizeof base, "%s", xdg);
	else if (home && home[0] == '/')
		snprintf(base, sizeof base, "%s/.local/state", home);
	else
		return -ENOENT;
	if ((size_t)snprintf(dir, size, "%s/cryptofs", base) >= size)
		return -ENAMETOOLONG;
	/* each level in turn: ~/.local and ~/.local/state may be missing */
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Prepare the record of volume id's state file; the directory is made
 * when first needed. */
static int state_path(struct rollback *rb, const uint8_t id[16])
{
	char dir[4096 - 40];
	int rc = state_dir(dir, sizeof dir);

	if (rc < 0)
		return rc;
	int n = snprintf(rb->path, sizeof rb->path, "%s/", dir);

	for (int i = 0; i < 16; i++)
		n += snprintf(rb->path + n, sizeof rb->path - (size_t)n, "%02x", id[i]);
	return 0;
}

/* The recorded generation (0 when none). */
static uint64_t state_read(const char *path)
{
	FILE *f = fopen(path, "r");
	uint64_t g = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%" SCNu64, &g) != 1)
		g = 0;
	fclose(f);
	return g;
}

/* Replace the record atomically (a temporary file renamed over it). */
static int state_write(const char *path, uint64_t generation)
{
	char tmp[sizeof ((struct rollback *)0)->path + 16];
	int fd, rc = 0;

	snprintf(tmp, sizeof tmp, "%s.%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%" PRIu64 "\n", generation) < 0 || fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* Record generation; a failure is told once and leaves the tool running
 * (without protection for this volume from then on). */
static void record(struct rollback *rb, uint64_t generation)
{
	int rc = state_write(rb->path, generation);

	if (rc == 0) {
		rb->recorded = generation;
		return;
	}
	if (!rb->warned)
		fprintf(stderr, "cryptofs: warning: cannot record the generation in %s: %s "
			"(rollback protection needs it)\n", rb->path, strerror(-rc));
	rb->warned = true;
}

/* Find the volume's state file and what it records; false when there is
 * nowhere to keep it (told once: rollback is then not checked). */
static bool have_record(struct rollback *rb, const uint8_t id[16])
{
	int rc;

	if (rb->path[0])
		return true;
	if (rb->disabled)
		return false;
	rc = state_path(rb, id);
	if (rc < 0) {
		fprintf(stderr, "cryptofs: warning: no state directory for rollback protection "
			"($XDG_STATE_HOME or $HOME): %s\n", strerror(-rc));
		rb->path[0] = 0;
		rb->disabled = rb->warned = true;
		return false;
	}
	rb->recorded = state_read(rb->path);
	return true;
}

int rollback_check(struct rollback *rb, const uint8_t id[16], uint64_t generation)
{
	if (!have_record(rb, id))
		return 0;
	rb->seen = generation;
	if (generation < rb->recorded && !rb->allow)
		return -ESTALE;
	if (generation != rb->recorded)
		record(rb, generation);
	return 0;
}

void rollback_committed(struct rollback *rb, const uint8_t id[16], uint64_t generation)
{
	if (have_record(rb, id) && generation > rb->recorded)
		record(rb, generation);
}
