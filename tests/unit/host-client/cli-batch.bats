#!/usr/bin/env bats
# upcall-ctl batch: cpu commands from stdin over one lock, one QMP
# connection and one device-manager session (held.h), against fake-vm.

bats_require_minimum_version 1.5.0

load cli_lib

# lock_held FILE: some process holds an flock on FILE.
lock_held() {
	! flock -n "$1" true
}

@test "batch --help, upcall-ctl --help and the man page describe it" {
	help_and_man batch "Usage: upcall-ctl [OPTIONS] batch" "--help"
	run "$CTL" batch --help
	[[ $output == *"QMP connection and one device-manager session"* ]]
	grep -q '^\.B batch$' "$MAN"
}

@test "batch: every line over one QMP connection and one guest session, a JSON object per line" {
	start_fake --slots 6
	run --separate-stderr "$CTL" -v --json --run "$RUN" batch <<'EOF2'
cpu add 1

# a comment
cpu add 2
cpu del --unplug-wait 0 1
EOF2
	echo "exit $status: $output / $stderr" >&3
	[[ $status -eq 0 ]]
	[[ $(wc -l <<<"$output") -eq 4 ]]
	jq -se '.[0] == {"line":1,"command":"cpu add","devices":["upcall-cpu-1"],"apic_ids":[1],"guest":{"ret":0,"apic_index":1},"ok":true}' <<<"$output"
	jq -se '.[1].line == 4 and .[1].devices == ["upcall-cpu-2","upcall-cpu-3"] and .[1].ok' <<<"$output"
	jq -se '.[2].line == 5 and .[2].command == "cpu del" and .[2].released == [3] and .[2].ok' <<<"$output"
	jq -se '.[3] == {"batch":true,"lines":3,"failed":0,"ok":true}' <<<"$output"
	[[ $(grep -c 'QMP: connected' <<<"$stderr") -eq 1 ]]
	[[ $(grep -c 'device manager greeting OK' <<<"$stderr") -eq 1 ]]
	[[ $(grep -c 'locking .*qmp.sock.lock' <<<"$stderr") -eq 1 ]]
	grep -q '3 command(s), 1 QMP and 1 device-manager connection(s) made' <<<"$stderr"
	# Human mode: each command's own lines, then its summary line.
	run --separate-stderr "$CTL" --run "$RUN" batch <<<"cpu add 1"
	[[ $status -eq 0 && $output == *"upcall-cpu-3"*$'\nline 1: ok' ]]
}

@test "batch: a bad line fails alone (exit 2 for it), the next lines still run" {
	start_fake --slots 6
	run --separate-stderr "$CTL" --json --run "$RUN" batch < <(printf '%s\n' \
		'frob' 'cpu' 'cpu frob 1' 'cpu add 0' 'cpu add --run /x 1' 'cpu add -v 1' \
		"cpu add $(printf '1 %.0s' $(seq 70))" "cpu add $(printf 'x%.0s' $(seq 5000))" \
		'cpu add 1'; printf 'cpu add\0 1\n')
	echo "exit $status: $output / $stderr" >&3
	[[ $status -eq 2 && -z $stderr ]]
	[[ $(wc -l <<<"$output") -eq 11 ]]
	jq -se '[.[0:8][] | .ok == false and .exit_code == 2 and .usage_error] | all' <<<"$output"
	jq -se '.[0].error | contains("unknown batch command")' <<<"$output"
	jq -se '.[4].error | contains("go before")' <<<"$output"
	jq -se '.[6].error | contains("more than 64 words")' <<<"$output"
	jq -se '.[7].line == 8 and (.[7].error | contains("longer than 4096 bytes"))' <<<"$output"
	jq -se '.[8].line == 9 and .[8].ok and .[8].devices == ["upcall-cpu-1"]' <<<"$output"
	jq -se '.[9].line == 10 and (.[9].error | contains("NUL"))' <<<"$output"
	jq -se '.[10] == {"batch":true,"lines":10,"failed":9,"ok":false,"exit_code":2}' <<<"$output"
}

@test "batch: the guest goes away mid-batch: that line fails with a clear error, the next reconnects, no hang" {
	start_fake --slots 6
	mkfifo "$BATS_TEST_TMPDIR/in"
	timeout 20 "$CTL" -v --json --timeout 2 --run "$RUN" batch <"$BATS_TEST_TMPDIR/in" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	local ctl=$!
	exec 4>"$BATS_TEST_TMPDIR/in"
	echo "cpu add 1" >&4
	for _ in $(seq 250); do
		[[ -s $BATS_TEST_TMPDIR/out ]] && break
		sleep 0.02
	done
	jq -e '.ok' "$BATS_TEST_TMPDIR/out"
	# The batch holds the VM's lock between lines: another run waits.
	lock_held "$RUN/qmp.sock.lock"
	run_json --run "$RUN" --lock-wait 0.1 cpu add 1
	[[ $status -eq 3 ]]
	jq -e '.errno == 16' <<<"$output"
	# So does another batch, with its one summary line.
	run --separate-stderr "$CTL" --json --run "$RUN" --lock-wait 0.1 batch </dev/null
	[[ $status -eq 3 && $(wc -l <<<"$output") -eq 1 ]]
	jq -e '.batch and .lines == 0 and .errno == 16 and .exit_code == 3' <<<"$output"
	# QEMU and the guest go away: both held connections are now dead.
	kill "$FAKE_PID"
	wait "$FAKE_PID" || true
	FAKE_PID=
	echo "cpu add 1" >&4
	echo "cpu del 1" >&4
	exec 4>&-
	local rc=0
	wait "$ctl" || rc=$?
	cat "$BATS_TEST_TMPDIR/out" "$BATS_TEST_TMPDIR/err" >&3
	[[ $rc -eq 4 ]] # the first failing line's: QMP
	jq -se 'length == 4' "$BATS_TEST_TMPDIR/out"
	jq -se '.[1].line == 2 and .[1].exit_code == 4 and (.[1].error | test("QMP|qmp"))' "$BATS_TEST_TMPDIR/out"
	jq -se '.[2].line == 3 and .[2].exit_code == 4' "$BATS_TEST_TMPDIR/out"
	jq -se '.[3].failed == 2' "$BATS_TEST_TMPDIR/out"
	grep -q 'QMP: the held connection failed earlier' "$BATS_TEST_TMPDIR/err"
}

@test "batch: a guest that stops answering: a timeout for that line, a new session for the next" {
	start_fake --slots 6 --reply-delay-ms 1000
	run --separate-stderr "$CTL" -v --json --timeout 0.3 --uds "$RUN/vsock.sock" batch <<'EOF2'
cpu add --apic-id 1
cpu add --apic-id 2
EOF2
	echo "exit $status: $output / $stderr" >&3
	[[ $status -eq 3 ]]
	jq -se '.[0].errno == 110 and .[1].errno == 110 and .[0].exit_code == 3' <<<"$output"
	# The broken session is not reused (a late reply could answer the
	# next request): the second line connects anew (and, the fake guest
	# still sleeping on the first reply, times out in its handshake).
	grep -q 'device manager: the held connection failed earlier (ADD_CPU: timed out' <<<"$stderr"
	[[ $(grep -c 'connecting to .*guest port 219' <<<"$stderr") -eq 2 ]]
	[[ $(grep -c 'sending ADD_CPU' <<<"$stderr") -eq 1 ]]
}

@test "batch: SIGTERM between lines ends it with a clear error, the lock released" {
	start_fake --slots 6
	mkfifo "$BATS_TEST_TMPDIR/in"
	# Not under timeout(1): it would pass the SIGTERM on to its whole
	# process group, a second one, which (SA_RESETHAND) kills at once.
	"$CTL" --json --run "$RUN" batch <"$BATS_TEST_TMPDIR/in" \
		>"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
	local ctl=$!
	exec 4>"$BATS_TEST_TMPDIR/in"
	for _ in $(seq 100); do
		lock_held "$RUN/qmp.sock.lock" && break
		sleep 0.02
	done
	kill -TERM "$ctl"
	# The batch is idle on its input (still open): it must end by itself.
	for _ in $(seq 250); do
		kill -0 "$ctl" 2>/dev/null || break
		sleep 0.02
	done
	if kill -0 "$ctl" 2>/dev/null; then
		kill -KILL "$ctl"
		false
	fi
	local rc=0
	wait "$ctl" || rc=$?
	exec 4>&-
	cat "$BATS_TEST_TMPDIR/out" >&3
	[[ $rc -eq 143 ]]
	jq -e '.batch and .lines == 0 and (.error | contains("SIGTERM"))' "$BATS_TEST_TMPDIR/out"
	! lock_held "$RUN/qmp.sock.lock"
}

@test "batch: a line of 4096 bytes is taken, one of 4097 is refused, with or without its newline" {
	# The family: the limit and one past it, the buffer's multiples, each
	# as a newline-ended line followed by another and as the last line
	# without a newline. A taken line of x's is an unknown command; a
	# refused one says so. head bounds the output if the reader loops.
	start_fake --slots 6
	for n in 4095 4096 4097 8192 8193 9000; do
		if ((n <= 4096)); then want="unknown batch command"; else want="longer than 4096 bytes"; fi
		for last in newline eof; do
			{
				head -c "$n" /dev/zero | tr '\0' x
				[[ $last == eof ]] || printf '\ncpu add 1\n'
			} | timeout -s KILL 10 "$CTL" --json --run "$RUN" batch 2>&1 |
				head -n 5 >"$BATS_TEST_TMPDIR/out"
			echo "$n $last: $(cut -c1-150 "$BATS_TEST_TMPDIR/out")" >&3
			jq -se --arg want "$want" '.[0].line == 1 and (.[0].error | contains($want)) and .[0].exit_code == 2' "$BATS_TEST_TMPDIR/out"
			if [[ $last == eof ]]; then
				[[ $(wc -l <"$BATS_TEST_TMPDIR/out") -eq 2 ]]
				jq -se '.[1] == {"batch":true,"lines":1,"failed":1,"ok":false,"exit_code":2}' "$BATS_TEST_TMPDIR/out"
			else
				# The line after it runs as usual.
				[[ $(wc -l <"$BATS_TEST_TMPDIR/out") -eq 3 ]]
				jq -se '.[1].line == 2 and .[1].ok and .[2].lines == 2 and .[2].failed == 1' "$BATS_TEST_TMPDIR/out"
				run "$CTL" --run "$RUN" cpu del --unplug-wait 0 1
			fi
		done
	done
}

@test "batch: stdout that cannot take a result (full disk, closed pipe) stops the batch after that line" {
	start_fake --slots 6
	# /dev/full: every write fails with ENOSPC.
	status=0
	printf 'cpu add 1\ncpu add 1\ncpu add 1\n' |
		"$CTL" -v --json --run "$RUN" batch >/dev/full 2>"$BATS_TEST_TMPDIR/err" || status=$?
	echo "exit $status: $(cat "$BATS_TEST_TMPDIR/err")" >&3
	[[ $status -eq 3 ]]
	grep -q "writing line 1's result to stdout: No space left on device" "$BATS_TEST_TMPDIR/err"
	grep -q 'batch: 1 command(s)' "$BATS_TEST_TMPDIR/err"
	! lock_held "$RUN/qmp.sock.lock"
	# A reader that goes away after the first result: no SIGPIPE death
	# (exit 141), the batch runs no line after the one it could not report.
	mkfifo "$BATS_TEST_TMPDIR/in"
	{
		timeout -s KILL 20 "$CTL" -v --json --run "$RUN" batch <"$BATS_TEST_TMPDIR/in" \
			2>"$BATS_TEST_TMPDIR/err" | head -n 1 >"$BATS_TEST_TMPDIR/out"
		echo "${PIPESTATUS[0]}" >"$BATS_TEST_TMPDIR/status"
	} &
	reader=$!
	exec 7>"$BATS_TEST_TMPDIR/in"
	echo 'cpu add 1' >&7
	# head has the first result and is gone before the second line comes.
	for _ in $(seq 100); do [[ -s $BATS_TEST_TMPDIR/out ]] && break; sleep 0.1; done
	sleep 0.3
	printf 'cpu add 1\ncpu add 1\n' >&7
	exec 7>&-
	wait "$reader"
	echo "status $(cat "$BATS_TEST_TMPDIR/status"): $(cat "$BATS_TEST_TMPDIR/err")" >&3
	jq -e '.line == 1 and .ok' "$BATS_TEST_TMPDIR/out"
	[[ $(cat "$BATS_TEST_TMPDIR/status") -eq 3 ]]
	grep -q "writing line 2's result to stdout: Broken pipe" "$BATS_TEST_TMPDIR/err"
	grep -q 'batch: 2 command(s)' "$BATS_TEST_TMPDIR/err"
	! lock_held "$RUN/qmp.sock.lock"
}
