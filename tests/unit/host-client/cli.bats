#!/usr/bin/env bats
# upcall-ctl as a user sees it: help, usage errors, exit codes, --json on
# every path (checked with jq), against fake-vm (a run folder without a VM).

bats_require_minimum_version 1.5.0

load cli_lib

@test "--help lists every subcommand and exits 0" {
	run "$CTL" --help
	[[ $status -eq 0 ]]
	for s in cpu mmio status wait-ready; do
		grep -q "^  $s " <<<"$output"
	done
	grep -q 'Exit status' <<<"$output"
}

@test "each subcommand has its own --help" {
	for s in cpu mmio status wait-ready; do
		run "$CTL" "$s" --help
		[[ $status -eq 0 ]]
		grep -q "^Usage: upcall-ctl \[OPTIONS\] $s" <<<"$output"
	done
	run "$CTL" cpu add --help
	[[ $status -eq 0 && $output == *"--apic-id"* ]]
	run_json mmio --help
	[[ $status -eq 0 ]]
	jq -e '.usage | contains("--device")' <<<"$output"
}

@test "--version" {
	run "$CTL" --version
	[[ $status -eq 0 && $output =~ ^upcall-ctl\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
	run_json --version
	jq -e '.version | test("^[0-9.]+$")' <<<"$output"
}

@test "usage errors exit 2, with a message on stderr" {
	usage_errors <<'EOF2'

bogus
--bogus cpu add
--timeout abc status
--timeout 0 status
cpu
cpu frob
cpu add 0
cpu add 256
cpu add 1 2
cpu add --apic-id 256
cpu add --apic-id 3,3
cpu add 2
mmio add
mmio add --base 0x1000 --size 0x200
mmio add --base 0x1000 --size 0 --irq 5
mmio add --base 0xfffffffffffff000 --size 0x2000 --irq 5
mmio add --base zz --size 1 --irq 5
mmio add --device d1
status extra
wait-ready extra
EOF2
}

@test "usage errors with --json: one JSON object, exit 2" {
	run_json cpu add 0
	[[ $status -eq 2 ]]
	jq -e '.usage_error == true and .errno == 22' <<<"$output"
	run_json bogus
	[[ $status -eq 2 ]]
	run_json
	[[ $status -eq 2 ]]
}

@test "missing socket: exit 3, JSON error with errno ENOENT" {
	for cmd in "cpu add --apic-id 1" "cpu del --apic-id 1" \
		"mmio add --base 0xfeb00000 --size 0x200 --irq 5" status; do
		run_json --uds "$BATS_TEST_TMPDIR/none.sock" $cmd
		[[ $status -eq 3 ]]
		jq -e '.errno == 2 and (.error | contains("none.sock"))' <<<"$output"
	done
	run --separate-stderr "$CTL" --uds "$BATS_TEST_TMPDIR/none.sock" status
	[[ $status -eq 3 && -z $output && $stderr == *"No such file"* ]]
}

@test "missing QMP socket: exit 4" {
	start_fake
	run_json --uds "$RUN/vsock.sock" --qmp "$BATS_TEST_TMPDIR/noqmp.sock" cpu add 1
	[[ $status -eq 4 ]]
}

@test "wait-ready: succeeds on a ready guest, times out (exit 3) without one" {
	start_fake
	run_json --run "$RUN" wait-ready --timeout 5
	[[ $status -eq 0 ]]
	jq -e '.attempts == 1' <<<"$output"
	local t0=$SECONDS
	run_json --uds "$BATS_TEST_TMPDIR/none.sock" wait-ready --timeout 0.5
	[[ $status -eq 3 ]]
	jq -e '.attempts >= 2' <<<"$output"
	((SECONDS - t0 < 5))
}

@test "wait-ready: a wrong greeting never counts as ready" {
	start_fake --bad-greeting
	run_json --run "$RUN" wait-ready --timeout 1
	[[ $status -eq 3 ]]
	jq -e '.error | contains("greeting")' <<<"$output"
}

@test "cpu add 2 / cpu del 1 through QMP and the guest" {
	start_fake
	run_json --run "$RUN" cpu add 2
	[[ $status -eq 0 ]]
	jq -e '.apic_ids == [1,2] and .devices == ["upcall-cpu-1","upcall-cpu-2"] and .guest.ret == 0 and .guest.apic_index == 2' <<<"$output"
	run_json --run "$RUN" cpu del 1
	[[ $status -eq 0 ]]
	jq -e '.apic_ids == [2] and .released == [2] and .removed == ["upcall-cpu-2"]' <<<"$output"
	run "$CTL" --run "$RUN" cpu add 1
	[[ $status -eq 0 && $output == "added vCPU upcall-cpu-2 (APIC ID 2)" ]]
}

@test "-vv: every progress line starts with a CLOCK_MONOTONIC time, in order; -v has none" {
	start_fake
	run --separate-stderr "$CTL" -vv --run "$RUN" cpu add 2
	[[ $status -eq 0 ]]
	# the steps tests/bench/hotplug-bench.py times
	for step in "QMP: connected" "QMP: .* vCPU slots" "device manager greeting OK" \
		"vCPU upcall-cpu-2: APIC ID 2" "sending ADD_CPU with 2 APIC IDs" "ADD_CPU answered: reply"; do
		grep -Eq "^upcall-ctl: \[[0-9]+\.[0-9]{6}\] $step\$" <<<"$stderr"
	done
	! grep -v '^upcall-ctl: \[[0-9]*\.[0-9]\{6\}\] ' <<<"$stderr"
	sed 's/^upcall-ctl: \[\([0-9.]*\)\].*/\1/' <<<"$stderr" | sort -c -g
	run --separate-stderr "$CTL" -v --run "$RUN" cpu del 1
	[[ $status -eq 0 ]]
	grep -q '^upcall-ctl: DEL_CPU answered: reply$' <<<"$stderr"
	! grep -q '^upcall-ctl: \[' <<<"$stderr"
}

@test "cpu add: the guest takes 1 of 3, the other 2 are rolled back (exit 1)" {
	start_fake --cpu-accept 1
	run_json --run "$RUN" cpu add 3
	[[ $status -eq 1 ]]
	jq -e '.accepted == [1] and .rolled_back == ["upcall-cpu-2","upcall-cpu-3"] and .guest.apic_index == 1 and .errno == 16' <<<"$output"
}

# The tester's case: QEMU (pc, no ACPI unplug) keeps vCPUs 5 and 6 that the
# guest released; the guest refuses a DEL_CPU naming them as a whole
# (-ENODEV, apic_index 0) without saying which.
@test "cpu del COUNT skips vCPUs the guest released; a whole-batch refusal names no wrong ID" {
	start_fake --slots 8 --track-cpus --refuse-device-del
	run_json --run "$RUN" cpu add 7
	[[ $status -eq 0 ]]
	run_json --run "$RUN" cpu del --apic-id 5,6
	[[ $status -eq 0 ]]
	jq -e '.released == [5,6] and .removed_failed == ["upcall-cpu-5","upcall-cpu-6"]' <<<"$output"
	run_json --run "$RUN" cpu del 3
	[[ $status -eq 0 ]]
	jq -e '.released == [7,4,3] and .absent == [6,5] and (has("refused") | not)' <<<"$output"
	# Only 1 and 2 are left in the guest: 2 released, then nothing.
	run_json --run "$RUN" cpu del 3
	[[ $status -eq 1 ]]
	jq -e '.released == [2,1] and .errno == 19 and (.error | test("success") | not)' <<<"$output"
	run --separate-stderr "$CTL" --run "$RUN" cpu del 1
	[[ $status -eq 1 && $stderr != *": success"* && $stderr == *"no CPU with APIC ID"* ]]
}

@test "cpu del --apic-id: an absent ID refused as a whole is named, not the present one" {
	start_fake --slots 8 --track-cpus --refuse-device-del
	run_json --run "$RUN" cpu add 5
	[[ $status -eq 0 ]]
	run_json --run "$RUN" cpu del --apic-id 5
	[[ $status -eq 0 ]]
	run_json --run "$RUN" cpu del --apic-id 3,5
	[[ $status -eq 1 ]]
	jq -e '.released == [3] and .absent == [5] and (has("refused") | not) and .errno == 19' <<<"$output"
	jq -e '.error | test("APIC ID 5")' <<<"$output"
	# Without QMP the same batches go to the guest.
	run_json --uds "$RUN/vsock.sock" cpu del --apic-id 4,5
	[[ $status -eq 1 ]]
	jq -e '.released == [4] and .absent == [5]' <<<"$output"
}

@test "--port and --agent-port: 32-bit vsock ports, VMADDR_PORT_ANY refused" {
	run "$CTL" --uds /nonexistent --port 4294967295 wait-ready
	[[ $status -eq 2 && $output == *"--port: not a vsock port"* ]]
	run "$CTL" --uds /nonexistent status --agent-port 4294967295
	[[ $status -eq 2 && $output == *"--agent-port: not a vsock port"* ]]
	run "$CTL" --uds /nonexistent --port 4294967296 wait-ready
	[[ $status -eq 2 ]]
	start_fake
	run "$CTL" --uds "$RUN/vsock.sock" status --agent-port 70000
	[[ $status -eq 3 && $output != *"not a vsock port"* ]]
}

@test "cpu add --apic-id 0 says it is the boot CPU" {
	start_fake
	run --separate-stderr "$CTL" --run "$RUN" cpu add --apic-id 0
	[[ $status -eq 4 && $stderr == *"APIC ID 0 is the boot CPU"* ]]
}

@test "cpu add --apic-id without QMP only tells the guest" {
	start_fake
	run_json --uds "$RUN/vsock.sock" cpu add --apic-id 5 6,7
	[[ $status -eq 0 ]]
	jq -e '.apic_ids == [5,6,7]' <<<"$output"
}

@test "mmio add/del by --device and explicitly" {
	start_fake
	run_json --run "$RUN" mmio add --device d1
	[[ $status -eq 0 ]]
	jq -e '.mmio == {"base": 4272947200, "size": 512, "irq": 5} and .qemu_type == "virtio-blk-device"' <<<"$output"
	run_json --uds "$RUN/vsock.sock" mmio del --base 0xfeb00000 --size 0x200 --irq 5
	[[ $status -eq 0 ]]
	run_json --run "$RUN" mmio add --device nosuch
	[[ $status -eq 4 ]]
}

@test "mmio add refused by the guest: exit 1 with its errno" {
	start_fake --mmio-ret 17
	run_json --run "$RUN" mmio add --device d1
	[[ $status -eq 1 ]]
	jq -e '.errno == 17 and .guest.ret == -17' <<<"$output"
	run --separate-stderr "$CTL" --run "$RUN" mmio add --device d1
	[[ $status -eq 1 && $stderr == *"File exists"* ]]
}

@test "status: JSON and human summary; a non-JSON reply is an error" {
	start_fake
	run_json --run "$RUN" status
	[[ $status -eq 0 ]]
	jq -e '.status.ready == true and .status.cpus_online == 1' <<<"$output"
	run "$CTL" --run "$RUN" status
	[[ $status -eq 0 ]]
	grep -Eq '^ready +true$' <<<"$output"
	teardown
	start_fake --status 'not json'
	run_json --run "$RUN" status
	[[ $status -eq 3 ]]
	jq -e '.error | contains("not a JSON object")' <<<"$output"
}

@test "status: the agent's status shape, summarised; its error reply exits 1" {
	start_fake --status '{"version":"0.1.0","kernel":"6.12.117","uptime_ms":2750,"cpus":{"online":"0-1","online_count":2,"present":"0-1","present_count":2,"possible":"0-7","possible_count":8},"virtio":[{"name":"virtio0","device_id":2,"type":"block","driver":"virtio_blk","parent":"virtio-mmio.0","transport":"mmio","mmio_size":512,"mmio_base":"0xfeb00e00","irq":12}],"block":[{"name":"vda","size_bytes":67108864,"device":"virtio0"}]}'
	run "$CTL" --run "$RUN" status
	[[ $status -eq 0 ]]
	grep -Fxq 'cpus       online 0-1 (2), present 0-1 (2), possible 0-7 (8)' <<<"$output"
	grep -Fxq 'virtio     virtio0 block driver virtio_blk mmio 0xfeb00e00+512 irq 12' <<<"$output"
	grep -Fxq 'block      vda 67108864 bytes on virtio0' <<<"$output"
	run_json --run "$RUN" status
	jq -e '.status.virtio[0].irq == 12' <<<"$output"
	teardown
	start_fake --status '{"error":"unknown request"}'
	run_json --run "$RUN" status
	[[ $status -eq 1 ]]
	jq -e '.error == "agent: unknown request"' <<<"$output"
}

@test "a silent guest: timeout, exit 3" {
	start_fake --silent
	run_json --run "$RUN" --timeout 0.3 mmio add --device d1
	[[ $status -eq 3 ]]
	jq -e '.errno == 110' <<<"$output"
}

@test "man page renders with man -l" {
	run env MANPAGER=cat MANWIDTH=80 man -l "$MAN"
	[[ $status -eq 0 ]]
	grep -q 'EXIT STATUS' <<<"$output"
	grep -q 'upcall-ctl' <<<"$output"
	run env MANPAGER=cat man --warnings -l "$MAN"
	[[ $status -eq 0 ]]
}

@test "--cid (kernel AF_VSOCK) to an absent guest: exit 3 with a JSON error" {
	# No guest has CID 3 here (this host has no vhost-vsock either): the
	# connect fails or times out, both exit 3.
	run_json --cid 3 --timeout 0.5 cpu add --apic-id 1
	[[ $status -eq 3 ]]
	jq -e '.error | contains("vsock 3:219")' <<<"$output"
}

@test "a Kata-shaped refusal (msg_size 0, ret -22) is a refusal: exit 1, not 3" {
	# The guest answers ADD_CPU with {0x444D0100, 0, 1, 0, ret -22}.
	start_fake --kata --cpu-accept 0 --cpu-errno 22
	run --separate-stderr "$CTL" --uds "$RUN/vsock.sock" cpu add --apic-id 1
	echo "exit $status: $stderr" >&3
	[[ $status -eq 1 && $stderr == *"guest refused ADD_CPU"*"Invalid argument"* ]]
	[[ $stderr != *malformed* ]]
	run_json --uds "$RUN/vsock.sock" cpu add --apic-id 1
	[[ $status -eq 1 ]]
	jq -e '.errno == 22 and .guest.ret == -22 and .guest.apic_index == null and .unknown_apic_ids == [1]' <<<"$output"
}

@test "--qmp with a refusal that does not say how far it got: nothing removed, vCPUs named as unknown" {
	start_fake --kata --cpu-accept 0 --cpu-errno 16
	run_json --run "$RUN" cpu add 2
	[[ $status -eq 1 ]]
	jq -e '.unknown == ["upcall-cpu-1","upcall-cpu-2"] and .unknown_apic_ids == [1,2] and (has("rolled_back") | not)' <<<"$output"
	run --separate-stderr "$CTL" --run "$RUN" cpu add 1
	echo "exit $status: $stderr" >&3
	[[ $status -eq 1 ]]
	grep -q 'unknown state.*upcall-cpu-3 (APIC ID 3)' <<<"$stderr"
	# The vCPUs stay in QEMU: all 3 non-boot slots are used now.
	# A vCPU QEMU kept is announced again; refused, it is not removed.
	run_json --run "$RUN" cpu add --apic-id 1
	[[ $status -eq 1 ]]
	jq -e '.unknown == ["upcall-cpu-1"] and .rolled_back == null' <<<"$output"
}

# lock_held FILE: some process holds an flock on FILE.
lock_held() {
	! flock -n "$1" true
}

@test "two runs against one VM do not interleave: the second waits for the lock, or says who holds it" {
	start_fake --reply-delay-ms 1500
	"$CTL" --run "$RUN" --json cpu add 1 >"$BATS_TEST_TMPDIR/a.json" 2>&1 3>&- &
	local a=$!
	for _ in $(seq 100); do
		lock_held "$RUN/qmp.sock.lock" && break
		sleep 0.02
	done
	lock_held "$RUN/qmp.sock.lock"
	lock_held "$RUN/vsock.sock.lock"
	run_json --run "$RUN" --lock-wait 0.2 cpu add 1
	[[ $status -eq 3 ]]
	jq -e --arg pid "$a" '.errno == 16 and (.error | contains("pid " + $pid) and contains("qmp.sock.lock") and contains("--lock-wait"))' <<<"$output"
	# A run that may wait gets its turn after the first one.
	run_json --run "$RUN" --lock-wait 10 cpu add 1
	[[ $status -eq 0 ]]
	wait "$a"
	jq -e '.ok == true and .devices == ["upcall-cpu-1"]' "$BATS_TEST_TMPDIR/a.json"
	jq -e '.devices == ["upcall-cpu-2"]' <<<"$output"
	# The guest-only path locks the guest's socket too; --no-lock does not.
	flock "$RUN/vsock.sock.lock" sleep 1 3>&- &
	local holder=$!
	for _ in $(seq 100); do
		lock_held "$RUN/vsock.sock.lock" && break
		sleep 0.02
	done
	run_json --uds "$RUN/vsock.sock" --lock-wait 0.1 cpu add --apic-id 7
	[[ $status -eq 3 ]]
	run_json --uds "$RUN/vsock.sock" --no-lock cpu add --apic-id 7
	[[ $status -eq 0 ]]
	wait "$holder"
}

# bg_ctl NAME ARGS...: upcall-ctl --json ARGS in the background, its JSON
# in $BATS_TEST_TMPDIR/NAME.json; BG_PID is its pid.
bg_ctl() {
	local name=$1
	shift
	"$CTL" --json "$@" >"$BATS_TEST_TMPDIR/$name.json" 2>"$BATS_TEST_TMPDIR/$name.err" 3>&- &
	BG_PID=$!
}

# wait_lock FILE: until some process holds the flock on FILE (2 s at most).
wait_lock() {
	for _ in $(seq 100); do
		lock_held "$1" && return 0
		sleep 0.02
	done
	return 1
}

@test "SIGTERM while waiting for the VM's lock: a clear JSON error, exit 143, nothing done" {
	start_fake
	flock "$RUN/qmp.sock.lock" sleep 5 3>&- &
	local holder=$!
	wait_lock "$RUN/qmp.sock.lock"
	bg_ctl a --run "$RUN" --lock-wait 10 cpu add 1
	sleep 0.3
	local t0=$SECONDS rc=0
	kill -TERM "$BG_PID"
	wait "$BG_PID" || rc=$?
	echo "exit $rc after $((SECONDS - t0)) s: $(cat "$BATS_TEST_TMPDIR/a.json")" >&3
	[[ $rc -eq 143 && $((SECONDS - t0)) -le 1 ]]
	jq -e '.ok == false and .exit_code == 143 and .errno == 4 and (.error | startswith("SIGTERM:") and contains("nothing was done"))' \
		"$BATS_TEST_TMPDIR/a.json"
	kill "$holder"
	wait "$holder" || true
	# Nothing was created: the next add gets the first slot.
	run_json --run "$RUN" cpu add 1
	jq -e '.devices == ["upcall-cpu-1"]' <<<"$output"
}

@test "SIGINT while the guest answers: the run finishes, names what it added; a second SIGINT ends it at once" {
	start_fake --reply-delay-ms 1500
	bg_ctl a --run "$RUN" cpu add 1
	wait_lock "$RUN/qmp.sock.lock"
	sleep 0.5 # device_add is done, ADD_CPU is in flight
	local rc=0
	kill -INT "$BG_PID"
	wait "$BG_PID" || rc=$?
	echo "exit $rc: $(cat "$BATS_TEST_TMPDIR/a.json")" >&3
	# Stopping now would leave a vCPU the guest may run on unnamed: the
	# guest's answer decides, and the run reports it.
	[[ $rc -eq 0 ]]
	jq -e '.ok == true and .devices == ["upcall-cpu-1"] and .apic_ids == [1]' "$BATS_TEST_TMPDIR/a.json"
	# ^C twice: the user's explicit choice, the default action at once.
	bg_ctl b --run "$RUN" cpu add 1
	wait_lock "$RUN/qmp.sock.lock"
	sleep 0.5
	local t0=$SECONDS
	rc=0
	kill -INT "$BG_PID"
	sleep 0.1
	kill -INT "$BG_PID"
	wait "$BG_PID" || rc=$?
	[[ $rc -eq 130 && $((SECONDS - t0)) -le 1 ]]
}

@test "--lock-wait needs a number" {
	run --separate-stderr "$CTL" --uds "$BATS_TEST_TMPDIR/x.sock" --lock-wait soon cpu add --apic-id 1
	[[ $status -eq 2 && $stderr == *"--lock-wait"* ]]
}
