# libos.a: the library OS linked into every program by tools/exo-cc, built
# with Debian's musl-gcc.  Handlers use no SSE registers (a reflected call
# must leave the caller's vector registers alone) and no stack protector
# (they run before musl sets up TLS).
LIBOS_CC     ?= musl-gcc
LIBOS_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -I. -fno-pic -fno-pie \
                -fno-stack-protector -mgeneral-regs-only -fno-omit-frame-pointer \
                -fno-builtin -MMD -MP
LIBOS_A      := $(BUILD)/libos/libos.a
LIBOS_OBJS   := $(patsubst %.c,$(BUILD)/libos/%.o,$(filter-out libos/vdso.c,$(wildcard libos/*.c))) \
                $(BUILD)/libos/libos/entry.o $(BUILD)/libos/libos/uaccess.o \
                $(BUILD)/libos/libos/vdso_blob.o
MUSL_SYSCALLS ?= /usr/include/x86_64-linux-musl/bits/syscall.h

$(BUILD)/libos/syscall_names.h: $(MUSL_SYSCALLS)
	$(Q)mkdir -p $(@D)
	$(Q){ echo "/* generated from musl's bits/syscall.h by libos/libos.mk */"; \
	  echo "static const char *const syscall_names[] = {"; \
	  sed -n 's/^#define __NR_\([a-z0-9_]*\)[ \t]\+\([0-9]\+\)$$/\t[\2] = "\1",/p' $<; \
	  echo "};"; } > $@
$(BUILD)/libos/libos/dispatch.o: $(BUILD)/libos/syscall_names.h
$(BUILD)/libos/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  LIBOS   $<"
	$(Q)$(LIBOS_CC) $(LIBOS_CFLAGS) -c -o $@ $<
$(BUILD)/libos/%.o: %.S
	$(Q)mkdir -p $(@D)
	$(Q)$(LIBOS_CC) $(LIBOS_CFLAGS) -DVDSO_FILE='"$(BUILD)/libos/vdso.so"' -c -o $@ $<

# The vDSO: a position-independent shared object with a SysV hash table and
# LINUX_2.6 symbol versions, which is what musl's lookup expects; -N keeps
# file offsets equal to addresses, as musl computes its base from them.
$(BUILD)/libos/vdso.so: libos/vdso.c libos/vdso.lds include/exo/abi.h
	$(Q)mkdir -p $(@D)
	$(Q)$(LIBOS_CC) -std=c11 -O2 -Wall -Wextra -Werror -I. -fPIC -shared -nostdlib \
	  -fno-stack-protector -mgeneral-regs-only -Wl,-soname,linux-vdso.so.1 \
	  -Wl,--hash-style=sysv -Wl,--version-script=libos/vdso.lds \
	  -Wl,-N -Wl,-z,norelro -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments -o $@ $<
$(BUILD)/libos/libos/vdso_blob.o: $(BUILD)/libos/vdso.so
$(LIBOS_A): $(LIBOS_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
libos: $(LIBOS_A)
.PHONY: libos
TOOLS += $(LIBOS_A)
include net/lwip/lwip.mk
