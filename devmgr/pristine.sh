#!/usr/bin/env bash
# Usage: devmgr/pristine.sh [--line LINE]
#
# Prints the path of an unpatched tree of a kernel line's pinned source
# (tools/kernel-sources.txt, e.g. Debian linux-source-6.12; default: the
# first line), for generating and checking the patch series. In order of
# preference:
#   1. $UPCALL_KERNEL_PRISTINE, if set (default line only), or
#      $UPCALL_KERNEL_PRISTINE_<LINE> (dots as underscores: ..._6_1);
#   2. /var/tmp/upcall-ref/linux-source-LINE (read-only reference copy);
#   3. build/devmgr/linux-pristine (default line) or
#      build/devmgr/linux-pristine-LINE, extracted once from
#      /usr/src/linux-source-LINE.tar.xz.
# The tree's Makefile must name the pinned kernel version. It is only read.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=devmgr/lines.sh
. "$HERE/lines.sh"
TOP=$UPCALL_TOP

line=$(upcall_default_line)
case ${1:-} in
--line) [[ $# -eq 2 ]] || { echo "pristine: --line needs a line" >&2; exit 1; }; line=$2 ;;
'') ;;
*) echo "usage: devmgr/pristine.sh [--line LINE]" >&2; exit 1 ;;
esac
upcall_line_info "$line" || exit 1
TARBALL=/usr/src/$LINE_PKG.tar.xz
WANT=$LINE_KVERSION

version_of() {
	awk -F' = ' '/^VERSION/ {v=$2} /^PATCHLEVEL/ {p=$2} /^SUBLEVEL/ {s=$2}
		END {print v "." p "." s}' "$1/Makefile" 2>/dev/null
}

check() {
	[[ -f $1/Makefile && -f $1/scripts/checkpatch.pl && -d $1/LICENSES ]] &&
		[[ $(version_of "$1") == "$WANT" ]]
}

var=UPCALL_KERNEL_PRISTINE_${line//./_}
given=${!var:-}
if [[ -z $given && $line == "$(upcall_default_line)" ]]; then
	given=${UPCALL_KERNEL_PRISTINE:-}
fi
if [[ -n $given ]]; then
	check "$given" || { echo "pristine: $given is not a $WANT tree" >&2; exit 1; }
	echo "$given"
	exit 0
fi
if check "/var/tmp/upcall-ref/$LINE_PKG"; then
	echo "/var/tmp/upcall-ref/$LINE_PKG"
	exit 0
fi

if [[ $line == "$(upcall_default_line)" ]]; then
	dest=$TOP/build/devmgr/linux-pristine
else
	dest=$TOP/build/devmgr/linux-pristine-$line
fi
extracted() {
	check "$dest" && [[ -f $dest/.upcall-extracted ]]
}
if ! extracted; then
	[[ -r $TARBALL ]] || { echo "pristine: $TARBALL is missing (tools/deps.sh)" >&2; exit 1; }
	# make check extracts it in the background (Makefile, CHECK_PREFETCH)
	# while a suite may ask for it: one extracts, the other waits.
	mkdir -p "$(dirname "$dest")"
	exec 9>"$(dirname "$dest")/.$(basename "$dest").lock"
	flock -w 1800 9 || { echo "pristine: waited 30 min for another extraction of $dest" >&2; exit 1; }
	if ! extracted; then
		echo "pristine: extracting $TARBALL into ${dest#"$TOP"/} (once)" >&2
		rm -rf "$dest.tmp" "$dest"
		mkdir -p "$dest.tmp"
		tar -xf "$TARBALL" -C "$dest.tmp" --strip-components=1
		touch "$dest.tmp/.upcall-extracted"
		mv "$dest.tmp" "$dest"
	fi
	exec 9>&-
fi
echo "$dest"
