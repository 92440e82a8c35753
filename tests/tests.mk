# Host unit tests of the shared pieces (crypto API, kernel's portable code).
# Each test program lands in $(BUILD)/tests/ and is run by a suite script in
# tests/suites/.

$(BUILD)/tests/test_crypto: $(call host_objs,tests/host/test_crypto.c $(CRYPTO_SRCS))
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -o $@ $^ $(HOST_LDLIBS) $(SODIUM_LIBS)
TEST_DEPS += $(BUILD)/tests/test_crypto
