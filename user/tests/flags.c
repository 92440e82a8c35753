/* Built with -O2 -g -I -lm by the tests: math from musl's libm works. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "answer.h"

int main(int argc, char **argv)
{
	double x = argc > 1 ? atof(argv[1]) : 2.0;
	printf("sqrt=%.6f answer=%d\n", sqrt(x), ANSWER);
	return 0;
}
