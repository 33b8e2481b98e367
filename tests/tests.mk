# tests/tests.mk: the end-to-end hotplug suites (vCPU and PCI on pc, virtio-mmio on
# microvm, protocol abuse) and `make demo`. Targets here start with
# hotplug- / demo.

HOTPLUG_BATS := tests/e2e/hotplug-cpu.bats tests/e2e/hotplug-mmio.bats \
	tests/e2e/hotplug-pci.bats tests/e2e/hotplug-mem.bats \
	tests/e2e/protocol.bats

CHECK_SUITES += e2e-hotplug
# check-debug runs this suite again with its own latency file.
HOTPLUG_LATENCY := $(or $(E2E_LATENCY_FILE),$(BUILD)/test-results/latency.tsv)

.PHONY: check-e2e-hotplug demo
check-e2e-hotplug: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(BIN)/upcall-ctl $(BIN)/upcall-vsockd
	$(Q)rm -f $(HOTPLUG_LATENCY)
	$(Q)tools/tap-run.sh e2e-hotplug bash -c 'bats --tap $(HOTPLUG_BATS); \
		rc=$$?; tests/e2e/latency-table.sh $(HOTPLUG_LATENCY); \
		exit $$rc'

demo: all
	$(Q)tools/demo.sh
