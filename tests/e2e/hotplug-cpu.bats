#!/usr/bin/env bats
# vCPU hotplug on QEMU pc (qboot, no ACPI in the guest), driven the way an
# operator would: upcall-ctl with --run, which creates the vCPUs through QMP
# and announces them to the guest over the upcall server. One guest for the
# whole file; the tests build on each other in order.

load lib
load hotplug_lib

setup_file() {
	hp_boot --machine pc --cpus 1 --maxcpus 5
}

# guest_cpu_of_pinned CPU: the CPU a process pinned to CPU ran on
# (field 39 of /proc/self/stat, read by the pinned process itself).
guest_cpu_of_pinned() {
	guest_exec "taskset -c $1 cat /proc/self/stat" | awk '{ print $39 }'
}

@test "cpu: guest boots with 1 of 5 possible vCPUs" {
	run guest_status
	[ "$status" -eq 0 ]
	[ "$(jq .cpus.online_count <<<"$output")" -eq 1 ]
	[ "$(jq .cpus.present_count <<<"$output")" -eq 1 ]
	[ "$(jq .cpus.possible_count <<<"$output")" -eq 5 ]
}

@test "cpu: upcall-ctl cpu add brings a second vCPU online" {
	local t0
	t0=$(now_ms)
	run uctl cpu add 1
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 online_count_is 2
	hp_latency "cpu add 1" "$t0"
	# sysfs and the scheduler's view agree with the agent's status.
	[ "$(guest_exec 'cat /sys/devices/system/cpu/online')" = 0-1 ]
	[ "$(guest_exec nproc)" = 2 ]
	e2e_wait_console '^UPCALL UEVENT .*"subsystem":"cpu"' 30
}

@test "cpu: a process pinned to the hot-added vCPU runs there" {
	[ "$(guest_cpu_of_pinned 1)" = 1 ]
	[ "$(guest_cpu_of_pinned 0)" = 0 ]
}

@test "cpu: the hot-added vCPU goes offline and online through sysfs" {
	guest_exec 'echo 0 > /sys/devices/system/cpu/cpu1/online'
	hp_wait_until 30 online_count_is 1
	guest_exec 'echo 1 > /sys/devices/system/cpu/cpu1/online'
	hp_wait_until 30 online_count_is 2
	[ "$(guest_cpu_of_pinned 1)" = 1 ]
}

@test "cpu: two vCPUs added in one request bring the guest to 4" {
	local t0
	t0=$(now_ms)
	run uctl --json cpu add 2
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.ok == true' <<<"$output"
	hp_wait_until 60 online_count_is 4
	hp_latency "cpu add 2" "$t0"
	[ "$(guest_exec 'cat /sys/devices/system/cpu/online')" = 0-3 ]
	[ "$(guest_cpu_of_pinned 3)" = 3 ]
}

# Two operators (or scripts) at once against one VM with exactly one free
# vCPU slot: the VM's lock makes them take turns, so both cannot pick the
# slot, and the loser cannot roll back the vCPU the winner gave the guest.
@test "cpu: two concurrent cpu add 1 with one free slot: one wins, the other fails cleanly" {
	local ra=0 rb=0 pa pb
	# --lock-wait: the loser waits for the winner however loaded the
	# machine is, so it always fails for the real reason (no free slot).
	"$UPCALL_CTL" --run "$HP_VM" --timeout 30 --lock-wait 300 --json cpu add 1 \
		>"$BATS_TEST_TMPDIR/a.json" 2>&1 3>&- &
	pa=$!
	"$UPCALL_CTL" --run "$HP_VM" --timeout 30 --lock-wait 300 --json cpu add 1 \
		>"$BATS_TEST_TMPDIR/b.json" 2>&1 3>&- &
	pb=$!
	wait "$pa" || ra=$?
	wait "$pb" || rb=$?
	echo "a: exit $ra"; cat "$BATS_TEST_TMPDIR/a.json"
	echo "b: exit $rb"; cat "$BATS_TEST_TMPDIR/b.json"
	# Exactly one succeeded; the other says why, in one JSON object.
	[ $(((ra == 0) + (rb == 0))) -eq 1 ]
	local won=$BATS_TEST_TMPDIR/b.json lost=$BATS_TEST_TMPDIR/a.json rc=$ra
	if [ "$ra" -eq 0 ]; then
		won=$BATS_TEST_TMPDIR/a.json lost=$BATS_TEST_TMPDIR/b.json rc=$rb
	fi
	jq -e '.devices == ["upcall-cpu-4"] and .apic_ids == [4]' "$won"
	[ "$rc" -eq 4 ]
	jq -e '.ok == false and .exit_code == 4 and (.error | contains("free slot"))' "$lost"
	# Nobody removed or lost track of a vCPU.
	for f in "$BATS_TEST_TMPDIR"/{a,b}.json; do
		jq -e '(.rolled_back // []) == [] and (.unknown // []) == []' "$f"
	done
	hp_wait_until 60 online_count_is 5
	[ "$(guest_exec 'cat /sys/devices/system/cpu/online')" = 0-4 ]
	[ "$(guest_status | jq .cpus.present_count)" -eq 5 ]
}

@test "cpu: upcall-ctl cpu del removes one vCPU from the guest" {
	local t0
	t0=$(now_ms)
	run uctl cpu del 1
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 online_count_is 4
	hp_latency "cpu del 1" "$t0"
	[ "$(guest_status | jq .cpus.present_count)" -eq 4 ]
	[ "$(guest_exec 'cat /sys/devices/system/cpu/online')" = 0-3 ]
	# QEMU's pc machine cannot unplug a vCPU without ACPI, so QEMU keeps
	# it (stopped); upcall-ctl reuses it on the next add.
}

@test "cpu: the removed vCPU can be added back" {
	local t0
	t0=$(now_ms)
	run uctl cpu add 1
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 online_count_is 5
	hp_latency "cpu add 1" "$t0"
	[ "$(guest_exec nproc)" = 5 ]
}

@test "cpu: adding past maxcpus fails cleanly and leaves the guest unchanged" {
	run uctl --json cpu add 1
	echo "$output"
	[ "$status" -ne 0 ]
	jq -e '.ok == false and (.error | length > 0)' <<<"$output"
	online_count_is 5
	[ "$(guest_status | jq .cpus.present_count)" -eq 5 ]
}

@test "cpu: ADD_CPU for an APIC ID the VMM never created is refused" {
	# Without --qmp only the guest is asked; APIC ID 9 is beyond maxcpus.
	run "$UPCALL_CTL" --uds "$HP_VM/vsock.sock" --timeout 30 cpu add --apic-id 9
	echo "$output"
	[ "$status" -eq 1 ]
	online_count_is 5
}

@test "cpu: removing the boot CPU is refused" {
	run uctl cpu del --apic-id 0
	echo "$output"
	[ "$status" -eq 1 ]
	online_count_is 5
	[ "$(guest_exec 'cat /sys/devices/system/cpu/online')" = 0-4 ]
}
