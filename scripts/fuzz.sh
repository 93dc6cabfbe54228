#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into ./build-fuzz (or
# $TRUSTKEY_FUZZ_BUILD_DIR) and runs each for SECONDS (default 20) on a copy of its
# seed corpus. Exits non-zero when any target finds a crash, a leak or a timeout;
# the input that did it is kept under <build>/fuzz-run/artifacts/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TRUSTKEY_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${1:-20}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then targets=(frame_fuzz request_fuzz pem_fuzz spki_fuzz config_fuzz); fi
case "$seconds" in (''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2;; esac

"$root/scripts/install-deps.sh" >/dev/null
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DTRUSTKEY_FUZZ=ON -DTRUSTKEY_TESTS=ON \
  -DTRUSTKEY_BENCH=OFF >/dev/null
cmake --build "$build" -j "${TRUSTKEY_JOBS:-2}" --target "${targets[@]}"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
# SoftHSM2 leaks inside its own Ed25519 code (see the file); nothing else is suppressed.
export LSAN_OPTIONS="suppressions=$root/tests/lib/backend/softhsm.lsan.supp:print_suppressions=0"

run="$build/fuzz-run"
mkdir -p "$run/artifacts"

# Fuzzes target $1 on $2 for $seconds; on a finding, names its log in $finding_log.
fuzz_one() {
  local t="$1" work="$2" leaks=() asan="$ASAN_OPTIONS"
  # request_fuzz goes through SoftHSM2, whose own leak is suppressed by a stack frame
  # inside it; finding that frame needs slow unwinding on every malloc. So it fuzzes
  # without leak checks, and then every input of the grown corpus is run once with them.
  if [ "$t" = request_fuzz ]; then leaks=(-detect_leaks=0); asan="$asan:detect_leaks=0"; fi
  finding_log="$run/$t.log"
  ASAN_OPTIONS="$asan" "$build/tests/fuzz/$t" "$work" -max_total_time="$seconds" -max_len=70000 -timeout=10 "${leaks[@]}" \
    -print_final_stats=1 -artifact_prefix="$run/artifacts/$t-" >"$run/$t.log" 2>&1 || return 1
  if [ "$t" = request_fuzz ]; then
    finding_log="$run/$t.leaks.log"
    ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0" "$build/tests/fuzz/$t" "$work" -runs=0 \
      -max_len=70000 -timeout=10 -artifact_prefix="$run/artifacts/$t-" >"$run/$t.leaks.log" 2>&1 || return 1
  fi
}

failed=()
for t in "${targets[@]}"; do
  work="$run/corpus/$t"
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$root/tests/fuzz/corpus/$t/." "$work/"
  echo "== $t: ${seconds}s"
  if fuzz_one "$t" "$work"; then
    log="$run/$t.log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    echo "   ok: ${execs:-?} executions, coverage ${cov:-?} edges, corpus $(ls "$work" | wc -l) files"
  else
    failed+=("$t")
    echo "   FAILED (log: $finding_log); last lines:"
    grep -E 'ERROR|invariant failed|SUMMARY|Test unit written|deadly signal|timeout' "$finding_log" | head -10 |
      sed 's/^/     /'
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz.sh: failures in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: all ${#targets[@]} targets ran ${seconds}s without a finding"
