# Shared helpers for the end-to-end bats suites. In a .bats file:
#
#   load lib                        # this file
#   teardown() { e2e_teardown; }    # stops every VM the test started
#
#   @test "..." {
#       e2e_start --machine pc --cpus 1 --maxcpus 4   # VM in $BATS_TEST_TMPDIR/vm
#       e2e_mark                                      # remember the console length
#       ... act (upcall-ctl, e2e_qmp ...) ...
#       e2e_wait_console '^UPCALL UEVENT .*"cpu' 30   # a line printed after the mark
#       e2e_assert_console_clean                      # no Oops/BUG/WARNING/panic
#   }
#
# One VM for a whole file: start it in setup_file with
#   e2e_start --dir "$BATS_FILE_TMPDIR/vm" ...   (E2E_DIR is exported)
# and stop it in teardown_file with e2e_stop "$BATS_FILE_TMPDIR/vm".
#
# Every VM's end is checked: e2e_teardown and e2e_stop fail the test if the
# console shows a kernel report (e2e_assert_console_clean), and in debug
# runs (E2E_DEBUG=1, set by `make check-debug`) they first ask the guest's
# kmemleak for leaks. A test that provokes a report on purpose calls
# e2e_console_dirty_ok.
#
# Every wait has a timeout; failures print what was seen. Variables:
#   E2E_TOP  the checkout     E2E_VM  tools/vm      E2E_DIR  the current run folder
#   E2E_BOOT_MS  boot-to-ready time of the last e2e_start, in milliseconds

E2E_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/jq_strict.bash
source "$E2E_TOP/tests/jq_strict.bash"
E2E_VM=$E2E_TOP/tools/vm
E2E_DIR=${E2E_DIR:-}
E2E_MARK=0
E2E_BOOT_MS=${E2E_BOOT_MS:-}
E2E_STARTED=()
E2E_DEBUG=${E2E_DEBUG:-0}
E2E_DIRTY_OK=0

# e2e_start [--dir RUN] [tools/vm start options...]
# Boots a VM (default run folder $BATS_TEST_TMPDIR/vm), waits for its ready
# line and makes it the current VM (E2E_DIR). Fails the test if it doesn't
# boot, with the launcher's message (which quotes the console).
e2e_start() {
	local dir=${BATS_TEST_TMPDIR:-$BATS_FILE_TMPDIR}/vm out
	if [[ ${1:-} == --dir ]]; then
		dir=$2
		shift 2
	fi
	E2E_STARTED+=("$dir")
	export E2E_DIR=$dir
	E2E_MARK=0
	if ! out=$("$E2E_VM" start --dir "$dir" "$@" 2>&1); then
		echo "$out" >&2
		return 1
	fi
	E2E_BOOT_MS=$(sed -n 's/^BOOT_TO_READY_MS=//p' "$dir/vm.env")
}

# e2e_stop [RUN]: stops a VM (default the current one) after the end-of-VM
# checks (kmemleak in debug runs, the console); fails if QEMU could not be stopped or a check
# failed.
e2e_stop() {
	local dir=${1:-$E2E_DIR} rc=0
	e2e_kmemleak_check "$dir" || rc=1
	"$E2E_VM" stop --dir "$dir" || rc=1
	e2e_assert_console_clean "$dir" || rc=1
	return $rc
}

# For teardown(): stops every VM this test started, each after its
# end-of-VM checks (kmemleak in debug runs, then the console once QEMU is
# gone). A VM that is already gone is not an error, but its console is
# still checked.
e2e_teardown() {
	local dir rc=0
	for dir in "${E2E_STARTED[@]}"; do
		[[ -d $dir ]] || continue
		e2e_kmemleak_check "$dir" || rc=1
		"$E2E_VM" stop --dir "$dir" >/dev/null 2>&1 || true
		e2e_assert_console_clean "$dir" || rc=1
	done
	E2E_STARTED=()
	E2E_DIRTY_OK=0
	return $rc
}

# e2e_console_dirty_ok: this test makes the kernel report on purpose (e.g.
# a panic); the end-of-VM console check is skipped for its VMs.
e2e_console_dirty_ok() {
	E2E_DIRTY_OK=1
}

# e2e_kmemleak_check [RUN]: in debug runs (E2E_DEBUG=1) and while the VM
# runs, has the guest's kmemleak scan twice (an object is reported only
# when it was unreferenced in a scan and unchanged since the previous one)
# and fails, quoting the report, if it found leaks. The guest must have
# been booted with agent.exec=1 (VM_APPEND of `make check-debug` has it)
# and a kernel with CONFIG_DEBUG_KMEMLEAK; a check that cannot run fails.
# Does nothing in normal runs, for a VM that is no longer running or one
# booted with another kernel than $VM_KERNEL.
e2e_kmemleak_check() {
	local dir=${1:-$E2E_DIR} reply status out
	[[ $E2E_DEBUG == 1 ]] || return 0
	"$E2E_VM" status --dir "$dir" >/dev/null 2>&1 || return 0
	# A test that boots another kernel on purpose (--kernel) is not scanned.
	[[ -z ${VM_KERNEL:-} || $(sed -n 's/^KERNEL=//p' "$dir/vm.env") == "$VM_KERNEL" ]] || return 0
	[[ -S $dir/vsock.sock ]] || {
		echo "kmemleak check of $dir: the VM has no vsock" >&2
		return 1
	}
	# The exec request's own limit is 30 s; a scan of a KASAN guest under
	# TCG takes a few seconds.
	reply=$(printf 'CONNECT 1219\nexec %s\n' "$E2E_KMEMLEAK_SCAN" |
		timeout 40 socat -t 35 - "UNIX-CONNECT:$dir/vsock.sock") || true
	reply=${reply#*$'\n'}
	status=$(jq -r .status <<<"$reply" 2>/dev/null) || status=
	out=$(jq -r .output <<<"$reply" 2>/dev/null) || out=$reply
	if [[ $status != 0 ]]; then
		echo "kmemleak check of $dir could not run (status ${status:-none}): $out" >&2
		return 1
	fi
	[[ -z $out ]] && return 0
	echo "kmemleak found leaks in $dir:" >&2
	echo "$out" >&2
	return 1
}

# The guest side of e2e_kmemleak_check: mount debugfs if needed, scan
# twice, print the report (empty when there is no leak). kmemleak reports
# only objects older than 5 s when a scan starts (MSECS_MIN_AGE) whose
# contents did not change since the scan before; two scans back to back
# would miss what the test's last request leaked, so the second one runs
# 5 s after the first.
# shellcheck disable=SC2016 # expanded by the guest shell
E2E_KMEMLEAK_SCAN='k=/sys/kernel/debug/kmemleak; [ -e $k ] || mount -t debugfs debugfs /sys/kernel/debug || exit 2; [ -e $k ] || { echo "no $k: not a kmemleak kernel"; exit 3; }; echo scan >$k && sleep 5 && echo scan >$k && cat $k'

# e2e_mark [RUN]: later e2e_wait_console calls only look at console lines
# printed after this point.
e2e_mark() {
	local dir=${1:-$E2E_DIR}
	E2E_MARK=$(wc -l <"$dir/console.log")
}

# e2e_wait_console REGEX [TIMEOUT_S [RUN]]: waits for a console line
# (grep -E) printed after the last e2e_mark; prints it.
e2e_wait_console() {
	"$E2E_VM" wait-console --dir "${3:-$E2E_DIR}" --after "$E2E_MARK" \
		--timeout "${2:-30}" "$1"
}

# e2e_console [RUN]: the console log without carriage returns.
e2e_console() {
	tr -d '\r' <"${1:-$E2E_DIR}/console.log"
}

# e2e_qmp JSON [RUN]: one QMP command; prints the "return" value as JSON.
e2e_qmp() {
	"$E2E_VM" qmp --dir "${2:-$E2E_DIR}" "$1"
}

# e2e_vsock PORT LINE [RUN]: connects to guest vsock PORT through the hybrid
# Unix socket of upcall-vsockd, sends LINE and prints the guest's reply
# (without the "OK <port>" line). Fails if the port refuses. 10 s timeout.
e2e_vsock() {
	local port=$1 line=$2 dir=${3:-$E2E_DIR} reply
	reply=$(printf 'CONNECT %s\n%s\n' "$port" "$line" |
		timeout 10 socat -t 5 - "UNIX-CONNECT:$dir/vsock.sock") || {
		echo "e2e_vsock: no answer from guest port $port ($dir/vsock.sock)" >&2
		return 1
	}
	if [[ ${reply%%$'\n'*} != OK\ * ]]; then
		echo "e2e_vsock: guest port $port refused: ${reply%%$'\n'*}" >&2
		return 1
	fi
	printf '%s\n' "${reply#*$'\n'}"
}

# Kernel reports that fail a test (grep -E): Oops, BUG (KASAN, sleeping in
# atomic context, soft lockup, workqueue lockup, list corruption), WARNING
# (WARN_ON, lockdep, suspicious RCU usage, ODEBUG), panics, hung tasks,
# RCU stalls, hard lockups, kmemleak's own findings, the OOM killer, and
# a debug checker that switched itself off.
E2E_CONSOLE_BAD='(^|[^A-Za-z_])(Oops|BUG|WARNING)([^A-Za-z_]|$)|[Kk]ernel panic'
E2E_CONSOLE_BAD+='|INFO: task .* blocked for more than|detected stalls? on CPU|self-detected stall'
E2E_CONSOLE_BAD+='|hard LOCKUP|ODEBUG:|UBSAN:|suspected memory leaks?|invoked oom-killer'
E2E_CONSOLE_BAD+='|kmemleak: .*(disabled|Cannot)|Kernel memory leak detector disabled'

# e2e_assert_console_clean [RUN]: fails if the console shows a kernel report
# (E2E_CONSOLE_BAD), quoting each matching line and the 40 lines from the
# first one (the report itself). Skipped after e2e_console_dirty_ok.
e2e_assert_console_clean() {
	local dir=${1:-$E2E_DIR} bad first
	[[ $E2E_DIRTY_OK == 1 ]] && return 0
	bad=$(e2e_console "$dir" | grep -E -n "$E2E_CONSOLE_BAD") || return 0
	echo "kernel errors on the console of $dir:" >&2
	echo "$bad" | head -n 20 >&2
	first=${bad%%:*}
	echo "--- console from line $first:" >&2
	e2e_console "$dir" | sed -n "${first},$((first + 39))p" >&2
	return 1
}

# e2e_wait_exit [TIMEOUT_S [RUN]]: waits for the VM's QEMU to exit on its
# own (e.g. after the guest rebooted with -no-reboot).
e2e_wait_exit() {
	local timeout=${1:-30} dir=${2:-$E2E_DIR} pid i
	pid=$(sed -n 's/^QEMU_PID=//p' "$dir/vm.env")
	for ((i = 0; i < timeout * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "QEMU $pid of $dir still runs after ${timeout} s" >&2
	return 1
}

# e2e_note TEXT: a figure for the TAP output (shown as a "# " line).
e2e_note() {
	echo "# $*" >&3
}
