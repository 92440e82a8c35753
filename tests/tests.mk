# Host unit tests of the shared pieces (crypto API, kernel's portable code).
# Each test program lands in $(BUILD)/tests/ and is run by a suite script in
# tests/suites/.

$(BUILD)/tests/test_crypto: $(call host_objs,tests/host/test_crypto.c $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
TEST_DEPS += $(BUILD)/tests/test_crypto

$(BUILD)/tests/test_aegis: $(call host_objs,tests/host/test_aegis.c $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
TEST_DEPS += $(BUILD)/tests/test_aegis

# The kernel's portable pieces, built for the host with the sanitizers.
KERNEL_PORTABLE := kernel/format.c kernel/bootinfo.c kernel/memmap.c kernel/frame.c \
                   kernel/cmdline.c crypto/chacha20.c
KERNEL_HOST_TESTS := format chacha20 memory
$(foreach t,$(KERNEL_HOST_TESTS),$(eval \
$(BUILD)/tests/test_kernel_$(t): $(call host_objs,tests/host/test_kernel_$(t).c $(KERNEL_PORTABLE)) ; \
	$$(Q)mkdir -p $$(@D) && $$(HOST_CC) -o $$@ $$^ $$(HOST_LDLIBS)))
TEST_DEPS += $(foreach t,$(KERNEL_HOST_TESTS),$(BUILD)/tests/test_kernel_$(t))

# The kernel model test: the kernel's capability, memory and system-call
# code built for the host over stand-ins for the CPU (tests/host/kmodel/
# comes first on the include path), with the sanitizers, and once more
# optimized without them for the long runs.
KMODEL_SRCS := kernel/cap.c kernel/env.c kernel/sched.c kernel/syscall.c kernel/smp.c kernel/heap.c kernel/futex.c \
               kernel/ring.c kernel/nic.c kernel/blk.c \
               kernel/frame.c kernel/memmap.c kernel/bootinfo.c tests/host/kmodel/kshim.c \
               tests/host/test_kernel_model.c
$(BUILD)/kmodel/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC model $<"
	$(Q)$(HOST_CC) -Itests/host/kmodel $(HOST_CFLAGS) -c -o $@ $<
$(BUILD)/kmodel-fast/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC model $<"
	$(Q)$(HOST_CC) -Itests/host/kmodel $(BENCH_CFLAGS) -c -o $@ $<
$(BUILD)/tests/kernel_model: $(patsubst %.c,$(BUILD)/kmodel/%.o,$(KMODEL_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS)
$(BUILD)/tests/kernel_model_fast: $(patsubst %.c,$(BUILD)/kmodel-fast/%.o,$(KMODEL_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^
# The same model on several CPUs at once (host threads), under ThreadSanitizer.
$(BUILD)/kmodel-tsan/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC model $<"
	$(Q)$(HOST_CC) -Itests/host/kmodel -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -O1 -fsanitize=thread -I. -MMD -MP -c -o $@ $<
$(BUILD)/tests/kernel_model_tsan: $(patsubst %.c,$(BUILD)/kmodel-tsan/%.o,$(KMODEL_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -fsanitize=thread -pthread -o $@ $^
TEST_DEPS += $(BUILD)/tests/kernel_model $(BUILD)/tests/kernel_model_fast $(BUILD)/tests/kernel_model_tsan
FUZZ_DEPS += $(BUILD)/tests/kernel_model_fast
FUZZ_CMDS += tests/host/kernel_model_long.sh
-include $(patsubst %.c,$(BUILD)/kmodel/%.d,$(KMODEL_SRCS)) $(patsubst %.c,$(BUILD)/kmodel-fast/%.d,$(KMODEL_SRCS)) \
	 $(patsubst %.c,$(BUILD)/kmodel-tsan/%.d,$(KMODEL_SRCS))

# Images for the QEMU tests: the same kernel and grub.cfg as the release
# image, with test=NAME on the default entry's command line.
QEMU_TESTS := self smp-missing pagefault divide stack clock-stall
TEST_ISOS := $(foreach t,$(QEMU_TESTS),$(BUILD)/test-iso/$(t).iso)
$(BUILD)/test-iso/%.iso: $(KERNEL_ELF) boot/grub.cfg
	$(Q)mkdir -p $(@D)
	$(Q)echo "  ISO     $@"
	$(call make_iso,console=both test=$*)
TEST_DEPS += $(TEST_ISOS)

# libFuzzer target over the boot-information parser; tests/fuzz/corpus-bootinfo
# seeds it with the captured blocks.  A short run is part of `make test`.
$(BUILD)/fuzz/fuzz_bootinfo: $(call fuzz_objs,tests/fuzz/fuzz_bootinfo.c kernel/bootinfo.c kernel/memmap.c kernel/frame.c)
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^
TEST_DEPS += $(BUILD)/fuzz/fuzz_bootinfo
FUZZ_DEPS += $(BUILD)/fuzz/fuzz_bootinfo
FUZZ_CMDS += tests/fuzz/fuzz_bootinfo_long.sh

# The portable cores must also build for the libOS target (musl-gcc), with
# libsodium's headers; each file is compiled on its own.
MUSL_SODIUM_INC := $(BUILD)/musl-include
$(BUILD)/portable-musl.stamp: $(PORTABLE_SRCS) $(wildcard fs/*.h net/*.h crypto/*.h)
	$(Q)mkdir -p $(MUSL_SODIUM_INC) $(BUILD)/portable-musl
	$(Q)ln -sf /usr/include/sodium.h /usr/include/sodium $(MUSL_SODIUM_INC)/
	$(Q)for f in $(PORTABLE_SRCS); do \
	  musl-gcc -std=c11 -Wall -Wextra -Werror -O2 -I. -isystem $(MUSL_SODIUM_INC) \
	    -c -o $(BUILD)/portable-musl/$$(echo $$f | tr / _).o $$f || exit 1; done
	$(Q)touch $@
TEST_DEPS += $(BUILD)/portable-musl.stamp

# Programs for the in-guest tests, built the way users build theirs.
USER_TESTS := hello posix_basic segv nx spin exotest fuzz forktest holes timetest smptest nictest blktest nettest nicshare mcasttest net6test cfstest cfsshare futextest forkloop sockfuzz sockfork lockdead
$(BUILD)/user/hello: user/demos/hello.c $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -g -o $@ $<
$(BUILD)/user/httpd: user/demos/httpd.c $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -g -o $@ $<
TEST_DEPS += $(BUILD)/user/httpd
# the README's first program with files and threads, also built for the host
$(BUILD)/user/wordcount: user/demos/wordcount.c $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -g -o $@ $<
$(BUILD)/host-musl/wordcount: user/demos/wordcount.c
	$(Q)mkdir -p $(@D)
	$(Q)musl-gcc -static -O2 -g -o $@ $<
TEST_DEPS += $(BUILD)/user/wordcount $(BUILD)/host-musl/wordcount
# -fno-jump-tables: functions run in child envs that have only our text
$(BUILD)/user/%: user/tests/%.c user/tests/check.h user/tests/netutil.h user/tests/exo.h include/exo/native.h include/exo/abi.h $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -g -fno-jump-tables -o $@ $<
$(BUILD)/user/flags: user/tests/flags.c user/tests/inc/answer.h $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -g -Iuser/tests/inc -o $@ $< -lm
TEST_DEPS += $(foreach p,$(USER_TESTS) flags,$(BUILD)/user/$(p))

# POSIX file tests (tests/suites/27-posix-files.sh): each built for the
# guest and, with plain musl-gcc, for the host, to compare their output.
POSIX_TESTS := files_io files_dir files_libc files_procs catfile
$(foreach p,$(POSIX_TESTS),$(BUILD)/user/$(p)): user/tests/show.h
$(BUILD)/host-musl/%: user/tests/%.c user/tests/check.h user/tests/show.h
	$(Q)mkdir -p $(@D)
	$(Q)musl-gcc -static -O2 -g -o $@ $<
TEST_DEPS += $(foreach p,$(POSIX_TESTS),$(BUILD)/user/$(p) $(BUILD)/host-musl/$(p))
# threads and signals (tests/suites/28-posix-threads.sh), compared the same way
THREAD_TESTS := threads signals sigtimers pausefair
$(foreach p,$(THREAD_TESTS),$(BUILD)/user/$(p) $(BUILD)/host-musl/$(p)): user/tests/show.h user/tests/sigaction.h
TEST_DEPS += $(foreach p,$(THREAD_TESTS),$(BUILD)/user/$(p) $(BUILD)/host-musl/$(p))
# processes sharing the machine (tests/suites/29-posix-procs.sh), the same way
$(BUILD)/user/procs: user/tests/show.h user/tests/fork_or_die.h
TEST_DEPS += $(BUILD)/user/procs $(BUILD)/host-musl/procs
# the procfs (tests/suites/29-procfs.sh), the same way
TEST_DEPS += $(BUILD)/user/procfs $(BUILD)/host-musl/procfs
# job control (tests/suites/29-posix-jobctl.sh), the same way
$(BUILD)/user/jobctl: user/tests/show.h user/tests/fork_or_die.h
TEST_DEPS += $(BUILD)/user/jobctl $(BUILD)/host-musl/jobctl
# memory and resource limits (tests/suites/29-posix-limits.sh), the same way
$(foreach p,ipc fmap,$(BUILD)/user/$(p) $(BUILD)/host-musl/$(p)): user/tests/child_wait.h
TEST_DEPS += $(foreach p,limits ipc fmap,$(BUILD)/user/$(p) $(BUILD)/host-musl/$(p))
# memory budgets shared by the process tree (tests/suites/29-posix-memory.sh)
TEST_DEPS += $(BUILD)/user/mempolicy

# bad pointers and the in-guest Linux system-call fuzzer
# (tests/suites/26-fuzz-syscalls.sh); efault compared with Linux
$(BUILD)/user/efault $(BUILD)/host-musl/efault: user/tests/show.h
TEST_DEPS += $(BUILD)/user/efault $(BUILD)/host-musl/efault $(BUILD)/user/fuzzfound $(BUILD)/user/lxfuzz $(BUILD)/user/execmsg

# execve's ELF parser (libos/elf.c): host unit test and libFuzzer target
# (tests/suites/16-fuzz-elf.sh runs a short fuzz, `make fuzz` the long one).
$(BUILD)/tests/test_elf: $(call host_objs,tests/host/test_elf.c libos/elf.c)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS)
$(BUILD)/fuzz/fuzz_elf: $(call fuzz_objs,tests/fuzz/fuzz_elf.c libos/elf.c)
	$(Q)$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $^
TEST_DEPS += $(BUILD)/tests/test_elf $(BUILD)/fuzz/fuzz_elf
FUZZ_DEPS += $(BUILD)/fuzz/fuzz_elf
FUZZ_CMDS += tests/fuzz/fuzz_elf_long.sh
# execve, vfork, posix_spawn, system() (tests/suites/29-exec.sh), compared
# the same way; minish is the guest's /bin/sh there.
EXEC_TESTS := exectest minish
TEST_DEPS += $(foreach p,$(EXEC_TESTS),$(BUILD)/user/$(p)) $(BUILD)/host-musl/exectest
# demand-zero bss and stack of an exec'd image (tests/suites/29-exec-demandzero.sh)
TEST_DEPS += $(BUILD)/user/demandzero $(BUILD)/host-musl/demandzero $(BUILD)/user/demandzero_huge
# posix_spawn and vfork on the parent's memory (tests/suites/29-posix-spawn.sh)
TEST_DEPS += $(BUILD)/user/spawntest $(BUILD)/host-musl/spawntest
# execve's shared copy of an executable (tests/suites/29-exec-image.sh)
TEST_DEPS += $(BUILD)/user/execimg $(BUILD)/host-musl/execimg
# Programs not built with tools/exo-cc, for the personality (same suite).
$(BUILD)/foreign/hello-glibc: user/tests/foreign.c
	$(Q)mkdir -p $(@D) && gcc -static -O2 -o $@ $<
$(BUILD)/foreign/hello-pie: user/tests/foreign.c
	$(Q)mkdir -p $(@D) && gcc -static-pie -O2 -o $@ $<
$(BUILD)/foreign/hello-musl: user/tests/foreign.c
	$(Q)mkdir -p $(@D) && musl-gcc -static -O2 -o $@ $<
TEST_DEPS += $(BUILD)/user/ld-exo $(foreach v,glibc pie musl,$(BUILD)/foreign/hello-$(v))

# The bench programs (user/bench/): `make bench` measures them against a
# Linux guest (tools/bench-posix, tools/bench-net); tests/suites/
# 29-bench-smoke.sh checks that posixbench runs and reports.
BENCH_PROGS := posixbench tiny netbench
$(foreach p,$(BENCH_PROGS),$(BUILD)/user/bench-$(p)): $(BUILD)/user/bench-%: user/bench/%.c user/bench/bench.h $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -o $@ $<
TEST_DEPS += $(foreach p,$(BENCH_PROGS),$(BUILD)/user/bench-$(p))
BENCH_CMDS += tools/bench-posix tools/bench-net
# Boot to the shell prompt of build/exoswarm.iso against the Linux guest's
# to its /init (docs/PERFORMANCE.md, "Boot to a shell prompt").
BENCH_CMDS += tools/bench-boot
