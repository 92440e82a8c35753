# /sbin/init (user/init/init.c): built for the guest with tools/exo-cc into
# the image's initramfs, and for the host with the sanitizers, where
# tests/suites/51-init.sh checks starting and restarting.
INIT_PROG := $(BUILD)/user/init
$(INIT_PROG): user/init/init.c $(LIBOS_A) tools/exo-cc
	$(Q)mkdir -p $(@D)
	$(Q)echo "  EXO-CC  $@"
	$(Q)tools/exo-cc -O2 -g -Wall -Wextra -Werror -o $@ $<
$(BUILD)/host/user/init: user/init/init.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  CC      $<"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $< $(HOST_LDLIBS)
TEST_DEPS += $(BUILD)/host/user/init

# An image whose only GRUB module is the initramfs: the kernel starts its
# /sbin/init (tests/suites/51-init.sh boots it).
$(BUILD)/test-iso/init.iso: $(KERNEL_ELF) boot/grub.cfg $(BUILD)/iso-modules/initramfs
	$(Q)mkdir -p $(@D)
	$(Q)echo "  ISO     $@"
	$(call make_iso,console=both loglevel=6,$(BUILD)/iso-modules/initramfs)
TEST_DEPS += $(BUILD)/test-iso/init.iso
