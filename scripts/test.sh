#!/usr/bin/env bash
# The whole test suite: install what is missing, build with gcc, run unit and
# integration tests; then again under AddressSanitizer + UndefinedBehavior-
# Sanitizer (clang); then check that clang builds warning-free. Prints one
# closing line "tests: N passed, N failed" (criterion test cases, all passes).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1

passed=0
failed=0
status=0

# Sum criterion's per-executable "Synthesis" lines from a meson test log.
count_cases() {
	local log="$1" p f
	p=$(grep -ho 'Passing: [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	f=$(grep -hoE '(Failing|Crashing): [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

run_suite() {
	local dir="$1" label="$2"
	shift 2
	echo "== $label: build ($dir)"
	if ! scripts/build.sh "$dir" "$@"; then
		echo "== $label: BUILD FAILED"
		status=1
		failed=$((failed + 1))
		return
	fi
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

run_suite build "gcc"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	LSAN_OPTIONS=suppressions=$PWD/test/lsan.supp \
	CC=clang run_suite build-asan "clang asan+ubsan" -Db_sanitize=address,undefined -Db_lundef=false

# Threaded code under ThreadSanitizer: the stress programs in a TSan build,
# then the integration suite of the gcc build driving a TSan broker (the
# criterion runner itself cannot run under TSan).
echo "== clang tsan: build (build-tsan)"
if CC=clang scripts/build.sh build-tsan -Db_sanitize=thread -Db_lundef=false; then
	if ! TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --suite stress --print-errorlogs \
		>build-tsan/test-output.txt 2>&1; then
		status=1
		failed=$((failed + 1))
	fi
	tail -n 3 build-tsan/test-output.txt
	echo "== clang tsan: integration tests against build-tsan/fleetmq"
	if ! FLEETMQ_TEST_BIN="$PWD/build-tsan/fleetmq" FLEETMQ_TEST_SANITIZED=1 meson test -C build --suite integration \
		--print-errorlogs --num-processes 2 >build-tsan/integration-output.txt 2>&1; then
		status=1
		grep -E '^(FAIL|TIMEOUT)|\[FAIL\]|Assertion|ThreadSanitizer' build-tsan/integration-output.txt | head -40
	fi
	tail -n 8 build-tsan/integration-output.txt
	count_cases build/meson-logs/testlog.txt
else
	echo "== clang tsan: BUILD FAILED"
	status=1
	failed=$((failed + 1))
fi

# Each libFuzzer target for a short, bounded time (new inputs go to a
# scratch directory, not the checked-in corpora). A crash fails the suite
# and leaves its input under build-fuzz/ to become a regression seed.
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
echo "== clang libFuzzer: build (build-fuzz), ${FUZZ_SECONDS}s per target"
if CC=clang scripts/build.sh build-fuzz -Dfuzz=true -Dtests=false -Db_sanitize=address,undefined -Db_lundef=false; then
	for target in build-fuzz/fuzz/fuzz_*; do
		[ -f "$target" ] && [ -x "$target" ] || continue # not the .p object directories
		name=${target##*/fuzz_}
		scratch=$(mktemp -d /tmp/fleetmq-fuzz-XXXXXX)
		if ASAN_OPTIONS=detect_leaks=1 "$target" "$scratch" "fuzz/corpus/$name" -max_total_time="$FUZZ_SECONDS" 			-artifact_prefix="build-fuzz/crash-$name-" >"build-fuzz/fuzz-$name.log" 2>&1; then
			passed=$((passed + 1))
			echo "fuzz $name: $(grep -o 'Done [0-9]* runs' "build-fuzz/fuzz-$name.log")"
		else
			status=1
			failed=$((failed + 1))
			echo "fuzz $name: FAILED"
			tail -n 30 "build-fuzz/fuzz-$name.log"
		fi
		rm -rf "$scratch"
	done
else
	echo "== clang libFuzzer: BUILD FAILED"
	status=1
	failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed"
exit $status
