#!/usr/bin/env bash
# Usage: tools/tap-check.sh NAME COMMAND [ARG...]
#
# Turns one pass/fail command (a build, a lint, a comparison) into one TAP
# test line, so it can be counted by tools/tap-run.sh like any other test.
# The command's output is kept as TAP comments.
set -uo pipefail
name=$1
shift
out=$("$@" 2>&1)
rc=$?
[[ -n $out ]] && printf '%s\n' "$out" | sed 's/^/# /'
if [[ $rc -eq 0 ]]; then
	echo "ok - $name"
else
	echo "not ok - $name (exit status $rc)"
fi
exit 0
