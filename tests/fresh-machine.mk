# tests/fresh-machine.mk: the README's first command on a fresh Debian 12
# (tests/fresh-machine.sh: debootstrap root, README prerequisites, clone of
# HEAD, `make demo` as the only command), and tools/deps.sh against fakes.
#
#   make check-deps              seconds
#   make check-fresh-machine     needs root; prints its wall time

CHECK_SUITES += deps
.PHONY: check-deps
check-deps:
	$(Q)tools/tap-run.sh deps bats --tap tests/deps.bats

CHECK_SUITES += fresh-machine
# make check debootstraps the day's root in the background (after the 6.1
# kernel and the object checks, Makefile's CHECK_PREFETCH) and runs this
# suite late, so that the root is ready when it starts.
CHECK_LATE_SUITES += fresh-machine
CHECK_PREFETCH += fresh-root
.PHONY: check-fresh-machine fresh-root
fresh-root:
	$(Q)tests/fresh-machine.sh --prepare-root

# The host's kernel cache is shared with the root, so the kernel and the
# UAPI headers are built (or taken from the cache) here first.
check-fresh-machine: $(BUILD)/guest/bzImage $(BUILD)/uapi/include/linux/vm_sockets.h
	$(Q)tools/tap-run.sh fresh-machine tests/fresh-machine.sh
