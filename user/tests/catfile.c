/* Prints each file named on the command line: a line with its mode and
 * size, then its contents; for checking what tools/exo-run --file put in
 * the initramfs. */
#include "show.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		char buf[4096];
		int fd = open(argv[i], O_RDONLY);
		if (fd < 0 || fstat(fd, &st)) {
			printf("%s: %s\n", argv[i], errno_name(errno));
			bad = 1;
			continue;
		}
		printf("%s: mode %o size %lld\n", argv[i], (unsigned)st.st_mode, (long long)st.st_size);
		fflush(stdout);
		ssize_t n;
		while ((n = read(fd, buf, sizeof buf)) > 0)
			if (write(1, buf, (size_t)n) != n)
				return 1;
		close(fd);
	}
	return bad;
}
