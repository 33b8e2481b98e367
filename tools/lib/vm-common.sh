# shellcheck shell=bash
# Helpers shared by the tools/vm subcommands (sourced, not run).

vm_die() {
	echo "vm: error: $*" >&2
	exit 1
}

vm_log() {
	echo "vm: $*" >&2
}

# Milliseconds since the epoch, for the boot-to-ready figure.
vm_now_ms() {
	date +%s%3N
}

# True if PID runs and its command line contains every further argument
# (so a pid file never makes us signal a process that merely reused the pid).
vm_pid_is() {
	local pid=$1 cmdline word
	shift
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	for word in "$@"; do
		[[ $cmdline == *"$word"* ]] || return 1
	done
}

vm_read_pid() {
	local file=$1
	[[ -s $file ]] && tr -dc '0-9' <"$file"
}

# The QEMU of run folder $1 if it still runs, else nothing.
vm_qemu_pid() {
	local dir=$1 pid
	pid=$(vm_read_pid "$dir/qemu.pid") || return 1
	vm_pid_is "$pid" qemu-system " unix:$dir/qmp.sock," && echo "$pid"
}

vm_vsockd_pid() {
	local dir=$1 pid
	pid=$(vm_read_pid "$dir/vsockd.pid") || return 1
	vm_pid_is "$pid" upcall-vsockd " --uds-path $dir/vsock.sock " && echo "$pid"
}

# Parses "--dir RUN" out of the arguments of every subcommand.
vm_need_dir() {
	[[ -n ${VM_DIR:-} ]] || vm_die "--dir RUN is required"
	VM_DIR=$(realpath -m "$VM_DIR")
}

vm_qmp() {
	local VM_DIR='' args=()
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir) VM_DIR=$2; shift 2 ;;
		-h | --help)
			echo "Usage: tools/vm qmp --dir RUN JSON | --hmp 'monitor command' | --mmio-map"
			return 0 ;;
		*) args+=("$1"); shift ;;
		esac
	done
	vm_need_dir
	[[ ${#args[@]} -gt 0 ]] || vm_die "qmp: give a JSON command"
	python3 "$VM_TOOLS/lib/qmp.py" "$VM_DIR/qmp.sock" "${args[@]}"
}

# Waits until console.log of RUN has a line (after the first --after
# lines) matching an extended regex; prints that line.
vm_wait_console() {
	local VM_DIR='' regex='' timeout=60 after=0 quiet=0
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir) VM_DIR=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--after) after=$2; shift 2 ;;
		--quiet) quiet=1; shift ;;
		-h | --help)
			echo "Usage: tools/vm wait-console --dir RUN [--timeout S] [--after LINES] [--quiet] REGEX"
			echo "Waits (default 60 s) for a console line matching REGEX (grep -E), ignoring the"
			echo "first LINES lines; prints the line. Fails when QEMU exits or time runs out."
			return 0 ;;
		*) [[ -z $regex ]] || vm_die "wait-console: one REGEX only"; regex=$1; shift ;;
		esac
	done
	vm_need_dir
	[[ -n $regex ]] || vm_die "wait-console: give a REGEX"
	vm_wait_console_in "$VM_DIR" "$regex" "$timeout" "$after" || {
		[[ $quiet -eq 1 ]] || vm_console_tail "$VM_DIR" >&2
		return 1
	}
}

# Core of wait-console, also used by start. Prints the matching line.
vm_wait_console_in() {
	local dir=$1 regex=$2 timeout=$3 after=$4 deadline line
	deadline=$(($(vm_now_ms) + ${timeout%.*} * 1000))
	while :; do
		if [[ -f $dir/console.log ]] &&
			line=$(tail -n "+$((after + 1))" "$dir/console.log" | tr -d '\r' | grep -E -m1 -- "$regex"); then
			echo "$line"
			return 0
		fi
		if ! vm_qemu_pid "$dir" >/dev/null; then
			# A last look: QEMU may have printed the line and exited.
			if [[ -f $dir/console.log ]] &&
				line=$(tail -n "+$((after + 1))" "$dir/console.log" | tr -d '\r' | grep -E -m1 -- "$regex"); then
				echo "$line"
				return 0
			fi
			vm_log "QEMU of $dir is not running (waiting for /$regex/)"
			return 1
		fi
		if [[ $(vm_now_ms) -ge $deadline ]]; then
			vm_log "timeout after ${timeout} s waiting for /$regex/ on the console of $dir"
			return 1
		fi
		sleep 0.1
	done
}

vm_console_tail() {
	local dir=$1
	echo "---- last console lines ($dir/console.log) ----"
	tail -n 20 "$dir/console.log" 2>/dev/null | tr -d '\r' || true
	echo "----"
}

vm_status() {
	local VM_DIR='' pid
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir) VM_DIR=$2; shift 2 ;;
		-h | --help) echo "Usage: tools/vm status --dir RUN"; return 0 ;;
		*) vm_die "status: unknown argument $1" ;;
		esac
	done
	vm_need_dir
	[[ -f $VM_DIR/vm.env ]] && cat "$VM_DIR/vm.env"
	if pid=$(vm_qemu_pid "$VM_DIR"); then
		echo "STATE=running"
	else
		echo "STATE=stopped"
		return 3
	fi
}
