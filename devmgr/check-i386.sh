#!/usr/bin/env bash
# Usage: devmgr/check-i386.sh [--arch ARCH]
#
# Compiles the upcall driver (drivers/misc/upcall/) for 32-bit x86
# (ARCH=i386): the pinned source with the series applied, `tinyconfig`
# plus devmgr/config/i386.config, `make prepare`, then only the objects of
# drivers/misc/upcall/ with W=1. It proves that the code and its build
# time layout checks (static_assert on the wire format) hold where 64-bit
# fields are 4-byte aligned; nothing is linked or booted.
#
# Cheap once done: the result is cached in
# ${XDG_CACHE_HOME:-~/.cache}/upcall/kernel/i386-<key>/ (key: source
# version, series, patches, fragment, this script), so an unchanged input
# is not compiled again. The tree is extracted under build/devmgr/ and
# removed afterwards. Prints the log's last lines on failure.
#
#   --arch ARCH   another 32-bit ARCH= value of the x86 tree (default i386)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
ARCH=i386
FRAG=$HERE/config/i386.config
PATCHES=$TOP/kernel-patches
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/upcall/kernel
SCRIPT_VERSION=1

die() {
	echo "check-i386: $*" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--arch) [[ $# -ge 2 ]] || die "--arch needs a value"; ARCH=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1" ;;
	esac
done

mapfile -t series < <(grep -v -e '^#' -e '^$' "$PATCHES/series")
key=$({
	echo "script $SCRIPT_VERSION arch $ARCH"
	"$TOP/tools/kernel-build.sh" --print-key --config "$FRAG"
	for p in "${series[@]}"; do
		echo "patch $p"
		sha256sum <"$PATCHES/$p"
	done
	sha256sum <"$FRAG"
} | sha256sum | cut -c1-16)
entry=$CACHE_ROOT/$ARCH-$key

if [[ -f $entry/ok ]]; then
	echo "check-i386: cache hit $key ($(cat "$entry/ok"))"
	exit 0
fi

PRISTINE=$("$HERE/pristine.sh")
tree=$TOP/build/devmgr/linux-$ARCH.$$
trap 'rm -rf "$tree"' EXIT
rm -rf "$TOP/build/devmgr/linux-$ARCH".*
mkdir -p "$tree"
cp -a "$PRISTINE/." "$tree/"
for p in "${series[@]}"; do
	patch -d "$tree" -p1 --forward --fuzz=0 --batch -s -i "$PATCHES/$p" ||
		die "$p does not apply"
done

cc=gcc
if command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_DIR=${CCACHE_DIR:-$CACHE_ROOT/../ccache}
	export CCACHE_BASEDIR=$tree CCACHE_NOHASHDIR=1
fi
mk=(nice -n 10 make -C "$tree" ARCH="$ARCH" CC="$cc" -s -j2)
log=$tree/.build.log
start=$SECONDS
{
	"${mk[@]}" tinyconfig &&
		(cd "$tree" && scripts/kconfig/merge_config.sh -m .config "$FRAG") &&
		"${mk[@]}" olddefconfig
} >"$log" 2>&1 || { tail -30 "$log" >&2; die "configuration failed"; }

# Every option of the fragment must hold (a typo or an unmet dependency
# would silently compile less).
while IFS= read -r line; do
	[[ $line =~ ^CONFIG_ ]] || continue
	grep -qxF "$line" "$tree/.config" || die "$line does not hold in the $ARCH .config"
done <"$FRAG"

"${mk[@]}" prepare >>"$log" 2>&1 || { tail -30 "$log" >&2; die "make prepare failed"; }
objs=(drivers/misc/upcall/server.o drivers/misc/upcall/devmgr.o drivers/misc/upcall/devmgr_mmio.o)
"${mk[@]}" W=1 "${objs[@]}" >>"$log" 2>&1 || { tail -40 "$log" >&2; die "drivers/misc/upcall/ does not compile for $ARCH"; }
if grep -q 'warning:' "$log"; then
	grep 'warning:' "$log" >&2
	die "warnings while compiling drivers/misc/upcall/ for $ARCH"
fi

mkdir -p "$entry"
echo "${objs[*]##*/} compiled for $ARCH in $((SECONDS - start)) s, $(date -u +%FT%TZ)" >"$entry/ok"
echo "check-i386: $(cat "$entry/ok")"
