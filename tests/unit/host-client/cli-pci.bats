#!/usr/bin/env bats
# upcall-ctl pci as a user sees it, against fake-vm (a run folder without a
# VM): usage errors, the guest's answer and refusals, exit codes and --json.
# QEMU's side (slots of pci.0, device_add/device_del) needs a real QEMU: it
# is tested in tests/e2e/hotplug-pci.bats.

bats_require_minimum_version 1.5.0

load cli_lib

@test "pci: listed in --help, its own --help, and in the man page" {
	help_and_man pci "Usage: upcall-ctl [OPTIONS] pci add" \
		--slot --bus --devfn --disk --device --unplug-wait
}

@test "pci: usage errors exit 2 before anything is sent" {
	touch "$BATS_TEST_TMPDIR/disk.img"
	usage_errors <<EOF2
pci
pci frob
pci add
pci del
pci add --slot zz
pci add --slot 00:20.0
pci add --slot 00:05.8
pci add --slot 0001:00:05.0
pci add --slot 100:05.0
pci add --slot 00:05.0x
pci add --bus 0
pci add --devfn 8
pci add --bus 256 --devfn 0
pci add --bus 0 --devfn 256
pci add --slot 00:05.0 --bus 0 --devfn 8
pci add --slot 00:05.0 extra
pci add --disk $BATS_TEST_TMPDIR/disk.img
pci add --device d1 --slot 00:05.0
pci add --disk $BATS_TEST_TMPDIR/disk.img --device d1
pci add --disk $BATS_TEST_TMPDIR/nonexistent.img --slot 00:05.0
pci del --unplug-wait -1 --slot 00:05.0
EOF2
}

@test "pci add/del: the slot goes to the guest, the answer comes back" {
	start_fake
	run_json --uds "$RUN/vsock.sock" pci add --slot 00:05.0
	[[ $status -eq 0 ]]
	jq -e '.command == "pci add" and .pci == {"slot": "00:05.0", "bus": 0, "devfn": 40} and .guest.ret == 0' <<<"$output"
	run_json --uds "$RUN/vsock.sock" pci del --bus 1 --devfn 0xf1
	[[ $status -eq 0 ]]
	jq -e '.pci.slot == "01:1e.1" and .pci.devfn == 241' <<<"$output"
	run_json --uds "$RUN/vsock.sock" pci add --slot 0000:00:1f.0
	jq -e '.pci.slot == "00:1f.0"' <<<"$output"
	run --separate-stderr "$CTL" --uds "$RUN/vsock.sock" pci add --slot 00:05.0
	[[ $status -eq 0 && $output == "guest added PCI 00:05.0" ]]
}

@test "pci: a refusal exits 1 with the guest's errno" {
	start_fake --pci-ret 19
	run_json --uds "$RUN/vsock.sock" pci del --slot 00:1e.0
	[[ $status -eq 1 ]]
	jq -e '.errno == 19 and .guest.ret == -19 and .pci.slot == "00:1e.0"' <<<"$output"
	run --separate-stderr "$CTL" --uds "$RUN/vsock.sock" pci add --slot 00:1e.0
	[[ $status -eq 1 && $stderr == *"guest refused ADD_PCI of 00:1e.0: No such device (-19)"* ]]
}

@test "pci: no guest is exit 3, a QMP failure exit 4" {
	run_json --uds "$BATS_TEST_TMPDIR/none.sock" pci add --slot 00:05.0
	[[ $status -eq 3 ]]
	jq -e '.errno == 2' <<<"$output"
	run_json --uds "$BATS_TEST_TMPDIR/none.sock" --qmp "$BATS_TEST_TMPDIR/none.qmp" pci add --slot 00:05.0
	[[ $status -eq 4 ]]
	# The fake QEMU knows no query-pci: a QEMU error, nothing sent to the guest.
	start_fake
	touch "$BATS_TEST_TMPDIR/disk.img"
	run_json --run "$RUN" pci add --disk "$BATS_TEST_TMPDIR/disk.img"
	[[ $status -eq 4 ]]
	jq -e '.error | contains("query-pci") or contains("PCI slots")' <<<"$output"
}

@test "pci: waits for the VM's lock like cpu and mmio, then exits 3 (EBUSY)" {
	start_fake
	# Another run holds the VM's lock (lock.h): the QMP socket's lock file.
	exec 9>"$RUN/qmp.sock.lock"
	flock -n 9
	run_json --run "$RUN" --lock-wait 0.3 pci del --slot 00:05.0
	exec 9>&-
	[[ $status -eq 3 ]]
	jq -e '.errno == 16' <<<"$output"
	run_json --run "$RUN" --no-lock --uds "$RUN/vsock.sock" pci add --slot 00:05.0 --qmp "$BATS_TEST_TMPDIR/none.qmp"
	[[ $status -eq 4 ]]
}
