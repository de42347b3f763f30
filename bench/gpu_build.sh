#!/usr/bin/env bash
# Builds build-gpu/ on the GPU machine against its PyTorch's CUDA libtorch, with the Debian .debs
# that bench/gpu_prepare.sh put in .gpu/debs (CAF, cpp-httplib, ICU, ...) unpacked into .gpu/root,
# and what a plain unpack would leave to chance on a machine without these packages installed:
#   - the .debs' library links that point outside the unpacked root (libz.so -> /lib/...,
#     libssl.so -> libssl.so.3 of a package not carried) are repointed to a file that exists;
#   - pkg-config reads only the unpacked root's .pc files, with the root as sysroot.
# Usage (project root): bash bench/gpu_build.sh [extra cmake args]. Then `source .gpu/env.sh`.
# TORCH_PREFIX=<dir with TorchConfig.cmake> overrides the libtorch found through python3;
# BUILD_DIR (default build-gpu) names the build folder; TARGETS (default: all) limits the build.
set -euo pipefail
cd "$(dirname "$0")/.."
R="$(pwd)/.gpu/root"
L="$R/usr/lib/x86_64-linux-gnu"
BUILD_DIR=${BUILD_DIR:-build-gpu}
mkdir -p "$R"
for f in .gpu/debs/*.deb; do dpkg -x "$f" "$R"; done

# Dangling library links: try the target's name in the root, then on the machine, then its soname.
for link in "$L"/*.so; do
  { [ -L "$link" ] && [ ! -e "$link" ]; } || continue
  base=$(basename "$(readlink "$link")")
  soname=$(echo "$base" | sed -E 's/^(lib[^.]+\.so\.[0-9]+).*/\1/')
  fixed=""
  for cand in "$L/$base" "$R/lib/x86_64-linux-gnu/$base" "/usr/lib/x86_64-linux-gnu/$base" "/lib/x86_64-linux-gnu/$base" \
              "$L/$soname" "$R/lib/x86_64-linux-gnu/$soname" "/usr/lib/x86_64-linux-gnu/$soname" "/lib/x86_64-linux-gnu/$soname"; do
    if [ -e "$cand" ]; then ln -sfn "$cand" "$link"; fixed="$cand"; break; fi
  done
  echo "gpu_build: $(basename "$link") -> ${fixed:-NOT FOUND (dangling)}"
done

echo "export LD_LIBRARY_PATH=$L:$R/lib/x86_64-linux-gnu:\${LD_LIBRARY_PATH:-}" > .gpu/env.sh
# shellcheck disable=SC1091
source .gpu/env.sh
export PKG_CONFIG_SYSROOT_DIR="$R"
export PKG_CONFIG_LIBDIR="$L/pkgconfig:$R/usr/share/pkgconfig"
unset PKG_CONFIG_PATH
TP=${TORCH_PREFIX:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')}
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S . -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$TP;$R/usr;$L/cmake" \
  -DCMAKE_INCLUDE_PATH="$R/usr/include" -DCMAKE_LIBRARY_PATH="$L" "$@"
# Keep going past a failed file, so that one build shows every compile error.
KEEP=()
[ ${#GEN[@]} -gt 0 ] && KEEP=(-- -k 0)
if [ -n "${TARGETS:-}" ]; then
  # shellcheck disable=SC2086
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target $TARGETS "${KEEP[@]}"
else
  cmake --build "$BUILD_DIR" -j"$(nproc)" "${KEEP[@]}"
fi
