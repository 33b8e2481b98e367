# Helpers shared by the hotplug suites (hotplug-cpu, hotplug-mmio,
# hotplug-pci, hotplug-mem, protocol). Each .bats file boots one guest in setup_file and runs its
# tests in order against it, the way an operator would use one VM.
#
#   load lib
#   load hotplug_lib
#   setup_file() { hp_boot --machine pc --cpus 1 --maxcpus 4; }

UPCALL_CTL=$E2E_TOP/build/bin/upcall-ctl
# Each hotplug operation's latency (host command to guest-visible result)
# is appended here; tests/e2e/latency-table.sh prints the table.
E2E_LATENCY_FILE=${E2E_LATENCY_FILE:-$E2E_TOP/build/test-results/latency.tsv}

# hp_boot ARGS...: setup_file helper; boots the suite's VM in
# $BATS_FILE_TMPDIR/vm with the test-only exec request enabled.
hp_boot() {
	export HP_VM=$BATS_FILE_TMPDIR/vm
	"$E2E_VM" start --dir "$HP_VM" --append agent.exec=1 "$@" >&3 2>&1
}

# hp_shutdown: teardown_file helper. The end-of-VM checks of lib.bash
# (kmemleak in debug runs, then the console) fail it, as "teardown_file
# failed". The console log is kept next to the test results so a failure
# can be read after the run.
hp_shutdown() {
	[[ -n ${HP_VM:-} ]] || return 0
	local rc=0
	e2e_kmemleak_check "$HP_VM" || rc=1
	"$E2E_VM" stop --dir "$HP_VM" >/dev/null 2>&1 || true
	mkdir -p "$(dirname "$E2E_LATENCY_FILE")"
	cp "$HP_VM/console.log" \
		"$(dirname "$E2E_LATENCY_FILE")/console-$(basename "$BATS_TEST_FILENAME" .bats).log" \
		2>/dev/null || true
	e2e_assert_console_clean "$HP_VM" || rc=1
	return $rc
}

# Per-file and per-test hooks every hotplug suite uses; a .bats file
# defines only setup_file (which boots its VM with hp_boot).
teardown_file() {
	hp_shutdown
}

# Makes the suite's VM the lib.bash current VM for each test.
setup() {
	E2E_DIR=$HP_VM
	e2e_mark
}

# Every test ends with the kernel console free of oops/BUG/WARNING/panic.
teardown() {
	e2e_assert_console_clean "$HP_VM"
}

# uctl ARGS...: upcall-ctl against the suite's VM (vsock.sock, qmp.sock,
# devices.json from the run folder).
uctl() {
	"$UPCALL_CTL" --run "$HP_VM" --timeout 30 "$@"
}

# guest_status: the agent's status object, one line of JSON.
guest_status() {
	"$UPCALL_CTL" --run "$HP_VM" --timeout 10 --json status | jq -ce .status
}

# guest_exec COMMAND: runs COMMAND in the guest through the agent; prints
# its output, fails with its output if it exits non-zero.
guest_exec() {
	local reply status
	reply=$(e2e_vsock 1219 "exec $1" "$HP_VM") || return 1
	status=$(jq -r .status <<<"$reply") || {
		echo "guest_exec: not an exec reply: $reply" >&2
		return 1
	}
	jq -j .output <<<"$reply"
	if [[ $status != 0 ]]; then
		echo "guest_exec: '$1' exited with $status" >&2
		return 1
	fi
}

# hp_dm REQUEST...: one device-manager connection to the suite's VM
# (tests/kernel/upcall_dm.py); prints one JSON line per reply.
hp_dm() {
	python3 "$E2E_TOP/tests/kernel/upcall_dm.py" --uds "$HP_VM/vsock.sock" --timeout 30 "$@"
}

# hp_empty_reply JQ_FILTER: $output (a `run hp_dm` result) ends in a reply
# without payload (msg_size 0, flags 0, zero padded: the PCI and memory
# replies) that satisfies JQ_FILTER.
hp_empty_reply() {
	echo "$output"
	[ "$status" -eq 0 ]
	tail -n 1 <<<"$output" |
		jq -e "(.magic == 1145897216 and .msg_size == 0 and .msg_flags == 0 and .rest_zero) and ($1)"
}

# now_ms: a monotonic-enough wall clock in milliseconds.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# hp_wait_until TIMEOUT_S COMMAND...: polls COMMAND every 50 ms until it
# succeeds; fails after TIMEOUT_S, showing its last output.
hp_wait_until() {
	local timeout=$1 deadline out
	shift
	deadline=$(($(now_ms) + timeout * 1000))
	while :; do
		out=$("$@" 2>&1) && return 0
		if (($(now_ms) > deadline)); then
			echo "timed out after ${timeout} s waiting for: $* (last: $out)" >&2
			return 1
		fi
		sleep 0.05
	done
}

# hp_latency OPERATION START_MS: records now - START_MS for OPERATION.
hp_latency() {
	local ms=$(($(now_ms) - $2))
	mkdir -p "$(dirname "$E2E_LATENCY_FILE")"
	printf '%s\t%d\n' "$1" "$ms" >>"$E2E_LATENCY_FILE"
	e2e_note "latency $1: $ms ms"
}

# online_count_is N: the guest's sysfs says N CPUs are online.
online_count_is() {
	local n
	n=$(guest_status | jq -e .cpus.online_count) || return 1
	[[ $n == "$1" ]] || {
		echo "online CPUs: $n, want $1"
		return 1
	}
}
