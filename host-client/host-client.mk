# host-client: libupcall (static + shared) and the upcall-ctl command.
# Variables and targets here all start with HC_ / hc- / host-client.

HC_DIR := host-client
HC_OUT := $(BUILD)/host-client
HC_LIBDIR := $(BUILD)/lib
HC_SONAME := libupcall.so.0
HC_SOVER := $(HC_SONAME).1.0
HC_A := $(HC_LIBDIR)/libupcall.a
HC_SO := $(HC_LIBDIR)/$(HC_SOVER)
HC_PC := $(HC_LIBDIR)/libupcall.pc
HC_CTL := $(BIN)/upcall-ctl
HC_MAN := $(HC_DIR)/upcall-ctl.1

HC_JSONC_CFLAGS = $(JSONC_CFLAGS)
HC_JSONC_LIBS = $(JSONC_LIBS)

HC_LIB_SRCS := $(sort $(wildcard $(HC_DIR)/lib/*.c))
HC_CTL_SRCS := $(sort $(wildcard $(HC_DIR)/ctl/*.c))
# Everything of upcall-ctl except main(), so tests can drive the commands.
HC_CTL_CORE_SRCS := $(filter-out $(HC_DIR)/ctl/upcall-ctl.c,$(HC_CTL_SRCS))

HC_CPPFLAGS := -I$(HC_DIR)/include -I$(HC_DIR)/lib -I$(HC_DIR)/ctl \
	-DUPCALL_VERSION='"$(VERSION)"'
HC_CFLAGS := $(HOST_CFLAGS) $(HC_CPPFLAGS) $(HC_JSONC_CFLAGS)

HC_LIB_OBJS := $(HC_LIB_SRCS:$(HC_DIR)/%.c=$(HC_OUT)/pic/%.o)
HC_CTL_OBJS := $(HC_CTL_SRCS:$(HC_DIR)/%.c=$(HC_OUT)/obj/%.o)
# Sanitizer builds for the unit tests.
HC_SAN_LIB_OBJS := $(HC_LIB_SRCS:$(HC_DIR)/%.c=$(HC_OUT)/san/%.o)
HC_SAN_CORE_OBJS := $(HC_CTL_CORE_SRCS:$(HC_DIR)/%.c=$(HC_OUT)/san/%.o)

ALL_TARGETS += $(HC_A) $(HC_SO) $(HC_PC) $(HC_CTL)
CLEAN_DIRS += $(HC_OUT)

$(HC_OUT)/pic/%.o: $(HC_DIR)/%.c
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HC_CFLAGS) -fPIC -c -o $@ $<

$(HC_OUT)/obj/%.o: $(HC_DIR)/%.c
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HC_CFLAGS) -c -o $@ $<

$(HC_OUT)/san/%.o: $(HC_DIR)/%.c $(SAN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(HC_CFLAGS) $(SAN_CFLAGS) -c -o $@ $<

$(HC_A): $(HC_LIB_OBJS)
	$(call quiet,AR,$@)
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(HC_SO): $(HC_LIB_OBJS) $(HC_DIR)/lib/libupcall.map
	$(call quiet,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -shared -Wl,-soname,$(HC_SONAME) \
		-Wl,--version-script,$(HC_DIR)/lib/libupcall.map -Wl,-z,defs \
		-o $@ $(HC_LIB_OBJS)
	$(Q)ln -sf $(HC_SOVER) $(HC_LIBDIR)/$(HC_SONAME)
	$(Q)ln -sf $(HC_SONAME) $(HC_LIBDIR)/libupcall.so

# $(1): output, $(2): prefix, $(3): libdir, $(4): includedir
define hc_gen_pc
	$(Q)mkdir -p $(dir $(1))
	$(Q)sed -e 's|@PREFIX@|$(2)|' -e 's|@LIBDIR@|$(3)|' \
		-e 's|@INCLUDEDIR@|$(4)|' -e 's|@VERSION@|$(VERSION)|' \
		$(HC_DIR)/libupcall.pc.in > $(1)
endef

$(HC_PC): $(HC_DIR)/libupcall.pc.in FORCE-hc
	$(call hc_gen_pc,$@,$(PREFIX),$(LIBDIR),$(INCLUDEDIR))

.PHONY: FORCE-hc
FORCE-hc:

# upcall-ctl links libupcall statically: one self-contained binary. Fully
# static (-static-pie: still position-independent, so ASLR stays): a
# command-line tool run once per hotplug should not pay the dynamic
# loader, 2-3 ms per run here (docs/hotplug-bench.md). It uses nothing of
# glibc that needs dlopen (no NSS, iconv or locales).
$(HC_CTL): $(HC_CTL_OBJS) $(HC_A)
	$(call quiet,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) -static-pie -o $@ $(HC_CTL_OBJS) $(HC_A) $(HC_JSONC_LIBS)

.PHONY: hc-install
INSTALL_TARGETS += hc-install
hc-install: $(HC_A) $(HC_SO) $(HC_CTL)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) \
		$(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(HC_CTL) $(DESTDIR)$(BINDIR)/upcall-ctl
	install -m 0644 $(HC_A) $(DESTDIR)$(LIBDIR)/libupcall.a
	install -m 0755 $(HC_SO) $(DESTDIR)$(LIBDIR)/$(HC_SOVER)
	ln -sf $(HC_SOVER) $(DESTDIR)$(LIBDIR)/$(HC_SONAME)
	ln -sf $(HC_SONAME) $(DESTDIR)$(LIBDIR)/libupcall.so
	install -m 0644 $(HC_DIR)/include/upcall.h $(DESTDIR)$(INCLUDEDIR)/upcall.h
	install -m 0644 $(HC_MAN) $(DESTDIR)$(MANDIR)/man1/upcall-ctl.1
	$(call hc_gen_pc,$(DESTDIR)$(PKGCONFIGDIR)/libupcall.pc,$(PREFIX),$(LIBDIR),$(INCLUDEDIR))

-include $(HC_LIB_OBJS:.o=.d) $(HC_CTL_OBJS:.o=.d) $(HC_SAN_LIB_OBJS:.o=.d) \
	$(HC_SAN_CORE_OBJS:.o=.d) $(HC_OUT)/san/ctl/upcall-ctl.d


# ---- tests ----------------------------------------------------------------
HC_TEST_DIR := tests/unit/host-client
HC_TEST_OUT := $(HC_OUT)/tests
HC_TEST_CFLAGS := $(HOST_CFLAGS) $(SAN_CFLAGS) $(HC_CPPFLAGS) $(HC_JSONC_CFLAGS) \
	-I$(HC_TEST_DIR)
HC_TEST_LIBS := $(HC_JSONC_LIBS) -lcmocka -lpthread
HC_FAKE_OBJS := $(HC_TEST_OUT)/fake-guest.o $(HC_TEST_OUT)/fake-qmp.o

$(HC_TEST_OUT)/%.o: $(HC_TEST_DIR)/%.c $(SAN_STAMP)
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(HC_TEST_CFLAGS) -c -o $@ $<

$(HC_TEST_OUT)/test-session: $(HC_TEST_OUT)/test_session.o $(HC_FAKE_OBJS) $(HC_SAN_LIB_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $^ $(HC_TEST_LIBS)

$(HC_TEST_OUT)/test-qmp: $(HC_TEST_OUT)/test_qmp.o $(HC_FAKE_OBJS) $(HC_SAN_CORE_OBJS) $(HC_SAN_LIB_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $^ $(HC_TEST_LIBS)

# The cpu planner alone: pure, so no fakes.
$(HC_TEST_OUT)/test-plan: $(HC_TEST_OUT)/test_plan.o $(HC_OUT)/san/ctl/cpu-plan.o
	$(call quiet,LD,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $^ $(HC_TEST_LIBS)

# The fakes as one program, for the CLI tests: a VM run folder without a VM.
$(HC_TEST_OUT)/fake-vm: $(HC_TEST_OUT)/fake-vm.o $(HC_FAKE_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $^ $(HC_JSONC_LIBS) -lpthread

-include $(wildcard $(HC_TEST_OUT)/*.d)

CHECK_SUITES += unit-host-client unit-qmp unit-cpu-plan cli-host-client fuzz-host-client
.PHONY: check-unit-host-client check-unit-qmp check-unit-cpu-plan check-cli-host-client \
	check-fuzz-host-client

check-unit-host-client: $(HC_TEST_OUT)/test-session
	$(Q)tools/tap-run.sh unit-host-client $<

check-unit-qmp: $(HC_TEST_OUT)/test-qmp
	$(Q)tools/tap-run.sh unit-qmp $<

check-unit-cpu-plan: $(HC_TEST_OUT)/test-plan
	$(Q)tools/tap-run.sh unit-cpu-plan $<

# upcall-ctl built with ASan/UBSan (leak checks included) for the CLI tests.
$(HC_TEST_OUT)/upcall-ctl-san: $(HC_OUT)/san/ctl/upcall-ctl.o $(HC_SAN_CORE_OBJS) $(HC_SAN_LIB_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $^ $(HC_JSONC_LIBS)

check-cli-host-client: $(HC_CTL) $(HC_TEST_OUT)/upcall-ctl-san $(HC_TEST_OUT)/fake-vm
	$(Q)HC_CTL=$(HC_TEST_OUT)/upcall-ctl-san HC_FAKE_VM=$(HC_TEST_OUT)/fake-vm HC_MAN=$(TOP)/$(HC_MAN) \
		tools/tap-run.sh cli-host-client bats --tap $(HC_TEST_DIR)/cli.bats \
		$(HC_TEST_DIR)/cli-pci.bats $(HC_TEST_DIR)/cli-mem.bats $(HC_TEST_DIR)/cli-batch.bats

# ---- fuzzing --------------------------------------------------------------
# One libFuzzer target per parser; a short run in `make check`, a long one
# (HC_FUZZ_SECONDS each, niced) in `make fuzz`.
HC_FUZZERS := host-client-reply host-client-hybrid
HC_FUZZ_BINS := $(HC_FUZZERS:%=$(HC_OUT)/fuzz/%)
HC_FUZZ_SECONDS ?= 300
HC_FUZZ_RUNS ?= 200000

$(HC_OUT)/fuzz/%: tests/fuzz/%.c $(HC_DIR)/lib/codec.c $(HC_DIR)/include/upcall.h
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(HC_DIR)/include -o $@ $< $(HC_DIR)/lib/codec.c

.PHONY: hc-fuzz
FUZZ_TARGETS += hc-fuzz
hc-fuzz: $(HC_FUZZ_BINS)
	$(Q)for f in $(HC_FUZZERS); do \
		mkdir -p $(HC_OUT)/fuzz/corpus-$$f && \
		nice -n 10 $(HC_OUT)/fuzz/$$f -max_total_time=$(HC_FUZZ_SECONDS) \
			$(HC_OUT)/fuzz/corpus-$$f || exit 1; \
	done

check-fuzz-host-client: $(HC_FUZZ_BINS)
	$(Q)tools/tap-run.sh fuzz-host-client bash -c 'for f in $(HC_FUZZERS); do \
		tools/tap-check.sh "fuzz $$f ($(HC_FUZZ_RUNS) runs)" \
			nice -n 10 $(HC_OUT)/fuzz/$$f -runs=$(HC_FUZZ_RUNS) -seed=1; done'
