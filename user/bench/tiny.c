/* The small static program that user/bench/posixbench.c starts: it only
 * returns, so a start measures the exec path, not the program. */
int main(void)
{
	return 0;
}
