#!/usr/bin/env bash
# The whole GPU check in one command, on a GPU machine, from the project root (after
# bench/gpu_prepare.sh on the development machine, with .gpu/ carried along):
#   1. builds build-gpu/ against the machine's CUDA libtorch (bench/gpu_build.sh); should the
#      CUDA graph code not compile against that libtorch, builds again with -DSDW_CUDA_GRAPHS=OFF
#      (one file recompiles) and says so;
#   2. GPU parity: ctest -L gpu (tests/test_device_parity.cpp on cuda:0: fp32 with TF32 off as
#      on the CPU, fp16/bf16 UNet within stated bounds, seeded images, graph step == eager step);
#   3. the benchmark: sd15 at 512x512 (batch 1 and 2, fp16 and bf16, CUDA graphs on and off,
#      channels_last) and sdxl's UNet at 1024x1024 (fp16);
# and prints one short table last. Meant to finish in well under 10 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/sdw-gpu-check}
mkdir -p "$OUT"
t0=$(date +%s)
graphs_built=yes
if ! bash bench/gpu_build.sh -DSDW_USE_PCH=ON > "$OUT/build.log" 2>&1; then
  grep -E "error|Error" "$OUT/build.log" | head -20
  echo "gpu_check: build failed; building again without CUDA graphs (-DSDW_CUDA_GRAPHS=OFF)"
  graphs_built=no
  if ! bash bench/gpu_build.sh -DSDW_USE_PCH=ON -DSDW_CUDA_GRAPHS=OFF > "$OUT/build2.log" 2>&1; then
    tail -40 "$OUT/build2.log"
    echo "gpu_check: build failed (logs: $OUT/build.log, $OUT/build2.log)"
    exit 1
  fi
fi
source .gpu/env.sh
BIN=build-gpu/runtime/sd-worker
t_build=$(( $(date +%s) - t0 ))
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

SDW_TEST_DEVICE=cuda:0 timeout 180 ctest --test-dir build-gpu -L gpu --output-on-failure > "$OUT/parity.log" 2>&1
parity_rc=$?
grep -E "max_abs|max pixel diff|UNet runner" "$OUT/parity.log" | sed 's/^/  /' | tail -40

bench() {  # name, args...
  local name=$1; shift
  timeout 150 "$BIN" bench --device cuda:0 --warmup 2 --runs 5 "$@" > "$OUT/bench-$name.txt" 2>&1
  echo "== $name: $*" >> "$OUT/bench-all.txt"
  cat "$OUT/bench-$name.txt" >> "$OUT/bench-all.txt"
}
sd15=(--arch sd15 --width 512 --height 512 --steps 20)
bench sd15-fp16-b1 "${sd15[@]}" --dtype fp16 --batch 1
bench sd15-fp16-b1-nograph "${sd15[@]}" --dtype fp16 --batch 1 --no-graph
bench sd15-fp16-b1-cl "${sd15[@]}" --dtype fp16 --batch 1 --channels-last
bench sd15-fp16-b2 "${sd15[@]}" --dtype fp16 --batch 2
bench sd15-bf16-b1 "${sd15[@]}" --dtype bf16 --batch 1
bench sd15-bf16-b1-nograph "${sd15[@]}" --dtype bf16 --batch 1 --no-graph
bench sdxl-fp16-b1 --arch sdxl --dtype fp16 --width 1024 --height 1024 --batch 1 --steps 20
cat "$OUT/bench-all.txt"

echo
echo "== gpu_check summary ($(cut -d, -f1 "$OUT/gpu.txt")) build ${t_build}s (CUDA graphs compiled: $graphs_built), total $(( $(date +%s) - t0 ))s"
echo "parity (ctest -L gpu): $([ $parity_rc -eq 0 ] && echo passed || echo "FAILED, see $OUT/parity.log")"
printf "%-22s %10s %10s %10s %10s  %s\n" "run" "UNet step" "20 steps" "VAE" "e2e PNG" "peak / UNet runner"
for f in "$OUT"/bench-*.txt; do
  [ "$f" = "$OUT/bench-all.txt" ] && continue
  n=$(basename "$f" .txt); n=${n#bench-}
  val() { grep -m1 "| $1" "$f" | awk -F'|' '{gsub(/ /,"",$3); print $3}'; }
  peak=$(grep -m1 "^peak memory" "$f" | awk '{print $3}')
  mode=$(grep -m1 "^UNet runner" "$f" | cut -d';' -f1 | sed 's/UNet runner: //')
  printf "%-22s %10s %10s %10s %10s  %s GiB / %s\n" "$n" "$(val 'UNet step')" "$(val 'denoise loop')" "$(val 'VAE decode')" \
    "$(val 'end to end')" "${peak:-?}" "${mode:-?}"
  grep -q "sd-worker bench:" "$f" || { echo "   (failed:)"; tail -3 "$f"; }
done
exit $parity_rc
