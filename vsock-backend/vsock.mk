# vsock-backend/vsock.mk: upcall-vsockd, the vhost-user vsock back-end, its
# guest-side test helper, unit tests, fuzzer, e2e tests and benchmark.
# Variables and targets here start with VSOCKD_ / vsockd- / vsock.
#
#   make build/bin/upcall-vsockd
#   make check-unit-vsock check-fuzz-vsock check-e2e-vsock
#   make vsockd-fuzz-long   (part of `make fuzz`)   make vsockd-bench (`make bench`)

VSOCKD_BIN := $(BIN)/upcall-vsockd
VSOCKD_LIB_SRCS := vsock-backend/log.c vsock-backend/loop.c \
	vsock-backend/virtqueue.c vsock-backend/vsock_packet.c \
	vsock-backend/vsock_dev.c vsock-backend/vsock_conn.c \
	vsock-backend/listener.c vsock-backend/host_uds.c \
	vsock-backend/vhost_user.c
VSOCKD_SRCS := $(VSOCKD_LIB_SRCS) vsock-backend/main.c
VSOCKD_OBJDIR := $(BUILD)/vsock-backend/obj
VSOCKD_OBJS := $(patsubst vsock-backend/%.c,$(VSOCKD_OBJDIR)/%.o,$(VSOCKD_SRCS))

# Guest-side helper (static musl): echo server, client, benchmark peer.
VSOCKD_GUEST_CC ?= musl-gcc
VSOCKD_ECHO := $(BUILD)/guest/vsock-echo
VSOCKD_GUEST_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror \
	-Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-isystem $(BUILD)/uapi/include

ALL_TARGETS += $(VSOCKD_BIN) $(VSOCKD_ECHO)
GUEST_EXTRA_BINS += $(VSOCKD_ECHO)
CLEAN_DIRS += $(BUILD)/vsock-backend
INSTALL_TARGETS += vsockd-install

$(VSOCKD_OBJDIR)/%.o: vsock-backend/%.c
	$(call quiet,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DVERSION='"$(VERSION)"' -c -o $@ $<

$(VSOCKD_BIN): $(VSOCKD_OBJS)
	$(call quiet,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -o $@ $^

-include $(VSOCKD_OBJS:.o=.d)

$(VSOCKD_ECHO): vsock-backend/guest/vsock-echo.c | $(BUILD)/uapi/include/linux/vm_sockets.h
	$(call quiet,MUSLCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(VSOCKD_GUEST_CC) $(VSOCKD_GUEST_CFLAGS) -static -s -o $@ $<

.PHONY: vsockd-install
vsockd-install: $(VSOCKD_BIN)
	install -D -m 0755 $(VSOCKD_BIN) $(DESTDIR)$(BINDIR)/upcall-vsockd

# --- unit tests: cmocka, synthetic guest memory, ASan/UBSan -----------------
VSOCKD_TEST_SRCS := $(wildcard tests/unit/vsock/test_*.c)
VSOCKD_TEST_BINS := $(patsubst tests/unit/vsock/%.c,$(BUILD)/vsock-backend/tests/%,$(VSOCKD_TEST_SRCS))

$(BUILD)/vsock-backend/tests/test_%: tests/unit/vsock/test_%.c $(VSOCKD_LIB_SRCS) \
		$(wildcard tests/unit/vsock/*.h vsock-backend/*.h) $(SAN_STAMP)
	$(call quiet,HOSTCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(filter-out -MMD -MP,$(HOST_CFLAGS)) $(SAN_CFLAGS) \
		-Ivsock-backend -Itests/unit/vsock -o $@ $< $(VSOCKD_LIB_SRCS) -lcmocka

CHECK_SUITES += unit-vsock
.PHONY: check-unit-vsock
# Dependencies point one way: main -> vhost_user, host_uds -> vsock_dev ->
# vsock_conn -> vsock_packet -> virtqueue. The include-graph check fails on
# a cycle and on the edges that would point back up.
VSOCKD_INCLUDE_RULES := --forbid vsock_conn-\>vsock_dev \
	--forbid vsock_dev-\>host_uds --forbid vsock_dev-\>vhost_user \
	--forbid vsock_conn-\>host_uds --forbid virtqueue-\>vsock_dev

check-unit-vsock: $(VSOCKD_TEST_BINS)
	$(Q)tools/tap-run.sh unit-vsock bash -c \
		'rc=0; for t in $(VSOCKD_TEST_BINS); do $$t || rc=1; done; \
		tools/tap-check.sh "vsock-backend include graph: no cycle, no upward edge" \
			tools/include-graph.py vsock-backend $(VSOCKD_INCLUDE_RULES); \
		exit $$rc'

# --- libFuzzer: ring walker, packet parser, device tx/rx with host sockets -
VSOCKD_FUZZ := $(BUILD)/vsock-backend/fuzz/vsock_fuzz
VSOCKD_FUZZ_SRCS := vsock-backend/log.c vsock-backend/loop.c \
	vsock-backend/virtqueue.c vsock-backend/vsock_packet.c \
	vsock-backend/vsock_dev.c vsock-backend/vsock_conn.c \
	vsock-backend/listener.c vsock-backend/host_uds.c
VSOCKD_FUZZ_CORPUS := $(BUILD)/vsock-backend/fuzz/corpus
# Short run inside `make check`, long one for `make fuzz`.
VSOCKD_FUZZ_CHECK_SECS ?= 25
VSOCKD_FUZZ_LONG_SECS ?= 90

$(VSOCKD_FUZZ): tests/fuzz/vsock_fuzz.c $(VSOCKD_FUZZ_SRCS) $(wildcard vsock-backend/*.h)
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Ivsock-backend -o $@ $< $(VSOCKD_FUZZ_SRCS)

# The repository's seeds plus what earlier runs found (kept under build/).
.PHONY: vsockd-fuzz-corpus
vsockd-fuzz-corpus:
	$(Q)mkdir -p $(VSOCKD_FUZZ_CORPUS)
	$(Q)cp -n tests/fuzz/vsock_corpus/* $(VSOCKD_FUZZ_CORPUS)/

CHECK_SUITES += fuzz-vsock
FUZZ_TARGETS += vsockd-fuzz-long
.PHONY: check-fuzz-vsock vsockd-fuzz-long
check-fuzz-vsock: $(VSOCKD_FUZZ) vsockd-fuzz-corpus
	$(Q)tools/tap-run.sh fuzz-vsock tools/tap-check.sh \
		"vsock fuzz: ring walker, packet parser, device with host sockets and a connection limit, $(VSOCKD_FUZZ_CHECK_SECS) s without a crash" \
		nice -n 10 $(VSOCKD_FUZZ) -max_total_time=$(VSOCKD_FUZZ_CHECK_SECS) \
		-max_len=70000 -print_final_stats=1 -artifact_prefix=$(BUILD)/vsock-backend/fuzz/ \
		$(VSOCKD_FUZZ_CORPUS)

vsockd-fuzz-long: $(VSOCKD_FUZZ) vsockd-fuzz-corpus
	nice -n 10 $(VSOCKD_FUZZ) -max_total_time=$(VSOCKD_FUZZ_LONG_SECS) -max_len=70000 \
		-print_final_stats=1 -artifact_prefix=$(BUILD)/vsock-backend/fuzz/ \
		$(VSOCKD_FUZZ_CORPUS)

# --- end-to-end (real guests) and benchmark ---------------------------------
CHECK_SUITES += e2e-vsock
BENCH_TARGETS += vsockd-bench
.PHONY: check-e2e-vsock vsockd-bench
check-e2e-vsock: $(VSOCKD_BIN) $(VSOCKD_ECHO) $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz
	$(Q)tools/tap-run.sh e2e-vsock bats --tap tests/e2e/vsock.bats

vsockd-bench: $(VSOCKD_BIN) $(VSOCKD_ECHO) $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz
	$(Q)tests/bench/vsock-bench.sh
