#!/usr/bin/env bash
# Usage: devmgr/line-counts.sh
#
# How much of the kernel series is shared by every kernel line and how
# much is per line (docs/kernel.md, "Kernel lines"), counted in devmgr/:
#   shared:   every line of the new files in devmgr/src/, plus the added
#             lines ('+', not '+++') of devmgr/steps/*/edits.diff;
#   per line: the added lines of devmgr/steps/*/edits-LINE.diff, for every
#             line of tools/kernel-sources.txt, and of them those in
#             drivers/misc/ and MAINTAINERS (where the new entries go).
# Prints one figure a line; nothing is built or read outside devmgr/.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=devmgr/lines.sh
. "$HERE/lines.sh"

# added FILE...: the added lines of the diffs (none for no file)
added() {
	[[ $# -gt 0 ]] || { echo 0; return; }
	cat "$@" | grep -v '^+++' | grep -c '^+' || true
}

# added_in PATTERN FILE...: the added lines of the diffs' files whose
# path matches the extended regex PATTERN
added_in() {
	local pattern=$1
	shift
	[[ $# -gt 0 ]] || { echo 0; return; }
	awk -v re="$pattern" '
		/^\+\+\+ / { p = substr($2, 3) ~ re; next }
		/^\+/ && p { n++ }
		END { print n + 0 }' "$@"
}

mapfile -t srcs < <(find "$HERE/src" -type f | LC_ALL=C sort)
src_lines=$(cat "${srcs[@]}" | wc -l)
mapfile -t shared_diffs < <(compgen -G "$HERE/steps/*/edits.diff" | LC_ALL=C sort)
shared_edits=$(added "${shared_diffs[@]}")
shared=$((src_lines + shared_edits))

total=$shared
echo "shared: $src_lines lines of new files in devmgr/src/ (${#srcs[@]} files) + $shared_edits added lines of edits.diff = $shared"
while read -r line _; do
	mapfile -t diffs < <(compgen -G "$HERE/steps/*/edits-$line.diff" | LC_ALL=C sort)
	own=$(added "${diffs[@]}")
	misc=$(added_in '^(drivers/misc/|MAINTAINERS$)' "${diffs[@]}")
	total=$((total + own))
	echo "$line: $own added lines of edits-$line.diff (${#diffs[@]} steps; $misc in drivers/misc/ and MAINTAINERS, $((own - misc)) elsewhere); shared share of its series: $((100 * shared / (shared + own)))%"
done < <(upcall_lines)
echo "all: $total lines of kernel code, $((100 * shared / total))% of them shared"
