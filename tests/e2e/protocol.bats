#!/usr/bin/env bats
# Protocol abuse from the host against a real guest's upcall server: every
# malformed request gets an error reply or a clean close, the kernel stays
# quiet (no oops/BUG/WARNING), and a normal hotplug request still works
# afterwards. The raw messages come from upcall_raw.py; the normal ones
# from upcall-ctl.

load lib
load hotplug_lib

RAW=$E2E_TOP/tests/e2e/upcall_raw.py

setup_file() {
	hp_boot --machine pc --cpus 1 --maxcpus 2
}

teardown_file() {
	hp_shutdown
}

setup() {
	hp_use
}

teardown() {
	e2e_assert_console_clean "$HP_VM"
}

raw() {
	"$RAW" --uds "$HP_VM/vsock.sock" "$@"
}

# still_serving: a well-formed request on a new connection gets its answer.
still_serving() {
	run "$UPCALL_CTL" --uds "$HP_VM/vsock.sock" --timeout 20 wait-ready
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "protocol: the greeting is exactly CONNECT, version 1.0, zero padded" {
	run raw greeting
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.magic == 1145897216 and .msg_size == 0 and .msg_type == 0 and
		.msg_flags == 0 and .rest_zero' <<<"$output"
}

@test "protocol: a wrong magic gets an error reply with ret set" {
	run raw wrong-magic
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.magic == 1145897216 and .msg_type == 1 and .ret == -71 and
		.apic_index == 0' <<<"$output"
	still_serving
}

@test "protocol: an unknown message type gets -EOPNOTSUPP" {
	run raw unknown-type
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.msg_type == 42 and .ret == -95' <<<"$output"
}

@test "protocol: an MMIO request with the wrong msg_size gets -EINVAL" {
	run raw bad-size
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.msg_type == 5 and .ret == -22' <<<"$output"
}

@test "protocol: a CPU request with count 0 gets -EINVAL and apic_index 0" {
	run raw zero-count
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.ret == -22 and .apic_index == 0' <<<"$output"
}

@test "protocol: DEL_CPU of the boot CPU is refused by the guest itself" {
	# upcall-ctl refuses this before asking; the raw request shows that the
	# guest refuses it too (-EPERM, apic_index 0).
	run raw del-boot-cpu
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.msg_type == 2 and .ret == -1 and .apic_index == 0' <<<"$output"
	online_count_is 1
}

@test "protocol: half a request then close is dropped and the server goes on" {
	run raw short-close
	[ "$status" -eq 0 ]
	still_serving
	online_count_is 1
}

@test "protocol: a client vanishing mid-request leaves the server serving" {
	run raw vanish
	[ "$status" -eq 0 ]
	still_serving
	online_count_is 1
}

@test "protocol: an unknown service byte closes the connection" {
	run raw --idle 15 bad-service
	echo "$output"
	jq -e '.closed' <<<"$output"
	still_serving
}

@test "protocol: a client that never selects a service is closed after a bounded time" {
	run raw --idle 25 no-service
	echo "$output"
	jq -e '.closed and .after_s < 25' <<<"$output"
	still_serving
}

@test "protocol: two clients at once are both served" {
	run raw two-clients
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.replies | length == 2 and all(.ret == -95)' <<<"$output"
}

@test "protocol: after the abuse a real cpu hotplug still works" {
	run uctl cpu add 1
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 online_count_is 2
}
