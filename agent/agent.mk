# Guest agent: PID 1 of the test guests (static musl binary).
#
#   make build/guest/agent      stripped agent (goal: <= 100 KiB)
#   make check-unit-agent       cmocka tests (ASan/UBSan): pure parts, loop, exec
#   make check-e2e-agent        the agent in real guests (tests/e2e/agent.bats)

AGENT_CC ?= musl-gcc
AGENT_UAPI := $(BUILD)/uapi/include
# -isystem: the kernel's UAPI headers are not ours to warn about, and they
# come after musl's own headers, so they never shadow libc ones.
AGENT_CFLAGS := -std=c11 -D_GNU_SOURCE -Os -Wall -Wextra -Werror -Wshadow \
	-Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
	-fstack-protector-strong -ffunction-sections -fdata-sections \
	-isystem $(AGENT_UAPI) -DAGENT_VERSION='"$(VERSION)"' -MMD -MP
AGENT_LDFLAGS := -static -Wl,--gc-sections

# Pure parts: no I/O, also built for the host and unit-tested.
AGENT_PURE_SRCS := agent/json.c agent/uevent.c agent/cmdline.c \
	agent/cpulist.c agent/request.c agent/sysparse.c agent/strutil.c
AGENT_IO_SRCS := agent/main.c agent/setup.c agent/loop.c agent/log.c \
	agent/fdio.c agent/children.c agent/uevent_sock.c agent/server.c \
	agent/exec.c agent/script.c agent/status.c agent/memstatus.c \
	agent/shutdown.c
AGENT_OBJDIR := $(BUILD)/agent/obj
AGENT_OBJS := $(patsubst agent/%.c,$(AGENT_OBJDIR)/%.o,$(AGENT_PURE_SRCS) $(AGENT_IO_SRCS))
AGENT_UNSTRIPPED := $(BUILD)/agent/agent
AGENT_BIN := $(BUILD)/guest/agent

ALL_TARGETS += $(AGENT_BIN)
CLEAN_DIRS += $(BUILD)/agent

# The UAPI headers come from the kernel build's headers_install rule
# (tools/guest.mk); the object files need them to exist first.
$(AGENT_OBJDIR)/%.o: agent/%.c | $(BUILD)/uapi/include/linux/vm_sockets.h
	$(call quiet,MUSLCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(AGENT_CC) $(AGENT_CFLAGS) -c -o $@ $<

$(AGENT_UNSTRIPPED): $(AGENT_OBJS)
	$(call quiet,LD,$@)
	$(Q)$(AGENT_CC) $(AGENT_LDFLAGS) -o $@ $^

$(AGENT_BIN): $(AGENT_UNSTRIPPED)
	$(call quiet,STRIP,$@)
	$(Q)mkdir -p $(@D)
	$(Q)strip --strip-all -o $@ $<

# agent-query: guest-side client of the status service (vsock loopback),
# for test scripts inside the guest; goes to /usr/bin via GUEST_EXTRA_BINS.
AGENT_QUERY := $(BUILD)/guest/agent-query
AGENT_QUERY_OBJS := $(AGENT_OBJDIR)/agent-query.o $(AGENT_OBJDIR)/fdio.o
ALL_TARGETS += $(AGENT_QUERY)
GUEST_EXTRA_BINS += $(AGENT_QUERY)

$(AGENT_QUERY): $(AGENT_QUERY_OBJS)
	$(call quiet,LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(AGENT_CC) $(AGENT_LDFLAGS) -s -o $@ $^

-include $(AGENT_OBJS:.o=.d) $(AGENT_QUERY_OBJS:.o=.d)

# --- unit tests (host compiler, glibc, sanitizers) ---------------------------
AGENT_TEST_SRCS := $(wildcard tests/unit/agent/test_*.c)
AGENT_TEST_BINS := $(patsubst tests/unit/agent/%.c,$(BUILD)/agent/tests/%,$(AGENT_TEST_SRCS))

# The loop, child reaping and exec jobs run on the host too (real pipes,
# real /bin/sh); the rest of the I/O side needs a guest (vsock, PID 1).
AGENT_HOST_IO_SRCS := agent/loop.c agent/fdio.c agent/log.c agent/children.c \
	agent/exec.c

$(BUILD)/agent/tests/test_%: tests/unit/agent/test_%.c $(AGENT_PURE_SRCS) \
		$(AGENT_HOST_IO_SRCS) $(wildcard agent/*.h) $(SAN_STAMP)
	$(call quiet,HOSTCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(SAN_CC) $(HOST_CFLAGS) $(SAN_CFLAGS) -Iagent $(JSONC_CFLAGS) -o $@ $< \
		$(AGENT_PURE_SRCS) $(AGENT_HOST_IO_SRCS) $(JSONC_LIBS) -lcmocka

CHECK_SUITES += unit-agent
# The loop takes callbacks: it must not know children, server, script or
# exec (they register with it), and children must not know their users.
AGENT_INCLUDE_RULES := $(foreach m,children server script exec status,--forbid loop-\>$(m)) \
	$(foreach m,server script exec,--forbid children-\>$(m))

.PHONY: check-unit-agent agent-size
check-unit-agent: $(AGENT_TEST_BINS)
	$(Q)tools/tap-run.sh unit-agent bash -c \
		'rc=0; for t in $(AGENT_TEST_BINS); do $$t || rc=1; done; \
		tools/tap-check.sh "agent include graph: no cycle, the loop depends on nothing of the agent" \
			tools/include-graph.py agent $(AGENT_INCLUDE_RULES); \
		exit $$rc'

# End-to-end: PID 1 duties (busybox halt/poweroff/reboot) and the status
# service (who may reboot/exec, a flooding exec) in real guests.
CHECK_SUITES += e2e-agent
.PHONY: check-e2e-agent
check-e2e-agent: $(BUILD)/guest/bzImage $(BUILD)/guest/initramfs.cpio.gz \
		$(if $(wildcard vsock-backend/*.mk),$(BIN)/upcall-vsockd)
	$(Q)tools/tap-run.sh e2e-agent bats --tap tests/e2e/agent.bats

# Size goal (<= 100 KiB stripped): a figure, printed by `make bench`.
BENCH_TARGETS += agent-size
agent-size: $(AGENT_BIN)
	@printf 'agent: %s bytes stripped (goal <= %s)\n' \
		"$$(stat -c %s $(AGENT_BIN))" 102400

# --- fuzzing (make fuzz): AGENT_FUZZ_SECONDS per harness ---------------------
AGENT_FUZZ_SECONDS ?= 60
AGENT_FUZZERS := agent_uevent agent_cmdline
FUZZ_TARGETS += $(addprefix fuzz-,$(AGENT_FUZZERS))
.PHONY: $(addprefix fuzz-,$(AGENT_FUZZERS))

$(BUILD)/agent/fuzz/%: tests/fuzz/%.c $(AGENT_PURE_SRCS)
	$(call quiet,FUZZCC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Iagent -o $@ $< $(AGENT_PURE_SRCS)

$(addprefix fuzz-,$(AGENT_FUZZERS)): fuzz-%: $(BUILD)/agent/fuzz/%
	$(Q)mkdir -p $(BUILD)/agent/fuzz/corpus-$*
	$(Q)$< -max_total_time=$(AGENT_FUZZ_SECONDS) -max_len=9000 \
		$(BUILD)/agent/fuzz/corpus-$*
