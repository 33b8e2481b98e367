#!/usr/bin/env bats
# virtio-mmio hotplug on QEMU microvm. QEMU's virtio-mmio bus cannot
# hotplug, so the disks exist from the start but are not announced to the
# guest (auto-kernel-cmdline=off); `upcall-ctl mmio add --device ID` tells
# the guest about one, which is what a VMM's hotplug does. One guest for the
# whole file; the tests build on each other in order.

load lib
load hotplug_lib

setup_file() {
	export D1=$BATS_FILE_TMPDIR/d1.img D2=$BATS_FILE_TMPDIR/d2.img
	head -c 8M /dev/urandom >"$D1"
	head -c 4M /dev/urandom >"$D2"
	export D1_SUM D2_SUM
	D1_SUM=$(sha256sum <"$D1" | cut -d' ' -f1)
	D2_SUM=$(sha256sum <"$D2" | cut -d' ' -f1)
	hp_boot --machine microvm --cpus 1 --disk "d1=$D1" --disk "d2=$D2"
}

# disk_field ID FIELD: a field of the launcher's devices.json entry.
disk_field() {
	jq -er --arg id "$1" ".[] | select(.id == \$id) | .$2" "$HP_VM/devices.json"
}

# blockdev_at BASE: the guest block device behind the transport at BASE.
blockdev_at() {
	local status virtio
	status=$(guest_status) || return 1
	virtio=$(jq -er --arg b "$1" \
		'.virtio[] | select(.mmio_base == $b) | .name' <<<"$status") || return 1
	jq -er --arg v "$virtio" '.block[] | select(.device == $v) | .name' <<<"$status"
}

# no_device_at BASE: no virtio device sits at BASE in the guest.
no_device_at() {
	guest_status | jq -e --arg b "$1" '[.virtio[] | select(.mmio_base == $b)] | length == 0'
}

# disk_sum_in_guest DEV: sha256 of /dev/DEV read inside the guest.
disk_sum_in_guest() {
	guest_exec "sha256sum /dev/$1" | cut -d' ' -f1
}

# add_disk ID: `upcall-ctl mmio add --device ID`, waits until the guest has
# a block device on that transport (recording the latency) and sets DEV to
# its name.
add_disk() {
	local t0 base
	base=$(disk_field "$1" base)
	t0=$(now_ms)
	run uctl mmio add --device "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 blockdev_at "$base"
	hp_latency "mmio add" "$t0"
	DEV=$(blockdev_at "$base")
}

@test "mmio: the unannounced disks are invisible to the guest at boot" {
	run guest_status
	[ "$status" -eq 0 ]
	[ "$(jq '.block | length' <<<"$output")" -eq 0 ]
	no_device_at "$(disk_field d1 base)"
}

@test "mmio: mmio add makes the first disk appear with the host file's content" {
	add_disk d1
	[ "$DEV" = vda ]
	[ "$(guest_status | jq --arg d "$DEV" '.block[] | select(.name == $d) | .size_bytes')" -eq $((8 << 20)) ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D1_SUM" ]
}

@test "mmio: mmio add of the second disk gives a second block device" {
	add_disk d2
	[ "$DEV" = vdb ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D2_SUM" ]
}

@test "mmio: a window overlapping an added device is refused" {
	local base
	base=$(($(disk_field d1 base) + 0x100))
	run uctl --json mmio add --base "$base" --size 0x200 --irq 3
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.ok == false' <<<"$output"
	[ "$(guest_status | jq '.block | length')" -eq 2 ]
}

@test "mmio: removing a window no device was added at is refused" {
	run uctl mmio del --base 0xfeb00000 --size 0x200 --irq 5
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$(guest_status | jq '.block | length')" -eq 2 ]
}

@test "mmio: mmio del removes the first disk from the guest" {
	local t0 base
	base=$(disk_field d1 base)
	t0=$(now_ms)
	run uctl mmio del --device d1
	echo "$output"
	[ "$status" -eq 0 ]
	hp_wait_until 60 no_device_at "$base"
	hp_latency "mmio del" "$t0"
	[ "$(guest_exec 'test -e /dev/vda && echo present || echo absent')" = absent ]
	# The other disk is untouched.
	[ "$(disk_sum_in_guest "$(blockdev_at "$(disk_field d2 base)")")" = "$D2_SUM" ]
}

@test "mmio: the removed disk can be added again and is readable" {
	add_disk d1
	[ "$(disk_sum_in_guest "$DEV")" = "$D1_SUM" ]
}
