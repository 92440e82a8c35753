/*
 * System V IPC across processes (tests/suites/29-posix-limits.sh): shared
 * memory seen by a forked child and by a process that attaches by id,
 * semaphores that block and wake across processes, message queues by type,
 * and each call's errors.  Built for the guest and, with plain musl-gcc,
 * for the host; the outputs must be the same line for line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "child_wait.h"

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static void shared_memory(void)
{
	int id = shmget(IPC_PRIVATE, 10000, IPC_CREAT | 0600);
	struct shmid_ds ds;
	EXPECT("shmget-private", id >= 0);
	EXPECT("shmctl-stat-new", shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_segsz == 10000 &&
	       ds.shm_nattch == 0 && (ds.shm_perm.mode & 0777) == 0600);
	char *p = shmat(id, 0, 0);
	EXPECT("shmat", p != (char *)-1);
	EXPECT("shm-starts-zeroed", p[0] == 0 && p[9999] == 0);
	strcpy(p, "parent");
	EXPECT("shmctl-stat-nattch-1", shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1);
	pid_t pid = fork();
	if (pid == 0) {	/* inherits the attachment */
		int ok = strcmp(p, "parent") == 0;
		p[100] = 'c';
		p[5000] = 'd';
		shmdt(p);
		_exit(ok ? 0 : 1);
	}
	EXPECT("shm-child-sees-parent-writes", child_status(pid) == 0);
	EXPECT("shm-parent-sees-child-writes", p[100] == 'c' && p[5000] == 'd');
	pid = fork();
	if (pid == 0) {	/* attaches again, by id, read-only, then writes */
		shmdt(p);
		char *q = shmat(id, 0, SHM_RDONLY);
		if (q == (char *)-1 || q[100] != 'c')
			_exit(1);
		char *w = shmat(id, 0, 0);
		if (w == (char *)-1)
			_exit(2);
		w[200] = 'w';
		if (q[200] != 'w')
			_exit(3);
		q[0] = 'x';	/* read-only: SIGSEGV */
		_exit(4);
	}
	EXPECT("shm-attach-twice-by-id-read-only-write-segv", child_status(pid) == 128 + SIGSEGV);
	EXPECT("shm-sees-other-attachment-writes", p[200] == 'w' && p[0] == 'p');
	EXPECT("shmctl-stat-nattch-back-to-1", shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_nattch == 1);
	EXPECT("shmat-unaligned-EINVAL", shmat(id, p + 1, 0) == (void *)-1 && errno == EINVAL);
	EXPECT("shmat-bad-id-EINVAL", shmat(id + 1, 0, 0) == (void *)-1 && errno == EINVAL);
	EXPECT("shmdt-not-attached-EINVAL", shmdt(p + 4096) == -1 && errno == EINVAL);
	EXPECT("shmctl-bad-pointer-EFAULT", shmctl(id, IPC_STAT, (void *)8) == -1 && errno == EFAULT);
	EXPECT("shmdt", shmdt(p) == 0);
	EXPECT("shmctl-rmid", shmctl(id, IPC_RMID, 0) == 0);
	EXPECT("shmctl-after-rmid-EINVAL", shmctl(id, IPC_STAT, &ds) == -1 && errno == EINVAL);

	key_t key = 0x45580000 + (getpid() & 0xffff);
	int k = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
	EXPECT("shmget-key-create", k >= 0);
	EXPECT("shmget-key-again-same-id", shmget(key, 100, 0) == k);
	EXPECT("shmget-key-excl-EEXIST", shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600) == -1 && errno == EEXIST);
	EXPECT("shmget-key-larger-EINVAL", shmget(key, 8192, 0) == -1 && errno == EINVAL);
	shmctl(k, IPC_RMID, 0);
	EXPECT("shmget-missing-key-ENOENT", shmget(key, 4096, 0) == -1 && errno == ENOENT);
	EXPECT("shmget-size-0-EINVAL", shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1 && errno == EINVAL);

	/* an mprotect splits an attachment in two; shmdt still detaches all
	 * of it, so nothing stays mapped once IPC_RMID frees the segment
	 * (the library OS once unmapped only the first piece) */
	int split = shmget(IPC_PRIVATE, 8192, IPC_CREAT | 0600);
	char *sp = shmat(split, 0, 0);
	EXPECT("shm-split-attach", split >= 0 && sp != (char *)-1);
	memset(sp, 's', 8192);
	EXPECT("shm-split-mprotect", mprotect(sp + 4096, 4096, PROT_READ) == 0);
	shmctl(split, IPC_RMID, 0);
	EXPECT("shm-split-shmdt", shmdt(sp) == 0);
	fflush(stdout);
	pid_t probe = fork();
	if (probe == 0)
		_exit(sp[4096] == 's' ? 2 : 3);	/* must fault */
	EXPECT("shm-split-shmdt-detaches-every-piece", child_status(probe) == 128 + SIGSEGV);
}

static void semaphores(void)
{
	int id = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
	EXPECT("semget-private", id >= 0);
	EXPECT("semctl-getval-new-is-0", semctl(id, 0, GETVAL) == 0);
	EXPECT("semctl-setval", semctl(id, 1, SETVAL, (union semun){ .val = 3 }) == 0 &&
	       semctl(id, 1, GETVAL) == 3);
	struct sembuf down = { 0, -1, 0 }, nowait = { 0, -1, IPC_NOWAIT };
	EXPECT("semop-nowait-EAGAIN", semop(id, &nowait, 1) == -1 && errno == EAGAIN);
	struct timespec t = { 0, 50 * 1000000 };
	EXPECT("semtimedop-timeout-EAGAIN", semtimedop(id, &down, 1, &t) == -1 && errno == EAGAIN);
	pid_t pid = fork();
	if (pid == 0) {
		sleep_ms(100);
		struct sembuf up = { 0, 1, 0 };
		_exit(semop(id, &up, 1) == 0 ? 0 : 1);
	}
	EXPECT("semop-blocks-until-another-process-posts", semop(id, &down, 1) == 0);
	EXPECT("semop-poster-status", child_status(pid) == 0);
	struct sembuf two[2] = { { 0, -1, IPC_NOWAIT }, { 1, -1, 0 } };
	EXPECT("semop-all-or-nothing", semop(id, two, 2) == -1 && errno == EAGAIN &&
	       semctl(id, 1, GETVAL) == 3);
	struct sembuf zero = { 1, 0, IPC_NOWAIT };
	EXPECT("semop-wait-for-zero-nowait-EAGAIN", semop(id, &zero, 1) == -1 && errno == EAGAIN);
	unsigned short all[2] = { 5, 0 }, back[2] = { 9, 9 };
	EXPECT("semctl-setall-getall", semctl(id, 0, SETALL, (union semun){ .array = all }) == 0 &&
	       semctl(id, 0, GETALL, (union semun){ .array = back }) == 0 && back[0] == 5 && back[1] == 0);
	EXPECT("semctl-getpid", semctl(id, 0, GETPID) == getpid());
	struct sembuf bad = { 2, 1, 0 };
	EXPECT("semop-bad-num-EFBIG", semop(id, &bad, 1) == -1 && errno == EFBIG);
	EXPECT("semop-no-ops-EINVAL", semop(id, &bad, 0) == -1 && errno == EINVAL);
	EXPECT("semop-bad-pointer-EFAULT", semop(id, (void *)8, 1) == -1 && errno == EFAULT);
	EXPECT("semctl-setval-too-big-ERANGE",
	       semctl(id, 0, SETVAL, (union semun){ .val = 40000 }) == -1 && errno == ERANGE);
	struct semid_ds ds;
	EXPECT("semctl-stat", semctl(id, 0, IPC_STAT, (union semun){ .buf = &ds }) == 0 && ds.sem_nsems == 2);
	pid = fork();
	if (pid == 0) {	/* blocked when the set goes */
		struct sembuf d = { 1, -1, 0 };
		_exit(semop(id, &d, 1) == -1 && errno == EIDRM ? 0 : 1);
	}
	time_t until = time(0) + 30;	/* until the child waits (a slow fork) */
	while (semctl(id, 1, GETNCNT) != 1 && time(0) < until)
		sleep_ms(10);
	EXPECT("semctl-getncnt-one-waiter", semctl(id, 1, GETNCNT) == 1);
	EXPECT("semctl-rmid", semctl(id, 0, IPC_RMID) == 0);
	EXPECT("semop-waiter-gets-EIDRM", child_status(pid) == 0);
	EXPECT("semctl-after-rmid-EINVAL", semctl(id, 0, GETVAL) == -1 && errno == EINVAL);
	EXPECT("semget-nsems-0-EINVAL", semget(IPC_PRIVATE, 0, IPC_CREAT | 0600) == -1 && errno == EINVAL);
}

struct text {
	long type;
	char text[64];
};

static void message_queues(void)
{
	int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	struct text m, r;
	EXPECT("msgget-private", id >= 0);
	const char *words[3] = { "two", "one", "three" };
	long types[3] = { 2, 1, 3 };
	int sent = 0;
	for (int i = 0; i < 3; i++) {
		m.type = types[i];
		strcpy(m.text, words[i]);
		sent += msgsnd(id, &m, strlen(words[i]) + 1, 0) == 0;
	}
	struct msqid_ds ds;
	EXPECT("msgsnd-three", sent == 3 && msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_qnum == 3);
	EXPECT("msgrcv-type-0-first", msgrcv(id, &r, sizeof r.text, 0, 0) == 4 && r.type == 2 &&
	       strcmp(r.text, "two") == 0);
	EXPECT("msgrcv-type-3", msgrcv(id, &r, sizeof r.text, 3, 0) == 6 && strcmp(r.text, "three") == 0);
	EXPECT("msgrcv-nowait-none-of-type-ENOMSG", msgrcv(id, &r, sizeof r.text, 7, IPC_NOWAIT) == -1 &&
	       errno == ENOMSG);
	EXPECT("msgrcv-small-buffer-E2BIG", msgrcv(id, &r, 2, 0, 0) == -1 && errno == E2BIG);
	EXPECT("msgrcv-except", msgrcv(id, &r, sizeof r.text, 5, MSG_EXCEPT) == 4 && r.type == 1);
	m.type = 4;
	strcpy(m.text, "four");
	msgsnd(id, &m, 5, 0);
	m.type = 2;
	msgsnd(id, &m, 5, 0);
	EXPECT("msgrcv-lowest-type-up-to", msgrcv(id, &r, sizeof r.text, -3, 0) == 5 && r.type == 2);
	EXPECT("msgrcv-noerror-truncates", msgrcv(id, &r, 2, 0, MSG_NOERROR) == 2 && r.type == 4);
	m.type = 0;
	EXPECT("msgsnd-type-0-EINVAL", msgsnd(id, &m, 1, 0) == -1 && errno == EINVAL);
	pid_t pid = fork();
	if (pid == 0) {	/* waits for the parent's message, answers */
		struct text in, out = { 9, "pong" };
		if (msgrcv(id, &in, sizeof in.text, 8, 0) != 5 || strcmp(in.text, "ping"))
			_exit(1);
		_exit(msgsnd(id, &out, 5, 0) == 0 ? 0 : 2);
	}
	sleep_ms(100);
	m.type = 8;
	strcpy(m.text, "ping");
	EXPECT("msgsnd-to-a-waiting-process", msgsnd(id, &m, 5, 0) == 0);
	EXPECT("msgrcv-its-answer", msgrcv(id, &r, sizeof r.text, 9, 0) == 5 && strcmp(r.text, "pong") == 0);
	EXPECT("msg-child-status", child_status(pid) == 0);
	ds.msg_qbytes = 100;
	EXPECT("msgctl-set-qbytes", msgctl(id, IPC_SET, &ds) == 0 && msgctl(id, IPC_STAT, &ds) == 0 &&
	       ds.msg_qbytes == 100);
	m.type = 1;
	EXPECT("msgsnd-60-fits", msgsnd(id, &m, 60, 0) == 0);
	EXPECT("msgsnd-full-nowait-EAGAIN", msgsnd(id, &m, 60, IPC_NOWAIT) == -1 && errno == EAGAIN);
	EXPECT("msgctl-bad-pointer-EFAULT", msgctl(id, IPC_STAT, (void *)8) == -1 && errno == EFAULT);
	EXPECT("msgctl-rmid", msgctl(id, IPC_RMID, 0) == 0);
	EXPECT("msgsnd-after-rmid-EINVAL", msgsnd(id, &m, 1, 0) == -1 && errno == EINVAL);
}

/* Hostile: segments of 4 MiB until shmget refuses (or 64 of them, 256
 * MiB: Linux takes them all, never touched); files and pipes must still
 * get memory, and the refusal, if any, must be ENOSPC (the machine's
 * System V budget), not the shared memory being gone. */
static void shm_cannot_starve_files(void)
{
	int ids[64], n = 0, err = 0;
	while (n < 64 && (ids[n] = shmget(IPC_PRIVATE, 4 << 20, IPC_CREAT | 0600)) >= 0)
		n++;
	if (n < 64)
		err = errno;
	EXPECT("shm-fill-refused-with-enospc-or-not-at-all", err == 0 || err == ENOSPC);
	static char buf[1 << 20];
	memset(buf, 'f', sizeof buf);
	int fd = open("after-shm-fill", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int wrote = 0;
	for (int i = 0; fd >= 0 && i < 4; i++)	/* 4 MiB: more than a refused segment */
		wrote += write(fd, buf, sizeof buf) == (ssize_t)sizeof buf;
	EXPECT("file-write-after-shm-fill", wrote == 4);
	int p[2];
	char c = 0;
	EXPECT("pipe-after-shm-fill", pipe(p) == 0 && write(p[1], "p", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'p');
	close(p[0]);
	close(p[1]);
	close(fd);
	unlink("after-shm-fill");
	for (int i = 0; i < n; i++)
		shmctl(ids[i], IPC_RMID, 0);
	int id = shmget(IPC_PRIVATE, 4 << 20, IPC_CREAT | 0600);
	EXPECT("shmget-after-removal", id >= 0 && shmctl(id, IPC_RMID, 0) == 0);
}

int main(void)
{
	setvbuf(stdout, 0, _IOLBF, 0);
	shared_memory();
	semaphores();
	message_queues();
	shm_cannot_starve_files();
	if (failures)
		return 1;
	printf("all checks passed\n");
	return 0;
}
