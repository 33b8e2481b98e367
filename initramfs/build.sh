#!/usr/bin/env bash
# Usage: initramfs/build.sh GEN_INIT_CPIO OUT AGENT BUSYBOX TESTS_DIR [EXTRA_BIN...]
#
# Writes the guest initramfs OUT (gzip'd newc cpio) with GEN_INIT_CPIO, the
# kernel's own usr/gen_init_cpio built from the pinned linux-source tarball:
#   /init                the agent
#   /bin/busybox         + one symlink per applet (busybox --list-full)
#   /usr/bin/NAME        each EXTRA_BIN (wins over an applet of that name)
#   /tests/NAME.sh       each TESTS_DIR/*.sh (TESTS_DIR may be missing)
#   /dev/console (c 5 1) and the directories the agent mounts on
# Reproducible: the list is sorted by path (gen_init_cpio numbers inodes in
# list order), owners 0:0, modes from the list, every mtime is
# SOURCE_DATE_EPOCH (default 0, gen_init_cpio -t), gzip -n stores no name
# or time.
set -euo pipefail
export LC_ALL=C

[[ $# -ge 5 ]] || { sed -n '2,2s/^# //p' "$0" >&2; exit 2; }
gen=$1 out=$2 agent=$3 busybox=$4 tests=$5
shift 5
epoch=${SOURCE_DATE_EPOCH:-0}

die() { echo "initramfs: $*" >&2; exit 1; }
[[ -x $gen ]] || die "gen_init_cpio '$gen' not found (built from the kernel source tarball by make)"
[[ -f $agent ]] || die "agent '$agent' not found"
[[ -x $busybox ]] || die "busybox '$busybox' not found (Debian package busybox-static)"
[[ $epoch =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$epoch' is not a number of seconds"

# gen_init_cpio splits its lines at white space and expands ${VAR} in
# source paths: a path it would misread is refused, not silently mangled.
source_path() {
	[[ $1 =~ ^[^[:space:]\$]+$ ]] || die "$2: path '$1' has white space or '\$', which gen_init_cpio cannot take"
	printf '%s' "$1"
}

declare -A taken=()
list=$(mktemp "${TMPDIR:-/tmp}/initramfs-list.XXXXXX")
trap 'rm -f "$list" "$list.sorted" "$out.tmp"' EXIT

# One entry per line, the archive path first (gen_init_cpio's format).
{
	for d in bin dev etc proc run sbin sys usr usr/bin usr/sbin; do
		echo "dir $d 0755 0 0"
	done
	echo "dir tmp 1777 0 0"
	echo "nod dev/console 0600 0 0 c 5 1"
	echo "file init $(source_path "$agent" agent) 0755 0 0"
	echo "file bin/busybox $(source_path "$busybox" busybox) 0755 0 0"

	for f in "$@"; do
		[[ -f $f ]] || die "GUEST_EXTRA_BINS: '$f' not found"
		name=${f##*/}
		[[ $name =~ ^[A-Za-z0-9._+-]+$ ]] || die "GUEST_EXTRA_BINS: bad name '$name'"
		[[ -z ${taken[usr/bin/$name]:-} ]] || die "GUEST_EXTRA_BINS: '$name' given twice"
		taken[usr/bin/$name]=1
		echo "file usr/bin/$name $(source_path "$f" GUEST_EXTRA_BINS) 0755 0 0"
	done

	# applets: "usr/bin/awk" etc.; skip the top-level ones (linuxrc)
	"$busybox" --list-full | while read -r applet; do
		[[ $applet == */* && $applet != bin/busybox ]] || continue
		[[ -z ${taken[$applet]:-} ]] || continue
		echo "slink $applet /bin/busybox 0777 0 0"
	done

	if [[ -d $tests ]]; then
		shopt -s nullglob
		scripts=("$tests"/*.sh)
		if [[ ${#scripts[@]} -gt 0 ]]; then
			echo "dir tests 0755 0 0"
			for s in "${scripts[@]}"; do
				[[ ${s##*/} =~ ^[A-Za-z0-9._+-]+$ ]] || die "test script: bad name '${s##*/}'"
				echo "file tests/${s##*/} $(source_path "$s" "test script") 0755 0 0"
			done
		fi
	fi
} > "$list"

# Sorted by path, so that a directory comes before what it holds and the
# order never depends on the order of the inputs. gen_init_cpio itself
# checks nothing: every path must be new and its directory listed.
sort -k2,2 "$list" > "$list.sorted"
awk '{
	if ($2 in seen) { print "initramfs: " $2 " listed twice"; bad = 1 }
	seen[$2] = $1
	parent = $2; if (sub("/[^/]*$", "", parent) && seen[parent] != "dir") {
		print "initramfs: " $2 ": its directory " parent " is not listed before it"; bad = 1
	}
} END { exit bad }' "$list.sorted" >&2 || die "bad entry list"

"$gen" -t "$epoch" "$list.sorted" | gzip -n -9 > "$out.tmp"
mv "$out.tmp" "$out"
