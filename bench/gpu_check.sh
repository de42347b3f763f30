#!/usr/bin/env bash
# The whole GPU check in one command, on a GPU machine, from the project root (after
# bench/gpu_prepare.sh on the development machine, with .gpu/ carried along):
#   1. builds build-gpu/ against the machine's CUDA libtorch (../shared/gpu/build.sh via .gpu/);
#   2. GPU parity: ctest -L gpu (tests/test_device_parity.cpp on cuda:0: fp32 with TF32 off as
#      on the CPU, fp16/bf16 UNet within stated bounds, seeded images);
#   3. the benchmark: sd15 at 512x512 (batch 1 and 2, fp16 and bf16, CUDA graphs on and off)
#      and sdxl at 1024x1024 (fp16);
# and prints one short table last. Meant to finish in well under 10 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/sdw-gpu-check}
mkdir -p "$OUT"
R="$(pwd)/.gpu/root"
# The .debs' pkg-config files name /usr: resolve them inside the unpacked root.
export PKG_CONFIG_SYSROOT_DIR="$R"
export PKG_CONFIG_PATH="$R/usr/lib/x86_64-linux-gnu/pkgconfig:$R/usr/share/pkgconfig"
t0=$(date +%s)
if ! bash .gpu/build.sh -DSDW_USE_PCH=ON > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  echo "gpu_check: build failed (log: $OUT/build.log)"
  exit 1
fi
source .gpu/env.sh
BIN=build-gpu/runtime/sd-worker
t_build=$(( $(date +%s) - t0 ))
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

SDW_TEST_DEVICE=cuda:0 ctest --test-dir build-gpu -L gpu --output-on-failure > "$OUT/parity.log" 2>&1
parity_rc=$?
grep -E "max_abs|max pixel diff" "$OUT/parity.log" | sed 's/^/  /' | tail -40

bench() {  # name, args...
  local name=$1; shift
  timeout 240 "$BIN" bench --device cuda:0 --warmup 3 --runs 10 "$@" > "$OUT/bench-$name.txt" 2>&1
  echo "== $name: $*" >> "$OUT/bench-all.txt"
  cat "$OUT/bench-$name.txt" >> "$OUT/bench-all.txt"
}
bench sd15-fp16-b1 --arch sd15 --dtype fp16 --width 512 --height 512 --batch 1 --steps 20
bench sd15-fp16-b1-nograph --arch sd15 --dtype fp16 --width 512 --height 512 --batch 1 --steps 20 --no-graph
bench sd15-fp16-b2 --arch sd15 --dtype fp16 --width 512 --height 512 --batch 2 --steps 20
bench sd15-bf16-b1 --arch sd15 --dtype bf16 --width 512 --height 512 --batch 1 --steps 20
bench sdxl-fp16-b1 --arch sdxl --dtype fp16 --width 1024 --height 1024 --batch 1 --steps 20
cat "$OUT/bench-all.txt"

echo
echo "== gpu_check summary ($(cat "$OUT/gpu.txt" | cut -d, -f1)) build ${t_build}s, total $(( $(date +%s) - t0 ))s"
echo "parity (ctest -L gpu): $([ $parity_rc -eq 0 ] && echo passed || echo FAILED, see $OUT/parity.log)"
printf "%-24s %s\n" "run" "UNet step / end-to-end (median ms)"
for f in "$OUT"/bench-sd*.txt; do
  n=$(basename "$f" .txt); n=${n#bench-}
  step=$(grep -m1 "| UNet step" "$f" | grep -oE "[0-9]+\.[0-9]+" | head -1)
  e2e=$(grep -m1 "| end to end" "$f" | grep -oE "[0-9]+\.[0-9]+" | head -1)
  printf "%-24s %s / %s\n" "$n" "${step:-?}" "${e2e:-?}"
done
exit $parity_rc
