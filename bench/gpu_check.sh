#!/usr/bin/env bash
# The whole GPU check in one command, on a GPU machine, from the project root (after
# bench/gpu_prepare.sh on the development machine, with .gpu/ carried along):
#   1. builds sd-worker and test_device_parity in build-gpu/ against the machine's CUDA libtorch
#      (bench/gpu_build.sh, keep-going so that every compile error shows at once); should that
#      fail, builds again with the two CUDA-API-dependent pieces compiled out
#      (-DSDW_CUDA_GRAPHS=OFF -DSDW_CUDA_ALLOC_STATS=OFF) and says so;
#   2. GPU parity: tests/model/pipeline/test_device_parity.cpp on cuda:0 (fp32 with TF32 off as on the CPU,
#      fp16/bf16 UNet (SDXL's too) within stated bounds, seeded images, graph step == eager step,
#      SD3's transformer in fp32/bf16/fp16 and a seeded SD3 image, CPU offload model/sequential
#      giving the plain model's image, --dtype fp8's UNet and image); SDW_GPU_PIPELINES narrows the fixture pipelines where only
#      some travelled (tiny-sd15,tiny-sd3 with pipelines/tiny-sd15, pipelines/tiny-sd3, sd3/,
#      references/ and seeded/ is about 52 MB);
#   3. the benchmark (median of BENCH_RUNS=10), most important first: sd15 at 512x512 fp16 with the
#      CUDA defaults (graphs, channels_last UNet, fused QKV), then unfused QKV (--fuse-qkv off),
#      fp8 Linear layers (--dtype fp8),
#      the operator profile of one eager step and one decode (--profile 25),
#      4 concurrent jobs one at a time vs continuously batched (--concurrent 4), NCHW, cuDNN
#      autotuning, no graphs (fused, then unfused); sdxl's UNet at 1024x1024; CPU offload
#      (sd15 --offload model, sdxl --offload sequential); sd15 bf16; batch 2; eager NCHW;
# and prints one short table last (also when it stops early). Where the machine receives a
# size-limited copy of the working tree (64 MiB), set the fixtures other than pipelines/tiny-sd15,
# pipelines/tiny-sd21v, references/ and seeded/ aside for the call and pass
# SDW_GPU_PIPELINES=tiny-sd15,tiny-sd21v. It keeps to a deadline
# (GPU_CHECK_SECONDS, default 540) and skips what would not fit. Logs land in $OUT (build.log,
# parity.log, bench-all.txt, gpu.txt).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/sdw-gpu-check}
BD=/tmp/sdw-bench  # one file per bench run; $OUT gets them joined (at most 8 files come back)
mkdir -p "$OUT" "$BD"
t0=$(date +%s)
deadline=$(( t0 + ${GPU_CHECK_SECONDS:-540} ))
left() { echo $(( deadline - $(date +%s) )); }
BIN=build-gpu/runtime/sd-worker
graphs_built=yes
parity_rc=-1
t_build=-1

summary() {
  echo
  echo "== gpu_check summary ($(cut -d, -f1 "$OUT/gpu.txt" 2>/dev/null)) build ${t_build}s (CUDA graphs compiled: $graphs_built), total $(( $(date +%s) - t0 ))s"
  case $parity_rc in
    0) echo "parity (test_device_parity): passed" ;;
    -1) echo "parity (test_device_parity): not run" ;;
    *) echo "parity (test_device_parity): FAILED (rc $parity_rc), see $OUT/parity.log" ;;
  esac
  printf "%-22s %10s %10s %10s %10s  %s\n" "run" "UNet step" "loop" "VAE" "e2e PNG" "peak / UNet runner"
  for f in "$BD"/bench-*.txt; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .txt); n=${n#bench-}
    if grep -q " ms wall, " "$f"; then  # a --profile run: its two totals (tables in bench-all.txt)
      echo "$n:"; grep " ms wall, " "$f" | sed 's/^/   /'; continue
    fi
    val() { grep -m1 "| $1" "$f" | awk -F'|' '{gsub(/ /,"",$3); print $3}'; }
    peak=$(grep -m1 "^peak memory" "$f" | awk '{print $3}')
    mode=$(grep -m1 "^UNet runner" "$f" | cut -d';' -f1 | sed 's/UNet runner: //')
    printf "%-22s %10s %10s %10s %10s  %s GiB / %s\n" "$n" "$(val 'UNet step')" "$(val 'denoise loop')" \
      "$(val 'VAE decode')" "$(val 'end to end')" "${peak:-?}" "${mode:-?}"
    grep -m1 "^peak memory by stage" "$f" | sed 's/^/   /'
    grep -A5 "concurrent jobs" "$f" | grep -E "^\| (one|batched)" | sed 's/^/   /'
    grep -m1 "^throughput, batched" "$f" | sed 's/^/   /'
    grep -m1 "^largest pixel difference" "$f" | sed 's/^/   /'
    grep -m1 "^offload " "$f" | sed 's/^/   /'
    grep -q "^UNet runner" "$f" || { echo "   (failed or cut short:)"; tail -3 "$f" | sed 's/^/   /'; }
  done
}
trap summary EXIT

export TARGETS="sd-worker test_device_parity"
if ! bash bench/gpu_build.sh -DSDW_USE_PCH=ON -DSDW_CUDA_GRAPHS=ON -DSDW_CUDA_ALLOC_STATS=ON > "$OUT/build.log" 2>&1; then
  grep -E "error|Error|FAILED" "$OUT/build.log" | head -30
  echo "gpu_check: build failed; building again with -DSDW_CUDA_GRAPHS=OFF -DSDW_CUDA_ALLOC_STATS=OFF"
  graphs_built=no
  if ! bash bench/gpu_build.sh -DSDW_USE_PCH=ON -DSDW_CUDA_GRAPHS=OFF -DSDW_CUDA_ALLOC_STATS=OFF \
      > "$OUT/build2.log" 2>&1; then
    grep -E "error|FAILED" "$OUT/build2.log" | head -40
    echo "gpu_check: build failed (logs: $OUT/build.log, $OUT/build2.log)"
    exit 1
  fi
fi
# shellcheck disable=SC1091
source .gpu/env.sh
t_build=$(( $(date +%s) - t0 ))
grep -m1 "libtorch has CUDA" "$OUT/build.log" ||
  echo "gpu_check: WARNING: CMake did not see CUDA in this libtorch: no graphs, no GPU peak memory"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>/dev/null

SDW_TEST_DEVICE=cuda:0 timeout 170 build-gpu/tests/test_device_parity > "$OUT/parity.log" 2>&1
parity_rc=$?
grep -E "max_abs|max pixel diff|UNet runner|SDW_GPU|FAILED|failed|REQUIRE|CHECK|passed" "$OUT/parity.log" \
  | sed 's/^/  /' | tail -45

bench() {  # name, seconds it needs at least, args...
  local name=$1 need=$2; shift 2
  local l; l=$(left)
  if [ "$l" -lt "$need" ]; then echo "gpu_check: skipped $name ($l s left)"; return; fi
  timeout $(( l - 5 )) "$BIN" bench --device cuda:0 --warmup 2 --runs ${BENCH_RUNS:-10} "$@" > "$BD/bench-$name.txt" 2>&1
  { echo "== $name: $*"; cat "$BD/bench-$name.txt"; } >> "$OUT/bench-all.txt"
}
sd15=(--arch sd15 --width 512 --height 512 --steps 20)
# CUDA default: UNet channels_last (VAE NCHW), CUDA graphs on, fused QKV (--fuse-qkv off: unfused).
bench sd15-fp16-b1 40 "${sd15[@]}" --dtype fp16 --batch 1
bench sd15-fp16-b1-unfused 40 "${sd15[@]}" --dtype fp16 --batch 1 --fuse-qkv off
# fp8 products for the UNet's Linear layers (PyTorch 2.4+ and sm_89+; refused otherwise).
bench sd15-fp8-b1 40 "${sd15[@]}" --dtype fp8 --batch 1
# Where a step and a decode go, operator by operator (CUDA event times; eager, so each operator shows).
bench sd15-fp16-profile 30 "${sd15[@]}" --dtype fp16 --batch 1 --no-graph --profile 25
# Continuous batching: 4 jobs arriving together, one at a time vs batched (images/s, latency).
bench sd15-fp16-concurrent4 90 "${sd15[@]}" --dtype fp16 --batch 1 --concurrent 4
bench sd15-fp16-b1-nchw 40 "${sd15[@]}" --dtype fp16 --batch 1 --no-channels-last
bench sd15-fp16-b1-cudnnbench 40 "${sd15[@]}" --dtype fp16 --batch 1 --cudnn-benchmark
bench sd15-fp16-b1-nograph 40 "${sd15[@]}" --dtype fp16 --batch 1 --no-graph
bench sd15-fp16-b1-nograph-unfused 40 "${sd15[@]}" --dtype fp16 --batch 1 --no-graph --fuse-qkv off
bench sdxl-fp16-b1 60 --arch sdxl --dtype fp16 --width 1024 --height 1024 --batch 1 --steps 20
# CPU offload (issue 24): the cost per image against the rows above, and the GPU peak (SDXL on a
# 4 GiB card needs sequential's). Fewer runs: each image moves the weights.
BENCH_RUNS=3 bench sd15-fp16-offload-model 60 "${sd15[@]}" --dtype fp16 --batch 1 --offload model
BENCH_RUNS=3 bench sdxl-fp16-offload-seq 120 --arch sdxl --dtype fp16 --width 1024 --height 1024 --batch 1 --steps 20 --offload sequential
bench sd15-bf16-b1 40 "${sd15[@]}" --dtype bf16 --batch 1
bench sd15-fp16-b2 40 "${sd15[@]}" --dtype fp16 --batch 2
bench sd15-fp16-b1-nograph-nchw 40 "${sd15[@]}" --dtype fp16 --batch 1 --no-graph --no-channels-last
exit $parity_rc
