/* Never ends: exo-run must give up after EXO_RUN_TIMEOUT with status 125. */
int main(void)
{
	for (volatile int i = 0;; i++)
		;
}
