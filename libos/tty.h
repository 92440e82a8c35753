/* The terminal on the kernel console (libos/tty.c): the console devices'
 * read, poll and ioctl when tty_active(). */
#ifndef EXO_LIBOS_TTY_H
#define EXO_LIBOS_TTY_H

#include <stdint.h>

struct file;

/* Whether the console is a terminal: output goes to the kernel console. */
int tty_active(void);
/* A read through the line discipline; blocks (lock released) unless the
 * file is O_NONBLOCK. */
int64_t tty_read(struct file *f, void *ubuf, uint64_t len);
int64_t tty_ioctl(struct file *f, uint64_t cmd, uint64_t arg);
/* The poll op; notes that this round of poll, select or epoll_wait saw a
 * terminal. */
int tty_poll(struct file *f);
/* A new round of looking at files' readiness begins. */
void tty_poll_round(void);
/* poll, select and epoll_wait's wait when a terminal was polled: sleeps until input,
 * deadline_ns (0 or UINT64_MAX: none) or a
 * signal; with others set (other files in the
 * set) at most 20 ms, so they are looked at again.  1: no terminal was
 * polled (the caller waits its own way), 0, or -EINTR. */
int64_t tty_wait_ready(uint64_t deadline_ns, int others);

/* Delivers the signal characters typed while nobody reads the terminal
 * (wait4 calls it as it waits); other input stays for the reader. */
void tty_watch(void);
/* When a waiter should next call tty_watch: 0 (never) without a terminal. */
uint64_t tty_watch_deadline(void);

#endif
