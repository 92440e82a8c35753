/* User memory access with fault recovery; see uaccess.h. */
#include "kernel/uaccess.h"
#include "kernel/trap.h"
#include "include/exo/abi.h"

uint8_t smap_enabled;

int uaccess_copy(void *dst, const void *src, size_t len);
extern char uaccess_copy_insn[], uaccess_copy_fixup[];

int user_range_ok(uint64_t addr, size_t len)
{
	return addr < EXO_USER_TOP && len <= EXO_USER_TOP - addr;
}

int copy_from_user(void *dst, uint64_t user_src, size_t len)
{
	if (!user_range_ok(user_src, len))
		return -EXO_EFAULT;
	return len ? uaccess_copy(dst, (const void *)user_src, len) : 0;
}

int copy_to_user(uint64_t user_dst, const void *src, size_t len)
{
	if (!user_range_ok(user_dst, len))
		return -EXO_EFAULT;
	return len ? uaccess_copy((void *)user_dst, src, len) : 0;
}

int uaccess_fixup(struct trapframe *tf)
{
	if (tf->vector != T_PAGE || tf->rip != (uint64_t)uaccess_copy_insn)
		return 0;
	tf->rip = (uint64_t)uaccess_copy_fixup;
	return 1;
}
