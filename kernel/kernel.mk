# The kernel (ring 0) and the bootable ISO.
#
# The kernel is linked twice: the first link's text symbols become the
# symbol table (.ksyms, placed last by linker.ld) of the second, so fault
# backtraces can name functions.  The build checks that no text address moved.

KCC      ?= gcc
KLD      ?= ld
FONT     ?= /usr/share/consolefonts/Lat15-VGA16.psf.gz
KBUILD   := $(BUILD)/kernel
KCFLAGS  := -std=c11 -ffreestanding -fno-stack-protector -fno-pic -fno-pie \
            -mno-red-zone -mno-mmx -mno-sse -mno-sse2 -mno-avx -mcmodel=kernel \
            -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer \
            -fno-asynchronous-unwind-tables -fcf-protection=none \
            -O2 -g -Wall -Wextra -Werror -I. -MMD -MP \
            -DEXO_VERSION='"$(VERSION)"'
KASFLAGS := $(filter-out -std=c11,$(KCFLAGS)) -D__ASSEMBLY__ -DFONT_FILE='"$(KBUILD)/font.psf"'
KLDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack \
            --no-warn-rwx-segments -T linker.ld

KERNEL_CSRCS := $(wildcard kernel/*.c) $(wildcard drivers/*.c) crypto/chacha20.c
KERNEL_ASRCS := boot/multiboot2.S boot/entry.S $(filter-out kernel/font.S,$(wildcard kernel/*.S))
KERNEL_OBJS  := $(patsubst %.c,$(KBUILD)/%.o,$(KERNEL_CSRCS)) \
                $(patsubst %.S,$(KBUILD)/%.o,$(KERNEL_ASRCS)) $(KBUILD)/kernel/font.o
KERNEL_ELF   := $(KBUILD)/exoswarm.elf
ISO          := $(BUILD)/exoswarm.iso
CMDLINE      ?= console=both loglevel=6

$(KBUILD)/%.o: %.c
	$(Q)mkdir -p $(@D)
	$(Q)echo "  KCC     $<"
	$(Q)$(KCC) $(KCFLAGS) -c -o $@ $<
$(KBUILD)/%.o: %.S
	$(Q)mkdir -p $(@D)
	$(Q)echo "  KAS     $<"
	$(Q)$(KCC) $(KASFLAGS) -c -o $@ $<
$(KBUILD)/kernel/font.o: kernel/font.S $(KBUILD)/font.psf
$(KBUILD)/font.psf: $(FONT)
	$(Q)mkdir -p $(@D)
	$(Q)if [ ! -f "$(FONT)" ]; then echo "font $(FONT) missing: run tools/deps.sh" >&2; exit 1; fi
	$(Q)zcat "$(FONT)" > $@

$(KBUILD)/ksyms-empty.o $(KBUILD)/ksyms.o: $(KBUILD)/%.o: $(KBUILD)/%.S
	$(Q)$(KCC) $(KASFLAGS) -c -o $@ $<
$(KBUILD)/ksyms-empty.S: tools/gen-ksyms
	$(Q)mkdir -p $(@D)
	$(Q)tools/gen-ksyms > $@
$(KBUILD)/exoswarm.pass1.elf: $(KERNEL_OBJS) $(KBUILD)/ksyms-empty.o linker.ld
	$(Q)$(KLD) $(KLDFLAGS) -o $@ $(KERNEL_OBJS) $(KBUILD)/ksyms-empty.o
$(KBUILD)/ksyms.S: $(KBUILD)/exoswarm.pass1.elf tools/gen-ksyms
	$(Q)tools/gen-ksyms $< > $@
$(KERNEL_ELF): $(KBUILD)/exoswarm.pass1.elf $(KBUILD)/ksyms.o
	$(Q)echo "  LD      $@"
	$(Q)$(KLD) $(KLDFLAGS) -o $@ $(KERNEL_OBJS) $(KBUILD)/ksyms.o
	$(Q)nm -n $< | grep -i ' t ' > $@.syms1; nm -n $@ | grep -i ' t ' > $@.syms2; \
	  if ! cmp -s $@.syms1 $@.syms2; then echo "ksyms: text moved between links" >&2; rm -f $@; exit 1; fi

# make_iso COMMAND-LINE [MODULES] (output is $@): a GRUB hybrid image (BIOS and
# UEFI, CD and USB stick) with grub.cfg's default entry booting the kernel with
# that line and loading the module files in order, each named by its file
# name (the first is the first program).
define make_iso
	$(Q)rm -rf $@.dir && mkdir -p $@.dir/boot/grub
	$(Q)cp $(KERNEL_ELF) $@.dir/boot/exoswarm.elf
	$(Q)for m in $(2); do cp $$m $@.dir/boot/; done
	$(Q)for m in $(2); do printf '\tmodule2 /boot/%s %s\n' $$(basename $$m) $$(basename $$m); done > $@.mods
	$(Q)sed -e 's|@CMDLINE@|$(1)|' -e '/@MODULES@/{r $@.mods' -e 'd}' boot/grub.cfg > $@.dir/boot/grub/grub.cfg
	$(Q)rm -f $@.mods
	$(Q)grub-mkrescue --locales= --themes= --fonts= -o $@.tmp $@.dir > $@.log 2>&1 \
	  || { cat $@.log >&2; exit 1; }
	$(Q)mv $@.tmp $@ && rm -rf $@.dir
endef

# The command line is recorded so that changing CMDLINE rebuilds the image.
$(KBUILD)/cmdline.txt: FORCE
	$(Q)mkdir -p $(@D)
	$(Q)echo '$(CMDLINE)' | cmp -s - $@ || echo '$(CMDLINE)' > $@
FORCE:
.PHONY: FORCE

# ISO_MODULES: the release image's GRUB modules (user/busybox/busybox.mk
# adds the shell, its arguments and the initramfs).
ISO_MODULES ?=
iso: $(ISO)
$(ISO): $(KERNEL_ELF) boot/grub.cfg $(KBUILD)/cmdline.txt
	$(Q)echo "  ISO     $@"
	$(call make_iso,$(CMDLINE),$(ISO_MODULES))

# ------------------------------------------------------------------ running
QEMU_RUN := tools/qemu --accel $(ACCEL) --mem $(MEM) $(if $(filter 1,$(GUI)),--gui)

# The node's disk, kept between runs (made blank on first use; init asks
# before formatting it).  NODE_IMG= boots without a disk.
NODE_IMG ?= $(BUILD)/node.img
NODE_IMG_SIZE ?= 256M
NODE_DISK = $(if $(NODE_IMG),--disk $(NODE_IMG))
node-img:
	$(Q)if [ -n "$(NODE_IMG)" ] && [ ! -e "$(NODE_IMG)" ]; then mkdir -p $(dir $(NODE_IMG)) && truncate -s $(NODE_IMG_SIZE) $(NODE_IMG); fi
run: deps
	$(Q)$(MAKE) --no-print-directory iso node-img
	$(Q)$(QEMU_RUN) --iso $(ISO) $(NODE_DISK)
run-uefi: deps
	$(Q)$(MAKE) --no-print-directory iso node-img
	$(Q)$(QEMU_RUN) --uefi --iso $(ISO) $(NODE_DISK)
debug: deps
	$(Q)$(MAKE) --no-print-directory iso
	$(Q)echo "QEMU waits for gdb on 127.0.0.1:1234; in another terminal: gdb -x $(KBUILD)/gdbinit"
	$(Q)printf '%s\n' "# GRUB loads the kernel after gdb attaches, which overwrites software" \
	  "# breakpoints: use hardware ones (hbreak kmain) for early code." \
	  "file $(KERNEL_ELF)" "target remote 127.0.0.1:1234" "hbreak kmain" > $(KBUILD)/gdbinit
	$(Q)$(QEMU_RUN) --gdb --iso $(ISO)
