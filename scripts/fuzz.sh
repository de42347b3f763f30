#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang-14, ASan + UBSan) into build-fuzz/ and runs
# each for a bounded time over a copy of its seed corpus (tests/fuzz/corpus/<target>/, never
# written to). Fails if any target finds a crash, leak, timeout or undefined behaviour; the
# input that did it is kept as build-fuzz/fuzz-runs/<target>/crash-* (or leak-*, timeout-*).
# Usage: scripts/fuzz.sh [seconds-per-target] [target ...]
#   seconds: also SDW_FUZZ_SECONDS (default 30); targets: default all (fuzz_operation,
#   fuzz_safetensors, fuzz_image_decode, fuzz_base64, fuzz_tokenizer, fuzz_serve_config).
# Build parallelism: CMAKE_BUILD_PARALLEL_LEVEL (e.g. 1 on a shared 2-core machine).
# Assumes scripts/setup.sh's packages (CI runs scripts/test.sh first); installs clang-14 and
# libFuzzer's runtime (libclang-rt-14-dev) itself.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-${SDW_FUZZ_SECONDS:-30}}
if [ $# -gt 0 ]; then shift; fi
ALL_TARGETS=(fuzz_operation fuzz_safetensors fuzz_image_decode fuzz_base64 fuzz_tokenizer fuzz_serve_config)
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=("${ALL_TARGETS[@]}"); fi
BUILD_DIR=build-fuzz

PACKAGES=(clang-14 libclang-rt-14-dev)
# shellcheck source=scripts/apt_install.sh
source scripts/apt_install.sh
apt_install_missing fuzz "${PACKAGES[@]}"

# ccache as scripts/setup.sh configures it.
export CCACHE_BASEDIR="$PWD"
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
export CCACHE_NOHASHDIR=1

CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSDW_FUZZ=ON \
  -DSDW_BUILD_TESTS=OFF >/dev/null
start=$(date +%s)
cmake --build "$BUILD_DIR" --target sdw_fuzzers
echo "fuzz: targets built in $(($(date +%s) - start)) s"

# Undefined behaviour is fatal at compile time (tests/fuzz/sanitizers.cmake); stacks for it too.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=()
for target in "${TARGETS[@]}"; do
  binary="$BUILD_DIR/tests/fuzz/$target"
  [ -x "$binary" ] || { echo "fuzz: no target '$target' (known: ${ALL_TARGETS[*]})" >&2; exit 2; }
  run_dir="$BUILD_DIR/fuzz-runs/$target"
  rm -rf "$run_dir"
  mkdir -p "$run_dir/corpus"
  cp -r "tests/fuzz/corpus/$target/." "$run_dir/corpus/"
  args=(-max_total_time="$SECONDS_PER_TARGET" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$run_dir/")
  if [ -f "tests/fuzz/dict/$target.dict" ]; then args+=(-dict="tests/fuzz/dict/$target.dict"); fi
  echo "fuzz: $target for ${SECONDS_PER_TARGET} s (log: $run_dir/fuzz.log)"
  if "$binary" "${args[@]}" "$run_dir/corpus" >"$run_dir/fuzz.log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$run_dir/fuzz.log" | tr '\n' ' '
    echo
  else
    echo "fuzz: $target FAILED; last lines of $run_dir/fuzz.log:" >&2
    tail -n 60 "$run_dir/fuzz.log" >&2
    ls "$run_dir"/crash-* "$run_dir"/leak-* "$run_dir"/timeout-* "$run_dir"/oom-* 2>/dev/null >&2 || true
    failed+=("$target")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (reproduce: $BUILD_DIR/tests/fuzz/<target> <input>)" >&2
  exit 1
fi
echo "fuzz: ${TARGETS[*]}: no findings"
