#!/usr/bin/env bats
# Protocol abuse from the host against a real guest's upcall server, through
# upcall-vsockd as a VMM would reach it: every malformed request gets an
# error reply or a clean close, the kernel stays quiet (no oops/BUG/WARNING),
# and a normal hotplug request still works afterwards. Raw messages come
# from tests/kernel/upcall_dm.py; normal ones from upcall-ctl.

load lib
load hotplug_lib

DM=$E2E_TOP/tests/kernel/upcall_dm.py
MAGIC=0x444D0100

setup_file() {
	hp_boot --machine pc --cpus 1 --maxcpus 2
}

dm() {
	python3 "$DM" --uds "$HP_VM/vsock.sock" --timeout 30 "$@"
}

# reply JQ_FILTER: the last JSON line of $output satisfies JQ_FILTER.
reply() {
	echo "$output"
	[ "$status" -eq 0 ]
	tail -n 1 <<<"$output" | jq -e "$1"
}

# still_serving: a well-formed request on a new connection gets its answer.
still_serving() {
	run "$UPCALL_CTL" --uds "$HP_VM/vsock.sock" --timeout 20 wait-ready
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "protocol: the greeting is exactly CONNECT, version 1.0, zero padded" {
	run dm greeting
	reply '.greeting == [1145897216, 0, 0, 0] and .rest_zero'
}

@test "protocol: a wrong magic gets an error reply with ret set" {
	run dm raw:0x12345678:258:1:0:011401
	reply '.magic == 1145897216 and .msg_type == 1 and .ret == -71 and .apic_index == 0'
	still_serving
}

@test "protocol: an unknown message type gets -EOPNOTSUPP" {
	run dm raw:$MAGIC:0:42:0
	reply '.msg_type == 42 and .ret == -95'
}

@test "protocol: an MMIO request with the wrong msg_size gets -EINVAL" {
	run dm raw:$MAGIC:16:5:0:0000b0fe0000000000020000000000000500000000000000
	reply '.msg_type == 5 and .ret == -22'
}

@test "protocol: a CPU request with count 0 gets -EINVAL and apic_index 0" {
	run dm cpu-add:
	reply '.ret == -22 and .apic_index == 0'
}

@test "protocol: DEL_CPU of the boot CPU is refused by the guest itself" {
	# upcall-ctl refuses this before asking; the raw request shows that the
	# guest refuses it too.
	run dm cpu-del:0
	reply '.msg_type == 2 and .ret == -1 and .apic_index == 0'
	online_count_is 1
}

@test "protocol: half a request then close is dropped and the server goes on" {
	run dm half-close:cpu-add:1
	reply '.closed'
	still_serving
	online_count_is 1
}

@test "protocol: a client killed mid-request leaves the server serving" {
	local out=$BATS_TEST_TMPDIR/dm.out pid
	# The trickled request takes about 3 s; the client dies inside it.
	dm greeting trickle:cpu-add:1 >"$out" &
	pid=$!
	hp_wait_until 30 grep -q greeting "$out"
	sleep 0.5
	kill -9 "$pid"
	wait "$pid" || true
	[ "$(grep -c '"ret"' "$out")" -eq 0 ]
	still_serving
	online_count_is 1
}

@test "protocol: an unknown service byte closes the connection" {
	run dm select:3f wait-close:15
	reply '.closed'
	still_serving
}

@test "protocol: a client that never selects a service is closed after a bounded time" {
	run dm wait-close:25
	reply '.closed and .after_s < 25'
	still_serving
}

@test "protocol: two clients at once are both served" {
	local first=$BATS_TEST_TMPDIR/first.out pid
	# The first client keeps its connection open while the second is served.
	dm greeting idle:3 raw:$MAGIC:0:42:0 >"$first" &
	pid=$!
	hp_wait_until 30 grep -q greeting "$first"
	run dm raw:$MAGIC:0:42:0
	reply '.ret == -95'
	wait "$pid"
	tail -n 1 "$first" | jq -e '.ret == -95'
}

@test "protocol: after the abuse a real cpu hotplug still works" {
	run uctl cpu add 1
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 online_count_is 2
}
