#!/usr/bin/env bash
# Usage: devmgr/export-steps.sh KERNEL_GIT_TREE BASE_COMMIT
#
# Developer helper, the reverse of gen-patches.sh: takes a kernel git tree
# in which the series is developed as one commit per step on top of
# BASE_COMMIT (the pristine source) and writes, for the Nth commit, into
# the Nth folder of devmgr/steps/:
#   - the files that folder's `files` list names, copied to devmgr/src/;
#   - edits.diff: every other change of the commit.
# Commit messages are not exported: devmgr/steps/*/message is the source
# of truth for them. Run devmgr/gen-patches.sh afterwards.
set -euo pipefail

die() {
	echo "export-steps: $*" >&2
	exit 1
}

[[ $# -eq 2 ]] || die "usage: $0 KERNEL_GIT_TREE BASE_COMMIT"
tree=$1
base=$2
here=$(cd "$(dirname "$0")" && pwd)

mapfile -t commits < <(git -C "$tree" rev-list --reverse "$base..HEAD")
mapfile -t steps < <(find "$here/steps" -mindepth 1 -maxdepth 1 -type d | LC_ALL=C sort)
[[ ${#commits[@]} -eq ${#steps[@]} ]] ||
	die "${#commits[@]} commits after $base but ${#steps[@]} step folders"

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
	git -C "$tree" diff --no-color --no-ext-diff --no-renames "$c~1" "$c" -- . "${excludes[@]}" >"$step/edits.diff"
	[[ -s $step/edits.diff ]] || rm -f "$step/edits.diff"
	echo "export-steps: $(basename "$step") <- $(git -C "$tree" log -1 --format=%s "$c")"
done
