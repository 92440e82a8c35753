/*
 * A program that is NOT built with tools/exo-cc (tests/suites/29-exec.sh
 * builds it with gcc -static, gcc -static-pie and musl-gcc -static): it
 * runs under the personality image and must behave as on Linux.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	char *p = malloc(100000);
	memset(p, 1, 100000);
	printf("hello from a foreign program: argc %d", argc);
	for (int i = 0; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf(" HOME=%s pid>0 %d\n", getenv("HOME") ? getenv("HOME") : "-", getpid() > 0);
	free(p);
	return 5;
}
