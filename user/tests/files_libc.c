/* musl's file functions over the library OS: stdio (fopen, fprintf, fgets,
 * fseek, ftell, fread, fwrite, ungetc), tmpfile, mkstemp, realpath,
 * scandir, nftw, remove, rename.  Run in a fresh directory (argv[1] is
 * made and entered); the output is compared with the same program built
 * with musl-gcc and run on Linux. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "check.h"
#include "show.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[PATH_MAX];
static char *walked[16];		/* nftw's visits, sorted before printing:
					   directory order differs between file systems */
static int nwalked;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char line[256];
	snprintf(line, sizeof line, "nftw %s type=%d level=%d size=%lld", path, type, ftw->level,
		 S_ISREG(st->st_mode) ? (long long)st->st_size : -1ll);
	if (nwalked < 16)
		walked[nwalked++] = strdup(line);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (mkdir(argv[1], 0755) && errno != EEXIST) || chdir(argv[1]) ||
	    !getcwd(base, sizeof base)) {
		printf("usage: files_libc DIR (made and entered)\n");
		return 2;
	}
	/* stdio */
	FILE *f = fopen("notes.txt", "w+");
	SHOW(f != NULL);
	for (int i = 0; i < 100; i++)
		fprintf(f, "line %d of the notes\n", i);
	SHOW(fflush(f));
	SHOW(ftell(f));
	SHOW(fseek(f, 0, SEEK_SET));
	char line[64];
	SHOW(fgets(line, sizeof line, f) != NULL);
	printf("first: %s", line);
	SHOW(fseek(f, -21, SEEK_END));
	SHOW(fgets(line, sizeof line, f) != NULL);
	printf("last: %s", line);
	SHOW(fseek(f, 5, SEEK_SET));
	SHOW(ungetc('X', f));
	SHOW(fgetc(f));
	SHOW(fgetc(f));
	SHOW(fclose(f));
	f = fopen("notes.txt", "a");
	SHOW(fputs("appended\n", f) >= 0);
	SHOW(fclose(f));
	f = fopen("notes.txt", "r");
	long lines = 0;
	while (fgets(line, sizeof line, f))
		lines++;
	SHOW(lines);
	printf("tail: %s", line);
	SHOW(fwrite("x", 1, 1, f));
	SHOW(ferror(f) != 0);
	SHOW(fclose(f));
	SHOW(fopen("missing/x", "r") == NULL);
	SHOW(fopen("notes.txt", "wx") == NULL);

	/* binary data through fread and fwrite */
	static unsigned char blob[100000], back[100000];
	for (unsigned i = 0; i < sizeof blob; i++)
		blob[i] = (unsigned char)(i * 7 + 3);
	f = fopen("blob", "wb");
	SHOW(fwrite(blob, 1, sizeof blob, f));
	SHOW(fclose(f));
	f = fopen("blob", "rb");
	SHOW(fread(back, 1, sizeof back, f));
	SHOW(fread(back, 1, 1, f));
	SHOW(feof(f) != 0);
	SHOW(fclose(f));
	EXPECT("fread-same-bytes", memcmp(blob, back, sizeof blob) == 0);

	/* temporary files */
	f = tmpfile();
	SHOW(f != NULL);
	SHOW(fputs("temporary", f) >= 0);
	rewind(f);
	SHOW(fgets(line, sizeof line, f) != NULL && strcmp(line, "temporary") == 0);
	SHOW(fclose(f));
	char tmpl[] = "stemp-XXXXXX";
	int fd = SHOW(mkstemp(tmpl) >= 0);
	SHOW(strncmp(tmpl, "stemp-", 6) == 0 && strchr(tmpl, 'X') == NULL);
	SHOW(unlink(tmpl));
	(void)fd;

	/* realpath through symlinks and dot-dot */
	SHOW(mkdir("a", 0755));
	SHOW(mkdir("a/b", 0755));
	SHOW(symlink("a/b", "ab"));
	SHOW(symlink("../notes.txt", "a/n"));
	char rp[PATH_MAX];
	const char *paths[] = { "ab/../b/./", "a/n", ".", "missing", "ab/nothing" };
	for (unsigned i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		char *r = realpath(paths[i], rp);
		if (!r)
			printf("realpath %s: %s\n", paths[i], errno_name(errno));
		else if (strncmp(r, base, strlen(base)) == 0)
			printf("realpath %s: BASE%s\n", paths[i], r + strlen(base));
		else
			printf("realpath %s: %s\n", paths[i], r);
	}

	/* scandir, nftw, remove, rename */
	FILE *g = fopen("a/b/deep", "w");
	SHOW(fputs("deep", g) >= 0);
	SHOW(fclose(g));
	struct dirent **list;
	int n = (int)SHOW(scandir(".", &list, NULL, alphasort));
	for (int i = 0; i < n; i++) {
		printf("scandir %s\n", list[i]->d_name);
		free(list[i]);
	}
	free(list);
	SHOW(rename("a/b/deep", "a/deeper"));
	SHOW(nftw("a", visit, 8, FTW_PHYS));
	qsort(walked, (size_t)nwalked, sizeof walked[0], by_name);
	for (int i = 0; i < nwalked; i++)
		printf("%s\n", walked[i]);
	SHOW(remove("a/b"));
	SHOW(remove("a"));
	SHOW(nftw("a", remove_one, 8, FTW_DEPTH | FTW_PHYS));
	SHOW(access("a", F_OK));
	printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
	return failures ? 1 : 0;
}
