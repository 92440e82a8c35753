# CryptoFS: the portable core (fs/*.c), the host tool (fs/tool/), its tests
# (tests/fs/) and fuzzers.  See docs/CRYPTOFS.md.
FS_CORE_SRCS := fs/env.c fs/seal.c fs/cache.c fs/space.c fs/object.c fs/inode.c fs/dir.c fs/super.c fs/ops.c fs/fsck.c
PORTABLE_SRCS += $(FS_CORE_SRCS)

FS_TEST_SUPPORT := tests/fs/ramdev.c tests/fs/model.c fs/tool/workers.c
FS_TESTS := test_fs_unit test_fs_model test_fs_powerloss test_fs_tamper test_fs_harden

define fs_test_rule
$(BUILD)/tests/$(1): $(call host_objs,tests/fs/$(1).c $(FS_TEST_SUPPORT) $(FS_CORE_SRCS) $(CRYPTO_SRCS))
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(HOST_CC) -o $$@ $$^ $$(HOST_LDLIBS) $$(SODIUM_LIBS)
TEST_DEPS += $(BUILD)/tests/$(1)
endef
$(foreach t,$(FS_TESTS),$(eval $(call fs_test_rule,$(t))))

# Host tool: build/host/cryptofs (tools/cryptofs runs it).
FS_TOOL_SRCS := fs/tool/cryptofs.c fs/tool/fuse.c fs/tool/workers.c fs/tool/rollback.c
FUSE_CFLAGS := $(shell pkg-config --cflags fuse3 2>/dev/null)
FUSE_LIBS := $(shell pkg-config --libs fuse3 2>/dev/null || echo -lfuse3)
$(call host_objs,fs/tool/fuse.c): HOST_CFLAGS += $(FUSE_CFLAGS)
$(call bench_objs,fs/tool/fuse.c): BENCH_CFLAGS += $(FUSE_CFLAGS)

$(BUILD)/host/cryptofs: $(call host_objs,$(FS_TOOL_SRCS) $(FS_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS) $(FUSE_LIBS)
TOOLS += $(BUILD)/host/cryptofs
TEST_DEPS += $(BUILD)/host/cryptofs

# libFuzzer target over mutated images (short run in tests/suites/31-*, long
# run in `make fuzz`).
$(BUILD)/fuzz/fuzz_cryptofs: $(call fuzz_objs,tests/fs/fuzz_fs_image.c tests/fs/ramdev.c $(FS_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^ $(SODIUM_LIBS)
TEST_DEPS += $(BUILD)/fuzz/fuzz_cryptofs
FUZZ_DEPS += $(BUILD)/fuzz/fuzz_cryptofs
# (each command must be one word: the Makefile splits the list on spaces)
FUZZ_CMDS += tests/fs/fuzz_long.sh

# Benchmarks: the core against a pass-through of the same RAM device, and
# the FUSE mount against gocryptfs on the same tmpfs (see docs/PERFORMANCE.md).
$(BUILD)/bench/bench_fs: $(call bench_objs,tests/fs/bench_fs.c tests/fs/ramdev.c fs/tool/workers.c $(FS_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(SODIUM_LIBS)
$(BUILD)/bench/cryptofs: $(call bench_objs,$(FS_TOOL_SRCS) $(FS_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(SODIUM_LIBS) $(FUSE_LIBS)
BENCH_DEPS += $(BUILD)/bench/bench_fs $(BUILD)/bench/cryptofs
BENCH_CMDS += $(BUILD)/bench/bench_fs
BENCH_CMDS += tests/fs/bench_fuse.sh
# CryptoFS in the guest against a Linux guest's ext4 and ext4+fscrypt
BENCH_CMDS += tools/bench-disk
