#!/usr/bin/env bats
# Races only a real guest can show, on QEMU pc with upcall-ctl --run (QMP +
# upcall server): the guest onlines and offlines vCPUs through sysfs while
# the host adds and removes them; a vCPU running a pinned busy task is
# removed; the second vCPU of a DEL_CPU batch fails to go down (the
# kernel's CPU-hotplug fault injection, cpuN/hotplug/fail) and the reply and
# the host's follow-up cover exactly the first one. Each test has its own
# VM; lib.bash checks its console (and kmemleak on the debug kernel) when
# it ends. `make check-debug` runs this file on the debug kernel too.

load lib

UPCALL_CTL=$E2E_TOP/build/bin/upcall-ctl
DM=$E2E_TOP/tests/kernel/upcall_dm.py
# Host add/del rounds while the guest's sysfs loop runs.
RACE_ROUNDS=${RACE_ROUNDS:-15}

setup_file() {
	[[ -x $UPCALL_CTL ]] || skip "no build/bin/upcall-ctl"
	[[ -x $E2E_TOP/build/bin/upcall-vsockd ]] || skip "no build/bin/upcall-vsockd"
}

teardown() {
	e2e_teardown
}

# uctl ARGS...: upcall-ctl --json against the test's VM; prints its JSON.
uctl() {
	"$UPCALL_CTL" --run "$E2E_DIR" --timeout 60 --json "$@"
}

# guest CMD: runs CMD in the guest (the agent's exec request); prints its
# output, fails with it if CMD exits non-zero.
guest() {
	local reply
	reply=$(e2e_vsock 1219 "exec $1") || return 1
	jq -j .output <<<"$reply"
	[[ $(jq .status <<<"$reply") == 0 ]] || {
		echo "guest: '$1' failed: $reply" >&2
		return 1
	}
}

# online_is LIST: the guest's /sys/devices/system/cpu/online is LIST.
online_is() {
	local got
	got=$(guest 'cat /sys/devices/system/cpu/online') || return 1
	[[ $got == "$1" ]] || {
		echo "online CPUs: $got, want $1" >&2
		return 1
	}
}

# cpu_of_apic ID: the guest's logical CPU number with APIC ID ID.
cpu_of_apic() {
	guest "awk '/^processor/ { p = \$3 } /^apicid/ && \$3 == $1 { print p }' /proc/cpuinfo"
}

@test "races: vCPUs go on/offline through sysfs in a loop while cpu add/del run" {
	e2e_start --machine pc --cpus 1 --maxcpus 4 --append agent.exec=1
	# The loop writes every present vCPU's online file, as fast as the
	# device-hotplug lock lets it; files of absent vCPUs fail silently.
	# (One line: the exec request is a line.)
	# shellcheck disable=SC2016 # expanded by the guest shell
	guest 'sh -c "while :; do for c in 1 2 3; do echo 0 >/sys/devices/system/cpu/cpu\$c/online; echo 1 >/sys/devices/system/cpu/cpu\$c/online; done 2>/dev/null; done" </dev/null >/dev/null 2>&1 & echo $! >/tmp/race.pid'
	local i out
	for ((i = 1; i <= RACE_ROUNDS; i++)); do
		out=$(uctl cpu add 3) || { echo "round $i: cpu add 3: $out" >&2; false; }
		out=$(uctl cpu del 3) || { echo "round $i: cpu del 3: $out" >&2; false; }
		[[ $(jq -c .guest <<<"$out") == '{"ret":0,"apic_index":3}' ]] ||
			{ echo "round $i: cpu del 3: $out" >&2; false; }
	done
	# shellcheck disable=SC2016
	guest 'kill $(cat /tmp/race.pid)'
	# The loop was busy all along: it did offline and online CPUs.
	grep -q 'smpboot: CPU [123] is now offline' "$E2E_DIR/console.log"
	# Nothing is left half-done: the vCPUs come back and leave as a batch.
	online_is 0
	[[ $(guest 'cat /sys/devices/system/cpu/present') == 0 ]]
	uctl cpu add 3 >/dev/null
	online_is 0-3
	uctl cpu del 3 >/dev/null
	online_is 0
	e2e_note "$RACE_ROUNDS rounds of cpu add 3 / cpu del 3 against the sysfs loop"
}

@test "races: DEL_CPU of a vCPU running a pinned busy task moves the task and removes the vCPU" {
	e2e_start --machine pc --cpus 1 --maxcpus 2 --append agent.exec=1
	uctl cpu add 1 >/dev/null
	online_is 0-1
	local pid out
	pid=$(guest 'taskset -c 1 sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 & echo $!')
	[[ $pid =~ ^[0-9]+$ ]]
	# It runs on CPU 1 (field 39 of its stat is the CPU it last ran on).
	[[ $(guest "awk '{ print \$39 }' /proc/$pid/stat") == 1 ]]
	e2e_mark
	out=$(uctl cpu del 1) || { echo "cpu del 1: $out" >&2; false; }
	[[ $(jq -c .guest <<<"$out") == '{"ret":0,"apic_index":1}' ]] || { echo "$out" >&2; false; }
	online_is 0
	# The task survived, lost its affinity to the removed CPU (the kernel
	# says so) and runs on CPU 0 now.
	e2e_wait_console "process $pid \\(sh\\) no longer affine to cpu1" 10
	guest "kill -0 $pid"
	[[ $(guest "awk '{ print \$39 }' /proc/$pid/stat") == 0 ]]
	guest "kill $pid"
	# The vCPU can be added again and used.
	uctl cpu add 1 >/dev/null
	online_is 0-1
	[[ $(guest "taskset -c 1 awk '{ print \$39 }' /proc/self/stat") == 1 ]]
}

@test "races: DEL_CPU batch whose second vCPU fails to go down: apic_index 1, only the first is released" {
	# Three vCPUs from boot: the kernel creates cpuN/hotplug/ (and its
	# fail file) only for CPUs registered at boot (cpuhp_sysfs_init), not
	# for hot-added ones, with or without ACPI.
	e2e_start --machine pc --cpus 3 --append agent.exec=1
	online_is 0-2
	# The first teardown step with a callback that may fail: sched:active.
	# Writing its number to cpuN/hotplug/fail makes that CPU's next
	# offline fail there once (-EAGAIN) and roll back to online.
	local state cpu1 cpu2 out
	state=$(guest "sed -n 's/^ *\\([0-9]*\\): sched:active\$/\\1/p' /sys/devices/system/cpu/hotplug/states")
	[[ $state =~ ^[0-9]+$ ]] || { echo "no sched:active state: '$state'" >&2; false; }
	cpu1=$(cpu_of_apic 1)
	cpu2=$(cpu_of_apic 2)
	[[ $cpu1 =~ ^[0-9]+$ && $cpu2 =~ ^[0-9]+$ ]]

	# 1. The raw reply: DEL_CPU [1, 2] removes APIC 1, fails on APIC 2.
	guest "echo $state >/sys/devices/system/cpu/cpu$cpu2/hotplug/fail"
	out=$(python3 "$DM" --uds "$E2E_DIR/vsock.sock" --timeout 60 cpu-del:1,2)
	[[ $(jq -c '[.ret, .apic_index]' <<<"$out") == '[-11,1]' ]] || { echo "$out" >&2; false; }
	online_is "0,$cpu2"
	guest "test ! -e /sys/devices/system/cpu/cpu$cpu1"
	[[ $(guest "cat /sys/devices/system/cpu/cpu$cpu2/online") == 1 ]]
	# Bring APIC 1 back for the host-side round (QEMU still has it, and
	# upcall-ctl --qmp only re-offers vCPUs it hot-added itself).
	out=$(python3 "$DM" --uds "$E2E_DIR/vsock.sock" --timeout 60 cpu-add:1)
	[[ $(jq -c '[.ret, .apic_index]' <<<"$out") == '[0,1]' ]] || { echo "$out" >&2; false; }
	online_is 0-2

	# 2. Through upcall-ctl --qmp: the guest's answer covers APIC 1 only,
	# so only APIC 1 is device_del'ed (pc refuses it: removed_failed);
	# APIC 2 stays in QEMU and online in the guest. (APIC 1 is a hot-added
	# CPU now, APIC 2 still the boot one with its fail file.)
	cpu1=$(cpu_of_apic 1)
	cpu2=$(cpu_of_apic 2)
	guest "echo $state >/sys/devices/system/cpu/cpu$cpu2/hotplug/fail"
	run uctl cpu del --apic-id 1 2
	echo "$output"
	[[ $status -eq 1 ]]
	[[ $(jq -c '[.guest.ret, .guest.apic_index]' <<<"$output") == '[-11,1]' ]]
	# Released and device_del'ed (accepted or refused by QEMU): APIC 1
	# only; APIC 2 is reported as refused and left alone.
	[[ $(jq -c '[.released, .refused, ((.removed // []) + (.removed_failed // []) | length)]' <<<"$output") == '[[1],[2],1]' ]]
	online_is "0,$cpu2"
	e2e_qmp '{"execute":"query-hotpluggable-cpus"}' |
		jq -e '[.[] | select(.["qom-path"] != null) | .props["socket-id"]] | sort == [0, 1, 2]' >/dev/null
	# The injected failure fired once: removing APIC 2 now works.
	out=$(uctl cpu del --apic-id 2) || { echo "$out" >&2; false; }
	online_is 0
}
