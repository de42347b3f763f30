#!/usr/bin/env bash
# Builds sd-worker for NVIDIA GPUs on a Debian 12 host (docs/GPU.md): the distribution's packages
# for everything but libtorch, and a CUDA libtorch from PyTorch itself, found in this order:
#   1. TORCH_PREFIX=<dir with share/cmake/Torch/TorchConfig.cmake>   (an unpacked libtorch)
#   2. the Python torch of `python3` (torch.utils.cmake_prefix_path), e.g. after
#      `pip install torch --index-url https://download.pytorch.org/whl/cu124`
#   3. a download of PyTorch's libtorch zip (LIBTORCH_URL, default cu124 2.4.1, cxx11 ABI) into
#      .deps/libtorch
# Needs the NVIDIA driver and the CUDA toolkit (nvcc) matching that libtorch's CUDA major version.
# Usage: scripts/build_cuda.sh [PREFIX]   builds build-cuda/ (BUILD_DIR), installs to PREFIX when given.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cuda}
PREFIX=${1:-}
LIBTORCH_URL=${LIBTORCH_URL:-https://download.pytorch.org/libtorch/cu124/libtorch-cxx11-abi-shared-with-deps-2.4.1%2Bcu124.zip}

PACKAGES=(build-essential cmake ninja-build pkg-config ca-certificates curl unzip
  libcaf-dev libcpp-httplib-dev libssl-dev nlohmann-json3-dev libstb-dev zlib1g-dev libicu-dev libsentencepiece-dev
  libpng-dev libjpeg62-turbo-dev libcli11-dev catch2 libopencv-core-dev libopencv-imgproc-dev)
# shellcheck source=scripts/apt_install.sh
source scripts/apt_install.sh
apt_install_missing build_cuda "${PACKAGES[@]}"

command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] ||
  { echo "build_cuda: no nvcc: install the CUDA toolkit (docs/GPU.md)"; exit 1; }
export PATH=/usr/local/cuda/bin:$PATH

if [ -n "${TORCH_PREFIX:-}" ]; then
  TP=$TORCH_PREFIX
elif python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() or torch.version.cuda else 1)' 2>/dev/null; then
  TP=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
else
  if [ ! -f .deps/libtorch/share/cmake/Torch/TorchConfig.cmake ]; then
    mkdir -p .deps
    echo "build_cuda: downloading $LIBTORCH_URL"
    curl -fL --retry 3 -o .deps/libtorch.zip "$LIBTORCH_URL"
    rm -rf .deps/libtorch && unzip -q .deps/libtorch.zip -d .deps && rm .deps/libtorch.zip
  fi
  TP=$(pwd)/.deps/libtorch
fi
echo "build_cuda: libtorch from $TP"

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TP" \
  ${PREFIX:+-DCMAKE_INSTALL_PREFIX="$PREFIX"} -DCMAKE_INSTALL_RPATH="$TP/lib"
cmake --build "$BUILD_DIR"
if [ -n "$PREFIX" ]; then
  cmake --install "$BUILD_DIR" --prefix "$PREFIX"
  echo "build_cuda: installed to $PREFIX; try: $PREFIX/bin/sd-worker-cuda --local-mode --model demo"
else
  echo "build_cuda: built $BUILD_DIR/runtime/sd-worker; check it: $BUILD_DIR/runtime/sd-worker bench --device cuda:0 --arch sd15"
fi
