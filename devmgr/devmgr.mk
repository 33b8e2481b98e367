# Guest kernel patch series: upcall server, device manager, vCPU and
# virtio-mmio hotplug. Sources in devmgr/ (docs/kernel.md); the series in
# kernel-patches/ is generated from them.
#
#   make kernel-patches        regenerate kernel-patches/*.patch and series
#   make check-kernel-patches  series not stale, applies, checkpatch --strict clean
#   make check-kernel-configs  builds the full and the server-only kernel (cached)
#   make check-kernel-e2e      boot and real hotplug in QEMU guests
#
# Variables and targets here start with DEVMGR_ / kernel-.

DEVMGR_FULL_KERNEL := $(BUILD)/devmgr/bzImage-upcall
DEVMGR_SERVER_KERNEL := $(BUILD)/devmgr/bzImage-server-only
DEVMGR_BASE_CONFIG := kernel-patches/config/base.config
DEVMGR_UPCALL_CONFIG := kernel-patches/config/upcall.config
DEVMGR_SERVER_CONFIG := devmgr/config/server-only.config

CHECK_SUITES += kernel-patches kernel-configs kernel-e2e
CLEAN_DIRS += $(BUILD)/devmgr

.PHONY: kernel-patches check-kernel-patches check-kernel-configs check-kernel-e2e

kernel-patches:
	$(call quiet,GEN,kernel-patches/)
	$(Q)devmgr/gen-patches.sh

check-kernel-patches:
	$(Q)tools/tap-run.sh kernel-patches devmgr/check-patches.sh

# Both configurations of the series must build: everything on (the kernel
# the guests use) and the server without the device manager.
check-kernel-configs:
	$(Q)tools/tap-run.sh kernel-configs devmgr/check-configs.sh

# Needs the guest kernel, the initramfs and the vsock backend.
check-kernel-e2e: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-vsockd
	$(Q)tools/tap-run.sh kernel-e2e bats --tap tests/e2e/kernel.bats
