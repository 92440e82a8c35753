# net/: the swarm protocols as portable sans-I/O C (pheromones, gossip,
# membership, sentinel, replicated state, the swarm node, modules, NERT),
# the deterministic simulator tools/swarm-sim (net/sim/, host only), their
# unit tests (tests/net/) and fuzzers.  The large simulator checks in
# tests/suites/40-swarm.sh use the -O2 build without sanitizers
# ($(BUILD)/bench/swarm-sim); unit tests, property tests and the small
# simulator runs use the sanitized build ($(BUILD)/host/swarm-sim).

NET_CORE_SRCS := net/identity.c net/pheromone.c net/gossip.c net/membership.c net/sentinel.c net/nert.c \
                 net/kvstore.c net/swarm.c net/maze.c
NET_SIM_SRCS  := net/sim/sim_core.c net/sim/sim_swarm.c net/sim/sim_main.c \
                 net/sim/sim_nert.c
PORTABLE_SRCS += $(NET_CORE_SRCS)

$(BUILD)/host/swarm-sim: $(call host_objs,$(NET_SIM_SRCS) $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS) -lm

$(BUILD)/bench/swarm-sim: $(call bench_objs,$(NET_SIM_SRCS) $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(SODIUM_LIBS) -lm

TOOLS     += $(BUILD)/host/swarm-sim
TEST_DEPS += $(BUILD)/host/swarm-sim $(BUILD)/bench/swarm-sim

# Unit and property tests.
NET_TESTS := $(BUILD)/tests/test_net_swarm $(BUILD)/tests/test_net_nert
$(BUILD)/tests/test_net_swarm: $(call host_objs,tests/net/test_swarm.c $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
$(BUILD)/tests/test_net_nert: $(call host_objs,tests/net/test_nert.c $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
TEST_DEPS += $(NET_TESTS)

# libFuzzer targets, one per parser family (short runs in 40-swarm.sh,
# long runs in `make fuzz`).
NET_FUZZERS := $(BUILD)/fuzz/fuzz_swarm $(BUILD)/fuzz/fuzz_nert $(BUILD)/fuzz/fuzz_kvstore
$(BUILD)/fuzz/fuzz_swarm: $(call fuzz_objs,tests/net/fuzz_swarm.c $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)$(FUZZ_CC) -o $@ $^ $(FUZZ_LDFLAGS) $(SODIUM_LIBS)
$(BUILD)/fuzz/fuzz_nert: $(call fuzz_objs,tests/net/fuzz_nert.c $(NET_CORE_SRCS) $(CRYPTO_SRCS))
	$(Q)$(FUZZ_CC) -o $@ $^ $(FUZZ_LDFLAGS) $(SODIUM_LIBS)
$(BUILD)/fuzz/fuzz_kvstore: $(call fuzz_objs,tests/net/fuzz_kvstore.c net/kvstore.c)
	$(Q)$(FUZZ_CC) -o $@ $^ $(FUZZ_LDFLAGS)
TEST_DEPS += $(NET_FUZZERS)
FUZZ_DEPS += $(NET_FUZZERS)
# (one word per command: the top-level Makefile splits the list on spaces)
FUZZ_CMDS += tests/net/fuzz-long.sh

# make bench: simulator figures against flooding and stop-and-wait baselines.
BENCH_DEPS += $(BUILD)/bench/swarm-sim
BENCH_CMDS += net/sim/bench.sh
BENCH_CMDS += net/sim/bench-adversaries.sh
