# Guest initramfs: the agent as /init, busybox, GUEST_EXTRA_BINS, test scripts.
#
#   make build/guest/initramfs.cpio.gz
#   make check-initramfs-repro     two builds from the same inputs are identical
#
# GUEST_EXTRA_BINS: other fragments append static guest programs to it; each
# lands in /usr/bin. Fragments may be included after this one, so the list is
# only read through secondary expansion ($$) and in recipes, where it is
# complete whatever the include order.

INITRAMFS := $(BUILD)/guest/initramfs.cpio.gz
INITRAMFS_DIR := $(BUILD)/initramfs
# The archive writer is the kernel's own usr/gen_init_cpio, built from the
# pinned source tarball (KERNEL_TARBALL, from $(DEPS_MK)); only that one
# file is extracted.
INITRAMFS_GEN := $(INITRAMFS_DIR)/gen_init_cpio
INITRAMFS_BUSYBOX ?= /bin/busybox
INITRAMFS_TESTS := tests/guest
# The set of inputs by name; rewritten only when it changes, so removing an
# extra binary or a test script also rebuilds the image.
INITRAMFS_INPUTS := $(INITRAMFS_DIR)/inputs.txt

ALL_TARGETS += $(INITRAMFS)
CLEAN_DIRS += $(INITRAMFS_DIR)

$(INITRAMFS_GEN).c: $(KERNEL_TARBALL)
	$(call quiet,EXTRACT,$@)
	$(Q)mkdir -p $(@D)
	$(Q)tar -xOf $< --wildcards '*/usr/gen_init_cpio.c' > $@.tmp
	$(Q)[ -s $@.tmp ] || { echo "initramfs: no usr/gen_init_cpio.c in $<" >&2; exit 1; }
	$(Q)mv $@.tmp $@

# Kernel code, built with the kernel's own host flags, not ours.
$(INITRAMFS_GEN): $(INITRAMFS_GEN).c
	$(call quiet,HOSTCC,$@)
	$(Q)$(HOST_CC) -O2 -std=gnu11 -Wall -Wmissing-prototypes -Wstrict-prototypes \
		-o $@ $<

.PHONY: initramfs-inputs-force
$(INITRAMFS_INPUTS): initramfs-inputs-force
	$(Q)mkdir -p $(@D)
	$(Q)printf '%s\n' $(INITRAMFS_BUSYBOX) $(sort $(GUEST_EXTRA_BINS)) \
		$(sort $(wildcard $(INITRAMFS_TESTS)/*.sh)) > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

.SECONDEXPANSION:
$(INITRAMFS): $(BUILD)/guest/agent $(INITRAMFS_GEN) initramfs/build.sh \
		$(INITRAMFS_INPUTS) $(INITRAMFS_BUSYBOX) \
		$$(GUEST_EXTRA_BINS) $$(wildcard $(INITRAMFS_TESTS)/*.sh)
	$(call quiet,CPIO,$@)
	$(Q)mkdir -p $(@D)
	$(Q)initramfs/build.sh $(INITRAMFS_GEN) $@ $(BUILD)/guest/agent \
		$(INITRAMFS_BUSYBOX) $(INITRAMFS_TESTS) $(GUEST_EXTRA_BINS)

CHECK_SUITES += initramfs-repro
.PHONY: check-initramfs-repro initramfs-size
check-initramfs-repro: $(INITRAMFS)
	$(Q)tools/tap-run.sh initramfs-repro initramfs/repro-test.sh \
		$(INITRAMFS_GEN) $(INITRAMFS) $(BUILD)/guest/agent \
		$(INITRAMFS_BUSYBOX) $(INITRAMFS_TESTS) $(GUEST_EXTRA_BINS)

# Size goal (<= 1.5 MiB compressed): a figure, printed by `make bench`.
BENCH_TARGETS += initramfs-size
initramfs-size: $(INITRAMFS)
	@printf 'initramfs: %s bytes compressed (goal <= %s)\n' \
		"$$(stat -c %s $(INITRAMFS))" 1572864
