#!/usr/bin/env bats
# End-to-end tests of upcall-vsockd with real guests (QEMU TCG, pc and
# microvm). Host side: tests/e2e/vsock_client.py over the hybrid socket;
# guest side: /usr/bin/vsock-echo, started through the agent's exec request.

load lib

CLIENT="python3 $BATS_TEST_DIRNAME/vsock_client.py"
KERNEL=${VSOCK_E2E_KERNEL:-$E2E_TOP/build/guest/bzImage}
INITRD=${VSOCK_E2E_INITRD:-$E2E_TOP/build/guest/initramfs.cpio.gz}
VSOCKD=$E2E_TOP/build/bin/upcall-vsockd

teardown() {
	e2e_teardown
	local f
	for f in "$BATS_TEST_TMPDIR"/*.pid; do
		[[ -f $f ]] || continue
		kill "$(cat "$f")" 2>/dev/null || true
	done
}

# vm_boot MACHINE: a guest with exec enabled, in $BATS_TEST_TMPDIR/vm.
vm_boot() {
	e2e_start --machine "$1" --kernel "$KERNEL" --initrd "$INITRD" \
		--append "agent.exec=1" --timeout 120
}

# guest_exec CMD: runs CMD in the guest; prints the JSON reply; fails
# unless the command exited 0.
guest_exec() {
	local reply
	reply=$($CLIENT --timeout 60 request "$E2E_DIR/vsock.sock" 1219 "exec $1")
	echo "$reply"
	[[ $reply == '{"status":0,'* ]]
}

@test "vsock: agent status service answers over the hybrid socket (pc)" {
	vm_boot pc
	run $CLIENT request "$E2E_DIR/vsock.sock" 1219 status
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == '{"version":'* ]]
}

@test "vsock: host to guest echo of 64 MiB, checksum matches (pc)" {
	vm_boot pc
	guest_exec "vsock-echo -d server 5000"
	run $CLIENT --timeout 600 echo "$E2E_DIR/vsock.sock" 5000 $((64 << 20))
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ok 1 67108864 "* ]]
}

@test "vsock: 50 concurrent connections each echo 1 MiB (pc)" {
	vm_boot pc
	guest_exec "vsock-echo -d server 5000"
	run $CLIENT --timeout 600 echo "$E2E_DIR/vsock.sock" 5000 $((1 << 20)) --conns 50
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == "ok 50 1048576 "* ]]
}

@test "vsock: guest connection to host port 7000 reaches <uds-path>_7000 (microvm)" {
	vm_boot microvm
	$CLIENT --timeout 120 serve-echo "$E2E_DIR/vsock.sock_7000" 1 \
		>"$BATS_TEST_TMPDIR/serve.out" 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/serve.pid"
	for _ in $(seq 50); do [[ -S $E2E_DIR/vsock.sock_7000 ]] && break; sleep 0.1; done
	run guest_exec "vsock-echo client 2 7000 1048576"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *'"output":"ok 1048576 '* ]]
	wait "$(cat "$BATS_TEST_TMPDIR/serve.pid")"
	grep -q '^served 1048576 bytes' "$BATS_TEST_TMPDIR/serve.out"
}

@test "vsock: guest connection to a host port nobody listens on is refused (microvm)" {
	vm_boot microvm
	run $CLIENT request "$E2E_DIR/vsock.sock" 1219 "exec vsock-echo client 2 7001 10"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == '{"status":1,'*'connect: Connection reset by peer'* ]]
}

@test "vsock: host connection to a closed guest port is refused, bad requests closed" {
	vm_boot microvm
	run $CLIENT --timeout 10 refused "$E2E_DIR/vsock.sock" 4444
	echo "$output"
	[ "$status" -eq 0 ]
	# A malformed request line is closed without a reply...
	run bash -c "printf 'HELLO 12\n' | socat -t 5 - UNIX-CONNECT:$E2E_DIR/vsock.sock"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# ...and the back-end keeps serving.
	run $CLIENT request "$E2E_DIR/vsock.sock" 1219 status
	[ "$status" -eq 0 ]
	[[ $output == '{"version":'* ]]
	grep -q 'bad request line' "$E2E_DIR/vsockd.log"
}

# start_qemu DIR MACHINE: a guest against an already running back-end.
start_qemu() {
	local dir=$1 machine=$2 mopts dev cmdline="console=ttyS0 panic=-1 agent.exec=1"
	if [[ $machine == pc ]]; then
		mopts=pc,memory-backend=mem dev=vhost-user-vsock-pci
	else
		mopts=microvm,acpi=off,auto-kernel-cmdline=off,pit=on,pic=on,rtc=on,memory-backend=mem
		dev=vhost-user-vsock-device
		cmdline+=" virtio_mmio.device=512@0xfeb00e00:12"
	fi
	rm -f "$dir/console.log"
	qemu-system-x86_64 -accel tcg -nodefaults -no-reboot -display none -cpu max -m 256M \
		-bios /usr/share/qemu/qboot.rom \
		-object memory-backend-memfd,id=mem,size=256M,share=on -machine "$mopts" \
		-chardev "file,id=con,path=$dir/console.log" -serial chardev:con \
		-chardev "socket,id=vu,path=$BATS_TEST_TMPDIR/vhost-user.sock" \
		-device "$dev,chardev=vu" -kernel "$KERNEL" -initrd "$INITRD" \
		-append "$cmdline" -qmp "unix:$dir/qmp.sock,server=on,wait=off" \
		-pidfile "$dir/qemu.pid" -daemonize 3>&-
	cp "$dir/qemu.pid" "$BATS_TEST_TMPDIR/qemu-$(basename "$dir").pid"
	"$E2E_VM" wait-console --dir "$dir" --timeout 120 '^UPCALL READY'
}

@test "vsock: back-end survives QEMU being killed and serves the next VM" {
	local uds=$BATS_TEST_TMPDIR/vsock.sock log=$BATS_TEST_TMPDIR/vsockd.log pid
	"$VSOCKD" --socket "$BATS_TEST_TMPDIR/vhost-user.sock" --uds-path "$uds" \
		--guest-cid 3 2>"$log" 3>&- &
	pid=$!
	echo $pid >"$BATS_TEST_TMPDIR/vsockd.pid"
	for _ in $(seq 50); do [[ -S $uds ]] && break; sleep 0.1; done

	mkdir -p "$BATS_TEST_TMPDIR/vm1" "$BATS_TEST_TMPDIR/vm2"
	start_qemu "$BATS_TEST_TMPDIR/vm1" microvm
	run $CLIENT --timeout 60 request "$uds" 1219 status
	[[ $output == '{"version":'* ]]
	# A connection is open when QEMU dies.
	$CLIENT --timeout 60 request "$uds" 1219 "exec vsock-echo -d server 5000" >/dev/null
	exec 9< <($CLIENT --timeout 60 echo "$uds" 5000 $((256 << 20)) 2>&1 3>&-)
	sleep 2
	kill -9 "$(cat "$BATS_TEST_TMPDIR/vm1/qemu.pid")"
	for _ in $(seq 100); do grep -q 'front-end disconnected' "$log" && break; sleep 0.1; done
	grep 'front-end disconnected' "$log"
	kill -0 "$pid"
	# The host client of the dead guest was closed, not left hanging.
	run timeout 30 cat <&9
	echo "$output"
	[[ $output == *error* ]]

	start_qemu "$BATS_TEST_TMPDIR/vm2" pc
	run $CLIENT --timeout 60 request "$uds" 1219 status
	echo "$output"
	[[ $output == '{"version":'* ]]
	$CLIENT --timeout 60 request "$uds" 1219 "exec vsock-echo -d server 5000" >/dev/null
	run $CLIENT --timeout 120 echo "$uds" 5000 $((1 << 20))
	echo "$output"
	[ "$status" -eq 0 ]
	grep -q 'session 2' "$log"

	# Clean exit on SIGTERM removes the sockets.
	kill -TERM "$pid"
	wait "$pid"
	[ ! -e "$uds" ]
	[ ! -e "$BATS_TEST_TMPDIR/vhost-user.sock" ]
}
