#!/usr/bin/env bash
# Usage: devmgr/gen-patches.sh [--line LINE [--out DIR] [--keep-tree DIR]]
#
# Generates the guest kernel patch series of every kernel line (one per
# pin in tools/kernel-sources.txt: kernel-patches/ for the first line,
# 6.12, kernel-patches/LINE/ for the others, e.g. 6.1) from one set of
# sources in devmgr/:
#   devmgr/src/                        the new files, at their in-tree paths (shared)
#   devmgr/steps/NN-name/message       commit message (subject, body, Signed-off-by)
#   devmgr/steps/NN-name/message-LINE  the message for LINE, if it differs
#   devmgr/steps/NN-name/files         new files of the step, taken whole from devmgr/src/
#   devmgr/steps/NN-name/edits.diff    the step's edits that every line shares
#                                      (existing files, small new build files)
#   devmgr/steps/NN-name/edits-LINE.diff  the step's edits for LINE only
#
# For each line it builds a small git tree holding the pristine versions of
# the files the series touches (plus LICENSES/ for checkpatch's SPDX check),
# commits each step in order and runs `git format-patch`. A step's commit is
# its files, then edits.diff (applied with `git apply -C1`: the shared edits
# are written against one line and placed by their nearest context in the
# other; the generated patches carry full context and are checked with
# `patch --fuzz=0`), then edits-LINE.diff (exact). Author, dates and git
# settings are fixed, so the output depends only on devmgr/ and the pinned
# source: running it again without a change gives identical bytes.
#
#   --line LINE      only this line (default: every line)
#   --out DIR        write its patches and `series` there (needs --line)
#   --keep-tree DIR  keep its generated git tree in DIR (needs --line);
#                    the pristine commit is tagged `pristine`
#
# The pristine sources are found by devmgr/pristine.sh.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
OUT=
KEEP=
LINE=

AUTHOR_NAME="Seed 07df8e42 maintainers"
AUTHOR_EMAIL="maintainers@users.noreply.h-seed-07df8e42.example"
DATE="2026-01-01T00:00:00+0000"

die() {
	echo "gen-patches: $*" >&2
	exit 1
}

while [[ $# -gt 0 ]]; do
	case $1 in
	--line) [[ $# -ge 2 ]] || die "--line needs a line"; LINE=$2; shift 2 ;;
	--out) [[ $# -ge 2 ]] || die "--out needs a folder"; OUT=$2; shift 2 ;;
	--keep-tree) [[ $# -ge 2 ]] || die "--keep-tree needs a folder"; KEEP=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument: $1" ;;
	esac
done

# shellcheck source=devmgr/lines.sh
. "$HERE/lines.sh"

if [[ -z $LINE ]]; then
	[[ -z $OUT && -z $KEEP ]] || die "--out and --keep-tree need --line"
	upcall_lines | while read -r line _; do
		"$0" --line "$line" || exit 1
	done
	exit
fi
upcall_line_info "$LINE" || exit 1
SOURCE="Debian $LINE_PKG $LINE_VERSION"
OUT=${OUT:-$LINE_PATCHES}
PRISTINE=$("$HERE/pristine.sh" --line "$LINE")

work=$(mktemp -d /tmp/devmgr-gen.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/tree
mkdir -p "$tree" "$work/home"

# git with no user or system configuration, fixed identity and dates.
g() {
	HOME=$work/home GIT_CONFIG_NOSYSTEM=1 \
		GIT_AUTHOR_NAME=$AUTHOR_NAME GIT_AUTHOR_EMAIL=$AUTHOR_EMAIL \
		GIT_COMMITTER_NAME=$AUTHOR_NAME GIT_COMMITTER_EMAIL=$AUTHOR_EMAIL \
		GIT_AUTHOR_DATE=$DATE GIT_COMMITTER_DATE=$DATE \
		git -C "$tree" -c core.abbrev=12 -c diff.renames=false \
		-c core.autocrlf=false -c init.defaultBranch=main "$@"
}

mapfile -t steps < <(find "$HERE/steps" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)
[[ ${#steps[@]} -gt 0 ]] || die "no steps in $HERE/steps"

# Every path the series touches, from the diffs and the file lists.
touched() {
	local s d
	for s in "${steps[@]}"; do
		for d in "$s/edits.diff" "$s/edits-$LINE.diff"; do
			if [[ -f $d ]]; then sed -n -e 's@^--- a/@@p' -e 's@^+++ b/@@p' "$d"; fi
		done
		[[ -f $s/files ]] && grep -v -e '^#' -e '^$' "$s/files"
	done | LC_ALL=C sort -u
}

while IFS= read -r f; do
	if [[ -f $PRISTINE/$f ]]; then
		mkdir -p "$tree/$(dirname "$f")"
		cp "$PRISTINE/$f" "$tree/$f"
	fi
done < <(touched)
cp -r "$PRISTINE/LICENSES" "$tree/LICENSES"

g init -q
g add -A -f
g commit -q -m "pristine $SOURCE"
base=$(g rev-parse HEAD)
g tag pristine

listed=()
for s in "${steps[@]}"; do
	name=$(basename "$s")
	msg=$s/message
	[[ -f $s/message-$LINE ]] && msg=$s/message-$LINE
	[[ -s $msg ]] || die "$name: no message"
	if [[ -f $s/files ]]; then
		while IFS= read -r f; do
			[[ -z $f || $f == \#* ]] && continue
			[[ -f $HERE/src/$f ]] || die "$name: devmgr/src/$f is missing"
			[[ -e $tree/$f ]] && die "$name: $f already exists; a step's files must be new"
			mkdir -p "$tree/$(dirname "$f")"
			cp "$HERE/src/$f" "$tree/$f"
			listed+=("$f")
		done <"$s/files"
	fi
	if [[ -f $s/edits.diff ]]; then
		g apply -C1 --whitespace=error-all "$s/edits.diff" ||
			die "$name: edits.diff does not apply to $LINE (move the hunk that fails into edits-LINE.diff files)"
	fi
	if [[ -f $s/edits-$LINE.diff ]]; then
		g apply --whitespace=error-all "$s/edits-$LINE.diff" ||
			die "$name: edits-$LINE.diff does not apply"
	fi
	g add -A -f
	g diff --cached --quiet && die "$name: the step changes nothing"
	g commit -q --cleanup=strip -F "$msg"
done

# Every file in devmgr/src/ must be part of the series.
while IFS= read -r f; do
	f=${f#"$HERE/src/"}
	printf '%s\n' "${listed[@]}" | grep -qxF "$f" ||
		die "devmgr/src/$f is in no step's files list"
done < <(find "$HERE/src" -type f | LC_ALL=C sort)

mkdir -p "$OUT"
rm -f "$OUT"/*.patch
g format-patch -q --zero-commit --no-signature --no-renames --stat=80 \
	--subject-prefix=PATCH -o "$OUT" "$base..HEAD" >/dev/null
{
	echo "# Guest kernel patch series, applied in this order to"
	echo "# $SOURCE."
	echo "# Generated by devmgr/gen-patches.sh from devmgr/; do not edit by hand."
	(cd "$OUT" && LC_ALL=C ls -1 -- *.patch)
} >"$OUT/series"

if [[ -n $KEEP ]]; then
	rm -rf "$KEEP"
	mkdir -p "$(dirname "$KEEP")"
	cp -a "$tree" "$KEEP"
fi
echo "gen-patches: $LINE: wrote ${#steps[@]} patches and series to ${OUT#"$TOP"/}"
