#!/usr/bin/env bats
# The guest kernel series in real QEMU guests: the upcall server listens,
# the device manager answers the protocol (malformed requests included),
# vCPUs QEMU hot-adds on `pc` come online through ADD_CPU and go away
# through DEL_CPU, and an unannounced virtio-blk disk on `microvm` appears
# through ADD_MMIO and disappears through DEL_MMIO.
# Talks to the guest with tests/kernel/upcall_dm.py over upcall-vsockd.

load lib

DM=$E2E_TOP/tests/kernel/upcall_dm.py
# KERNEL_E2E_BZIMAGE=FILE tests another kernel (e.g. a development build);
# KERNEL_E2E_LINE=6.1 says it is a 6.1 one (make check-kernel-e2e-6.1).
KERNEL_OPT=()
[[ -n ${KERNEL_E2E_BZIMAGE:-} ]] && KERNEL_OPT=(--kernel "$KERNEL_E2E_BZIMAGE")

setup_file() {
	[[ -r ${KERNEL_E2E_BZIMAGE:-$E2E_TOP/build/guest/bzImage} ]] || skip "no guest kernel"
	[[ -r $E2E_TOP/build/guest/initramfs.cpio.gz ]] || skip "no initramfs"
	[[ -x $E2E_TOP/build/bin/upcall-vsockd ]] || skip "no build/bin/upcall-vsockd"
}

teardown() {
	e2e_teardown
}

start() {
	e2e_start "${KERNEL_OPT[@]}" "$@"
}

# dm REQUEST...: one device-manager connection; prints the JSON replies.
dm() {
	python3 "$DM" --uds "$E2E_DIR/vsock.sock" --timeout 60 "$@"
}

# field JSON KEY: one value of a JSON object.
field() {
	python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# expect JSON RET [APIC_INDEX]: the reply's ret (and apic_index) or fail.
expect() {
	local ret idx
	ret=$(field "$1" ret) || { echo "no reply: $1" >&2; return 1; }
	[[ $ret == "$2" ]] || { echo "expected ret $2, got: $1" >&2; return 1; }
	if [[ $# -ge 3 ]]; then
		idx=$(field "$1" apic_index)
		[[ $idx == "$3" ]] || { echo "expected apic_index $3, got: $1" >&2; return 1; }
	fi
}

# guest CMD: runs CMD in the guest through the agent's exec request.
guest() {
	local reply
	reply=$(e2e_vsock 1219 "exec $1") || return 1
	python3 -c 'import json, sys
r = json.loads(sys.argv[1])
sys.stdout.write(r["output"])
sys.exit(0 if r["status"] == 0 else 1)' "$reply"
}

# QMP device_add of the vCPU slot with socket-id $1 on pc.
qmp_add_cpu() {
	local slot
	slot=$(e2e_qmp '{"execute":"query-hotpluggable-cpus"}' | python3 -c '
import json, sys
for c in json.load(sys.stdin):
    if c["props"].get("socket-id") == int(sys.argv[1]) and "qom-path" not in c:
        print(json.dumps({"execute": "device_add", "arguments": dict(
            driver=c["type"], id="cpu%d" % c["props"]["socket-id"], **c["props"])}))
        break
else:
    sys.exit("no free vCPU slot with socket-id " + sys.argv[1])' "$1") || return 1
	e2e_qmp "$slot" >/dev/null
}

@test "pc: the server listens on vsock port 219 and the device manager is ready" {
	start --machine pc --cpus 1 --maxcpus 2
	e2e_note "pc boot to ready: ${E2E_BOOT_MS} ms"
	e2e_console | grep -q 'upcall: listening on vsock port 219'
	e2e_console | grep -q "upcall: devmgr: service 'd' ready (vCPU hotplug: yes, virtio-mmio hotplug: yes, PCI hotplug: yes, memory hotplug: yes)"
	# hotplug_apic_ids=1 (from the launcher) made one possible CPU, in
	# each kernel line's words (KERNEL_E2E_LINE: the kernel under test).
	if [[ ${KERNEL_E2E_LINE:-6.12} == 6.1 ]]; then
		e2e_console | grep -q 'Allowing 2 CPUs, 1 hotplug CPUs'
	else
		e2e_console | grep -q 'Allowing 1 present CPUs plus 1 hotplug CPUs'
	fi
	e2e_assert_console_clean
}

@test "device manager: greeting, and every malformed request gets a reply with ret set" {
	start --machine pc --cpus 1 --maxcpus 2
	local out
	out=$(dm greeting)
	[[ $(field "$out" greeting) == "[1145897216, 0, 0, 0]" ]]
	[[ $(field "$out" rest_zero) == True ]]

	mapfile -t r < <(dm \
		raw:0x12345678:258:1:0:0101 \
		raw:0x444D0100:0:42:0 \
		raw:0x444D0100:0:0:0 \
		raw:0x444D0100:0:3:0 \
		raw:0x444D0100:258:1:1:0101 \
		raw:0x444D0100:100:1:0:0101 \
		cpu-add: \
		cpu-add:1,1 \
		cpu-del:0 \
		cpu-add:0 \
		cpu-add:9 \
		raw:0x444D0100:16:5:0 \
		mmio-add:0xfeb00000:0:5 \
		mmio-add:0xffffffffffffff00:0x200:5 \
		mmio-del:0xfeb00000:0x200:5 \
		mmio-add:0xfe000000:0x200:0 \
		trickle:raw:0x444D0100:0:42:0 \
		mmio-add:0xfe000000:0x100:5 \
		mmio-add:0x100000:0x200:5 \
		mmio-add:0xfe000000:0x200:250)
	[[ ${#r[@]} -eq 20 ]] || { printf '%s\n' "${r[@]}"; false; }
	expect "${r[0]}" -71 0   # wrong magic: -EPROTO, apic_index set
	expect "${r[1]}" -95     # unknown type: -EOPNOTSUPP
	expect "${r[2]}" -95     # CONNECT from the client
	expect "${r[3]}" -22     # ADD_MEM with msg_size 0, not 16: -EINVAL (docs/protocol.md)
	expect "${r[4]}" -22 0   # msg_flags set
	expect "${r[5]}" -22 0   # CPU msg_size not 258
	expect "${r[6]}" -22 0   # count 0
	expect "${r[7]}" -22 0   # APIC ID repeated: refused, none handled
	expect "${r[8]}" -1 0    # boot CPU: -EPERM
	expect "${r[9]}" -17 0   # APIC ID 0 is present: -EEXIST
	expect "${r[10]}" -19 0  # APIC ID 9 was never enumerated: -ENODEV
	expect "${r[11]}" -22    # MMIO msg_size not 24
	expect "${r[12]}" -22    # MMIO size 0
	expect "${r[13]}" -22    # window wraps around
	expect "${r[14]}" -19    # DEL_MMIO of an unknown window: -ENODEV
	expect "${r[15]}" -22    # IRQ 0
	expect "${r[16]}" -95    # a request arriving in 7-byte pieces is read whole
	expect "${r[17]}" -22    # window smaller than the register block (0x200)
	expect "${r[18]}" -16    # window in RAM (busy iomem), refused before mapping
	expect "${r[19]}" -22    # no such IRQ
	# Reply headers: magic, type echoed, flags 0, msg_size 4 (CPU) / 0.
	[[ $(field "${r[0]}" magic) == 1145897216 && $(field "${r[0]}" msg_type) == 1 &&
		$(field "${r[0]}" msg_size) == 4 && $(field "${r[0]}" msg_flags) == 0 ]]
	[[ $(field "${r[1]}" msg_type) == 42 && $(field "${r[1]}" msg_size) == 0 ]]
	[[ $(field "${r[14]}" msg_type) == 6 && $(field "${r[14]}" msg_size) == 0 ]]
	for x in "${r[@]}"; do
		[[ $(field "$x" rest_zero) == True ]] || { echo "stale bytes: $x" >&2; false; }
	done
	e2e_assert_console_clean
}

@test "server: selector timeout, idle timeout, a silent client blocks nobody" {
	start --machine pc --cpus 1 --append "upcall.idle_timeout=3"
	local out t0
	# No selector byte: closed after 10 s.
	out=$(dm wait-close:20)
	[[ $(field "$out" closed) == True ]]
	e2e_note "no selector: closed after $(field "$out" after_s) s (limit 10 s)"
	python3 -c 'import sys; sys.exit(not 9 <= float(sys.argv[1]) <= 20)' "$(field "$out" after_s)"
	# Unknown service: closed at once. (A kernel without the device manager
	# treats 'd' the same way: no service registered under the byte.)
	out=$(dm select:3f wait-close:5)
	[[ $(field "$out" closed) == True ]]
	# Idle after the greeting: closed after idle_timeout (3 s).
	mapfile -t r < <(dm greeting wait-close:15)
	[[ $(field "${r[1]}" closed) == True ]]
	e2e_note "idle connection: closed after $(field "${r[1]}" after_s) s (idle_timeout=3)"
	python3 -c 'import sys; sys.exit(not 2.5 <= float(sys.argv[1]) <= 8)' "$(field "${r[1]}" after_s)"
	# A client that selected 'd' and went silent does not delay another one.
	dm greeting idle:2.5 >/dev/null &
	t0=$(date +%s%N)
	out=$(dm raw:0x444D0100:0:42:0)
	expect "$out" -95
	e2e_note "request while another client idles: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
	wait
	e2e_assert_console_clean
}

@test "server: only the host is served by default; guest loopback peers are refused" {
	start --machine pc --cpus 1 --append "agent.exec=1"
	e2e_mark
	# The guest itself (CID 1, vsock loopback) is not the host.
	run guest "agent-query -c 1 -p 219 -t 3 d"
	e2e_wait_console 'upcall: refused connection from CID 1' 10
	e2e_assert_console_clean
}

@test "server: upcall.any_peer=1 serves guest peers; upcall.max_conns bounds connections" {
	start --machine microvm --append "agent.exec=1 upcall.any_peer=1 upcall.max_conns=2"
	e2e_mark
	# Served: the guest's own client gets the (binary, line-less) greeting
	# and waits for a line until its timeout, instead of seeing EOF.
	out=$(guest "agent-query -c 1 -p 219 -t 2 d 2>&1; true")
	[[ $out == *"timed out"* ]] || { echo "agent-query: $out" >&2; false; }
	[[ $(e2e_console | grep -c 'refused connection') == 0 ]]
	# Two idle clients hold both slots (c1 longer); a third one is served:
	# the connection idle longest (c1) makes room, and that is logged.
	dm greeting idle:25 >"$BATS_TEST_TMPDIR/c1" &
	for ((i = 0; i < 100; i++)); do
		[[ -s $BATS_TEST_TMPDIR/c1 ]] && break
		sleep 0.1
	done
	dm greeting idle:25 >"$BATS_TEST_TMPDIR/c2" &
	# Wait (10 s at most) until both got their greeting.
	for ((i = 0; i < 100; i++)); do
		[[ -s $BATS_TEST_TMPDIR/c1 && -s $BATS_TEST_TMPDIR/c2 ]] && break
		sleep 0.1
	done
	[[ -s $BATS_TEST_TMPDIR/c1 && -s $BATS_TEST_TMPDIR/c2 ]]
	expect "$(dm raw:0x444D0100:0:42:0)" -95
	e2e_wait_console 'upcall: 2 connections open: closing one from CID 2 idle for [0-9]+ s to serve a new one from CID 2' 10
	wait
	grep -q '"closed": true' "$BATS_TEST_TMPDIR/c1"
	grep -q '"closed": false' "$BATS_TEST_TMPDIR/c2"
	# A busy connection is never closed for another one: with both slots
	# held by requests in progress there is no room (c2 sends half a
	# message, so it is reading a request, not idle).
	dm greeting partial:raw:0x444D0100:0:42:0 wait-close:12 >"$BATS_TEST_TMPDIR/c3" &
	dm greeting partial:raw:0x444D0100:0:42:0 wait-close:12 >"$BATS_TEST_TMPDIR/c4" &
	for ((i = 0; i < 100; i++)); do
		[[ $(cat "$BATS_TEST_TMPDIR/c3" "$BATS_TEST_TMPDIR/c4" 2>/dev/null | grep -c sent) == 2 ]] && break
		sleep 0.1
	done
	e2e_mark
	run dm greeting
	[[ $output == *error* ]]
	e2e_wait_console 'upcall: 2 connections busy, closing one from CID 2' 10
	wait
	# Slots are free again.
	expect "$(dm raw:0x444D0100:0:42:0)" -95
	e2e_assert_console_clean
}

@test "server: upcall.port moves the listener" {
	start --machine microvm --append "upcall.port=4219"
	e2e_console | grep -q 'upcall: listening on vsock port 4219'
	out=$(python3 "$DM" --uds "$E2E_DIR/vsock.sock" --port 4219 --timeout 20 greeting)
	[[ $(field "$out" greeting) == "[1145897216, 0, 0, 0]" ]]
	run python3 "$DM" --uds "$E2E_DIR/vsock.sock" --timeout 20 greeting
	[[ $output == *error* ]]
}

@test "pc: ADD_CPU brings QEMU's hot-added vCPUs online, DEL_CPU takes them away" {
	start --machine pc --cpus 1 --maxcpus 3 --append "agent.exec=1"
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0 ]]
	[[ $(guest 'cat /sys/devices/system/cpu/possible') == 0-2 ]]

	qmp_add_cpu 1
	e2e_mark
	out=$(dm cpu-add:1)
	expect "$out" 0 1
	e2e_note "ADD_CPU 1 vCPU: $(field "$out" ms) ms"
	e2e_wait_console 'upcall: devmgr: CPU1 \(APIC ID 1\) hot-added' 10
	e2e_wait_console '^UPCALL UEVENT .*"action":"online".*"/devices/system/cpu/cpu1"' 10
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0-1 ]]
	[[ $(guest 'nproc') == 2 ]]
	[[ $(guest 'cat /sys/devices/system/cpu/cpu1/online') == 1 ]]
	# The scheduler uses it: a task pinned to CPU 1 runs there.
	[[ $(guest 'taskset -c 1 cat /proc/self/stat' | awk '{print $39}') == 1 ]]

	# Already present: -EEXIST at index 0. A batch stops at the first
	# failure and says where: APIC ID 2 has no vCPU yet in QEMU -> later.
	expect "$(dm cpu-add:1)" -17 0

	# Batch: 2 is added, 5 was never enumerated -> -ENODEV at index 1.
	qmp_add_cpu 2
	out=$(dm cpu-add:2,5)
	expect "$out" -19 1
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0-2 ]]

	# DEL_CPU checks the whole batch first: the boot CPU (APIC 0) makes it
	# fail as a whole, CPU 2 stays, and apic_index says none was handled.
	expect "$(dm cpu-del:2,0)" -1 0
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0-2 ]]

	e2e_mark
	out=$(dm cpu-del:1,2)
	expect "$out" 0 2
	e2e_note "DEL_CPU 2 vCPUs: $(field "$out" ms) ms"
	e2e_wait_console 'upcall: devmgr: CPU2 \(APIC ID 2\) hot-removed' 10
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0 ]]
	[[ $(guest 'cat /sys/devices/system/cpu/present') == 0 ]]
	[[ $(guest 'nproc') == 1 ]]
	[[ $(guest 'test -e /sys/devices/system/cpu/cpu1 && echo present || echo absent') == absent ]]
	expect "$(dm cpu-del:1)" -19 0

	# The vCPUs still exist in QEMU (pc cannot unplug without ACPI), parked
	# by the guest: adding them again goes through INIT/SIPI once more.
	out=$(dm cpu-add:2,1)
	expect "$out" 0 2
	e2e_note "ADD_CPU 2 vCPUs again: $(field "$out" ms) ms"
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0-2 ]]
	e2e_assert_console_clean
}

@test "pc: ADD_CPU for an APIC ID without a vCPU fails cleanly and can be retried" {
	start --machine pc --cpus 1 --maxcpus 2 --append "agent.exec=1"
	# No device_add: nobody answers INIT/SIPI; the CPU's state is undone.
	out=$(dm cpu-add:1)
	expect "$out" -5 0
	e2e_note "ADD_CPU without a vCPU: $(field "$out" ret) after $(field "$out" ms) ms"
	[[ $(guest 'cat /sys/devices/system/cpu/present') == 0 ]]
	[[ $(guest 'test -e /sys/devices/system/cpu/cpu1 && echo present || echo absent') == absent ]]
	qmp_add_cpu 1
	expect "$(dm cpu-add:1)" 0 1
	[[ $(guest 'cat /sys/devices/system/cpu/online') == 0-1 ]]
}

@test "microvm: ADD_MMIO makes an unannounced virtio-blk disk appear, DEL_MMIO removes it" {
	local img=$BATS_TEST_TMPDIR/disk.img base size irq out
	head -c 1048576 /dev/zero >"$img"
	printf 'upcall-disk-marker' | dd of="$img" conv=notrunc status=none
	start --machine microvm --disk disk0="$img" --append "agent.exec=1"
	base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["base"])' "$E2E_DIR/devices.json")
	size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["size"])' "$E2E_DIR/devices.json")
	irq=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["irq"])' "$E2E_DIR/devices.json")
	[[ $(guest 'test -e /dev/vda && echo present || echo absent') == absent ]]

	e2e_mark
	out=$(dm "mmio-add:$base:$size:$irq")
	expect "$out" 0
	e2e_note "ADD_MMIO virtio-blk: $(field "$out" ms) ms"
	e2e_wait_console '^UPCALL UEVENT .*"action":"add".*"devname":"vda"' 10
	[[ $(guest 'head -c 18 /dev/vda') == upcall-disk-marker ]]
	[[ $(guest 'cat /sys/block/vda/size') == 2048 ]]

	# Same window again: -EEXIST. The vsock device's window (announced at
	# boot): -EEXIST too. An empty transport: no driver binds, -ENODEV.
	expect "$(dm "mmio-add:$base:$size:$((irq + 1))")" -17
	expect "$(dm mmio-add:0xfeb00e00:0x200:13)" -17
	expect "$(dm mmio-add:0xfeb00000:0x200:5)" -19
	expect "$(dm "mmio-del:0xfeb00000:$size:5")" -19

	e2e_mark
	out=$(dm "mmio-del:$base:$size:$irq")
	expect "$out" 0
	e2e_note "DEL_MMIO virtio-blk: $(field "$out" ms) ms"
	e2e_wait_console '^UPCALL UEVENT .*"action":"remove".*"devname":"vda"' 10
	[[ $(guest 'test -e /dev/vda && echo present || echo absent') == absent ]]
	expect "$(dm "mmio-del:$base:$size:$irq")" -19

	# And back again.
	expect "$(dm "mmio-add:$base:$size:$irq")" 0
	[[ $(guest 'head -c 18 /dev/vda') == upcall-disk-marker ]]
	e2e_assert_console_clean
}

@test "microvm: DEL_MMIO of a disk in use completes without a crash" {
	local img=$BATS_TEST_TMPDIR/disk.img base size irq
	head -c 1048576 /dev/zero >"$img"
	start --machine microvm --disk disk0="$img" --append "agent.exec=1"
	base=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["base"])' "$E2E_DIR/devices.json")
	size=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["size"])' "$E2E_DIR/devices.json")
	irq=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["irq"])' "$E2E_DIR/devices.json")
	expect "$(dm "mmio-add:$base:$size:$irq")" 0
	# Keep the disk open and busy while it is removed. The reader stops
	# once a read fails (the disk is gone): a loop that went on would fork
	# a failing dd forever and starve the guest for the rest of the test.
	guest 'sh -c "while dd if=/dev/vda of=/dev/null bs=4k 2>/dev/null; do :; done" </dev/null >/dev/null 2>&1 &'
	guest 'sleep 3 </dev/vda >/dev/null 2>&1 &'
	expect "$(dm "mmio-del:$base:$size:$irq")" 0
	[[ $(guest 'test -e /dev/vda && echo present || echo absent') == absent ]]
	guest 'echo alive' | grep -q alive
	# The window is free again.
	expect "$(dm "mmio-add:$base:$size:$irq")" 0
	e2e_assert_console_clean
}

# disk_at N: base, size and IRQ of disk N of devices.json, as "BASE SIZE IRQ".
disk_at() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))[int(sys.argv[2])]
print(d["base"], d["size"], d["irq"])' "$E2E_DIR/devices.json" "$1"
}

# marked_disk FILE TEXT: a 1 MiB disk image that starts with TEXT.
marked_disk() {
	head -c 1048576 /dev/zero >"$1"
	printf '%s' "$2" | dd of="$1" conv=notrunc status=none
}

@test "microvm: ADD_MMIO accepts an IRQ that another device uses with sharing; both disks work" {
	local a=$BATS_TEST_TMPDIR/a.img b=$BATS_TEST_TMPDIR/b.img
	marked_disk "$a" disk-a-marker
	marked_disk "$b" disk-b-marker
	start --machine microvm --disk da="$a" --disk db="$b" --append "agent.exec=1"
	read -r abase asize airq < <(disk_at 0)
	read -r bbase bsize birq < <(disk_at 1)
	[[ $airq != "$birq" ]]
	expect "$(dm "mmio-add:$abase:$asize:$airq")" 0
	[[ $(guest 'head -c 13 /dev/vda') == disk-a-marker ]]
	# QEMU wires each transport to a line of its own, so two devices cannot
	# raise one line here. Disk B is announced with disk A's IRQ: the guest
	# then runs both handlers on every interrupt of that line and each one
	# checks its own device's status, which is all sharing means to the
	# guest. Disk A is kept busy so that the line fires (B's own line is
	# not listened to).
	# The reader stops by itself once a read fails, and is killed by its
	# pid below (busybox here has no pkill): a loop restarting a failing
	# dd would starve the guest for the rest of the test and its
	# end-of-VM kmemleak scan.
	# shellcheck disable=SC2016 # expanded by the guest shell
	guest 'sh -c "while dd if=/dev/vda of=/dev/null bs=4k 2>/dev/null; do :; done" </dev/null >/dev/null 2>&1 & echo $! >/tmp/reader.pid'
	out=$(dm "mmio-add:$bbase:$bsize:$airq")
	expect "$out" 0
	e2e_note "ADD_MMIO on a shared IRQ: $(field "$out" ms) ms"
	[[ $(guest 'head -c 13 /dev/vdb') == disk-b-marker ]]
	[[ $(guest 'head -c 13 /dev/vda') == disk-a-marker ]]
	# Both are handlers of one IRQ.
	guest "grep -E '^ *$airq:' /proc/interrupts" | grep -E 'virtio[0-9]+, *virtio[0-9]+'
	# The vsock device (IRQ 12) can be shared as well: an empty transport
	# on it gets past the IRQ check and fails only because nothing binds.
	expect "$(dm mmio-add:0xfeb00000:0x200:12)" -19
	expect "$(dm "mmio-del:$bbase:$bsize:0")" 0
	# shellcheck disable=SC2016
	guest 'kill $(cat /tmp/reader.pid)'
	expect "$(dm "mmio-del:$abase:$asize:0")" 0
	e2e_assert_console_clean
}

@test "microvm: a wrong IRQ costs one device, not the device manager; idle connections stay" {
	local a=$BATS_TEST_TMPDIR/a.img b=$BATS_TEST_TMPDIR/b.img t0 ms
	marked_disk "$a" disk-a-marker
	marked_disk "$b" disk-b-marker
	start --machine microvm --disk da="$a" --disk db="$b" --append "agent.exec=1"
	read -r abase asize airq < <(disk_at 0)
	read -r bbase bsize birq < <(disk_at 1)
	# A device-manager connection that stays idle for 60 s is still served
	# (runs in the background while the rest of the test waits).
	dm greeting idle:60 raw:0x444D0100:0:42:0 >"$BATS_TEST_TMPDIR/idle" &
	local idle_pid=$!
	# A message that started to arrive is still bounded: 10 s.
	dm greeting partial:raw:0x444D0100:0:42:0 wait-close:25 >"$BATS_TEST_TMPDIR/partial" &
	local partial_pid=$!

	# Disk A raises IRQ $airq; the VMM says 5. Its probe reads the partition
	# table and waits for an interrupt that never comes.
	[[ $airq != 5 ]]
	dm --timeout 30 "mmio-add:$abase:$asize:5" >"$BATS_TEST_TMPDIR/wrong" &
	local wrong_pid=$!
	sleep 1
	# Meanwhile, other connections are served: CPU requests and other
	# devices.
	t0=$(date +%s%N)
	expect "$(dm cpu-add:0)" -17
	expect "$(dm cpu-del:0)" -1
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	e2e_note "CPU requests while a probe hangs: $ms ms"
	out=$(dm "mmio-add:$bbase:$bsize:$birq")
	expect "$out" 0
	wait "$wrong_pid"
	out=$(cat "$BATS_TEST_TMPDIR/wrong")
	expect "$out" -110
	e2e_note "ADD_MMIO with a wrong IRQ answered after $(field "$out" ms) ms (timeout_ms 5000)"
	python3 -c 'import sys; sys.exit(not 4500 <= float(sys.argv[1]) <= 8000)' "$(field "$out" ms)"
	e2e_wait_console 'upcall: devmgr: virtio-mmio at .* IRQ 5: not done after 5000 ms, answered -ETIMEDOUT' 5
	# The other disk works (vdb: the stuck probe took vda; reading vda
	# would wait forever); requests for the stuck one get -EBUSY.
	[[ $(guest 'head -c 13 /dev/vdb') == disk-b-marker ]]
	expect "$(dm "mmio-del:$abase:$asize:5")" -16
	expect "$(dm "mmio-add:$abase:$asize:$airq")" -16
	# And the next requests still work.
	expect "$(dm "mmio-del:$bbase:$bsize:$birq")" 0
	expect "$(dm "mmio-add:$bbase:$bsize:$birq")" 0

	# Default parameters: idle connections are never closed.
	[[ $(guest 'cat /sys/module/upcall/parameters/idle_timeout') == 0 ]]
	wait "$partial_pid"
	mapfile -t r <"$BATS_TEST_TMPDIR/partial"
	[[ $(field "${r[2]}" closed) == True ]]
	e2e_note "half a message: closed after $(field "${r[2]}" after_s) s (limit 10 s)"
	wait "$idle_pid"
	mapfile -t r <"$BATS_TEST_TMPDIR/idle"
	[[ $(field "${r[1]}" closed) == False ]] || { cat "$BATS_TEST_TMPDIR/idle"; false; }
	expect "${r[2]}" -95
	e2e_assert_console_clean
}

@test "microvm: DEL_MMIO removes a disk announced at boot with virtio_mmio.device=" {
	local img=$BATS_TEST_TMPDIR/disk.img
	marked_disk "$img" boot-disk-marker
	# Transport 6 of microvm: the first disk of tools/vm.
	start --machine microvm --disk disk0="$img" \
		--append "agent.exec=1 virtio_mmio.device=512@0xfeb00c00:11"
	[[ $(disk_at 0) == "0xfeb00c00 0x200 11" ]]
	[[ $(guest 'head -c 16 /dev/vda') == boot-disk-marker ]]
	# Not the same window: nothing to remove.
	expect "$(dm mmio-del:0xfeb00c00:0x400:11)" -19
	e2e_mark
	expect "$(dm mmio-del:0xfeb00c00:0x200:11)" 0
	e2e_wait_console '^UPCALL UEVENT .*"action":"remove".*"devname":"vda"' 10
	[[ $(guest 'test -e /dev/vda && echo present || echo absent') == absent ]]
	expect "$(dm mmio-del:0xfeb00c00:0x200:11)" -19
	# Added back over upcall, it can be removed again.
	expect "$(dm mmio-add:0xfeb00c00:0x200:11)" 0
	[[ $(guest 'head -c 16 /dev/vda') == boot-disk-marker ]]
	expect "$(dm mmio-del:0xfeb00c00:0x200:11)" 0
	e2e_assert_console_clean
}
