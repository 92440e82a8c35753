/*
 * A request/reply channel between processes of one machine (libos/chan.c):
 * a service whose state is one process's own (a CryptoFS volume's core and
 * cache; later perhaps sockets) is served by a thread of that process, and
 * every other process sends it requests through the shared segment.
 *
 * A channel and its messages live in the shared segment (libos/shared.h)
 * and hold no pointer into a program's image.  A message carries an
 * operation number, eight integer arguments and a data buffer of its own
 * (the caller's bytes are copied in and out of it; the server never touches
 * another process's memory).  Waits are on the kernel's futex through the
 * segment's words, by elapsed time:
 * - a client whose server has ended (exited, execve'd, killed) gets -EIO,
 *   never a hang: it looks at the server's process entry between waits;
 * - a client that dies mid-request does not wedge the server: the server
 *   never waits for a client, and frees a message whose sender is gone.
 * Every function is called with the libOS lock held.
 */
#ifndef EXO_LIBOS_CHAN_H
#define EXO_LIBOS_CHAN_H

#include <stddef.h>
#include <stdint.h>

struct chan;

struct chan_msg {
	uint32_t op;
	volatile uint32_t done;		/* 1 once the server replied */
	int32_t client_pid;
	uint32_t client_gen;		/* the sender's process entry, to tell it ended */
	int64_t result;
	uint64_t arg[8];
	uint64_t len;			/* bytes of data */
	uint8_t *data;			/* shared segment, len bytes (and a NUL) */
	struct chan_msg *next;
};

/* A new channel served by the calling process; NULL when out of memory. */
struct chan *chan_new(void);
/* Starts a thread of the calling process that serves ch: it takes each
 * message, calls serve(m) (lock held) and replies with what it returns.
 * 0 or -errno (-EAGAIN: no threads on this CPU). */
int chan_serve_thread(struct chan *ch, int64_t (*serve)(struct chan_msg *m));
/* The same, and after each message the thread calls tick() (lock held)
 * every tick_ns while no message is queued, until tick returns 0: a server
 * whose state also moves by itself (a network stack's timers and frames)
 * keeps it moving while its clients are busy, and sleeps when they are not. */
int chan_serve_thread_tick(struct chan *ch, int64_t (*serve)(struct chan_msg *m),
			   int (*tick)(void), uint64_t tick_ns);
/* The server stops: every queued and later request fails with -EIO. */
void chan_close(struct chan *ch);
/* Whether the calling process is ch's server. */
int chan_is_server(const struct chan *ch);

/* A message with room for len bytes of data; NULL when out of memory. */
struct chan_msg *chan_msg_new(uint32_t op, uint64_t len);
/* Sends m and waits for the reply: the server's result, or -EIO when the
 * server has ended.  The caller frees m with chan_msg_free afterwards. */
int64_t chan_call(struct chan *ch, struct chan_msg *m);
void chan_msg_free(struct chan_msg *m);

#endif
