# upcall: top-level build.
#
# Each component describes its own targets in a fragment (<dir>/*.mk) and
# registers them by appending to the lists below. This file only ties the
# lists together, so adding a component never means editing the others.
#
#   make          build everything into build/
#   make check    every test suite, then one "N passed, N failed, N skipped" line
#   make demo     boot a guest and show hotplug at work
#   make fuzz     long fuzzing runs     make bench   benchmarks (print figures)
#   make install  PREFIX=/usr/local DESTDIR=

.DEFAULT_GOAL := all
SHELL := /bin/bash

TOP := $(CURDIR)
BUILD := $(TOP)/build
BIN := $(BUILD)/bin
VERSION := 0.1.0

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# Quiet build lines; V=1 shows full commands.
ifeq ($(V),1)
Q :=
quiet = @true
else
Q := @
quiet = @printf '  %-8s %s\n' $(1) $(2)
endif

# Host userspace C: C11, warnings are errors.
HOST_CC ?= cc
HOST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
	-Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-fstack-protector-strong -D_FORTIFY_SOURCE=2 -MMD -MP
FUZZ_CC ?= clang-14
# Unit tests run with AddressSanitizer and UndefinedBehaviorSanitizer, built
# by clang: its UBSan also catches arithmetic on a null pointer (NULL + 0,
# a real fault the fuzzer found in vsock-backend) that gcc 12's does not.
SAN_CC ?= $(FUZZ_CC)
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
# Sanitizer builds depend on this file, named after the compiler and flags,
# so changing either rebuilds them (two compilers' ASan runtimes don't mix).
# Made of make's own functions: nothing may be probed at parse time.
san_empty :=
san_space := $(san_empty) $(san_empty)
SAN_STAMP := $(BUILD)/san-cc_$(subst /,-,$(subst $(san_space),_,$(strip $(SAN_CC) $(SAN_CFLAGS))))
$(SAN_STAMP):
	$(Q)mkdir -p $(@D) && rm -f $(BUILD)/san-cc_* && touch $@
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# Lists the component fragments append to.
ALL_TARGETS :=
CHECK_SUITES :=
# Suites `make check` runs after all the others, and the slow targets only
# they need, which it builds in the background meanwhile (e.g. a second
# kernel line): the guest suites leave one of two cores mostly idle (the
# summary's "busy" column), suites that keep both busy go late as well.
CHECK_LATE_SUITES :=
CHECK_PREFETCH :=
FUZZ_TARGETS :=
BENCH_TARGETS :=
INSTALL_TARGETS :=
CLEAN_DIRS :=

# Debian packages come first, and everything the build learns from them
# (pkg-config answers, the kernel source tarball) comes from one generated
# file, $(DEPS_MK), that tools/deps.sh writes after installing what is
# missing. GNU make remakes an included makefile before any goal and then
# reads all makefiles again, so on a fresh machine the first `make`
# installs, then computes. The check runs on every top-level run (one dpkg
# query, apt-get only when something is missing); the file is rewritten
# only when a value changed, so make restarts only then.
# Rule for the fragments: never ask the system at parse time ($(shell),
# `command -v`, a wildcard of an installed file); take the value from
# $(DEPS_MK) (add it to tools/deps.sh) or compute it in a recipe.
DEPS_MK := $(BUILD)/deps.mk
ifeq ($(MAKECMDGOALS),)
include $(DEPS_MK)
else ifneq ($(filter-out clean distclean,$(MAKECMDGOALS)),)
include $(DEPS_MK)
endif

.PHONY: deps-force
$(DEPS_MK): deps-force
	$(Q)tools/deps.sh --make-vars $@

include $(sort $(wildcard */*.mk))

.PHONY: all deps check fuzz bench install clean distclean demo

# `make deps`: only install and describe the packages.
deps: $(DEPS_MK)

all: $(ALL_TARGETS)

# Every suite runs even when an earlier one fails; each one records its
# counts in build/test-results/<suite>.counts, its wall time (its own
# prerequisites, e.g. a kernel build, included) in <suite>.seconds and the
# machine's CPU ticks before and after it in <suite>.cpu; the summary adds
# them up and prints how busy the cores were during each suite.
#
# CHECK_PREFETCH targets are built by a background make at the lowest
# priority (its own process group, stopped if check is interrupted) while
# the other suites run; a late suite that needs one makes it as usual and,
# through tools/kernel-build.sh's lock, waits for that build instead of
# starting another. Its log: build/test-results/prefetch.log.
CHECK_ORDER = $(filter-out $(CHECK_LATE_SUITES),$(CHECK_SUITES)) \
	$(filter $(CHECK_LATE_SUITES),$(CHECK_SUITES))
check: $(filter-out $(CHECK_PREFETCH),$(ALL_TARGETS))
	$(Q)rm -rf $(BUILD)/test-results && mkdir -p $(BUILD)/test-results
	$(Q)pf=; \
	if [ -n "$(strip $(CHECK_PREFETCH))" ]; then \
		echo "check: building $(strip $(CHECK_PREFETCH)) in the background (log: $(BUILD)/test-results/prefetch.log)"; \
		setsid nice -n 9 $(MAKE) --no-print-directory $(CHECK_PREFETCH) \
			>$(BUILD)/test-results/prefetch.log 2>&1 </dev/null & pf=$$!; \
	fi; \
	trap '[ -z "$$pf" ] || kill -TERM -- -$$pf 2>/dev/null; exit 130' INT TERM; \
	for s in $(CHECK_ORDER); do \
		printf '\n=== suite %s ===\n' "$$s"; \
		t0=$$(date +%s); c0=$$(tools/cpu-ticks.sh); \
		if ! $(MAKE) --no-print-directory check-$$s && \
		   [ ! -s $(BUILD)/test-results/$$s.counts ]; then \
			echo "0 1 0" > $(BUILD)/test-results/$$s.counts; \
		fi; \
		echo $$(($$(date +%s) - t0)) > $(BUILD)/test-results/$$s.seconds; \
		echo "$$c0 $$(tools/cpu-ticks.sh)" > $(BUILD)/test-results/$$s.cpu; \
	done; \
	if [ -n "$$pf" ] && ! wait $$pf; then \
		echo "check: the background build failed:"; tail -20 $(BUILD)/test-results/prefetch.log; \
	fi; \
	tools/check-summary.sh $(BUILD)/test-results $(CHECK_ORDER)

fuzz: $(FUZZ_TARGETS)

bench: all $(BENCH_TARGETS)

install: all $(INSTALL_TARGETS)

clean:
	rm -rf $(BUILD)

distclean: clean
