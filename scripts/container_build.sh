#!/usr/bin/env bash
# The build stage of the container images (config/Containerfile, config/Containerfile.cuda), also
# runnable on a host: configures and builds sd-worker without its tests (the web UI too when npm is
# there), then installs it to PREFIX (under $DESTDIR when set). Extra arguments go to cmake.
# Usage: scripts/container_build.sh PREFIX [cmake args...]   (BUILD_DIR, default build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${1:?usage: container_build.sh PREFIX [cmake args...]}
shift
BUILD_DIR=${BUILD_DIR:-build-release}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSDW_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX="$PREFIX" "$@"
cmake --build "$BUILD_DIR"
cmake --install "$BUILD_DIR" --prefix "$PREFIX"
echo "container_build: installed to ${DESTDIR:-}$PREFIX ($(wc -l < "$BUILD_DIR/install_manifest.txt") files)"
