/*
 * The terminal: a line discipline over the kernel console, for the console
 * devices (/dev/console, /dev/tty, /dev/ttyS0 and descriptors 0-2) when the
 * program's output goes to the kernel console (`make run`; not under
 * tools/exo-run, whose stdout and stderr are files on the host).
 *
 * Typed bytes come from the kernel (EXO_SYS_CONSOLE_READ); the kernel wakes
 * the reading thread's notification when more arrive (EXO_SYS_CONSOLE_BIND,
 * rebound by each reader, so the process reading now gets them).  When a
 * read needs them, bytes go through input processing (ICRNL, INLCR, IGNCR, ISTRIP), the signal
 * characters (^C SIGINT, ^\ SIGQUIT, ^Z SIGTSTP), then either the line being
 * edited (canonical mode: erase, kill, ^W, ^R, ^V, ^D, with echo) or straight
 * to the bytes a read can take (raw mode, VMIN and VTIME).  termios, window
 * size, foreground group and typed-ahead input already taken from the
 * kernel are the machine's, in the shared segment (tty_state), as on Linux.
 */
#include "libos/libos.h"
#include "libos/lx.h"
#include "libos/thread.h"
#include "libos/proc.h"
#include "libos/tty.h"
#include "libos/vfs.h"
#include "include/exo/native.h"

/* termios bits (Linux values) */
#define IGNBRK 01
#define ISTRIP 040
#define INLCR 0100
#define IGNCR 0200
#define ICRNL 0400
#define IXON 02000
#define IUTF8 040000
#define OPOST 01
#define ONLCR 04
#define ISIG 01
#define ICANON 02
#define ECHO 010
#define ECHOE 020
#define ECHOK 040
#define ECHONL 0100
#define NOFLSH 0200
#define ECHOCTL 01000
#define ECHOKE 04000
#define IEXTEN 0100000
enum { VINTR, VQUIT, VERASE, VKILL, VEOF, VTIME, VMIN, VSWTC, VSTART, VSTOP, VSUSP,
       VEOL, VREPRINT, VDISCARD, VWERASE, VLNEXT, VEOL2 };

/* ioctl requests */
#define TCGETS 0x5401
#define TCSETS 0x5402
#define TCSETSW 0x5403
#define TCSETSF 0x5404
#define TCSBRK 0x5409
#define TCXONC 0x540a
#define TCFLSH 0x540b
#define TIOCSCTTY 0x540e
#define TIOCGPGRP 0x540f
#define TIOCSPGRP 0x5410
#define TIOCOUTQ 0x5411
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define FIONREAD 0x541b
#define TIOCNOTTY 0x5422
#define TIOCGSID 0x5429

#define SIGINT 2
#define SIGQUIT 3
#define SIGTSTP 20
#define SIGWINCH 28
#define INPUT_BADGE 8		/* the bit the kernel sets on the thread's notification */
#define LINE_MAX 4096
#define READY_MAX 8192		/* powers of two */
#define MARKS_MAX 64
#define TYPED_MAX 1024
#define CTRL(c) ((c) & 0x1f)

struct lx_termios {
	uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
	uint8_t c_line;
	uint8_t c_cc[19];
};
_Static_assert(sizeof(struct lx_termios) == 36, "Linux struct termios (TCGETS)");

struct lx_winsize {
	uint16_t rows, cols, xpixel, ypixel;
};
_Static_assert(sizeof(struct lx_winsize) == 8, "struct winsize");

struct tty_state {
	struct lx_termios tio;
	struct lx_winsize ws;
	int64_t fg_pgrp;		/* the foreground group; 0: the caller's own */
	uint8_t line[LINE_MAX];		/* the line being edited (canonical mode) */
	uint32_t line_len;
	int lnext;			/* ^V: the next byte is taken literally */
	uint8_t ready[READY_MAX];	/* what read can take */
	uint64_t ready_head, ready_tail;
	uint64_t marks[MARKS_MAX];	/* canonical: where each finished line ends */
	uint32_t marks_head, marks_tail;
	uint8_t typed[TYPED_MAX];	/* taken from the kernel, not yet processed */
	uint64_t typed_head, typed_tail;
	int polled;			/* poll saw a terminal in this round */
};

/* A new terminal's settings: Linux's defaults. */
static const struct tty_state tty_initial = {
	.tio = {
		.c_iflag = ICRNL | IXON | IUTF8,
		.c_oflag = OPOST | ONLCR,
		.c_cflag = 010002 | 060 | 0200 | 02000,	/* B115200 CS8 CREAD HUPCL */
		.c_lflag = ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
		.c_cc = { [VINTR] = CTRL('C'), [VQUIT] = 034, [VERASE] = 0177, [VKILL] = CTRL('U'),
			  [VEOF] = CTRL('D'), [VTIME] = 0, [VMIN] = 1, [VSTART] = CTRL('Q'),
			  [VSTOP] = CTRL('S'), [VSUSP] = CTRL('Z'), [VREPRINT] = CTRL('R'),
			  [VDISCARD] = CTRL('O'), [VWERASE] = CTRL('W'), [VLNEXT] = CTRL('V') },
	},
	.ws = { .rows = 24, .cols = 80 },
};

/* The machine's terminal, in the shared segment (its address is kept in
 * the file system's namespace, which every process and image finds): one
 * set of settings, one foreground group and one queue of typed input for
 * all processes, as a Linux tty is one kernel object.  Made on first use. */
static struct tty_state *tty_state(void)
{
	static struct tty_state fallback;	/* no namespace (yet): this process's */
	struct vfs_ns *ns = vfs_ns();
	if (!ns) {
		if (!fallback.tio.c_lflag)
			fallback = tty_initial;
		return &fallback;
	}
	if (!ns->tty) {
		struct tty_state *t = sh_alloc(sizeof *t);
		if (!t)
			return &fallback;
		*t = tty_initial;
		ns->tty = t;
	}
	return ns->tty;
}
#define tty (*tty_state())

int tty_active(void)
{
	return console_is_kernel();
}

static int lflag(uint32_t bit) { return (tty.tio.c_lflag & bit) != 0; }

static void out(const void *s, size_t n)
{
	console_write(1, s, n);
}

/* Echoes one input byte: a control character as ^X under ECHOCTL. */
static void echo_byte(uint8_t c)
{
	if (c < 0x20 && c != '\n' && c != '\t' && lflag(ECHOCTL)) {
		uint8_t two[2] = { '^', (uint8_t)(c + '@') };
		out(two, 2);
	} else if (c == 0x7f && lflag(ECHOCTL)) {
		out("^?", 2);
	} else {
		out(&c, 1);
	}
}

/* The columns a byte of the line took when echoed. */
static int echo_width(uint8_t c)
{
	if ((c < 0x20 && c != '\t') || c == 0x7f)
		return lflag(ECHOCTL) ? 2 : 0;
	return (c & 0xc0) == 0x80 ? 0 : 1;	/* UTF-8 continuation bytes take none */
}

/* Removes the last character of the line (all of a UTF-8 sequence) and
 * rubs it out on the screen: 0 when the line was empty. */
static int erase_char(void)
{
	if (!tty.line_len)
		return 0;
	int width = 0;
	uint8_t c;
	do {
		c = tty.line[--tty.line_len];
		width += echo_width(c);
	} while (tty.line_len && (tty.tio.c_iflag & IUTF8) && (c & 0xc0) == 0x80);
	if (lflag(ECHO) && lflag(ECHOE))
		for (int i = 0; i < width; i++)
			out("\b \b", 3);
	return 1;
}

static int is_space(uint8_t c) { return c == ' ' || c == '\t'; }

/* ^W: the spaces before the cursor, then the word before them. */
static void erase_word(void)
{
	while (tty.line_len && is_space(tty.line[tty.line_len - 1]))
		erase_char();
	while (tty.line_len && !is_space(tty.line[tty.line_len - 1]))
		erase_char();
}

static void kill_line(void)
{
	if (lflag(ECHO) && lflag(ECHOKE) && lflag(ECHOE)) {
		while (erase_char())
			;
		return;
	}
	tty.line_len = 0;
	if (lflag(ECHO) && lflag(ECHOK))
		out("\n", 1);
}

static uint64_t ready_count(void) { return tty.ready_tail - tty.ready_head; }

static void ready_put(const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n && ready_count() < READY_MAX; i++)
		tty.ready[tty.ready_tail++ % READY_MAX] = p[i];
}

/* A finished line (with its newline, or none at ^D) becomes readable. */
static void commit_line(void)
{
	if (tty.marks_tail - tty.marks_head == MARKS_MAX || ready_count() + tty.line_len > READY_MAX) {
		tty.line_len = 0;	/* no room: the line is lost, as Linux drops input */
		return;
	}
	ready_put(tty.line, tty.line_len);
	tty.marks[tty.marks_tail++ % MARKS_MAX] = tty.ready_tail;
	tty.line_len = 0;
}

static void flush_input(void)
{
	tty.typed_head = tty.typed_tail;
	tty.line_len = 0;
	tty.ready_head = tty.ready_tail;
	tty.marks_head = tty.marks_tail;
}

/* The foreground process group gets sig: the one set by TIOCSPGRP, else
 * the reading process's own group (kill(0, ...)).  The terminal's state is
 * per process, so the group the shell set is known to the processes it
 * forked after setting it. */
static void signal_foreground(int sig)
{
	uint64_t to = tty.fg_pgrp ? (uint64_t)-tty.fg_pgrp : 0;
	sys_kill(to, (uint64_t)sig, 0, 0, 0, 0);
}

/* A signal character: echo it, drop pending input, signal. */
static void signal_char(uint8_t c, int sig)
{
	if (!(tty.tio.c_lflag & NOFLSH))
		flush_input();
	if (lflag(ECHO))
		echo_byte(c);
	signal_foreground(sig);
}

/* Canonical mode's editing characters: 1 when c was one. */
static int edit_char(uint8_t c)
{
	const uint8_t *cc = tty.tio.c_cc;
	if (c == cc[VERASE] || (c == '\b' && cc[VERASE] == 0x7f)) {
		erase_char();
	} else if (c == cc[VKILL]) {
		kill_line();
	} else if (c == cc[VWERASE] && lflag(IEXTEN)) {
		erase_word();
	} else if (c == cc[VREPRINT] && lflag(IEXTEN)) {
		if (lflag(ECHO)) {
			echo_byte(c);
			out("\n", 1);
			for (uint32_t i = 0; i < tty.line_len; i++)
				echo_byte(tty.line[i]);
		}
	} else if (c == cc[VEOF] && c) {
		commit_line();		/* an empty line reads as end of file */
	} else if (c == '\n' || (c == cc[VEOL] && c) || (c == cc[VEOL2] && c)) {
		if (tty.line_len < LINE_MAX)
			tty.line[tty.line_len++] = c;
		if (lflag(ECHO) || (c == '\n' && lflag(ECHONL)))
			echo_byte(c);
		commit_line();
	} else {
		return 0;
	}
	return 1;
}

/* One typed byte through the discipline. */
static void input_byte(uint8_t c)
{
	const struct lx_termios *t = &tty.tio;
	const uint8_t *cc = t->c_cc;

	if (t->c_iflag & ISTRIP)
		c &= 0x7f;
	if (tty.lnext) {
		tty.lnext = 0;
	} else {
		if (c == '\r' && (t->c_iflag & IGNCR))
			return;
		if (c == '\r' && (t->c_iflag & ICRNL))
			c = '\n';
		else if (c == '\n' && (t->c_iflag & INLCR))
			c = '\r';
		if (lflag(ISIG) && c) {
			int sig = c == cc[VINTR] ? SIGINT : c == cc[VQUIT] ? SIGQUIT :
				  c == cc[VSUSP] ? SIGTSTP : 0;
			if (sig) {
				signal_char(c, sig);
				return;
			}
		}
		if ((t->c_iflag & IXON) && c && (c == cc[VSTART] || c == cc[VSTOP]))
			return;		/* flow control: output is never held back */
		if (lflag(ICANON) && lflag(IEXTEN) && c == cc[VLNEXT] && c) {
			tty.lnext = 1;
			if (lflag(ECHO) && lflag(ECHOCTL))
				out("^\b", 2);
			return;
		}
		if (lflag(ICANON) && edit_char(c))
			return;
	}
	if (lflag(ICANON)) {
		if (tty.line_len >= LINE_MAX - 1)
			return;		/* a full line takes only its end */
		tty.line[tty.line_len++] = c;
	} else {
		ready_put(&c, 1);
	}
	if (lflag(ECHO))
		echo_byte(c);
}

/* Moves what the kernel has buffered into our own queue of typed bytes. */
static void fetch(void)
{
	static uint8_t buf[256];	/* under the lock; the kernel writes it */
	int64_t n;

	if (mm_prepare_write((uint64_t)buf, sizeof buf))
		return;
	do {
		uint64_t room = TYPED_MAX - (tty.typed_tail - tty.typed_head);
		n = exo_call(EXO_SYS_CONSOLE_READ, EXO_SLOT_CONSOLE, buf,
			     room < sizeof buf ? room : sizeof buf);
		for (int64_t i = 0; i < n; i++)
			tty.typed[tty.typed_tail++ % TYPED_MAX] = buf[i];
	} while (n == (int64_t)sizeof buf);
}

/* Runs typed bytes through the discipline until a read of want bytes can
 * be served: in canonical mode a finished line, in raw mode want bytes.
 * The rest waits unprocessed, so a program that changes the mode (a line
 * editor going back to canonical mode) gets what was typed ahead under the
 * new settings, and its echo. */
static void pump(uint64_t want)
{
	fetch();
	while (tty.typed_head != tty.typed_tail) {
		if (lflag(ICANON) ? tty.marks_head != tty.marks_tail : ready_count() >= want)
			return;
		input_byte(tty.typed[tty.typed_head++ % TYPED_MAX]);
	}
}

/* Whether c, typed now, is one of the signal characters (ISIG). */
static int is_signal_char(uint8_t c)
{
	const uint8_t *cc = tty.tio.c_cc;
	if (!lflag(ISIG) || !c)
		return 0;
	if (tty.tio.c_iflag & ISTRIP)
		c &= 0x7f;
	return c == cc[VINTR] || c == cc[VQUIT] || c == cc[VSUSP];
}

#define WATCH_NS 50000000ull	/* how often a waiting process looks */

/* For a process that waits without reading the terminal (a shell waiting
 * for its foreground job): takes what was typed from the kernel and, when
 * a signal character is among it, runs the input through the discipline up
 * to that character, so ^C and ^Z reach the foreground group although
 * nobody reads.  Other input stays queued, unprocessed, for the reader. */
uint64_t tty_watch_deadline(void)
{
	return tty_active() ? time_now_ns() + WATCH_NS : 0;
}

void tty_watch(void)
{
	if (!tty_active())
		return;
	fetch();
	uint64_t last = tty.typed_head;
	for (uint64_t i = tty.typed_head; i != tty.typed_tail; i++)
		if (is_signal_char(tty.typed[i % TYPED_MAX]))
			last = i + 1;
	while (tty.typed_head != last)
		input_byte(tty.typed[tty.typed_head++ % TYPED_MAX]);
}

/* Bytes a read may take now: canonical mode up to the end of the first
 * finished line (0 with a line: end of file), raw mode all. -1: none yet. */
static int64_t readable(void)
{
	if (lflag(ICANON)) {
		if (tty.marks_head == tty.marks_tail)
			return -1;
		return (int64_t)(tty.marks[tty.marks_head % MARKS_MAX] - tty.ready_head);
	}
	return ready_count() ? (int64_t)ready_count() : -1;
}

/* Copies up to len readable bytes to the program: how many, or -EFAULT
 * (then nothing is consumed). */
static int64_t take(uint8_t *ubuf, uint64_t len, uint64_t avail)
{
	uint64_t n = avail < len ? avail : len;
	for (uint64_t i = 0; i < n;) {
		uint64_t at = (tty.ready_head + i) % READY_MAX;
		uint64_t run = READY_MAX - at < n - i ? READY_MAX - at : n - i;
		if (lo_copy_out(ubuf + i, tty.ready + at, run))
			return -EFAULT;
		i += run;
	}
	tty.ready_head += n;
	if (lflag(ICANON) && tty.marks_head != tty.marks_tail &&
	    tty.marks[tty.marks_head % MARKS_MAX] == tty.ready_head)
		tty.marks_head++;
	return (int64_t)n;
}

/* Sleeps until input arrives, deadline_ns passes (0: none) or a signal
 * comes: 0, -ETIMEDOUT or -EINTR.  The libOS lock is given up meanwhile.
 * Input signals the thread's notification, while signals and timers wake
 * the thread's futex word (lo_wait_word), so the wait on the notification
 * is cut into slices of SIGNAL_SLICE_NS with a look for them between. */
#define SIGNAL_SLICE_NS 20000000ull
static int64_t wait_input(uint64_t deadline_ns)
{
	struct lo_thread *t = lo_thread_self();
	if (!t->notify)
		t->notify = exo_call0(EXO_SYS_NOTIFY_CREATE);
	if (t->notify < 0)
		return -ENOMEM;
	exo_call(EXO_SYS_CONSOLE_BIND, EXO_SLOT_CONSOLE, t->notify, INPUT_BADGE);
	for (;;) {
		lo_timers_run();
		if (lo_signal_pending(t))
			return -EINTR;
		uint64_t now = time_now_ns(), slice = SIGNAL_SLICE_NS;
		if (deadline_ns && now >= deadline_ns)
			return -EXO_ETIMEDOUT;
		if (deadline_ns && deadline_ns - now < slice)
			slice = deadline_ns - now;
		uint32_t depth = lo_unlock_all();
		int64_t r = exo_call(EXO_SYS_NOTIFY_WAIT, t->notify, slice);
		lo_relock(depth);
		if (r > 0)
			return 0;
	}
}

/* VMIN (non-canonical): how many bytes satisfy a read of len.  VTIME, in
 * tenths of a second, is tty_read's deadline after the last byte. */
static uint64_t raw_min(uint64_t len)
{
	uint64_t min = tty.tio.c_cc[VMIN];
	return min < len ? min : len;
}

int64_t tty_read(struct file *f, void *ubuf, uint64_t len)
{
	uint64_t got = 0, deadline = 0;
	uint64_t vtime_ns = (uint64_t)tty.tio.c_cc[VTIME] * 100000000ull;

	if (!len)
		return 0;
	if (!lflag(ICANON) && vtime_ns && !tty.tio.c_cc[VMIN])
		deadline = time_now_ns() + vtime_ns;	/* VMIN 0: a timeout for the first byte */
	for (;;) {
		pump(len - got);
		int64_t avail = readable();
		if (lflag(ICANON) && avail >= 0)
			return take(ubuf, len, (uint64_t)avail);
		if (!lflag(ICANON)) {
			if (avail > 0) {
				int64_t n = take((uint8_t *)ubuf + got, len - got, (uint64_t)avail);
				if (n < 0)
					return got ? (int64_t)got : n;
				got += (uint64_t)n;
				if (vtime_ns)
					deadline = time_now_ns() + vtime_ns;	/* between bytes */
			}
			if (got >= raw_min(len) && (got || !vtime_ns))
				return (int64_t)got;
		}
		if (f->flags & LX_O_NONBLOCK)
			return got ? (int64_t)got : -EAGAIN;
		int64_t r = wait_input(deadline);
		if (r == -EINTR || r == -ENOMEM)
			return got ? (int64_t)got : r;
		if (r == -EXO_ETIMEDOUT && deadline && time_now_ns() >= deadline)
			return (int64_t)got;
	}
}

int tty_poll(struct file *f)
{
	(void)f;
	tty.polled = 1;
	pump(1);
	return (readable() >= 0 ? LX_POLLIN : 0) | LX_POLLOUT;
}

void tty_poll_round(void)
{
	tty.polled = 0;
}

int64_t tty_wait_ready(uint64_t deadline_ns, int others)
{
	int polled = tty.polled;
	tty.polled = 0;
	if (!polled)
		return 1;
	if (deadline_ns == UINT64_MAX)
		deadline_ns = 0;
	/* other files may become ready without waking us: look again soon */
	uint64_t soon = time_now_ns() + 20000000ull;
	if (others && (!deadline_ns || deadline_ns > soon))
		deadline_ns = soon;
	return wait_input(deadline_ns) == -EINTR ? -EINTR : 0;
}

/* New settings; when canonical mode ends, the line being edited becomes
 * readable as it is. */
static void set_termios(const struct lx_termios *t)
{
	int was_canon = lflag(ICANON);
	tty.tio = *t;
	if (was_canon && !lflag(ICANON)) {
		ready_put(tty.line, tty.line_len);
		tty.line_len = 0;
	}
	if (!lflag(ICANON))
		tty.marks_head = tty.marks_tail;
}

static int64_t copy_out_int(uint64_t arg, int32_t v)
{
	return lo_copy_out((void *)arg, &v, sizeof v) ? -EFAULT : 0;
}

int64_t tty_ioctl(struct file *f, uint64_t cmd, uint64_t arg)
{
	(void)f;
	switch (cmd) {
	case TCGETS:
		return lo_copy_out((void *)arg, &tty.tio, sizeof tty.tio) ? -EFAULT : 0;
	case TCSETS: case TCSETSW: case TCSETSF: {
		struct lx_termios t;
		if (lo_copy_in(&t, (const void *)arg, sizeof t))
			return -EFAULT;
		if (cmd == TCSETSF) {
			fetch();
			flush_input();
		}
		set_termios(&t);
		return 0;
	}
	case TIOCGWINSZ:
		return lo_copy_out((void *)arg, &tty.ws, sizeof tty.ws) ? -EFAULT : 0;
	case TIOCSWINSZ: {
		struct lx_winsize w;
		if (lo_copy_in(&w, (const void *)arg, sizeof w))
			return -EFAULT;
		int changed = w.rows != tty.ws.rows || w.cols != tty.ws.cols;
		tty.ws = w;
		if (changed)
			signal_foreground(SIGWINCH);
		return 0;
	}
	case TIOCGPGRP:
		return copy_out_int(arg, (int32_t)(tty.fg_pgrp ? tty.fg_pgrp : sys_getpgid(0, 0, 0, 0, 0, 0)));
	case TIOCSPGRP: {
		int32_t pg;
		if (lo_copy_in(&pg, (const void *)arg, sizeof pg))
			return -EFAULT;
		if (pg <= 0)
			return -EINVAL;
		tty.fg_pgrp = pg;
		return 0;
	}
	case TIOCGSID:
		return copy_out_int(arg, (int32_t)sys_getsid(0, 0, 0, 0, 0, 0));
	case TIOCSCTTY:		/* a session takes the terminal: its group is in front */
		tty.fg_pgrp = sys_getpgid(0, 0, 0, 0, 0, 0);
		return 0;
	case TIOCNOTTY:
		return 0;	/* the console is every process's controlling terminal */
	case FIONREAD: {
		pump(UINT64_MAX);
		int64_t n = lflag(ICANON) ? readable() : (int64_t)ready_count();
		return copy_out_int(arg, (int32_t)(n > 0 ? n : 0));
	}
	case TIOCOUTQ:
		return copy_out_int(arg, 0);	/* output is written before write returns */
	case TCSBRK: case TCXONC:
		return 0;
	case TCFLSH:
		if (arg == 0 || arg == 2) {	/* TCIFLUSH, TCIOFLUSH */
			fetch();
			flush_input();
		}
		return arg <= 2 ? 0 : -EINVAL;
	default:
		return -ENOTTY;
	}
}
