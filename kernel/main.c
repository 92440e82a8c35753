/*
 * kmain: from the boot code to a running kernel.  The order matters: traps
 * first (so anything after is reported), then memory, the kernel's own page
 * tables and the screen, then the banner, then devices and time.
 */
#include "kernel/acpi.h"
#include "kernel/apic.h"
#include "kernel/bootinfo.h"
#include "kernel/boottime.h"
#include "kernel/cmdline.h"
#include "kernel/console.h"
#include "kernel/cpu.h"
#include "kernel/percpu.h"
#include "kernel/smp.h"
#include "kernel/random.h"
#include "kernel/selftest.h"
#include "kernel/string.h"
#include "kernel/time.h"
#include "kernel/trap.h"
#include "kernel/vm.h"
#include "kernel/env.h"
#include "drivers/pci.h"
#include "drivers/screen.h"
#include "drivers/serial.h"

#define MB2_BOOT_MAGIC 0x36d76289

extern uint8_t smap_enabled;
static struct boot_info bi;
static struct kernel_options opts;

void syscall_init(void);
void loader_set_onexit(int poweroff);
void loader_load_image(const struct boot_info *bi);
void loader_start_first(const struct boot_info *bi);

struct boot_mark { const char *what; uint64_t tsc; };
static struct boot_mark marks[16];
static int nmarks;

void boot_mark(const char *what)
{
	if (nmarks < (int)(sizeof marks / sizeof marks[0]))
		marks[nmarks++] = (struct boot_mark){ what, rdtsc() };
}

void boot_marks_print(void)
{
	if (log_level < LOG_DEBUG)
		return;
	for (int i = 1; i < nmarks; i++)
		kprintf("boot: %-10s at tsc %lu, %lu ticks after '%s'\n", marks[i].what,
			marks[i].tsc, marks[i].tsc - marks[i - 1].tsc, marks[i - 1].what);
}

static const char *yes(int v) { return v ? "yes" : "no"; }

/* GRUB passes the kernel's path as the first word on some versions. */
static const char *skip_image_path(const char *cmdline)
{
	if (cmdline && cmdline[0] == '/') {
		while (*cmdline && *cmdline != ' ')
			cmdline++;
	}
	return cmdline;
}

/* Prints the raw boot information in hex, for capturing test fixtures. */
static void dump_bootinfo(const uint8_t *info, uint32_t size)
{
	for (uint32_t off = 0; off < size; off += 32) {
		kprintf("mbinfo %05x:", off);
		for (uint32_t i = off; i < off + 32 && i < size; i++)
			kprintf("%02x", info[i]);
		kprintf("\n");
	}
	kprintf("mbinfo end\n");
}

static void print_banner(uint64_t usable)
{
	kprintf("ExoSwarm %s (%s) %lu MiB usable\n", EXO_VERSION, bi.efi ? "UEFI" : "BIOS",
		usable >> 20);
	kprintf("cpu: %s (%s)\n", cpu.model, cpu.vendor);
	kprintf("security: NX %s, SMEP %s, SMAP %s, UMIP %s, RDRAND %s, RDSEED %s, FSGSBASE %s\n",
		yes(cpu.nx), yes(cpu.smep), yes(cpu.smap), yes(cpu.umip), yes(cpu.rdrand),
		yes(cpu.rdseed), yes(cpu.fsgsbase));
}

void kmain(uint32_t magic, uint64_t info_phys)
{
	char warnings[512];

	/* this CPU's struct percpu, through the GS base, before anything */
	boot_mark("kmain");
	percpus[0].self = &percpus[0];
	percpus[0].online = 1;
	wrmsr(MSR_GS_BASE, (uint64_t)&percpus[0]);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
	serial_init();
	if (magic != MB2_BOOT_MAGIC)
		panic("not started by a Multiboot2 loader (magic %#x)", magic);
	cpu_detect();
	if (cpu.rdtscp)
		wrmsr(MSR_TSC_AUX, 0);
	gdt_init();
	idt_init();

	if (info_phys + 8 > (4ull << 30))
		panic("boot information at %#lx is above 4 GiB", info_phys);
	const uint8_t *info = phys_to_virt(info_phys);
	if (bootinfo_parse(&bi, info, 1u << 20) != 0)
		panic("the Multiboot2 boot information is malformed");
	int nwarn = cmdline_parse(&opts, skip_image_path(bi.cmdline), warnings, sizeof warnings);
	console_select(opts.console_serial, 0);
	log_level = opts.loglevel;
	if (opts.test[0])
		selftest_mode = opts.test;

	uint64_t usable = mm_init(&bi, info_phys);
	boot_mark("frames");
	vm_init(&bi);
	boot_mark("pagetables");
	cpu_enable_protections();
	smap_enabled = cpu.smap != 0;
	if (bi.fb.type != FB_NONE) {
		uint64_t fb_bytes = (uint64_t)bi.fb.pitch * bi.fb.height;
		screen_init(&bi.fb, vm_map_mmio(bi.fb.addr, fb_bytes));
	} else if (!bi.efi) {
		struct boot_framebuffer vga = { .type = FB_TEXT, .addr = 0xb8000,
						.pitch = 160, .width = 80, .height = 25 };
		screen_init(&vga, phys_to_virt(vga.addr));
	}
	console_select(opts.console_serial, opts.console_screen);

	print_banner(usable);
	klog(LOG_INFO, "boot: %s, command line '%s', screen %s\n",
	     bi.loader ? bi.loader : "unknown loader", bi.cmdline ? bi.cmdline : "",
	     screen_kind());
	if (nwarn)
		kprintf("%s", warnings);
	klog(LOG_INFO, "mm: %lu frames free in %lu MiB of address space, %d module(s)\n",
	     kframes.nfree, (kframes.nframes * PAGE_SIZE) >> 20, bi.nmodules);
	if (opts.mbdump)
		dump_bootinfo(info, bi.total_size);

	boot_mark("banner");
	int err = acpi_init(&bi);
	if (err)
		klog(LOG_WARN, "acpi: no usable MADT (%d); using legacy interrupt routing\n", err);
	else
		klog(LOG_INFO, "acpi: revision %d, oem '%s', %d cpu(s), %d ioapic(s)%s\n",
		     acpi.revision, acpi.oem, acpi.ncpus, acpi.nioapics,
		     acpi.hpet_addr ? ", hpet" : "");
	apic_init();
	smp_send_init();	/* their 10 ms INIT wait overlaps the rest of boot */
	boot_mark("acpi+apic");
	/* the calibration window runs beside work that needs no clock */
	time_calibration_start();
	pci_enumerate();
	boot_mark("pci");
	if (bi.nmodules && !selftest_mode)
		loader_load_image(&bi);
	boot_mark("image");
	time_init();
	boot_mark("clock");
	irq_enable();
	klog(LOG_INFO, "random: seeded from %s\n", random_init());

	syscall_init();
	sched_init();
	if (apic_mode)
		percpus[0].apic_id = lapic_read(LAPIC_ID) >> 24;
	boot_mark("random+sched");
	int cpus = smp_start_aps();
	klog(LOG_INFO, "smp: %d cpu(s) starting, timer %s\n", cpus, timer_mode_name());
	if (selftest_mode)
		selftest_run(selftest_mode);
	if (bi.nmodules == 0) {
		kprintf("ExoSwarm is up; no program was given (GRUB module), idling.\n");
		for (;;)
			cpu_idle();
	}
	irq_disable();
	bkl_lock();
	console_input_init();
	loader_set_onexit(opts.onexit_poweroff);
	loader_start_first(&bi);
	boot_mark("loader");
	boot_marks_print();
	sched_run_first();
}
