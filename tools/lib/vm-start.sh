# shellcheck shell=bash
# tools/vm start (sourced by tools/vm).

VM_QEMU=${VM_QEMU:-qemu-system-x86_64}
VM_QBOOT=/usr/share/qemu/qboot.rom
VM_READY_DEFAULT='^UPCALL READY '

vm_start_usage() {
	cat <<'EOF'
Usage: tools/vm start --dir RUN --machine pc|microvm [OPTION]...

Boots the guest kernel and initramfs under QEMU (TCG) in the background and
returns once the console shows the ready line (or fails, quoting the last
console lines, and stops the VM).

  --dir RUN          run folder (created; holds console.log, qmp.sock, ...)
  --machine M        pc (i440fx + qboot, CPU hotplug) or microvm (no ACPI,
                     virtio-mmio devices the guest is not told about)
  --cpus N           vCPUs at boot (default 1)
  --maxcpus M        vCPUs possible (default N); on pc, M > N adds
                     hotplug_apic_ids=N-(M-1) to the kernel command line
  --mem SIZE         guest RAM, whole MiB: 256M, 1G, or a number of MiB
                     (default 256M; from 32M up to the host's RAM)
  --maxmem SIZE      pc only: the most RAM the guest may have with memory
                     added later (QEMU -m SIZE,slots=N,maxmem=M); needs
                     --mem-slots
  --mem-slots N      pc only: how many DIMMs may be added (1..256); such a
                     guest boots SeaBIOS, not qboot (docs/launcher.md)
  --disk ID=FILE     extra virtio-blk disk (microvm only; repeatable); its
                     transport is written to RUN/devices.json
  --append ARGS      more kernel command line arguments (after $VM_APPEND)
  --kernel F         default $VM_KERNEL, else build/guest/bzImage
  --kernel-line L    the guest kernel of kernel line L (a pin of
                     tools/kernel-sources.txt: 6.12, the default, is
                     build/guest/bzImage; 6.1 is build/guest/bzImage-6.1);
                     default $VM_KERNEL_LINE
  --initrd F         default $VM_INITRD, else build/guest/initramfs.cpio.gz
  --cid N            guest vsock CID (default 3)
  --no-vsock         no vsock device even if build/bin/upcall-vsockd exists
  --ready REGEX      ready line (grep -E; default '^UPCALL READY ')
  --timeout S        how long to wait for the ready line (default 60)
EOF
}

# Parses a size as QEMU's -m takes it (a number of MiB, or a number with
# K, M, G or T: binary units) into bytes. "512MB" and the like are refused
# rather than guessed: MB means 10^6 to many tools.
vm_size_bytes() {
	local s=${1^^} n
	[[ $s =~ ^([0-9]{1,12})([KMGT]?)$ ]] ||
		vm_die "bad size: $1 (a number of MiB, or a number with K, M, G or T, e.g. 256M, 1G)"
	n=$((10#${BASH_REMATCH[1]}))
	case ${BASH_REMATCH[2]} in
	'' | M) echo $((n << 20)) ;; # QEMU: a plain number is MiB
	K) echo $((n << 10)) ;;
	G) echo $((n << 30)) ;;
	T) echo $((n << 40)) ;;
	esac
}

# The smallest guest RAM that boots: measured 2026-11-29 (6.12 guest,
# microvm and pc): 32M reaches READY, 24M dies before its first console
# line, with no message at all. So refuse what cannot boot, with a reason.
VM_MEM_MIN=$((32 << 20))

# vm_check_mem SIZE BYTES: dies unless BYTES is guest RAM that can boot
# here: whole MiB, at least VM_MEM_MIN, at most the host's RAM (the
# memfd backend would be killed by the OOM killer long before).
vm_check_mem() {
	local size=$1 bytes=$2 host
	((bytes % (1 << 20) == 0)) || vm_die "start: --mem $size is not a whole number of MiB"
	((bytes >= VM_MEM_MIN)) ||
		vm_die "start: --mem $size is too small: a guest needs at least 32M (at 24M the kernel dies before printing anything)"
	host=$(awk '/^MemTotal:/ { print $2; exit }' /proc/meminfo) # kB
	[[ $host =~ ^[0-9]+$ ]] || vm_die "start: cannot read MemTotal from /proc/meminfo"
	host=$((host << 10))
	((bytes <= host)) || vm_die "start: --mem $size is more than this host's RAM ($((host >> 20))M)"
}

# Starts upcall-vsockd for the run folder and waits for its vhost-user socket.
vm_start_vsockd() {
	local dir=$1 cid=$2 bin=$3 pid deadline
	rm -f "$dir/vhost-user.sock" "$dir/vsock.sock"
	# setsid: the daemon outlives this script and ignores the caller's ^C.
	setsid "$bin" --socket "$dir/vhost-user.sock" --uds-path "$dir/vsock.sock" \
		--guest-cid "$cid" </dev/null >>"$dir/vsockd.log" 2>&1 &
	pid=$!
	echo "$pid" >"$dir/vsockd.pid"
	deadline=$(($(vm_now_ms) + 10000))
	until [[ -S $dir/vhost-user.sock ]]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$dir/vsockd.log" >&2 || true
			rm -f "$dir/vsockd.pid"
			vm_die "upcall-vsockd exited before creating its socket (log: $dir/vsockd.log)"
		fi
		if [[ $(vm_now_ms) -ge $deadline ]]; then
			kill "$pid" 2>/dev/null || true
			rm -f "$dir/vsockd.pid"
			vm_die "upcall-vsockd did not create $dir/vhost-user.sock within 10 s"
		fi
		sleep 0.05
	done
}

# vm_line_kernel LINE: the guest kernel built for kernel line LINE
# (tools/kernel-sources.txt: the first pin's is build/guest/bzImage, any
# other's build/guest/bzImage-LINE).
vm_line_kernel() {
	local lines
	lines=$(sed -e 's/#.*//' "$VM_TOP/tools/kernel-sources.txt" |
		awk '$1 ~ /^linux-source-/ {sub(/^linux-source-/, "", $1); print $1}')
	grep -qxF -- "$1" <<<"$lines" ||
		vm_die "start: no kernel line '$1' (lines: $(paste -sd' ' <<<"$lines"))"
	if [[ $1 == "$(head -1 <<<"$lines")" ]]; then
		echo "$VM_TOP/build/guest/bzImage"
	else
		echo "$VM_TOP/build/guest/bzImage-$1"
	fi
}

vm_start() {
	local VM_DIR='' machine='' cpus=1 maxcpus='' mem=256M append='' kernel initrd
	local maxmem='' mem_slots=''
	# VM_APPEND: kernel arguments for every VM (e.g. a debug kernel's
	# panic_on_warn=1), before the --append ones.
	[[ -n ${VM_APPEND:-} ]] && append=" $VM_APPEND"
	local cid=3 vsock=1 ready=$VM_READY_DEFAULT timeout=60 disks=()
	kernel=${VM_KERNEL:-$VM_TOP/build/guest/bzImage}
	if [[ -z ${VM_KERNEL:-} && -n ${VM_KERNEL_LINE:-} ]]; then
		kernel=$(vm_line_kernel "$VM_KERNEL_LINE") || exit 1
	fi
	initrd=${VM_INITRD:-$VM_TOP/build/guest/initramfs.cpio.gz}
	while [[ $# -gt 0 ]]; do
		case $1 in
		--dir | --machine | --cpus | --maxcpus | --mem | --disk | --append | --kernel | --kernel-line | \
			--initrd | --cid | --ready | --timeout | --maxmem | --mem-slots)
			[[ $# -ge 2 ]] || vm_die "start: $1 needs a value" ;;
		esac
		case $1 in
		--dir) VM_DIR=$2; shift 2 ;;
		--machine) machine=$2; shift 2 ;;
		--cpus) cpus=$2; shift 2 ;;
		--maxcpus) maxcpus=$2; shift 2 ;;
		--mem) mem=$2; shift 2 ;;
		--maxmem) maxmem=$2; shift 2 ;;
		--mem-slots) mem_slots=$2; shift 2 ;;
		--disk) disks+=("$2"); shift 2 ;;
		--append) append="$append $2"; shift 2 ;;
		--kernel) kernel=$2; shift 2 ;;
		--kernel-line) kernel=$(vm_line_kernel "$2") || exit 1; shift 2 ;;
		--initrd) initrd=$2; shift 2 ;;
		--cid) cid=$2; shift 2 ;;
		--no-vsock) vsock=0; shift ;;
		--ready) ready=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		-h | --help) vm_start_usage; return 0 ;;
		*) vm_start_usage >&2; vm_die "start: unknown argument: $1" ;;
		esac
	done
	vm_need_dir
	maxcpus=${maxcpus:-$cpus}
	[[ $machine == pc || $machine == microvm ]] || vm_die "start: --machine pc|microvm is required"
	[[ $cpus =~ ^[1-9][0-9]*$ && $maxcpus =~ ^[1-9][0-9]*$ ]] || vm_die "start: --cpus/--maxcpus must be positive numbers"
	((maxcpus >= cpus)) || vm_die "start: --maxcpus ($maxcpus) is below --cpus ($cpus)"
	((maxcpus <= 255)) || vm_die "start: --maxcpus is at most 255 (APIC IDs 0..254)"
	if ! [[ $cid =~ ^[0-9]+$ ]] || ((cid < 3)); then
		vm_die "start: --cid must be a number >= 3"
	fi
	[[ $timeout =~ ^[0-9]+$ ]] || vm_die "start: --timeout must be whole seconds"
	local mem_bytes mem_arg
	mem_bytes=$(vm_size_bytes "$mem") || exit 1
	vm_check_mem "$mem" "$mem_bytes"
	mem="$((mem_bytes >> 20))M" # what QEMU gets: the same value, one spelling
	mem_arg=$mem
	if [[ -n $maxmem || -n $mem_slots ]]; then
		[[ $machine == pc ]] || vm_die "start: --maxmem and --mem-slots are for --machine pc"
		[[ -n $maxmem && -n $mem_slots ]] || vm_die "start: --maxmem and --mem-slots go together"
		[[ $mem_slots =~ ^[1-9][0-9]*$ ]] && ((mem_slots <= 256)) ||
			vm_die "start: --mem-slots must be 1..256"
		local maxmem_bytes
		maxmem_bytes=$(vm_size_bytes "$maxmem") || exit 1
		((maxmem_bytes > mem_bytes)) || vm_die "start: --maxmem ($maxmem) must be above --mem ($mem)"
		maxmem="$((maxmem_bytes >> 20))M"
		mem_arg="$mem,slots=$mem_slots,maxmem=$maxmem"
	fi
	[[ -r $kernel ]] || vm_die "start: kernel $kernel not found (run make)"
	[[ -r $initrd ]] || vm_die "start: initramfs $initrd not found (run make)"
	[[ $machine == microvm || ${#disks[@]} -eq 0 ]] || vm_die "start: --disk is for --machine microvm"
	((${#disks[@]} <= 7)) || vm_die "start: at most 7 disks (8 virtio-mmio transports, one for vsock)"

	local d id file resolved=() disk_args=()
	for d in "${disks[@]}"; do
		[[ $d =~ ^([A-Za-z][A-Za-z0-9_-]*)=(.+)$ ]] || vm_die "start: --disk wants ID=FILE, got $d"
		id=${BASH_REMATCH[1]}
		file=$(realpath -e "${BASH_REMATCH[2]}" 2>/dev/null) || vm_die "start: disk file ${BASH_REMATCH[2]} not found"
		[[ $id != vsock0 ]] || vm_die "start: disk id vsock0 is reserved"
		[[ " ${resolved[*]} " != *" $id="* ]] || vm_die "start: disk id $id given twice"
		disk_args+=(-drive "if=none,id=$id,file=$file,format=raw"
			-device "virtio-blk-device,drive=$id,id=$id")
		resolved+=("$id=$file")
	done

	mkdir -p "$VM_DIR"
	if vm_qemu_pid "$VM_DIR" >/dev/null; then
		vm_die "a VM already runs in $VM_DIR (tools/vm stop --dir $VM_DIR)"
	fi
	# A backend left over from a VM that died: stop it before reusing the folder.
	vm_stop_quiet "$VM_DIR" || vm_die "cannot stop what is left in $VM_DIR"
	rm -f "$VM_DIR"/{console.log,qmp.sock,qemu.pid,qemu.log,devices.json,pci.json,vm.env,vsockd.log,vsockd.pid}

	local vsockd=$VM_TOP/build/bin/upcall-vsockd
	if [[ $vsock -eq 1 && ! -x $vsockd ]]; then
		vm_log "build/bin/upcall-vsockd not found: starting without vsock"
		vsock=0
	fi

	# Device models: vsock first so it takes the last virtio-mmio slot on
	# microvm (QEMU fills the transports from the top down; checked below).
	local qemu=("$VM_QEMU" -accel tcg -nodefaults -no-reboot -display none
		-cpu max -m "$mem_arg"
		-smp "$cpus,maxcpus=$maxcpus,sockets=$maxcpus,cores=1,threads=1"
		-chardev "file,id=con,path=$VM_DIR/console.log" -serial chardev:con
		-qmp "unix:$VM_DIR/qmp.sock,server=on,wait=off"
		-pidfile "$VM_DIR/qemu.pid" -daemonize -S
		-kernel "$kernel" -initrd "$initrd")
	local mopts cmdline="console=ttyS0 panic=-1" vsock_dev=''
	if [[ $machine == pc ]]; then
		mopts=pc
		# qboot puts 64-bit BARs at 4 GiB, where QEMU maps the first
		# DIMM: a DIMM plugged later would cover them (the vsock device's
		# notify BAR: its kicks then land in RAM). SeaBIOS, QEMU's
		# default, reads etc/reserved-memory-end and puts them above the
		# DIMM area, so it boots guests that have memory slots.
		[[ -n $mem_slots ]] || qemu+=(-bios "$VM_QBOOT")
		vsock_dev=vhost-user-vsock-pci
		if ((maxcpus > cpus)); then
			if ((maxcpus - 1 == cpus)); then
				cmdline+=" hotplug_apic_ids=$cpus"
			else
				cmdline+=" hotplug_apic_ids=$cpus-$((maxcpus - 1))"
			fi
		fi
	else
		# No ACPI and no automatic virtio_mmio.device= arguments: the
		# guest learns only what we announce. The PIT calibrates the TSC.
		mopts=microvm,acpi=off,auto-kernel-cmdline=off,pit=on,pic=on,rtc=on
		# microvm has no keyboard controller: the kernel's default reboot
		# falls back to jumping into the firmware, which QEMU does not see
		# as a reset, so -no-reboot would not end it. A triple fault is a
		# reset QEMU sees.
		cmdline+=" reboot=t"
		vsock_dev=vhost-user-vsock-device
	fi
	if [[ $vsock -eq 1 ]]; then
		vm_start_vsockd "$VM_DIR" "$cid" "$vsockd"
		qemu+=(-object "memory-backend-memfd,id=mem,size=$mem_bytes,share=on"
			-chardev "socket,id=vu,path=$VM_DIR/vhost-user.sock"
			-device "$vsock_dev,chardev=vu,id=vsock0")
		mopts+=",memory-backend=mem"
		# The first device on microvm lands in the top transport.
		[[ $machine == microvm ]] && cmdline+=" virtio_mmio.device=512@0xfeb00e00:12"
	fi
	qemu+=("${disk_args[@]}")
	qemu+=(-machine "$mopts" -append "$cmdline${append}")

	printf '%q ' "${qemu[@]}" >"$VM_DIR/qemu.cmdline"
	echo >>"$VM_DIR/qemu.cmdline"
	if ! "${qemu[@]}" 2>"$VM_DIR/qemu.log"; then
		cat "$VM_DIR/qemu.log" >&2
		vm_stop_quiet "$VM_DIR"
		vm_die "QEMU did not start (command in $VM_DIR/qemu.cmdline)"
	fi
	local qpid
	qpid=$(vm_qemu_pid "$VM_DIR") || vm_die "QEMU started but $VM_DIR/qemu.pid names no running QEMU"

	# QEMU is paused (-S): check the virtio-mmio layout before the guest runs.
	if [[ $machine == microvm ]]; then
		vm_check_mmio "$VM_DIR" "$vsock" "${resolved[@]}" || {
			vm_stop_quiet "$VM_DIR"
			vm_die "virtio-mmio layout check failed"
		}
	else
		echo "[]" >"$VM_DIR/devices.json"
		vm_write_pci_map "$VM_DIR" || {
			vm_stop_quiet "$VM_DIR"
			vm_die "reading QEMU's PCI slots failed"
		}
	fi
	{
		echo "MACHINE=$machine"
		echo "CPUS=$cpus"
		echo "MAXCPUS=$maxcpus"
		echo "MEM=$mem"
		echo "MAXMEM=$maxmem"
		echo "MEM_SLOTS=$mem_slots"
		echo "CID=$cid"
		echo "VSOCK=$vsock"
		echo "QEMU_PID=$qpid"
		echo "KERNEL=$kernel"
		echo "INITRD=$initrd"
		printf 'CMDLINE=%q\n' "$cmdline$append"
	} >"$VM_DIR/vm.env"

	local t0 line ms
	t0=$(vm_now_ms)
	python3 "$VM_TOOLS/lib/qmp.py" "$VM_DIR/qmp.sock" '{"execute":"cont"}' >/dev/null ||
		{ vm_stop_quiet "$VM_DIR"; vm_die "QMP cont failed"; }
	if ! line=$(vm_wait_console_in "$VM_DIR" "$ready" "$timeout" 0); then
		vm_console_tail "$VM_DIR" >&2
		vm_stop_quiet "$VM_DIR"
		vm_die "$machine guest in $VM_DIR did not become ready"
	fi
	ms=$(($(vm_now_ms) - t0))
	echo "BOOT_TO_READY_MS=$ms" >>"$VM_DIR/vm.env"
	echo "vm: $machine ready in $ms ms (cpus $cpus/$maxcpus, vsock $([[ $vsock -eq 1 ]] && echo "cid $cid" || echo off), pid $qpid): $line"
}

# Reads the occupied virtio-mmio transports from QEMU, checks that vsock0
# is where the command line announced it and writes devices.json for the
# disks (the guest is not told about them).
vm_check_mmio() {
	local dir=$1 vsock=$2 map
	shift 2
	map=$(python3 "$VM_TOOLS/lib/qmp.py" "$dir/qmp.sock" --mmio-map) || return 1
	python3 - "$dir/devices.json" "$vsock" "$map" "$@" <<'EOF' || return 1
import json, sys
out, vsock, transports, disks = sys.argv[1], sys.argv[2] == "1", json.loads(sys.argv[3]), sys.argv[4:]
by_id = {t["id"]: t for t in transports}
if vsock:
    v = by_id.get("vsock0")
    if not v or v["base"] != "0xfeb00e00" or v["irq"] != 12:
        sys.exit("vm: error: vsock0 is not at 0xfeb00e00 IRQ 12 as announced: %s" % v)
devices = []
for d in disks:
    ident, _, path = d.partition("=")
    t = by_id.get(ident)
    if not t:
        sys.exit("vm: error: disk %s has no virtio-mmio transport in QEMU" % ident)
    devices.append({"id": ident, "file": path, "base": t["base"],
                    "size": t["size"], "irq": t["irq"]})
with open(out + ".tmp", "w") as f:
    json.dump(devices, f, indent=1)
    f.write("\n")
import os
os.rename(out + ".tmp", out)
for d in devices:
    print("vm: disk %s: virtio-mmio %s size %s irq %d (not announced)" % (d["id"], d["base"], d["size"], d["irq"]))
EOF
}

# pc: writes pci.json, QEMU's devices on pci.0 at boot (the slots a PCI
# hot-add cannot use), for tests and people: [{"slot": "00:02.0", "id":
# "vsock0", "class": "...", "vendor": "0x1af4", "device": "0x1053"}, ...].
vm_write_pci_map() {
	local dir=$1 pci
	pci=$(python3 "$VM_TOOLS/lib/qmp.py" "$dir/qmp.sock" '{"execute":"query-pci"}') || return 1
	python3 - "$dir/pci.json" "$pci" <<'EOF'
import json, os, sys
out, buses = sys.argv[1], json.loads(sys.argv[2])
devices = [{"slot": "%02x:%02x.%d" % (d["bus"], d["slot"], d["function"]),
            "id": d.get("qdev_id", ""), "class": d["class_info"].get("desc", ""),
            "vendor": "0x%04x" % d["id"]["vendor"], "device": "0x%04x" % d["id"]["device"]}
           for b in buses if b["bus"] == 0 for d in b["devices"]]
with open(out + ".tmp", "w") as f:
    json.dump(devices, f, indent=1)
    f.write("\n")
os.rename(out + ".tmp", out)
EOF
}
