# tests/debug.mk: the debug guest kernel (KASAN, lockdep, kmemleak, lockup
# and hung-task detectors), `make check-debug` (guest suites on it, every
# VM ending with a kmemleak scan and a console check), the vCPU race tests
# (`make check-e2e-races`, tests/e2e/races.bats) and `make soak` (thousands
# of hotplug cycles, not in `make check`). docs/kernel-debug.md.
# Variables and targets here start with DEBUG_ / SOAK_ / debug- / soak /
# e2e-races.

DEBUG_KERNEL := $(BUILD)/debug/bzImage
# The normal kernel's fragments, then the debug one (kept out of
# kernel-patches/config/*.config, which every normal build merges).
DEBUG_KERNEL_CONFIGS := kernel-patches/config/base.config \
	kernel-patches/config/upcall.config \
	kernel-patches/config/debug/debug.config
# The suites check-debug runs on the debug kernel (their check-SUITE
# targets): adding a guest suite is adding its name here.
DEBUG_SUITES := kernel-e2e e2e-hotplug e2e-races
# Kernel arguments of every debug VM: any WARN (lockdep, ODEBUG, WARN_ON)
# or oops panics, which with the launcher's panic=-1 ends QEMU at once and
# leaves the report last on the console; the agent's exec request runs the
# kmemleak scan at the end of each VM.
DEBUG_APPEND := panic_on_warn=1 oops=panic agent.exec=1
DEBUG_RESULTS := $(BUILD)/test-results/debug

CHECK_SUITES += e2e-races
CLEAN_DIRS += $(BUILD)/debug $(BUILD)/soak

.PHONY: check-e2e-races
check-e2e-races: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-ctl $(BIN)/upcall-vsockd
	$(Q)tools/tap-run.sh e2e-races bats --tap tests/e2e/races.bats

$(DEBUG_KERNEL): tools/kernel-build.sh $(DEBUG_KERNEL_CONFIGS) \
		$(wildcard kernel-patches/series kernel-patches/*.patch)
	$(call quiet,KERNEL,$@)
	$(Q)tools/kernel-build.sh $(addprefix --config ,$(DEBUG_KERNEL_CONFIGS)) --out $@
	$(Q)touch $@

.PHONY: debug-kernel check-debug soak
debug-kernel: $(DEBUG_KERNEL)

# Each suite runs through its own check-SUITE target with the debug kernel
# and arguments in the environment; its TAP log and counts go to
# build/test-results/debug/, so they do not replace the normal run's.
check-debug: $(DEBUG_KERNEL) $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-ctl $(BIN)/upcall-vsockd
	$(Q)rm -rf $(DEBUG_RESULTS)
	$(Q)tools/tap-run.sh debug env VM_KERNEL=$(DEBUG_KERNEL) \
		VM_APPEND='$(DEBUG_APPEND)' E2E_DEBUG=1 \
		TEST_RESULTS=$(DEBUG_RESULTS) E2E_LATENCY_FILE=$(DEBUG_RESULTS)/latency.tsv \
		bash -c 'rc=0; start=$$SECONDS; for s in $(DEBUG_SUITES); do \
			echo "# debug kernel: suite $$s"; \
			$(MAKE) --no-print-directory check-$$s || rc=1; \
		done; echo "# check-debug: $$((SECONDS - start)) s"; exit $$rc'

# make soak [SOAK_CYCLES=N] [SOAK_KERNEL=debug]: tests/soak/soak.py.
SOAK_CYCLES ?= 1000
SOAK_KERNEL ?= normal
soak: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-ctl $(BIN)/upcall-vsockd \
		$(if $(filter debug,$(SOAK_KERNEL)),$(DEBUG_KERNEL))
	$(Q)python3 tests/soak/soak.py --cycles $(SOAK_CYCLES) \
		--out $(BUILD)/soak/$(SOAK_KERNEL) \
		$(if $(filter debug,$(SOAK_KERNEL)),--kernel $(DEBUG_KERNEL) --append '$(DEBUG_APPEND)' --kmemleak)
