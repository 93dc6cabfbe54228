#!/usr/bin/env bash
# Builds trustkeyd and the concurrency tests with ThreadSanitizer into ./build-tsan (or
# $TRUSTKEY_TSAN_BUILD_DIR) and runs them: every test of tests/daemon/server (the load test
# included, the "load-large" ones not) and, from the lib/core tests, those whose names match
# $TRUSTKEY_TSAN_TESTS (the serving core's pieces). Only those programs are built.
# A ThreadSanitizer report fails the test whose process made it: in a test program through
# its exit status, in trustkeyd because the report ends the daemon (halt_on_error) and the
# fixture (tests/fixtures/trustkeyd_instance.h) fails the test on the report in its log.
# Extra arguments are passed to both ctest runs (e.g. -R LoadTest).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TRUSTKEY_TSAN_BUILD_DIR:-$root/build-tsan}"
jobs="${TRUSTKEY_JOBS:-2}"
concurrency="${TRUSTKEY_TSAN_TESTS:-Serving|Load|WorkQueue|RateLimit|Concurren}"

started=$(date +%s)
"$root/scripts/install-deps.sh" >/dev/null
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DTRUSTKEY_TSAN=ON -DTRUSTKEY_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target trustkeyd trustkeyd_server_tests trustkey_core_tests
built=$(date +%s)
echo "thread sanitizer build: $((built - started)) s"

# halt_on_error: the first report ends the process; exitcode: with a status no test expects.
# No suppressions: SoftHSM2, p11-kit, OpenSSL and protobuf are not instrumented, but they
# lock through pthreads, which ThreadSanitizer sees, and these tests need none.
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"

status=0
# lib/core's serving-core tests first (none yet on older trees), then the server suite.
listed="$(ctest --test-dir "$build/tests/lib/core" -N -R "$concurrency")"
if grep -q '^Total Tests: 0$' <<<"$listed"; then
  echo "no lib/core tests match '$concurrency'"
else
  ctest --test-dir "$build/tests/lib/core" --output-on-failure --timeout 600 -j "${TRUSTKEY_TEST_JOBS:-2}" \
        -R "$concurrency" -LE load-large "$@" || status=$?
fi
ctest --test-dir "$build/tests/daemon/server" --output-on-failure --timeout 600 -j "${TRUSTKEY_TEST_JOBS:-2}" \
      -LE load-large "$@" || status=$?
finished=$(date +%s)
echo "thread sanitizer test run: $((finished - built)) s (ctest exit status $status)"
exit "$status"
