/* Jumps into writable, non-executable memory: W^X must stop it with
 * SIGSEGV (exit status 139). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	unsigned char *code = malloc(64);
	memset(code, 0xc3, 64);		/* ret */
	printf("about to execute the heap\n");
	fflush(stdout);
	((void (*)(void))code)();
	printf("executed the heap: W^X is broken\n");
	return 0;
}
