#!/usr/bin/env bats
# Memory hotplug on QEMU pc without ACPI in the guest (ADD_MEM / DEL_MEM,
# our extension of the protocol). QEMU plugs a pc-dimm backed by a shared
# memfd (device_add); the guest hears nothing of it until ADD_MEM names its
# range. `upcall-ctl mem` does both; the refusals are sent as raw requests
# with tests/kernel/upcall_dm.py. One guest with 128 MiB of boot RAM (256 on
# the debug kernel, which keeps about 80 MiB of it for itself and takes the
# hot-added block's KASAN shadow from it) for the
# whole file; the tests build on each other in order.

load lib
load hotplug_lib

CLIENT="python3 $E2E_TOP/tests/e2e/vsock_client.py"
MiB=$((1 << 20))
BLOCK=$((128 * MiB))
# A tmpfs larger than the memory the guest had before the add, filled with
# a known stream: at most FILL_MAX_MB, and FILL_HEADROOM_MB less than what
# the guest has available after the add (test "mem add 128M" sets fill_mb).
# A debug kernel (KASAN shadow, lockdep and kmemleak tables) keeps much of
# its memory for itself, so the size is measured, not fixed.
if [[ ${E2E_DEBUG:-0} == 1 ]]; then
	BOOT_MB=256 FILL_MAX_MB=1024
else
	BOOT_MB=128 FILL_MAX_MB=160
fi
# The filler's 16 MiB buffer, and room for the kernel's own allocations.
FILL_HEADROOM_MB=48
FILL_DIR=/run/memfill

setup_file() {
	export STATE=$BATS_FILE_TMPDIR/state
	: >"$STATE"
	hp_boot --machine pc --cpus 1 --mem ${BOOT_MB}M --maxmem 1G --mem-slots 4
}

# Values carried from one test to the next
put() { echo "$1=$2" >>"$STATE"; }
get() { sed -n "s/^$1=//p" "$STATE" | tail -n 1; }

mem_total() {
	guest_status | jq -e .memory.total_bytes
}

total_is() {
	local t
	t=$(mem_total) || return 1
	[[ $t == "$1" ]] || {
		echo "MemTotal $t, want $1"
		return 1
	}
}

# block_state BASE: "online Movable", "offline" or "absent" for the
# memory block at guest-physical BASE (a number).
block_state() {
	guest_status | jq -r --arg b "$(printf '0x%x' "$1")" '
		[.memory.blocks[] | select(.base == $b)] |
		if length == 0 then "absent"
		else .[0].state + (if .[0].zone then " " + .[0].zone else "" end) end'
}

# Starts the filler process in the guest and prints its pid once its
# 16 MiB buffer is resident: dd fills it from /dev/zero, then blocks
# writing to a fifo whose reader never reads.
FILLER_START='rm -f /run/filler && mkfifo /run/filler && '\
'{ sleep 100000 </run/filler >/dev/null 2>&1 & } && '\
'{ dd if=/dev/zero of=/run/filler bs=16M count=2 </dev/null >/dev/null 2>&1 & } && p=$! && '\
'for i in $(seq 100); do r=$(awk "/^VmRSS:/ { print \$2 }" /proc/$p/status) && '\
'[ "${r:-0}" -ge 16384 ] && echo $p && exit 0; sleep 0.2; done; exit 1'

# fill_cmd MB: the fill, MB copies of one MiB of `yes upcall-memory-fill`.
# Copying a MiB with cat is much cheaper under TCG than piping yes line by
# line.
fill_cmd() {
	echo "yes upcall-memory-fill | head -c $MiB > $FILL_DIR/chunk && \
for i in \$(seq $1); do cat $FILL_DIR/chunk; done > $FILL_DIR/f && rm $FILL_DIR/chunk"
}

# kernel_free_kib: free memory (KiB) in the guest's zones other than
# Movable, the ones the kernel's own allocations come from.
kernel_free_kib() {
	local pages
	pages=$(guest_exec "awk '/^Node/ { z = \$4 } /^ +pages free/ && z != \"Movable\" { s += \$3 } END { print s }' /proc/zoneinfo")
	[[ $pages =~ ^[0-9]+$ ]] || return 1
	echo $((pages * 4))
}

fill_sum() {
	local i
	yes upcall-memory-fill | head -c "$MiB" >"$BATS_FILE_TMPDIR/chunk"
	for i in $(seq "$(get fill_mb)"); do cat "$BATS_FILE_TMPDIR/chunk"; done | md5sum | cut -d' ' -f1
}

# guest_long COMMAND: guest_exec for commands that take seconds under TCG
# (guest_exec waits 5 s for the reply; the agent allows 30 s).
guest_long() {
	local reply
	reply=$($CLIENT --timeout 60 request "$HP_VM/vsock.sock" 1219 "exec $1") || return 1
	jq -j .output <<<"$reply"
	[[ $(jq -r .status <<<"$reply") == 0 ]] || {
		echo "guest_long: '$1' failed: $reply" >&2
		return 1
	}
}

@test "mem: the agent reports MemTotal, the 128 MiB block size and every boot block online" {
	local s
	s=$(guest_status)
	echo "$s" | jq .memory
	jq -e '.memory.block_size_bytes == 134217728' <<<"$s"
	jq -e ".memory.total_bytes > 0 and .memory.total_bytes <= $((BOOT_MB * MiB))" <<<"$s"
	jq -e '(.memory.blocks | length) >= 1 and .memory.blocks_online == (.memory.blocks | length)' <<<"$s"
	jq -e '[.memory.blocks[] | select(.state != "online")] | length == 0' <<<"$s"
	put total0 "$(jq .memory.total_bytes <<<"$s")"
}

@test "mem: mem add 128M grows MemTotal by exactly 128 MiB, onlined movable" {
	local t0 total0 base
	total0=$(get total0)
	t0=$(now_ms)
	run uctl --json mem add 128M
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.ok and .guest.ret == 0 and .mem.size == 134217728 and (.reused | not)' <<<"$output"
	jq -e '.device | startswith("upcall-dimm-")' <<<"$output"
	base=$(($(jq -r .mem.base <<<"$output")))
	hp_wait_until 30 total_is $((total0 + BLOCK))
	hp_latency "mem add" "$t0"
	[ "$(block_state "$base")" = "online Movable" ]
	grep -q "upcall: devmgr: memory $(printf '%#x' "$base")-.* hot-added on node 0" "$HP_VM/console.log"
	put base "$base"
}

@test "mem: the guest fills and checks a tmpfs larger than all its memory before the add" {
	local avail mb
	avail=$(guest_exec "awk '/^MemAvailable:/ { print int(\$2 / 1024) }' /proc/meminfo")
	[[ $avail =~ ^[0-9]+$ ]]
	mb=$((avail - FILL_HEADROOM_MB))
	((mb <= FILL_MAX_MB)) || mb=$FILL_MAX_MB
	# Larger than MemTotal before the add: only fits with the new block.
	((mb * MiB > $(get total0))) || {
		echo "only $avail MiB available after the add: no room for a fill larger than the $(($(get total0) / MiB)) MiB before it" >&2
		false
	}
	put fill_mb "$mb"
	echo "# fill: $mb MiB; MemTotal before the add: $(($(get total0) / MiB)) MiB" >&3
	guest_exec "mkdir -p $FILL_DIR && mount -t tmpfs -o size=400M memfill $FILL_DIR"
	guest_long "$(fill_cmd "$mb")"
	[ "$(guest_long "md5sum $FILL_DIR/f" | cut -d' ' -f1)" = "$(fill_sum)" ]
}

@test "mem: upcall-vsockd took QEMU's new memory table; a 64 MiB vsock echo works after the add" {
	# QEMU sent the table again with the DIMM's region (one more than at boot)
	[ "$(grep -c 'memory table:' "$HP_VM/vsockd.log")" -ge 2 ]
	guest_exec "vsock-echo -d server 5000"
	run $CLIENT --timeout 600 echo "$HP_VM/vsock.sock" 5000 $((64 * MiB))
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ok 1 67108864 "* ]]
}

@test "mem: mem del while the memory is full is refused with EBUSY up front: no OOM kill, memory intact" {
	# The file leaves less available memory than the 128 MiB block:
	# its pages cannot move out while the kernel keeps its reserves. The
	# guest must refuse before it moves any page. Moving them anyway drains
	# the kernel's zones, and the OOM killer kills a process: the filler
	# below (dd holding a 16 MiB buffer, blocked on a pipe nobody reads),
	# the largest process in the guest, is its first victim.
	local base pid before after
	base=$(get base)
	pid=$(guest_long "$FILLER_START")
	echo "filler: $pid"
	[[ $pid =~ ^[0-9]+$ ]]
	put filler "$pid"
	before=$(kernel_free_kib)
	run uctl --json mem del
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '(.ok | not) and .guest.ret == -16' <<<"$output"
	# No page was moved into the kernel's zones: what they have free is
	# unchanged but for the noise of the guest's own work (a few MiB);
	# moving them fills them to their min watermark.
	after=$(kernel_free_kib)
	echo "# free in the kernel's zones: $before KiB before, $after KiB after" >&3
	[ "$after" -ge $((before - 8192)) ]
	! grep -E "invoked oom-killer|Out of memory|Killed process" "$HP_VM/console.log"
	guest_exec "kill -0 $pid"
	grep "memory $(printf '%#x' "$base")-.*: hot-remove refused, it stays online: 128 MiB do not fit into the .* MiB available" \
		"$HP_VM/console.log" >"$BATS_TEST_TMPDIR/refusal"
	sed 's/^/# /' "$BATS_TEST_TMPDIR/refusal" >&3
	[ "$(block_state "$base")" = "online Movable" ]
	total_is $(($(get total0) + BLOCK))
	[ "$(guest_long "md5sum $FILL_DIR/f" | cut -d' ' -f1)" = "$(fill_sum)" ]
}

@test "mem: mem del returns MemTotal to its boot value; QEMU keeps the DIMM (no ACPI eject)" {
	local base t0
	base=$(get base)
	guest_exec "kill $(get filler) && rm $FILL_DIR/f && umount $FILL_DIR"
	t0=$(now_ms)
	run uctl --json mem del
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.ok and .guest.ret == 0 and .qemu == "left_behind"' <<<"$output"
	jq -e '.warnings[0] | contains("reuses it")' <<<"$output"
	[ $(($(jq -r .mem.base <<<"$output"))) -eq "$base" ]
	hp_wait_until 30 total_is "$(get total0)"
	hp_latency "mem del" "$t0"
	[ "$(block_state "$base")" = absent ]
	grep -q "memory $(printf '%#x' "$base")-.* hot-removed" "$HP_VM/console.log"
}

@test "mem: mem add again reuses QEMU's DIMM; del again" {
	local base t0
	base=$(get base)
	t0=$(now_ms)
	run uctl --json mem add 128M
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.ok and .guest.ret == 0 and .reused' <<<"$output"
	[ $(($(jq -r .mem.base <<<"$output"))) -eq "$base" ]
	hp_wait_until 30 total_is $(($(get total0) + BLOCK))
	hp_latency "mem add" "$t0"
	[ "$(block_state "$base")" = "online Movable" ]
	t0=$(now_ms)
	run uctl --json mem del
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 30 total_is "$(get total0)"
	hp_latency "mem del" "$t0"
}

@test "mem: ADD_MEM and DEL_MEM refusals carry clear errors; the guest stays healthy" {
	local base end
	base=$(get base)
	# not whole 128 MiB blocks
	run hp_dm mem-add:$((base + 4096)):$BLOCK
	hp_empty_reply '.msg_type == 3 and .ret == -22'
	run hp_dm mem-add:$base:$((BLOCK + 4096))
	hp_empty_reply '.msg_type == 3 and .ret == -22'
	run hp_dm mem-add:$base:$((BLOCK / 2))
	hp_empty_reply '.ret == -22'
	# zero size, a range that wraps around
	run hp_dm mem-add:$base:0
	hp_empty_reply '.ret == -22'
	run hp_dm mem-add:0xfffffffff8000000:0x10000000
	hp_empty_reply '.ret == -22'
	# boot RAM: System RAM already
	run hp_dm mem-add:0:$BLOCK
	hp_empty_reply '.ret == -17'
	# below 4 GiB, the window of the PCI BARs, IOAPIC and firmware
	run hp_dm mem-add:0xf8000000:$BLOCK
	hp_empty_reply '.ret == -98'
	# beyond what the CPU and the kernel can address
	run hp_dm mem-add:$((1 << 52)):$BLOCK
	hp_empty_reply '.ret == -34'
	# DEL_MEM of a range never added, of boot RAM, of a block too small
	run hp_dm mem-del:$base:$BLOCK
	hp_empty_reply '.msg_type == 4 and .ret == -2'
	run hp_dm mem-del:0:$BLOCK
	hp_empty_reply '.ret == -2'
	run hp_dm mem-del:$base:4096
	hp_empty_reply '.ret == -22'
	# payload sizes other than 16
	run hp_dm raw:0x444D0100:8:3:0:0000000001000000
	hp_empty_reply '.ret == -22'
	run hp_dm raw:0x444D0100:24:4:0:00000000010000000000000800000000
	hp_empty_reply '.ret == -22'
	# nothing changed, the guest answers
	total_is "$(get total0)"
	[ "$(block_state "$base")" = absent ]
	# a range added and then overlapped is refused too
	run hp_dm mem-add:$base:$BLOCK mem-add:$base:$BLOCK mem-del:$base:$((2 * BLOCK)) mem-del:$base:$BLOCK
	echo "$output"
	[ "$status" -eq 0 ]
	end=$(sed -n 1,4p <<<"$output" | jq -s -c 'map(.ret)')
	[ "$end" = "[0,-17,-2,0]" ]
	total_is "$(get total0)"
}

# Kernel allocations never go to ZONE_MOVABLE, so the guest's vsock
# buffers stay in boot RAM while the added memory is movable. Onlined to
# the kernel zone instead, the added block is the guest's only ZONE_NORMAL
# memory (the boot RAM is all DMA32), which kernel allocations prefer: the
# receive buffers the driver posts while it echoes 64 MiB come from it, and
# upcall-vsockd must find them in the DIMM's region of its memory table.
@test "mem: vsock buffers in hot-added memory (kernel zone) echo 64 MiB; DEL_MEM then refused with EBUSY" {
	local base idx
	run uctl --json mem add 128M
	echo "$output"
	[ "$status" -eq 0 ]
	base=$(($(jq -r .mem.base <<<"$output")))
	idx=$((base / BLOCK))
	hp_wait_until 30 total_is $(($(get total0) + BLOCK))
	guest_exec "echo offline > /sys/devices/system/memory/memory$idx/state"
	guest_exec "echo online_kernel > /sys/devices/system/memory/memory$idx/state"
	[ "$(block_state "$base")" = "online Normal" ]
	guest_exec "vsock-echo -d server 5001"
	run $CLIENT --timeout 600 echo "$HP_VM/vsock.sock" 5001 $((64 * MiB))
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ok 1 67108864 "* ]]
	# the kernel's own pages there cannot be migrated
	run uctl --json mem del
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.guest.ret == -16' <<<"$output"
	[ "$(block_state "$base")" = "online Normal" ]
	total_is $(($(get total0) + BLOCK))
	# upcall-vsockd never found a ring or buffer outside its memory table
	run grep -E "not in the new memory table|outside the memory table|invalid avail|error" "$HP_VM/vsockd.log"
	echo "$output"
	[ "$status" -eq 1 ]
}
