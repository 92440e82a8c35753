/*
 * The cryptofs host tool: an image file as a CryptoFS block device, and the
 * FUSE front end.  Shared by fs/tool/cryptofs.c and fs/tool/fuse.c.
 */
#ifndef EXO_FS_TOOL_H
#define EXO_FS_TOOL_H

#include "fs/cfs.h"

enum { EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_KEY = 3, EXIT_DAMAGE = 4 };

/* Exit status for a negative errno from the core. */
int tool_exit_status(int err);
/* Print "cryptofs: what: reason" for err, naming the damaged block on -EIO. */
int tool_fail(struct cfs *fs, const char *what, int err);
/* Serve a mounted volume at dir through libfuse3 until unmounted. */
int tool_fuse_main(struct cfs *fs, const char *dir, int argc, char **argv);

#endif
