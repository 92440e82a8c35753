/*
 * wordcount: counts the lines, words and bytes of each file named on the
 * command line, one thread per file, as a first program with files and
 * threads.  The threads' results go into a report file, which is then
 * read back and printed, so the program writes, renames and reads files
 * as well as reading its inputs:
 *
 *   tools/exo-cc -O2 -o wordcount user/demos/wordcount.c
 *   tools/exo-run --file README.md:/README.md wordcount /README.md /proc/cpuinfo
 *
 * The same source builds and runs on Linux (cc -pthread) with the same
 * output.  The report goes to $TMPDIR (default /tmp).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct count {
	const char *path;
	unsigned long lines, words, bytes;
	int err;		/* errno of a failed open or read, else 0 */
};

/* Counts one file in the calling thread; the result stays in *arg. */
static void *count_file(void *arg)
{
	struct count *c = arg;
	char buf[4096];
	int in_word = 0;
	ssize_t n;
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		c->err = errno;
		return NULL;
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		c->bytes += (unsigned long)n;
		for (ssize_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)buf[i];

			c->lines += ch == '\n';
			if (isspace(ch))
				in_word = 0;
			else if (!in_word) {
				in_word = 1;
				c->words++;
			}
		}
	}
	if (n < 0)
		c->err = errno;
	close(fd);
	return NULL;
}

/* Writes the report to a temporary name, then renames it into place, so a
 * reader never sees half a report. */
static int write_report(const char *path, const struct count *c, int n)
{
	char tmp[4096];
	FILE *f;
	unsigned long lines = 0, words = 0, bytes = 0;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	for (int i = 0; i < n; i++) {
		if (c[i].err) {
			fprintf(f, "%s: %s\n", c[i].path, strerror(c[i].err));
			continue;
		}
		fprintf(f, "%8lu %8lu %8lu %s\n", c[i].lines, c[i].words,
			c[i].bytes, c[i].path);
		lines += c[i].lines;
		words += c[i].words;
		bytes += c[i].bytes;
	}
	if (n > 1)
		fprintf(f, "%8lu %8lu %8lu total\n", lines, words, bytes);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

/* Copies the report to standard output. */
static int print_report(const char *path)
{
	char line[4096];
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc - 1;
	struct count *c;
	pthread_t *tid;
	const char *dir = getenv("TMPDIR");
	char report[4096];
	int failed = 0;

	if (n < 1) {
		fprintf(stderr, "usage: %s FILE...\n", argv[0]);
		return 2;
	}
	c = calloc((size_t)n, sizeof(*c));
	tid = calloc((size_t)n, sizeof(*tid));
	if (!c || !tid) {
		perror("calloc");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		c[i].path = argv[i + 1];
		int e = pthread_create(&tid[i], NULL, count_file, &c[i]);

		if (e) {
			fprintf(stderr, "pthread_create: %s\n", strerror(e));
			return 1;
		}
	}
	for (int i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		failed |= c[i].err != 0;
	}
	snprintf(report, sizeof(report), "%s/wordcount.%ld",
		 dir && *dir ? dir : "/tmp", (long)getpid());
	if (write_report(report, c, n) != 0 || print_report(report) != 0) {
		perror(report);
		return 1;
	}
	unlink(report);
	free(tid);
	free(c);
	return failed;
}
