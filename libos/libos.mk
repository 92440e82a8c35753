# libos.a: the library OS linked into every program by tools/exo-cc, built
# with Debian's musl-gcc.  Handlers use no SSE registers (a reflected call
# must leave the caller's vector registers alone) and no stack protector
# (they run before musl sets up TLS).  No frame pointers: nothing walks the
# library OS's frames (debuggers unwind by the -g call frame information),
# and a reflected call passes through a dozen functions.
LIBOS_CC     ?= musl-gcc
LIBOS_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -I. -fno-pic -fno-pie \
                -fno-stack-protector -mgeneral-regs-only -fomit-frame-pointer \
                -fno-builtin -MMD -MP
LIBOS_A      := $(BUILD)/libos/libos.a
LIBOS_OBJS   := $(patsubst %.c,$(BUILD)/libos/%.o,$(filter-out libos/vdso.c,$(wildcard libos/*.c))) \
                $(BUILD)/libos/libos/entry.o $(BUILD)/libos/libos/uaccess.o $(BUILD)/libos/libos/exec_stub.o \
                $(BUILD)/libos/libos/vdso_blob.o
# libsodium for musl (CryptoFS in the libOS needs it): Debian's source
# package, copied out of build/third_party so the shared tree stays clean,
# built by its own autogen.sh and configure, cached under build/.  No stack
# protector: the mount runs before any program code (docs/LIBOS.md).
SODIUM_SRC    ?= $(BUILD)/third_party/libsodium
SODIUM_MUSL   := $(BUILD)/sodium-musl
SODIUM_MUSL_A := $(SODIUM_MUSL)/lib/libsodium.a
$(SODIUM_MUSL_A):
	$(Q)echo "  SODIUM  musl build (about a minute)"
	$(Q)rm -rf $(SODIUM_MUSL) && mkdir -p $(SODIUM_MUSL) && cp -a $(SODIUM_SRC) $(SODIUM_MUSL)/src
	$(Q)cd $(SODIUM_MUSL)/src && DO_NOT_UPDATE_CONFIG_SCRIPTS=1 ./autogen.sh >../autogen.log 2>&1 && \
	  ./configure CC=musl-gcc --host=x86_64-linux-musl --disable-shared --disable-ssp \
	    --prefix=$(abspath $(SODIUM_MUSL)) >../configure.log 2>&1 && \
	  $(MAKE) -s >../make.log 2>&1 && $(MAKE) -s install >>../make.log 2>&1 || \
	  { echo "libsodium musl build failed: see $(SODIUM_MUSL)/*.log" >&2; exit 1; }

# CryptoFS in the libOS: the portable core and the crypto layer, built with
# vector registers allowed (the libOS calls them only between vec_enter and
# vec_leave, libos/vecstate.c) and linked with libsodium built for musl.
LIBOS_FS_SRCS   := $(wildcard fs/*.c) $(CRYPTO_SRCS)
LIBOS_FS_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -I. -isystem $(BUILD)/sodium-musl/include \
                   -fno-pic -fno-pie -fno-stack-protector -MMD -MP
LIBOS_OBJS      += $(patsubst %.c,$(BUILD)/libos/%.o,$(LIBOS_FS_SRCS))
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
$(BUILD)/libos/fs/%.o: fs/%.c | $(SODIUM_MUSL_A)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  LIBOS   $<"
	$(Q)$(LIBOS_CC) $(LIBOS_FS_CFLAGS) -c -o $@ $<
$(BUILD)/libos/crypto/%.o: crypto/%.c | $(SODIUM_MUSL_A)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  LIBOS   $<"
	$(Q)$(LIBOS_CC) $(LIBOS_FS_CFLAGS) -c -o $@ $<
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
$(LIBOS_A): $(LIBOS_OBJS) | $(SODIUM_MUSL_A)
	$(Q)rm -f $@ && ar rcs $@ $(LIBOS_OBJS) $(LWIP_OBJS)
libos: $(LIBOS_A)
.PHONY: libos
TOOLS += $(LIBOS_A)
include net/lwip/lwip.mk


# What saving the program's vector state costs (docs/PERFORMANCE.md).
$(BUILD)/bench/bench_vecstate: $(call bench_objs,tests/libos/bench_vecstate.c $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(SODIUM_LIBS)
BENCH_DEPS += $(BUILD)/bench/bench_vecstate
BENCH_CMDS += $(BUILD)/bench/bench_vecstate

# The personality image for static Linux programs not built with
# tools/exo-cc (libos/foreign.c): tools/exo-run boots it for them, and
# execve runs it from /lib/exo/ld-exo.  Linked at 0x60000000, above where
# such programs and their break live, within the 2 GiB the non-PIC code
# of the library OS and musl may be placed in.
$(BUILD)/user/ld-exo: user/ld-exo/ld-exo.c $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -g -Wl,-Ttext-segment=0x60000000 -o $@ $<
TOOLS += $(BUILD)/user/ld-exo
