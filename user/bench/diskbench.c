/*
 * `make bench`, disk part (tools/bench-disk): the file workloads,
 * one code for both sides.  Built with tools/exo-cc it runs on CryptoFS at
 * /data in an ExoSwarm guest (`diskbench /data`); built with musl-gcc
 * -DLINUX_INIT it is /init of a Linux guest that loads the modules the
 * initrd carries, mounts ext4 on the first disk and ext4 with fscrypt on
 * the second, and runs the same workloads on each.  Prints "bench
 * disk-WORKLOAD-LABEL VALUE" lines: MiB/s for the sequential ones,
 * operations per second for the random ones (guest wall clock).  Each
 * workload lies between two markers (tools/insncount/insnmark.h), so
 * tools/insncount/insncount.so can count its instructions from outside
 * (the ids below; the Linux guest runs them on ext4, then on fscrypt).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/insncount/insnmark.h"

#define FILE_MIB 256
#define CHUNK (256u << 10)
#define RAND_WRITES 256
#define RAND_READS 2048

static uint8_t buf[CHUNK];

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Linux keeps what was read in its page cache; the ExoSwarm side has no
 * such file, and CryptoFS's cache is far smaller than the file. */
static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		sync();
		if (write(fd, "3\n", 2) != 2)
			perror("drop_caches");
		close(fd);
	}
}

/* Marker ids of the workloads; each one's end is its id + 1. */
enum { MARK_SEQ_WRITE = 0x40, MARK_SEQ_READ = 0x42, MARK_RAND_WRITE = 0x44, MARK_RAND_READ = 0x46 };

static void report(const char *what, const char *label, double value)
{
	printf("bench disk-%s-%s %.1f\n", what, label, value);
	fflush(stdout);
}

/* The four workloads on the file DIR/big; 0, or 1 when a call failed. */
static int run(const char *dir, const char *label)
{
	char path[256];
	snprintf(path, sizeof path, "%s/big", dir);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 131 + 7);

	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return perror(path), 1;
	INSNMARK(MARK_SEQ_WRITE);
	double t0 = now();
	for (unsigned i = 0; i < FILE_MIB * (1u << 20) / CHUNK; i++)
		if (write(fd, buf, CHUNK) != (ssize_t)CHUNK)
			return perror("write"), 1;
	if (fsync(fd) || close(fd))
		return perror("fsync"), 1;
	INSNMARK(MARK_SEQ_WRITE + 1);
	report("seq-write-mibps", label, FILE_MIB / (now() - t0));

	drop_caches();
	INSNMARK(MARK_SEQ_READ);
	fd = open(path, O_RDONLY);
	t0 = now();
	uint64_t sum = 0;
	for (;;) {
		ssize_t n = read(fd, buf, CHUNK);
		if (n < 0)
			return perror("read"), 1;
		if (n == 0)
			break;
		sum += buf[n - 1];
	}
	INSNMARK(MARK_SEQ_READ + 1);
	report("seq-read-mibps", label, FILE_MIB / (now() - t0));
	close(fd);

	fd = open(path, O_RDWR);
	uint64_t blocks = FILE_MIB * (1ull << 20) / 4096;
	INSNMARK(MARK_RAND_WRITE);
	t0 = now();
	for (int i = 0; i < RAND_WRITES; i++) {
		buf[0] = (uint8_t)i;
		if (pwrite(fd, buf, 4096, (off_t)(next_rand() % blocks * 4096)) != 4096 || fsync(fd))
			return perror("pwrite+fsync"), 1;
	}
	INSNMARK(MARK_RAND_WRITE + 1);
	report("rand-write-fsync-ops", label, RAND_WRITES / (now() - t0));
	close(fd);

	drop_caches();
	INSNMARK(MARK_RAND_READ);
	fd = open(path, O_RDONLY);
	t0 = now();
	for (int i = 0; i < RAND_READS; i++) {
		if (pread(fd, buf, 4096, (off_t)(next_rand() % blocks * 4096)) != 4096)
			return perror("pread"), 1;
		sum += buf[1];
	}
	INSNMARK(MARK_RAND_READ + 1);
	report("rand-read-ops", label, RAND_READS / (now() - t0));
	close(fd);
	unlink(path);
	return sum == 0xffffffffffffffffull;	/* keeps the reads */
}

#ifndef LINUX_INIT
int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	return run(argv[1], argv[2]);
}
#else
#include "linuxinit.h"
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>

/* fscrypt's ioctls (linux/fscrypt.h), written out: musl has no kernel headers */
struct fscrypt_add_key_arg {
	uint32_t spec_type, spec_reserved;
	uint8_t identifier[32];
	uint32_t raw_size, key_id, reserved[8];
	uint8_t raw[64];
};
struct fscrypt_policy_v2 {
	uint8_t version, contents_mode, filenames_mode, flags, reserved[4];
	uint8_t identifier[16];
};
#define FS_IOC_ADD_ENCRYPTION_KEY 0xc0506617u	/* _IOWR('f', 23, 80 bytes) */
#define FS_IOC_SET_ENCRYPTION_POLICY 0x800c6613u	/* _IOR('f', 19, 12 bytes) */

/* An fscrypt v2 policy (AES-256-XTS contents, AES-256-CTS names) on dir. */
static int encrypt_dir(const char *mnt, const char *dir)
{
	struct fscrypt_add_key_arg k = { .spec_type = 2, .raw_size = 64 };
	struct fscrypt_policy_v2 p = { .version = 2, .contents_mode = 1, .filenames_mode = 4 };
	for (int i = 0; i < 64; i++)
		k.raw[i] = (uint8_t)(i * 37 + 1);
	int m = open(mnt, O_RDONLY | O_DIRECTORY);
	if (m < 0 || ioctl(m, FS_IOC_ADD_ENCRYPTION_KEY, &k))
		return perror("FS_IOC_ADD_ENCRYPTION_KEY"), 1;
	memcpy(p.identifier, k.identifier, 16);
	if (mkdir(dir, 0755))
		return perror(dir), 1;
	int d = open(dir, O_RDONLY | O_DIRECTORY);
	if (d < 0 || ioctl(d, FS_IOC_SET_ENCRYPTION_POLICY, &p))
		return perror("FS_IOC_SET_ENCRYPTION_POLICY"), 1;
	close(d);
	close(m);
	return 0;
}

int main(void)
{
	int bad = 0;
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	linuxinit_load_modules();
	sleep(1);		/* the disks' probes */
	mkdir("/plain", 0755);
	mkdir("/enc", 0755);
	if (mount("/dev/vda", "/plain", "ext4", 0, NULL))
		perror("mount /dev/vda"), bad = 1;
	else
		bad |= run("/plain", "ext4");
	if (mount("/dev/vdb", "/enc", "ext4", 0, NULL))
		perror("mount /dev/vdb"), bad = 1;
	else if (!(bad |= encrypt_dir("/enc", "/enc/d")))
		bad |= run("/enc/d", "ext4-fscrypt");
	printf(bad ? "linux disk bench failed\n" : "linux disk bench done\n");
	fflush(stdout);
	sync();
	umount("/plain");
	umount("/enc");
	reboot(RB_POWER_OFF);
	return 0;
}
#endif
