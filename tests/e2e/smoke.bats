#!/usr/bin/env bats
# Boot smoke tests: the kernel and the initramfs boot on both machine
# types, the agent comes up with the CPUs we asked for, reboot ends QEMU,
# and tools/vm handles bad input and boot failures cleanly.
# Needs build/guest/bzImage and build/guest/initramfs.cpio.gz (make).

load lib

setup_file() {
	[[ -r ${VM_KERNEL:-$E2E_TOP/build/guest/bzImage} ]] || skip "no build/guest/bzImage"
	[[ -r ${VM_INITRD:-$E2E_TOP/build/guest/initramfs.cpio.gz} ]] || skip "no initramfs"
}

teardown() {
	e2e_teardown
}

# The kernel's own count of CPUs it brought up at boot.
booted_cpus() {
	e2e_console | sed -n 's/.*smp: Brought up [0-9]* nodes\?, \([0-9]*\) CPUs\?.*/\1/p'
}

has_vsockd() {
	[[ -x $E2E_TOP/build/bin/upcall-vsockd ]]
}

# An initramfs with one more file: the real one followed by a cpio holding
# $2 as /smoke/script.sh (the kernel unpacks concatenated archives in turn).
initramfs_with_script() {
	local out=$1 body=$2 root=$BATS_TEST_TMPDIR/extra
	mkdir -p "$root/smoke"
	printf '%s\n' "$body" >"$root/smoke/script.sh"
	chmod 755 "$root/smoke/script.sh"
	cp "${VM_INITRD:-$E2E_TOP/build/guest/initramfs.cpio.gz}" "$out"
	(cd "$root" && find smoke | cpio -o -H newc --quiet | gzip) >>"$out"
}

boot_and_check() {
	local machine=$1 cpus=$2 maxcpus=$3 ready
	e2e_start --machine "$machine" --cpus "$cpus" --maxcpus "$maxcpus"
	e2e_note "$machine: boot to ready ${E2E_BOOT_MS} ms ($cpus vCPUs)"
	ready=$(e2e_console | grep -m1 '^UPCALL READY ')
	# The READY payload is one JSON object.
	python3 -c 'import json, sys; json.loads(sys.argv[1].split(" ", 2)[2])' "$ready"
	[[ $(booted_cpus) == "$cpus" ]] || {
		echo "expected $cpus CPUs, kernel says: $(e2e_console | grep 'smp: Brought up')" >&2
		return 1
	}
	[[ $(ready_field cpus_online) == "$cpus" ]]
	e2e_assert_console_clean
}

# A field of the READY line's JSON.
ready_field() {
	e2e_console | grep -m1 '^UPCALL READY ' | cut -d' ' -f3- |
		python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

@test "pc (qboot): boots to the agent's READY line with 2 of 4 vCPUs" {
	boot_and_check pc 2 4
	grep -q 'hotplug_apic_ids=2-3' "$E2E_DIR/vm.env"
	grep -q '^MACHINE=pc$' "$E2E_DIR/vm.env"
	e2e_stop
	[[ ! -e $E2E_DIR/qemu.pid ]]
	run kill -0 "$(sed -n 's/^QEMU_PID=//p' "$E2E_DIR/vm.env")"
	[[ $status -ne 0 ]]
}

@test "microvm: boots to READY with 2 vCPUs; an extra disk is not announced" {
	qemu-img create -f raw "$BATS_TEST_TMPDIR/d1.img" 1M >/dev/null
	qemu-img create -f raw "$BATS_TEST_TMPDIR/d2.img" 1M >/dev/null
	e2e_start --machine microvm --cpus 2 \
		--disk "d1=$BATS_TEST_TMPDIR/d1.img" --disk "d2=$BATS_TEST_TMPDIR/d2.img"
	e2e_note "microvm: boot to ready ${E2E_BOOT_MS} ms (2 vCPUs)"
	[[ $(booted_cpus) == 2 ]]
	[[ $(ready_field cpus_online) == 2 ]]
	# Both disks sit on virtio-mmio transports, listed in devices.json with
	# base, size and IRQ, below the top slot (vsock's, when there is vsock).
	python3 - "$E2E_DIR/devices.json" "$BATS_TEST_TMPDIR" <<'EOF'
import json, sys
devs = json.load(open(sys.argv[1]))
assert [d["id"] for d in devs] == ["d1", "d2"], devs
for d in devs:
    base = int(d["base"], 16)
    assert 0xfeb00000 <= base < 0xfeb00e00 and base % 0x200 == 0, d
    assert d["size"] == "0x200" and d["irq"] == 5 + (base - 0xfeb00000) // 0x200, d
    assert d["file"] == "%s/%s.img" % (sys.argv[2], d["id"]), d
assert devs[0]["base"] != devs[1]["base"]
EOF
	# Nobody told the guest about them: no virtio-blk disk came up.
	run grep -E 'virtio_blk|\[vd[a-z]\]' "$E2E_DIR/console.log"
	[[ $status -eq 1 ]]
	e2e_assert_console_clean
}

@test "pc: reboot -f in the guest ends QEMU (-no-reboot, no ACPI)" {
	initramfs_with_script "$BATS_TEST_TMPDIR/initrd" 'echo SMOKE-REBOOT; reboot -f'
	e2e_start --machine pc --initrd "$BATS_TEST_TMPDIR/initrd" \
		--append agent.script=/smoke/script.sh
	e2e_wait_exit 30
	e2e_console | grep -q SMOKE-REBOOT
	e2e_assert_console_clean
}

@test "microvm: reboot -f in the guest ends QEMU" {
	initramfs_with_script "$BATS_TEST_TMPDIR/initrd" 'echo SMOKE-REBOOT; reboot -f'
	e2e_start --machine microvm --initrd "$BATS_TEST_TMPDIR/initrd" \
		--append agent.script=/smoke/script.sh
	e2e_wait_exit 30
	e2e_console | grep -q SMOKE-REBOOT
	e2e_assert_console_clean
}

@test "pc and microvm: the agent's status service answers over vsock" {
	has_vsockd || skip "build/bin/upcall-vsockd not built"
	local m reply
	for m in pc microvm; do
		e2e_start --dir "$BATS_TEST_TMPDIR/$m" --machine "$m"
		reply=$(e2e_vsock 1219 status)
		# The reply is JSON and lists the vsock device on this machine's
		# transport (PCI on pc, MMIO at the announced slot on microvm).
		python3 - "$m" "$reply" <<'EOF'
import json, sys
machine, status = sys.argv[1], json.loads(sys.argv[2])
vsock = [v for v in status["virtio"] if v["type"] == "vsock"]
assert len(vsock) == 1, status
if machine == "pc":
    assert vsock[0]["transport"] == "pci", vsock
else:
    assert vsock[0]["transport"] == "mmio" and vsock[0]["mmio_base"] == "0xfeb00e00" \
        and vsock[0]["irq"] == 12, vsock
EOF
		e2e_assert_console_clean
		e2e_stop
	done
}

@test "start: a guest that never gets ready is stopped, with its console quoted" {
	run "$E2E_VM" start --dir "$BATS_TEST_TMPDIR/vm" --machine pc --no-vsock \
		--ready '^NEVER PRINTED$' --timeout 5
	E2E_STARTED+=("$BATS_TEST_TMPDIR/vm")
	[[ $status -ne 0 ]]
	[[ $output == *"timeout after 5 s"* ]]
	[[ $output == *"last console lines"* ]]
	# The quote is lines of the console, whatever the guest reached in
	# 5 s (READY itself may take longer on a loaded host).
	local quoted
	quoted=$(sed -n '/^---- last console lines/,/^----$/p' <<<"$output" | sed '1d;$d' |
		grep -v '^[[:space:]]*$' | tail -n 1)
	[[ -n $quoted ]]
	tr -d '\r' <"$BATS_TEST_TMPDIR/vm/console.log" | grep -Fxq -- "$quoted"
	[[ ! -e $BATS_TEST_TMPDIR/vm/qemu.pid ]]
	run kill -0 "$(sed -n 's/^QEMU_PID=//p' "$BATS_TEST_TMPDIR/vm/vm.env")"
	[[ $status -ne 0 ]]
}

@test "start: a guest that panics ends QEMU; start says so at once and quotes the panic" {
	SECONDS=0
	run "$E2E_VM" start --dir "$BATS_TEST_TMPDIR/vm" --machine microvm \
		--append rdinit=/no/such/init --timeout 60
	E2E_STARTED+=("$BATS_TEST_TMPDIR/vm")
	e2e_console_dirty_ok   # the panic is the point
	[[ $status -ne 0 ]]
	[[ $output == *"is not running"* ]]
	[[ $output == *"Kernel panic"* ]]
	((SECONDS < 30))
	[[ ! -e $BATS_TEST_TMPDIR/vm/vsockd.pid ]]
	run pgrep -f -- "--uds-path $BATS_TEST_TMPDIR/vm/vsock.sock"
	[[ $status -ne 0 ]]
}

@test "start: bad arguments get a clear error and start nothing" {
	local d=$BATS_TEST_TMPDIR/bad
	run "$E2E_VM" start --dir "$d" --machine q35
	[[ $status -ne 0 && $output == *"--machine pc|microvm"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --cpus 4 --maxcpus 2
	[[ $status -ne 0 && $output == *"below --cpus"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --disk "x=/dev/null"
	[[ $status -ne 0 && $output == *"--disk is for --machine microvm"* ]]
	run "$E2E_VM" start --dir "$d" --machine microvm --disk "no-equals-sign"
	[[ $status -ne 0 && $output == *"ID=FILE"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --kernel /nonexistent
	[[ $status -ne 0 && $output == *"not found"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --maxcpus 300
	[[ $status -ne 0 && $output == *"at most 255"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --mem lots
	[[ $status -ne 0 && $output == *"bad size: lots"* ]]
	# Sizes QEMU would misread or that cannot boot: refused with the reason.
	run "$E2E_VM" start --dir "$d" --machine pc --mem 512MB
	[[ $status -ne 0 && $output == *"bad size: 512MB"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --mem 24M
	[[ $status -ne 0 && $output == *"too small"*"at least 32M"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --mem 100000
	[[ $status -ne 0 && $output == *"more than this host's RAM"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --mem 1000000K
	[[ $status -ne 0 && $output == *"not a whole number of MiB"* ]]
	run "$E2E_VM" start --dir "$d" --machine pc --cpus
	[[ $status -ne 0 && $output == *"--cpus needs a value"* ]]
	[[ ! -e $d/qemu.pid ]]
}
