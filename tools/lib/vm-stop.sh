# shellcheck shell=bash
# tools/vm stop (sourced by tools/vm).

# Waits up to $2 tenths of a second for pid $1 to exit.
vm_wait_exit() {
	local pid=$1 tenths=$2 i
	for ((i = 0; i < tenths; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null
}

# Stops what the run folder's pid files name, and nothing else: each pid
# is checked to still be that folder's QEMU or upcall-vsockd.
vm_stop_quiet() {
	local dir=$1 pid rc=0
	if pid=$(vm_qemu_pid "$dir"); then
		python3 "$VM_TOOLS/lib/qmp.py" --timeout 5 "$dir/qmp.sock" '{"execute":"quit"}' >/dev/null 2>&1 || true
		if ! vm_wait_exit "$pid" 100; then
			vm_log "QEMU $pid ignored QMP quit; sending SIGTERM"
			kill -TERM "$pid" 2>/dev/null || true
			if ! vm_wait_exit "$pid" 50; then
				vm_log "QEMU $pid ignored SIGTERM; sending SIGKILL"
				kill -KILL "$pid" 2>/dev/null || true
				vm_wait_exit "$pid" 50 || { vm_log "QEMU $pid does not die"; rc=1; }
			fi
		fi
	fi
	if pid=$(vm_vsockd_pid "$dir"); then
		kill -TERM "$pid" 2>/dev/null || true
		if ! vm_wait_exit "$pid" 50; then
			vm_log "upcall-vsockd $pid ignored SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			vm_wait_exit "$pid" 50 || { vm_log "upcall-vsockd $pid does not die"; rc=1; }
		fi
	fi
	rm -f "$dir/qemu.pid" "$dir/vsockd.pid"
	return $rc
}

vm_stop() {
	local VM_DIR=''
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir) VM_DIR=$2; shift 2 ;;
		-h | --help)
			echo "Usage: tools/vm stop --dir RUN"
			echo "QMP quit, then SIGTERM, then SIGKILL, for the QEMU and upcall-vsockd"
			echo "named by RUN's pid files; the console log stays."
			return 0 ;;
		*) vm_die "stop: unknown argument $1" ;;
		esac
	done
	vm_need_dir
	[[ -d $VM_DIR ]] || vm_die "stop: no run folder $VM_DIR"
	vm_stop_quiet "$VM_DIR"
}
