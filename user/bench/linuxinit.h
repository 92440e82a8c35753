/*
 * For the bench programs that are also /init of a Linux guest (built with
 * -DLINUX_INIT): loads the kernel modules that the bench script put into
 * the initrd at /modules, numbered in the order they must be loaded.
 */
#ifndef EXO_BENCH_LINUXINIT_H
#define EXO_BENCH_LINUXINIT_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int linuxinit_is_module(const struct dirent *e)
{
	size_t n = strlen(e->d_name);
	return n > 3 && !strcmp(e->d_name + n - 3, ".ko");
}

/* Loads every .ko file in /modules in name order (the script numbers them by need). */
static void linuxinit_load_modules(void)
{
	struct dirent **names;
	int n = scandir("/modules", &names, linuxinit_is_module, alphasort);
	for (int i = 0; i < n; i++) {
		char p[300];
		snprintf(p, sizeof p, "/modules/%s", names[i]->d_name);
		int fd = open(p, O_RDONLY);
		if (fd >= 0 && syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
			fprintf(stderr, "linuxinit: %s: %s\n", p, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
}

#endif
