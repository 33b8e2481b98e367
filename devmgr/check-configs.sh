#!/usr/bin/env bash
# Usage: devmgr/check-configs.sh [--prefetch]
#
# TAP: checks the configurations the series supports, each cached by input
# hash (cheap once done), and the resulting .config of each:
#   - full:        base.config + upcall.config (server, device manager, vCPU,
#                  virtio-mmio, PCI and memory hotplug) -- the guests'
#                  kernel, a whole bzImage through tools/kernel-build.sh;
#   - server-only: base.config + devmgr/config/server-only.config (no
#                  device manager service). Not on top of upcall.config:
#                  every fragment line must hold. Only drivers/misc/upcall/
#                  is compiled, and checked for references to functions the
#                  configuration leaves out (devmgr/check-objects.sh): what
#                  this configuration can break, without a second kernel;
#   - i386:        drivers/misc/upcall/ compiled for ARCH=i386, W=1
#                  (devmgr/config/i386.config, devmgr/check-objects.sh).
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
	local c=$OUTDIR/server-only.config
	has "$c" CONFIG_UPCALL=y && lacks "$c" CONFIG_UPCALL_DEVMGR &&
		lacks "$c" CONFIG_UPCALL_DEVMGR_CPU && lacks "$c" CONFIG_X86_TOPOLOGY_HOTPLUG
}

export OUTDIR
export -f build has lacks full_config server_config

# The two object checks, one definition for the suite and for --prefetch
# (the same arguments, so the same cache key).
server_objects() {
	devmgr/check-objects.sh --name server-only --config "$BASE" --config "$SERVER" \
		--config-out "$OUTDIR/server-only.config"
}
i386_objects() {
	devmgr/check-objects.sh --name i386 --arch i386 --config devmgr/config/i386.config
}
export BASE SERVER
export -f server_objects i386_objects

# --prefetch: only fill the cache (make check runs it in the background
# while the guest suites leave a core idle; the suite then hits the cache).
# The pristine tree of every line is extracted first (kernel-patches reads
# them all; the object checks need the default line's).
if [[ ${1:-} == --prefetch ]]; then
	# shellcheck source=devmgr/lines.sh
	. devmgr/lines.sh
	mapfile -t lines < <(upcall_lines | awk '{print $1}')
	for line in "${lines[@]}"; do
		devmgr/pristine.sh --line "$line" >/dev/null || exit 1
	done
	server_objects && i386_objects
	exit
fi

tools/tap-check.sh "build: base + upcall (full)" \
	build "$OUTDIR/bzImage-upcall" --config "$BASE" --config "$UPCALL"
tools/tap-check.sh "full config: server, devmgr, CPU, MMIO and PCI hotplug, no ACPI" full_config
tools/tap-check.sh "server-only: drivers/misc/upcall/ compiles (W=1, no warnings), no reference to what is left out" \
	server_objects
tools/tap-check.sh "server-only config: server without device manager" server_config
# 32-bit x86: the upcall objects compile (W=1, no warnings) where 64-bit
# fields are 4-byte aligned; cached by input hash like the builds above.
tools/tap-check.sh "i386: drivers/misc/upcall/ compiles (W=1, no warnings)" i386_objects
