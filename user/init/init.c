/*
 * /sbin/init: the first program of a booted node.  Makes the console its
 * controlling terminal, starts the programs listed in /etc/inittab and
 * starts a `respawn` one again when it ends (the swarm node relies on this
 * for apoptosis and rebirth).  SIGTERM ends every program it started, then
 * init itself.
 *
 * /etc/inittab (or the file named by INITTAB), one program a line:
 *   ACTION:PROGRAM [ARGUMENT...]
 * ACTION is `respawn` (start again whenever it ends) or `once`; arguments
 * are split on spaces and tabs; empty lines and lines starting with # are
 * skipped.  A program that ends within a second of its start waits a
 * little longer each time before it is started again (1 s, doubling up to
 * 30 s), so a broken one does not spin.
 *
 * Before any program, as process 1 of a node, init unlocks the node's
 * disk when /etc/fstab (or the file named by FSTAB) has a line
 *   disk /data cryptofs key=ask|key=ephemeral|key=file:PATH
 * (docs/CRYPTOFS.md "At boot"): the passphrase is typed on the console
 * (echo off; an empty one boots without /data), or is the contents of
 * PATH on the boot medium, or (ephemeral) there is none: a fresh volume
 * whose key never leaves RAM.  A blank disk is formatted only after the
 * operator types "yes" and the passphrase twice; a disk with something
 * else on it is never formatted.  init then serves /data to every program
 * (the library OS's server thread in this process).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROGS 16
#define MAX_ARGS 32
#define LINE_MAX_LEN 512

struct prog {
	char line[LINE_MAX_LEN];	/* argv points into it */
	char *argv[MAX_ARGS + 1];
	int respawn;
	pid_t pid;			/* 0: not running */
	double started, not_before;	/* CLOCK_MONOTONIC seconds */
	double backoff;
};

static struct prog progs[MAX_PROGS];
static int nprogs;
static volatile sig_atomic_t stopping;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Splits one inittab line into p: 0, or -1 when it is not a program line. */
static int parse_line(char *s, struct prog *p)
{
	s[strcspn(s, "\r\n")] = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '#')
		return -1;
	char *colon = strchr(s, ':');
	if (!colon) {
		fprintf(stderr, "init: inittab line without ACTION: '%s'\n", s);
		return -1;
	}
	*colon = 0;
	if (strcmp(s, "respawn") == 0)
		p->respawn = 1;
	else if (strcmp(s, "once") == 0)
		p->respawn = 0;
	else {
		fprintf(stderr, "init: unknown action '%s' (respawn or once)\n", s);
		return -1;
	}
	snprintf(p->line, sizeof p->line, "%s", colon + 1);
	int n = 0;
	for (char *tok = strtok(p->line, " \t"); tok && n < MAX_ARGS; tok = strtok(NULL, " \t"))
		p->argv[n++] = tok;
	p->argv[n] = NULL;
	return n ? 0 : -1;
}

static void read_inittab(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[LINE_MAX_LEN];

	if (!f) {
		fprintf(stderr, "init: cannot read %s: %s\n", path, strerror(errno));
		return;
	}
	while (nprogs < MAX_PROGS && fgets(buf, sizeof buf, f))
		if (parse_line(buf, &progs[nprogs]) == 0)
			progs[nprogs++].backoff = 1;
	fclose(f);
}

/* As process 1: the console as stdin, stdout and stderr and the
 * controlling terminal of a new session (each program gets a session of
 * its own too).  Run otherwise (a test on a host), it keeps its stdio. */
static void take_console(void)
{
	if (getpid() != 1)
		return;
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		return;			/* keep what we were given */
	setsid();
	ioctl(fd, TIOCSCTTY, 0);
	for (int i = 0; i < 3; i++)
		if (fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

/* The library OS's boot unlock (libos/cfs_mount.c); absent on a host. */
__attribute__((weak)) int exo_cryptofs_mount(const char *data, size_t len);

#define ENODATA_ 61			/* Linux's numbers, as the library OS returns them */
#define EMEDIUMTYPE_ 124
#define MAX_PASS 512

/* Reads a line from the console with echo off (prompt first): its length,
 * or -1 at end of input. */
static int ask(const char *prompt, char *buf, size_t size, int secret)
{
	struct termios old, quiet;
	int tty = tcgetattr(0, &old) == 0;
	fputs(prompt, stdout);
	fflush(stdout);
	if (tty && secret) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		tcsetattr(0, TCSANOW, &quiet);
	}
	ssize_t n = read(0, buf, size - 1);
	if (tty && secret)
		tcsetattr(0, TCSANOW, &old);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = 0;
	return (int)n;
}

/* exo_cryptofs_mount with options and a passphrase; wipes its copy. */
static int unlock(const char *opts, const char *pass)
{
	char data[MAX_PASS + 32];
	int n = snprintf(data, sizeof data, "%s\n%s", opts, pass);
	int rc = exo_cryptofs_mount(data, (size_t)n);
	memset(data, 0, sizeof data);
	__asm__ volatile("" : : "r"(data) : "memory");
	return rc;
}

/* The key option of /etc/fstab's cryptofs line for /data, or NULL. */
static char *fstab_key(char *line, size_t size)
{
	const char *path = getenv("FSTAB");
	FILE *f = fopen(path ? path : "/etc/fstab", "r");
	char *key = NULL;
	while (f && !key && fgets(line, (int)size, f)) {
		char *src = strtok(line, " \t\n"), *dir = strtok(NULL, " \t\n");
		char *type = strtok(NULL, " \t\n"), *opts = strtok(NULL, " \t\n");
		if (src && *src != '#' && dir && !strcmp(dir, "/data") && type && !strcmp(type, "cryptofs") &&
		    opts && !strncmp(opts, "key=", 4))
			key = opts + 4;
	}
	if (f)
		fclose(f);
	return key;
}

/* Says why /data is not mounted. */
static void unlock_failed(int rc)
{
	if (rc == -ENODATA_)
		printf("init: the disk is blank; it is not formatted and /data is not mounted\n");
	else if (rc == -ENODEV)
		printf("init: no disk: /data is not mounted\n");
	else if (rc == -EMEDIUMTYPE_)
		printf("init: the disk holds something that is not CryptoFS; it is not formatted "
		       "and /data is not mounted\n");
	else
		printf("init: /data: cannot mount the disk (%s)\n", strerror(-rc));
}

/* A blank disk: formatted once the operator confirms and types the new
 * passphrase twice. */
static int format_blank(void)
{
	char yes[16], a[MAX_PASS], b[MAX_PASS];
	int rc = -EINVAL;
	printf("init: the disk is blank.\n");
	if (ask("Format it as an encrypted CryptoFS volume for /data? Type yes to format: ", yes,
		sizeof yes, 0) < 0 || strcmp(yes, "yes")) {
		printf("init: not formatted; /data is not mounted\n");
		return -ENODATA_;
	}
	if (ask("New passphrase for /data: ", a, sizeof a, 1) > 0 &&
	    ask("The same passphrase again: ", b, sizeof b, 1) >= 0 && !strcmp(a, b))
		rc = unlock("format", a);
	else
		printf("init: the passphrases differ or are empty; not formatted\n");
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	if (rc && rc != -EINVAL)
		unlock_failed(rc);
	return rc;
}

/* The boot unlock of /data, as /etc/fstab asks (see the top). */
static void mount_data(void)
{
	char line[LINE_MAX_LEN], pass[MAX_PASS];
	char *key = exo_cryptofs_mount && getpid() == 1 ? fstab_key(line, sizeof line) : NULL;
	int rc = -EACCES;

	if (!key)
		return;
	int kind = exo_cryptofs_mount("probe\n", 6);	/* no disk: nothing to ask */
	if (kind && kind != -ENODATA_) {
		unlock_failed(kind);
		return;
	}
	if (!strcmp(key, "ephemeral")) {
		rc = exo_cryptofs_mount("ephemeral\n", 10);
	} else if (!strncmp(key, "file:", 5)) {
		FILE *f = fopen(key + 5, "r");
		size_t n = f ? fread(pass, 1, sizeof pass - 1, f) : 0;
		if (f)
			fclose(f);
		pass[n] = 0;
		pass[strcspn(pass, "\n")] = 0;
		rc = n ? unlock("", pass) : -ENOENT;
	} else {
		for (int tries = 0; tries < 3 && rc == -EACCES; tries++) {
			if (ask("Passphrase for /data (empty: boot without /data): ", pass, sizeof pass, 1) <= 0) {
				printf("init: /data is not mounted\n");
				return;
			}
			if ((rc = unlock("", pass)) == -EACCES)
				printf("init: wrong passphrase\n");
		}
		memset(pass, 0, sizeof pass);
		if (rc == -ENODATA_ && (rc = format_blank()))
			return;		/* it said why */
	}
	memset(pass, 0, sizeof pass);
	if (rc == 0)
		printf("init: /data is mounted\n");
	else
		unlock_failed(rc);
}

static void start(struct prog *p)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "init: fork for %s: %s\n", p->argv[0], strerror(errno));
		p->not_before = now() + p->backoff;
		return;
	}
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		setsid();
		ioctl(0, TIOCSCTTY, 0);
		execv(p->argv[0], p->argv);
		fprintf(stderr, "init: cannot start %s: %s\n", p->argv[0], strerror(errno));
		_exit(127);
	}
	p->pid = pid;
	p->started = now();
}

/* A program ended: plan its restart, backing off when it died young. */
static void ended(struct prog *p, int status)
{
	double ran = now() - p->started;
	p->pid = 0;
	if (!p->respawn)
		return;
	if (ran < 1.0) {
		p->not_before = now() + p->backoff;
		p->backoff = p->backoff * 2 > 30 ? 30 : p->backoff * 2;
	} else {
		p->not_before = 0;
		p->backoff = 1;
	}
	if (WIFSIGNALED(status))
		fprintf(stderr, "init: %s ended by signal %d; starting it again\n", p->argv[0],
			WTERMSIG(status));
}

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

/* SIGTERM: end every program, wait for them, exit. */
static int stop_all(void)
{
	for (int i = 0; i < nprogs; i++)
		if (progs[i].pid > 0)
			kill(progs[i].pid, SIGTERM);
	while (wait(NULL) > 0 || errno == EINTR)
		;
	return 0;
}

int main(void)
{
	const char *tab = getenv("INITTAB");
	struct sigaction sa = { .sa_handler = on_term };

	sigaction(SIGTERM, &sa, NULL);
	take_console();
	mount_data();
	read_inittab(tab ? tab : "/etc/inittab");
	if (!nprogs) {
		fprintf(stderr, "init: no program to start\n");
		return 1;
	}
	for (;;) {
		double wake = 0;
		int live = 0;
		for (int i = 0; i < nprogs && !stopping; i++) {
			struct prog *p = &progs[i];
			if (!p->pid && (p->respawn || !p->started) && now() >= p->not_before)
				start(p);
			if (!p->pid && p->respawn && (!wake || p->not_before < wake))
				wake = p->not_before;
			live += p->pid > 0;
		}
		if (stopping)
			return stop_all();
		if (!live && !wake)
			return 0;		/* only `once` programs, all done */
		int status;
		pid_t pid = live ? waitpid(-1, &status, wake ? WNOHANG : 0) : 0;
		if (pid > 0) {
			for (int i = 0; i < nprogs; i++)
				if (progs[i].pid == pid)
					ended(&progs[i], status);
		} else if (wake) {
			struct timespec ts = { 0, 50000000 };	/* a restart is due soon */
			nanosleep(&ts, NULL);
		}
	}
}
