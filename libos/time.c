/* Time from the TSC, scaled with the kernel info page: no kernel call. */
#include "libos/libos.h"
#include "include/exo/native.h"

uint64_t time_now_ns(void)
{
	return exo_kinfo_now_ns(libos_kinfo);
}

/* Sets CLOCK_REALTIME for the whole machine, through the clock capability
 * the first program holds: 0, or -EPERM without it. */
int64_t time_set_realtime_ns(uint64_t ns)
{
	int64_t r = exo_call(EXO_SYS_CLOCK_SET, EXO_SLOT_CLOCK, ns);
	return r == -EXO_EBADF || r == -EXO_EACCES ? -EXO_EPERM : r;
}
