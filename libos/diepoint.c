/*
 * Die points (include/exo/diepoint.h): a test chooses one point of fork
 * or vfork, and the process ends there through the kernel, holding the
 * lock, with SIGKILL's status.  So every point where a kill from outside
 * can land is tested on purpose, not where a racing killer thread happens
 * to (docs/LIBOS.md, "A process that dies holding the lock").  The choice
 * is the process's own: a forked child starts without one.
 */
#include "libos/libos.h"
#include "include/exo/diepoint.h"
#include "include/exo/native.h"

#define EINVAL 22
#define SIGKILL 9

static uint32_t die_at, grow_at;

int64_t die_point_choose(uint64_t point)
{
	if (point > EXO_DIE_LAST)
		return -EINVAL;
	die_at = (uint32_t)point;
	return 0;
}

int64_t grow_point_choose(uint64_t point)
{
	if (point > EXO_DIE_LAST)
		return -EINVAL;
	grow_at = (uint32_t)point;
	return 0;
}

void die_point(uint32_t point)
{
	if (grow_at && grow_at == point) {
		grow_at = 0;
		mm_pool_grow();
	}
	if (!die_at || die_at != point)
		return;
	exo_call(EXO_SYS_ENV_KILL, EXO_SLOT_SELF_ENV, EXO_STATUS_SIGNALED(SIGKILL));
	for (;;)
		exo_call0(EXO_SYS_YIELD);
}

void die_point_after_fork(void)
{
	if (die_at)
		die_at = 0;
	if (grow_at)
		grow_at = 0;
}
