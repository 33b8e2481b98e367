#!/usr/bin/env bash
# Usage: tools/check-summary.sh RESULTS_DIR SUITE...
# Adds up the per-suite counts (and wall times, where a <suite>.seconds
# exists) and prints the one closing line of `make check`. The "busy"
# column is the share of the machine's CPU time (all cores) that was busy
# while the suite ran, from <suite>.cpu (tools/cpu-ticks.sh before and
# after): whatever ran, a background build included. Exits non-zero if
# anything failed or a suite left no counts.
set -uo pipefail
dir=$1
shift
passed=0 failed=0 skipped=0 total=0 busy_sum=0 ticks_sum=0

printf '\n%-28s %7s %7s %7s %9s %6s\n' suite passed failed skipped seconds busy
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
	b=-
	if [[ -s $dir/$s.cpu ]] && read -r b0 t0 b1 t1 <"$dir/$s.cpu" &&
		[[ "$b0$t0$b1$t1" =~ ^[0-9]+$ ]] && ((t1 > t0)); then
		b="$((100 * (b1 - b0) / (t1 - t0)))%"
		busy_sum=$((busy_sum + b1 - b0)) ticks_sum=$((ticks_sum + t1 - t0))
	fi
	printf '%-28s %7d %7d %7d %9s %6s\n' "$s" "$p" "$f" "$k" "$t" "$b"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + k))
done
b=-
((ticks_sum > 0)) && b="$((100 * busy_sum / ticks_sum))%"
printf '%-28s %7s %7s %7s %9d %6s\n' "(suites' wall time)" '' '' '' "$total" "$b"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
