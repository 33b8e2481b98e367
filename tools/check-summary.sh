#!/usr/bin/env bash
# Usage: tools/check-summary.sh RESULTS_DIR SUITE...
# Adds up the per-suite counts (and wall times, where a <suite>.seconds
# exists) and prints the one closing line of `make check`. Exits non-zero if anything failed or a suite left no counts.
set -uo pipefail
dir=$1
shift
passed=0 failed=0 skipped=0 total=0
printf '\n%-28s %7s %7s %7s %9s\n' suite passed failed skipped seconds
for s in "$@"; do
	if [[ -s $dir/$s.counts ]]; then
		read -r p f k < "$dir/$s.counts"
	else
		p=0 f=1 k=0
	fi
	t=-
	if [[ -s $dir/$s.seconds ]]; then
		read -r t < "$dir/$s.seconds"
		[[ $t =~ ^[0-9]+$ ]] && total=$((total + t)) || t=-
	fi
	printf '%-28s %7d %7d %7d %9s\n' "$s" "$p" "$f" "$k" "$t"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
done
printf '%-28s %7s %7s %7s %9d\n' "(suites' wall time)" '' '' '' "$total"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
