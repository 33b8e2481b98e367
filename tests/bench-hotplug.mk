# tests/bench-hotplug.mk: `make bench-hotplug` (part of `make bench`),
# vCPU hotplug through upcall against ACPI on the same kernel source, and
# the breakdown of one upcall vCPU add (tests/bench/hotplug-bench.py,
# docs/hotplug-bench.md). Targets and variables start with bench-hotplug /
# BENCH_HOTPLUG_.
#
#   make bench-hotplug                              10 runs each, breakdown
#   make bench-hotplug BENCH_HOTPLUG_ARGS='--runs 3 --append tsc=reliable'
#
# One benchmark-only kernel, cached by tools/kernel-build.sh like every
# kernel (a cold build takes as long as the guest kernel's):
#   build/bench/acpi/bzImage   pristine source + tests/bench/acpi-kernel/
#                              (series of one BENCHMARK-ONLY patch), base.config
#                              without its "# CONFIG_ACPI is not set" line,
#                              then tests/bench/acpi-kernel/acpi.config

BENCH_HOTPLUG_ACPI := $(BUILD)/bench/acpi/bzImage
BENCH_HOTPLUG_ONLINER := $(BUILD)/bench/cpu-onliner
BENCH_HOTPLUG_ACPI_BASE := $(BUILD)/bench/acpi-kernel/base.config
BENCH_HOTPLUG_ARGS ?=

BENCH_TARGETS += bench-hotplug
CLEAN_DIRS += $(BUILD)/bench

# base.config minus the one line that turns ACPI off; nothing else differs.
$(BENCH_HOTPLUG_ACPI_BASE): kernel-patches/config/base.config
	$(Q)mkdir -p $(@D)
	$(Q)grep -vx '# CONFIG_ACPI is not set' $< > $@.tmp
	$(Q)mv $@.tmp $@

$(BENCH_HOTPLUG_ACPI): tools/kernel-build.sh $(BENCH_HOTPLUG_ACPI_BASE) \
		$(wildcard tests/bench/acpi-kernel/*)
	$(call quiet,KERNEL,$@)
	$(Q)KERNEL_PATCH_DIR=$(TOP)/tests/bench/acpi-kernel tools/kernel-build.sh \
		--config $(BENCH_HOTPLUG_ACPI_BASE) \
		--config tests/bench/acpi-kernel/acpi.config --out $@
	$(Q)touch $@

$(BENCH_HOTPLUG_ONLINER): tests/bench/cpu-onliner.c $(BUILD)/uapi/include/linux/vm_sockets.h
	$(call quiet,MUSLCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)musl-gcc -std=c11 -D_GNU_SOURCE -Os -Wall -Wextra -Werror -Wshadow \
		-Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
		-isystem $(BUILD)/uapi/include -static -s -o $@ $<

.PHONY: bench-hotplug
bench-hotplug: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-ctl $(BIN)/upcall-vsockd \
		$(BENCH_HOTPLUG_ACPI) $(BENCH_HOTPLUG_ONLINER)
	$(Q)nice -n 10 python3 tests/bench/hotplug-bench.py $(BENCH_HOTPLUG_ARGS)
