#!/usr/bin/env bash
# Usage: tools/check-summary.sh RESULTS_DIR SUITE...
# Adds up the per-suite counts and prints the one closing line of
# `make check`. Exits non-zero if anything failed or a suite left no counts.
set -uo pipefail
dir=$1
shift
passed=0 failed=0 skipped=0
printf '\n%-28s %7s %7s %7s\n' suite passed failed skipped
for s in "$@"; do
	if [[ -s $dir/$s.counts ]]; then
		read -r p f k < "$dir/$s.counts"
	else
		p=0 f=1 k=0
	fi
	printf '%-28s %7d %7d %7d\n' "$s" "$p" "$f" "$k"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
done
echo
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
