#!/usr/bin/env bash
# Usage: tools/cpu-ticks.sh
# Prints "BUSY TOTAL": the machine's CPU time since boot, all cores, in
# clock ticks (proc(5), the first "cpu" line of /proc/stat), busy being
# everything but idle and iowait. make check takes it before and after
# each suite; tools/check-summary.sh prints the busy share in between,
# which shows how much of the two cores a suite leaves to the background
# build (Makefile, CHECK_PREFETCH).
set -euo pipefail
read -r label user nice system idle iowait irq softirq steal _ </proc/stat
[[ $label == cpu ]] || { echo "cpu-ticks: unexpected /proc/stat" >&2; exit 1; }
busy=$((user + nice + system + irq + softirq + steal))
echo "$busy $((busy + idle + iowait))"
