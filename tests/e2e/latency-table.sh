#!/usr/bin/env bash
# Usage: tests/e2e/latency-table.sh FILE
# Prints the hotplug latency table (p50 and max per operation, in ms) from
# the "operation<TAB>milliseconds" lines the e2e suites recorded. Lines are
# TAP comments so the table can sit inside a TAP stream.
set -euo pipefail
file=$1
[[ -s $file ]] || { echo "# no hotplug latency recorded"; exit 0; }
echo "# hotplug latency, host command to guest-visible result (ms)"
printf '# %-24s %5s %7s %7s\n' operation n p50 max
sort -t $'\t' -k1,1 -k2,2n "$file" | awk -F '\t' '
	function flush() {
		if (op == "") return
		printf "# %-24s %5d %7d %7d\n", op, n, v[int((n + 1) / 2)], v[n]
	}
	$1 != op { flush(); op = $1; n = 0 }
	{ v[++n] = $2 }
	END { flush() }'
