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
# Every wait has a timeout; failures print what was seen. Variables:
#   E2E_TOP  the checkout     E2E_VM  tools/vm      E2E_DIR  the current run folder
#   E2E_BOOT_MS  boot-to-ready time of the last e2e_start, in milliseconds

E2E_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
E2E_VM=$E2E_TOP/tools/vm
E2E_DIR=${E2E_DIR:-}
E2E_MARK=0
E2E_BOOT_MS=${E2E_BOOT_MS:-}
E2E_STARTED=()

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

# e2e_stop [RUN]: stops a VM (default the current one).
e2e_stop() {
	"$E2E_VM" stop --dir "${1:-$E2E_DIR}"
}

# For teardown(): stops every VM this test started; never fails the test
# for a VM that is already gone.
e2e_teardown() {
	local dir
	for dir in "${E2E_STARTED[@]}"; do
		if [[ -d $dir ]]; then
			"$E2E_VM" stop --dir "$dir" >/dev/null 2>&1 || true
		fi
	done
	E2E_STARTED=()
}

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

# e2e_assert_console_clean [RUN]: fails, quoting the lines, if the kernel
# reported an Oops, BUG, WARNING or panic.
e2e_assert_console_clean() {
	local bad
	bad=$(e2e_console "${1:-}" | grep -E -n \
		'(^|[^A-Za-z_])(Oops|BUG|WARNING)([^A-Za-z_]|$)|[Kk]ernel panic') || return 0
	echo "kernel errors on the console of ${1:-$E2E_DIR}:" >&2
	echo "$bad" >&2
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
