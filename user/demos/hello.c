/* The first program: prints its arguments and environment. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv, char **envp)
{
	printf("hello from ExoSwarm\n");
	for (int i = 0; i < argc; i++)
		printf("argv[%d] = '%s'\n", i, argv[i]);
	for (char **e = envp; *e; e++)
		printf("env: %s\n", *e);
	fprintf(stderr, "this line goes to stderr\n");
	return argc > 1 ? atoi(argv[1]) : 0;
}
