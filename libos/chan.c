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
#define SERVER_STACK (256 * 1024)

struct chan {
	volatile uint32_t pending;	/* bumped (and woken) when a message is queued */
	uint32_t closed;
	int32_t server_pid;
	uint32_t server_gen;
	struct chan_msg *head, *tail;	/* queued, oldest first */
};

/* Whether the process pid (entry generation gen) still runs. */
static int proc_alive(int32_t pid, uint32_t gen)
{
	struct sh_proc *p = proc_by_pid(pid);
	return p && p->state == PROC_RUNNING && p->gen == gen;
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

struct chan_msg *chan_msg_new(uint32_t op, uint64_t len)
{
	struct chan_msg *m = sh_alloc(sizeof *m);
	if (!m || !(m->data = sh_alloc(len + 1))) {
		sh_free(m);
		return 0;
	}
	m->op = op;
	m->len = len;
	return m;
}

void chan_msg_free(struct chan_msg *m)
{
	if (m) {
		sh_free(m->data);
		sh_free(m);
	}
}

static int server_alive(const struct chan *ch)
{
	return !ch->closed && proc_alive(ch->server_pid, ch->server_gen);
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

int64_t chan_call(struct chan *ch, struct chan_msg *m)
{
	if (!ch || !server_alive(ch))
		return -EIO;
	m->client_pid = (int32_t)libos_pid();
	m->client_gen = proc_self()->gen;
	m->done = 0;
	m->next = 0;
	if (ch->tail)
		ch->tail->next = m;
	else
		ch->head = m;
	ch->tail = m;
	ch->pending++;
	sh_wake(&ch->pending);
	while (!m->done) {
		if (!server_alive(ch)) {
			dequeue(ch, m);
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
	for (struct chan_msg *m = ch->head; m; m = m->next) {
		m->result = -EIO;
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

/* Sleeps until a message is queued, or for one tick while the server's
 * tick wants to be called: then calls it. */
static void serve_idle(struct server *s)
{
	struct chan *ch = s->ch;
	if (!s->ticking) {
		sh_wait(&ch->pending, ch->pending, 0);
		return;
	}
	sh_wait(&ch->pending, ch->pending, time_now_ns() + s->tick_ns);
	s->ticking = s->tick();
}

/* The server thread: serves one message at a time, oldest first.  A
 * message whose sender has ended meanwhile is served all the same (its
 * call had begun) and then freed here, since nobody else will. */
static _Noreturn void serve_loop(void *arg)
{
	struct server *s = arg;
	struct chan *ch = s->ch;

	lo_lock();
	for (;;) {
		struct chan_msg *m = ch->head;
		if (ch->closed || !m) {
			serve_idle(s);
			continue;
		}
		ch->head = m->next;
		if (!ch->head)
			ch->tail = 0;
		m->next = 0;
		m->result = s->serve(m);
		s->ticking = s->tick != 0;
		if (!proc_alive(m->client_pid, m->client_gen)) {
			chan_msg_free(m);
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
