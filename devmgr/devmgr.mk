# Guest kernel patch series: upcall server, device manager, vCPU and
# virtio-mmio hotplug. Sources in devmgr/ (docs/kernel.md); one series per
# kernel line is generated from them: kernel-patches/ (6.12, the guests'
# kernel) and kernel-patches/6.1/.
#
#   make kernel-patches        regenerate every line's *.patch and series
#   make check-kernel-patches  both series not stale, apply, checkpatch --strict clean
#   make check-kernel-configs  builds the full and the server-only kernel (cached)
#   make check-kernel-e2e      boot and real hotplug in QEMU guests (6.12)
#   make check-kernel-e2e-6.1  the same on the 6.1 kernel (a subset, README)
#   make kernel-tree [LINE=6.1]       the line's series as git commits on its
#                                     pristine files: build/devmgr/tree-LINE
#   make kernel-export [LINE=6.1]     edits committed there back into devmgr/
#   make kernel-range-diff [LINE=6.1] [OLD=rev]  git range-diff of the
#                                     series at OLD (HEAD) and the working one
#   make kernel-line-counts    lines of kernel code shared by both lines and per line
#
# Variables and targets here start with DEVMGR_ / kernel-.

DEVMGR_FULL_KERNEL := $(BUILD)/devmgr/bzImage-upcall
DEVMGR_SERVER_KERNEL := $(BUILD)/devmgr/bzImage-server-only
DEVMGR_BASE_CONFIG := kernel-patches/config/base.config
DEVMGR_UPCALL_CONFIG := kernel-patches/config/upcall.config
DEVMGR_SERVER_CONFIG := devmgr/config/server-only.config

# The 6.1 line's guest kernel (tools/kernel-sources.txt, kernel-patches/6.1/);
# `tools/vm start --kernel-line 6.1` boots it.
DEVMGR_KERNEL_6.1 := $(BUILD)/guest/bzImage-6.1
# What make check runs on 6.1 (the full guest suites run on 6.12): boot and
# listener, the malformed-request matrix, vCPU and virtio-mmio add/remove
# (tests/e2e/kernel.bats), and PCI (tests/e2e/hotplug-pci.bats).
DEVMGR_E2E_6.1_FILTER := ^(pc: the server listens|device manager: greeting|pc: ADD_CPU brings|microvm: ADD_MMIO makes|pci: )
LINE ?= 6.12

ALL_TARGETS += $(DEVMGR_KERNEL_6.1)
CHECK_SUITES += kernel-patches kernel-configs kernel-e2e kernel-e2e-6.1
# make check builds the 6.1 kernel in the background while the other suites
# run, and runs kernel-e2e-6.1, its only user, last (Makefile). The patch
# and configuration checks keep both cores busy (checkpatch, the object
# checks' compiles): they run late too, so that the background build takes
# the core the guest suites leave idle instead of competing with them.
CHECK_LATE_SUITES += kernel-patches kernel-configs kernel-e2e-6.1
# After the 6.1 kernel, the background build extracts the pristine trees
# and runs the object checks (cached), so that kernel-patches and
# kernel-configs find them done.
CHECK_PREFETCH += $(DEVMGR_KERNEL_6.1) devmgr-prefetch
CLEAN_DIRS += $(BUILD)/devmgr

.PHONY: kernel-patches check-kernel-patches check-kernel-configs check-kernel-e2e \
	check-kernel-e2e-6.1 kernel-tree kernel-export kernel-range-diff \
	kernel-line-counts

kernel-patches:
	$(call quiet,GEN,kernel-patches/)
	$(Q)devmgr/gen-patches.sh

check-kernel-patches:
	$(Q)tools/tap-run.sh kernel-patches devmgr/check-patches.sh

# Both configurations of the series must build: everything on (the kernel
# the guests use) and the server without the device manager.
check-kernel-configs:
	$(Q)tools/tap-run.sh kernel-configs devmgr/check-configs.sh

.PHONY: devmgr-prefetch
devmgr-prefetch:
	$(Q)devmgr/check-configs.sh --prefetch

# Needs the guest kernel, the initramfs and the vsock backend.
check-kernel-e2e: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-vsockd
	$(Q)tools/tap-run.sh kernel-e2e bats --tap tests/e2e/kernel.bats

$(DEVMGR_KERNEL_6.1): tools/kernel-build.sh tools/kernel-sources.txt \
		$(wildcard kernel-patches/6.1/series kernel-patches/6.1/*.patch) \
		$(sort $(wildcard kernel-patches/config/*.config kernel-patches/config/6.1/*.config))
	$(call quiet,KERNEL,$@)
	$(Q)tools/kernel-build.sh --line 6.1 --out $@
	$(Q)touch $@

check-kernel-e2e-6.1: $(DEVMGR_KERNEL_6.1) $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-vsockd $(BIN)/upcall-ctl
	$(Q)tools/tap-run.sh kernel-e2e-6.1 env KERNEL_E2E_BZIMAGE=$(DEVMGR_KERNEL_6.1) \
		KERNEL_E2E_LINE=6.1 VM_KERNEL_LINE=6.1 \
		bats --tap --filter '$(DEVMGR_E2E_6.1_FILTER)' tests/e2e/kernel.bats tests/e2e/hotplug-pci.bats

# Reviewing and changing the series as commits (docs/kernel.md).
kernel-tree:
	$(Q)devmgr/gen-patches.sh --line $(LINE) --out $(BUILD)/devmgr/tree-$(LINE).patches \
		--keep-tree $(BUILD)/devmgr/tree-$(LINE)
	@echo "kernel-tree: $(BUILD)/devmgr/tree-$(LINE): the $(LINE) series as commits on the tag 'pristine'"

kernel-export:
	$(Q)devmgr/export-steps.sh --line $(LINE) $(BUILD)/devmgr/tree-$(LINE)
	$(Q)devmgr/gen-patches.sh

kernel-range-diff:
	$(Q)devmgr/range-diff.sh --line $(LINE) $(or $(OLD),HEAD)

kernel-line-counts:
	$(Q)devmgr/line-counts.sh
