#!/usr/bin/env bash
# Usage: tools/kernel-latest.sh [VERSION]     (make kernel-latest)
#
# Says whether the pin of the kernel source (tools/kernel-sources.txt,
# first line) can move to the newest version of that package the Debian
# archive offers, or to VERSION: whether kernel-patches/series applies to
# it, whether the guest kernel builds from it, and whether that kernel
# boots and hotplugs (tools/demo.sh with it: vCPUs on pc, a disk on
# microvm). The package is only downloaded (apt-get download into a
# temporary folder under build/) and never installed, so the pinned
# version stays what the build uses. Refreshes apt's lists first when run
# as root. Exit status 0 when all three hold.
#
# Needs the host programs and the initramfs (make kernel-latest builds them).
set -euo pipefail
export LC_ALL=C

TOP=$(cd "$(dirname "$0")/.." && pwd)
PATCH_DIR=$TOP/kernel-patches
read -r PKG PIN < <(sed -e 's/#.*//' "$TOP/tools/kernel-sources.txt" | grep -m1 '[^[:space:]]')

die() {
	echo "kernel-latest: error: $*" >&2
	exit 2
}
say() { echo "kernel-latest: $*"; }

[[ -n ${PIN:-} ]] || die "no pin in tools/kernel-sources.txt"
[[ $# -le 1 ]] || die "usage: tools/kernel-latest.sh [VERSION]"
for f in build/bin/upcall-ctl build/bin/upcall-vsockd build/guest/initramfs.cpio.gz; do
	[[ -e $TOP/$f ]] || die "$f is missing (make kernel-latest builds it)"
done

if [[ $(id -u) -eq 0 ]]; then
	apt-get update -qq || die "apt-get update failed"
else
	say "not root: using apt's package lists as they are (maybe old)"
fi

# Every version the archive offers, newest first (Debian ordering).
mapfile -t offered < <(apt-cache madison "$PKG" | awk -F'|' '{ gsub(/ /, "", $2); print $2 }' | sort -u)
[[ ${#offered[@]} -gt 0 ]] || die "the archive offers no $PKG"
newest=${offered[0]}
for v in "${offered[@]}"; do
	dpkg --compare-versions "$v" gt "$newest" && newest=$v
done
say "$PKG pinned to $PIN; the archive offers ${offered[*]}; newest $newest"

want=${1:-$newest}
if [[ $want == "$PIN" ]]; then
	say "$want is the pinned version itself (make check covers it); checking it all the same"
fi
printf '%s\n' "${offered[@]}" | grep -qxF -- "$want" || die "the archive does not offer $PKG $want"

mkdir -p "$TOP/build"
work=$(mktemp -d "$TOP/build/kernel-latest.XXXXXX")
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"	# apt-get download runs as the _apt user when it can

say "downloading $PKG=$want (not installing it)"
(cd "$work" && apt-get download -q "$PKG=$want" >"$work/download.log" 2>&1) || {
	cat "$work/download.log" >&2
	die "apt-get download $PKG=$want failed"
}
deb=$(compgen -G "$work/${PKG}_*.deb") || die "apt-get download left no .deb"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/src/$PKG.tar.xz" ||
	die "$deb holds no /usr/src/$PKG.tar.xz"
tarball=$work/usr/src/$PKG.tar.xz
rm -f "$deb"

# 1. Does the series apply (no fuzz, no offset the build would refuse)?
applies=no builds=no boots=no
tree=$work/tree
mkdir -p "$tree"
tar -xf "$tarball" -C "$tree" --strip-components=1
n=0 bad=
while read -r p; do
	if ! patch -d "$tree" -p1 --forward --fuzz=0 --batch --no-backup-if-mismatch \
		-i "$PATCH_DIR/$p" >"$work/patch.log" 2>&1; then
		bad=$p
		sed 's/^/    /' "$work/patch.log"
		break
	fi
	n=$((n + 1))
done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$PATCH_DIR/series")
rm -rf "$tree"
if [[ -z $bad ]]; then
	applies=yes
	say "applies: yes ($n patches, no fuzz)"
else
	say "applies: no ($bad fails after $n patches)"
fi

# 2. Does it build (the same script, config fragments and checks as make)?
if [[ $applies == yes ]]; then
	if "$TOP/tools/kernel-build.sh" --source-tarball "$tarball" --source-version "$want" \
		--out "$work/bzImage" >"$work/build.log" 2>&1; then
		builds=yes
		say "builds: yes ($(grep -m1 -o 'cache hit.*\|built .* s' "$work/build.log"))"
	else
		tail -30 "$work/build.log" | sed 's/^/    /'
		say "builds: no"
	fi
fi

# 3. Does it boot and hotplug? The demo, with this kernel.
if [[ $builds == yes ]]; then
	if VM_KERNEL=$work/bzImage "$TOP/tools/demo.sh" >"$work/demo.log" 2>&1 &&
		grep -q '^demo done in' "$work/demo.log"; then
		boots=yes
		say "boots: yes ($(grep -m1 '^demo done in' "$work/demo.log"): vCPU add/remove on pc, disk add/remove on microvm)"
	else
		tail -30 "$work/demo.log" | sed 's/^/    /'
		say "boots: no"
	fi
fi

if [[ $applies$builds$boots == yesyesyes && $want == "$PIN" ]]; then
	say "RESULT: $PKG $want works, and it is the pin already: nothing to move"
	exit 0
fi
if [[ $applies$builds$boots == yesyesyes ]]; then
	say "RESULT: $PKG $want works: the pin can move to it (docs/kernel-build.md, \"Moving the pin\")"
	exit 0
fi
say "RESULT: $PKG $want does not work yet (applies: $applies, builds: $builds, boots: $boots): keep the pin at $PIN"
exit 1
