/*
 * A CryptoFS volume at /data reached from processes other than the one
 * that mounted it (libos/chan.c, libos/cfs_vfs.c; tests/suites/
 * 32-cryptofs-guest.sh), run as the mounting program by tools/exo-run,
 * with a copy of itself at /cfsshare (exo-run --file) to execve:
 *   cfsshare share     a forked child and an execve'd program (this one,
 *                      "peer") read what the mounter wrote, and the mounter
 *                      reads what they wrote; every file call of the list
 *                      in docs/CRYPTOFS.md is made from the other process;
 *   cfsshare kill      a child killed in the middle of a long write does
 *                      not wedge the server: the mounter and a new child
 *                      go on using the volume;
 *   cfsshare exec      the mounter execve's ("after") while its forked
 *                      child keeps calling on /data: the volume goes on in
 *                      the new image, for it and the child, whose calls
 *                      never fail; a descriptor kept across the execve
 *                      still works;
 *   cfsshare cost N    N 4 KiB preads and pwrites from the mounter and from
 *                      a forked child: prints the time of one of each;
 *   cfsshare forge     a hostile child writes forged messages straight into
 *                      the server's channel (bad vnode pointers, data
 *                      pointing into the mounter's own memory, lengths past
 *                      the data): each is refused, the mounter's memory and
 *                      files are untouched and the server goes on;
 *   cfsshare boot CHECK NAME [TEXT]
 *                      started by /sbin/init (exo-run runs init with an
 *                      inittab and fstab of the test's): CHECK is "write"
 *                      (NAME gets TEXT and is committed), "holds", "absent"
 *                      (/data is mounted, NAME is not on it) or "unmounted";
 *                      then ends init (SIGTERM to process 1), so the VM;
 *   cfsshare reap      clients killed again and again in the middle of
 *                      their calls leave nothing behind: the shared
 *                      segment's free space comes back.
 */
#include "check.h"
#include "../../libos/chan.h"	/* the forged messages' layout */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CFS_MAGIC 0x43465321
#define KILL_BYTES (16 << 20)

static const char *self = "/cfsshare";	/* this program in the guest (exo-run --file) */

/* The library OS's own functions, which a hostile program linked with it
 * can call as well as any other (libos/thread.h, vfs.h, cfs_vfs.h,
 * shared.h). */
struct vnode;
void lo_lock(void);
void lo_unlock(void);
struct vnode *vfs_root(void);
int vfs_lookup_k(struct vnode *start, const char *path, int follow, struct vnode **out);
struct chan *cfs_vfs_channel(struct vnode *v);
void sh_usage(uint64_t *free_bytes, uint64_t *heap_bytes);

static int put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t n = strlen(text);
	int ok = fd >= 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
	return (fd >= 0 ? close(fd) : 0) == 0 && ok ? 0 : -1;
}

static int holds(const char *path, const char *want)
{
	char b[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof b - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return 0;
	b[n] = 0;
	return strcmp(b, want) == 0;
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether name is among dir's entries. */
static int listed(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;
	while (d && (e = readdir(d)))
		found |= strcmp(e->d_name, name) == 0;
	if (d)
		closedir(d);
	return found;
}

static const char *side;		/* "child", "peer", "late": names its checks */

/* A check's name with the side that makes it. */
static const char *T(const char *what)
{
	static char name[96];
	snprintf(name, sizeof name, "%s-%s", side, what);
	return name;
}

/* Every call of the list on /data/share, from a process that did not
 * mount it (tag: "child" or "peer"). */
static void other_side(const char *tag)
{
	side = tag;
	char path[64], name[64], buf[8];
	struct stat st;
	struct statfs sf;

	EXPECT(T("reads-what-the-mounter-wrote"), holds("/data/share/m.txt", "from the mounter\n"));
	snprintf(path, sizeof path, "/data/share/%s.txt", tag);
	EXPECT(T("writes-a-file"), put(path, tag) == 0 && holds(path, tag));
	snprintf(path, sizeof path, "/data/share/%s.d", tag);
	EXPECT(T("mkdir"), mkdir(path, 0755) == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode));
	snprintf(name, sizeof name, "%s.d", tag);
	EXPECT(T("getdents-lists-it"), listed("/data/share", name));
	snprintf(path, sizeof path, "/data/share/%s.d/f", tag);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	EXPECT(T("open-creat"), fd >= 0);
	EXPECT(T("pwrite"), pwrite(fd, "abcdefgh", 8, 4096) == 8);
	EXPECT(T("fstat-size"), fstat(fd, &st) == 0 && st.st_size == 4104);
	EXPECT(T("pread-hole-and-data"), pread(fd, buf, 4, 4094) == 4 && !memcmp(buf, "\0\0ab", 4));
	EXPECT(T("lseek-read"), lseek(fd, 4100, SEEK_SET) == 4100 && read(fd, buf, 8) == 4 &&
	       !memcmp(buf, "efgh", 4));
	EXPECT(T("ftruncate"), ftruncate(fd, 4098) == 0 && fstat(fd, &st) == 0 && st.st_size == 4098);
	EXPECT(T("fsync"), fsync(fd) == 0);
	EXPECT(T("close"), close(fd) == 0);
	EXPECT(T("statfs"), statfs("/data", &sf) == 0 && sf.f_type == CFS_MAGIC && sf.f_blocks > 0);
	char to[64];
	snprintf(to, sizeof to, "/data/share/%s.d/g", tag);
	EXPECT(T("rename"), rename(path, to) == 0 && stat(path, &st) < 0 && errno == ENOENT &&
	       stat(to, &st) == 0 && st.st_size == 4098);
	EXPECT(T("unlink"), unlink(to) == 0 && stat(to, &st) < 0 && errno == ENOENT);
	snprintf(path, sizeof path, "/data/share/%s.d", tag);
	EXPECT(T("rmdir"), rmdir(path) == 0);
}

/* Runs fn's checks in a forked child: its exit status is its failures. */
static int in_child(void (*fn)(const char *), const char *tag)
{
	int status;
	pid_t pid = fork();
	if (pid == 0) {
		fn(tag);
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* /data/share/m.txt, which other_side reads, on a volume of any age. */
static int share_ready(void)
{
	return (mkdir("/data/share", 0755) == 0 || errno == EEXIST) &&
	       put("/data/share/m.txt", "from the mounter\n") == 0;
}

static int share(void)
{
	struct stat st;
	EXPECT("mounter-writes", mkdir("/data/share", 0755) == 0 &&
	       put("/data/share/m.txt", "from the mounter\n") == 0);
	EXPECT("forked-child-checks-pass", in_child(other_side, "child") == 0);
	EXPECT("mounter-reads-what-the-child-wrote", holds("/data/share/child.txt", "child"));
	int status = -1;
	pid_t pid = fork();
	if (pid == 0) {
		execl(self, self, "peer", (char *)0);
		_exit(127);
	}
	EXPECT("execved-program-checks-pass",
	       waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT("mounter-reads-what-the-execved-program-wrote", holds("/data/share/peer.txt", "peer"));
	EXPECT("mounter-sees-the-other-side-removed-its-dirs",
	       stat("/data/share/child.d", &st) < 0 && stat("/data/share/peer.d", &st) < 0);
	return failures ? 1 : 0;
}

/* A child writes KILL_BYTES in one call (many requests to the server);
 * once its file has grown it is killed; then the volume still answers. */
static int kill_client(void)
{
	struct stat st;
	int status;
	pid_t pid = fork();
	if (pid == 0) {
		char *b = malloc(KILL_BYTES);
		int fd = open("/data/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (!b || fd < 0)
			_exit(2);
		memset(b, 0x5a, KILL_BYTES);
		write(fd, b, KILL_BYTES);
		_exit(0);
	}
	double deadline = now_s() + 120;
	while (now_s() < deadline && (stat("/data/big", &st) < 0 || st.st_size == 0))
		usleep(10000);
	int grown = stat("/data/big", &st) == 0 && st.st_size > 0 && st.st_size < KILL_BYTES;
	kill(pid, SIGKILL);
	EXPECT("child-killed-mid-write", grown && waitpid(pid, &status, 0) == pid &&
	       WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	EXPECT("mounter-writes-after-the-kill", put("/data/after.txt", "after\n") == 0);
	EXPECT("new-child-makes-every-call-after-the-kill", in_child(other_side, "late") == 0);
	pid = fork();
	if (pid == 0)
		_exit(holds("/data/after.txt", "after\n") && put("/data/child-after.txt", "x") == 0 ? 0 : 1);
	EXPECT("new-child-uses-the-volume-after-the-kill",
	       waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT("the-killed-childs-file-is-readable",
	       stat("/data/big", &st) == 0 && st.st_size > 0 && st.st_size <= KILL_BYTES);
	return failures ? 1 : 0;
}

/* "exec": the mounter execve's ("after") while a forked child keeps
 * calling on /data; the volume goes on in the mounter's new image. */
static int across_exec(void)
{
	int go[2], res[2];
	EXPECT("mounter-writes-share", share_ready());
	EXPECT("mounter-writes", put("/data/gone.txt", "x") == 0 && put("/data/held.txt", "held") == 0);
	int kept = open("/data/kept.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
	EXPECT("mounter-writes-without-fsync", kept >= 0 && write(kept, "kept", 4) == 4);
	if (pipe(go) || pipe(res))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		char c = 0, b[8], line[96];
		int held = open("/data/held.txt", O_RDONLY), ok = 0, bad = 0, after = 0, err = 0;
		close(go[1]);
		fcntl(go[0], F_SETFL, O_NONBLOCK);
		while (c != 'g') {
			int good = holds("/data/gone.txt", "x") && pread(held, b, 4, 0) == 4 && !memcmp(b, "held", 4);
			if (!good)
				err = errno;
			ok += good, bad += !good, after += good && c == 'a';
			if (ok == 1 && good)
				write(res[1], "r", 1);	/* running: the mounter may execve */
			char n;
			if (read(go[0], &n, 1) == 1)
				c = n;
		}
		snprintf(line, sizeof line, "%d %d %d %d", ok, bad, after, err);
		write(res[1], line, strlen(line) + 1);
		_exit(0);
	}
	char r, a[16], b[16], k[16];
	EXPECT("child-calls-before-the-execve", read(res[0], &r, 1) == 1 && r == 'r');
	snprintf(a, sizeof a, "%d", go[1]);
	snprintf(b, sizeof b, "%d", res[0]);
	snprintf(k, sizeof k, "%d", kept);
	execl(self, self, "after", a, b, k, (char *)0);
	return 1;
}

/* The mounter's new image: /data is still there for it and for the child,
 * whose calls went on through the execve. */
static int after_exec(int go, int res, int kept)
{
	char b[8], line[96] = "";
	struct stat st;
	EXPECT("new-image-reads-the-volume", holds("/data/gone.txt", "x"));
	EXPECT("new-image-descriptor-kept", pread(kept, b, 4, 0) == 4 && !memcmp(b, "kept", 4) &&
	       pwrite(kept, "KEPT", 4, 0) == 4 && fsync(kept) == 0 && close(kept) == 0);
	EXPECT("new-image-writes", put("/data/after.txt", "after") == 0 && holds("/data/after.txt", "after"));
	EXPECT("new-image-lists", listed("/data", "kept.txt") && stat("/data/kept.txt", &st) == 0 &&
	       st.st_size == 4);
	write(go, "a", 1);
	double until = now_s() + 3;
	while (now_s() < until)
		usleep(100000);
	write(go, "g", 1);
	ssize_t n = read(res, line, sizeof line - 1);
	int ok = 0, bad = -1, after = 0, err = 0;
	if (n > 0) {
		line[n] = 0;
		sscanf(line, "%d %d %d %d", &ok, &bad, &after, &err);
	}
	printf("child's calls across the execve: %d ok, %d failed (last errno %d), %d after it\n", ok, bad,
	       err, after);
	EXPECT("child-calls-never-fail-across-the-execve", ok > 0 && bad == 0);
	EXPECT("child-calls-go-on-after-the-execve", after > 0);
	EXPECT("forked-child-checks-pass-after-the-execve", in_child(other_side, "after-exec") == 0);
	int status;
	wait(&status);
	return failures ? 1 : 0;
}

/* Seconds per 4 KiB pread and per pwrite in the calling process. */
static void time_io(int n, double *rd, double *wr)
{
	char b[4096];
	int fd = open("/data/cost", O_RDWR | O_CREAT, 0644);
	memset(b, 7, sizeof b);
	pwrite(fd, b, sizeof b, 0);
	double t0 = now_s();
	for (int i = 0; i < n; i++)
		pread(fd, b, sizeof b, 0);
	double t1 = now_s();
	for (int i = 0; i < n; i++)
		pwrite(fd, b, sizeof b, 0);
	*rd = (t1 - t0) / n;
	*wr = (now_s() - t1) / n;
	close(fd);
}

static int cost(int n)
{
	double r[2], w[2];
	int p[2];
	time_io(n, &r[0], &w[0]);
	if (pipe(p))
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		time_io(n, &r[1], &w[1]);
		write(p[1], r + 1, sizeof r[1]);
		write(p[1], w + 1, sizeof w[1]);
		_exit(0);
	}
	int ok = read(p[0], r + 1, sizeof r[1]) == sizeof r[1] && read(p[0], w + 1, sizeof w[1]) == sizeof w[1];
	waitpid(pid, 0, 0);
	EXPECT("cost-measured", ok);
	printf("cost 4KiB pread: mounter %.1f us, other process %.1f us (x%.2f); "
	       "pwrite: mounter %.1f us, other process %.1f us (x%.2f)\n",
	       r[0] * 1e6, r[1] * 1e6, r[1] / r[0], w[0] * 1e6, w[1] * 1e6, w[1] / w[0]);
	return failures ? 1 : 0;
}

/* Ops of libos/cfs_vfs.c's enum remote_op. */
enum { R_LOOKUP, R_CREATE, R_UNLINK, R_RENAME, R_READDIR, R_READ, R_WRITE,
       R_TRUNCATE, R_FSYNC, R_SETATTR, R_STATFS, R_DESTROY };

/* Memory of the mounter's image that a forged message points at: the
 * child's copy sits at the same address as the mounter's. */
static unsigned char canary[8192] __attribute__((aligned(4096)));

/* Sends op on ch as a hostile program would: arguments as given and, when
 * data is not NULL, the message's data pointer and length replaced by data
 * and len.  The server's answer. */
static int64_t forged(struct chan *ch, uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2,
		      uint64_t a3, void *data, uint64_t len)
{
	struct chan_msg *m = chan_msg_new(ch, op, 64);
	if (!m)
		return -ENOMEM;
	uint8_t *own = m->data;
	uint64_t own_len = m->len;
	m->arg[0] = a0, m->arg[1] = a1, m->arg[2] = a2, m->arg[3] = a3;
	if (data) {
		m->data = data;
		m->len = len;
	}
	int64_t r = chan_call(ch, m);
	m->data = own;
	m->len = own_len;
	chan_msg_free(ch, m);
	return r;
}

/* The hostile child: finds the channel through its own library OS and
 * writes messages the library OS would never send. */
static void forge_child(const char *tag)
{
	struct vnode *root = 0, *file = 0;
	side = tag;
	lo_lock();
	int ok = vfs_lookup_k(vfs_root(), "/data", 1, &root) == 0 &&
		 vfs_lookup_k(vfs_root(), "/data/victim.txt", 1, &file) == 0;
	struct chan *ch = ok ? cfs_vfs_channel(root) : 0;
	struct chan_msg *zeros = ch ? chan_msg_new(ch, R_FSYNC, 4096) : 0;
	int64_t r[9] = { 0 };
	if (ch && zeros) {
		/* a vnode at an unmapped address, and one made of zeros in the
		 * segment (handle 0: the mounter's victim.txt) */
		r[0] = forged(ch, R_READ, 8, 0, 16, 0, 0, 0);
		r[1] = forged(ch, R_WRITE, (uint64_t)zeros->data, 0, 6, 0, 0, 0);
		/* data pointing into the mounter's own memory */
		r[2] = forged(ch, R_STATFS, (uint64_t)root, 0, 0, 0, canary, 0);
		r[3] = forged(ch, R_READ, (uint64_t)file, 0, 4096, 0, canary, 4096);
		/* lengths past the data */
		r[4] = forged(ch, R_READ, (uint64_t)file, 0, 1 << 20, 0, 0, 0);
		r[5] = forged(ch, R_LOOKUP, (uint64_t)root, 1000, 0, 0, 0, 0);
		/* a second node that is not one, and freeing a live node */
		r[6] = forged(ch, R_RENAME, (uint64_t)root, 0, 0, 0x1234568, 0, 0);
		r[7] = forged(ch, R_DESTROY, (uint64_t)root, 0, 0, 0, 0, 0);
		r[8] = forged(ch, R_READ, (uint64_t)canary, 0, 16, 0, 0, 0);
		chan_msg_free(ch, zeros);
	}
	lo_unlock();
	EXPECT(T("found-the-channel"), ch && zeros);
	EXPECT(T("vnode-at-unmapped-address-is-ebadf"), r[0] == -EBADF);
	EXPECT(T("vnode-of-zeros-is-ebadf"), r[1] == -EBADF);
	EXPECT(T("statfs-into-mounter-memory-is-einval"), r[2] == -EINVAL);
	EXPECT(T("read-into-mounter-memory-is-einval"), r[3] == -EINVAL);
	EXPECT(T("read-past-the-data-is-einval"), r[4] == -EINVAL);
	EXPECT(T("name-past-the-data-is-einval"), r[5] == -EINVAL);
	EXPECT(T("rename-to-a-forged-dir-is-ebadf"), r[6] == -EBADF);
	EXPECT(T("destroy-of-a-live-node-refused"), r[7] == -EBUSY);
	EXPECT(T("vnode-in-mounter-memory-is-ebadf"), r[8] == -EBADF);
}

static int forge(void)
{
	memset(canary, 0x5a, sizeof canary);
	EXPECT("mounter-writes-share", share_ready());
	EXPECT("mounter-writes", put("/data/victim.txt", "victim\n") == 0);
	int fd = open("/data/victim.txt", O_RDONLY);	/* the volume's first handle this boot */
	EXPECT("forged-messages-refused", in_child(forge_child, "forger") == 0);
	int intact = 1;
	for (size_t i = 0; i < sizeof canary; i++)
		intact &= canary[i] == 0x5a;
	EXPECT("mounter-memory-untouched", intact);
	EXPECT("mounter-file-untouched", holds("/data/victim.txt", "victim\n"));
	EXPECT("server-goes-on-after-the-forgery", in_child(other_side, "after-forgery") == 0);
	close(fd);
	return failures ? 1 : 0;
}

/* The shared segment's free bytes. */
static uint64_t shared_free(void)
{
	uint64_t f, h;
	lo_lock();
	sh_usage(&f, &h);
	lo_unlock();
	return f;
}

/* REAP_KILLS children read /data/reap 64 KiB at a time, each killed after a
 * different short while; afterwards (the server frees what they left
 * within a second or so) the segment's free space is back. */
#define REAP_KILLS 40
static int reap(void)
{
	static char b[65536];
	int fd = open("/data/reap", O_RDWR | O_CREAT | O_TRUNC, 0644);
	EXPECT("mounter-writes-share", share_ready());
	memset(b, 3, sizeof b);
	EXPECT("mounter-writes", fd >= 0 && write(fd, b, sizeof b) == (ssize_t)sizeof b && close(fd) == 0);
	if (in_child(other_side, "reap-warmup"))	/* the server's own first allocations */
		return 1;
	uint64_t before = shared_free();
	int killed = 0;
	for (int i = 0; i < REAP_KILLS; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			int f = open("/data/reap", O_RDONLY);
			for (;;)
				pread(f, b, sizeof b, 0);
		}
		usleep(20000 + 7000 * (i % 9));
		int status;
		kill(pid, SIGKILL);
		killed += waitpid(pid, &status, 0) == pid && WIFSIGNALED(status);
	}
	EXPECT("clients-killed", killed == REAP_KILLS);
	uint64_t after = shared_free();
	double deadline = now_s() + 30;
	while (before > after && before - after > 16384 && now_s() < deadline) {
		usleep(100000);
		after = shared_free();
	}
	printf("shared free before %llu, after %d kills %llu\n", (unsigned long long)before,
	       REAP_KILLS, (unsigned long long)after);
	EXPECT("shared-segment-free-space-returns", after >= before || before - after <= 16384);
	EXPECT("server-goes-on-after-the-kills", in_child(other_side, "after-kills") == 0);
	return failures ? 1 : 0;
}

/* A program init started after it unlocked /data as /etc/fstab said. */
static int boot(int argc, char **argv)
{
	char path[128];
	struct statfs sf;
	const char *check = argv[2], *text = argc > 4 ? argv[4] : "";
	int mounted = statfs("/data", &sf) == 0 && sf.f_type == CFS_MAGIC;
	snprintf(path, sizeof path, "/data/%s", argc > 3 ? argv[3] : "x");
	if (!strcmp(check, "unmounted")) {
		EXPECT("data-not-mounted", !mounted);
	} else {
		EXPECT("data-mounted-by-init", mounted);
		if (!strcmp(check, "write"))
			EXPECT("writes-and-commits", put(path, text) == 0 && holds(path, text));
		else if (!strcmp(check, "holds"))
			EXPECT("holds-what-was-written", holds(path, text));
		else
			EXPECT("absent", access(path, F_OK) < 0 && errno == ENOENT);
	}
	if (failures == 0)
		printf("all checks passed\n");
	fflush(stdout);
	kill(1, SIGTERM);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc == 2 && !strcmp(argv[1], "share"))
		rc = share();
	else if (argc == 2 && !strcmp(argv[1], "peer")) {
		other_side("peer");
		return failures ? 1 : 0;
	} else if (argc == 2 && !strcmp(argv[1], "kill"))
		rc = kill_client();
	else if (argc == 2 && !strcmp(argv[1], "exec"))
		rc = across_exec();
	else if (argc == 5 && !strcmp(argv[1], "after"))
		rc = after_exec(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
	else if (argc >= 3 && !strcmp(argv[1], "boot"))
		return boot(argc, argv);
	else if (argc == 2 && !strcmp(argv[1], "forge"))
		rc = forge();
	else if (argc == 2 && !strcmp(argv[1], "reap"))
		rc = reap();
	else if (argc == 3 && !strcmp(argv[1], "cost"))
		rc = cost(atoi(argv[2]));
	if (rc == 0)
		printf("all checks passed\n");
	return rc;
}
