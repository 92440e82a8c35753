# BusyBox, from Debian's source package (tools/deps.sh unpacks it into
# build/third_party/busybox; BUSYBOX_SRC points elsewhere), built out of
# tree in $(BUILD)/busybox with tools/exo-cc and our configuration
# (user/busybox/config.sh over BusyBox's defconfig).  The result is
# $(BUSYBOX) and the list of applet paths $(BUSYBOX).links.  BusyBox's
# own make is only entered when the configuration, the library OS or
# exo-cc changed, so `make` does not rebuild it every time.

BUSYBOX_SRC ?= $(BUILD)/third_party/busybox
BB_OUT      := $(BUILD)/busybox
BUSYBOX     := $(BB_OUT)/busybox
BB_MAKE     = $(MAKE) --no-print-directory -C $(BUSYBOX_SRC) O=$(abspath $(BB_OUT)) \
              HOSTCC=$(HOST_CC) CC=$(abspath tools/exo-cc) V=0
# The kernel's UAPI headers, which musl-gcc does not search by itself.
BB_KHEADERS := linux asm-generic mtd scsi

# The configuration step runs exo-cc, which would build the library OS
# itself (from several BusyBox processes at once) if it were not there yet.
$(BB_OUT)/.config: user/busybox/config.sh | $(LIBOS_A)
	$(Q)[ -f $(BUSYBOX_SRC)/Config.in ] || tools/deps.sh
	$(Q)mkdir -p $(BB_OUT)/kheaders
	$(Q)for d in $(BB_KHEADERS); do ln -sfn /usr/include/$$d $(BB_OUT)/kheaders/$$d; done
	$(Q)ln -sfn /usr/include/$$(gcc -print-multiarch)/asm $(BB_OUT)/kheaders/asm
	$(Q)echo "  CONFIG  busybox"
	$(Q)$(BB_MAKE) defconfig > $(BB_OUT)/config.log
	$(Q)user/busybox/config.sh $(abspath $(BB_OUT))
	$(Q)yes '' | $(BB_MAKE) oldconfig >> $(BB_OUT)/config.log

$(BUSYBOX): $(BB_OUT)/.config $(LIBOS_A) tools/exo-cc
	$(Q)echo "  BUSYBOX $@ (BusyBox's own build; log in $(BB_OUT)/build.log)"
	$(Q)rm -f $(BB_OUT)/busybox_unstripped
	+$(Q)$(BB_MAKE) busybox busybox.links > $(BB_OUT)/build.log 2>&1 \
	  || { tail -n 30 $(BB_OUT)/build.log >&2; exit 1; }
	$(Q)touch $@

busybox: $(BUSYBOX)
.PHONY: busybox

# The root file system of build/exoswarm.iso: BusyBox with a link per applet
# (as `busybox --install -s` would make), our /sbin/init, /etc from
# user/rootfs, empty /tmp and /root, packed as a cpio (newc) initramfs.
ROOTFS_FILES := $(shell find user/rootfs -type f 2>/dev/null)
ROOTFS       := $(BUILD)/rootfs
INITRAMFS    := $(BUILD)/iso-modules/initramfs
$(INITRAMFS): $(BUSYBOX) $(INIT_PROG) $(ROOTFS_FILES)
	$(Q)echo "  CPIO    $@"
	$(Q)rm -rf $(ROOTFS) && mkdir -p $(ROOTFS)/bin $(ROOTFS)/tmp $(ROOTFS)/root $(@D)
	$(Q)cp $(BUSYBOX) $(ROOTFS)/bin/busybox
	$(Q)cp -r user/rootfs/. $(ROOTFS)/
	$(Q)while read -r l; do [ "$$l" = /bin/busybox ] && continue; \
	  mkdir -p $(ROOTFS)$${l%/*} && ln -sfn /bin/busybox $(ROOTFS)$$l; done < $(BUSYBOX).links
	$(Q)mkdir -p $(ROOTFS)/sbin && rm -f $(ROOTFS)/sbin/init && cp $(INIT_PROG) $(ROOTFS)/sbin/init
	$(Q)chmod 1777 $(ROOTFS)/tmp
	$(Q)(cd $(ROOTFS) && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > $@.tmp
	$(Q)mv $@.tmp $@

# The image's only module is the initramfs: the kernel starts its
# /sbin/init (user/init/init.c), which starts /etc/inittab's login shell on
# the console and starts it again when it ends.
ISO_MODULES += $(INITRAMFS)
$(ISO): $(ISO_MODULES)

# BusyBox's own test suite (testsuite/ of the same source package), run by
# user/busybox/testsuite.sh.  In the guest it needs execve and pipes between
# processes, which are not there yet; `make busybox-check-host` runs it
# against the same configuration built for the host with musl-gcc, the
# figure the guest's run is measured against.
BB_HOST := $(BUILD)/busybox-host
$(BB_HOST)/busybox: $(BB_OUT)/.config
	$(Q)mkdir -p $(BB_HOST)
	$(Q)cp $(BB_OUT)/.config $(BB_HOST)/.config
	$(Q)echo "  BUSYBOX $@ (for the host; log in $(BB_HOST)/build.log)"
	+$(Q)$(MAKE) --no-print-directory -C $(BUSYBOX_SRC) O=$(abspath $(BB_HOST)) HOSTCC=$(HOST_CC) \
	  CC=musl-gcc V=0 oldconfig busybox busybox.links > $(BB_HOST)/build.log 2>&1 \
	  || { tail -n 30 $(BB_HOST)/build.log >&2; exit 1; }
busybox-check-host: $(BB_HOST)/busybox
	$(Q)user/busybox/testsuite.sh $(BUSYBOX_SRC) $(BB_HOST) $(BUILD)/test-logs/busybox-host
.PHONY: busybox-check-host

# The image of the in-guest run (tests/suites/52-busybox-testsuite.sh): the
# root file system above, with the test suite at /src/testsuite, and
# /bb holding busybox (a link), its .config and testsuite-guest.sh,
# as runtest expects its bindir.
BB_TEST_ROOT := $(BUILD)/busybox-test/root
BB_TEST_CPIO := $(BUILD)/busybox-test/initramfs
$(BB_TEST_CPIO): $(INITRAMFS) user/busybox/testsuite-guest.sh
	$(Q)echo "  CPIO    $@"
	$(Q)rm -rf $(BB_TEST_ROOT) && mkdir -p $(@D) && cp -a $(ROOTFS) $(BB_TEST_ROOT)
	$(Q)mkdir -p $(BB_TEST_ROOT)/src $(BB_TEST_ROOT)/bb
	$(Q)cp -pPR $(BUSYBOX_SRC)/testsuite $(BB_TEST_ROOT)/src/testsuite
	$(Q)ln -sfn /bin/busybox $(BB_TEST_ROOT)/bb/busybox
	$(Q)cp $(BB_OUT)/.config user/busybox/testsuite-guest.sh $(BB_TEST_ROOT)/bb/
	$(Q)(cd $(BB_TEST_ROOT) && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > $@.tmp
	$(Q)mv $@.tmp $@
TEST_DEPS += $(BB_TEST_CPIO)

# The whole suite in the guest (tests/suites/52-busybox-testsuite.sh runs
# a part of it in make test): about an hour under TCG here.
busybox-check-guest: $(BB_TEST_CPIO) $(BUSYBOX)
	$(Q)BB_APPLETS= BB_TIMEOUT=5400 tests/suites/52-busybox-testsuite.sh
.PHONY: busybox-check-guest
