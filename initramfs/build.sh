#!/usr/bin/env bash
# Usage: initramfs/build.sh MKCPIO OUT AGENT BUSYBOX TESTS_DIR [EXTRA_BIN...]
#
# Writes the guest initramfs OUT (gzip'd newc cpio):
#   /init                the agent
#   /bin/busybox         + one symlink per applet (busybox --list-full)
#   /usr/bin/NAME        each EXTRA_BIN (wins over an applet of that name)
#   /tests/NAME.sh       each TESTS_DIR/*.sh (TESTS_DIR may be missing)
#   /dev/console (c 5 1) and the directories the agent mounts on
# Reproducible: the list is sorted, owners 0:0, fixed modes, every mtime is
# SOURCE_DATE_EPOCH (default 0), gzip -n stores no name or time.
set -euo pipefail
export LC_ALL=C

[[ $# -ge 5 ]] || { sed -n '2,2s/^# //p' "$0" >&2; exit 2; }
mkcpio=$1 out=$2 agent=$3 busybox=$4 tests=$5
shift 5
epoch=${SOURCE_DATE_EPOCH:-0}

die() { echo "initramfs: $*" >&2; exit 1; }
[[ -f $agent ]] || die "agent '$agent' not found"
[[ -x $busybox ]] || die "busybox '$busybox' not found (Debian package busybox-static)"

declare -A taken=()
list=$(mktemp "${TMPDIR:-/tmp}/initramfs-list.XXXXXX")
trap 'rm -f "$list" "$out.tmp"' EXIT

{
	for d in bin dev etc proc run sbin sys usr usr/bin usr/sbin; do
		echo "dir $d 0755"
	done
	echo "dir tmp 1777"
	echo "nod dev/console 0600 c 5 1"
	echo "file init $agent 0755"
	echo "file bin/busybox $busybox 0755"

	for f in "$@"; do
		[[ -f $f ]] || die "GUEST_EXTRA_BINS: '$f' not found"
		name=${f##*/}
		[[ $name =~ ^[A-Za-z0-9._+-]+$ ]] || die "GUEST_EXTRA_BINS: bad name '$name'"
		[[ -z ${taken[usr/bin/$name]:-} ]] || die "GUEST_EXTRA_BINS: '$name' given twice"
		taken[usr/bin/$name]=1
		echo "file usr/bin/$name $f 0755"
	done

	# applets: "usr/bin/awk" etc.; skip the top-level ones (linuxrc)
	"$busybox" --list-full | while read -r applet; do
		[[ $applet == */* && $applet != bin/busybox ]] || continue
		[[ -z ${taken[$applet]:-} ]] || continue
		echo "slink $applet /bin/busybox 0777"
	done

	if [[ -d $tests ]]; then
		shopt -s nullglob
		scripts=("$tests"/*.sh)
		if [[ ${#scripts[@]} -gt 0 ]]; then
			echo "dir tests 0755"
			for s in "${scripts[@]}"; do
				echo "file tests/${s##*/} $s 0755"
			done
		fi
	fi
} > "$list"

"$mkcpio" -t "$epoch" "$list" | gzip -n -9 > "$out.tmp"
mv "$out.tmp" "$out"
