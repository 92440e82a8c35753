/*
 * The ExoSwarm kernel ABI: native system-call numbers, capability types and
 * rights, error codes, and every structure that crosses the user/kernel
 * boundary.  docs/ABI.md documents each call.  Shared by the kernel and the
 * library OS; nothing here depends on either.
 *
 * Register convention (native calls): `syscall` with the call number in rax
 * and arguments in rdi, rsi, rdx, r10, r8, r9; the result comes back in rax
 * (>= 0 success, a negative EXO_E* value on failure).  rcx and r11 are
 * clobbered, every other register is preserved.
 *
 * Any other number in rax is a Linux system call: the kernel reflects it to
 * the calling thread's personality entry (EXO_SYS_SET_PERSONALITY(entry,
 * slot)).  It writes the address after the caller's `syscall` and the
 * caller's rflags into the thread's reflection slot (struct exo_reflect, in
 * user memory) and returns to user mode at the entry with every register as
 * the caller left it except rcx and r11, which `syscall` clobbers anyway.
 * The entry serves the call and jumps back to slot->rip in user mode: one
 * kernel round trip.  With no entry registered the call fails with
 * -EXO_ENOSYS.
 */
#ifndef EXO_ABI_H
#define EXO_ABI_H

#include <stdint.h>

/* ---------------------------------------------------------------- numbers */
#define EXO_SYS_BASE 0x4578			/* 'Ex': far above Linux's numbers */
enum exo_sysno {
	EXO_SYS_NULL = EXO_SYS_BASE,	/* does nothing; for measuring */
	EXO_SYS_CAP_INSPECT,		/* (slot, struct exo_cap_info *) */
	EXO_SYS_CAP_DERIVE,		/* (slot, rights, first, count) -> slot */
	EXO_SYS_CAP_GRANT,		/* (slot, env slot, rights, dest slot + 1 or 0) -> slot there */
	EXO_SYS_CAP_REVOKE,		/* (slot): delete every cap derived from it */
	EXO_SYS_CAP_DELETE,		/* (slot): free the slot; derived caps live on */
	EXO_SYS_MEM_ALLOC,		/* (memory slot, pages) -> frame slot */
	EXO_SYS_PAGE_MAP,		/* (env slot, va, frame slot, index, perms, pages or 0 for 1) */
	EXO_SYS_PAGE_UNMAP,		/* (env slot, va, pages or 0 for 1) */
	EXO_SYS_PAGE_PROTECT,		/* (env slot, va, perms, pages or 0 for 1) */
	EXO_SYS_ENV_CREATE,		/* (memory slot, quota pages) -> env slot */
	EXO_SYS_ENV_KILL,		/* (env slot, status) */
	EXO_SYS_ENV_STATUS,		/* (env slot) -> status, or -EXO_EAGAIN while alive */
	EXO_SYS_ENV_WATCH,		/* (env slot, notification slot, badge) */
	EXO_SYS_THREAD_CREATE,		/* (env slot) -> thread slot */
	EXO_SYS_THREAD_SET_REGS,	/* (thread slot, const struct exo_regs *) */
	EXO_SYS_THREAD_START,		/* (thread slot) */
	EXO_SYS_EXIT,			/* (status): end the calling env */
	EXO_SYS_YIELD,			/* () */
	EXO_SYS_YIELD_TO,		/* (thread slot) */
	EXO_SYS_NOTIFY_CREATE,		/* () -> notification slot */
	EXO_SYS_NOTIFY_SIGNAL,		/* (slot, bits) */
	EXO_SYS_NOTIFY_WAIT,		/* (slot, timeout ns or EXO_FOREVER) -> bits */
	EXO_SYS_NOTIFY_POLL,		/* (slot) -> bits, 0 when none */
	EXO_SYS_IRQ_BIND,		/* (irq slot, notification slot, badge) */
	EXO_SYS_IRQ_ACK,		/* (irq slot) */
	EXO_SYS_IOPORT_ENABLE,		/* (ioport slot): let this env use those ports */
	EXO_SYS_SET_FAULT_HANDLER,	/* (entry, exception stack top, its size) */
	EXO_SYS_SET_PERSONALITY,	/* (entry, struct exo_reflect *): where Linux calls go */
	EXO_SYS_SET_FSBASE,		/* (address) */
	EXO_SYS_RANDOM,			/* (buffer, length <= 4096) */
	EXO_SYS_CONSOLE_WRITE,		/* (console slot, buffer, length): kernel console */
	EXO_SYS_CLOCK_SET,		/* (clock slot, ns since 1970): set CLOCK_REALTIME */
	EXO_SYS_NIC_INFO,		/* (nic slot, struct exo_nic_info *) */
	EXO_SYS_NIC_POST,		/* (nic slot, const struct exo_nic_buf *, n): one doorbell */
	EXO_SYS_BLK_INFO,		/* (block slot, struct exo_blk_info *) */
	EXO_SYS_BLK_SUBMIT,		/* (block slot, const struct exo_blk_req *, n): one doorbell */
	EXO_SYS_RING_BIND,		/* (nic or block slot, notification slot, badge) */
	EXO_SYS_RING_REAP,		/* (nic or block slot, struct exo_ring_done *, max) -> n */
	EXO_SYS_THREAD_SET_AFFINITY,	/* (thread slot, mask of CPUs it may run on) */
	EXO_SYS_FUTEX_WAIT,		/* (va, expected u32, timeout ns or EXO_FOREVER) */
	EXO_SYS_FUTEX_WAKE,		/* (va, n) -> threads woken */
	EXO_SYS_CONSOLE_READ,		/* (console slot, buffer, length): typed bytes, 0 when none */
	EXO_SYS_CONSOLE_BIND,		/* (console slot, notification slot, badge): wake on input */
	EXO_SYS_MEM_ALLOC_COPY,		/* (memory slot, pages, const struct exo_mem_copy *, n) -> frame slot */
	EXO_SYS_THREAD_END,		/* (thread slot): end another thread of the caller's own env */
	EXO_SYS_CAP_LIST,		/* (uint64_t used[CAP_SLOTS / 64]) -> slots in use */
	EXO_SYS_CAP_DELETE_LIST,	/* (const uint64_t *slots, n): CAP_DELETE of each */
	EXO_SYS_CAP_GRANT_RANGE,	/* (first slot, env slot, rights, dest slot + 1, n): CAP_GRANT of each */
	EXO_SYS_END
};
#define EXO_IS_NATIVE(n) ((n) >= EXO_SYS_BASE && (n) < EXO_SYS_END)
#define EXO_FOREVER UINT64_MAX
#define EXO_CAP_SLOTS 512		/* slots of every env's table (CAP_LIST's bitmap) */

/* ------------------------------------------------------------ error codes
 * The Linux errno values, negated on return, so the library OS passes them
 * through unchanged. */
enum exo_errno {
	EXO_EPERM = 1, EXO_ENOENT = 2, EXO_ESRCH = 3, EXO_EINTR = 4, EXO_EIO = 5,
	EXO_E2BIG = 7, EXO_ENOEXEC = 8, EXO_EBADF = 9, EXO_EAGAIN = 11,
	EXO_ENOMEM = 12, EXO_EACCES = 13, EXO_EFAULT = 14, EXO_EBUSY = 16,
	EXO_EEXIST = 17, EXO_EINVAL = 22, EXO_ENOSPC = 28, EXO_ERANGE = 34,
	EXO_ENOSYS = 38, EXO_ETIMEDOUT = 110,
};

/* ------------------------------------------------------------ capabilities */
/* CAP_DERIVE of a MEMORY cap with first = EXO_MEM_DRAW (and count 0) makes
 * a cap that holds no pages of its own and draws on its parent's budget
 * when it allocates; its `first` stays EXO_MEM_DRAW (docs/ABI.md). */
#define EXO_MEM_DRAW 1
enum exo_cap_type {
	EXO_CAP_NONE = 0,
	EXO_CAP_MEMORY,		/* the right to allocate frames: a page budget */
	EXO_CAP_FRAME,		/* a range of physical frames */
	EXO_CAP_ENV,		/* an environment (address space + cap table) */
	EXO_CAP_THREAD,
	EXO_CAP_NOTIFY,		/* a notification word */
	EXO_CAP_IRQ,		/* an interrupt line */
	EXO_CAP_IOPORT,		/* a range of I/O ports */
	EXO_CAP_PCI,		/* a PCI function (bus, device, function); names it only */
	EXO_CAP_CONSOLE,	/* the kernel console: WRITE to print, READ to take input */
	EXO_CAP_CLOCK,		/* the right to set the machine's CLOCK_REALTIME */
	EXO_CAP_NIC,		/* a NIC's rings, with a receive filter (first) */
	EXO_CAP_BLOCK,		/* a disk's rings over sectors [first, first + count) */
	EXO_CAP_TYPES
};

/* Rights; a derived or granted cap has at most its parent's rights. */
#define EXO_R_READ    (1u << 0)	/* frames: map readable; notify: wait/poll */
#define EXO_R_WRITE   (1u << 1)	/* frames: map writable; notify: signal */
#define EXO_R_EXEC    (1u << 2)	/* frames: map executable */
#define EXO_R_MAP     (1u << 3)	/* env: map/unmap/protect pages in it */
#define EXO_R_CONTROL (1u << 4)	/* env/thread: create threads, set regs, start, kill */
#define EXO_R_GRANT   (1u << 5)	/* may be granted to another env */
#define EXO_R_DERIVE  (1u << 6)	/* may be derived (copied with fewer rights) */
#define EXO_R_ALL     0x7fu

/* Page permissions for EXO_SYS_PAGE_MAP/PROTECT (never write and execute). */
#define EXO_PROT_READ  1u
#define EXO_PROT_WRITE 2u
#define EXO_PROT_EXEC  4u
/* PAGE_MAP only: the frame slot is in the target env's table, not the
 * caller's (the caller needs MAP on the target). */
#define EXO_MAP_TARGET_CAP 8u

/* One piece of EXO_SYS_MEM_ALLOC_COPY: length bytes of the FRAME cap in
 * slot (READ), from offset bytes into its range, to dest bytes into the
 * new frames.  Pieces come in order of dest and do not overlap; every byte
 * of the new frames no piece fills is zeroed. */
struct exo_mem_copy {
	uint64_t slot;
	uint64_t offset;
	uint64_t length;	/* 1 or more */
	uint64_t dest;
};
_Static_assert(sizeof(struct exo_mem_copy) == 32, "exo_mem_copy");
#define EXO_MEM_COPY_MAX 1024u	/* pieces one MEM_ALLOC_COPY may name */

struct exo_cap_info {
	uint32_t type;		/* enum exo_cap_type */
	uint32_t rights;
	uint64_t first;		/* frames: first physical frame number; ports: first port;
				   irq: line; pci: bus << 8 | dev << 3 | fn; memory: 0 */
	uint64_t count;		/* frames/ports: how many; memory: pages left */
	uint64_t object;	/* env/thread: id; frames: 1 when shared (docs/ABI.md); otherwise 0 */
};
_Static_assert(sizeof(struct exo_cap_info) == 32, "exo_cap_info");

/* ------------------------------------------------------------- threads */
struct exo_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, fsbase;
};
_Static_assert(sizeof(struct exo_regs) == 19 * 8, "exo_regs");

/*
 * A user-level fault: the kernel pushes this on the env's exception stack
 * (or below the current frame when the handler itself faults) and enters the
 * handler with rdi pointing at it.  The handler resumes the faulting code by
 * loading regs (it needs no kernel call).  SET_FAULT_HANDLER's size (0: the
 * default) says how far below the top the stack reaches: a fault with rsp in
 * there is the handler's own.
 */
#define EXO_FAULT_STACK_DEFAULT (64 * 1024)
#define EXO_FAULT_STACK_MAX (1ull << 30)
struct exo_fault {
	uint64_t addr;		/* cr2 for page faults */
	uint64_t error;		/* the CPU's error code */
	uint64_t vector;	/* 14 page fault, 13 general protection, 0 divide, 6 invalid opcode... */
	uint64_t reserved;
	struct exo_regs regs;
};
_Static_assert(sizeof(struct exo_fault) == 4 * 8 + sizeof(struct exo_regs), "exo_fault");

/* Where the kernel leaves a reflected call's return address and flags. */
struct exo_reflect {
	uint64_t rip;
	uint64_t rflags;
};
_Static_assert(sizeof(struct exo_reflect) == 16, "exo_reflect");

/* Env exit status: a Linux wait status, so the library OS hands it on. */
#define EXO_STATUS_EXITED(code) (((code) & 0xff) << 8)
#define EXO_STATUS_SIGNALED(sig) ((sig) & 0x7f)

/* ------------------------------------------------ fixed user addresses */
#define EXO_USER_TOP     0x0000800000000000ull	/* first non-user address */
/* No page is mapped at or above this: a `syscall` at the very end of the
 * user range would return to a non-canonical address. */
#define EXO_PAGE_RANGE_MAX 16384ull	/* pages one PAGE_MAP, PAGE_UNMAP or PAGE_PROTECT may name */
#define EXO_USER_MAP_END 0x00007ffffffff000ull
#define EXO_KINFO_VA     0x00007fff00000000ull	/* struct exo_kinfo, read-only */
#define EXO_START_VA     0x00007fff00001000ull	/* struct exo_start, read-only */
#define EXO_STACK_TOP    0x00007ffeffff0000ull	/* first program's stack top */
#define EXO_STACK_PAGES  32

/* Kernel facts every env can read without a call. */
struct exo_kinfo {
	uint64_t magic;			/* EXO_KINFO_MAGIC */
	uint64_t tsc_hz;
	uint64_t tsc_base;		/* TSC at boot time 0 */
	uint64_t tsc_mult;		/* ns = (tsc - tsc_base) * tsc_mult >> 32 */
	uint64_t realtime_base_ns;	/* CLOCK_REALTIME at tsc_base, from the CMOS clock
					   and CLOCK_SET (0: unknown) */
	uint64_t page_size;
	char version[16];
	uint64_t clock_seq;		/* odd while the kernel changes tsc_hz, tsc_base
					   and tsc_mult (read them again then, and
					   until clock_seq reads the same before and
					   after): the boot's quick calibration is
					   refined 5 ms and 100 ms later */
	uint32_t cpus_listed;		/* CPUs the firmware lists (the MADT) */
	uint32_t cpus_running;		/* of them, those that started; a CPU
					   that has not within 1 s is reported */
};
#define EXO_KINFO_MAGIC 0x6f666e696f787845ull	/* "Exoinfo" */
_Static_assert(sizeof(struct exo_kinfo) == 80, "struct exo_kinfo is ABI");

/* Slots the first program finds filled in. */
enum exo_root_slot {
	EXO_SLOT_SELF_ENV = 0,		/* the env itself, all rights */
	EXO_SLOT_SELF_THREAD = 1,
	EXO_SLOT_MEMORY = 2,		/* all free memory */
	EXO_SLOT_CONSOLE = 3,		/* the kernel console (EXO_SYS_CONSOLE_WRITE, _READ) */
	EXO_SLOT_IMAGE = 4,		/* frames of the program image */
	EXO_SLOT_STACK = 5,		/* frames of the initial stack */
	EXO_SLOT_CLOCK = 6,		/* CLOCK_REALTIME (EXO_SYS_CLOCK_SET) */
	EXO_SLOT_FIRST_FREE = 8,
};

/* What the kernel tells the first program (at EXO_START_VA; rdi too). */
#define EXO_START_MAX_MODULES 14
struct exo_start_module {
	uint64_t slot;			/* frame cap of the module */
	uint64_t size;			/* bytes */
	char name[48];			/* GRUB's module command line */
};
struct exo_start {
	uint64_t magic;			/* EXO_START_MAGIC */
	uint64_t entry;			/* the program's ELF entry */
	uint64_t phdr, phent, phnum;	/* program headers, as loaded */
	uint64_t stack_top;
	uint64_t image_end;		/* page above the highest loaded segment */
	uint64_t irq_slot_first;	/* IRQ lines 0..irq_count-1 */
	uint64_t irq_count;
	uint64_t pci_slot_first;	/* one slot per PCI function */
	uint64_t pci_count;
	uint64_t ioport_slot_first;	/* one slot per legacy device's ports */
	uint64_t ioport_count;
	uint64_t nic_slot_first;	/* one NIC cap per network device */
	uint64_t nic_count;
	uint64_t blk_slot_first;	/* one block cap per disk */
	uint64_t blk_count;
	uint64_t nmodules;
	char cmdline[256];		/* the kernel command line */
	struct exo_start_module modules[EXO_START_MAX_MODULES];
};
#define EXO_START_MAGIC 0x7472617473787845ull	/* "Exstart" */
_Static_assert(sizeof(struct exo_start) <= 4096, "exo_start fits a page");

/* --------------------------------------------------------- device rings
 * A NIC or block cap names an endpoint of a device's rings: its holder
 * posts buffers (a FRAME cap slot, a byte offset into it and a length) in
 * batches, one doorbell per batch, and reaps completions, which signal a
 * bound notification.  Rights: READ receive (NIC) or read (block), WRITE
 * transmit, or write, flush and discard. */

/* A NIC receive filter, CAP_DERIVE's `first` for a NIC cap (0: a copy on
 * the same endpoint).  A field of 0 matches anything. */
#define EXO_NIC_FILTER(ethertype, ipproto, dport) \
	((uint64_t)(ethertype) | (uint64_t)(ipproto) << 16 | (uint64_t)(dport) << 24)
#define EXO_NIC_FILTER_ETHERTYPE(f) ((uint16_t)(f))
#define EXO_NIC_FILTER_IPPROTO(f) ((uint8_t)((f) >> 16))
#define EXO_NIC_FILTER_DPORT(f) ((uint16_t)((f) >> 24))

#define EXO_NIC_RX 1u		/* a receive buffer (READ) */
#define EXO_NIC_TX 2u		/* a frame to send (WRITE) */
/* Multicast groups (READ): no buffer (frame_slot, offset and length 0),
 * the group's MAC in `cookie` (EXO_NIC_MAC); no completion.  The device's
 * multicast filter then passes the groups its endpoints joined. */
#define EXO_NIC_JOIN 3u
#define EXO_NIC_LEAVE 4u
#define EXO_NIC_MAC(m) ((uint64_t)(m)[0] << 40 | (uint64_t)(m)[1] << 32 | (uint64_t)(m)[2] << 24 | \
			(uint64_t)(m)[3] << 16 | (uint64_t)(m)[4] << 8 | (uint64_t)(m)[5])
#define EXO_NIC_MAX_FRAME 1514u	/* Ethernet header + 1500, no FCS */
#define EXO_RING_BATCH 64u	/* buffers per POST/SUBMIT call */

struct exo_nic_buf {
	uint32_t frame_slot;	/* FRAME cap: READ to send, WRITE to receive into */
	uint32_t op;		/* EXO_NIC_RX, _TX, _JOIN or _LEAVE */
	uint64_t offset;	/* bytes into the frame cap's range */
	uint32_t length;	/* RX: room (>= 60); TX: frame length (14..1514) */
	uint32_t reserved;	/* 0 */
	uint64_t cookie;	/* handed back in the completion; JOIN/LEAVE: the MAC */
};
_Static_assert(sizeof(struct exo_nic_buf) == 32, "exo_nic_buf");

struct exo_nic_info {
	uint8_t mac[6];
	uint16_t link_up;	/* 1: link up */
	uint16_t rx_queue, tx_queue;	/* device queue sizes */
	uint16_t rx_posted_max;	/* receive buffers one endpoint may have posted */
	uint16_t mtu;
	uint64_t filter;	/* this endpoint's filter (EXO_NIC_FILTER) */
	uint64_t rx_dropped;	/* frames for this endpoint with no buffer posted */
	char model[16];		/* "virtio-net", "e1000" */
};
_Static_assert(sizeof(struct exo_nic_info) == 48, "exo_nic_info");

#define EXO_BLK_READ 1u		/* sectors into the buffer (READ) */
#define EXO_BLK_WRITE 2u	/* the buffer to sectors (WRITE) */
#define EXO_BLK_FLUSH 3u	/* everything written so far is durable (WRITE) */
#define EXO_BLK_DISCARD 4u	/* the sectors may be forgotten (WRITE) */

struct exo_blk_req {
	uint32_t frame_slot;	/* FRAME cap: WRITE to read into, READ to write from */
	uint32_t op;		/* EXO_BLK_* */
	uint64_t offset;	/* bytes into the frame cap's range, sector aligned */
	uint32_t length;	/* bytes, a multiple of the sector size (<= 64 KiB) */
	uint32_t reserved;	/* 0 */
	uint64_t sector;	/* relative to the cap's first sector */
	uint64_t cookie;
};
_Static_assert(sizeof(struct exo_blk_req) == 40, "exo_blk_req");

struct exo_blk_info {
	uint64_t sectors;	/* this cap's sectors */
	uint64_t first;		/* its first sector on the disk */
	uint64_t disk_sectors;	/* the whole disk */
	uint32_t sector_size;	/* bytes */
	uint16_t queue;		/* device queue size */
	uint8_t write_cache;	/* 1: writes may sit in a volatile cache */
	uint8_t flush;		/* 1: FLUSH is supported */
	uint8_t discard;	/* 1: DISCARD is supported */
	uint8_t read_only;
	uint8_t reserved[6];
	char model[16];		/* "virtio-blk", "nvme" */
};
_Static_assert(sizeof(struct exo_blk_info) == 56, "exo_blk_info");

/* A finished buffer or request, from EXO_SYS_RING_REAP. */
struct exo_ring_done {
	uint64_t cookie;
	uint32_t length;	/* RX: bytes received; block: bytes moved */
	int32_t status;		/* 0, or a negated EXO_E* value */
	uint32_t op;
	uint32_t flags;		/* EXO_DONE_TRUNCATED */
};
_Static_assert(sizeof(struct exo_ring_done) == 24, "exo_ring_done");
#define EXO_DONE_TRUNCATED 1u	/* RX: the frame was longer than the buffer */

#endif
