#!/usr/bin/env bash
# Usage: tools/tap-run.sh SUITE COMMAND [ARG...]
#
# Runs a test command that prints TAP (bats --tap, cmocka with
# CMOCKA_MESSAGE_OUTPUT=TAP, tools/tap-check.sh), shows its output, keeps a
# copy in build/test-results/SUITE.log and writes "passed failed skipped" to
# build/test-results/SUITE.counts. A command that exits non-zero without
# reporting a failing test counts as one failure, and so does a command that
# reports no test at all: a suite that silently runs nothing is broken.
set -uo pipefail

suite=$1
shift
results=${TEST_RESULTS:-$(dirname "$0")/../build/test-results}
mkdir -p "$results"
log="$results/$suite.log"

export CMOCKA_MESSAGE_OUTPUT=TAP
"$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}

read -r passed failed skipped < <(awk '
	BEGIN { p = 0; f = 0; s = 0 }
	/^not ok / { if (tolower($0) ~ /# todo/) s++; else f++; next }
	/^ok /     { if (tolower($0) ~ /# skip/) s++; else p++; next }
	END { print p, f, s }' "$log")

if [[ $rc -ne 0 && $failed -eq 0 ]]; then
	echo "not ok - $suite: command exited with status $rc" | tee -a "$log"
	failed=$((failed + 1))
fi
if [[ $((passed + failed + skipped)) -eq 0 ]]; then
	echo "not ok - $suite: no test reported a result" | tee -a "$log"
	failed=1
fi
echo "$passed $failed $skipped" > "$results/$suite.counts"
[[ $failed -eq 0 ]]
