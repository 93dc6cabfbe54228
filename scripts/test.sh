#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite with ctest, but for the
# bench-size load test (label "load-large"; run it with `cd build && ctest -L load-large`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
build="${TRUSTKEY_BUILD_DIR:-$root/build}"
cd "$build"
ctest --output-on-failure --timeout 300 -j "${TRUSTKEY_TEST_JOBS:-2}" -LE load-large "$@"
