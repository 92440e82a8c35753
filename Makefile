# ExoSwarm build.  `make` builds the bootable ISO and the host tools,
# `make test` runs every test, `make run` boots the ISO in QEMU.
# Everything generated goes under $(BUILD); `make clean` removes only that.

VERSION := 0.1.0
BUILD   := build
ACCEL   ?= tcg
MEM     ?= 512M
GUI     ?= 0
Q       := @

.DEFAULT_GOAL := all
.SUFFIXES:
.DELETE_ON_ERROR:
.PHONY: all iso run run-uefi debug test test-build bench fuzz fuzz-lx clean deps tools

# ---------------------------------------------------------------- host code
# Portable cores, host tools and host tests.  Tests and tools are built with
# ASan and UBSan; benchmarks without them (bench flags), fuzzers with clang.
HOST_CC      ?= cc
HOST_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
                -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=all -I. -MMD -MP
HOST_LDLIBS  := -fsanitize=address,undefined
SODIUM_LIBS  := -lsodium
BENCH_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O2 -DNDEBUG \
                -I. -MMD -MP
FUZZ_CC      ?= clang
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 \
                -fsanitize=fuzzer-no-link,address,undefined -I. -MMD -MP \
                -DFUZZING
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

host_objs  = $(patsubst %.c,$(BUILD)/host/%.o,$(1))
bench_objs = $(patsubst %.c,$(BUILD)/bench/%.o,$(1))
fuzz_objs  = $(patsubst %.c,$(BUILD)/fuzz/%.o,$(1))

$(BUILD)/host/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC      $<"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -c -o $@ $<
$(BUILD)/bench/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC bench $<"
	$(Q)$(HOST_CC) $(BENCH_CFLAGS) -c -o $@ $<
$(BUILD)/fuzz/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC fuzz $<"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# Fragments add to these:
#   TEST_DEPS    files `make test` builds before it runs tests/suites/*
#   TOOLS        host tools built by `make`
#   BENCH_DEPS   files `make bench` builds; BENCH_CMDS  executables it runs
#   FUZZ_DEPS    fuzz binaries; FUZZ_CMDS  executables for the long fuzz runs
#   PORTABLE_SRCS  portable core files, also compiled with musl-gcc
# BENCH_CMDS and FUZZ_CMDS hold one word per command (a script or program):
# make splits them on spaces.
TEST_DEPS  :=
PORTABLE_SRCS :=
TOOLS      :=
BENCH_DEPS :=
BENCH_CMDS :=
FUZZ_DEPS  :=
FUZZ_CMDS  :=

include crypto/crypto.mk
include kernel/kernel.mk
include libos/libos.mk
-include fs/fs.mk
-include net/net.mk
-include user/swarmd/swarmd.mk
-include user/init/init.mk
-include user/busybox/busybox.mk
-include tools/insncount/insncount.mk
include tests/tests.mk

# ------------------------------------------------------------------ targets
all: iso tools
tools: $(TOOLS)

deps:
	$(Q)tools/deps.sh

# `make test` and `make run` install what they need first, so the README's
# commands work on a fresh machine.
test: deps
	$(Q)$(MAKE) --no-print-directory test-build
	$(Q)BUILD=$(BUILD) ACCEL=$(ACCEL) tests/run $(TESTS)

test-build: iso $(TEST_DEPS)

bench:
	$(Q)tools/deps.sh bench
	$(Q)$(MAKE) --no-print-directory iso libos $(BENCH_DEPS)
	$(Q)failed=""; for c in tools/bench-kernel $(BENCH_CMDS); do $$c || failed="$$failed $$c"; done; \
	  if [ -n "$$failed" ]; then echo "make bench: failed or missed a target:$$failed" >&2; exit 1; fi

fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_DEPS)
	$(Q)set -e; $(foreach c,$(FUZZ_CMDS),$(c);)

# A million random Linux system calls in the guest (tests/fuzz/lxfuzz_long.sh)
fuzz-lx: deps
	$(Q)$(MAKE) --no-print-directory iso $(BUILD)/user/lxfuzz
	$(Q)tests/fuzz/lxfuzz_long.sh

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
