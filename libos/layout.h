/*
 * The library OS's fixed windows in the address space, all in one place so
 * that two of them can never be given the same address again (it happened
 * three times: fork's private block over the NIC's buffers, the page-copy
 * window over CryptoFS's disk pages, the memory tables over them again).
 * Each window owns the 4 GiB slot that starts at its address (MODULE_VA
 * the upper half of CFS_DISK_VA's); the checks below keep them apart.
 * The kernel's own pages (EXO_KINFO_VA, EXO_START_VA, the first
 * program's stack below EXO_STACK_TOP) sit above them.
 */
#ifndef EXO_LIBOS_LAYOUT_H
#define EXO_LIBOS_LAYOUT_H

#define LAYOUT_SLOT 0x100000000ull

#define NIC_BUF_VA      0x00007ff400000000ull	/* net/lwip/nicring.c: NIC buffers */
#define CFS_DISK_VA     0x00007ff500000000ull	/* cfs_mount.c: the disk's DMA pages */
#define CFS_MODULE_VA   0x00007ff580000000ull	/* cfs_mount.c: the cfsmount module */
#define EXEC_WINDOW_VA  0x00007ff600000000ull	/* exec.c: new pages, filled before the switch */
#define EXEC_STUB_VA    0x00007ff700000000ull	/* exec.c: the switching stub */
#define EXEC_RECORD_VA  0x00007ff800000000ull	/* exec.c: what the new image is told */
#define MM_COPY_VA      0x00007ff900000000ull	/* mm.c: fork copies the child's tables here */
#define MM_TABLES_VA    0x00007ffa00000000ull	/* mm.c: the memory tables */
#define INITRAMFS_VA    0x00007ffb00000000ull	/* initramfs.c */
#define FORK_PRIVATE_VA 0x00007ffc00000000ull	/* fork.c: the child's private block */
#define MM_SCRATCH_VA   0x00007ffd00000000ull	/* mm.c: page copies (copy on write) */
#define INIT_ARGS_VA    0x00007ffe00000000ull	/* init.c: arguments and environment */

#define LAYOUT_SLOT_OF(va) ((va) / LAYOUT_SLOT)
_Static_assert(LAYOUT_SLOT_OF(NIC_BUF_VA) + 1 == LAYOUT_SLOT_OF(CFS_DISK_VA) &&
	       LAYOUT_SLOT_OF(CFS_DISK_VA) == LAYOUT_SLOT_OF(CFS_MODULE_VA) &&
	       LAYOUT_SLOT_OF(CFS_DISK_VA) + 1 == LAYOUT_SLOT_OF(EXEC_WINDOW_VA) &&
	       LAYOUT_SLOT_OF(EXEC_WINDOW_VA) + 1 == LAYOUT_SLOT_OF(EXEC_STUB_VA) &&
	       LAYOUT_SLOT_OF(EXEC_STUB_VA) + 1 == LAYOUT_SLOT_OF(EXEC_RECORD_VA) &&
	       LAYOUT_SLOT_OF(EXEC_RECORD_VA) + 1 == LAYOUT_SLOT_OF(MM_COPY_VA) &&
	       LAYOUT_SLOT_OF(MM_COPY_VA) + 1 == LAYOUT_SLOT_OF(MM_TABLES_VA) &&
	       LAYOUT_SLOT_OF(MM_TABLES_VA) + 1 == LAYOUT_SLOT_OF(INITRAMFS_VA) &&
	       LAYOUT_SLOT_OF(INITRAMFS_VA) + 1 == LAYOUT_SLOT_OF(FORK_PRIVATE_VA) &&
	       LAYOUT_SLOT_OF(FORK_PRIVATE_VA) + 1 == LAYOUT_SLOT_OF(MM_SCRATCH_VA) &&
	       LAYOUT_SLOT_OF(MM_SCRATCH_VA) + 1 == LAYOUT_SLOT_OF(INIT_ARGS_VA),
	       "the library OS's windows each own a slot of their own, in this order");
_Static_assert(CFS_MODULE_VA > CFS_DISK_VA, "the module above the disk pages");

#endif
