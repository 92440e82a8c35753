/* Dereferences NULL: the program must die of SIGSEGV (exit status 139). */
#include <stdio.h>

int main(void)
{
	volatile int *p = NULL;
	printf("about to dereference NULL\n");
	fflush(stdout);
	return *p;
}
