/*
 * The personality image: runs a static x86_64 Linux program that was not
 * built with tools/exo-cc under this program's library OS (libos/foreign.c).
 *   ld-exo PATH ARGV0 ARGS...
 * It is linked at 0x60000000, away from ordinary programs' 0x400000, and
 * stays resident below the program; execve of a program without the
 * ExoSwarm note runs /lib/exo/ld-exo this way, and tools/exo-run boots it
 * for such a program.
 */
#include <stdio.h>
#include <string.h>

/* libos/foreign.c */
int exo_run_foreign(const char *path, int argc, char **argv, char **envp);

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ld-exo PATH ARGV0 [ARGS...]\n");
		return 127;
	}
	int r = exo_run_foreign(argv[1], argc - 2, argv + 2, environ);
	fprintf(stderr, "ld-exo: %s: %s\n", argv[1], strerror(-r));
	return r == -2 ? 127 : 126;
}
