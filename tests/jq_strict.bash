# jq with -e that fails on no input. Sourced by the bats helper files
# (tests/e2e/lib.bash, tests/unit/host-client/cli_lib.bash).
#
# Debian 12's jq 1.6 exits 0 under -e/--exit-status when its input holds
# no JSON value at all (a command that printed nothing: `jq -e '.ok' <<<""`
# succeeds); jq 1.7 exits 4 there, as its manual says ("no valid result was
# ever produced"). Valid input always makes a -e filter print something
# (or exit 4 when it yields nothing), so "exit 0 and no output" means "no
# input": this wrapper turns it into exit 4 with a message, and every
# `jq -e` check in the tests can fail on an empty answer.
jq() {
	local a strict=0 out rc

	for a in "$@"; do
		case $a in
		--exit-status) strict=1 ;;
		--*) ;;
		-*e*) strict=1 ;;
		esac
	done
	if ((!strict)); then
		command jq "$@"
		return
	fi
	out=$(command jq "$@")
	rc=$?
	if ((rc == 0)) && [[ -z $out ]]; then
		echo "jq: no JSON input (jq 1.6 would pass this -e check vacuously)" >&2
		return 4
	fi
	[[ -z $out ]] || printf '%s\n' "$out"
	return "$rc"
}
