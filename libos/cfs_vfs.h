/* CryptoFS behind the VFS seam (libos/cfs_vfs.c) and its mount at start-up
 * (libos/cfs_mount.c). */
#ifndef EXO_LIBOS_CFS_VFS_H
#define EXO_LIBOS_CFS_VFS_H

#include "libos/libos.h"
#include "libos/vfs.h"

struct cfs;

/* Mounts the volume on the directory at (a kernel path): 0 or -errno. */
int cfs_vfs_mount(struct cfs *fs, const char *at);
/* The mounting image ends (exit, execve): the server stops, and other
 * processes' calls on the mount fail with EIO. */
void cfs_vfs_detach(void);
/* The mounter execve's (libos/cfs_mount.c): its next image will serve the
 * volume; other processes' calls wait for it.  note: for that image. */
void cfs_vfs_hand_over(uint64_t note);
/* In the new image: the root of a volume the old one handed over, and its
 * note; NULL when none. */
struct vnode *cfs_vfs_handed_over(uint64_t *note);
/* The new image serves the handed-over volume, mounted again as fs: its
 * nodes get handles of fs, and a server thread starts.  0 or -errno. */
int cfs_vfs_adopt(struct cfs *fs, struct vnode *root);
/* The new image could not take the volume: its calls fail with EIO. */
void cfs_vfs_abandon(struct vnode *root);
/* Start-up: notes whether tools/exo-run asked for a volume at /data (the
 * "cfsmount" module); the mount itself runs as the first constructor. */
void cfs_mount_prepare(void);
/* The boot unlock init calls (libos/cfs_mount.c): 0 or -errno. */
int exo_cryptofs_mount(const char *data, size_t len);
/* The channel v's volume is served on, or NULL (v is not on CryptoFS). */
struct chan *cfs_vfs_channel(struct vnode *v);
/* sync(2): commits the volume (through its server from another process). */
LO_CALL(sys_sync);
/* Commits the volume before the program's env ends (libos_exit). */
void cfs_mount_at_exit(void);
/* execve's point of no return: commits the volume and hands it to the
 * next image (libos/cfs_mount.c). */
void cfs_mount_at_exec(void);
/* Whether execve keeps slot: the frame cfs_mount_at_exec left the next
 * image. */
int cfs_mount_keeps_slot(uint64_t slot);

#endif
