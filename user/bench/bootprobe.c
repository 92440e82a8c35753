/*
 * Boot-time probe for `make bench`: hello world whose first instruction
 * reads the TSC.  tools/bench-kernel points the ELF entry at bench_entry,
 * which keeps the TSC and goes on to the normal entry (BENCH_NEXT: the
 * libOS's _exo_start, or musl's _start on Linux) with every register the
 * loader set but rax and r11 as they were.  main prints that TSC (and, on
 * ExoSwarm, the TSC the kernel read when it set up its clock), so the
 * guest's time up to its first program is read inside the guest, with no
 * debugger stopping it.  As a Linux /init it then powers the guest off.
 */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#ifdef BENCH_EXO
#include <exo/native.h>
#else
#include <sys/reboot.h>
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

uint64_t bench_entry_tsc;

__asm__(".text\n"
	".globl bench_entry\n"
	"bench_entry:\n"
	"	mov %rdx, %r11\n"
	"	rdtsc\n"
	"	mov %eax, bench_entry_tsc(%rip)\n"
	"	mov %edx, bench_entry_tsc+4(%rip)\n"
	"	mov %r11, %rdx\n"
	"	jmp " STR(BENCH_NEXT) "\n");

int main(void)
{
	printf("hello world\n");
	printf("bench first-instruction-tsc %llu\n", (unsigned long long)bench_entry_tsc);
#ifdef BENCH_EXO
	const struct exo_kinfo *k = (const struct exo_kinfo *)EXO_KINFO_VA;
	printf("bench kernel-clock-tsc %llu\n", (unsigned long long)k->tsc_base);
#else
	fflush(stdout);
	reboot(RB_POWER_OFF);
#endif
	return 0;
}
