/*
 * The smallest /bin/sh for the exec tests (tests/suites/29-exec.sh):
 * `sh -c "PROG ARGS..."` splits the command at spaces and execs it, so
 * system() and scripts have a shell in the guest before BusyBox's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	static char buf[4096];
	char *args[64];
	int n = 0;
	if (argc < 3 || strcmp(argv[1], "-c") != 0) {
		fprintf(stderr, "minish: only -c COMMAND\n");
		return 2;
	}
	strncpy(buf, argv[2], sizeof buf - 1);
	for (char *p = strtok(buf, " \t"); p && n < 63; p = strtok(0, " \t"))
		args[n++] = p;
	args[n] = 0;
	if (!n)
		return 0;
	execve(args[0], args, environ);
	fprintf(stderr, "minish: %s: %s\n", args[0], strerror(errno));
	return errno == ENOENT ? 127 : 126;
}
