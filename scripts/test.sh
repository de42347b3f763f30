#!/usr/bin/env bash
# Builds (via setup.sh) and runs the default test suite: everything except tests labelled `slow`
# or `gpu`. Extra arguments go to ctest, e.g. `scripts/test.sh -L parity`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
cd build
ctest --output-on-failure -LE "slow|gpu" -j2 "$@"
