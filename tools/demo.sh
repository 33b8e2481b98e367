#!/usr/bin/env bash
# make demo: boots guests with the patched kernel and shows hotplug at work
# through upcall-ctl. QEMU's pc machine can hotplug vCPUs but has no
# virtio-mmio bus, and microvm has virtio-mmio but no CPU hotplug, so the
# demo uses one guest of each: vCPUs on pc, a virtio-blk disk on microvm.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
vm=$top/tools/vm
ctl=$top/build/bin/upcall-ctl
work=$(mktemp -d /tmp/upcall-demo.XXXXXX)
pc=$work/pc
micro=$work/microvm

cleanup() {
	"$vm" stop --dir "$pc" >/dev/null 2>&1 || true
	"$vm" stop --dir "$micro" >/dev/null 2>&1 || true
	echo "(console logs kept in $work)"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

start=$(date +%s)

step "Boot a pc guest with 1 vCPU and room for 3 (no ACPI in the guest)"
show "$vm" start --dir "$pc" --machine pc --cpus 1 --maxcpus 3
show "$ctl" --run "$pc" wait-ready
show "$ctl" --run "$pc" status

step "Hot-add 2 vCPUs: QMP device_add in QEMU, then one ADD_CPU upcall"
show "$ctl" --run "$pc" -v cpu add 2
show "$ctl" --run "$pc" status

step "Hot-remove them again: one DEL_CPU upcall (QEMU's pc machine cannot
    unplug a vCPU without ACPI, so QEMU keeps it stopped and reuses it later)"
show "$ctl" --run "$pc" -v cpu del 2
show "$ctl" --run "$pc" status

step "Boot a microvm guest with a virtio-blk disk QEMU has not announced"
head -c 16M /dev/urandom >"$work/disk.img"
printf 'host sha256: %s\n' "$(sha256sum <"$work/disk.img" | cut -d' ' -f1)"
show "$vm" start --dir "$micro" --machine microvm --disk "disk0=$work/disk.img"
show "$ctl" --run "$micro" status

step "Hot-add the disk: ADD_MMIO upcall with its transport window and IRQ"
show "$ctl" --run "$micro" -v mmio add --device disk0
show "$ctl" --run "$micro" status

step "Hot-remove the disk: DEL_MMIO upcall"
show "$ctl" --run "$micro" -v mmio del --device disk0
show "$ctl" --run "$micro" status

step "Shut both guests down"
show "$vm" stop --dir "$pc"
show "$vm" stop --dir "$micro"

printf '\ndemo done in %d s\n' $(($(date +%s) - start))
