#!/usr/bin/env bash
# Usage: devmgr/check-objects.sh --name NAME [--arch ARCH] --config FRAG...
#                                [--config-out FILE]
#
# Compiles only the upcall driver (drivers/misc/upcall/) of the pinned
# source with the series applied, in a configuration that no guest boots:
# `make ARCH=ARCH tinyconfig`, the fragments merged in order,
# `olddefconfig`, a check that every CONFIG_ line of the fragments holds,
# `make prepare`, then `make W=1 drivers/misc/upcall/`. Fails on a compile
# error, on any warning, and on a reference from the compiled objects to a
# function of the series that this configuration does not build (e.g. the
# server calling into the device manager when CONFIG_UPCALL_DEVMGR is off):
# the link error a full build would give, found without building the rest
# of the kernel (a whole bzImage takes ~13 min cold on 2 cores; this ~1).
#
# Used by devmgr/check-configs.sh for ARCH=i386 (64-bit fields 4-byte
# aligned: the wire format's static_asserts) and for the server-only
# configuration (no device manager).
#
# Cheap once done: the result is cached in
# ${XDG_CACHE_HOME:-~/.cache}/upcall/kernel/objs-NAME-<key>/ (key: source
# version, series, patches, fragments, this script), so an unchanged input
# is not compiled again. Prints the log's last lines on failure.
#
# The tree is not copied: under build/devmgr/objs-NAME.PID/, src/ is a
# farm of hard links to the pristine tree (cp -al, a plain copy when the
# pristine tree is on another file system) that the series is applied to
# (GNU patch writes a new file and renames it over the link, so the
# pristine file keeps its content), and everything is built in obj/ with
# `make O=`, which writes nothing into the source tree. A copy of the
# 1.4 GB tree took 3-4 min of a cold `make check` beside the background
# kernel build; the links take seconds. The script checks afterwards that
# no file under src/ changed after the patches (a write through a link
# would have changed the pristine tree) and fails if one did. Both
# directories are removed afterwards.
#
#   --name NAME       label of the configuration (cache entry, messages)
#   --arch ARCH       ARCH= value (default x86_64)
#   --config FRAG     fragment merged on top of tinyconfig (repeatable)
#   --config-out FILE copy the final .config to FILE (also on a cache hit)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
NAME=
ARCH=x86_64
FRAGS=()
CONFIG_OUT=
PATCHES=$TOP/kernel-patches
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/upcall/kernel
SCRIPT_VERSION=3

die() {
	echo "check-objects${NAME:+ ($NAME)}: $*" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--name) [[ $# -ge 2 ]] || die "--name needs a value"; NAME=$2; shift 2 ;;
	--arch) [[ $# -ge 2 ]] || die "--arch needs a value"; ARCH=$2; shift 2 ;;
	--config)
		[[ $# -ge 2 ]] || die "--config needs a file"
		[[ -f $2 ]] || die "no such fragment: $2"
		FRAGS+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")")
		shift 2
		;;
	--config-out) [[ $# -ge 2 ]] || die "--config-out needs a file"; CONFIG_OUT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1" ;;
	esac
done
[[ $NAME =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "--name must be lower-case letters, digits and '-'"
[[ ${#FRAGS[@]} -gt 0 ]] || die "no --config fragment given"

mapfile -t series < <(grep -v -e '^#' -e '^$' "$PATCHES/series")
# kernel-build.sh's key covers the source version, the series, every patch
# and the fragments; add what only this script varies.
keyargs=()
for f in "${FRAGS[@]}"; do
	keyargs+=(--config "$f")
done
key=$({
	echo "script $SCRIPT_VERSION arch $ARCH"
	"$TOP/tools/kernel-build.sh" --print-key "${keyargs[@]}"
} | sha256sum | cut -c1-16)
entry=$CACHE_ROOT/objs-$NAME-$key

copy_config() {
	[[ -z $CONFIG_OUT ]] || { mkdir -p "$(dirname "$CONFIG_OUT")" && cp "$1" "$CONFIG_OUT"; }
}

cache_hit() {
	[[ -f $entry/ok && -f $entry/config ]] || return 1
	copy_config "$entry/config"
	echo "check-objects ($NAME): cache hit $key ($(cat "$entry/ok"))"
}
cache_hit && exit 0
# make check runs these in the background (Makefile, CHECK_PREFETCH) while
# kernel-configs may ask for the same: one compiles, the other waits and
# takes the result from the cache.
mkdir -p "$TOP/build/devmgr"
exec 9>"$TOP/build/devmgr/.objs-$NAME.lock"
flock -w 1800 9 || die "waited 30 min for another check of $NAME"
cache_hit && exit 0

PRISTINE=$("$HERE/pristine.sh")
work=$TOP/build/devmgr/objs-$NAME.$$
src=$work/src
obj=$work/obj
trap 'rm -rf "$work"' EXIT
rm -rf "$TOP/build/devmgr/objs-$NAME".* "$TOP/build/devmgr/linux-$NAME".*
mkdir -p "$src" "$obj"
if ! cp -al "$PRISTINE/." "$src/" 2>/dev/null; then
	# Hard links need one file system; a pristine tree elsewhere is copied.
	rm -rf "$src" && mkdir -p "$src"
	cp -a "$PRISTINE/." "$src/"
fi
for p in "${series[@]}"; do
	patch -d "$src" -p1 --forward --fuzz=0 --batch -s -i "$PATCHES/$p" ||
		die "$p does not apply"
done
patched=$work/patched.stamp
touch "$patched"

cc=gcc
if command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_DIR=${CCACHE_DIR:-$CACHE_ROOT/../ccache}
	export CCACHE_BASEDIR=$work CCACHE_NOHASHDIR=1
fi
mk=(nice -n 10 make -C "$src" O="$obj" ARCH="$ARCH" CC="$cc" -s -j2)
log=$work/build.log
start=$SECONDS
{
	"${mk[@]}" tinyconfig &&
		(cd "$obj" && "$src/scripts/kconfig/merge_config.sh" -m -O "$obj" .config "${FRAGS[@]}") &&
		"${mk[@]}" olddefconfig
} >"$log" 2>&1 || { tail -30 "$log" >&2; die "configuration failed"; }

# Every option of the fragments must hold (a typo or an unmet dependency
# would silently compile less).
for f in "${FRAGS[@]}"; do
	frag=${f##*/}
	while IFS= read -r line; do
		[[ $line =~ ^CONFIG_ ]] || continue
		grep -qxF "$line" "$obj/.config" || die "$line ($frag) does not hold in the $ARCH .config"
	done <"$f"
done

"${mk[@]}" prepare >>"$log" 2>&1 || { tail -30 "$log" >&2; die "make prepare failed"; }
"${mk[@]}" W=1 drivers/misc/upcall/ >>"$log" 2>&1 ||
	{ tail -40 "$log" >&2; die "drivers/misc/upcall/ does not compile for $ARCH"; }
if grep -q 'warning:' "$log"; then
	grep 'warning:' "$log" >&2
	die "warnings while compiling drivers/misc/upcall/ for $ARCH"
fi
# src/ shares its unpatched files with the pristine tree: anything written
# there after the patches went into the pristine tree too.
changed=$(find "$src" -newer "$patched" \( -type f -o -type l \) -print -quit)
[[ -z $changed ]] || die "the build wrote into the source tree (${changed#"$src"/}); the pristine tree $PRISTINE may be damaged"
mapfile -t objs < <(cd "$obj" && find drivers/misc/upcall -name '*.o' ! -name 'built-in*' | sort)
[[ ${#objs[@]} -gt 0 ]] || die "no object was compiled in drivers/misc/upcall/"

# The functions the series defines outside static scope: the driver's own
# (every file of devmgr/src) and the arch helpers its edits add. A
# reference to one of them that no compiled object defines is a link
# error in this configuration.
series_syms=$(
	{
		grep -hoE '^[a-z][a-z0-9_ ]*[ *]([a-z_][a-z0-9_]*)\(' "$TOP"/devmgr/src/drivers/misc/upcall/*.c
		cat "${series[@]/#/$PATCHES/}" | grep -hoE '^\+[a-z][a-z0-9_ ]*[ *]([a-z_][a-z0-9_]*)\('
	} | grep -vE '^\+?static ' | sed -E 's/.*[ *]([a-z_][a-z0-9_]*)\($/\1/' | sort -u
)
defined=$(cd "$obj" && nm --defined-only "${objs[@]}" | awk 'NF == 3 {print $3}' | sort -u)
undefined=$(cd "$obj" && nm -u "${objs[@]}" | awk 'NF == 2 {print $2}' | sort -u)
missing=$(comm -12 <(echo "$undefined") <(echo "$series_syms") | comm -23 - <(echo "$defined"))
if [[ -n $missing ]]; then
	for s in $missing; do
		echo "check-objects ($NAME): $(cd "$obj" && nm -A -u "${objs[@]}" | awk -v s="$s" '$NF == s {sub(/:.*/, "", $1); print $1}' | tr '\n' ' ')references $s, which this configuration does not build" >&2
	done
	die "unresolved references to the series' own functions"
fi

mkdir -p "$entry"
cp "$obj/.config" "$entry/config"
copy_config "$entry/config"
echo "${objs[*]##*/} compiled for $ARCH in $((SECONDS - start)) s, no unresolved reference to the series, $(date -u +%FT%TZ)" >"$entry/ok"
echo "check-objects ($NAME): $(cat "$entry/ok")"
