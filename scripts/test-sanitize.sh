#!/usr/bin/env bash
# Builds trustkey with AddressSanitizer and UBSan into ./build-asan (or $TRUSTKEY_ASAN_BUILD_DIR)
# and runs the whole test suite there but for the bench-size load test (label "load-large").
# Any sanitizer report fails the test that caused it.
# Extra arguments are passed to ctest (e.g. -R trustkeyd_test).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TRUSTKEY_ASAN_BUILD_DIR:-$root/build-asan}"
jobs="${TRUSTKEY_JOBS:-2}"
supp="$root/tests/lib/backend/softhsm.lsan.supp"

started=$(date +%s)
"$root/scripts/install-deps.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DTRUSTKEY_SANITIZE=ON -DTRUSTKEY_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs"
built=$(date +%s)
echo "sanitizer build: $((built - started)) s"

# halt_on_error: the first report ends the process with a failure status.
# detect_leaks is on by default for ASan on Linux; LeakSanitizer reports fail the process too.
# SoftHSM2's own leaks are suppressed (full stacks so the module's frames are visible).
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:print_stacktrace=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$supp:fast_unwind_on_malloc=0:print_suppressions=0"

cd "$build"
status=0
# ServingTest.OutOfDescriptors... runs trustkeyd with no descriptor left; UBSan's vptr check
# tests memory through a pipe(2) and, when that fails, reports every virtual call as an
# "invalid vptr". That test runs in the release suite and under ThreadSanitizer instead.
ctest --output-on-failure --timeout 600 -j "${TRUSTKEY_TEST_JOBS:-2}" -LE load-large -E "^ServingTest\.OutOfDescriptors" "$@" || status=$?
finished=$(date +%s)
echo "sanitizer test run: $((finished - built)) s (ctest exit status $status)"
exit "$status"
