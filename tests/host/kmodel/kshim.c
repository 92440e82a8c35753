/*
 * The rest of the machine for the kernel model test: console, time,
 * randomness, interrupt controllers, context switching and the loader's
 * kernel pages, reduced to what the capability and memory code calls.
 * User memory is reached as the CPU would: through the current env's page
 * tables, honouring present, user and write bits, so a copy to or from an
 * unmapped or read-only page fails with -EFAULT exactly as it faults there.
 */
#include "tests/host/kmodel/kshim.h"
#include "include/exo/abi.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/env.h"
#include "kernel/percpu.h"
#include "kernel/smp.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/uaccess.h"
#include "kernel/vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t kmodel_cr0, kmodel_cr3, kmodel_cr4, kmodel_msr[4];
struct cpu_info cpu = { .nx = 1 };
uint8_t *kmodel_phys;
struct frames kframes;
int log_level = 0;
volatile uint64_t ticks;
uint64_t tsc_hz = 1000000000;
int apic_mode = 1;
char new_thread_entry[1];
struct percpu percpus[MAX_CPUS];
int ncpus = 1;
static uint64_t kernel_pml4_pa, kinfo_pa, fake_now;

void kprintf(const char *fmt, ...) { (void)fmt; }
void klog(int level, const char *fmt, ...) { (void)level; (void)fmt; }
void console_putc(char c) { (void)c; }
/* No one types into the model; a bound reader is held as the kernel does. */
static struct notify *input_reader;
size_t console_input_read(uint8_t *buf, size_t max) { (void)buf; (void)max; return 0; }
void console_input_bind(struct notify *n, uint64_t badge)
{
	(void)badge;
	if (n)
		n->refs++;
	if (input_reader)
		notify_put(input_reader);
	input_reader = n;
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "kernel panic: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

_Noreturn void halt_forever(void) { abort(); }

uint64_t time_ns(void) { return fake_now += 1000; }
void kmodel_time_advance(uint64_t ns) { fake_now += ns; }
void random_bytes(void *buf, size_t len) { memset(buf, 0x5a, len); }
void irq_route(int irq, int vector) { (void)irq; (void)vector; }
void irq_mask(int irq) { (void)irq; }
void irq_unmask(int irq) { (void)irq; }
void irq_eoi(int irq) { (void)irq; }
void trap_set_handler(int vector, irq_handler h) { (void)vector; (void)h; }
void tss_set_rsp0(uint64_t rsp0) { (void)rsp0; }
void tss_set_iobitmap(int enabled) { (void)enabled; }
uint8_t *tss_iobitmap(void) { return percpus[0].tss_io.bitmap; }
volatile uint32_t bkl;
void bkl_lock_contended(void) { abort(); }	/* one CPU: never contended */
void smp_kick(int id) { (void)id; }
void smp_reload_ioports(struct env *e) { (void)e; }
void smp_flush(struct env *e, uint64_t va) { (void)e; (void)va; }
void smp_flush_range(struct env *e, uint64_t va, uint64_t pages) { (void)e; (void)va; (void)pages; }

void smp_leave(struct env *e)
{
	if (percpus[0].loaded_env == e)
		env_load_address_space(NULL);
}
void syscall_entry(void) { abort(); }
/* The model runs every thread's calls on the host's one stack: a switch
 * only changes which thread is current (kernel_model's kcall switches to
 * the caller with sched_yield_to; a blocking call returns at once, with
 * the thread left blocked). */
void swtch(uint64_t *old_ksp, uint64_t new_ksp) { (void)old_ksp; (void)new_ksp; }
void loader_env_ended(struct env *e) { (void)e; }

uint64_t page_alloc_zeroed(void)
{
	uint64_t pa = frame_alloc(&kframes);
	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

uint64_t vm_kernel_pml4(void) { return kernel_pml4_pa; }

/* Kernel stacks: KSTACK_SIZE of contiguous frames, named by the address
 * just above them in the host buffer. */
uintptr_t kstack_alloc(void)
{
	uint64_t pa = frame_alloc_contig(&kframes, KSTACK_SIZE / PAGE_SIZE, UINT64_MAX);
	return pa ? (uintptr_t)phys_to_virt(pa) + KSTACK_SIZE : 0;
}

void kstack_free(uintptr_t top)
{
	uint64_t pa = virt_to_phys((void *)(top - KSTACK_SIZE));
	for (uint64_t i = 0; i < KSTACK_SIZE / PAGE_SIZE; i++)
		if (frame_free(&kframes, pa + i * PAGE_SIZE))
			panic("kstack_free: frame %#lx was not allocated", (unsigned long)(pa + i * PAGE_SIZE));
}

int loader_map_kinfo(struct env *e)
{
	return env_map(e, EXO_KINFO_VA, kinfo_pa, EXO_PROT_READ, NULL);
}

uint64_t kmodel_kinfo_pa(void) { return kinfo_pa; }

/* The user address va in the current env, as the MMU would translate it
 * for an access (write: needs W); NULL when that access would fault. */
static uint8_t *translate(uint64_t va, int write)
{
	uint64_t pte = env_pte(current->env, va & ~(uint64_t)(PAGE_SIZE - 1));
	if (!(pte & PTE_P) || !(pte & PTE_U) || (write && !(pte & PTE_W)))
		return NULL;
	return (uint8_t *)phys_to_virt(pte & PTE_ADDR) + va % PAGE_SIZE;
}

static int user_copy(uint64_t uva, void *kbuf, size_t len, int to_user)
{
	if (!user_range_ok(uva, len))
		return -EXO_EFAULT;
	while (len) {
		size_t n = PAGE_SIZE - uva % PAGE_SIZE;
		if (n > len)
			n = len;
		uint8_t *p = translate(uva, to_user);
		if (!p)
			return -EXO_EFAULT;
		if (to_user)
			memcpy(p, kbuf, n);
		else
			memcpy(kbuf, p, n);
		uva += n;
		kbuf = (uint8_t *)kbuf + n;
		len -= n;
	}
	return 0;
}

int user_range_ok(uint64_t addr, size_t len)
{
	return addr < EXO_USER_TOP && len <= EXO_USER_TOP - addr;
}

int copy_from_user(void *dst, uint64_t user_src, size_t len)
{
	return user_copy(user_src, dst, len, 0);
}

int copy_to_user(uint64_t user_dst, const void *src, size_t len)
{
	return user_copy(user_dst, (void *)src, len, 1);
}

void kmodel_boot(uint64_t phys_bytes)
{
	struct memmap m;

	memset(&m, 0, sizeof m);
	kmodel_phys = aligned_alloc(PAGE_SIZE, phys_bytes);
	if (!kmodel_phys)
		abort();
	memset(kmodel_phys, 0, phys_bytes);
	m.n = 1;
	m.r[0].start = 1 << 20;		/* like a PC: nothing below 1 MiB */
	m.r[0].end = phys_bytes;
	static uint64_t *bitmap;
	free(bitmap);
	bitmap = malloc(frames_bitmap_bytes(&m));
	frames_init(&kframes, &m, bitmap);
	percpus[0].self = &percpus[0];
	percpus[0].online = 1;
	kernel_pml4_pa = page_alloc_zeroed();
	kinfo_pa = page_alloc_zeroed();
	kmodel_cr3 = kernel_pml4_pa;
}
void time_set_realtime(uint64_t now_ns) { (void)now_ns; }
void timer_arm(uint64_t deadline_ns) { (void)deadline_ns; }
