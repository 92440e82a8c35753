# user/swarmd/: swarmd, the swarm node over UDP sockets (POSIX only), and
# the operator tools swarm-ctl and swarm-hub (tools/ wrappers), built for
# the host with the sanitizers.  tests/suites/45-swarmd.sh runs a swarm of
# them inside a network namespace.  swarmd is also linked for ExoSwarm
# guests with tools/exo-cc (build/user/swarmd; tests/suites/47-swarmd-guests.sh
# runs it in VMs), and every source is compiled against musl's headers.

SWARMD_COMMON := user/swarmd/keyfile.c user/swarmd/link.c user/swarmd/blackbox.c \
                 user/swarmd/nertlink.c
SWARMD_SRCS   := user/swarmd/swarmd.c $(SWARMD_COMMON)
SWARM_CTL_SRCS := user/swarmd/swarm-ctl.c $(SWARMD_COMMON)
SWARM_HUB_SRCS := user/swarmd/swarm-hub.c user/swarmd/link.c

$(BUILD)/host/swarmd: $(call host_objs,$(SWARMD_SRCS) $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
$(BUILD)/host/swarm-ctl: $(call host_objs,$(SWARM_CTL_SRCS) $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
$(BUILD)/host/swarm-hub: $(call host_objs,$(SWARM_HUB_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS)

SWARMD_TOOLS := $(BUILD)/host/swarmd $(BUILD)/host/swarm-ctl $(BUILD)/host/swarm-hub
TOOLS     += $(SWARMD_TOOLS)
TEST_DEPS += $(SWARMD_TOOLS) $(BUILD)/swarmd-musl.stamp $(BUILD)/user/swarmd

# swarmd for ExoSwarm guests: the same sources, the swarm core and the
# crypto layer built by tools/exo-cc (musl and the library OS) against
# libsodium built for musl, which exo-cc links.
EXO_SWARMD_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O2 -g -Wall -Wextra \
                     -Werror -I. -isystem $(SODIUM_MUSL)/include -MMD -MP
$(BUILD)/exo-swarmd/%.o: %.c tools/exo-cc | $(LIBOS_A) $(SODIUM_MUSL_A)
	$(Q)mkdir -p $(@D)
	$(Q)echo "  EXO-CC  $<"
	$(Q)tools/exo-cc $(EXO_SWARMD_CFLAGS) -c -o $@ $<
$(BUILD)/user/swarmd: $(patsubst %.c,$(BUILD)/exo-swarmd/%.o,$(SWARMD_SRCS) $(NET_CORE_SRCS) $(CRYPTO_SRCS)) \
		$(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -o $@ $(filter %.o,$^)
TOOLS += $(BUILD)/user/swarmd

# Portability check: every swarmd source compiles against musl's headers.
$(BUILD)/swarmd-musl.stamp: $(SWARMD_SRCS) user/swarmd/swarm-ctl.c user/swarmd/swarm-hub.c \
		$(wildcard user/swarmd/*.h) $(BUILD)/portable-musl.stamp
	$(Q)mkdir -p $(BUILD)/swarmd-musl
	$(Q)for f in $(filter %.c,$^); do \
	  musl-gcc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Werror -O2 -I. \
	    -isystem $(MUSL_SODIUM_INC) -c -o $(BUILD)/swarmd-musl/$$(basename $$f .c).o $$f || exit 1; done
	$(Q)touch $@

# The membership comparison of `make bench` (tools/bench-membership):
# bench/memberlist/, our Go program around HashiCorp memberlist, built
# offline by Debian's golang-go against the Debian package's sources in
# GOPATH mode (tools/deps.sh bench installs both).
MEMBERLIST_GOPATH ?= /usr/share/gocode
$(BUILD)/bench/memberlist-node: bench/memberlist/main.go
	$(Q)mkdir -p $(@D)
	$(Q)GOPATH=$(MEMBERLIST_GOPATH) GO111MODULE=off GOPROXY=off GOFLAGS= \
	  GOCACHE=$(abspath $(BUILD))/go-cache go build -o $@ ./bench/memberlist
BENCH_DEPS += $(BUILD)/bench/memberlist-node $(SWARMD_TOOLS)
BENCH_CMDS += tools/bench-membership
