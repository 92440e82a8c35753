/*
 * System V IPC across the processes of the machine: shared memory
 * (shmget, shmat, shmdt, shmctl), semaphore sets (semget, semop,
 * semtimedop, semctl) and message queues (msgget, msgsnd, msgrcv, msgctl).
 * Their tables live in the shared segment (one per machine, made on first
 * use under the libOS lock); a shared memory segment is page-aligned
 * memory of the shared segment, which shmat maps (libos/mm.c,
 * mm_map_shared), so every process sees the same frames.  A blocked semop,
 * msgsnd or msgrcv sleeps on its object's change counter (sh_wait).
 * Everything System V IPC takes from the segment (segments, semaphore
 * arrays, queued messages) is charged against one budget for the machine,
 * a quarter of the segment's heap, so one process cannot take the memory
 * every other process's files and pipes live in.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/shared.h"

#define PAGE 4096ull
#define IPC_MAX 64			/* objects of each kind on the machine */
#define IPC_CREAT 01000
#define IPC_EXCL 02000
#define IPC_NOWAIT 04000
#define IPC_RMID 0
#define IPC_SET 1
#define IPC_STAT 2
#define SHM_RDONLY 010000
#define SHM_RND 020000
#define SHMMAX (1ull << 40)
#define SEMMSL 32000
#define SEMOPM 500
#define SEMVMX 32767
#define MSGMAX 8192
#define MSGMNB 16384
#define MSG_NOERROR 010000
#define MSG_EXCEPT 020000
enum { E2BIG = 7, EIDRM = 43, ENOMSG = 42, ETIMEDOUT = 110 };
enum { GETPID = 11, GETVAL = 12, GETALL = 13, GETNCNT = 14, GETZCNT = 15, SETVAL = 16, SETALL = 17 };

/* What every object has: its key, a sequence number that makes its id
 * differ from the last object in the same entry, the mode. */
struct ipc_hdr {
	int32_t key;
	uint32_t seq, used, mode;
	int32_t cpid, lpid;
	int64_t ctime;
	volatile uint32_t changes;	/* bumped at every change; sleepers wait on it */
	uint32_t removed;
};

struct shm_seg {
	struct ipc_hdr h;
	uint64_t size, off;		/* off: the segment byte offset of its pages */
	void *raw;			/* what sh_alloc gave */
	uint64_t nattch;
	int64_t atime, dtime;
};

struct sem_set {
	struct ipc_hdr h;
	uint32_t nsems;
	struct sem_one { int32_t val, pid; uint32_t ncnt, zcnt; } *sems;
	int64_t otime;
};

struct msg {
	struct msg *next;
	int64_t type;
	uint64_t len;
	uint8_t data[];
};

struct msq {
	struct ipc_hdr h;
	struct msg *head;
	uint64_t cbytes, qnum, qbytes;
	int32_t lspid, lrpid;
	int64_t stime, rtime;
};

struct ipc_root {
	struct shm_seg shm[IPC_MAX];
	struct sem_set sem[IPC_MAX];
	struct msq msq[IPC_MAX];
	uint64_t charged;		/* bytes taken, against ipc_budget() */
	volatile uint32_t freed;	/* bumped when queued messages go */
};

/* Linux's struct ipc64_perm, and the _ds structs IPC_STAT fills. */
struct lx_ipc_perm {
	int32_t key;
	uint32_t uid, gid, cuid, cgid, mode;
	uint16_t seq, pad;
	uint64_t unused[2];
};
struct lx_shmid_ds {
	struct lx_ipc_perm perm;
	uint64_t segsz;
	int64_t atime, dtime, ctime;
	int32_t cpid, lpid;
	uint64_t nattch, unused[2];
};
struct lx_semid_ds {
	struct lx_ipc_perm perm;
	int64_t otime;
	uint64_t unused1;
	int64_t ctime;
	uint64_t unused2, nsems, unused[2];
};
struct lx_msqid_ds {
	struct lx_ipc_perm perm;
	int64_t stime, rtime, ctime;
	uint64_t cbytes, qnum, qbytes;
	int32_t lspid, lrpid;
	uint64_t unused[2];
};
_Static_assert(sizeof(struct lx_ipc_perm) == 48, "Linux's struct ipc64_perm");
_Static_assert(sizeof(struct lx_shmid_ds) == 112, "Linux's struct shmid64_ds");
_Static_assert(sizeof(struct lx_semid_ds) == 104, "Linux's struct semid64_ds");
_Static_assert(sizeof(struct lx_msqid_ds) == 120, "Linux's struct msqid64_ds");

static struct ipc_root *root(void)
{
	if (!lp.shared_pages)
		return 0;
	if (!sh_seg()->sysv_ipc)
		sh_seg()->sysv_ipc = sh_alloc(sizeof(struct ipc_root));
	return sh_seg()->sysv_ipc;
}

static int64_t now_s(void)
{
	return (int64_t)((libos_kinfo->realtime_base_ns + time_now_ns()) / 1000000000u);
}

/* The machine's budget for System V IPC: a quarter of the segment's heap. */
static uint64_t ipc_budget(void)
{
	return (sh_seg()->heap_end - sh_seg()->heap_first) / 4;
}

/* Takes bytes from the budget: 0, or -ENOSPC when they do not fit. */
static int ipc_charge(uint64_t bytes)
{
	struct ipc_root *r = root();
	if (bytes > ipc_budget() - r->charged)
		return -ENOSPC;
	r->charged += bytes;
	return 0;
}

static void ipc_uncharge(uint64_t bytes)
{
	root()->charged -= bytes;
}

/* Queued messages went (or a queue): senders waiting for the budget look
 * again. */
static void ipc_msgs_freed(uint64_t bytes)
{
	ipc_uncharge(bytes);
	root()->freed++;
	sh_wake(&root()->freed);
}

/* The header of entry i of a kind (0 shm, 1 sem, 2 msg). */
static struct ipc_hdr *hdr_at(struct ipc_root *r, int kind, int i)
{
	return kind == 0 ? &r->shm[i].h : kind == 1 ? &r->sem[i].h : &r->msq[i].h;
}

/* The entry a key names, or a new one (*fresh set): the entry index, or
 * -ENOENT, -EEXIST, -ENOSPC as Linux answers. */
static int64_t ipc_get(int kind, int32_t key, uint64_t flags, int *fresh)
{
	struct ipc_root *r = root();
	if (!r)
		return -ENOMEM;
	*fresh = 0;
	for (int i = 0; key != 0 && i < IPC_MAX; i++) {
		struct ipc_hdr *h = hdr_at(r, kind, i);
		if (h->used && !h->removed && h->key == key)
			return (flags & IPC_CREAT) && (flags & IPC_EXCL) ? -EEXIST : i;
	}
	if (!(flags & IPC_CREAT) && key != 0)
		return -ENOENT;
	for (int i = 0; i < IPC_MAX; i++) {
		struct ipc_hdr *h = hdr_at(r, kind, i);
		if (h->used)
			continue;
		uint32_t seq = h->seq + 1;
		lo_memset(h, 0, sizeof *h);
		*h = (struct ipc_hdr){ .key = key, .seq = seq, .used = 1, .mode = (uint32_t)flags & 0777,
				       .cpid = (int32_t)libos_pid(), .ctime = now_s() };
		*fresh = 1;
		return i;
	}
	return -ENOSPC;
}

static int64_t ipc_id(int kind, int64_t i)
{
	return (int64_t)hdr_at(root(), kind, (int)i)->seq * IPC_MAX + i;
}

/* The entry an id names: its index, or -EINVAL (-EIDRM once removed). */
static int64_t ipc_find(int kind, uint64_t id)
{
	struct ipc_root *r = root();
	if (!r || (int64_t)id < 0)
		return -EINVAL;
	struct ipc_hdr *h = hdr_at(r, kind, (int)(id % IPC_MAX));
	if (!h->used || h->seq != id / IPC_MAX)
		return -EINVAL;
	return h->removed ? -EIDRM : (int64_t)(id % IPC_MAX);
}

static void ipc_changed(struct ipc_hdr *h)
{
	h->changes++;
	sh_wake(&h->changes);
}

static void perm_out(struct lx_ipc_perm *p, const struct ipc_hdr *h)
{
	lo_memset(p, 0, sizeof *p);
	p->key = h->key;
	p->mode = h->mode;
	p->seq = (uint16_t)h->seq;
}

/* IPC_SET: the mode's permission bits, from the perm the caller gives. */
static int64_t perm_set(struct ipc_hdr *h, uint64_t ubuf)
{
	struct lx_ipc_perm p;
	if (lo_copy_in(&p, (const void *)ubuf, sizeof p))
		return -EFAULT;
	h->mode = (h->mode & ~0777u) | (p.mode & 0777);
	h->ctime = now_s();
	return 0;
}

/* Waits for a change of h after seen; the deadline as sh_wait's. */
static int64_t ipc_wait(struct ipc_hdr *h, uint32_t seen, uint64_t deadline)
{
	int64_t r = sh_wait(&h->changes, seen, deadline);
	if (h->removed || !h->used)
		return -EIDRM;
	return r == -ETIMEDOUT ? -EAGAIN : r == -EINTR ? -EINTR : 0;
}

/* ---- shared memory */

static uint64_t shm_cost(uint64_t size)
{
	return ((size + PAGE - 1) & ~(PAGE - 1)) + PAGE;
}

static void shm_free(struct shm_seg *s)
{
	sh_free(s->raw);
	ipc_uncharge(shm_cost(s->size));
	uint32_t seq = s->h.seq;
	lo_memset(s, 0, sizeof *s);
	s->h.seq = seq;
}

LO_CALL(sys_shmget)
{
	UNUSED_ARGS;
	int fresh;
	if (a1 > SHMMAX || (lp.shared_pages && a1 > ipc_budget()))
		return -EINVAL;		/* SHMMAX: the whole budget */
	int64_t i = ipc_get(0, (int32_t)a0, a2, &fresh);
	if (i < 0)
		return i;
	struct shm_seg *s = &root()->shm[i];
	if (!fresh)
		return a1 > s->size ? -EINVAL : ipc_id(0, i);
	uint64_t len = (a1 + PAGE - 1) & ~(PAGE - 1);
	int r = a1 == 0 ? -EINVAL : ipc_charge(shm_cost(a1));
	if (r || !(s->raw = sh_alloc(len + PAGE))) {
		if (!r)
			ipc_uncharge(shm_cost(a1));
		s->h.used = 0;
		return r ? r : -ENOMEM;
	}
	s->size = a1;
	s->off = (((uint64_t)s->raw + PAGE - 1) & ~(PAGE - 1)) - SH_VA;
	return ipc_id(0, i);
}

LO_CALL(sys_shmat)
{
	UNUSED_ARGS;
	int64_t i = ipc_find(0, a0);
	if (i < 0)
		return i == -EIDRM ? -EINVAL : i;
	uint64_t addr = a1;
	if (a2 & SHM_RND)
		addr &= ~(PAGE - 1);
	if (addr % PAGE || mm_sealed(addr, root()->shm[i].size))
		return -EINVAL;		/* the library OS's own memory, too */
	struct shm_seg *s = &root()->shm[i];
	int prot = a2 & SHM_RDONLY ? 1 : 3;
	int64_t at = mm_map_shared(addr, s->size, prot, s->off);
	if (at < 0)
		return at;
	s->nattch++;
	s->atime = now_s();
	s->h.lpid = (int32_t)libos_pid();
	return at;
}

/* The segment whose pages start at segment offset off. */
static struct shm_seg *shm_by_off(uint64_t off)
{
	struct ipc_root *r = root();
	for (int i = 0; r && i < IPC_MAX; i++)
		if (r->shm[i].h.used && r->shm[i].off == off)
			return &r->shm[i];
	return 0;
}

/* Unmaps what is left of the attachment at addr past a gap (a munmap or
 * mmap over part of it): every region in [addr, addr + size) that maps
 * the segment at off at its own place in it, as Linux's shmdt does.  A
 * piece left mapped after IPC_RMID freed the segment would reach
 * whatever the shared segment gave those pages to next. */
static void unmap_pieces(uint64_t addr, uint64_t size, uint64_t off)
{
	for (uint32_t i = 0; i < lp.nregions; i++) {
		const struct region *r = &lp.regions[i];
		if (r->shoff && r->start > addr && r->start < addr + size && r->shoff - 1 == off + (r->start - addr)) {
			/* a refusal (no room to split: cannot happen for a
			 * whole region today) leaves the piece: stop, rather
			 * than find it again for good */
			if (mm_munmap(r->start, r->end - r->start) < 0)
				return;
			i = (uint32_t)-1;	/* the table moved: from the start again */
		}
	}
}

LO_CALL(sys_shmdt)
{
	UNUSED_ARGS;
	uint64_t len;
	int64_t off = mm_shared_at(a0, UINT64_MAX, &len);
	if (off < 0 || mm_sealed(a0, len))
		return -EINVAL;
	struct shm_seg *s = shm_by_off((uint64_t)off);
	/* the whole attachment goes, every piece an mprotect split off, and
	 * those past a gap */
	if (s)
		mm_shared_at(a0, (s->size + PAGE - 1) & ~(PAGE - 1), &len);
	mm_munmap(a0, len);
	if (s)
		unmap_pieces(a0, (s->size + PAGE - 1) & ~(PAGE - 1), (uint64_t)off);
	if (s) {
		s->nattch--;
		s->dtime = now_s();
		s->h.lpid = (int32_t)libos_pid();
		if (s->h.removed && s->nattch == 0)
			shm_free(s);
	}
	return 0;
}

/* Adds d to the attachment count of every segment we have attached (a
 * fork's child has them too; an ending process or an execve drops them). */
static void count_attachments(int d)
{
	for (uint32_t i = 0; i < lp.nregions; i++) {
		struct shm_seg *s = lp.regions[i].shoff ? shm_by_off(lp.regions[i].shoff - 1) : 0;
		if (!s)
			continue;
		s->nattch += (uint64_t)(int64_t)d;
		if (d < 0 && s->h.removed && s->nattch == 0)
			shm_free(s);
	}
}

void sysv_fork_attachments(void)
{
	count_attachments(1);
}

void sysv_detach_all(void)
{
	if (lp.shared_pages && sh_seg()->sysv_ipc)
		count_attachments(-1);
}

LO_CALL(sys_shmctl)
{
	UNUSED_ARGS;
	int64_t i = ipc_find(0, a0);
	int cmd = (int)(a1 & 0xff);
	if (i < 0)
		return i == -EIDRM && cmd == IPC_STAT ? -EINVAL : i;
	struct shm_seg *s = &root()->shm[i];
	switch (cmd) {
	case IPC_STAT: {
		struct lx_shmid_ds d;
		lo_memset(&d, 0, sizeof d);
		perm_out(&d.perm, &s->h);
		d.segsz = s->size;
		d.atime = s->atime;
		d.dtime = s->dtime;
		d.ctime = s->h.ctime;
		d.cpid = s->h.cpid;
		d.lpid = s->h.lpid;
		d.nattch = s->nattch;
		return lo_copy_out((void *)a2, &d, sizeof d) ? -EFAULT : 0;
	}
	case IPC_SET:
		return perm_set(&s->h, a2);
	case IPC_RMID:
		s->h.removed = 1;
		s->h.key = 0;
		if (s->nattch == 0)
			shm_free(s);
		return 0;
	case 11: case 12:			/* SHM_LOCK, SHM_UNLOCK: always resident */
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- semaphores */

LO_CALL(sys_semget)
{
	UNUSED_ARGS;
	int fresh;
	if ((int64_t)a1 < 0 || a1 > SEMMSL)
		return -EINVAL;
	int64_t i = ipc_get(1, (int32_t)a0, a2, &fresh);
	if (i < 0)
		return i;
	struct sem_set *s = &root()->sem[i];
	if (!fresh)
		return a1 > s->nsems ? -EINVAL : ipc_id(1, i);
	int r = a1 == 0 ? -EINVAL : ipc_charge(a1 * sizeof *s->sems);
	if (r || !(s->sems = sh_alloc(a1 * sizeof *s->sems))) {
		if (!r)
			ipc_uncharge(a1 * sizeof *s->sems);
		s->h.used = 0;
		return r ? r : -ENOMEM;
	}
	s->nsems = (uint32_t)a1;
	return ipc_id(1, i);
}

struct lx_sembuf {
	uint16_t num;
	int16_t op, flg;
};

/* Whether every operation can go now; *block is the one that cannot. */
static int sem_can(const struct sem_set *s, const struct lx_sembuf *ops, uint64_t n, uint64_t *block)
{
	for (uint64_t k = 0; k < n; k++) {
		int32_t v = s->sems[ops[k].num].val;
		/* earlier operations on the same semaphore count */
		for (uint64_t e = 0; e < k; e++)
			if (ops[e].num == ops[k].num)
				v += ops[e].op;
		if ((ops[k].op < 0 && v + ops[k].op < 0) || (ops[k].op == 0 && v != 0)) {
			*block = k;
			return 0;
		}
	}
	return 1;
}

/* semtimedop(id, sops, nsops, timeout): all or nothing, waiting while an
 * operation would block (IPC_NOWAIT: EAGAIN); SEM_UNDO is not kept. */
LO_CALL(sys_semtimedop)
{
	UNUSED_ARGS;
	struct lx_sembuf ops[SEMOPM];	/* not static: the wait gives up the lock */
	uint64_t deadline = 0;
	if (a2 == 0)
		return -EINVAL;
	if (a2 > SEMOPM)
		return -E2BIG;
	if (lo_copy_in(ops, (const void *)a1, a2 * sizeof ops[0]))
		return -EFAULT;
	if (a3) {
		int64_t ts[2];
		if (lo_copy_in(ts, (const void *)a3, sizeof ts))
			return -EFAULT;
		if (ts[0] < 0 || ts[1] < 0 || ts[1] >= 1000000000)
			return -EINVAL;
		deadline = time_now_ns() + (uint64_t)ts[0] * 1000000000u + (uint64_t)ts[1] + 1;
	}
	for (;;) {
		int64_t i = ipc_find(1, a0);
		if (i < 0)
			return i;
		struct sem_set *s = &root()->sem[i];
		for (uint64_t k = 0; k < a2; k++) {
			if (ops[k].num >= s->nsems)
				return -EFBIG;
			if (s->sems[ops[k].num].val + ops[k].op > SEMVMX)
				return -ERANGE;
		}
		uint64_t b;
		if (sem_can(s, ops, a2, &b)) {
			for (uint64_t k = 0; k < a2; k++) {
				s->sems[ops[k].num].val += ops[k].op;
				s->sems[ops[k].num].pid = (int32_t)libos_pid();
			}
			s->otime = now_s();
			ipc_changed(&s->h);
			return 0;
		}
		if (ops[b].flg & IPC_NOWAIT)
			return -EAGAIN;
		struct sem_one *w = &s->sems[ops[b].num];
		uint32_t *cnt = ops[b].op ? &w->ncnt : &w->zcnt;
		(*cnt)++;
		int64_t r = ipc_wait(&s->h, s->h.changes, deadline);
		if (r != -EIDRM)
			(*cnt)--;
		if (r)
			return r;
	}
}

LO_CALL(sys_semop) { UNUSED_ARGS; return sys_semtimedop(a0, a1, a2, 0, 0, 0); }

/* semctl(id, num, cmd, arg): arg is the value (SETVAL) or a pointer. */
LO_CALL(sys_semctl)
{
	UNUSED_ARGS;
	int64_t i = ipc_find(1, a0);
	int cmd = (int)(a2 & 0xff);
	if (i < 0)
		return i == -EIDRM ? -EINVAL : i;
	struct sem_set *s = &root()->sem[i];
	int one = cmd == GETVAL || cmd == SETVAL || cmd == GETPID || cmd == GETNCNT || cmd == GETZCNT;
	if (one && a1 >= s->nsems)
		return -EINVAL;
	struct sem_one *m = one ? &s->sems[a1] : 0;
	switch (cmd) {
	case GETVAL: return m->val;
	case GETPID: return m->pid;
	case GETNCNT: return m->ncnt;
	case GETZCNT: return m->zcnt;
	case SETVAL:
		if ((int32_t)a3 < 0 || (int32_t)a3 > SEMVMX)
			return -ERANGE;
		m->val = (int32_t)a3;
		m->pid = (int32_t)libos_pid();
		s->h.ctime = now_s();
		ipc_changed(&s->h);
		return 0;
	case GETALL: case SETALL: {
		/* the values pass through private memory taken for the call (a
		 * static array for SEMMSL would cost every program 64 KiB) */
		uint16_t *v = lo_alloc(s->nsems * 2ull + 2);
		int64_t r = 0;
		if (!v)
			return -ENOMEM;
		if (cmd == GETALL) {
			for (uint32_t k = 0; k < s->nsems; k++)
				v[k] = (uint16_t)s->sems[k].val;
			r = lo_copy_out((void *)a3, v, s->nsems * 2ull) ? -EFAULT : 0;
		} else if (lo_copy_in(v, (const void *)a3, s->nsems * 2ull)) {
			r = -EFAULT;
		} else {
			for (uint32_t k = 0; k < s->nsems && !r; k++)
				if (v[k] > SEMVMX)
					r = -ERANGE;
			for (uint32_t k = 0; k < s->nsems && !r; k++)
				s->sems[k] = (struct sem_one){ v[k], (int32_t)libos_pid(), s->sems[k].ncnt, s->sems[k].zcnt };
			if (!r) {
				s->h.ctime = now_s();
				ipc_changed(&s->h);
			}
		}
		lo_free(v);
		return r;
	}
	case IPC_STAT: {
		struct lx_semid_ds d;
		lo_memset(&d, 0, sizeof d);
		perm_out(&d.perm, &s->h);
		d.otime = s->otime;
		d.ctime = s->h.ctime;
		d.nsems = s->nsems;
		return lo_copy_out((void *)a3, &d, sizeof d) ? -EFAULT : 0;
	}
	case IPC_SET:
		return perm_set(&s->h, a3);
	case IPC_RMID:
		sh_free(s->sems);
		ipc_uncharge(s->nsems * sizeof *s->sems);
		s->h.removed = 1;
		s->h.used = 0;
		ipc_changed(&s->h);		/* sleepers see EIDRM */
		return 0;
	default:
		return -EINVAL;
	}
}

/* ---- message queues */

LO_CALL(sys_msgget)
{
	UNUSED_ARGS;
	int fresh;
	int64_t i = ipc_get(2, (int32_t)a0, a1, &fresh);
	if (i < 0)
		return i;
	if (fresh)
		root()->msq[i].qbytes = MSGMNB;
	return ipc_id(2, i);
}

/* msgsnd(id, msgp, size, flags): msgp is { long mtype; char mtext[]; }. */
LO_CALL(sys_msgsnd)
{
	UNUSED_ARGS;
	int64_t type;
	if (a2 > MSGMAX)
		return -EINVAL;
	if (lo_copy_in(&type, (const void *)a1, 8))
		return -EFAULT;
	if (type < 1)
		return -EINVAL;
	struct msg *m = sh_alloc(sizeof *m + a2);
	if (!m)
		return -ENOMEM;
	if (lo_copy_in(m->data, (const uint8_t *)a1 + 8, a2)) {
		sh_free(m);
		return -EFAULT;
	}
	m->type = type;
	m->len = a2;
	for (;;) {
		int64_t i = ipc_find(2, a0);
		if (i < 0) {
			sh_free(m);
			return i;
		}
		struct msq *q = &root()->msq[i];
		int fits = q->cbytes + a2 <= q->qbytes && q->qnum < q->qbytes;
		uint32_t freed = root()->freed;
		if (fits && ipc_charge(sizeof *m + a2) == 0) {
			struct msg **at = &q->head;
			while (*at)
				at = &(*at)->next;
			*at = m;
			q->cbytes += a2;
			q->qnum++;
			q->lspid = (int32_t)libos_pid();
			q->stime = now_s();
			ipc_changed(&q->h);
			return 0;
		}
		/* a full queue waits for a receiver; a full budget for
		 * messages to go from any queue */
		int64_t r = a3 & IPC_NOWAIT ? -EAGAIN : fits ? sh_wait(&root()->freed, freed, 0)
							     : ipc_wait(&q->h, q->h.changes, 0);
		if (r) {
			sh_free(m);
			return r;
		}
	}
}

/* The message msgrcv takes: the first, the first of a type (or not of
 * it, MSG_EXCEPT), or the first of the lowest type up to -type. */
static struct msg **msg_pick(struct msq *q, int64_t type, uint64_t flags)
{
	struct msg **best = 0;
	for (struct msg **at = &q->head; *at; at = &(*at)->next) {
		int64_t t = (*at)->type;
		if (type == 0 || (type > 0 && !(flags & MSG_EXCEPT) && t == type) ||
		    (type > 0 && (flags & MSG_EXCEPT) && t != type))
			return at;
		if (type < 0 && t <= -type && (!best || t < (*best)->type))
			best = at;
	}
	return best;
}

/* msgrcv(id, msgp, size, type, flags): the bytes of the text taken. */
LO_CALL(sys_msgrcv)
{
	UNUSED_ARGS;
	if ((int64_t)a2 < 0)
		return -EINVAL;
	for (;;) {
		int64_t i = ipc_find(2, a0);
		if (i < 0)
			return i;
		struct msq *q = &root()->msq[i];
		struct msg **at = msg_pick(q, (int64_t)a3, a4);
		if (at) {
			struct msg *m = *at;
			if (m->len > a2 && !(a4 & MSG_NOERROR))
				return -E2BIG;
			uint64_t n = m->len < a2 ? m->len : a2;
			if (lo_copy_out((void *)a1, &m->type, 8) ||
			    lo_copy_out((uint8_t *)a1 + 8, m->data, n))
				return -EFAULT;
			*at = m->next;
			q->cbytes -= m->len;
			q->qnum--;
			q->lrpid = (int32_t)libos_pid();
			q->rtime = now_s();
			ipc_msgs_freed(sizeof *m + m->len);
			sh_free(m);
			ipc_changed(&q->h);
			return (int64_t)n;
		}
		int64_t r = a4 & IPC_NOWAIT ? -ENOMSG : ipc_wait(&q->h, q->h.changes, 0);
		if (r)
			return r;
	}
}

LO_CALL(sys_msgctl)
{
	UNUSED_ARGS;
	int64_t i = ipc_find(2, a0);
	int cmd = (int)(a1 & 0xff);
	if (i < 0)
		return i == -EIDRM ? -EINVAL : i;
	struct msq *q = &root()->msq[i];
	switch (cmd) {
	case IPC_STAT: {
		struct lx_msqid_ds d;
		lo_memset(&d, 0, sizeof d);
		perm_out(&d.perm, &q->h);
		d.stime = q->stime;
		d.rtime = q->rtime;
		d.ctime = q->h.ctime;
		d.cbytes = q->cbytes;
		d.qnum = q->qnum;
		d.qbytes = q->qbytes;
		d.lspid = q->lspid;
		d.lrpid = q->lrpid;
		return lo_copy_out((void *)a2, &d, sizeof d) ? -EFAULT : 0;
	}
	case IPC_SET: {
		struct lx_msqid_ds d;
		if (lo_copy_in(&d, (const void *)a2, sizeof d))
			return -EFAULT;
		if (d.qbytes > ipc_budget())
			return -EPERM;		/* past what the machine gives IPC */
		q->qbytes = d.qbytes;
		ipc_changed(&q->h);
		return perm_set(&q->h, a2);
	}
	case IPC_RMID:
		while (q->head) {
			struct msg *m = q->head;
			q->head = m->next;
			ipc_uncharge(sizeof *m + m->len);
			sh_free(m);
		}
		ipc_msgs_freed(0);
		q->h.removed = 1;
		q->h.used = 0;
		ipc_changed(&q->h);
		return 0;
	default:
		return -EINVAL;
	}
}
