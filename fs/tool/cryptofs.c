/*
 * cryptofs: make, inspect, check, change and mount CryptoFS images on the
 * host.  The image is a plain file of 4 KiB blocks; the core in fs/ does all
 * the work.  See docs/CRYPTOFS.md for the command line and exit statuses.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include "crypto/crypto.h"
#include "fs/tool/rollback.h"
#include "fs/tool/tool.h"
#include "fs/tool/workers.h"

static const char usage_text[] =
	"usage: cryptofs COMMAND IMAGE [ARGS] [OPTIONS]\n"
	"  mkfs IMAGE --size SIZE [--key-file F] [--argon2-ops N] [--argon2-mem MIB] [--format 1|2]\n"
	"  ls IMAGE [PATH]          list a directory\n"
	"  put IMAGE LOCAL PATH     copy a host file in (replaces atomically)\n"
	"  get IMAGE PATH LOCAL     copy out; LOCAL - means stdout\n"
	"  rm IMAGE PATH            remove a file, symlink or empty directory\n"
	"  mkdir IMAGE PATH         make a directory\n"
	"  stat IMAGE PATH          show type, mode, size, links and times\n"
	"  fsck IMAGE               verify every reachable block and the tree\n"
	"  passwd IMAGE             new passphrase (or --new-key-file F), data not rewritten;\n"
	"                           with --new-recovery-key: a new recovery key instead\n"
	"  mount IMAGE DIR [-f] [-s] [-o OPT]   FUSE mount through libfuse3\n"
	"options: --key-file F, --recovery-key FILE (- = stdin), --min-generation N,\n"
	"  --allow-rollback (open an image older than the newest seen)\n"
	"passphrase: terminal prompt, or CRYPTOFS_PASSPHRASE (CRYPTOFS_NEW_PASSPHRASE for passwd)\n"
	"exit: 0 ok, 1 error, 2 usage, 3 wrong passphrase or key, 4 corruption or tampering\n";

struct options {
	const char *cmd, *image;
	const char *args[3];
	int nargs;
	const char *key_file, *new_key_file, *recovery, *size;
	uint64_t argon2_ops, argon2_mem_mib, min_generation, format;
	int ephemeral, allow_rollback, new_recovery;
	char *extra[32];    /* mount options passed to FUSE */
	int nextra;
};

struct image { int fd; uint64_t nblocks; struct rollback rb; };

/* Threads that seal and open large batches of blocks beside the caller. */
static struct workers *helpers;

/* One line about bad usage, exit status 2. */
static int usage(const char *msg)
{
	fprintf(stderr, "cryptofs: %s (cryptofs --help shows the usage)\n", msg);
	return EXIT_USAGE;
}

/* Map a core error to the documented exit status. */
int tool_exit_status(int err)
{
	switch (-err) {
	case EACCES: return EXIT_KEY;
	case EIO: case EBADMSG: case ESTALE: case EUCLEAN: return EXIT_DAMAGE;
	default: return EXIT_ERROR;
	}
}

/* Print one clear line for a failure and return its exit status. */
int tool_fail(struct cfs *fs, const char *what, int err)
{
	uint64_t blk = 0, ino = 0;

	if (err == -EIO && fs) {
		cfs_last_error(fs, &blk, &ino);
		fprintf(stderr, "cryptofs: %s: damaged block %llu (inode %llu) fails authentication: "
			"data there is lost or was tampered with\n", what, (unsigned long long)blk,
			(unsigned long long)ino);
	} else if (err == -EACCES) {
		fprintf(stderr, "cryptofs: %s: wrong passphrase or key\n", what);
	} else if (err == -ESTALE) {
		fprintf(stderr, "cryptofs: %s: image is older than the generation you last saw "
			"(rollback); --allow-rollback opens it anyway\n", what);
	} else if (err == -EUCLEAN) {
		fprintf(stderr, "cryptofs: %s: the superblock is authentic but the tree it names is "
			"damaged (its space map fails authentication)\n", what);
	} else if (err == -ENOTSUP) {
		fprintf(stderr, "cryptofs: %s: format 2 (AEGIS-256) needs the AES instructions this "
			"CPU lacks; use a format 1 volume here (mkfs --format 1)\n", what);
	} else if (err == -EIO) {
		fprintf(stderr, "cryptofs: %s: no authentic superblock: not a CryptoFS image or "
			"damaged\n", what);
	} else {
		fprintf(stderr, "cryptofs: %s: %s\n", what, strerror(-err));
	}
	return tool_exit_status(err);
}

/* ------------------------------------------------------------ image file */

static int img_read(void *ctx, uint64_t blkno, void *buf)
{
	struct image *im = ctx;

	if (blkno >= im->nblocks)
		return -EIO;
	return pread(im->fd, buf, CFS_BLOCK_SIZE, (off_t)(blkno * CFS_BLOCK_SIZE)) ==
	       CFS_BLOCK_SIZE ? 0 : -EIO;
}

/* Write one block of the image file. */
static int img_write(void *ctx, uint64_t blkno, const void *buf)
{
	struct image *im = ctx;

	if (blkno >= im->nblocks)
		return -EIO;
	return pwrite(im->fd, buf, CFS_BLOCK_SIZE, (off_t)(blkno * CFS_BLOCK_SIZE)) ==
	       CFS_BLOCK_SIZE ? 0 : -EIO;
}

/* Make the image file's completed writes durable. */
static int img_flush(void *ctx)
{
	struct image *im = ctx;

	return fdatasync(im->fd) == 0 ? 0 : -EIO;
}

/* The core allocates through these (it never calls malloc itself). */
static void *host_alloc(void *ctx, size_t size)
{
	(void)ctx;
	return malloc(size);
}

/* Release memory the core allocated. */
static void host_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

/* The volume's keys: memory from sodium_malloc, locked where the host
 * allows (RLIMIT_MEMLOCK), fenced by guard pages. */
static void *host_alloc_secret(void *ctx, size_t size)
{
	(void)ctx;
	return sodium_malloc(size);
}

static void host_free_secret(void *ctx, void *p)
{
	(void)ctx;
	sodium_free(p);
}

/* Wall-clock time for inode timestamps. */
static uint64_t host_now(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Rollback guard: the core's hooks over the image's state record. */
static int img_check_generation(void *ctx, const uint8_t id[16], uint64_t generation)
{
	struct image *im = ctx;

	return rollback_check(&im->rb, id, generation);
}

static void img_generation_committed(void *ctx, const uint8_t id[16], uint64_t generation)
{
	struct image *im = ctx;

	rollback_committed(&im->rb, id, generation);
}

/* The core's environment over an image file. */
static void image_config(struct image *im, struct cfs_config *cfg, const struct options *o)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->ctx = im;
	cfg->nblocks = im->nblocks;
	cfg->read = img_read;
	cfg->write = img_write;
	cfg->flush = img_flush;
	cfg->alloc = host_alloc;
	cfg->free = host_free;
	cfg->alloc_secret = host_alloc_secret;
	cfg->free_secret = host_free_secret;
	cfg->now_ns = host_now;
	cfg->cache_blocks = 4096;
	cfg->min_generation = o->min_generation;
	cfg->check_generation = img_check_generation;
	cfg->generation_committed = img_generation_committed;
	im->rb.allow = o->allow_rollback;
	if (strcmp(o->cmd, "mount") != 0) {
		/* pread/pwrite are thread-safe.  A mount leaves both cores to the
		 * FUSE threads, which already read in parallel and whose
		 * throughput FUSE itself bounds. */
		cfg->parallel = workers_run;
		cfg->parallel_ctx = helpers;
	}
}

/* Open an image file (or block device) and size it in blocks. */
static int image_open(struct image *im, const char *path, int flags)
{
	struct stat st;

	memset(im, 0, sizeof *im);
	im->fd = open(path, flags | O_CLOEXEC, 0600);
	if (im->fd < 0 || fstat(im->fd, &st) < 0) {
		fprintf(stderr, "cryptofs: %s: %s\n", path, strerror(errno));
		return EXIT_ERROR;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "cryptofs: %s: not a regular file\n", path);
		return EXIT_ERROR;
	}
	im->nblocks = (uint64_t)st.st_size / CFS_BLOCK_SIZE;
	return 0;
}

/* ------------------------------------------------------------- secrets */

/* Read a line from the terminal without echo. */
static int prompt(const char *question, char *buf, size_t size)
{
	struct termios old, quiet;
	int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
	ssize_t n = 0;
	size_t len = 0;
	int rc = -1;

	if (fd < 0)
		return -1;
	/* echo goes off before the question appears, so an answer typed as
	 * soon as it shows is neither echoed nor flushed away */
	if (tcgetattr(fd, &old) < 0)
		goto out;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	if (write(fd, question, strlen(question)) < 0)
		goto restore;
	while (len + 1 < size && (n = read(fd, buf + len, 1)) == 1 && buf[len] != '\n')
		len++;
	buf[len] = 0;
	rc = n < 0 ? -1 : 0;
	if (write(fd, "\n", 1) < 0)
		rc = -1;
restore:
	tcsetattr(fd, TCSANOW, &old);
out:
	close(fd);
	return rc;
}

/* Storage for one key, in memory from sodium_malloc: locked (kept out of
 * swap) where the host allows, fenced by guard pages, wiped when freed. */
struct secret {
	struct cfs_key key;
	uint8_t file[4096];
	char pass[1024], again[1024];
	uint8_t recovery[32];
};

/* A zeroed secret, or NULL (told on stderr) when memory ran out. */
static struct secret *secret_new(void)
{
	struct secret *s = sodium_malloc(sizeof *s);

	if (!s)
		fprintf(stderr, "cryptofs: no memory for keys\n");
	else
		memset(s, 0, sizeof *s);
	return s;
}

/* Forget a key: sodium_free wipes it. */
static void drop_key(struct secret *s)
{
	if (s)
		sodium_free(s);
}

/* Up to size bytes of a file ("-" = standard input) straight into buf,
 * with no stdio buffer keeping a copy; -1 (told on stderr) on failure. */
static ssize_t read_secret_file(const char *what, const char *path, uint8_t *buf, size_t size)
{
	int fd = strcmp(path, "-") == 0 ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n = 0;

	if (fd < 0) {
		fprintf(stderr, "cryptofs: %s %s: %s\n", what, path, strerror(errno));
		return -1;
	}
	while (len < size && (n = read(fd, buf + len, size - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		fprintf(stderr, "cryptofs: %s %s: %s\n", what, path, strerror(errno));
	if (fd != 0)
		close(fd);
	return n < 0 ? -1 : (ssize_t)len;
}

/* The first 4 KiB of a key file are the key material. */
static int read_key_file(const char *path, struct secret *s)
{
	ssize_t len = read_secret_file("key file", path, s->file, sizeof s->file);

	if (len < 0)
		return EXIT_USAGE;
	if (len == 0) {
		fprintf(stderr, "cryptofs: key file %s is empty\n", path);
		return EXIT_USAGE;
	}
	s->key = (struct cfs_key){ CFS_KEY_FILE, s->file, (size_t)len };
	return 0;
}

/* Value of one hex digit, -1 for anything else. */
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

/* The recovery key: 64 hex digits in groups of four; dashes and white
 * space are ignored. */
static int decode_recovery(const char *s, size_t len, uint8_t out[32])
{
	int n = 0;

	for (size_t i = 0; i < len; i++) {
		int v = hexval(s[i]);

		if (s[i] == '-' || s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')
			continue;
		if (v < 0 || n == 64)
			return -1;
		out[n / 2] = (uint8_t)(n % 2 ? out[n / 2] | v : v << 4);
		n++;
	}
	return n == 64 ? 0 : -1;
}

/* The recovery key from a file or standard input (never the command
 * line, where ps and shell history would show it). */
static int read_recovery(const char *path, struct secret *s)
{
	ssize_t len;

	if (decode_recovery(path, strlen(path), s->recovery) == 0)
		return usage("--recovery-key takes a FILE holding the key, or - for standard "
			     "input, not the key itself");
	len = read_secret_file("recovery key", path, (uint8_t *)s->pass, sizeof s->pass - 1);
	if (len < 0)
		return EXIT_USAGE;
	if (decode_recovery(s->pass, (size_t)len, s->recovery) < 0)
		return usage("the recovery key is 64 hex digits");
	s->key = (struct cfs_key){ CFS_KEY_RECOVERY, s->recovery, 32 };
	return 0;
}

/* Print the recovery key once, in groups a person can copy. */
static void print_recovery(const uint8_t key[32])
{
	printf("Recovery key (shown once; write it down, it opens the volume without the "
	       "passphrase):\n  ");
	for (int i = 0; i < 32; i++)
		printf("%02x%s", key[i], i == 31 ? "\n" : i % 2 ? "-" : "");
	fflush(stdout);
}

/* The passphrase from the environment, which then forgets it: the value
 * is wiped in place (the process's initial environment, which
 * /proc/PID/environ shows, holds it) and the variable removed, so that a
 * long-running mount does not keep it. */
static bool passphrase_from_env(const char *name, struct secret *s)
{
	char *env = getenv(name);

	if (!env)
		return false;
	snprintf(s->pass, sizeof s->pass, "%s", env);
	cx_wipe(env, strlen(env));
	unsetenv(name);
	return true;
}

/* The key to open (or, for_new, to set) from the options, the
 * environment or the terminal; *out is NULL when it fails. */
static int get_key(const struct options *o, struct secret **out, bool for_new, bool confirm)
{
	const char *keyfile = for_new ? o->new_key_file : o->key_file;
	const char *var = for_new ? "CRYPTOFS_NEW_PASSPHRASE" : "CRYPTOFS_PASSPHRASE";
	struct secret *s = secret_new();
	int rc = EXIT_ERROR;

	*out = NULL;
	if (!s)
		return rc;
	if (keyfile) {
		rc = read_key_file(keyfile, s);
	} else if (!for_new && o->recovery) {
		rc = read_recovery(o->recovery, s);
	} else if (passphrase_from_env(var, s)) {
		rc = 0;
	} else if (prompt(for_new ? "New passphrase: " : "Passphrase: ", s->pass, sizeof s->pass) < 0) {
		fprintf(stderr, "cryptofs: no passphrase: no terminal; set %s or use %s\n", var,
			for_new ? "--new-key-file" : "--key-file");
		rc = EXIT_USAGE;
	} else if (confirm && (prompt("Again: ", s->again, sizeof s->again) < 0 ||
			       strcmp(s->again, s->pass))) {
		fprintf(stderr, "cryptofs: the passphrases differ\n");
		rc = EXIT_USAGE;
	} else {
		rc = 0;
	}
	if (rc == 0 && s->key.kind == 0) {
		if (!s->pass[0]) {
			fprintf(stderr, "cryptofs: empty passphrase refused\n");
			rc = EXIT_USAGE;
		}
		s->key = (struct cfs_key){ CFS_KEY_PASSPHRASE, s->pass, strlen(s->pass) };
	}
	if (rc != 0)
		drop_key(s);
	else
		*out = s;
	return rc;
}

/* -------------------------------------------------------------- commands */

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;

	if (end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end += *end == 'i' && end[1] == 'B' ? 2 : 1;
	if (*end || v > (1ull << (60 - shift)))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

/* Argon2id costs from the options within what a volume may ask for. */
static int check_argon2(const struct options *o)
{
	if (o->argon2_ops > CFS_ARGON2_MAX_OPS || o->argon2_mem_mib > CFS_ARGON2_MAX_MEM_KIB / 1024 ||
	    o->argon2_ops * o->argon2_mem_mib > CFS_ARGON2_MAX_WORK_KIB / 1024) {
		static char msg[160];

		snprintf(msg, sizeof msg, "--argon2-ops is at most %d, --argon2-mem at most %d "
			 "(MiB), and ops x MiB at most %d", CFS_ARGON2_MAX_OPS,
			 CFS_ARGON2_MAX_MEM_KIB / 1024, CFS_ARGON2_MAX_WORK_KIB / 1024);
		return usage(msg);
	}
	return 0;
}

/* Warn when a passphrase is hashed below libsodium's MODERATE cost, which
 * makes guessing it cheaper. */
static void warn_cheap(const char *image, uint32_t ops, uint32_t mem_kib)
{
	if (ops >= crypto_pwhash_OPSLIMIT_MODERATE &&
	    (uint64_t)mem_kib * 1024 >= crypto_pwhash_MEMLIMIT_MODERATE)
		return;
	fprintf(stderr, "cryptofs: warning: %s: the passphrase is hashed at a low Argon2id cost "
		"(%u passes over %u KiB), below MODERATE (%llu over %llu MiB): guessing it is "
		"cheaper; cryptofs passwd raises it\n", image, ops, mem_kib,
		(unsigned long long)crypto_pwhash_OPSLIMIT_MODERATE,
		(unsigned long long)(crypto_pwhash_MEMLIMIT_MODERATE >> 20));
}

/* mkfs: size the image file, format it, print the recovery key. */
static int cmd_mkfs(const struct options *o)
{
	struct cfs_format_opts fo = { 0 };
	struct cfs_config cfg;
	struct secret *s;
	struct image im;
	uint64_t size;
	int rc;

	if (o->ephemeral) {
		fprintf(stderr, "cryptofs: --ephemeral volumes keep their key only in RAM and live "
			"in the libOS; refusing to make one in a disk image\n");
		return EXIT_USAGE;
	}
	if (!o->size || parse_size(o->size, &size) < 0)
		return usage("mkfs needs --size SIZE (K, M or G suffix)");
	if (size < 16 * CFS_BLOCK_SIZE || size / CFS_BLOCK_SIZE > (1ull << 40))
		return usage("--size must be at least 64K");
	if ((rc = check_argon2(o)) != 0)
		return rc;
	if (o->recovery)
		return usage("mkfs makes a new key; --recovery-key is for opening");
	rc = get_key(o, &s, false, true);
	if (rc)
		return rc;
	if ((rc = image_open(&im, o->image, O_RDWR | O_CREAT)) != 0)
		goto out;
	if (ftruncate(im.fd, (off_t)(size / CFS_BLOCK_SIZE * CFS_BLOCK_SIZE)) < 0) {
		fprintf(stderr, "cryptofs: %s: %s\n", o->image, strerror(errno));
		rc = EXIT_ERROR;
		goto out;
	}
	im.nblocks = size / CFS_BLOCK_SIZE;
	image_config(&im, &cfg, o);
	fo.key = s->key;
	fo.argon2_ops = (uint32_t)o->argon2_ops;
	fo.argon2_mem_kib = (uint32_t)(o->argon2_mem_mib * 1024);
	fo.version = (uint32_t)o->format;
	fo.recovery_out = s->recovery;
	rc = cfs_format(&cfg, &fo, NULL);
	if (rc < 0) {
		rc = tool_fail(NULL, o->image, rc);
		goto out;
	}
	print_recovery(s->recovery);
	if (fo.key.kind == CFS_KEY_PASSPHRASE)
		warn_cheap(o->image, fo.argon2_ops ? fo.argon2_ops : CFS_ARGON2_DEFAULT_OPS,
			   fo.argon2_mem_kib ? fo.argon2_mem_kib : CFS_ARGON2_DEFAULT_MEM_KIB);
	rc = 0;
out:
	drop_key(s);
	return rc;
}

/* Open the image and mount it with the key from the options. */
static int open_volume(const struct options *o, struct image *im, struct cfs **fs, bool write)
{
	struct cfs_config cfg;
	struct cfs_statfs sf;
	struct secret *s;
	int rc = image_open(im, o->image, write ? O_RDWR : O_RDONLY);

	if (rc)
		return rc;
	if (im->nblocks < 16) {
		fprintf(stderr, "cryptofs: %s: too small to be a CryptoFS image\n", o->image);
		return EXIT_DAMAGE;
	}
	rc = get_key(o, &s, false, false);
	if (rc)
		return rc;
	image_config(im, &cfg, o);
	rc = cfs_mount(fs, &cfg, &s->key);
	drop_key(s);
	if (rc == -ESTALE && im->rb.recorded > im->rb.seen) {
		fprintf(stderr, "cryptofs: %s: image is generation %llu but generation %llu of this "
			"volume was seen before (%s): an older copy (rollback); --allow-rollback "
			"opens it anyway\n", o->image, (unsigned long long)im->rb.seen,
			(unsigned long long)im->rb.recorded, im->rb.path);
		return EXIT_DAMAGE;
	}
	if (rc < 0)
		return tool_fail(NULL, o->image, rc);
	cfs_statfs(*fs, &sf);
	if (sf.passphrase)
		warn_cheap(o->image, sf.argon2_ops, sf.argon2_mem_kib);
	return 0;
}

/* Unmount (committing) and combine its result with the command's. */
static int close_volume(struct cfs *fs, const char *image, int status)
{
	int rc = cfs_unmount(fs);

	if (rc < 0 && status == 0)
		return tool_fail(NULL, image, rc);
	return status;
}

static const char *type_name(uint32_t mode)
{
	switch (mode & CFS_S_IFMT) {
	case CFS_S_IFDIR: return "directory";
	case CFS_S_IFLNK: return "symlink";
	default: return "file";
	}
}

struct listing { char **names; size_t n, cap; };

/* readdir callback: gather names to sort them. */
static int collect(void *ctx, const char *name, size_t len, const struct cfs_stat *st,
		   uint64_t next)
{
	struct listing *l = ctx;

	(void)st; (void)next;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->names = realloc(l->names, l->cap * sizeof *l->names);
	}
	l->names[l->n++] = strndup(name, len);
	return 0;
}

/* qsort order of names. */
static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One ls line: type, mode, size, name (and a symlink's target). */
static void print_entry(struct cfs *fs, const char *path, const char *name)
{
	struct cfs_stat st;
	char target[CFS_PATH_MAX];
	int rc = cfs_stat(fs, path, &st);

	if (rc < 0) {
		tool_fail(fs, path, rc);
		return;
	}
	char t = (st.mode & CFS_S_IFMT) == CFS_S_IFDIR ? 'd' :
		 (st.mode & CFS_S_IFMT) == CFS_S_IFLNK ? 'l' : '-';

	printf("%c %04o %12llu %s", t, st.mode & 07777, (unsigned long long)st.size, name);
	if (t == 'l') {
		int64_t n = cfs_readlink(fs, path, target, sizeof target - 1);

		if (n >= 0)
			printf(" -> %.*s", (int)n, target);
	}
	printf("\n");
}

/* ls: a directory's entries sorted by name, or one entry. */
static int cmd_ls(struct cfs *fs, const struct options *o)
{
	const char *dir = o->nargs > 0 ? o->args[0] : "/";
	struct listing l = { 0 };
	struct cfs_stat st;
	int rc = cfs_stat(fs, dir, &st);

	if (rc < 0)
		return tool_fail(fs, dir, rc);
	if ((st.mode & CFS_S_IFMT) != CFS_S_IFDIR) {
		print_entry(fs, dir, dir);
		return 0;
	}
	rc = cfs_readdir(fs, dir, 0, collect, &l);
	if (rc < 0)
		return tool_fail(fs, dir, rc);
	if (l.n)
		qsort(l.names, l.n, sizeof *l.names, by_name);
	for (size_t i = 0; i < l.n; i++) {
		char path[CFS_PATH_MAX + CFS_NAME_MAX + 2];

		snprintf(path, sizeof path, "%s/%s", strcmp(dir, "/") ? dir : "", l.names[i]);
		print_entry(fs, path, l.names[i]);
		free(l.names[i]);
	}
	free(l.names);
	return 0;
}

/* put: copy into a temporary name, rename it over PATH, commit. */
static int cmd_put(struct cfs *fs, const struct options *o)
{
	const char *local = o->args[0], *path = o->args[1];
	char tmp[CFS_PATH_MAX + 64];
	static uint8_t buf[1 << 20];
	const char *slash = strrchr(path, '/');
	uint64_t off = 0;
	int64_t fh;
	ssize_t n;
	int fd = open(local, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		fprintf(stderr, "cryptofs: %s: %s\n", local, strerror(errno));
		return EXIT_ERROR;
	}
	if (!slash || strlen(path) >= CFS_PATH_MAX) {
		close(fd);
		return usage("PATH must be absolute, like /dir/name");
	}
	snprintf(tmp, sizeof tmp, "%.*s/.cryptofs-put-%d", (int)(slash - path), path, (int)getpid());
	fh = cfs_open(fs, tmp, CFS_O_CREAT | CFS_O_TRUNC, 0644);
	if (fh < 0) {
		close(fd);
		return tool_fail(fs, path, (int)fh);
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		int64_t w = cfs_write(fs, fh, buf, (size_t)n, off);

		if (w < 0) {
			rc = tool_fail(fs, path, (int)w);
			break;
		}
		off += (uint64_t)n;
	}
	if (n < 0) {
		fprintf(stderr, "cryptofs: %s: %s\n", local, strerror(errno));
		rc = EXIT_ERROR;
	}
	close(fd);
	if (rc == 0 && (rc = cfs_rename(fs, tmp, path)) < 0)
		rc = tool_fail(fs, path, rc);
	if (rc != 0)
		cfs_unlink(fs, tmp);
	if (rc == 0 && (rc = cfs_sync(fs)) < 0)
		rc = tool_fail(fs, o->image, rc);
	return rc;
}

/* get: copy a file out to a local file or stdout. */
static int cmd_get(struct cfs *fs, const struct options *o)
{
	const char *path = o->args[0], *local = o->args[1];
	static uint8_t buf[1 << 20];
	uint64_t off = 0;
	int64_t n, fh = cfs_open(fs, path, 0, 0);
	int fd;

	if (fh < 0)
		return tool_fail(fs, path, (int)fh);
	fd = strcmp(local, "-") == 0 ? 1 : open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "cryptofs: %s: %s\n", local, strerror(errno));
		return EXIT_ERROR;
	}
	while ((n = cfs_read(fs, fh, buf, sizeof buf, off)) > 0) {
		for (int64_t done = 0; done < n;) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));

			if (w < 0) {
				fprintf(stderr, "cryptofs: %s: %s\n", local, strerror(errno));
				return EXIT_ERROR;
			}
			done += w;
		}
		off += (uint64_t)n;
	}
	if (fd != 1 && close(fd) < 0) {
		fprintf(stderr, "cryptofs: %s: %s\n", local, strerror(errno));
		return EXIT_ERROR;
	}
	return n < 0 ? tool_fail(fs, path, (int)n) : 0;
}

/* stat: attributes as "key: value" lines. */
static int cmd_stat(struct cfs *fs, const struct options *o)
{
	const char *path = o->args[0];
	struct cfs_stat st;
	int rc = cfs_stat(fs, path, &st);

	if (rc < 0)
		return tool_fail(fs, path, rc);
	printf("path: %s\ntype: %s\nmode: %04o\nsize: %llu\nnlink: %u\ninode: %llu\n"
	       "mtime: %llu.%09llu\nctime: %llu.%09llu\n", path, type_name(st.mode),
	       st.mode & 07777, (unsigned long long)st.size, st.nlink, (unsigned long long)st.ino,
	       (unsigned long long)(st.mtime_ns / 1000000000), (unsigned long long)(st.mtime_ns % 1000000000),
	       (unsigned long long)(st.ctime_ns / 1000000000), (unsigned long long)(st.ctime_ns % 1000000000));
	return 0;
}

/* fsck report line: PATH: block N: problem. */
static void fsck_print(void *ctx, const char *path, uint64_t blkno, const char *what)
{
	(void)ctx;
	printf("%s: block %llu: %s\n", path, (unsigned long long)blkno, what);
}

/* fsck: exit 4 when anything is damaged, else a summary line. */
static int cmd_fsck(struct cfs *fs, const struct options *o)
{
	struct cfs_fsck_stats st;
	struct cfs_statfs sf;
	int rc = cfs_fsck(fs, fsck_print, NULL, &st);

	if (rc < 0)
		return tool_fail(fs, o->image, rc);
	cfs_statfs(fs, &sf);
	if (rc > 0) {
		fprintf(stderr, "cryptofs: %s: %d problems found (listed above)\n", o->image, rc);
		return EXIT_DAMAGE;
	}
	printf("%s: clean: format %u, generation %llu, %llu files, %llu directories, "
	       "%llu symlinks, %llu blocks verified\n", o->image, sf.version,
	       (unsigned long long)sf.generation, (unsigned long long)st.files,
	       (unsigned long long)st.dirs, (unsigned long long)st.symlinks,
	       (unsigned long long)st.blocks);
	return 0;
}

/* passwd: rewrap the master key under a new passphrase or key file. */
static int cmd_passwd(struct cfs *fs, const struct options *o)
{
	struct secret *s;
	int rc = check_argon2(o);

	if (rc)
		return rc;
	if (o->new_recovery) {
		uint8_t *rec = sodium_malloc(CFS_KEY_BYTES);

		rc = rec ? cfs_set_recovery(fs, rec) : -ENOMEM;
		if (rc == 0)
			print_recovery(rec);
		if (rec)
			sodium_free(rec);
		return rc < 0 ? tool_fail(fs, o->image, rc) : 0;
	}
	rc = get_key(o, &s, true, true);
	if (rc)
		return rc;
	rc = cfs_rekey(fs, &s->key, (uint32_t)o->argon2_ops, (uint32_t)(o->argon2_mem_mib * 1024));
	if (rc == 0 && s->key.kind == CFS_KEY_PASSPHRASE) {
		struct cfs_statfs sf;

		cfs_statfs(fs, &sf);
		warn_cheap(o->image, sf.argon2_ops, sf.argon2_mem_kib);
	}
	drop_key(s);
	return rc < 0 ? tool_fail(fs, o->image, rc) : 0;
}

/* mkdir and rm (rm also removes an empty directory). */
static int cmd_simple(struct cfs *fs, const struct options *o)
{
	const char *path = o->args[0];
	int rc;

	if (strcmp(o->cmd, "mkdir") == 0) {
		rc = cfs_mkdir(fs, path, 0755);
	} else {
		rc = cfs_unlink(fs, path);
		if (rc == -EISDIR)
			rc = cfs_rmdir(fs, path);
	}
	if (rc == 0)
		rc = cfs_sync(fs);
	return rc < 0 ? tool_fail(fs, path, rc) : 0;
}

struct command { const char *name; int nargs; bool write; int (*run)(struct cfs *, const struct options *); };

static const struct command commands[] = {
	{ "ls", -1, false, cmd_ls },
	{ "put", 2, true, cmd_put },
	{ "get", 2, false, cmd_get },
	{ "rm", 1, true, cmd_simple },
	{ "mkdir", 1, true, cmd_simple },
	{ "stat", 1, false, cmd_stat },
	{ "fsck", 0, false, cmd_fsck },
	{ "passwd", 0, true, cmd_passwd },
	{ "mount", 1, true, NULL },
};

/* A decimal option value. */
static int parse_number(const char *s, uint64_t *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s && !*end && errno == 0 ? 0 : -1;
}

/* Split the command line into command, image, paths and options. */
static int parse_options(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = true;

		if (strcmp(a, "--key-file") == 0)
			o->key_file = v;
		else if (strcmp(a, "--new-key-file") == 0)
			o->new_key_file = v;
		else if (strcmp(a, "--recovery-key") == 0)
			o->recovery = v;
		else if (strcmp(a, "--size") == 0)
			o->size = v;
		else if (strcmp(a, "--format") == 0) {
			if (!v || parse_number(v, &o->format) < 0 || o->format < CFS_FORMAT_OLDEST ||
			    o->format > CFS_FORMAT_VERSION)
				return usage("--format is 1 (XChaCha20-Poly1305) or 2 (AEGIS-256)");
		}
		else if (strcmp(a, "--argon2-ops") == 0 || strcmp(a, "--argon2-mem") == 0 ||
			 strcmp(a, "--min-generation") == 0) {
			uint64_t *dst = a[2] == 'm' ? &o->min_generation
				      : a[9] == 'o' ? &o->argon2_ops : &o->argon2_mem_mib;

			if (!v || parse_number(v, dst) < 0 || (a[2] == 'a' && *dst == 0)) {
				static char msg[96];

				snprintf(msg, sizeof msg, "%s needs a positive number", a);
				return usage(msg);
			}
		} else if (strcmp(a, "--ephemeral") == 0 || strcmp(a, "--allow-rollback") == 0 ||
			   strcmp(a, "--new-recovery-key") == 0) {
			*(a[2] == 'e' ? &o->ephemeral : a[2] == 'a' ? &o->allow_rollback
								 : &o->new_recovery) = 1;
			takes = false;
		} else if (o->nextra >= 30 && (a[0] == '-' && (a[1] == 'f' || a[1] == 'd' || a[1] == 'o'))) {
			return usage("too many mount options");
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "-d") == 0 || strcmp(a, "-s") == 0) {
			o->extra[o->nextra++] = argv[i];
			takes = false;
		} else if (strcmp(a, "-o") == 0) {
			if (!v)
				return usage("-o needs a value");
			o->extra[o->nextra++] = argv[i];
			o->extra[o->nextra++] = argv[i + 1];
		} else if (a[0] == '-' && a[1]) {
			return usage("unknown option");
		} else {
			takes = false;
			if (!o->cmd)
				o->cmd = a;
			else if (!o->image)
				o->image = a;
			else if (o->nargs < 3)
				o->args[o->nargs++] = a;
			else
				return usage("too many arguments");
		}
		if (takes) {
			if (!v) {
				static char msg[96];

				snprintf(msg, sizeof msg, "%s needs a value", a);
				return usage(msg);
			}
			i++;
		}
	}
	return 0;
}

/* Dispatch one command; see the usage text and docs/CRYPTOFS.md. */
int main(int argc, char **argv)
{
	struct options o;
	struct image im;
	struct cfs *fs;
	int rc;

	if (cx_init() < 0) {
		fprintf(stderr, "cryptofs: crypto library failed to start\n");
		return EXIT_ERROR;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if ((rc = parse_options(argc, argv, &o)) != 0)
		return rc;
	if (!o.cmd || !o.image)
		return usage("missing COMMAND or IMAGE");
	helpers = workers_start();      /* its threads start when first used */
	if (strcmp(o.cmd, "mkfs") == 0)
		return o.nargs ? usage("mkfs takes no PATH") : cmd_mkfs(&o);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		const struct command *c = &commands[i];

		if (strcmp(o.cmd, c->name) != 0)
			continue;
		if (c->nargs >= 0 ? o.nargs != c->nargs : o.nargs > 1)
			return usage("wrong number of arguments");
		if ((rc = open_volume(&o, &im, &fs, c->write)) != 0)
			return rc;
		if (!c->run)
			return tool_fuse_main(fs, o.args[0], o.nextra, o.extra);
		return close_volume(fs, o.image, c->run(fs, &o));
	}
	return usage("unknown command");
}
