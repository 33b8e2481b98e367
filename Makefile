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
# Unit tests run with AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CC ?= clang-14
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# Lists the component fragments append to.
ALL_TARGETS :=
CHECK_SUITES :=
FUZZ_TARGETS :=
BENCH_TARGETS :=
INSTALL_TARGETS :=
CLEAN_DIRS :=

include $(sort $(wildcard */*.mk))

.PHONY: all deps check fuzz bench install clean distclean demo

# Debian packages are checked before anything builds; apt-get runs only
# when something is missing.
deps:
	$(Q)tools/deps.sh

all: deps $(ALL_TARGETS)

# Every suite runs even when an earlier one fails; each one records its
# counts in build/test-results/<suite>.counts and the summary adds them up.
check: all
	$(Q)rm -rf $(BUILD)/test-results && mkdir -p $(BUILD)/test-results
	$(Q)for s in $(CHECK_SUITES); do \
		printf '\n=== suite %s ===\n' "$$s"; \
		if ! $(MAKE) --no-print-directory check-$$s && \
		   [ ! -s $(BUILD)/test-results/$$s.counts ]; then \
			echo "0 1 0" > $(BUILD)/test-results/$$s.counts; \
		fi; \
	done; \
	tools/check-summary.sh $(BUILD)/test-results $(CHECK_SUITES)

fuzz: deps $(FUZZ_TARGETS)

bench: all $(BENCH_TARGETS)

install: all $(INSTALL_TARGETS)

clean:
	rm -rf $(BUILD)

distclean: clean
