#!/usr/bin/env bats
# The guest agent as PID 1 in real guests (docs/agent.md):
# - busybox's poweroff, reboot and halt (without -f they only signal PID 1)
#   are handled as init handles them: children stopped, sync, reboot(2);
# - the status service takes reboot and exec only from the host (CID 2),
#   guest-local peers only with agent.trust_local=1;
# - a command flooding its output (exec yes) holds neither PID 1 nor the
#   other clients.
# Needs build/guest/bzImage, the initramfs and (for the service tests)
# build/bin/upcall-vsockd.

load lib

setup_file() {
	[[ -r ${VM_KERNEL:-$E2E_TOP/build/guest/bzImage} ]] || skip "no build/guest/bzImage"
	[[ -r ${VM_INITRD:-$E2E_TOP/build/guest/initramfs.cpio.gz} ]] || skip "no initramfs"
}

teardown() {
	e2e_teardown
	if [[ -f $BATS_TEST_TMPDIR/client.pid ]]; then
		kill "$(cat "$BATS_TEST_TMPDIR/client.pid")" 2>/dev/null || true
	fi
}

need_vsockd() {
	[[ -x $E2E_TOP/build/bin/upcall-vsockd ]] || skip "build/bin/upcall-vsockd not built"
}

# initramfs_with_script OUT BODY: the real initramfs followed by a cpio
# holding BODY as /agent-test/script.sh (the kernel unpacks concatenated
# archives in turn).
initramfs_with_script() {
	local out=$1 body=$2 root=$BATS_TEST_TMPDIR/extra
	mkdir -p "$root/agent-test"
	printf '%s\n' "$body" >"$root/agent-test/script.sh"
	cp "${VM_INITRD:-$E2E_TOP/build/guest/initramfs.cpio.gz}" "$out"
	(cd "$root" && find agent-test | cpio -o -H newc --quiet | gzip) >>"$out"
}

# A script child that says so when it gets SIGTERM: proves the agent stops
# the children before it reboots. `sleep 1` first, so the trap is set.
CHILD='sh -c "trap \"echo CHILD-GOT-TERM; exit 0\" TERM; while :; do sleep 1; done" &
sleep 1'

# boot_script MACHINE BODY: boots MACHINE running BODY as the test script.
boot_script() {
	initramfs_with_script "$BATS_TEST_TMPDIR/initrd" "$2"
	e2e_start --machine "$1" --no-vsock --initrd "$BATS_TEST_TMPDIR/initrd" \
		--append agent.script=/agent-test/script.sh
}

# console_order A B: line matching A comes before a line matching B.
console_order() {
	local a b
	a=$(e2e_console | grep -n -m1 -E "$1" | cut -d: -f1)
	b=$(e2e_console | grep -n -m1 -E "$2" | cut -d: -f1)
	[[ -n $a && -n $b ]] && ((a < b)) || {
		echo "expected /$1/ (line ${a:-none}) before /$2/ (line ${b:-none}):" >&2
		e2e_console | tail -n 30 >&2
		return 1
	}
}

poweroff_ends_vm() {
	boot_script "$1" "$CHILD
echo AGENT-TEST-POWEROFF
poweroff
sleep 60"
	e2e_wait_exit 30
	console_order '^agent: SIGUSR2: poweroff' '^CHILD-GOT-TERM'
	# the script's shell is stopped too (SIGTERM: 128 + 15)
	e2e_console | grep -q '^UPCALL SCRIPT-EXIT .*"status":143'
	console_order '^CHILD-GOT-TERM' '^agent: poweroff: no power-off method'
	e2e_assert_console_clean
}

@test "pc: poweroff (busybox, no -f) stops the children, then ends the VM" {
	poweroff_ends_vm pc
}

@test "microvm: poweroff (busybox, no -f) stops the children, then ends the VM" {
	poweroff_ends_vm microvm
}

@test "microvm: reboot (busybox, no -f) stops the children, then ends the VM" {
	boot_script microvm "$CHILD
reboot
sleep 60"
	e2e_wait_exit 30
	console_order '^agent: SIGTERM: reboot' '^CHILD-GOT-TERM'
	console_order '^CHILD-GOT-TERM' 'reboot: Restarting system'
	e2e_assert_console_clean
}

@test "pc: halt (busybox, no -f) stops the children and halts; QEMU stays until stopped" {
	local pid
	boot_script pc "$CHILD
halt
sleep 60"
	e2e_wait_console 'reboot: System halted' 30
	console_order '^agent: SIGUSR1: halt' '^CHILD-GOT-TERM'
	# a halted machine does not end QEMU: it waits to be stopped
	pid=$(sed -n 's/^QEMU_PID=//p' "$E2E_DIR/vm.env")
	sleep 2
	kill -0 "$pid"
	e2e_assert_console_clean
	e2e_stop
}

# guest_local REQUEST...: the reply of agent-query REQUEST run in the guest
# (a guest-local client, vsock loopback) through the host's exec request.
guest_local() {
	local reply
	reply=$(e2e_vsock 1219 "exec agent-query $*") || return 1
	python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["output"], end="")' "$reply"
}

@test "status service: exec and reboot only from the host; guest-local peers get a refusal" {
	need_vsockd
	e2e_start --machine pc --append "agent.exec=1"
	local out
	# the host (CID 2) may use exec: the outer request runs
	out=$(e2e_vsock 1219 'exec echo from-host')
	[[ $out == '{"status":0,"output":"from-host\n"}' ]] || { echo "$out" >&2; false; }
	# guest-local peers, over CID 1 and over the guest's own CID
	for cid in 1 3; do
		# (loopback reports the peer as CID 1 whichever CID it dialled)
		out=$(guest_local -c $cid exec echo local)
		[[ $out == *'"error":"exec and reboot are only accepted from the host (CID 2), not from CID '*'agent.trust_local=1'* ]] ||
			{ echo "CID $cid exec: $out" >&2; false; }
		out=$(guest_local -c $cid reboot)
		[[ $out == *'"error":"exec and reboot are only accepted from the host'* ]] ||
			{ echo "CID $cid reboot: $out" >&2; false; }
		# status stays open to everyone
		out=$(guest_local -c $cid status)
		[[ $out == '{"version":'* ]] || { echo "CID $cid status: $out" >&2; false; }
	done
	# the refused reboot did nothing: the agent still answers
	out=$(e2e_vsock 1219 status)
	[[ $out == '{"version":'* ]]
	e2e_assert_console_clean
}

@test "status service: agent.trust_local=1 admits guest-local peers; the host's reboot ends the VM" {
	need_vsockd
	e2e_start --machine microvm --append "agent.exec=1 agent.trust_local=1"
	local out
	e2e_console | grep -q '^UPCALL READY .*"trust_local":true'
	out=$(guest_local -c 1 exec echo local)
	[[ $out == '{"status":0,"output":"local\n"}'* ]] || { echo "$out" >&2; false; }
	out=$(e2e_vsock 1219 reboot)
	[[ $out == '{"ok":true}' ]]
	e2e_wait_exit 30
	e2e_console | grep -q '^agent: reboot requested by the host'
	e2e_assert_console_clean
}

@test "status service: exec yes (endless output) holds neither PID 1 nor other clients" {
	need_vsockd
	e2e_start --machine pc --append "agent.exec=1"
	local i out
	printf 'CONNECT 1219\nexec yes\n' |
		timeout 60 socat -t 60 - "UNIX-CONNECT:$E2E_DIR/vsock.sock" \
			>"$BATS_TEST_TMPDIR/yes.out" &
	echo $! >"$BATS_TEST_TMPDIR/client.pid"
	# while yes runs (or is being killed), other clients get answers
	for i in 1 2 3; do
		out=$(e2e_vsock 1219 status)
		[[ $out == '{"version":'* ]] || { echo "status $i: $out" >&2; false; }
	done
	wait "$(cat "$BATS_TEST_TMPDIR/client.pid")"
	rm -f "$BATS_TEST_TMPDIR/client.pid"
	# the reply: the first 64 KiB, killed for its output, not for the 30 s
	python3 - "$BATS_TEST_TMPDIR/yes.out" <<'EOF'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0].startswith("OK "), lines[0]
r = json.loads(lines[1])
assert r["truncated"] is True and r["output_limit"] is True, {k: v for k, v in r.items() if k != "output"}
assert r["status"] == 137 and r["signal"] == 9 and "timeout" not in r, r["status"]
assert len(r["output"]) == 65536 and set(r["output"]) == {"y", "\n"}, len(r["output"])
EOF
	# nothing of it is left running
	out=$(e2e_vsock 1219 'exec pidof yes; echo rc=$?')
	[[ $out == '{"status":0,"output":"rc=1\n"}' ]] || { echo "$out" >&2; false; }
	e2e_assert_console_clean
}
