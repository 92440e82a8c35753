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
 *   never waits for a client, and frees a message whose sender is gone
 *   (ended, or its image replaced by an execve, whose other threads end
 *   wherever they were: their messages are no one's then);
 *   every message is listed on its channel with the process that made it,
 *   so one a killed client left (replied to but not yet freed, or held
 *   between two calls) is freed by the server too, within a second;
 * - the server trusts nothing a message says: it takes from its queue only
 *   messages listed on the channel, whose data lies inside the shared
 *   segment, and the service checks the arguments (chan_msg_room helps).
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
	uint32_t client_gen;		/* the maker's process entry, to tell it ended */
	int64_t result;
	uint64_t arg[8];
	uint64_t len;			/* bytes of data */
	uint8_t *data;			/* shared segment, len bytes (and a NUL) */
	struct chan_msg *next;		/* the queue */
	struct chan_msg *all_prev, *all_next;	/* every message of the channel */
	uint32_t with_server;		/* queued or being served: not the client's to free */
	uint32_t client_image;		/* the maker's image (sh_proc.image_gen): an execve ends
					 * the maker as a client, though its pid and entry live on */
};

/* A new channel served by the calling process; NULL when out of memory. */
struct chan *chan_new(void);
/* Starts a thread of the calling process that serves ch: it takes each
 * message, calls serve(m) (lock held) and replies with what it returns.
 * 0 or -errno (-EAGAIN: no threads on this CPU). */
int chan_serve_thread(struct chan *ch, int64_t (*serve)(struct chan_msg *m));
/* The serving process execve's and its next image will serve ch (its
 * server thread ends with the old image): requests wait for it, queued,
 * and fail with -EIO only if it has not taken over within 30 s.  note
 * (not secret: every process reads the channel) is for the next image. */
void chan_hand_over(struct chan *ch, uint64_t note);
/* In the new image: whether ch was handed to the calling process, and
 * its note. */
int chan_handed_over(const struct chan *ch, uint64_t *note);
/* The new image takes ch over: a server thread of its own (as
 * chan_serve_thread) serves what is queued and what comes. */
int chan_adopt(struct chan *ch, int64_t (*serve)(struct chan_msg *m));
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

/* A message on ch with room for len bytes of data; NULL when out of memory. */
struct chan_msg *chan_msg_new(struct chan *ch, uint32_t op, uint64_t len);
/* The server's check of a message's data: whether its first need bytes
 * are there (need <= len, and all of it inside the shared segment). */
int chan_msg_room(const struct chan_msg *m, uint64_t need);
/* Whether [p, p + len) lies inside the shared segment, by this process's
 * own record of its size (the segment's header could be forged): a
 * service's check of a record a message leads to. */
int chan_in_segment(const void *p, uint64_t len);
/* Sends m and waits for the reply: the server's result, or -EIO when the
 * server has ended.  The caller frees m with chan_msg_free afterwards. */
int64_t chan_call(struct chan *ch, struct chan_msg *m);
void chan_msg_free(struct chan *ch, struct chan_msg *m);
/* Queues m without waiting, for a sender that has ended (a process ending
 * by a fatal signal of its own, whose reply nobody would read): the server
 * serves m and frees it, as it frees every ended sender's message.  0,
 * -EIO when the server has ended, -EINVAL when the sender still runs (m
 * is then still the caller's to free). */
int64_t chan_post(struct chan *ch, struct chan_msg *m);

#endif
