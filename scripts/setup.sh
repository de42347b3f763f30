#!/usr/bin/env bash
# Installs the build dependencies (Debian 12 packages; the npm packages of the web UI (ui/) and of
# the API client tests (tests/clients/) from their lockfiles, by the build's `npm ci`) and builds
# sd-worker and its web UI into build/ and ui/dist.
# Usage: scripts/setup.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

PACKAGES=(build-essential cmake ninja-build pkg-config ccache
  libtorch-dev libopenblas0-pthread
  libdnnl-dev  # oneDNN's own API (the oneDNN libtorch links): Winograd convolutions and blocked attention on the CPU
  libcaf-dev libcpp-httplib-dev libssl-dev ca-certificates nlohmann-json3-dev libstb-dev zlib1g-dev libicu-dev libsentencepiece-dev
  libpng-dev libjpeg62-turbo-dev
  libopencv-core-dev libopencv-imgproc-dev  # the ControlNet canny preprocessor (only these two are linked; libopencv-dev would pull in VTK and Qt)
  libcli11-dev catch2
  chromium
  curl  # the doc examples' test runs them with curl (tests/e2e/test_doc_examples.cpp)
  systemd)  # systemd-analyze verifies the installed unit (tests/e2e/test_install.cpp)

# The web UI (ui/) and the client tests build with Node.js (>= 20) and npm: Debian's packages where neither came with
# the machine (a Node.js from elsewhere that brings npm is used as it is).
if ! command -v npm >/dev/null 2>&1; then PACKAGES+=(nodejs npm); fi

# shellcheck source=scripts/apt_install.sh
source scripts/apt_install.sh
apt_install_missing setup "${PACKAGES[@]}"

# ccache: share compiled objects between clones (paths relative to the repository) and accept
# precompiled headers.
export CCACHE_BASEDIR="$PWD"
export CCACHE_SLOPPINESS="pch_defines,time_macros,include_file_mtime,include_file_ctime"
export CCACHE_NOHASHDIR=1

cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR"
