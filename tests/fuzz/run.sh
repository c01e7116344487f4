#!/usr/bin/env bash
# Builds the text stage's libFuzzer targets in BUILD_DIR and runs each one for
# SECONDS (default 60) from its checked-in seeds in tests/fuzz/corpus/<target>/.
# New inputs go to BUILD_DIR/fuzz-corpus/<target>/ (the seeds are not touched),
# crashes to BUILD_DIR/fuzz-artifacts/. Exits non-zero if any target fails.
#
#   tests/fuzz/run.sh build-fuzz        # CI
#   tests/fuzz/run.sh build-fuzz 600    # longer local run
#
# BUILD_DIR is configured with clang (CC/CXX may override) if it does not exist
# yet; an existing one must already use clang. JOBS sets ninja's parallelism.
set -euo pipefail

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [SECONDS]" >&2
  exit 2
fi
build=$1
seconds=${2:-60}
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
targets=(fuzz_extract fuzz_normalize fuzz_repeats)

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$src" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDEDUPD_BUILD_FUZZ=ON -DDEDUPD_BUILD_BENCH=OFF
else
  cmake -S "$src" -B "$build" -DDEDUPD_BUILD_FUZZ=ON -DDEDUPD_BUILD_BENCH=OFF >/dev/null
fi
if ! grep -qs 'set(CMAKE_CXX_COMPILER_ID "Clang")' "$build"/CMakeFiles/*/CMakeCXXCompiler.cmake; then
  echo "$build is not a clang build; libFuzzer needs clang" >&2
  exit 2
fi
ninja -C "$build" -j"${JOBS:-2}" "${targets[@]}"

# UBSan reports become crashes; leaks are reported by ASan's LeakSanitizer.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}

mkdir -p "$build/fuzz-artifacts"
failed=()
for target in "${targets[@]}"; do
  work="$build/fuzz-corpus/$target"
  mkdir -p "$work"
  dict=()
  if [[ -f "$src/tests/fuzz/$target.dict" ]]; then
    dict=(-dict="$src/tests/fuzz/$target.dict")
  fi
  echo "=== $target: ${seconds}s"
  log="$build/fuzz-artifacts/$target.log"
  if ! "$build/tests/fuzz/$target" "$work" "$src/tests/fuzz/corpus/$target" \
      -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2560 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$target-" "${dict[@]}" \
      2>&1 | tee "$log"; then
    failed+=("$target")
  fi
done

# A CI log may keep only its tail: repeat, last, why each target failed and
# the input that made it fail (hex, when small enough to paste into a test).
if [[ ${#failed[@]} -gt 0 ]]; then
  for target in "${failed[@]}"; do
    echo "--- $target: what it reported" >&2
    grep -aE 'ERROR|SUMMARY|FUZZ_CHECK|runtime error|ALARM|timeout|out-of-memory|leak|Test unit written|deadly' \
      "$build/fuzz-artifacts/$target.log" | head -n 20 >&2 || true
    for artifact in "$build/fuzz-artifacts/$target"-*; do
      [[ -f $artifact ]] || continue
      echo "--- $artifact ($(stat -c %s "$artifact") bytes), hex:" >&2
      if [[ $(stat -c %s "$artifact") -le 8192 ]]; then
        od -An -v -tx1 "$artifact" | tr -d ' \n' | fold -w 128 >&2
        echo >&2
      fi
    done
  done
  echo "FAILED: ${failed[*]} (inputs in $build/fuzz-artifacts/)" >&2
  exit 1
fi
echo "all fuzz targets ran ${seconds}s without a crash, leak or sanitizer report"
