#!/usr/bin/env bash
# Usage: devmgr/range-diff.sh [--line LINE] [OLD]
#
# Review aid: `git range-diff` between a kernel line's series as committed
# at git revision OLD (default HEAD) and the series in the working tree
# (kernel-patches/, or kernel-patches/LINE/; run `make kernel-patches`
# first). Both are applied with `git am` to the pristine files they touch,
# so a change to an arch edit reads as a change of a commit, not as a diff
# of a diff. LINE defaults to the first line of tools/kernel-sources.txt.
set -euo pipefail

die() {
	echo "range-diff: $*" >&2
	exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=devmgr/lines.sh
. "$here/lines.sh"
upcall_line_opt "$@" || exit 1
line=$LINE
set -- "${LINE_REST[@]}"
[[ $# -le 1 ]] || die "usage: $0 [--line LINE] [OLD]"
old=${1:-HEAD}
upcall_line_info "$line" || exit 1
rel=${LINE_PATCHES#"$UPCALL_TOP"/}
pristine=$("$here/pristine.sh" --line "$line")

work=$(mktemp -d /tmp/devmgr-range-diff.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/old" "$work/new" "$work/tree" "$work/home"

# The old series from git, the new one from the working tree.
git -C "$UPCALL_TOP" rev-parse --verify -q "$old^{commit}" >/dev/null || die "no git revision $old"
series_of() {
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$1/series"
}
if git -C "$UPCALL_TOP" cat-file -e "$old:$rel/series" 2>/dev/null; then
	git -C "$UPCALL_TOP" show "$old:$rel/series" >"$work/old/series"
	while IFS= read -r p; do
		git -C "$UPCALL_TOP" show "$old:$rel/$p" >"$work/old/$p"
	done < <(series_of "$work/old")
else
	echo "range-diff: $old has no $rel/series: comparing with an empty series" >&2
	: >"$work/old/series"
fi
[[ -f $LINE_PATCHES/series ]] || die "no $rel/series (make kernel-patches)"
cp "$LINE_PATCHES/series" "$work/new/"
while IFS= read -r p; do
	cp "$LINE_PATCHES/$p" "$work/new/"
done < <(series_of "$work/new")

g() {
	HOME=$work/home GIT_CONFIG_NOSYSTEM=1 \
		GIT_COMMITTER_NAME=range-diff GIT_COMMITTER_EMAIL=range-diff@invalid \
		git -C "$work/tree" -c init.defaultBranch=main -c core.autocrlf=false "$@"
}

# The pristine versions of every file either series touches.
for d in old new; do
	while IFS= read -r p; do
		sed -n -e 's@^--- a/@@p' -e 's@^+++ b/@@p' "$work/$d/$p"
	done < <(series_of "$work/$d")
done | LC_ALL=C sort -u | while IFS= read -r f; do
	if [[ -f $pristine/$f ]]; then
		mkdir -p "$work/tree/$(dirname "$f")"
		cp "$pristine/$f" "$work/tree/$f"
	fi
done
g init -q
g add -A -f
g -c user.name=range-diff -c user.email=range-diff@invalid commit -q --allow-empty -m "pristine $LINE_PKG $LINE_VERSION"
g tag pristine
for d in old new; do
	g checkout -q -b "$d" pristine
	while IFS= read -r p; do
		g am -q --keep-cr "$work/$d/$p" || die "$d series: $p does not apply"
	done < <(series_of "$work/$d")
done
echo "range-diff: $line, $old ($rel) -> working tree"
g --no-pager range-diff --no-color pristine old new
