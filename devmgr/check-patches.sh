#!/usr/bin/env bash
# Usage: devmgr/check-patches.sh [--line LINE]...
#
# TAP checks of the committed kernel patch series of every kernel line
# (tools/kernel-sources.txt: kernel-patches/ for 6.12, kernel-patches/6.1/;
# or only the lines given):
#   - it is what devmgr/gen-patches.sh generates from devmgr/ (not stale);
#   - every patch applies to the line's pristine source, in series order,
#     with no fuzz (as tools/kernel-build.sh applies them);
#   - every patch passes that source's scripts/checkpatch.pl --strict with
#     0 errors and 0 warnings, run at the top of the pristine kernel tree as
#     seen through a small git repository (checkpatch's SPDX check reads
#     LICENSES/ from git): symbolic links to the pristine tree plus a
#     committed LICENSES/.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
# shellcheck source=devmgr/lines.sh
. "$HERE/lines.sh"
TAP_CHECK=$TOP/tools/tap-check.sh
# checkpatch runs scripts/spdxcheck.py with the first python3 on PATH; it
# needs Debian's python3-ply and python3-git.
export PATH=/usr/bin:$PATH

work=$(mktemp -d /tmp/devmgr-check.XXXXXX)
trap 'rm -rf "$work"' EXIT

series() {
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e 's/^[[:space:]]*//' "$PATCHES/series" | grep -v '^$'
}

stale_check() {
	rm -rf "$work/gen" "$work/gen2" "$work/gen3"
	"$HERE/gen-patches.sh" --line "$LINE" --out "$work/gen" >/dev/null 2>&1 || return 1
	# Only the files: other lines' folders and config/ are not this
	# line's series.
	local f
	if ! diff -u <(cd "$work/gen" && find . -maxdepth 1 -type f | LC_ALL=C sort) \
		<(cd "$PATCHES" && find . -maxdepth 1 -type f | LC_ALL=C sort); then
		echo "${PATCHES#"$TOP"/} has other files than devmgr/ generates for $LINE: run 'make kernel-patches' and commit"
		return 1
	fi
	for f in "$work/gen"/*; do
		diff -u "$f" "$PATCHES/$(basename "$f")" || {
			echo "${PATCHES#"$TOP"/} differs from what devmgr/ generates for $LINE: run 'make kernel-patches' and commit"
			return 1
		}
	done
}

# Generation is deterministic: a second run gives the same bytes, and a
# changed source changes the output (so the stale check can fail).
determinism_check() {
	"$HERE/gen-patches.sh" --line "$LINE" --out "$work/gen2" >/dev/null 2>&1 || return 1
	diff -r "$work/gen" "$work/gen2" || { echo "two generations differ"; return 1; }
	rm -rf "$work/devmgr-copy"
	cp -a "$HERE" "$work/devmgr-copy"
	local m
	for m in "$(find "$work/devmgr-copy/steps" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort | head -1)"/message*; do
		echo "Changed." >>"$m"
	done
	UPCALL_TOP=$TOP "$work/devmgr-copy/gen-patches.sh" --line "$LINE" --out "$work/gen3" >/dev/null 2>&1 || return 1
	! diff -rq "$work/gen" "$work/gen3" >/dev/null || { echo "a changed message did not change the series"; return 1; }
}

apply_check() {
	local pristine p
	pristine=$("$HERE/pristine.sh" --line "$LINE") || return 1
	rm -rf "$work/apply"
	mkdir -p "$work/apply"
	# The touched files, copied from the pristine tree (new files are created).
	while IFS= read -r p; do
		sed -n -e 's@^--- a/@@p' -e 's@^+++ b/@@p' "$PATCHES/$p"
	done < <(series) | sort -u | while IFS= read -r f; do
		if [[ -f $pristine/$f ]]; then
			mkdir -p "$work/apply/$(dirname "$f")"
			cp "$pristine/$f" "$work/apply/$f"
		fi
	done
	while IFS= read -r p; do
		patch -d "$work/apply" -p1 --forward --fuzz=0 --batch --no-backup-if-mismatch \
			-i "$PATCHES/$p" >/dev/null || { echo "$p does not apply"; return 1; }
	done < <(series)
	# The patched files must be the ones devmgr/src/ holds.
	(cd "$HERE/src" && find . -type f) | while IFS= read -r f; do
		cmp "$HERE/src/$f" "$work/apply/$f" || exit 1
	done
}

make_root() {
	local pristine=$1 root=$work/root-$LINE e
	[[ -d $root/.git ]] && return 0
	mkdir -p "$root"
	for e in "$pristine"/*; do
		[[ -e $e ]] || continue
		[[ $(basename "$e") == LICENSES ]] && continue
		ln -s "$e" "$root/$(basename "$e")"
	done
	cp -r "$pristine/LICENSES" "$root/LICENSES"
	(cd "$root" && HOME=$work GIT_CONFIG_NOSYSTEM=1 git init -q &&
		HOME=$work GIT_CONFIG_NOSYSTEM=1 git add -f LICENSES &&
		HOME=$work GIT_CONFIG_NOSYSTEM=1 git -c user.name=check -c user.email=check@invalid \
			commit -q -m LICENSES) || return 1
}

checkpatch() {
	local patch=$1 pristine out
	pristine=$("$HERE/pristine.sh" --line "$LINE") || return 1
	make_root "$pristine" || { echo "cannot set up the checkpatch tree"; return 1; }
	out=$(cd "$work/root-$LINE" && ./scripts/checkpatch.pl --strict --no-summary-file "$patch" 2>&1)
	grep -v '^$' <<<"$out"
	grep -q '^total: 0 errors, 0 warnings,' <<<"$out"
}

# tools/tap-check.sh runs each check in a child shell.
export -f series stale_check determinism_check apply_check make_root checkpatch
export HERE TOP work

lines=()
while [[ $# -gt 0 ]]; do
	case $1 in
	--line) [[ $# -ge 2 ]] || { echo "check-patches: --line needs a line" >&2; exit 1; }; lines+=("$2"); shift 2 ;;
	*) echo "usage: devmgr/check-patches.sh [--line LINE]..." >&2; exit 1 ;;
	esac
done
[[ ${#lines[@]} -gt 0 ]] || mapfile -t lines < <(upcall_lines | awk '{print $1}')

for LINE in "${lines[@]}"; do
	upcall_line_info "$LINE" || exit 1
	PATCHES=$LINE_PATCHES
	export LINE PATCHES
	"$TAP_CHECK" "$LINE: series is generated from devmgr/ (not stale)" stale_check
	"$TAP_CHECK" "$LINE: generation is deterministic and follows its sources" determinism_check
	"$TAP_CHECK" "$LINE: series applies to the pristine $LINE_PKG $LINE_VERSION without fuzz" apply_check
	while IFS= read -r p; do
		"$TAP_CHECK" "$LINE: checkpatch --strict: $p" checkpatch "$PATCHES/$p"
	done < <(series)
done
