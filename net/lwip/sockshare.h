/*
 * Sockets shared between processes (net/lwip/sockshare.c, docs/NETWORK.md
 * "Sockets across fork and execve").  A socket lives in the lwIP of the
 * process that made it (its owner); its open file description is in the
 * shared segment, so a forked child, and the programs it execve's, hold
 * the same description.  Their calls on it go to a server thread of the
 * owner through a channel (libos/chan.h), which performs each call without
 * blocking; the caller waits between tries on the socket's change word.
 */
#ifndef EXO_NET_LWIP_SOCKSHARE_H
#define EXO_NET_LWIP_SOCKSHARE_H

#include <stdint.h>

struct file;
struct chan;

/* A socket description's priv, in the shared segment.  It holds no
 * pointer the owner follows: the owner's socket is entry slot of a table
 * in the owner's own memory, which the owner checks on every use (in
 * range, in use, of generation slot_gen, made for this very record), for
 * its own calls as for the ones it serves. */
struct sockref {
	int32_t owner_pid;		/* the process whose lwIP holds it; 0: gone */
	uint32_t owner_gen;
	uint32_t slot;			/* the owner's table entry of its socket */
	uint32_t slot_gen;		/* ... and the entry's generation */
	struct chan *ch;		/* the owner's service, once shared */
	volatile uint32_t changes;	/* moved (and woken) when readiness changed */
	int32_t listed;			/* shared: its holders hear of changes */
};

/* What a holder asks the owner (struct chan_msg's op). */
enum {
	SK_BIND = 1, SK_LISTEN, SK_ACCEPT, SK_CONNECT, SK_SEND, SK_RECV, SK_SHUTDOWN,
	SK_NAME, SK_SETOPT, SK_GETOPT, SK_POLL, SK_IOCTL, SK_CLOSE,
	SK_SENDMSG, SK_RECVMSG		/* the holder's calls only: sent as SK_SEND, SK_RECV */
};

/* A reference for a new socket of the calling process: NULL when out of memory. */
struct sockref *sockref_new(void *sock);
void sockref_free(struct sockref *r);
/* Whether the socket lives in another process's stack (or in none).  A
 * record outside the shared segment is not: the owner's checks refuse it. */
int sockref_remote(const struct sockref *r);
/* In the owner: r's socket (a struct sock), from its own table; NULL when
 * r names none (a forged or stale record). */
void *sockref_sock(const struct sockref *r);

/* fork: lets another process hold f (starts the owner's service): 0, or
 * -errno when it cannot (the child then gets a stale descriptor). */
int sockshare_share(struct file *f);
/* execve: whether the next image keeps descriptor f (a socket of another
 * process: yes; the caller's own socket: no, its stack goes). */
int sockshare_keeps_on_exec(struct file *f);
/* execve of an owner: every process holding its sockets gets ENXIO/EIO. */
void sockshare_at_exec(void);

/* A socket call (op, the call's arguments after the descriptor) on a
 * socket of another process, served there: SK_NAME's a3 says peer. */
int64_t sockshare_call(uint32_t op, struct file *f, uint64_t a1, uint64_t a2, uint64_t a3,
		       uint64_t a4, uint64_t a5);
int64_t sockshare_read(struct file *f, void *ubuf, uint64_t len);
int64_t sockshare_write(struct file *f, const void *ubuf, uint64_t len);
int sockshare_poll(struct file *f);
int64_t sockshare_ioctl(struct file *f, uint64_t cmd, uint64_t arg);
/* The last descriptor of a remote socket closed: the owner closes it. */
void sockshare_release(struct sockref *r);

/* socket.c, for the owner's server: closes the socket and frees r. */
void sock_drop(struct sockref *r);
/* socket.c, in the owner: something arrived for r's socket (lwIP's
 * callbacks); its holders look again at once. */
void sockshare_note(struct sockref *r);
/* socket.c: the socket's readiness (LX_POLL* bits), in its owner. */
int sock_events(struct sockref *r);
/* socket.c: the socket's receive (send: 1) timeout in ns, 0: none. */
uint64_t sock_timeout(void *sock, int send);

#endif
