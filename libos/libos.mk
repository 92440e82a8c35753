# libos.a: the library OS linked into every program by tools/exo-cc, built
# with Debian's musl-gcc.  Handlers use no SSE registers (a reflected call
# must leave the caller's vector registers alone) and no stack protector
# (they run before musl sets up TLS).
LIBOS_CC     ?= musl-gcc
LIBOS_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -I. -fno-pic -fno-pie \
                -fno-stack-protector -mgeneral-regs-only -fno-omit-frame-pointer \
                -fno-builtin -MMD -MP
LIBOS_A      := $(BUILD)/libos/libos.a
LIBOS_OBJS   := $(patsubst %.c,$(BUILD)/libos/%.o,$(wildcard libos/*.c)) \
                $(BUILD)/libos/libos/entry.o
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
	$(Q)$(LIBOS_CC) $(LIBOS_CFLAGS) -c -o $@ $<
$(LIBOS_A): $(LIBOS_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
libos: $(LIBOS_A)
.PHONY: libos
TOOLS += $(LIBOS_A)
