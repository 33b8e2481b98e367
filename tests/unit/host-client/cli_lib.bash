# Shared by the upcall-ctl CLI suites (cli.bats, cli-pci.bats,
# cli-mem.bats): the binaries under test, fake-vm's start and stop, the
# --json checker and the checks of help texts and usage errors.
# In a .bats file: `load cli_lib`.

# shellcheck source=tests/jq_strict.bash
source "$(dirname "${BASH_SOURCE[0]}")/../../jq_strict.bash"

CTL=${HC_CTL:-build/bin/upcall-ctl}
FAKE=${HC_FAKE_VM:-build/host-client/tests/fake-vm}
MAN=${HC_MAN:-host-client/upcall-ctl.1}

# Start fake-vm in $RUN with extra arguments; wait for it (bounded).
start_fake() {
	RUN=$BATS_TEST_TMPDIR/run
	mkdir -p "$RUN"
	# A fake started earlier in the same test left its ready file: waiting
	# on it would race the new fake's sockets (connection refused).
	rm -f "$RUN/ready"
	"$FAKE" --dir "$RUN" "$@" 3>&- &
	FAKE_PID=$!
	for _ in $(seq 200); do
		[[ -e $RUN/ready ]] && return 0
		kill -0 "$FAKE_PID" 2>/dev/null || return 1
		sleep 0.02
	done
	return 1
}

teardown() {
	if [[ -n ${FAKE_PID:-} ]]; then
		kill "$FAKE_PID" 2>/dev/null || true
		wait "$FAKE_PID" 2>/dev/null || true
	fi
}

# run_json CMD...: $status, $output = stdout only; stdout must be one valid
# JSON object whose "ok" matches the exit status.
run_json() {
	run --separate-stderr "$CTL" --json "$@"
	echo "exit $status: $output / stderr: $stderr" >&3
	jq -e 'type == "object"' <<<"$output" >/dev/null
	if [[ $status -eq 0 ]]; then
		jq -e '.ok == true' <<<"$output" >/dev/null
	else
		jq -e --argjson rc "$status" \
			'.ok == false and (.error | type == "string") and (.errno | type == "number") and .exit_code == $rc' \
			<<<"$output" >/dev/null
	fi
	[[ -z $stderr ]]
}

# help_and_man CMD USAGE_START OPTION...: `upcall-ctl --help` lists CMD,
# `upcall-ctl CMD --help` starts with USAGE_START and names every OPTION,
# and so does the man page.
help_and_man() {
	local cmd=$1 start=$2 o
	shift 2
	run "$CTL" --help
	[[ $status -eq 0 ]]
	grep -q "^  $cmd " <<<"$output"
	run "$CTL" "$cmd" --help
	[[ $status -eq 0 && $output == "$start"* ]]
	for o in "$@"; do
		grep -q -- "$o" <<<"$output"
		grep -q -- "${o//-/\\\\-}" "$MAN"
	done
}

# usage_errors: each line of stdin, the arguments of one upcall-ctl run
# (split on blanks), exits 2 with a message on stderr and nothing on
# stdout, before anything is sent (--uds names no socket).
usage_errors() {
	local args
	while IFS= read -r args; do
		# shellcheck disable=SC2086 # the line is split into arguments
		run --separate-stderr "$CTL" --uds /nonexistent $args
		echo "[$args] -> $status: $stderr" >&3
		[[ $status -eq 2 && -n $stderr && -z $output ]]
	done
}
