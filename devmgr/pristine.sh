#!/usr/bin/env bash
# Usage: devmgr/pristine.sh
#
# Prints the path of an unpatched tree of the pinned guest kernel source
# (Debian linux-source-6.12 6.12.117-1~deb12u1), for generating and
# checking the patch series. In order of preference:
#   1. $UPCALL_KERNEL_PRISTINE, if set;
#   2. /var/tmp/upcall-ref/linux-source-6.12 (read-only reference copy);
#   3. build/devmgr/linux-pristine, extracted once from
#      /usr/src/linux-source-6.12.tar.xz.
# The tree's Makefile must say 6.12.117. The tree is only read.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
TARBALL=/usr/src/linux-source-6.12.tar.xz
WANT=6.12.117

version_of() {
	awk -F' = ' '/^VERSION/ {v=$2} /^PATCHLEVEL/ {p=$2} /^SUBLEVEL/ {s=$2}
		END {print v "." p "." s}' "$1/Makefile" 2>/dev/null
}

check() {
	[[ -f $1/Makefile && -f $1/scripts/checkpatch.pl && -d $1/LICENSES ]] &&
		[[ $(version_of "$1") == "$WANT" ]]
}

if [[ -n ${UPCALL_KERNEL_PRISTINE:-} ]]; then
	check "$UPCALL_KERNEL_PRISTINE" ||
		{ echo "pristine: $UPCALL_KERNEL_PRISTINE is not a $WANT tree" >&2; exit 1; }
	echo "$UPCALL_KERNEL_PRISTINE"
	exit 0
fi
if check /var/tmp/upcall-ref/linux-source-6.12; then
	echo /var/tmp/upcall-ref/linux-source-6.12
	exit 0
fi

dest=$TOP/build/devmgr/linux-pristine
if ! check "$dest" || [[ ! -f $dest/.upcall-extracted ]]; then
	[[ -r $TARBALL ]] || { echo "pristine: $TARBALL is missing (tools/deps.sh)" >&2; exit 1; }
	echo "pristine: extracting $TARBALL into ${dest#"$TOP"/} (once)" >&2
	rm -rf "$dest.tmp" "$dest"
	mkdir -p "$dest.tmp"
	tar -xf "$TARBALL" -C "$dest.tmp" --strip-components=1
	touch "$dest.tmp/.upcall-extracted"
	mv "$dest.tmp" "$dest"
fi
echo "$dest"
