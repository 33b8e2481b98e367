#!/usr/bin/env bats
# upcall-ctl mem as a user sees it, against fake-vm (a run folder without a
# VM): usage errors, the answer of a guest without memory hotplug, exit
# codes and --json. QEMU's side (memfd backend, pc-dimm, device_del) and a
# guest that adds and removes memory need a real QEMU and our kernel: they
# are tested in tests/e2e/hotplug-mem.bats.

bats_require_minimum_version 1.5.0

load cli_lib

@test "mem: listed in --help, its own --help, and in the man page" {
	help_and_man mem "Usage: upcall-ctl [OPTIONS] mem add SIZE" \
		--base --size --device --unplug-wait
	grep -q '^\.B mem add' "$MAN"
}

@test "mem: usage errors exit 2 before anything is sent" {
	usage_errors <<EOF2
mem
mem frob
mem add
mem add 0
mem add 0M
mem add -128M
mem add 1.5G
mem add 128X
mem add 128M 256M
mem add 128M --size 128M
mem add 128M --device d1
mem add 128M --base zz
mem add 128M
mem add 2T --base 0xffffff0000000000
mem del
mem del --base 0x100000000
mem del --size 128M
mem del --base 0x100000000 --size 128M --device d1
mem del --device d1
mem del --unplug-wait -1 --base 0 --size 128M
EOF2
}

@test "mem: a guest without memory hotplug answers EOPNOTSUPP: exit 1 with its errno" {
	start_fake
	run_json --uds "$RUN/vsock.sock" mem add 128M --base 0x100000000
	[[ $status -eq 1 ]]
	jq -e '.command == "mem add" and .errno == 95 and .guest.ret == -95' <<<"$output"
	jq -e '.mem == {"base": "0x100000000", "size": 134217728}' <<<"$output"
	run --separate-stderr "$CTL" --uds "$RUN/vsock.sock" mem del --base 0x100000000 --size 0x8000000
	[[ $status -eq 1 && $stderr == *"guest refused DEL_MEM of 0x100000000+0x8000000: Operation not supported (-95)"* ]]
}

@test "mem: no guest is exit 3, a QMP failure exit 4" {
	run_json --uds "$BATS_TEST_TMPDIR/none.sock" mem add 128M --base 0x100000000
	[[ $status -eq 3 ]]
	run_json --uds "$BATS_TEST_TMPDIR/none.sock" --qmp "$BATS_TEST_TMPDIR/none.qmp" mem add 128M
	[[ $status -eq 4 ]]
	# The fake QEMU knows no query-memory-devices: a QEMU error, nothing sent.
	start_fake
	run_json --run "$RUN" mem add 128M
	[[ $status -eq 4 ]]
	jq -e '.error | contains("DIMMs")' <<<"$output"
	# with --qmp, QEMU picks the address
	run_json --run "$RUN" mem add 128M --base 0x100000000
	[[ $status -eq 2 ]]
}
