#!/usr/bin/env bash
# The whole test suite: install what is missing, build with gcc, run unit and
# integration tests; then again under AddressSanitizer + UndefinedBehavior-
# Sanitizer (clang); then check that clang builds warning-free. Prints one
# closing line "tests: N passed, N failed" (criterion test cases, all passes).
#
# Only the gcc build runs alone: each later build runs in the background at
# the lowest CPU priority (nice 19) while the stage before it runs its tests,
# which mostly wait on sockets and the broker's timers; they keep the CPU
# they need and the build takes what is left. The libFuzzer targets are
# built in the ASan build (the same clang, sanitizers and options as a
# build of their own) and run two at a time.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

passed=0
failed=0
status=0
logs=$(mktemp -d /tmp/fleetmq-test-logs-XXXXXX)
trap 'rm -rf "$logs"' EXIT

# Sum criterion's per-executable "Synthesis" lines from a meson test log.
count_cases() {
	local log="$1" p f
	p=$(grep -ho 'Passing: [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	f=$(grep -hoE '(Failing|Crashing): [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

# start_build DIR OPTIONS...: scripts/build.sh DIR OPTIONS... in the
# background at nice 19 (the environment, e.g. CC, is passed on);
# finish_build DIR LABEL waits for it, shows its output, and fails the
# suite if it failed.
declare -A build_pid
start_build() {
	local dir="$1"
	shift
	nice -n 19 scripts/build.sh "$dir" "$@" >"$logs/build-$dir.txt" 2>&1 &
	build_pid[$dir]=$!
}
finish_build() {
	local dir="$1" label="$2" rc=0
	echo "== $label: build ($dir)"
	wait "${build_pid[$dir]}" || rc=$?
	cat "$logs/build-$dir.txt"
	if [ "$rc" -ne 0 ]; then
		echo "== $label: BUILD FAILED"
		status=1
		failed=$((failed + 1))
		return 1
	fi
}

run_tests() {
	local dir="$1" label="$2"
	echo "== $label: tests"
	if ! meson test -C "$dir" --print-errorlogs --num-processes 2 >"$dir/test-output.txt" 2>&1; then
		status=1
	fi
	tail -n 12 "$dir/test-output.txt"
	if [ "$status" -ne 0 ]; then
		grep -E '^(FAIL|TIMEOUT)|\[FAIL\]|Assertion|ERROR' "$dir/test-output.txt" | head -40
	fi
	count_cases "$dir/meson-logs/testlog.txt"
}

ASAN_BUILD=(-Db_sanitize=address,undefined -Db_lundef=false -Dfuzz=true)
TSAN_BUILD=(-Db_sanitize=thread -Db_lundef=false)

echo "== gcc: build (build)"
if scripts/build.sh build; then
	gcc_built=1
else
	gcc_built=0
	echo "== gcc: BUILD FAILED"
	status=1
	failed=$((failed + 1))
fi
# A build-asan configured before it built the fuzz targets gets them now.
if [ -f build-asan/meson-info/intro-buildoptions.json ] &&
	! python3 -c 'import json, sys; sys.exit(not any(o["name"] == "fuzz" and o["value"]
		for o in json.load(open("build-asan/meson-info/intro-buildoptions.json"))))'; then
	meson configure build-asan -Dfuzz=true >/dev/null
fi
CC=clang start_build build-asan "${ASAN_BUILD[@]}"
if [ "$gcc_built" = 1 ]; then
	run_tests build "gcc"
fi

asan_built=0
if finish_build build-asan "clang asan+ubsan"; then
	asan_built=1
fi
CC=clang start_build build-tsan "${TSAN_BUILD[@]}"
if [ "$asan_built" = 1 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$PWD/test/lsan.supp run_tests build-asan "clang asan+ubsan"
fi

# Threaded code under ThreadSanitizer: the stress programs in a TSan build,
# then the integration suite of the gcc build driving a TSan broker (the
# criterion runner itself cannot run under TSan).
if finish_build build-tsan "clang tsan"; then
	if ! TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --suite stress --print-errorlogs \
		>build-tsan/test-output.txt 2>&1; then
		status=1
		failed=$((failed + 1))
	fi
	tail -n 3 build-tsan/test-output.txt
	# Every integration suite but the protocol-conformance ones, whose
	# broker threads do what the other suites' do (one connection's
	# packets on its worker); they run under ASan+UBSan and gcc above.
	tsan_skip="v5 clients5 paho5 ws_hostile"
	tsan_tests=$(meson test -C build --list --suite integration 2>/dev/null | sed -n 's|^[^ ]* / ||p' |
		grep -vxF -f <(printf '%s\n' $tsan_skip))
	echo "== clang tsan: integration tests against build-tsan/fleetmq (all but: $tsan_skip)"
	# shellcheck disable=SC2086 # one test name per word
	if ! FLEETMQ_TEST_BIN="$PWD/build-tsan/fleetmq" FLEETMQ_TEST_SANITIZED=1 meson test -C build --suite integration \
		--print-errorlogs --num-processes 2 $tsan_tests >build-tsan/integration-output.txt 2>&1; then
		status=1
		grep -E '^(FAIL|TIMEOUT)|\[FAIL\]|Assertion|ThreadSanitizer' build-tsan/integration-output.txt | head -40
	fi
	tail -n 8 build-tsan/integration-output.txt
	count_cases build/meson-logs/testlog.txt
fi

# Each libFuzzer target (built in build-asan) for a short, bounded time, two
# at a time (new inputs go to a scratch directory, not the checked-in
# corpora). A crash fails the suite and leaves its input under build-asan/
# to become a regression seed.
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_JOBS=${FUZZ_JOBS:-2}
echo "== clang libFuzzer: targets of build-asan, ${FUZZ_SECONDS}s per target, $FUZZ_JOBS at a time"
fuzz_one() {
	local target="$1" name="$2" scratch rc=0
	scratch=$(mktemp -d /tmp/fleetmq-fuzz-XXXXXX)
	ASAN_OPTIONS=detect_leaks=1 "$target" "$scratch" "fuzz/corpus/$name" -max_total_time="$FUZZ_SECONDS" \
		-artifact_prefix="build-asan/crash-$name-" >"build-asan/fuzz-$name.log" 2>&1 || rc=$?
	rm -rf "$scratch"
	return "$rc"
}
if [ "$asan_built" = 1 ]; then
	fuzz_names=()
	fuzz_pids=()
	for target in build-asan/fuzz/fuzz_*; do
		[ -f "$target" ] && [ -x "$target" ] || continue # not the .p object directories
		n=${#fuzz_pids[@]}
		if [ "$n" -ge "$FUZZ_JOBS" ]; then
			wait "${fuzz_pids[$((n - FUZZ_JOBS))]}"
			echo $? >"$logs/fuzz-rc-$((n - FUZZ_JOBS))"
		fi
		fuzz_names+=("${target##*/fuzz_}")
		fuzz_one "$target" "${target##*/fuzz_}" &
		fuzz_pids+=($!)
	done
	if [ "${#fuzz_pids[@]}" -eq 0 ]; then
		echo "== clang libFuzzer: no targets in build-asan/fuzz"
		status=1
		failed=$((failed + 1))
	fi
	for i in "${!fuzz_pids[@]}"; do
		[ -f "$logs/fuzz-rc-$i" ] || { wait "${fuzz_pids[$i]}"; echo $? >"$logs/fuzz-rc-$i"; }
		name=${fuzz_names[$i]}
		if [ "$(cat "$logs/fuzz-rc-$i")" = 0 ]; then
			passed=$((passed + 1))
			echo "fuzz $name: $(grep -o 'Done [0-9]* runs' "build-asan/fuzz-$name.log")"
		else
			status=1
			failed=$((failed + 1))
			echo "fuzz $name: FAILED"
			tail -n 30 "build-asan/fuzz-$name.log"
		fi
	done
else
	echo "== clang libFuzzer: BUILD FAILED"
	status=1
	failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed"
exit $status
