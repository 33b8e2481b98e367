#!/usr/bin/env bash
# Usage: devmgr/check-configs.sh
#
# TAP: builds the patched guest kernel in the two configurations the series
# supports, through tools/kernel-build.sh (cached by input hash, so this is
# cheap once built), and checks the resulting .config of each:
#   - full:        base.config + upcall.config (server, device manager, vCPU,
#                  virtio-mmio and PCI hotplug) -- the guests' kernel;
#   - server-only: base.config + devmgr/config/server-only.config (no
#                  device manager service). Not on top of upcall.config:
#                  kernel-build.sh checks that every fragment line holds.
# and compiles drivers/misc/upcall/ for ARCH=i386 (devmgr/check-i386.sh).
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
OUTDIR=$TOP/build/devmgr
BASE=kernel-patches/config/base.config
UPCALL=kernel-patches/config/upcall.config
SERVER=devmgr/config/server-only.config

build() {
	local out=$1
	shift
	tools/kernel-build.sh "$@" --out "$out"
}

has() {
	grep -qx "$2" "$1" || { echo "$1: no line '$2'"; return 1; }
}

lacks() {
	! grep -q "^$2=" "$1" || { echo "$1: has $(grep "^$2=" "$1")"; return 1; }
}

full_config() {
	local c=$OUTDIR/bzImage-upcall.config
	has "$c" CONFIG_UPCALL=y && has "$c" CONFIG_UPCALL_DEVMGR=y &&
		has "$c" CONFIG_UPCALL_DEVMGR_CPU=y && has "$c" CONFIG_UPCALL_DEVMGR_MMIO=y &&
		has "$c" CONFIG_UPCALL_DEVMGR_PCI=y &&
		has "$c" CONFIG_X86_TOPOLOGY_HOTPLUG=y && lacks "$c" CONFIG_ACPI
}

server_config() {
	local c=$OUTDIR/bzImage-server-only.config
	has "$c" CONFIG_UPCALL=y && lacks "$c" CONFIG_UPCALL_DEVMGR &&
		lacks "$c" CONFIG_UPCALL_DEVMGR_CPU && lacks "$c" CONFIG_X86_TOPOLOGY_HOTPLUG
}

export OUTDIR
export -f build has lacks full_config server_config

tools/tap-check.sh "build: base + upcall (full)" \
	build "$OUTDIR/bzImage-upcall" --config "$BASE" --config "$UPCALL"
tools/tap-check.sh "full config: server, devmgr, CPU, MMIO and PCI hotplug, no ACPI" full_config
tools/tap-check.sh "build: base + server-only" \
	build "$OUTDIR/bzImage-server-only" --config "$BASE" --config "$SERVER"
tools/tap-check.sh "server-only config: server without device manager" server_config
# 32-bit x86: the upcall objects compile (W=1, no warnings) where 64-bit
# fields are 4-byte aligned; cached by input hash like the builds above.
tools/tap-check.sh "i386: drivers/misc/upcall/ compiles (W=1, no warnings)" devmgr/check-i386.sh
