/*
 * CryptoFS at /data: when tools/exo-run attaches a disk with a passphrase
 * it adds a GRUB module named "cfsmount" (below); the library OS then
 * mounts the volume on the first BLOCK capability before the program's
 * own constructors run, and commits it when the program exits.
 *
 * The mount is a constructor, not part of libos_init, because Argon2id
 * (libsodium) allocates with malloc and libsodium reads errno, which musl
 * keeps in thread-local storage: both work only once musl has started.
 * Nothing else runs yet, so no program code is inside malloc.
 *
 * Module "cfsmount" (little-endian):
 *   8 bytes "EXOCFS1\n", u32 flags (CFSM_FORMAT_BLANK, CFSM_FORMAT_ANY),
 *   u32 Argon2id passes, u32 Argon2id MiB (for formatting),
 *   u32 passphrase length, the passphrase.
 */
#include "libos/blockdev.h"
#include "libos/cfs_vfs.h"
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/thread.h"
#include "libos/vecstate.h"
#include "crypto/crypto.h"
#include "fs/cfs.h"
#include "include/exo/native.h"

/* Windows of their own: no other fixed window of the library OS (mm.c's
 * copy window at 0x7ffd00000000, fork's at 0x7ffc00000000, ...) may cover
 * them, or its unmap takes the disk's DMA pages away (docs/LIBOS.md lists
 * the windows). */
#define CFSM_FORMAT_BLANK 1u		/* format a disk that is all zeros */
#define CFSM_FORMAT_ANY 2u		/* format whatever the disk holds */
#define CFSM_EPHEMERAL 4u		/* init's "ephemeral": a fresh volume, key in RAM */
#define CFSM_PROBE 8u			/* init's "probe": only say what the disk holds */
#define PROBE_BLOCKS 16			/* the first 64 KiB tell blank from used */
#define MAX_PASS 4096
#define EXIT_USAGE 2			/* the same codes as tools/cryptofs */
#define EXIT_KEY 3
#define EXIT_DAMAGE 4
#define MOUNT_POINT "/data"
#define HANDOVER_MAGIC "EXOCFSH1"	/* the frame an execve leaves the next image */

/* What the mounter's old image leaves its next one (cfs_mount_at_exec), in
 * a frame only this env's capabilities reach. */
struct handover {
	char magic[8];
	uint8_t master[32];
	int64_t note;			/* the disk's notification (blockdev_close) */
};

struct request {
	uint32_t flags, argon2_ops, argon2_mib, passlen;
	char *pass;			/* libOS memory, wiped after use */
	uint8_t master[32];		/* ephemeral: the fresh volume's key, wiped after use */
};

static struct request req;
static int requested;
static struct blockdev disk;
static struct cfs *volume;
static int64_t owner;			/* the env that mounted it (not a forked child) */
static int lanes_checked;
static int64_t handover_slot, handover_note;	/* what cfs_mount_at_exec leaves (0: none) */
static int64_t adopted_note;		/* the disk's notification the old image left */

/* Copies the module's request into libOS memory and drops the module. */
void cfs_mount_prepare(void)
{
	const struct exo_start *st = libos_start_info;

	for (uint64_t i = 0; i < st->nmodules; i++) {
		const struct exo_start_module *m = &st->modules[i];
		if (lo_memcmp(m->name, "cfsmount", 9) != 0 || m->size < 24 || m->size > 8192)
			continue;
		for (uint64_t off = 0; off < m->size; off += 4096)
			exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, CFS_MODULE_VA + off, m->slot, off / 4096,
				 EXO_PROT_READ);
		const uint8_t *b = (const uint8_t *)CFS_MODULE_VA;
		if (lo_memcmp(b, "EXOCFS1\n", 8) == 0) {
			lo_memcpy(&req.flags, b + 8, 16);
			if (req.passlen <= MAX_PASS && 24 + req.passlen <= m->size &&
			    (req.pass = lo_alloc(req.passlen + 1))) {
				lo_memcpy(req.pass, b + 24, req.passlen);
				requested = 1;
			}
		}
		for (uint64_t off = 0; off < m->size; off += 4096)
			exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, CFS_MODULE_VA + off);
		exo_call(EXO_SYS_CAP_DELETE, m->slot);
		return;
	}
}

static void *c_alloc(void *ctx, size_t size) { (void)ctx; return lo_alloc(size); }
static void c_free(void *ctx, void *p) { (void)ctx; lo_free(p); }

static void c_random(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	mm_prepare_write((uint64_t)buf, len);
	for (size_t off = 0; off < len; off += 4096)
		exo_call(EXO_SYS_RANDOM, (uint8_t *)buf + off, len - off < 4096 ? len - off : 4096);
}

static uint64_t c_now(void *ctx)
{
	(void)ctx;
	return libos_kinfo->realtime_base_ns + time_now_ns();
}

/* AEGIS-256 seals several blocks per register where the CPU has VAES.
 * Under QEMU 7.2's TCG the two-lane (256-bit VAES) path gave blocks that
 * the one-lane path does not open, so the batch path is checked against
 * the one-lane one here, on this CPU, and one lane is used when they
 * disagree. */
static void check_aegis_lanes(void)
{
	enum { LEN = 4096, AD = 32 };
	uint8_t *b = lo_alloc(5 * LEN), key[2][32], nonce[2][32], ad[AD], tag[3][16];
	if (!b || !cx_aegis_available())
		goto out;
	c_random(0, key, sizeof key);
	c_random(0, nonce, sizeof nonce);
	c_random(0, ad, sizeof ad);
	c_random(0, b, 2 * LEN);
	struct cx_aegis_msg m[2] = {
		{ b + 2 * LEN, b, ad, nonce[0], key[0], tag[0], 0 },
		{ b + 3 * LEN, b + LEN, ad, nonce[1], key[1], tag[1], 0 },
	};
	cx_aegis_seal_many(m, 2, LEN, AD);
	cx_aegis_seal(b + 4 * LEN, tag[2], b + LEN, LEN, ad, AD, nonce[1], key[1]);
	if (lo_memcmp(b + 3 * LEN, b + 4 * LEN, LEN) || lo_memcmp(tag[1], tag[2], 16)) {
		cx_aegis_limit_lanes(1);
		lo_report("exoswarm: " MOUNT_POINT ": this CPU's VAES gives wrong AEGIS-256 results; "
			  "sealing one block per register\n");
	}
out:
	lo_free(b);
}

enum disk_kind { DISK_CRYPTOFS, DISK_BLANK, DISK_OTHER, DISK_UNREADABLE };

/* What the disk holds: a CryptoFS superblock in either slot, nothing (the
 * first 64 KiB are zeros), or something else. */
static enum disk_kind probe(void)
{
	uint8_t *b = lo_alloc(4096);
	enum disk_kind kind = DISK_BLANK;

	if (!b)
		return DISK_UNREADABLE;
	for (uint64_t i = 0; i < PROBE_BLOCKS && i < disk.nblocks && kind == DISK_BLANK; i++) {
		if (blockdev_read(&disk, i, b)) {
			kind = DISK_UNREADABLE;
			break;
		}
		if (i < 2 && lo_memcmp(b, "CRYPTOFS", 8) == 0)
			kind = DISK_CRYPTOFS;
		for (int k = 0; k < 4096 && kind == DISK_BLANK; k++)
			if (b[k])
				kind = DISK_OTHER;
	}
	lo_free(b);
	return kind;
}

static _Noreturn void fail(const char *why, int64_t err, int status)
{
	lo_report("exoswarm: " MOUNT_POINT ": %s (error %d)\n", why, -err);
	libos_exit((uint64_t)status);
}

/* Why a mount failed: the message and the host tool's exit code. */
struct failure {
	const char *why;
	int status;
};

static int failed(struct failure *f, const char *why, int status, int rc)
{
	f->why = why;
	f->status = status;
	return rc;
}

/* Formats the disk when the request allows it for what the disk holds:
 * 0, or -ENODATA (blank, not allowed), -EMEDIUMTYPE (another file system
 * on it, not allowed), or the core's error. */
static int format_if_asked(const struct cfs_config *cfg, enum disk_kind kind, struct request *r,
			   struct failure *f)
{
	if (kind == DISK_CRYPTOFS && !(r->flags & (CFSM_FORMAT_ANY | CFSM_EPHEMERAL)))
		return 0;
	if (kind == DISK_BLANK && !(r->flags & (CFSM_FORMAT_BLANK | CFSM_FORMAT_ANY | CFSM_EPHEMERAL)))
		return failed(f, "the disk is blank; not formatted without being told to (exo-run --format)",
			      EXIT_USAGE, -ENODATA);
	if (kind == DISK_OTHER && !(r->flags & CFSM_FORMAT_ANY))
		return failed(f, "the disk holds something that is not CryptoFS; not formatted "
			      "(exo-run --format=force formats it)", EXIT_USAGE, -EMEDIUMTYPE);
	struct cfs_format_opts o = {
		.key = { CFS_KEY_PASSPHRASE, r->pass, r->passlen },
		.argon2_ops = r->argon2_ops, .argon2_mem_kib = r->argon2_mib << 10,
		.version = cx_aegis_available() ? 0 : 1,
	};
	o.ephemeral = (r->flags & CFSM_EPHEMERAL) != 0;
	int rc = cfs_format(cfg, &o, o.ephemeral ? r->master : 0);
	return rc ? failed(f, "formatting failed", EXIT_DAMAGE, rc) : 0;
}

static struct cfs_config cfg;

/* Opens the disk and the crypto layer and fills cfg: 0 or -errno. */
static int open_disk(struct failure *f)
{
	const struct exo_start *st = libos_start_info;
	int rc;

	if (!disk.nblocks) {
		rc = st->blk_count ? blockdev_reopen(&disk, (int64_t)st->blk_slot_first, CFS_DISK_VA,
						     adopted_note) : -ENODEV;
		if (rc)
			return failed(f, "no disk to mount (exo-run --disk IMAGE)", EXIT_USAGE, rc);
	}
	if ((rc = vec_init()) || (rc = cx_init()))
		return failed(f, "cannot start the crypto layer", EXIT_USAGE, rc);
	if (!lanes_checked++)
		check_aegis_lanes();
	cfg = (struct cfs_config){
		.ctx = &disk, .nblocks = disk.nblocks, .read = blockdev_read, .write = blockdev_write,
		.flush = blockdev_flush, .alloc = c_alloc, .free = c_free, .random = c_random,
		.now_ns = c_now, .cache_blocks = 1024,
	};
	return 0;
}

/* Formats if r allows it, mounts the volume at /data and starts its
 * server: 0, or -errno with f saying why.  The disk is written only by a
 * format r allowed, or after the mount succeeded. */
static int mount_volume(struct request *r, struct failure *f)
{
	struct vnode *at;
	int rc;

	if (volume)
		return failed(f, "a volume is mounted already", EXIT_USAGE, -EBUSY);
	if ((rc = open_disk(f)))
		return rc;
	enum disk_kind kind = probe();
	if (kind == DISK_UNREADABLE)
		return failed(f, "cannot read the disk", EXIT_DAMAGE, -EIO);
	if (r->flags & CFSM_PROBE)
		return kind == DISK_CRYPTOFS ? 0 : kind == DISK_BLANK ? -ENODATA : -EMEDIUMTYPE;
	if ((rc = format_if_asked(&cfg, kind, r, f)))
		return rc;
	struct cfs_key key = { CFS_KEY_PASSPHRASE, r->pass, r->passlen };
	if (r->flags & CFSM_EPHEMERAL)
		key = (struct cfs_key){ CFS_KEY_MASTER, r->master, sizeof r->master };
	rc = cfs_mount(&volume, &cfg, &key);
	cx_wipe(r->master, sizeof r->master);
	if (rc == -EACCES)
		return failed(f, "wrong passphrase, or not this volume's (CryptoFS refused to open it)",
			      EXIT_KEY, rc);
	if (rc == -EOPNOTSUPP)	/* ENOTSUP */
		return failed(f, "this CPU has no AES instructions: use a format 1 volume", EXIT_USAGE, rc);
	if (rc == -EINVAL && kind != DISK_CRYPTOFS)
		return failed(f, "the disk holds no CryptoFS volume", EXIT_USAGE, rc);
	if (rc)
		return failed(f, "the volume is damaged: CryptoFS refused to mount it", EXIT_DAMAGE, rc);
	if (vfs_lookup_k(vfs_root(), MOUNT_POINT, 1, &at) == -ENOENT)
		vfs_make_k(MOUNT_POINT, LX_S_IFDIR | 0755, 0, 0, 0, &at);
	if ((rc = cfs_vfs_mount(volume, MOUNT_POINT))) {
		cfs_unmount(volume);
		volume = 0;
		return failed(f, "cannot mount the volume", EXIT_USAGE, rc);
	}
	owner = libos_pid();
	return 0;
}

/* The key the old image left in frame slot, wiped there and taken out of
 * this env: 0 or -errno. */
static int take_handover(int64_t slot, struct handover *h)
{
	int rc = -EINVAL;
	if (exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, CFS_MODULE_VA, slot, 0,
		     EXO_PROT_READ | EXO_PROT_WRITE) == 0) {
		struct handover *page = (struct handover *)CFS_MODULE_VA;
		if (lo_memcmp(page->magic, HANDOVER_MAGIC, 8) == 0) {
			lo_memcpy(h, page, sizeof *h);
			rc = 0;
		}
		cx_wipe(page, sizeof *page);
		exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, CFS_MODULE_VA);
	}
	exo_call(EXO_SYS_CAP_DELETE, slot);
	return rc;
}

/* After the mounter's execve: mounts the volume its old image handed over
 * with the key it left (no passphrase, no Argon2id) and serves it, so
 * /data goes on for this image and every other process; the calls that
 * waited meanwhile are served now.  On failure they get EIO. */
static void adopt_volume(void)
{
	uint64_t slot;
	struct vnode *root = cfs_vfs_handed_over(&slot);
	struct handover h;
	struct failure f;
	if (!root)
		return;
	int rc = take_handover((int64_t)slot, &h);
	adopted_note = rc == 0 ? h.note : 0;
	if (rc == 0 && (rc = open_disk(&f)) == 0) {
		struct cfs_key key = { CFS_KEY_REMOUNT, h.master, sizeof h.master };
		rc = cfs_mount(&volume, &cfg, &key);
	}
	cx_wipe(&h, sizeof h);
	if (rc == 0 && (rc = cfs_vfs_adopt(volume, root)) == 0) {
		owner = libos_pid();
		return;
	}
	cfs_vfs_abandon(root);
	lo_report("exoswarm: " MOUNT_POINT ": not mounted again after execve (error %d)\n", -rc);
}

/* The first constructor: mounts what the "cfsmount" module asks for, or
 * ends the program with a clear message and the tool's exit code; or
 * takes over the volume the program that execve'd this one served. */
__attribute__((constructor(101))) static void cfs_mount_run(void)
{
	struct failure f;
	if (!requested) {
		lo_lock();		/* other processes use the segment meanwhile */
		adopt_volume();
		lo_unlock();
		return;
	}
	int rc = mount_volume(&req, &f);
	cx_wipe(req.pass, req.passlen);
	lo_free(req.pass);
	req.pass = 0;
	if (rc)
		fail(f.why, rc, f.status);
}

/* Commits and unmounts (the image is going). */
static void unmount_volume(void)
{
	vec_enter();
	int rc = cfs_unmount(volume);
	vec_leave();
	volume = 0;
	if (rc)
		lo_report("exoswarm: " MOUNT_POINT ": the last commit failed (error %d)\n", -rc);
	if (disk.silent_waits)		/* the disk's interrupt did not wake a wait */
		lo_report("exoswarm: " MOUNT_POINT ": %d waits for the disk ended without its signal\n",
			  (int)disk.silent_waits);
}

/* Everything written reaches the disk when the program ends normally, as
 * a Linux file system's cache would before a clean power-off. */
void cfs_mount_at_exit(void)
{
	if (!volume || libos_pid() != owner)	/* not in a forked child */
		return;
	cfs_vfs_detach();
	unmount_volume();
}

/* execve: the volume stays mounted.  This image commits it and leaves its
 * master key to the next one (adopt_volume) in a frame of this env's own,
 * which no other process can map (the shared segment, which the channel
 * lives in, any process can read: it holds only the frame's slot number);
 * other processes' calls wait meanwhile.  Without a frame: as at exit. */
void cfs_mount_at_exec(void)
{
	if (!volume || libos_pid() != owner)
		return;
	int64_t slot = exo_call(EXO_SYS_MEM_ALLOC, EXO_SLOT_MEMORY, 1);
	if (slot < 0 || exo_call(EXO_SYS_PAGE_MAP, EXO_SLOT_SELF_ENV, CFS_MODULE_VA, slot, 0,
				 EXO_PROT_READ | EXO_PROT_WRITE)) {
		if (slot >= 0)
			exo_call(EXO_SYS_CAP_DELETE, slot);
		cfs_mount_at_exit();
		return;
	}
	struct handover *h = (struct handover *)CFS_MODULE_VA;
	lo_memcpy(h->magic, HANDOVER_MAGIC, 8);
	cfs_master_key(volume, h->master);
	cfs_vfs_hand_over((uint64_t)slot);
	handover_slot = slot;
	unmount_volume();
	h->note = handover_note = blockdev_close(&disk);
	exo_call(EXO_SYS_PAGE_UNMAP, EXO_SLOT_SELF_ENV, CFS_MODULE_VA);
}

int cfs_mount_keeps_slot(uint64_t slot)
{
	return (handover_slot > 0 && slot == (uint64_t)handover_slot) ||
	       (handover_note > 0 && slot == (uint64_t)handover_note);
}

/* Parses mount(2)'s data for "cryptofs": comma-separated options
 * ("format": a blank disk may be formatted; "format=force": whatever it
 * holds; "ephemeral": a fresh volume whose key never leaves RAM), a
 * newline, then the passphrase (the rest; none for ephemeral).  0 or
 * -EINVAL. */
static int parse_mount_data(char *d, size_t len, struct request *r)
{
	size_t nl = 0;
	while (nl < len && d[nl] != '\n')
		nl++;
	for (size_t i = 0; i < nl;) {
		size_t j = i;
		while (j < nl && d[j] != ',')
			j++;
		if (j - i == 6 && !lo_memcmp(d + i, "format", 6))
			r->flags |= CFSM_FORMAT_BLANK;
		else if (j - i == 12 && !lo_memcmp(d + i, "format=force", 12))
			r->flags |= CFSM_FORMAT_ANY;
		else if (j - i == 9 && !lo_memcmp(d + i, "ephemeral", 9))
			r->flags |= CFSM_EPHEMERAL;
		else if (j - i == 5 && !lo_memcmp(d + i, "probe", 5))
			r->flags |= CFSM_PROBE;
		else if (j > i)
			return -EINVAL;
		i = j + 1;
	}
	r->pass = nl < len ? d + nl + 1 : d + len;
	r->passlen = (uint32_t)(d + len - r->pass);
	if (!(r->flags & (CFSM_EPHEMERAL | CFSM_PROBE)) && r->passlen == 0)
		return -EINVAL;
	r->argon2_ops = 3;		/* a volume formatted here: as exo-run's default */
	r->argon2_mib = 64;
	if (r->flags & CFSM_EPHEMERAL)
		c_random(0, r->master, sizeof r->master);
	return 0;
}

/* The boot unlock (docs/CRYPTOFS.md "At boot"), called by init as a
 * plain function, in program context, before it starts any other process:
 * Argon2id needs malloc and musl's errno, as the constructor above, so it
 * cannot run inside a reflected call.  data: the options and passphrase of
 * parse_mount_data (len bytes).  Mounts the disk (the first BLOCK
 * capability) at /data; the calling process then serves it to every
 * process until it ends.  0, or -ENODATA (the disk is blank, "format" not
 * given), -EMEDIUMTYPE (it holds something that is not CryptoFS,
 * "format=force" not given), -EACCES (wrong passphrase), -ENODEV (no
 * disk), -EBUSY (mounted), -EINVAL (bad options) or another -errno. */
int exo_cryptofs_mount(const char *data, size_t len)
{
	struct request r = { 0 };
	struct failure f;
	char *copy = len <= MAX_PASS + 64 ? lo_alloc(len + 1) : 0;
	int rc = -EINVAL;

	if (!copy)
		return len <= MAX_PASS + 64 ? -ENOMEM : -EINVAL;
	lo_memcpy(copy, data, len);
	if (parse_mount_data(copy, len, &r) == 0)
		rc = mount_volume(&r, &f);
	cx_wipe(copy, len);
	cx_wipe(&r, sizeof r);
	lo_free(copy);
	return rc;
}
