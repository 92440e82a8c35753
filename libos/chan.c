/*
 * Request/reply channels between processes (libos/chan.h).  A channel is a
 * queue of messages in the shared segment and a word the server sleeps on;
 * each message has a word its client sleeps on.  Everything runs under the
 * libOS lock, which is one for the machine, so the queue needs no lock of
 * its own; waits drop the lock (sh_wait) and wake by elapsed time as well,
 * so that a client sees its server end even when no wake comes.
 */
#include "libos/chan.h"
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/proc.h"
#include "libos/shared.h"
#include "libos/thread.h"
#include "include/exo/native.h"

#define SLICE_NS 50000000ull		/* a client looks at its server this often */
#define REAP_NS 500000000ull		/* an idle server looks for killed clients' messages */
#define HANDOVER_NS 30000000000ull	/* the longest an execve's hand-over may take */
#define SERVER_STACK (256 * 1024)
#define PAGE 4096ull

struct chan {
	volatile uint32_t pending;	/* bumped (and woken) when a message is queued */
	uint32_t closed;
	int32_t server_pid;
	uint32_t server_gen;
	struct chan_msg *head, *tail;	/* queued, oldest first */
	struct chan_msg *all;		/* every message made on it, to free a dead client's */
	uint64_t handover_until;	/* handed to the server's next image: until then (0: not) */
	uint64_t note;			/* what the server's next image is told (chan_hand_over) */
};

/* Whether the process pid (entry generation gen) still runs. */
static int proc_alive(int32_t pid, uint32_t gen)
{
	struct sh_proc *p = proc_by_pid(pid);
	return p && p->state == PROC_RUNNING && p->gen == gen;
}

/* Whether m's maker still runs the image that made it: a message of an
 * image an execve replaced has no client left to free it. */
static int client_alive(const struct chan_msg *m)
{
	struct sh_proc *p = proc_by_pid(m->client_pid);
	return proc_alive(m->client_pid, m->client_gen) && p->image_gen == m->client_image;
}

struct chan *chan_new(void)
{
	struct chan *ch = sh_alloc(sizeof *ch);
	if (ch) {
		ch->server_pid = (int32_t)libos_pid();
		ch->server_gen = proc_self()->gen;
	}
	return ch;
}

int chan_is_server(const struct chan *ch)
{
	return ch && !ch->closed && ch->server_pid == (int32_t)libos_pid();
}

struct chan_msg *chan_msg_new(struct chan *ch, uint32_t op, uint64_t len)
{
	struct chan_msg *m = ch ? sh_alloc(sizeof *m) : 0;
	if (!m || !(m->data = sh_alloc(len + 1))) {
		sh_free(m);
		return 0;
	}
	m->op = op;
	m->len = len;
	m->client_pid = (int32_t)libos_pid();
	m->client_gen = proc_self()->gen;
	m->client_image = proc_self()->image_gen;
	m->all_next = ch->all;
	if (ch->all)
		ch->all->all_prev = m;
	ch->all = m;
	return m;
}

void chan_msg_free(struct chan *ch, struct chan_msg *m)
{
	if (!m)
		return;
	if (m->all_prev)
		m->all_prev->all_next = m->all_next;
	else if (ch->all == m)
		ch->all = m->all_next;
	if (m->all_next)
		m->all_next->all_prev = m->all_prev;
	sh_free(m->data);
	sh_free(m);
}

int chan_in_segment(const void *p, uint64_t len)
{
	uint64_t a = (uint64_t)p, end = SH_VA + lp.shared_pages * PAGE;
	return a >= SH_VA && a <= end && len <= end - a;
}

int chan_msg_room(const struct chan_msg *m, uint64_t need)
{
	return need <= m->len && m->len < (1ull << 32) && chan_in_segment(m->data, m->len + 1);
}

/* Whether m is a message made on ch (the queue's links could be forged). */
static int listed(const struct chan *ch, const struct chan_msg *m)
{
	for (const struct chan_msg *q = ch->all; q; q = q->all_next)
		if (q == m)
			return 1;
	return 0;
}

/* Whether ch's server runs, or is being handed to its next image (which
 * gets HANDOVER_NS to take it). */
static int server_alive(const struct chan *ch)
{
	if (ch->handover_until && time_now_ns() > ch->handover_until)
		return 0;
	return !ch->closed && proc_alive(ch->server_pid, ch->server_gen);
}

void chan_hand_over(struct chan *ch, uint64_t note)
{
	ch->note = note;
	ch->handover_until = time_now_ns() + HANDOVER_NS;
}

int chan_handed_over(const struct chan *ch, uint64_t *note)
{
	if (!ch || ch->closed || !ch->handover_until || ch->server_pid != (int32_t)libos_pid())
		return 0;
	*note = ch->note;
	return 1;
}

int chan_adopt(struct chan *ch, int64_t (*serve)(struct chan_msg *m))
{
	ch->server_gen = proc_self()->gen;
	ch->handover_until = 0;
	ch->note = 0;
	return chan_serve_thread(ch, serve);
}

/* Takes m off ch's queue, if it is still there. */
static void dequeue(struct chan *ch, struct chan_msg *m)
{
	struct chan_msg *prev = 0;
	for (struct chan_msg *q = ch->head; q; prev = q, q = q->next)
		if (q == m) {
			if (prev)
				prev->next = m->next;
			else
				ch->head = m->next;
			if (ch->tail == m)
				ch->tail = prev;
			m->next = 0;
			return;
		}
}

/* Waits one slice for m's reply.  A pending signal does not end the call
 * (file calls on a disk are not interrupted, as on Linux); it only makes
 * this a timed sleep, since sh_wait returns at once then. */
static void wait_reply(struct chan_msg *m)
{
	if (sh_wait(&m->done, 0, time_now_ns() + SLICE_NS) == -EINTR && !m->done) {
		uint32_t depth = lo_unlock_all();
		exo_call(EXO_SYS_FUTEX_WAIT, &m->done, 0, SLICE_NS / 10);
		lo_relock(depth);
	}
}

/* Queues m for ch's server and wakes it. */
static void enqueue(struct chan *ch, struct chan_msg *m)
{
	m->done = 0;
	m->next = 0;
	m->with_server = 1;
	if (ch->tail)
		ch->tail->next = m;
	else
		ch->head = m;
	ch->tail = m;
	ch->pending++;
	sh_wake(&ch->pending);
}

int64_t chan_post(struct chan *ch, struct chan_msg *m)
{
	if (!ch || !server_alive(ch))
		return -EIO;
	if (client_alive(m))
		return -EINVAL;		/* nobody would free it once served */
	enqueue(ch, m);
	return 0;
}

int64_t chan_call(struct chan *ch, struct chan_msg *m)
{
	if (!ch || !server_alive(ch))
		return -EIO;
	enqueue(ch, m);
	while (!m->done) {
		if (!server_alive(ch)) {
			dequeue(ch, m);
			m->with_server = 0;
			return -EIO;
		}
		wait_reply(m);
	}
	return m->result;
}

void chan_close(struct chan *ch)
{
	if (!ch)
		return;
	ch->closed = 1;
	for (struct chan_msg *m = ch->head; m && listed(ch, m); m = m->next) {
		m->result = -EIO;
		m->with_server = 0;
		m->done = 1;
		sh_wake(&m->done);
	}
	ch->head = ch->tail = 0;
}

struct server {
	struct chan *ch;
	int64_t (*serve)(struct chan_msg *m);
	int (*tick)(void);		/* called between messages, or NULL */
	uint64_t tick_ns;
	int ticking;			/* tick asked to be called again */
};

/* Frees the messages whose makers have ended and that are theirs to free:
 * replied to but not yet freed, or held between two calls, when the
 * client was killed. */
static void reap(struct chan *ch)
{
	struct chan_msg *m = ch->all;
	while (m) {
		struct chan_msg *next = m->all_next;
		if (!m->with_server && !client_alive(m))
			chan_msg_free(ch, m);
		m = next;
	}
}

/* Answers every queued message of ch with -EIO (the queue's links were
 * forged: what is queued can only be found through the channel's list). */
static void fail_queued(struct chan *ch)
{
	ch->head = ch->tail = 0;
	for (struct chan_msg *m = ch->all; m; m = m->all_next)
		if (m->with_server) {
			m->next = 0;
			m->result = -EIO;
			m->with_server = 0;
			m->done = 1;
			sh_wake(&m->done);
		}
}

/* The next message of ch's queue, taken off it; NULL when none.  An entry
 * that is not a message made on ch ends the queue: its links cannot be
 * followed. */
static struct chan_msg *take(struct chan *ch)
{
	struct chan_msg *m = ch->head;
	if (!m)
		return 0;
	if (!listed(ch, m)) {
		fail_queued(ch);
		return 0;
	}
	ch->head = m->next;
	if (!ch->head)
		ch->tail = 0;
	m->next = 0;
	return m;
}

/* Frees what killed clients left, then sleeps until a message is queued,
 * for at most REAP_NS, or one tick while the server's tick wants to be
 * called: then calls it. */
static void serve_idle(struct server *s)
{
	struct chan *ch = s->ch;
	reap(ch);
	uint64_t wait = s->ticking && s->tick_ns < REAP_NS ? s->tick_ns : REAP_NS;
	sh_wait(&ch->pending, ch->pending, time_now_ns() + wait);
	if (s->ticking)
		s->ticking = s->tick();
}

/* The server thread: serves one message at a time, oldest first.  A
 * message whose sender has ended meanwhile is served all the same (its
 * call had begun) and then freed here, since nobody else will; when idle
 * it frees what killed clients left. */
static _Noreturn void serve_loop(void *arg)
{
	struct server *s = arg;
	struct chan *ch = s->ch;

	lo_lock();
	for (;;) {
		struct chan_msg *m = ch->closed ? 0 : take(ch);
		if (!m) {
			serve_idle(s);
			continue;
		}
		m->result = s->serve(m);
		m->with_server = 0;
		s->ticking = s->tick != 0;
		if (!client_alive(m)) {
			chan_msg_free(ch, m);
			continue;
		}
		m->done = 1;
		sh_wake(&m->done);
	}
}

int chan_serve_thread(struct chan *ch, int64_t (*serve)(struct chan_msg *m))
{
	return chan_serve_thread_tick(ch, serve, 0, 0);
}

int chan_serve_thread_tick(struct chan *ch, int64_t (*serve)(struct chan_msg *m),
			   int (*tick)(void), uint64_t tick_ns)
{
	struct server *s = lo_alloc(sizeof *s);
	if (!s)
		return -ENOMEM;
	s->ch = ch;
	s->serve = serve;
	s->tick = tick;
	s->tick_ns = tick_ns;
	int64_t tid = lo_thread_spawn((void (*)(void *))serve_loop, s, SERVER_STACK);
	if (tid < 0) {
		lo_free(s);
		return (int)tid;
	}
	return 0;
}
