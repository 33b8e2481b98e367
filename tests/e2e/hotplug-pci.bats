#!/usr/bin/env bats
# PCI hotplug on QEMU pc without ACPI in the guest (ADD_PCI / DEL_PCI).
# QEMU plugs a virtio-blk-pci disk into a slot of pci.0 (device_add); the
# guest hears nothing of it until ADD_PCI names the slot. `upcall-ctl pci`
# does both; the refusals are sent as Dragonball's exact bytes with
# tests/kernel/upcall_dm.py. One guest for the whole file; the tests build
# on each other in order.

load lib
load hotplug_lib

MAGIC=0x444D0100

setup_file() {
	export D1=$BATS_FILE_TMPDIR/d1.img D2=$BATS_FILE_TMPDIR/d2.img
	head -c 8M /dev/urandom >"$D1"
	head -c 4M /dev/urandom >"$D2"
	export D1_SUM D2_SUM
	D1_SUM=$(sha256sum <"$D1" | cut -d' ' -f1)
	D2_SUM=$(sha256sum <"$D2" | cut -d' ' -f1)
	hp_boot --machine pc --cpus 1
}

# The slot upcall-ctl put a disk in: "0000:00:05.0", from its JSON.
SLOT_FILE=$BATS_FILE_TMPDIR/slots

pci_dev() {
	sed -n "s/^$1=//p" "$SLOT_FILE"
}

# pci_present BDF: the guest's sysfs has PCI device BDF (0000:00:05.0).
pci_present() {
	[ "$(guest_exec "test -e /sys/bus/pci/devices/$1 && echo yes || echo no")" = yes ]
}

pci_absent() {
	[ "$(guest_exec "test -e /sys/bus/pci/devices/$1 && echo yes || echo no")" = no ]
}

# blockdev_at BDF: the block device of the virtio device at BDF.
blockdev_at() {
	guest_exec "ls /sys/bus/pci/devices/$1/virtio*/block" | head -n 1 | grep .
}

# no_blockdev NAME: /dev/NAME and /sys/block/NAME are gone.
no_blockdev() {
	[ "$(guest_exec "test -e /sys/block/$1 -o -e /dev/$1 && echo present || echo absent")" = absent ]
}

disk_sum_in_guest() {
	guest_exec "sha256sum /dev/$1" | cut -d' ' -f1
}

# add_disk NAME FILE: `upcall-ctl pci add --disk FILE`; waits for the block
# device at the slot it reports (recording the latency); sets BDF and DEV.
add_disk() {
	local t0 slot
	t0=$(now_ms)
	run uctl --json pci add --disk "$2"
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e '.ok and .guest.ret == 0' <<<"$output"
	slot=$(jq -er .pci.slot <<<"$output")
	BDF=0000:$slot
	hp_wait_until 60 blockdev_at "$BDF"
	hp_latency "pci add" "$t0"
	DEV=$(blockdev_at "$BDF")
	REUSED=$(jq -r .reused <<<"$output")
	sed -i "/^$1=/d" "$SLOT_FILE" 2>/dev/null || true
	echo "$1=$BDF" >>"$SLOT_FILE"
}

# del_disk NAME FILE: `upcall-ctl pci del --disk FILE`; the latency is
# until the PCI device is gone from the guest (the command itself goes on
# waiting for QEMU's DEVICE_DELETED, which QEMU's pc never sends here).
del_disk() {
	local t0 bdf dev pid rc=0 out=$BATS_TEST_TMPDIR/del.json
	bdf=$(pci_dev "$1")
	dev=$(blockdev_at "$bdf")
	t0=$(now_ms)
	uctl --json pci del --disk "$2" >"$out" &
	pid=$!
	hp_wait_until 60 pci_absent "$bdf"
	hp_latency "pci del" "$t0"
	wait "$pid" || rc=$?
	output=$(cat "$out")
	echo "$output"
	[ "$rc" -eq 0 ]
	jq -e --arg s "${bdf#0000:}" '.ok and .guest.ret == 0 and .pci.slot == $s' <<<"$output"
	no_blockdev "$dev"
}

@test "pci: the guest sees exactly QEMU's boot devices on bus 0" {
	local qemu guest
	qemu=$(e2e_qmp '{"execute":"query-pci"}' |
		jq -r '.[] | select(.bus == 0) | .devices[] | "\(.slot) \(.function)"' |
		awk '{ printf "0000:00:%02x.%d\n", $1, $2 }' | sort)
	guest=$(guest_exec 'ls /sys/bus/pci/devices' | sort)
	echo "qemu: $qemu"
	echo "guest: $guest"
	[ -n "$qemu" ]
	[ "$qemu" = "$guest" ]
}

@test "pci: pci add of a virtio-blk-pci disk gives a block device with the file's content at that slot" {
	add_disk d1 "$D1"
	[ "$REUSED" = false ]
	[ "$(guest_exec "cat /sys/bus/pci/devices/$BDF/vendor")" = 0x1af4 ]
	[ "$(guest_exec "cat /sys/bus/pci/devices/$BDF/device")" = 0x1001 ]
	[ "$(guest_exec "cat /sys/block/$DEV/size")" -eq $((8 << 20 >> 9)) ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D1_SUM" ]
	# QEMU has the disk at the slot upcall-ctl reported.
	e2e_qmp '{"execute":"query-pci"}' | jq -e --argjson s "$((16#$(cut -d: -f3 <<<"$BDF" | cut -d. -f1)))" \
		'.[0].devices[] | select(.slot == $s) | .qdev_id | startswith("upcall-pci-")'
}

@test "pci: a second disk goes into another slot" {
	add_disk d2 "$D2"
	[ "$BDF" != "$(pci_dev d1)" ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D2_SUM" ]
}

@test "pci: ADD_PCI and DEL_PCI refusals carry clear errors (Dragonball's bytes)" {
	local s1 devfn1
	s1=$(pci_dev d1)
	devfn1=$(((16#$(cut -d: -f3 <<<"$s1" | cut -d. -f1)) << 3))
	# A bus that does not exist.
	run hp_dm pci-add:7:0x08
	hp_empty_reply '.msg_type == 7 and .ret == -19'
	run hp_dm pci-del:7:0x08
	hp_empty_reply '.msg_type == 8 and .ret == -19'
	# An empty slot (nothing plugged at 00:1e.0).
	run hp_dm pci-add:0:0xf0
	hp_empty_reply '.msg_type == 7 and .ret == -19'
	# The slot of d1 is already populated.
	run hp_dm pci-add:0:$devfn1
	hp_empty_reply '.msg_type == 7 and .ret == -17'
	# DEL of an empty slot.
	run hp_dm pci-del:0:0xf0
	hp_empty_reply '.msg_type == 8 and .ret == -19'
	# A function other than 0: the guest works on whole slots.
	run hp_dm pci-add:0:$((devfn1 | 1))
	hp_empty_reply '.ret == -22'
	run hp_dm pci-del:0:$((devfn1 | 1))
	hp_empty_reply '.ret == -22'
	# msg_size other than 2, with a valid payload after the header.
	run hp_dm raw:$MAGIC:3:7:0:00f0
	hp_empty_reply '.msg_type == 7 and .ret == -22'
	run hp_dm raw:$MAGIC:0:8:0:00f0
	hp_empty_reply '.msg_type == 8 and .ret == -22'
	run hp_dm raw:$MAGIC:24:7:0:00f0
	hp_empty_reply '.ret == -22'
	# The chipset (host bridge 00:00.0, ISA bridge 00:01.0) stays.
	run hp_dm pci-del:0:0x00 pci-del:0:0x08
	echo "$output"
	[ "$(jq -s 'map(.ret) == [-1, -1]' <<<"$output")" = true ]
	# The guest is healthy: d1 is still readable, its device still there.
	pci_present 0000:00:00.0
	pci_present 0000:00:01.0
	[ "$(disk_sum_in_guest "$(blockdev_at "$s1")")" = "$D1_SUM" ]
}

@test "pci: upcall-ctl reports a refusal with exit 1 and the guest's errno" {
	run uctl --json pci add --slot 00:1e.0
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.ok == false and .errno == 19 and .guest.ret == -19 and .pci.slot == "00:1e.0"' <<<"$output"
	run uctl --json pci del --bus 0 --devfn 0xf0
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.errno == 19' <<<"$output"
	[ "$(guest_status | jq '.block | length')" -eq 2 ]
}

@test "pci: a bridge in the slot is refused and nothing of it stays in the guest" {
	local slot
	slot=$(e2e_qmp '{"execute":"query-pci"}' |
		jq '[.[0].devices[].slot] as $used | [range(2; 32)] - $used | .[0]')
	e2e_qmp "{\"execute\":\"device_add\",\"arguments\":{\"driver\":\"pci-bridge\",\"id\":\"br\",\"chassis_nr\":1,\"bus\":\"pci.0\",\"addr\":\"$(printf 0x%x "$slot")\"}}"
	run hp_dm pci-add:0:$((slot << 3)) pci-del:0:$((slot << 3))
	echo "$output"
	[ "$(jq -s 'map(.ret) == [-95, -19]' <<<"$output")" = true ]
	pci_absent "$(printf 0000:00:%02x.0 "$slot")"
	[ "$(disk_sum_in_guest "$(blockdev_at "$(pci_dev d1)")")" = "$D1_SUM" ]
}

@test "pci: pci del removes the first disk: block and PCI device gone, QEMU keeps it" {
	local s2
	s2=$(pci_dev d2)
	del_disk d1 "$D1"
	# QEMU's pc cannot finish the unplug without the guest's ACPI: said so.
	jq -e '.qemu == "left_behind" and (.warnings | length) == 1' <<<"$output"
	# The other disk is untouched.
	[ "$(disk_sum_in_guest "$(blockdev_at "$s2")")" = "$D2_SUM" ]
	# A second DEL of that slot: nothing there any more.
	run uctl --json pci del --slot "$(pci_dev d1 | cut -d: -f2-)"
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.errno == 19' <<<"$output"
}

@test "pci: the removed disk can be added again (QEMU's device reused) and is readable" {
	local before
	before=$(pci_dev d1)
	add_disk d1 "$D1"
	[ "$REUSED" = true ]
	[ "$BDF" = "$before" ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D1_SUM" ]
	# Adding it once more: the guest already has it.
	run uctl --json pci add --disk "$D1"
	echo "$output"
	[ "$status" -eq 1 ]
	jq -e '.errno == 17 and .reused' <<<"$output"
}

@test "pci: two disks in two slots are removed in the opposite order" {
	local s1 s2
	s1=$(pci_dev d1)
	s2=$(pci_dev d2)
	# d1 was added last: remove d2 (the older one) first, then d1.
	del_disk d2 "$D2"
	pci_present "$s1"
	[ "$(disk_sum_in_guest "$(blockdev_at "$s1")")" = "$D1_SUM" ]
	del_disk d1 "$D1"
	pci_absent "$s2"
	[ "$(guest_status | jq '.block | length')" -eq 0 ]
	# Both come back, each in its own slot.
	add_disk d2 "$D2"
	[ "$BDF" = "$s2" ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D2_SUM" ]
	add_disk d1 "$D1"
	[ "$BDF" = "$s1" ]
	[ "$(disk_sum_in_guest "$DEV")" = "$D1_SUM" ]
}

@test "pci: DEL_PCI of a disk that is being read completes; the guest keeps running" {
	local s1 dev
	s1=$(pci_dev d1)
	dev=$(blockdev_at "$s1")
	# Keep the disk open and busy while it is removed. The reader stops
	# once a read fails: restarting a failing dd forever would starve the
	# guest this file's other tests share.
	guest_exec "sh -c 'while dd if=/dev/$dev of=/dev/null bs=4k 2>/dev/null; do :; done' </dev/null >/dev/null 2>&1 &"
	guest_exec "sleep 3 </dev/$dev >/dev/null 2>&1 &"
	del_disk d1 "$D1"
	[ "$(guest_exec 'echo alive')" = alive ]
	[ "$(disk_sum_in_guest "$(blockdev_at "$(pci_dev d2)")")" = "$D2_SUM" ]
	add_disk d1 "$D1"
	[ "$(disk_sum_in_guest "$DEV")" = "$D1_SUM" ]
}
