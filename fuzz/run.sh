#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang-14 (ASan + UBSan) into build-fuzz
# and runs each for SECONDS (default 30) on a scratch copy of its seed corpus,
# so the committed corpus never changes. Exits nonzero when any harness
# crashes; the reproducer is left in build-fuzz/fuzz-run/<harness>/.
#
#   fuzz/run.sh [SECONDS] [HARNESS...]
set -euo pipefail

seconds=${1:-30}
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(fuzz_reply_reader fuzz_quoted_args fuzz_router_status fuzz_router_entry
             fuzz_router_fields fuzz_controller_core fuzz_exit_policy fuzz_onion_input
             fuzz_geoip_file)
fi

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz

CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DTORCON_FUZZERS=ON \
  -DTORCON_SANITIZE=address,undefined -DTORCON_TESTS=OFF -DTORCON_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --target "${harnesses[@]}"

failed=()
summary=()
for h in "${harnesses[@]}"; do
  work=$build/fuzz-run/$h
  rm -rf "$work"
  mkdir -p "$work/corpus"
  cp "$root/fuzz/corpus/$h/"* "$work/corpus/"
  dict=()
  if [ -f "$root/fuzz/$h.dict" ]; then dict=(-dict="$root/fuzz/$h.dict"); fi

  echo "=== $h: ${seconds}s"
  set +e
  "$build/fuzz/$h" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/" >"$work/log" 2>&1
  rc=$?
  set -e
  # libFuzzer's last status line: "#N DONE cov: C ft: F corp: ... exec/s: E ...".
  last=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
  if [ $rc -ne 0 ]; then
    failed+=("$h")
    grep -E 'invariant violated|ERROR: |SUMMARY: |runtime error' "$work/log" | head -n 5 || true
    ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null || true
    summary+=("$h: FAILED (rc $rc), log $work/log")
  else
    summary+=("$h: ok, ${execs:-?} execs, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}")
  fi
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "crashes in: ${failed[*]}" >&2
  exit 1
fi
