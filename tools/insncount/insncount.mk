# tools/insncount: the QEMU plugin that counts guest instructions between
# marker instructions (make bench's instruction counts; its test is
# tests/suites/29-insncount.sh).
$(BUILD)/tools/insncount.so: tools/insncount/insncount.c tools/insncount/insnmark.h
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC      $@"
	$(Q)$(HOST_CC) -std=c11 -Wall -Wextra -Werror -O2 -fPIC -shared -fvisibility=hidden -o $@ $<
TOOLS += $(BUILD)/tools/insncount.so
TEST_DEPS += $(BUILD)/tools/insncount.so
BENCH_DEPS += $(BUILD)/tools/insncount.so
$(BUILD)/user/insncount-markloop: tools/insncount/markloop.c tools/insncount/insnmark.h $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)tools/exo-cc -O2 -o $@ $<
TEST_DEPS += $(BUILD)/user/insncount-markloop
# netbench.c carries markers too
$(BUILD)/user/bench-netbench: tools/insncount/insnmark.h
