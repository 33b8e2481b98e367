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

# own_vsockd [OPTION...]: a back-end of our own in $BATS_TEST_TMPDIR (for
# start_qemu), with extra options; VSOCKD_PREFIX runs it under a wrapper.
own_vsockd() {
	local uds=$BATS_TEST_TMPDIR/vsock.sock
	${VSOCKD_PREFIX:-} "$VSOCKD" --socket "$BATS_TEST_TMPDIR/vhost-user.sock" \
		--uds-path "$uds" --guest-cid 3 "$@" 2>"$BATS_TEST_TMPDIR/vsockd.log" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/vsockd.pid"
	for _ in $(seq 50); do [[ -S $uds ]] && break; sleep 0.1; done
	[[ -S $uds ]]
}

# cpu_ticks PID: user+system CPU time of PID in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# Issue 12 item 1: QMP stop/cont used to close every host side.
@test "vsock: connections survive stop/cont: an echo stream completes, a held status connection answers (pc)" {
	vm_boot pc
	guest_exec "vsock-echo -d server 5000"
	$CLIENT --timeout 300 echo "$E2E_DIR/vsock.sock" 5000 $((64 << 20)) \
		>"$BATS_TEST_TMPDIR/echo.out" 2>&1 3>&- &
	local echo_pid=$!
	sleep 1
	for _ in 1 2; do
		e2e_qmp '{"execute":"stop"}'
		sleep 1
		e2e_qmp '{"execute":"cont"}'
		sleep 1
	done
	wait "$echo_pid"
	cat "$BATS_TEST_TMPDIR/echo.out"
	grep -q "^ok 1 $((64 << 20)) " "$BATS_TEST_TMPDIR/echo.out"
	# The issue's case: connected, stop, cont a second later, then the
	# request (the agent wants its line within 5 s of guest time).
	$CLIENT --timeout 60 request "$E2E_DIR/vsock.sock" 1219 status \
		--after "$BATS_TEST_TMPDIR/go" >"$BATS_TEST_TMPDIR/status.out" \
		2>"$BATS_TEST_TMPDIR/status.err" 3>&- &
	local status_pid=$!
	for _ in $(seq 100); do grep -q connected "$BATS_TEST_TMPDIR/status.err" && break; sleep 0.1; done
	grep -q connected "$BATS_TEST_TMPDIR/status.err"
	e2e_qmp '{"execute":"stop"}'
	sleep 1
	e2e_qmp '{"execute":"cont"}'
	touch "$BATS_TEST_TMPDIR/go"
	wait "$status_pid" || { cat "$BATS_TEST_TMPDIR/status.err"; false; }
	cat "$BATS_TEST_TMPDIR/status.out"
	grep -q '^{"version":' "$BATS_TEST_TMPDIR/status.out"
	grep -q 'resumed where it stopped' "$E2E_DIR/vsockd.log"
	! grep -q 'driver was reset' "$E2E_DIR/vsockd.log" || false
}

# Issue 12 item 3: with a buffer above the guest's 256 KiB, the stream
# stopped at 262,144 bytes (no credit update was ever sent).
@test "vsock: a 2 MiB guest->host stream completes with --tx-buffer-size 1M (pc)" {
	local uds=$BATS_TEST_TMPDIR/vsock.sock
	own_vsockd --tx-buffer-size 1M
	mkdir -p "$BATS_TEST_TMPDIR/vm"
	start_qemu "$BATS_TEST_TMPDIR/vm" pc
	$CLIENT --timeout 60 bench-recv "${uds}_5000" 2097152 >"$BATS_TEST_TMPDIR/recv.out" 2>&1 3>&- &
	local recv_pid=$!
	for _ in $(seq 100); do grep -q listening "$BATS_TEST_TMPDIR/recv.out" && break; sleep 0.1; done
	run $CLIENT --timeout 60 request "$uds" 1219 "exec vsock-echo send 2 5000 2097152"
	echo "$output"
	[[ $output == '{"status":0,'*'sent 2097152'* ]]
	wait "$recv_pid"
	cat "$BATS_TEST_TMPDIR/recv.out"
}

# Issue 12 item 4: guests since 6.12.92 may reset a connection once too
# many small packets wait unread. It passes today; it is here to stay so.
@test "vsock: 600,000 bytes in 300-byte writes every 2 ms reach a guest reader that starts after 8 s, whole (pc)" {
	vm_boot pc
	guest_exec "vsock-echo -d -w 8 server 5003"
	run $CLIENT --timeout 120 drip "$E2E_DIR/vsock.sock" 5003 600000 300 2
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "ok 600000" ]
	e2e_assert_console_clean
}

# Issue 12 item 2: beyond the limit, host clients are closed at once; out
# of descriptors, accept() never spins; the back-end stays responsive.
@test "vsock: connections beyond the limit or the fd limit are refused cleanly, without spinning (microvm)" {
	local uds=$BATS_TEST_TMPDIR/vsock.sock pid t0 t1 secs0 secs1 nlog
	own_vsockd --max-connections 8 --stats "$BATS_TEST_TMPDIR/stats"
	mkdir -p "$BATS_TEST_TMPDIR/vm"
	start_qemu "$BATS_TEST_TMPDIR/vm" microvm
	$CLIENT --timeout 60 request "$uds" 1219 "exec vsock-echo -d server 5000" >/dev/null
	run $CLIENT --timeout 30 flood "$uds" 5000 20 1
	echo "$output"
	[[ ${lines[-1]} == "ok 8 12" ]]
	run $CLIENT --timeout 30 request "$uds" 1219 status
	[[ $output == '{"version":'* ]]
	kill -USR1 "$(cat "$BATS_TEST_TMPDIR/vsockd.pid")"
	for _ in $(seq 50); do [[ -f $BATS_TEST_TMPDIR/stats ]] && break; sleep 0.1; done
	cat "$BATS_TEST_TMPDIR/stats"
	grep -qx 'host_clients_refused=12' "$BATS_TEST_TMPDIR/stats"
	kill -TERM "$(cat "$BATS_TEST_TMPDIR/vsockd.pid")"
	wait "$(cat "$BATS_TEST_TMPDIR/vsockd.pid")" || true
	kill "$(cat "$BATS_TEST_TMPDIR/vm/qemu.pid")" || true

	# The same with the open-file limit at 64 (hard) and the default
	# connection limit: descriptors run out first.
	VSOCKD_PREFIX="prlimit --nofile=64:64" own_vsockd
	pid=$(cat "$BATS_TEST_TMPDIR/vsockd.pid")
	mkdir -p "$BATS_TEST_TMPDIR/vm2"
	start_qemu "$BATS_TEST_TMPDIR/vm2" microvm
	$CLIENT --timeout 60 request "$uds" 1219 "exec vsock-echo -d server 5000" >/dev/null
	t0=$(cpu_ticks "$pid")
	secs0=$(date +%s.%N)
	run $CLIENT --timeout 10 flood "$uds" 5000 400 4
	echo "$output"
	t1=$(cpu_ticks "$pid")
	secs1=$(date +%s.%N)
	local cpu
	cpu=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v a="$secs0" -v b="$secs1" \
		'BEGIN { printf "%.1f", 100 * t / hz / (b - a) }')
	e2e_note "upcall-vsockd CPU while refusing 400 host connections at 64 fds: ${cpu}% over $(awk -v a="$secs0" -v b="$secs1" 'BEGIN { printf "%.1f", b - a }') s (${output##*$'\n'})"
	[[ ${lines[-1]} == ok\ * ]]
	read -r _ acc ref <<<"${lines[-1]}"
	[ "$acc" -gt 10 ]
	[ "$ref" -gt 100 ]
	# Not spinning: well under a core (it was 100%, a log line per try).
	awk -v c="$cpu" 'BEGIN { exit !(c < 50) }'
	nlog=$(grep -c 'Too many open files\|out of file descriptors' "$BATS_TEST_TMPDIR/vsockd.log" || true)
	e2e_note "log lines about it: $nlog"
	[ "$nlog" -lt 50 ]
	run $CLIENT --timeout 30 request "$uds" 1219 status
	[[ $output == '{"version":'* ]]
}

# Issue 12 item 5: a second QEMU on the same socket waited silently.
@test "vsock: a second front-end on the same socket fails with an error; the first VM keeps working" {
	local uds=$BATS_TEST_TMPDIR/vsock.sock rc=0
	own_vsockd
	mkdir -p "$BATS_TEST_TMPDIR/vm"
	start_qemu "$BATS_TEST_TMPDIR/vm" microvm
	timeout 60 qemu-system-x86_64 -accel tcg -nodefaults -no-reboot -display none -m 256M \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-bios /usr/share/qemu/qboot.rom -machine microvm,acpi=off,memory-backend=mem \
		-chardev "socket,id=vu,path=$BATS_TEST_TMPDIR/vhost-user.sock" \
		-device vhost-user-vsock-device,chardev=vu -kernel "$KERNEL" \
		>"$BATS_TEST_TMPDIR/qemu2.out" 2>&1 3>&- || rc=$?
	cat "$BATS_TEST_TMPDIR/qemu2.out"
	[ "$rc" -ne 0 ]
	[ "$rc" -ne 124 ]	# it failed; it did not hang until the timeout
	grep -qi 'vhost' "$BATS_TEST_TMPDIR/qemu2.out"
	grep 'refusing a second front-end' "$BATS_TEST_TMPDIR/vsockd.log"
	run $CLIENT --timeout 30 request "$uds" 1219 status
	[[ $output == '{"version":'* ]]
}

# Issue 10 item 4: Kata's runtime-rs sends "connect <port>".
@test "vsock: request line in any case and with extra spaces is served; a malformed one is closed (microvm)" {
	vm_boot microvm
	local line reply
	for line in 'connect 1219' 'Connect 1219' $'  CONNECT \t 1219  ' $'connect 1219\r'; do
		reply=$(printf '%s\nstatus\n' "$line" | timeout 20 socat -t 10 - "UNIX-CONNECT:$E2E_DIR/vsock.sock")
		echo "$line -> $reply"
		[[ ${reply%%$'\n'*} == 'OK '* ]]
		[[ ${reply#*$'\n'} == '{"version":'* ]]
	done
	for line in 'CONNECT 1219 status' 'connect' 'CONNECT +1219' 'CONNECTX 1219'; do
		run bash -c "printf '%s\n' '$line' | timeout 20 socat -t 5 - UNIX-CONNECT:$E2E_DIR/vsock.sock"
		echo "$line -> $output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	grep -c 'bad request line' "$E2E_DIR/vsockd.log"
	[ "$(grep -c 'bad request line' "$E2E_DIR/vsockd.log")" -eq 4 ]
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
