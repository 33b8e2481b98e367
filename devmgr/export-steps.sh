#!/usr/bin/env bash
# Usage: devmgr/export-steps.sh [--line LINE] KERNEL_GIT_TREE [BASE_COMMIT]
#
# The reverse of gen-patches.sh: takes a git tree in which a kernel line's
# series is developed as one commit per step on top of BASE_COMMIT (the
# pristine source; default: the tag `pristine` that `make kernel-tree`
# sets) and writes, for the Nth commit, into the Nth folder of
# devmgr/steps/:
#   - the files that folder's `files` list names, copied to devmgr/src/
#     (shared by every line);
#   - the commit's other changes, split by file: a file the step's
#     edits.diff already changes stays there (shared by every line), any
#     other goes to edits-LINE.diff when the step has per-line diffs (the
#     x86 steps), to edits.diff otherwise. Move a hunk between the two by
#     hand when it must become shared or per-line.
# LINE defaults to the first line of tools/kernel-sources.txt (6.12).
# Commit messages are not exported: devmgr/steps/*/message (and
# message-LINE) are the source of truth for them. Run `make
# kernel-patches` afterwards; `make kernel-range-diff` shows what changed.
set -euo pipefail

die() {
	echo "export-steps: $*" >&2
	exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=devmgr/lines.sh
. "$here/lines.sh"
upcall_line_opt "$@" || exit 1
line=$LINE
set -- "${LINE_REST[@]}"
upcall_line_info "$line" || exit 1
[[ $# -eq 1 || $# -eq 2 ]] || die "usage: $0 [--line LINE] KERNEL_GIT_TREE [BASE_COMMIT]"
tree=$1
base=${2:-pristine}

mapfile -t commits < <(git -C "$tree" rev-list --reverse "$base..HEAD")
mapfile -t steps < <(find "$here/steps" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)
[[ ${#commits[@]} -eq ${#steps[@]} ]] ||
	die "${#commits[@]} commits after $base but ${#steps[@]} step folders"

# The file names and changed lines of a diff, without context.
changes() {
	grep -e '^+' -e '^-' -e '^diff --git' "$1" || true
}

# Paths a diff changes.
paths_of() {
	[[ -f $1 ]] || return 0
	sed -n -e 's@^+++ b/@@p' -e 's@^--- a/@@p' "$1" | LC_ALL=C sort -u
}

for i in "${!commits[@]}"; do
	c=${commits[$i]}
	step=${steps[$i]}
	excludes=()
	if [[ -f $step/files ]]; then
		while IFS= read -r f; do
			[[ -z $f || $f == \#* ]] && continue
			mkdir -p "$here/src/$(dirname "$f")"
			git -C "$tree" show "$c:$f" >"$here/src/$f"
			excludes+=(":(exclude)$f")
		done <"$step/files"
	fi
	mapfile -t changed < <(git -C "$tree" diff --name-only --no-renames "$c~1" "$c" -- . "${excludes[@]}")
	mapfile -t shared_before < <(paths_of "$step/edits.diff")
	per_line=0
	compgen -G "$step/edits-*.diff" >/dev/null && per_line=1
	shared=() own=()
	for f in "${changed[@]}"; do
		if [[ $per_line -eq 0 ]] || printf '%s\n' "${shared_before[@]}" | grep -qxF "$f"; then
			shared+=("$f")
		else
			own+=("$f")
		fi
	done
	# A diff whose changed lines are the same as before is kept as it is,
	# so an export from one line does not rewrite the shared diffs with
	# the other line's context and line numbers.
	write() {
		local out=$1
		shift
		if [[ $# -eq 0 ]]; then
			rm -f "$out"
			return
		fi
		git -C "$tree" -c core.abbrev=9 diff --no-color --no-ext-diff --no-renames "$c~1" "$c" -- "$@" >"$out.new"
		if [[ -f $out ]] && cmp -s <(changes "$out") <(changes "$out.new"); then
			rm -f "$out.new"
		else
			mv -f "$out.new" "$out"
		fi
	}
	write "$step/edits.diff" "${shared[@]}"
	if [[ $per_line -eq 1 ]]; then
		write "$step/edits-$line.diff" "${own[@]}"
	fi
	echo "export-steps: $line: $(basename "$step") <- $(git -C "$tree" log -1 --format=%s "$c")"
done
