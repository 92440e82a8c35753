/* For POSIX tests whose output is compared with the same program run on
 * Linux: SHOW prints a call's result, or -1 and the errno's name, so the
 * two outputs differ wherever a result or an error code does. */
#ifndef EXO_USER_TESTS_SHOW_H
#define EXO_USER_TESTS_SHOW_H

#include <errno.h>
#include <stdio.h>

static const char *errno_name(int e)
{
	static const struct { int e; const char *name; } names[] = {
		{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { ESRCH, "ESRCH" }, { EINTR, "EINTR" },
		{ EIO, "EIO" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" }, { ENOMEM, "ENOMEM" },
		{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" }, { EEXIST, "EEXIST" },
		{ EXDEV, "EXDEV" }, { ENODEV, "ENODEV" }, { ENOTDIR, "ENOTDIR" }, { EISDIR, "EISDIR" },
		{ EINVAL, "EINVAL" }, { EMFILE, "EMFILE" }, { ENOTTY, "ENOTTY" }, { EFBIG, "EFBIG" },
		{ ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" }, { EPIPE, "EPIPE" }, { ERANGE, "ERANGE" },
		{ ENAMETOOLONG, "ENAMETOOLONG" }, { ENOSYS, "ENOSYS" }, { ENOTEMPTY, "ENOTEMPTY" },
		{ ELOOP, "ELOOP" }, { EOPNOTSUPP, "EOPNOTSUPP" }, { ENXIO, "ENXIO" },
		{ ETIMEDOUT, "ETIMEDOUT" },
	};
	for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].e == e)
			return names[i].name;
	return "E?";
}

/* Prints "what = result" or "what = -1 ENAME"; returns the result. */
static long show(const char *what, long r)
{
	if (r < 0)
		printf("%s = -1 %s\n", what, errno_name(errno));
	else
		printf("%s = %ld\n", what, r);
	fflush(stdout);
	return r;
}

#define SHOW(expr) show(#expr, (long)(expr))

#endif
