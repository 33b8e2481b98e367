# tools/guest.mk: the guest kernel (cached build), the UAPI headers guest
# programs compile against, the image sizes, and the launcher's tests.
# Variables and targets here start with GUEST_ / guest- (plus UAPI_*, which
# the agent's fragment uses).
#
# Fragments are included in sorted order, agent/ before tools/, so another
# fragment cannot use these variables in its rule prerequisites (those are
# expanded while the file is read). Write the file names literally there:
#   $(BUILD)/uapi/include/linux/vm_sockets.h    (the UAPI headers)
#   $(BUILD)/guest/bzImage                      (the kernel)
# Recipes may use $(UAPI_INCLUDE) and $(GUEST_KERNEL): they expand later.

GUEST_KERNEL := $(BUILD)/guest/bzImage
GUEST_INITRAMFS := $(BUILD)/guest/initramfs.cpio.gz
GUEST_AGENT := $(BUILD)/guest/agent
GUEST_VSOCKD := $(BIN)/upcall-vsockd
UAPI_INCLUDE := $(BUILD)/uapi/include
UAPI_STAMP := $(BUILD)/uapi/include/linux/vm_sockets.h
# From $(DEPS_MK) (tools/deps.sh), like every fact about installed packages.
GUEST_KERNEL_TARBALL = $(KERNEL_TARBALL)

# Everything tools/kernel-build.sh hashes into its cache key.
GUEST_KERNEL_INPUTS := tools/kernel-build.sh \
	$(wildcard kernel-patches/series kernel-patches/*.patch) \
	$(sort $(wildcard kernel-patches/config/*.config))

# The vsock backend is another fragment's target; the smoke tests use it
# when it can be built (they skip the vsock test otherwise).
GUEST_HAVE_VSOCKD_RULE := $(wildcard vsock-backend/*.mk)

ALL_TARGETS += $(GUEST_KERNEL) $(UAPI_STAMP) guest-sizes
CHECK_SUITES += kernel-cache e2e-smoke

# The names of the inputs, rewritten only when the set changes, so that
# removing a fragment or a patch also rebuilds (a cache hit if known).
GUEST_KERNEL_LIST := $(BUILD)/guest/.kernel-inputs
.PHONY: guest-kernel-inputs-force
$(GUEST_KERNEL_LIST): guest-kernel-inputs-force
	$(Q)mkdir -p $(@D)
	$(Q)printf '%s\n' $(GUEST_KERNEL_INPUTS) > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(GUEST_KERNEL): $(GUEST_KERNEL_INPUTS) $(GUEST_KERNEL_LIST)
	$(call quiet,KERNEL,$@)
	$(Q)tools/kernel-build.sh --out $@
	$(Q)touch $@

# Headers of the unpatched pinned source, cached by its version.
$(UAPI_STAMP): $(GUEST_KERNEL_TARBALL)
	$(call quiet,HEADERS,$(UAPI_INCLUDE))
	$(Q)tools/kernel-build.sh --headers $(BUILD)/uapi >/dev/null
	$(Q)touch $@

# Printed at the end of every `make`: sizes of what goes into the guest.
# It depends on every other target of `all` (secondary expansion: fragments
# included after this one append to ALL_TARGETS too), so it comes last;
# except CHECK_PREFETCH's, which `make check` builds in the background and
# would otherwise build first through this target.
.PHONY: guest-sizes
.SECONDEXPANSION:
guest-sizes: $$(filter-out guest-sizes $$(CHECK_PREFETCH),$$(ALL_TARGETS))
	@for f in $(GUEST_KERNEL) $(GUEST_INITRAMFS) $(GUEST_AGENT); do \
		[ -f "$$f" ] && printf '  %-8s %9d bytes  %s\n' SIZE "$$(stat -c %s "$$f")" "$${f#$(TOP)/}"; \
	done; true

.PHONY: check-kernel-cache check-e2e-smoke
check-kernel-cache:
	$(Q)tools/tap-run.sh kernel-cache bats --tap tests/e2e/kernel-cache.bats

check-e2e-smoke: $(GUEST_KERNEL) $(GUEST_INITRAMFS) \
		$(if $(GUEST_HAVE_VSOCKD_RULE),$(GUEST_VSOCKD))
	$(Q)tools/tap-run.sh e2e-smoke bats --tap tests/e2e/smoke.bats

# Short names: `make guest-kernel`, `make uapi-headers`.
.PHONY: guest-kernel uapi-headers
guest-kernel: $(GUEST_KERNEL)
uapi-headers: $(UAPI_STAMP)

# `make kernel-latest`: can the kernel source pin (tools/kernel-sources.txt)
# move to the newest version the archive offers? Downloads it (never
# installs it), applies the series, builds, boots the demo with it.
# KERNEL_LATEST_VERSION=V tries another version instead.
.PHONY: kernel-latest
kernel-latest: $(BUILD)/guest/initramfs.cpio.gz $(BIN)/upcall-ctl $(BIN)/upcall-vsockd
	$(Q)tools/kernel-latest.sh $(KERNEL_LATEST_VERSION)
