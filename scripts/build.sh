#!/usr/bin/env bash
# Configures and builds trustkey into ./build (or $TRUSTKEY_BUILD_DIR).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TRUSTKEY_BUILD_DIR:-$root/build}"
jobs="${TRUSTKEY_JOBS:-$(nproc)}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${TRUSTKEY_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
cmake --build "$build" -j "$jobs"
